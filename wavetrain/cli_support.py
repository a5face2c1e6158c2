"""What every CLI module shares: turning WavetrainError into one line, and parsing layer widths."""

from __future__ import annotations

import signal
import sys
from functools import wraps
from typing import Any, Callable

import click

from wavetrain.errors import WavetrainError


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a WavetrainError into one line on stderr and exit code 1 (anything else is a bug: traceback).

    SIGINT, SIGTERM and SIGHUP end the command through ``finally`` clauses (children killed, temp folders removed)
    with one line on stderr and exit code 128 + the signal number.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from wavetrain.targets._proc import Terminated, signals_raise

        try:
            with signals_raise():
                return command(*args, **kwargs)
        except WavetrainError as err:
            raise click.ClickException(f"{type(err).__name__}: {err}") from err
        except (KeyboardInterrupt, Terminated) as err:
            signum = getattr(err, "signum", signal.SIGINT)
            click.echo(f"wavetrain: stopped by {signal.Signals(signum).name}", err=True)
            sys.exit(128 + signum)

    return wrapper


def parse_layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError as err:
        raise click.BadParameter(f"expected comma-separated widths like 64,128,10, got {text!r}") from err
    if len(sizes) < 2 or min(sizes) < 1:
        raise click.BadParameter(f"expected at least 2 positive widths (input first), got {text!r}")
    return sizes
