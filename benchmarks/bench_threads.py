"""Threads against load: whole training runs with 1 and 2 BLAS/torch threads, idle and beside two busy processes.

Why wavetrain runs on one thread by default (wavetrain/emulator/threads.py): OpenBLAS and OpenMP keep their worker
threads spinning between calls, and on a machine whose cores other processes also want, the spinning threads take
the time the work waits for. Each row is one fresh process per (method, threads, load) that trains the end-to-end
setting of bench_emulator.py (784-512-512-10 tanh, float32, batch 128, SGD lr 0.01, 12,800 samples, 2 epochs):
``train(..., method="backprop" | "dyadic", threads=N)`` and the plain PyTorch loop with ``torch.set_num_threads(N)``
(and threadpoolctl's limit for NumPy). "busy" starts two CPU-bound Python processes (``while True: pass``) for the
row's duration and stops them after it. Rows run in interleaved rounds, each a fresh process timing whole runs
after one untimed warm-up run; the table gives the fastest and the median run, and the machine's load average
before each row, because "idle" here means no busy processes of ours, not an otherwise empty machine.

Run: ``python benchmarks/bench_threads.py`` (about 10 minutes on 2 cores; ``--repeats``, ``--rounds``), then
``python benchmarks/collect.py``. Writes benchmarks/results/threads.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "threads.md"
METHODS = ("backprop", "dyadic", "pytorch")
THREADS = (1, 2)
LOADS = ("idle", "busy")
CAP_SECONDS = 90.0  # NOTE: a row stops timing after this much (a collapsed run can take 30+ s each)
TIMEOUT = 600.0  # NOTE: a worker still running after this is stopped and its row recorded as "> 600"


def worker(method: str, threads: int, repeats: int) -> dict:
    """In this fresh process: warm up once, then time ``repeats`` whole runs (or until CAP_SECONDS)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_emulator import BATCH, E2E_EPOCHS, E2E_NETWORK, LR, MOMENTUM, NETWORKS, e2e_data

    x, y, x_test, y_test = e2e_data()
    sizes = NETWORKS[E2E_NETWORK]
    if method == "pytorch":
        import torch
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        torch.set_num_threads(threads)
        tensors = [torch.from_numpy(a) for a in (x, y, x_test, y_test)]

        def run() -> float:
            X, Y, XT, YT = tensors
            torch.manual_seed(0)
            layers: list = []
            for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(torch.nn.Linear(n_in, n_out))
                if index < len(sizes) - 2:
                    layers.append(torch.nn.Tanh())
            model = torch.nn.Sequential(*layers)
            optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
            criterion = torch.nn.CrossEntropyLoss()
            for _ in range(E2E_EPOCHS):
                order = torch.randperm(len(X))
                for first in range(0, len(X), BATCH):
                    batch = order[first : first + BATCH]
                    optimizer.zero_grad()
                    loss = criterion(model(X[batch]), Y[batch])
                    loss.backward()
                    optimizer.step()
                    loss.item()
                with torch.no_grad():
                    accuracy = (model(XT).argmax(1) == YT).float().mean().item()
            return accuracy

    else:
        from wavetrain import Network, train

        def run() -> float:
            net = Network.mlp(sizes, activation="tanh", output_activation="identity", loss="cross_entropy", seed=0)
            result = train(net, (x, y, x_test, y_test), method=method, epochs=E2E_EPOCHS, batch_size=BATCH, lr=LR,
                           momentum=MOMENTUM, threads=threads)  # fmt: skip
            return result.final_test_accuracy

    began = time.perf_counter()
    accuracy = run()
    warm = time.perf_counter() - began
    if warm > CAP_SECONDS / 3:  # NOTE: a collapsed row: its warm-up is its one (slowest-case) measurement
        return {"times": [warm], "accuracy": accuracy, "warm_up_only": True}
    times: list[float] = []
    began = time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        accuracy = run()
        times.append(time.perf_counter() - start)
        if time.perf_counter() - began > CAP_SECONDS:
            break
    return {"times": times, "accuracy": accuracy}


