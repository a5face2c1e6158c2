"""The crossbar level in ngspice against the behavioural level (issue 20): netlist size, wall time, memory, where the
time goes.

For 64-32-10, 64-128-10 and the digits network 64-128-128-10 (tanh, cross-entropy, seed 0, digits test row 0):
compile_network at level "behavioural" (one B-source per neuron holding the weights as coefficients) and at level
"crossbar" (every dense junction two arrays of R cards, read forward and in transpose), with and without the gradient
probes (one B-source per weight, ``gradients=``), 2L ticks (+1 to sample) of one sample, ``ngspice -b -r``, reltol
1e-6. Reported: netlist MiB and cards, B-sources, ngspice wall time and peak RSS (VmHWM), accepted time points,
``.options acct`` (parse, device load, LU factor, solve), the gradient error at tick 2L against emulator.relax, and
emulator.relax's own time in the same session.

Run: ``python benchmarks/bench_crossbar.py`` (writes benchmarks/results/crossbar.md and prints it).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "benchmarks" / "results" / "crossbar.md"

import wavetrain  # noqa: E402
from benchmarks.bench_graph_spice import accounting  # noqa: E402
from benchmarks.bench_spice import ngspice_run, timed  # noqa: E402
from wavetrain.circuits import Transient, to_spice  # noqa: E402
from wavetrain.circuits.spice import probe_vectors  # noqa: E402
from wavetrain.compiler import Network, compile_network  # noqa: E402
from wavetrain.simulation import probes, relaxation_from_trace  # noqa: E402
from wavetrain.targets.ngspice import assemble  # noqa: E402
from wavetrain.targets.rawfile import read_raw  # noqa: E402

NETWORKS = ((64, 32, 10), (64, 128, 10), (64, 128, 128, 10))


def run(sizes: tuple[int, ...], level: str, gradients: bool, work: Path, wires: float = 0.0) -> dict[str, object]:
    net = Network.mlp(list(sizes), activation="tanh", loss="cross_entropy", seed=0)
    digits = wavetrain.datasets.load("digits")
    x, y = digits.x_test[:1], digits.y_test[:1]
    ticks, tick = 2 * net.depth, 1e-9
    options = {"r_row": wires, "r_col": wires} if wires else None
    circuit = compile_network(net, x=x, y=y, gradients=gradients, level=level, crossbar=options)
    analysis = Transient(stop=(ticks + 1) * tick, step=tick / 20)
    wanted = probes(net) if gradients else [p for p in probes(net) if not p.startswith("p")]
    text = to_spice(circuit, analysis, wanted)
    netlist = work / f"{level}_{'-'.join(map(str, sizes))}_{int(gradients)}_{wires:g}.cir"
    netlist.write_text(text.replace(".options reltol", ".options acct reltol", 1))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spice_s, rss = ngspice_run(netlist)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # NOTE: ngspice_run reaps the child, so it is counted
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    vectors = read_raw(netlist.with_suffix(".raw"))
    relax_s, ref = timed(lambda: wavetrain.relax(net, x, y))
    if wires:  # NOTE: with IR drop the reference is the numpy target's W_eff (circuits/irdrop.py), not backprop
        ref = wavetrain.simulate(net, x, y, target="numpy", level="crossbar", crossbar=options)
    error = float("nan")
    if gradients:
        trace = assemble(circuit, probe_vectors(circuit, wanted), vectors, np.array([ticks + 0.5]) * tick, "spice")
        error = relaxation_from_trace(trace, net, ticks, 1.0, False, "spice").gradient_error(ref.grads)  # type: ignore[attr-defined]
    cards = [line for line in text.splitlines() if line and line[0] not in ".*+"]
    return {
        "network": "-".join(map(str, sizes)),
        "level": level + (f", {wires:g} ohm wires" if wires else ""),
        "gradients": gradients,
        "mib": len(text) / 2**20,
        "cards": len(cards),
        "bsources": sum(1 for line in cards if line[0] == "B"),
        "spice_s": spice_s,
        "cpu_s": cpu_s,
        "rss": rss,
        "points": len(vectors["time"]),
        "acct": accounting(netlist.with_suffix(".log")),
        "error": error,
        "relax_ms": relax_s * 1e3,
    }


def render(rows: list[dict], seconds: float, load: tuple[float, float]) -> str:
    lines = [
        "## Crossbar netlists in ngspice (issue 20)",
        "",
        "`python benchmarks/bench_crossbar.py`: digits test row 0, networks of tanh layers and a cross-entropy load, "
        "seed 0, 2L ticks (+1 to sample) of one sample; ngspice 39 `-b -r`, reltol 1e-6, one core; "
        f"this run took {seconds:.0f} s, load average before / after {load[0]:.1f} / {load[1]:.1f} on 2 cores "
        "(wall times are inflated by the machine's other work; ngspice CPU s, its user + system time from rusage, "
        "much less).",
        "",
        "*behavioural*: one B-source per neuron holding its weights as coefficients (forward and backward); "
        "*crossbar*: every dense junction two arrays of linear R cards (the forward read and the transpose read of "
        "the same conductances), E-source row drivers, 0 V sense sources read by CCVS cards. *probes*: the gradient "
        "ports: behavioural, one B-source per weight; crossbar, no card, the saved row and column signals the reader "
        "multiplies (`compile_network(..., gradients=False)` leaves them out). Time split from "
        "`.options acct` (s): parse (loading, subckt expansion, parsing), load (evaluating every device at every "
        "Newton iteration), factor / solve (sparse LU). Error: the gradient at tick 2L against emulator.relax "
        "(with wires: against the numpy target's IR-drop model), relative to each array's largest entry.",
        "",
        "| network | level | probes | MiB | cards | B-sources | ngspice s | ngspice CPU s | peak RSS MiB | "
        "time points | parse | load | factor | solve | rel. error | relax ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a = r["acct"]
        error = f"{r['error']:.1e}" if r["gradients"] else "-"
        lines.append(
            f"| {r['network']} | {r['level']} | {'on' if r['gradients'] else 'off'} | {r['mib']:.1f} | "
            f"{r['cards']:,} | {r['bsources']:,} | {r['spice_s']:.2f} | {r['cpu_s']:.2f} | {r['rss']:.0f} | "
            f"{r['points']:,} | "
            f"{a['parse']:.2f} | {a['load']:.2f} | {a['factor']:.2f} | {a['solve']:.2f} | {error} | "
            f"{r['relax_ms']:.2f} |"
        )
    return "\n".join([*lines, ""])


def main() -> None:
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="wavetrain-bench-") as work:
        for sizes in NETWORKS:
            for level in ("behavioural", "crossbar"):
                for gradients in (True, False):
                    rows.append(run(sizes, level, gradients, Path(work)))
                    print(rows[-1], flush=True)
        rows.append(run(NETWORKS[0], "crossbar", True, Path(work), wires=2.0))
    text = render(rows, time.perf_counter() - start, (load_before, os.getloadavg()[0]))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
