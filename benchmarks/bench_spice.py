"""The SPICE target at scale (issue 4, `make bench`): netlist generation, ngspice time and memory, emulator speed-up.

1. Netlist generation: compile_network + to_spice for one-layer networks of 10^3 .. 10^6 weights (batch 1, gradient
   probes on, i.e. one B-source per weight), and the learning circuit (7 cards per parameter) up to 10^5 weights.
2. ngspice: the digits-sized 64-32-10 network relaxed over 2L ticks (+1 to sample), then 64-w-10 for growing widths
   w; `ngspice -b -r` in a subprocess (wall time, peak RSS of that process from wait4), reltol 1e-6.
3. The same circuit on the numpy target (the emulator running the compiled circuit) and emulator.relax on the
   network: the speed-up over ngspice is the ratio of wall times in the same run (median of 3).
4. The digits network 64-128-128-10 (cross-entropy) on digits test row 0, untrained and after 30 epochs of train:
   ngspice wall time and accepted time points (one run each), the run simulate(target="spice") makes.

Run: ``python benchmarks/bench_spice.py`` (writes benchmarks/results/spice.md and prints it).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "benchmarks" / "results" / "spice.md"

import wavetrain  # noqa: E402
from wavetrain.circuits import Transient, to_spice  # noqa: E402
from wavetrain.compiler import Network, compile_network  # noqa: E402
from wavetrain.emulator import relax  # noqa: E402
from wavetrain.targets import get_target  # noqa: E402
from wavetrain.targets.rawfile import read_raw  # noqa: E402


def timed(fn, repeats: int = 3) -> tuple[float, object]:
    """Median wall time of repeats calls [s], and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def generation_rows() -> list[str]:
    rows = []
    for n_in, n_out, learning in [
        (32, 32, None),
        (100, 100, None),
        (316, 316, None),
        (1000, 1000, None),
        (100, 100, "resistor"),
        (316, 316, "resistor"),
    ]:
        net = Network.mlp([n_in, n_out], seed=0, name="gen")
        x, y = np.ones((1, n_in)), np.zeros((1, n_out))

        def build():
            circuit = compile_network(net, x=x, y=y, learning=learning)
            return to_spice(circuit, Transient(stop=3e-9))

        seconds, text = timed(build, repeats=1 if n_in * n_out >= 10**5 else 3)
        kind = "learning" if learning else "relax + gradient probes"
        rows.append(
            f"| {n_in * n_out:>9,} | {kind} | {seconds:8.3f} | {text.count(chr(10)):>10,} | {len(text) / 2**20:8.1f} |"
        )
    return rows


def ngspice_run(netlist: Path) -> tuple[float, float]:
    """Wall time [s] and peak RSS [MiB] of one `ngspice -b -r` process (VmHWM of its own address space, polled)."""
    # NOTE: wait4's ru_maxrss would include this Python process's RSS inherited at fork, so poll /proc instead
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            "ngspice",
            "-b",
            "-r",
            str(netlist.with_suffix(".raw")),
            "-o",
            str(netlist.with_suffix(".log")),
            str(netlist),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak_kib = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            if "ngspice" in status.split("\n", 1)[0]:
                peak_kib = max(peak_kib, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"ngspice failed on {netlist}: see {netlist.with_suffix('.log')}")
    return seconds, peak_kib / 1024


def ngspice_rows(work: Path) -> list[str]:
    rows = []
    for hidden, batch in [(32, 1), (32, 8), (64, 1), (128, 1), (256, 1)]:
        net = Network.mlp(
            [64, hidden, 10], activation="tanh", output_activation="identity", loss="cross_entropy", seed=0
        )
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(batch, 64)), rng.integers(0, 10, size=batch)
        circuit = compile_network(net, x=x, y=y)
        tick = circuit.tick
        analysis = Transient(stop=(2 * net.depth + 1) * tick, step=tick / 20)
        netlist = work / f"net_{hidden}_{batch}.cir"
        netlist.write_text(to_spice(circuit, analysis))
        runs = [ngspice_run(netlist) for _ in range(3)]
        spice_s = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        numpy_s, _ = timed(lambda: get_target("numpy").run(circuit, analysis))
        relax_s, _ = timed(lambda: relax(net, x, y))
        weights = sum(layer.weight.size for layer in net.layers)
        rows.append(
            f"| 64-{hidden}-10 | {batch} | {weights:>6,} | {len(circuit.elements)} | {spice_s:7.3f} | {rss:7.1f} | "
            f"{numpy_s * 1e3:8.2f} | {relax_s * 1e3:7.3f} | {spice_s / numpy_s:7.0f}x | {spice_s / relax_s:8.0f}x |"
        )
    return rows