def _busy(count: int) -> list[subprocess.Popen]:
    # NOTE: each busy process exits by itself when this one dies (it polls its parent), so none outlives the bench
    code = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(100000): pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def measure(repeats: int, rounds: int) -> list[dict]:
    """``rounds`` passes over every (load, threads, method), interleaved so a change in the machine's other load
    touches every row alike; each pass runs one fresh worker process per row."""
    unset = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "WAVETRAIN_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    rows: dict[tuple[str, int, str], dict] = {}
    for round_index in range(rounds):
        for load in LOADS:
            for threads in THREADS:
                for method in METHODS:
                    before = os.getloadavg()[0]
                    busy = _busy(2) if load == "busy" else []
                    try:
                        time.sleep(0.5 if busy else 0.0)
                        done = subprocess.run(
                            [sys.executable, __file__, "--worker", method, str(threads), str(repeats)],
                            capture_output=True, text=True, env=env, timeout=TIMEOUT,
                        )  # fmt: skip
                    except subprocess.TimeoutExpired:
                        done = None  # NOTE: recorded as "over TIMEOUT s", the worker killed by subprocess.run
                    finally:
                        _stop(busy)
                    if done is None:
                        out = {"times": [TIMEOUT], "accuracy": float("nan"), "timed_out": True}
                    elif done.returncode != 0:
                        raise SystemExit(f"worker {method} {threads} {load} failed:\n{done.stderr[-3000:]}")
                    else:
                        out = json.loads(done.stdout.strip().splitlines()[-1])
                    row = rows.setdefault(
                        (load, threads, method),
                        {"load": load, "threads": threads, "method": method, "load_before": [], "times": []},
                    )
                    row["times"] += out["times"]
                    row["partial"] = row.get("partial", False) or out.get("timed_out") or out.get("warm_up_only")
                    row["timed_out"] = row.get("timed_out", False) or bool(out.get("timed_out"))
                    row["load_before"].append(before)
                    row["accuracy"] = out["accuracy"]
                    print(f"round {round_index + 1} {load:5s} threads {threads} {method:9s} "
                          f"{min(out['times']):7.2f} s (runs {len(out['times'])}, load average {before:.1f})",
                          flush=True)  # fmt: skip
    return list(rows.values())


def render(rows: list[dict]) -> str:
    def fastest(load: str, threads: int, method: str) -> float:
        row = next(r for r in rows if (r["load"], r["threads"], r["method"]) == (load, threads, method))
        return min(row["times"])

    lines = [
        "## Threads: one or two, idle and beside two busy processes",
        "",
        f"`benchmarks/bench_threads.py`, {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        "Python " + platform.python_version() + ". Whole training runs (784-512-512-10 tanh, float32, batch 128, SGD "
        "lr 0.01, 12,800 samples, 2 epochs; a fresh process per row and round, the rounds interleaved, timed runs "
        "after a warm-up run; the ratios below use the fastest run, the least disturbed by the machine's other work): "
        "`train(method=..., threads=N)` and the PyTorch loop with `torch.set_num_threads(N)`. busy: two CPU-bound "
        "Python processes run beside the row. The load average before each row says how idle 'idle' was: this "
        "machine is shared, so the idle rows ran beside other users' work too.",
        "",
        "| load | threads | method | fastest run [s] | median [s] | runs | load average before (range) |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        spread = f"{min(row['load_before']):.1f}-{max(row['load_before']):.1f}"
        over = "> " if row.get("timed_out") else ""
        mark = " (one run: its warm-up)" if row.get("partial") and not row.get("timed_out") else ""
        lines.append(
            f"| {row['load']} | {row['threads']} | {row['method']} | {over}{min(row['times']):.2f}{mark} | "
            f"{over}{statistics.median(row['times']):.2f} | {len(row['times'])} | {spread} |"
        )
    lines.append("")
    parts, slower, faster, worst = [], 0, [], 0.0
    for method in METHODS:
        ratios = []
        for load in LOADS:
            ratio = fastest(load, 2, method) / fastest(load, 1, method)
            bound = any(r.get("timed_out") for r in rows if (r["load"], r["method"]) == (load, method))
            ratios.append(f"{'> ' if bound else ''}{ratio:.2f}x {load}")
            slower += ratio > 1
            worst = max(worst, ratio)
            if ratio < 1:
                faster.append(f"{method} {load}")
        parts.append(f"{method} {', '.join(ratios)}")
    lines.append(
        "Two threads over one (time ratio, above 1: two threads slower): " + "; ".join(parts) + f". Two threads "
        f"were slower in {slower} of {2 * len(METHODS)} comparisons, up to {worst:.1f}x"
        + (f"; faster only for {', '.join(faster)}" if faster else "")
        + ". One thread never collapsed, so wavetrain defaults to it (`train(threads=None)`, `wavetrain --threads "
        "N`, `$WAVETRAIN_THREADS`); on a machine known to be idle, `--threads 2` (or 0, the libraries' own) may be "
        "faster."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per worker process (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved passes over every row (default 2)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw rows here")
    parser.add_argument("--render", type=Path, help="only write the section from rows saved with --json")
    args = parser.parse_args()
    if args.worker:
        method, threads, repeats = args.worker
        print(json.dumps(worker(method, int(threads), int(repeats))))
        return
    rows = json.loads(args.render.read_text()) if args.render else measure(args.repeats, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(rows))
    from wavetrain.files import atomic_write

    atomic_write(RESULT, render(rows))
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
