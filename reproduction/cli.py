"""The ``wavetrain reproduce`` and ``wavetrain reproduce-t9`` commands.

The main CLI lists them by name in :data:`wavetrain.cli.COMMANDS` and imports this module only to run one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wavetrain.cli.support import friendly


@click.command("reproduce")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for report.md and its PNG plots.",
)
@click.option("--quick", is_flag=True, help="Every target at reduced size (about a minute of CPU).")
@click.option("--no-progress", is_flag=True, help="No progress bar (drawn only when stderr is a terminal).")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(["T4", "T7", "T9", "T11", "T14", "T15", "T16", "digits"]),
    help="Regenerate only this target's section, or the digits table of every method (repeatable), and "
    "patch it into the existing OUT/report.md.",
)
@friendly
def reproduce_command(out: Path, quick: bool, no_progress: bool, only: tuple[str, ...]) -> Path:
    """Run the reproduction targets T1-T16 and write OUT/report.md."""
    from wavetrain.reproduction.reproduce import reproduce, reproduce_only

    if only:
        path = reproduce_only(out, only, quick=quick, progress=not no_progress and sys.stderr.isatty())
    else:
        path = reproduce(out, quick=quick, progress=not no_progress and sys.stderr.isatty())
    click.echo(f"report written to {path}")
    return path  # NOTE: what `main(..., standalone_mode=False)` returns: the demo reads the report there


@click.command("reproduce-t9")
@click.option(
    "--results",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the per-run JSON files (`wavetrain reproduce --out DIR` reads DIR/t9_paper).",
)
@click.option(
    "--seed",
    "seeds",
    type=int,
    multiple=True,
    default=(0, 1),
    show_default=True,
    help="Seeds (repeat the option); one process per seed runs the seeds in parallel.",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    default=None,
    help="Estimators (repeat the option; default: all, cheap ones and W-perp k=10 first).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch and BLAS threads (default: theirs).")
@click.option("--no-progress", is_flag=True, help="No progress bar (drawn only when stderr is a terminal).")
@friendly
def reproduce_t9_command(
    results: Path,
    seeds: tuple[int, ...],
    methods: tuple[str, ...],
    epochs: int,
    lr: float,
    threads: int | None,
    no_progress: bool,
) -> None:
    """T9 at the authors' schedule (MNIST-1D, AdamW, batch 512, 300 epochs at lr 1e-4): every estimator, resumable.

    Each (method, seed) run writes RESULTS/<method>__seed<seed>.json when it finishes; a rerun skips finished runs."""
    from wavetrain.reproduction import t9_paper

    if threads is not None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)
    schedule = t9_paper.Schedule(epochs=epochs, lr=lr)
    paths = t9_paper.run_paper(
        results,
        tuple(seeds),
        tuple(methods) or t9_paper.ORDER,
        schedule,
        progress=not no_progress and sys.stderr.isatty(),
    )
    click.echo(f"{len(paths)} T9 runs in {results}")


if __name__ == "__main__":  # pragma: no cover - `python -m wavetrain.reproduction.cli --out DIR`
    sys.exit(reproduce_command())
