"""What every CLI module shares: turning WavetrainError into one line, parsing layer widths, the data options."""

from __future__ import annotations

import signal
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import click

from wavetrain.errors import ConfigError, WavetrainError

FILE = click.Path(dir_okay=False, path_type=Path)  # an output or input file (not a folder)


class Finite(click.FloatRange):
    """A float option in a range that also refuses nan and inf (click's FloatRange lets nan through every bound)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        return number


def rows(data: Any, count: int, option: str, split: str = "train") -> tuple[Any, Any]:
    """The first ``count`` rows of a data set's split; more rows than it has (or fewer than 1) are refused, never
    clamped or counted from the end."""
    from wavetrain.errors import DataError

    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(x):
        raise DataError(f"{option} {count}: data set {data.name!r} has {len(x)} {split} rows, expected 1..{len(x)}")
    return x[:count], y[:count]


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


def private_temp(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command that starts children (ngspice, Lava's runtime, Dask workers) in a temp folder of its own,
    removed however the command ends, SIGKILL included (:func:`wavetrain.targets._proc.private_temp`). Below
    :func:`friendly`, so a signal's ``finally`` clauses have run when the folder goes."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from wavetrain.targets._proc import private_temp as scratch

        with scratch():
            return command(*args, **kwargs)

    return wrapper


def parse_layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError as err:
        raise click.BadParameter(f"expected comma-separated widths like 64,128,10, got {text!r}") from err
    if len(sizes) < 2 or min(sizes) < 1:
        raise click.BadParameter(f"expected at least 2 positive widths (input first), got {text!r}")
    return sizes


def resumed(given: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """The saved settings, overridden by the options given on this command line (not left at their default)."""
    context = click.get_current_context()
    settings = dict(given)
    for key, value in saved.items():
        if key in settings and context.get_parameter_source(key) == click.core.ParameterSource.DEFAULT:
            settings[key] = value
    return settings


def drive_batch(net: Any, data: str | None, samples: int, seed: int) -> tuple[Any, Any]:
    """The first ``samples`` training rows of a dataset (read in the network's input shape), or seeded random inputs
    with zero targets."""
    import numpy as np

    if samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {samples}")
    if data is None:
        x = np.random.default_rng(seed).normal(size=(samples, *net.input_shape))
        return x, np.zeros((samples, net.n_outputs))
    from wavetrain import datasets

    return rows(datasets.load(data, shape=net.input_shape), samples, "--samples")


def load_model(source: Path | None, preset: str | None, seed: int) -> Any:
    """The network a circuit command works on: a network file (any graph), or a fresh preset (weights from seed)."""
    if (source is None) == (preset is None):
        raise click.UsageError("give a network file or --model PRESET (one of them)")
    if preset is not None:
        from wavetrain.compiler.models import model

        return model(preset, seed=seed)
    from wavetrain.compiler import Network

    assert source is not None
    return Network.load(source)


def model_option() -> Callable[..., Any]:
    """``--model PRESET``: a named network (compiler/models.py), fresh from --seed, instead of a network file."""
    from wavetrain.compiler.models import PRESETS

    return click.option(
        "--model",
        "preset",
        type=click.Choice(list(PRESETS)),
        default=None,
        help="A named network instead of a file, its weights fresh from --seed: "
        + ", ".join(f"{p.name} ({p.description})" for p in PRESETS.values()),
    )


DATA_OPTIONS = [
    click.option("--data", default=None, help="Dataset ('digits' or an .npz) whose first samples drive the circuit."),
    click.option(
        "--samples",
        type=click.IntRange(min=1, max=10**6),
        default=1,
        show_default=True,
        help="Batch size (one circuit copy per sample).",
    ),
    click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Seed of the random inputs when no --data (and of a --model preset's weights).",
    ),
]


def with_options(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    """Apply a list of click options, in order, to a command."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
