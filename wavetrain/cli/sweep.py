"""``wavetrain sweep SWEEP.yaml --out DIR``, ``wavetrain sweep report DIR``, ``wavetrain sweep tasks DIR`` and
``wavetrain sweep rerun DIR TASK``."""

from __future__ import annotations

import math
import signal
import sys
from pathlib import Path
from typing import Any

import click

from wavetrain.cli.support import friendly, private_temp

COMPARED = (
    "test_accuracy",
    "train_loss",
    "test_loss",
    "train_accuracy",
    "fidelity_cosine",
    "fidelity_relative_error",
    "test_accuracy_per_epoch",
    "train_loss_per_epoch",
    "chip_accuracy",
)


class SweepGroup(click.Group):
    """``wavetrain sweep FILE ...`` runs a sweep; ``wavetrain sweep report|rerun ...`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("sweep", cls=SweepGroup)
def sweep_group() -> None:
    """Run a sweep file on Dask (`wavetrain sweep SWEEP.yaml --out DIR`), then `wavetrain sweep report DIR`."""


@sweep_group.command("run")
@click.argument("sweep_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the results table (rerun with the same one to resume).",
)
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option("--workers", type=int, default=None, help="LocalCluster worker processes (default: CPU count).")
@click.option("--retry-failed", is_flag=True, help="Run again the tasks recorded as failed.")
@click.option("--no-progress", is_flag=True, help="No progress bar (drawn only when stderr is a terminal).")
@friendly
@private_temp
def run_command(
    sweep_file: Path, out: Path, scheduler: str | None, workers: int | None, retry_failed: bool, no_progress: bool
) -> None:
    """Run every task of SWEEP_FILE that --out has no row for, one Dask task per (setting, seed)."""
    from wavetrain.sweep.run import run_sweep
    from wavetrain.targets._proc import Terminated

    # NOTE: SIGTERM closes the cluster as Ctrl-C does; SIGINT too when a shell started us with it ignored (a
    # background job of a script), so `kill -INT` always stops a sweep cleanly
    previous = signal.signal(signal.SIGTERM, _interrupt), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        outcome = run_sweep(
            sweep_file,
            out,
            scheduler=scheduler,
            workers=workers,
            progress=not no_progress and sys.stderr.isatty(),
            retry_failed=retry_failed,
            echo=click.echo,
        )
    except (KeyboardInterrupt, Terminated) as err:
        signum = getattr(err, "signum", signal.SIGINT)  # NOTE: exit 128 + the signal: 130 for SIGINT, 143 for SIGTERM
        click.echo(
            f"interrupted by {signal.Signals(signum).name}: the rows written so far are kept in {out}; rerun the same "
            f"command to resume",
            err=True,
        )
        sys.exit(128 + signum)
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    click.echo(
        f"{outcome.recorded} task(s) recorded now ({outcome.failed} failed), {outcome.skipped} before; "
        f"{outcome.missing} of {outcome.total} missing. Table: {out}/results; "
        f"`wavetrain sweep report {out}` summarises it."
    )
    if outcome.missing:
        sys.exit(1)


def _interrupt(signum: int, frame: Any) -> None:
    from wavetrain.targets._proc import Terminated

    raise Terminated(signum)


@sweep_group.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where summary.md and the PNGs go (default OUT/report).",
)
@friendly
def report_command(out: Path, dest: Path | None) -> None:
    """Summarise the sweep table in OUT: mean and spread over seeds and chips; accuracy and fidelity plots."""
    from wavetrain.sweep.report import report

    written = report(out, dest)
    click.echo(written.text)
    click.echo(f"summary written to {written.summary}; plots: {', '.join(str(p) for p in written.plots) or 'none'}")


@sweep_group.command("tasks")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@friendly
def tasks_command(out: Path) -> None:
    """List the tasks of the table in OUT: task id (what `sweep rerun` takes), status, seed and swept values."""
    from wavetrain.sweep.table import read_manifest, read_table

    axes = list(read_manifest(out)["axes"])
    rows = sorted(read_table(out).to_pylist(), key=lambda row: (str(row.get("status")), row["task_id"]))
    click.echo("  ".join(["task_id".ljust(16), "status", "seed", *axes, "test_accuracy"]))
    for row in rows:
        values = [_short(row.get(axis)) for axis in axes]
        accuracy = row.get("test_accuracy")
        shown = f"{accuracy:.4f}" if isinstance(accuracy, float) and math.isfinite(accuracy) else "-"
        click.echo("  ".join([str(row["task_id"]).ljust(16), str(row.get("status")), str(row["seed"]), *values, shown]))
    click.echo(f"{len(rows)} task(s) in {out}; `wavetrain sweep rerun {out} TASK_ID` reruns one alone")


@sweep_group.command("rerun")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("task_id")
@friendly
def rerun_command(out: Path, task_id: str) -> None:
    """Rerun one task of the table in OUT alone (here, without Dask) and compare its numbers with its row."""
    from wavetrain.sweep.run import rerun

    stored, new = rerun(out, task_id)
    if new["status"] != "ok":
        raise click.ClickException(f"task {task_id} failed again: {new['error']}")
    differ = []
    for name in COMPARED:
        if name in stored:
            same = _same(stored[name], new.get(name))
            click.echo(
                f"  {name:<28} {_short(stored[name]):>24} {_short(new.get(name)):>24}  "
                f"{'same' if same else 'DIFFERENT'}"
            )
            if not same:
                differ.append(name)
    if differ:
        raise click.ClickException(f"task {task_id}: {', '.join(differ)} differ from the stored row")
    click.echo(f"task {task_id}: reproduced (every recorded metric identical)")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"[{len(value)} values]"
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
