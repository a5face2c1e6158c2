"""What every CLI module shares: turning WavetrainError into one line, and parsing layer widths."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import click

from wavetrain.errors import WavetrainError


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a WavetrainError into one line on stderr and exit code 1 (anything else is a bug: traceback)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WavetrainError as err:
            raise click.ClickException(f"{type(err).__name__}: {err}") from err

    return wrapper


def parse_layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError as err:
        raise click.BadParameter(f"expected comma-separated widths like 64,128,10, got {text!r}") from err
    if len(sizes) < 2 or min(sizes) < 1:
        raise click.BadParameter(f"expected at least 2 positive widths (input first), got {text!r}")
    return sizes
