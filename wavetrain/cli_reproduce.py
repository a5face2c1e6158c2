"""The ``wavetrain reproduce`` command, registered on the lead's click group by :func:`register`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wavetrain.cli_support import friendly


@click.command("reproduce")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for report.md and its PNG plots.")
@click.option("--quick", is_flag=True, help="Every target at reduced size (under three minutes).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@friendly
def reproduce_command(out: Path, quick: bool, no_progress: bool) -> None:
    """Run the reproduction targets T1-T13 and write OUT/report.md."""
    from wavetrain.reproduction.reproduce import reproduce

    path = reproduce(out, quick=quick, progress=not no_progress)
    click.echo(f"report written to {path}")


def register(main: click.Group) -> None:
    """Add ``reproduce`` to the wavetrain command group."""
    main.add_command(reproduce_command)


if __name__ == "__main__":  # pragma: no cover - `python -m wavetrain.cli_reproduce --out DIR`
    sys.exit(reproduce_command())