def trained_rows(work: Path) -> list[str]:
    digits = wavetrain.datasets.load("digits")
    net = Network.mlp([64, 128, 128, 10], loss="cross_entropy", seed=0)
    x, y = digits.x_test[:1], digits.y_test[:1]
    rows = []
    for state in ("untrained", "trained 30 epochs"):
        if state != "untrained":
            wavetrain.train(net, digits, epochs=30)
        circuit = compile_network(net, x=x, y=y)
        analysis = Transient(stop=(2 * net.depth + 1) * circuit.tick, step=circuit.tick / 20)
        netlist = work / f"digits_{len(rows)}.cir"
        netlist.write_text(to_spice(circuit, analysis))
        seconds, rss = ngspice_run(netlist)
        points = len(read_raw(netlist.with_suffix(".raw"))["time"])
        weight = max(float(abs(layer.weight).max()) for layer in net.layers)
        bias = max(float(abs(layer.bias).max()) for layer in net.layers)
        rows.append(f"| {state} | {weight:.2f} | {bias:.2f} | {seconds:7.1f} | {points:>6,} | {rss:7.1f} |")
    return rows


def render(generation: list[str], runs: list[str], trained: list[str], seconds: float) -> str:
    lines = [
        "## SPICE target (issue 4)",
        "",
        "`python benchmarks/bench_spice.py`; ngspice 39 (`ngspice -b -r`, one process per run, one core), reltol 1e-6, "
        f"tick 1 ns, peak RSS = ngspice's VmHWM sampled every 5 ms; this run took {seconds:.0f} s.",
        "",
        "### Netlist generation (compile_network + to_spice, one dense layer, batch 1)",
        "",
        "| weights | circuit | seconds | lines | MiB |",
        "|---:|---|---:|---:|---:|",
        *generation,
        "",
        "### ngspice over 2L ticks vs. the emulator on the same circuit",
        "",
        "`numpy target`: the compiled circuit on the numpy target (every element kernel, one step per tick). "
        "`relax`: emulator.relax on the network. Speed-ups are ngspice time / emulator time, same run, median of 3.",
        "",
        "| network | batch | weights | elements | ngspice s | ngspice peak RSS MiB | numpy target ms | relax ms | "
        "speed-up (numpy target) | speed-up (relax) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *runs,
        "",
        "### Untrained vs. trained weights: digits 64-128-128-10, cross-entropy, digits test row 0",
        "",
        'One ngspice run each, as `simulate(net, x, y, target="spice")` makes it (2L ticks + 1, step hint tick/20). '
        "Time points: rows of the raw file (= ngspice's accepted time points). Before `minbreak` was set (ngspice's "
        "default, 1e-10 of the maximum step = 5e-21 s) the same two runs took 13.4 s / 155 points and 199.9 s / "
        "3,028 points (`.options acct`, commit 5b51268, measured by hand).",
        "",
        "| weights | max abs W | max abs b | ngspice s | time points | ngspice peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
        *trained,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if shutil.which("ngspice") is None:
        raise SystemExit("bench_spice needs ngspice: sudo apt-get install ngspice")
    start = time.perf_counter()
    generation = generation_rows()
    with tempfile.TemporaryDirectory(prefix="wavetrain-bench-") as work:
        runs = ngspice_rows(Path(work))
        trained = trained_rows(Path(work))
    text = render(generation, runs, trained, time.perf_counter() - start)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
