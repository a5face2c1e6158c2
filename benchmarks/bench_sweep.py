"""Sweep throughput on Dask (issue 11, `make bench`): tasks per minute with 1 and 2 workers, overhead per task.

The same N trainings (digits 64-128-128-10, dyadic, 5 epochs, batch 32: a few tenths of a second each) run three ways:

  plain loop      ``sweep.run_task`` for every task, one after the other in this process (1 BLAS thread, as the
                  Dask workers get): the work itself, with no scheduler, no transfer and no table.
  1 worker        ``run_sweep`` on a LocalCluster with one worker process: cluster start, task submission, the
                  transfer of each row back, one Parquet part written per task, cluster close.
  2 workers       the same with two worker processes.

``tasks/min`` is N over the whole command's wall time (what a user waits for, cluster start and close included);
``warm-up`` is the time from the cluster being up to the first row (a fresh worker process imports wavetrain and
loads the data set); ``steady tasks/min`` is (N - 1) over the time from the first row to the last. The overhead
per task is (1-worker steady time per task - plain loop time per task): what Dask and the table add to each. Every
run starts from an empty out directory. The 2-core machine is shared, so each configuration runs ``--rounds`` times
(interleaved) and the table gives the medians; the load average before and after is printed with them.

Run: ``python benchmarks/bench_sweep.py`` (writes benchmarks/results/sweep.md and prints it).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # NOTE: before numpy loads: the plain loop gets the one thread each Dask worker gets

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "benchmarks" / "results" / "sweep.md"

from wavetrain.files import atomic_write  # noqa: E402
from wavetrain.sweep import run as sweep  # noqa: E402
from wavetrain.sweep.spec import load_spec, tasks  # noqa: E402

WORK = "digits 64-128-128-10, dyadic, 5 epochs, batch 32"
SPEC = """
name: bench
base: {{dataset: digits, layers: [64, 128, 128, 10], method: dyadic, epochs: 5, batch_size: 32}}
grid:
  lr: {lrs}
seeds: 4
"""


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its children that have exited (the closed workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def plain_loop(spec_path: Path) -> tuple[float, float]:
    """(wall time, CPU time) of every task run one after the other in this process."""
    every = tasks(load_spec(spec_path))
    sweep.run_task(every[0])  # NOTE: load the data set and warm the imports, as a worker's first task does not
    start, cpu = time.perf_counter(), cpu_seconds()
    for task in every:
        row = sweep.run_task(task)
        assert row["status"] == "ok", row
    return time.perf_counter() - start, cpu_seconds() - cpu


def on_dask(spec_path: Path, workers: int) -> tuple[float, float, float, float]:
    """(whole command wall time, cluster-up to first row, seconds per task from the first row to the last, CPU
    seconds of this process and the workers, start and close included)."""
    marks: dict[str, float] = {}
    record = sweep._record

    def timed_record(*args):
        record(*args)
        marks.setdefault("first", time.perf_counter())
        marks["last"] = time.perf_counter()

    def echo(message: str) -> None:
        if "LocalCluster" in message:
            marks["up"] = time.perf_counter()

    sweep._record = timed_record
    try:
        with tempfile.TemporaryDirectory() as out:
            start, cpu = time.perf_counter(), cpu_seconds()
            outcome = sweep.run_sweep(spec_path, out, workers=workers, progress=False, echo=echo)
            total, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        sweep._record = record
    assert outcome.recorded == outcome.total and not outcome.failed, outcome
    return total, marks["first"] - marks["up"], (marks["last"] - marks["first"]) / (outcome.total - 1), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40, help="tasks per sweep, a multiple of 4 (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--out", type=Path, default=RESULT, help=f"markdown output (default {RESULT})")
    args = parser.parse_args()
    load_before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        spec_path, small_path = Path(folder) / "bench.yaml", Path(folder) / "small.yaml"
        spec_path.write_text(SPEC.format(lrs=[round(0.01 * (i + 1), 4) for i in range(args.tasks // 4)]))
        small_path.write_text(SPEC.format(lrs=[0.01]))  # 4 tasks: mostly the cost of starting and closing
        n, n_small = len(tasks(load_spec(spec_path))), len(tasks(load_spec(small_path)))
        loop, runs, small = [], {1: [], 2: []}, []
        for round_index in range(args.rounds):
            loop.append(plain_loop(spec_path))
            for workers in (1, 2):
                runs[workers].append(on_dask(spec_path, workers))
            small.append(on_dask(small_path, 1))
            print(
                f"round {round_index + 1}: loop {loop[-1][0]:.1f} s, 1 worker {runs[1][-1][0]:.1f} s, "
                f"2 workers {runs[2][-1][0]:.1f} s",
                file=sys.stderr,
            )
    load_after = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    base, base_cpu = (statistics.median(run[i] for run in loop) for i in (0, 1))
    rows = [
        f"| plain loop (this process) | {base:.2f} | - | {60 * n / base:.0f} | {60 * n / base:.0f} | - | "
        f"{base_cpu:.1f} |"
    ]
    for workers in (1, 2):
        total, warm, per_task, cpu = (statistics.median(run[i] for run in runs[workers]) for i in range(4))
        overhead = f"{1000 * (per_task - base / n):.0f}" if workers == 1 else "-"
        rows.append(
            f"| LocalCluster, {workers} worker{'s' if workers > 1 else ''} | {total:.2f} | {warm:.2f} | "
            f"{60 * n / total:.0f} | {60 / per_task:.0f} | {overhead} | {cpu:.1f} |"
        )
    # NOTE: CPU of a 4-task and an n-task sweep on 1 worker: the slope is the per-task cost, the rest start-up
    cpu_small, cpu_big = statistics.median(run[3] for run in small), statistics.median(run[3] for run in runs[1])
    marginal = (cpu_big - cpu_small) / (n - n_small) - base_cpu / n
    startup = cpu_small - n_small * (base_cpu / n + marginal)
    text = "\n".join(
        [
            "## Sweeps on Dask (issue 11)",
            "",
            f"`python benchmarks/bench_sweep.py`: {n} tasks ({WORK}, {base / n * 1000:.0f} ms each in the plain loop), "
            f"a LocalCluster of process workers with one thread each, one Parquet part written per task; medians of "
            f"{args.rounds} interleaved rounds; load average before {load_before}, after {load_after} (the machine is "
            f"shared: wall times are inflated by the other processes, CPU times much less); this run took "
            f"{time.perf_counter() - wall:.0f} s.",
            "`warm-up`: cluster up to the first row (fresh workers import wavetrain and load digits); `steady`: "
            "(tasks - 1) over first row to last; overhead per task: 1-worker steady time per task - plain loop time "
            "per task. `CPU s`: user + system time of the command and its workers, cluster start and close included.",
            "",
            "| how | wall s | warm-up s | tasks/min | steady tasks/min | overhead ms/task | CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"In CPU time, which the other processes on the machine disturb much less: a sweep on 1 worker costs "
            f"{1000 * marginal:.0f} ms per task more than the plain loop ({1000 * base_cpu / n:.0f} ms per task), "
            f"plus {startup:.1f} s once to start and close the cluster (the slope and intercept of the CPU time of a "
            f"{n_small}-task and a {n}-task sweep).",
            "",
        ]
    )
    atomic_write(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
