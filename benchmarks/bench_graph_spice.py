"""Graph circuits in ngspice (issue 19, `make bench`): the MNIST-1D CNN and the residual MLP, one sample, 2D ticks.

For each preset (fresh weights from seed 0, MNIST-1D test row 0): the lowered circuit's size (elements, wires,
B-sources, netlist lines and MiB) and the time to write it; one `ngspice -b -r` run over 2D + 1 ticks (wall time, peak
RSS, accepted time points, and ngspice's own accounting from `.options acct`: netlist parsing with .func/.param
expansion, device evaluation ("load"), LU factorization and solve); the gradient read from ngspice's raw file at tick
2D against PyTorch autograd (relative, largest over the parameter arrays); and, in the same session, emulator.relax on
the network and the numpy circuit target on the same circuit. The CNN is written twice: convolution weights in one
.func per output channel ("shared", the default) and spelled out in every position ("inline").

Run: ``python benchmarks/bench_graph_spice.py`` (writes benchmarks/results/graph_spice.md and prints it).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "benchmarks" / "results" / "graph_spice.md"

import wavetrain  # noqa: E402
from benchmarks.bench_spice import ngspice_run, timed  # noqa: E402
from wavetrain.circuits import Transient, to_spice  # noqa: E402
from wavetrain.circuits.spice import probe_vectors  # noqa: E402
from wavetrain.compiler import compile_network  # noqa: E402
from wavetrain.compiler.models import model  # noqa: E402
from wavetrain.simulation import probes, relaxation_from_trace  # noqa: E402
from wavetrain.targets import get_target  # noqa: E402
from wavetrain.targets.ngspice import assemble  # noqa: E402
from wavetrain.targets.rawfile import read_raw  # noqa: E402

# NOTE: the resmlp-mnist1d preset itself (width 128, 105k parameters) is not run: with a gradient probe on every
# parameter ngspice saves 108k vectors at ~180 accepted points per tick; one attempt reached t = 19.2 of 23 ns after
# 84 min (2.8 GiB raw file, machine loaded) and was stopped. Width 32 keeps the same graph at 1/14 of the weights.
RUNS = (("cnn1d-mnist1d", "shared"), ("cnn1d-mnist1d", "inline"), ("resmlp32-mnist1d", "shared"))


def resmlp(width: int):
    """The resmlp-mnist1d graph (Linear stem, three blocks x + W2 relu(W1 x), ReLU after the add, Linear 10)."""
    from wavetrain.compiler.builder import GraphBuilder

    g = GraphBuilder((40,))
    h = g.linear(g.input, width, "relu", id="stem")
    for k in range(1, 4):
        inner = g.linear(g.linear(h, width, "relu", id=f"b{k}_1"), width, id=f"b{k}_2")
        h = g.add(inner, h, activation="relu", id=f"b{k}_add")
    return g.network(g.linear(h, 10, id="head"), loss="cross_entropy", seed=0, name=f"resmlp{width}_mnist1d")


def network(name: str):
    return resmlp(32) if name == "resmlp32-mnist1d" else model(name, seed=0)


ACCT = {
    "parse": ("Netlist loading time", "Subckt and Param expansion time", "Netlist parsing time"),
    "load": ("Transient load time",),
    "factor": ("Transient factor time",),
    "solve": ("Transient solve time",),
    "analysis": ("Transient analysis time",),
}


def torch_relative_error(net, x, y, grads) -> float:
    """Largest |G - G_autograd| / max |G_autograd| over the parameter arrays (autograd of the mean batch loss)."""
    import torch

    module = net.to_torch().double()
    out = module(torch.from_numpy(x))
    loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(np.asarray(y)))
    loss.backward()
    reference = dict(module.named_parameters())
    worst = 0.0
    for n, (dw, db) in zip(net.graph.parametric, grads):
        name = net.param_names.get(n, n)
        for got, key in ((dw, f"{name}.weight"), (db, f"{name}.bias")):
            want = reference[key].grad.numpy()
            worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
    return worst


def accounting(log: Path) -> dict[str, float]:
    text = log.read_text(errors="replace")
    out = {}
    for key, labels in ACCT.items():
        values = [re.search(rf"{re.escape(label)}\s*=\s*([0-9.eE+-]+)", text) for label in labels]
        out[key] = sum(float(m.group(1)) for m in values if m)
    return out


def run(preset: str, kernels: str, work: Path) -> dict[str, object]:
    net = network(preset)
    data = wavetrain.datasets.load("mnist1d", shape=net.input_shape)
    x, y = data.x_test[:1], data.y_test[:1]
    ticks = 2 * net.depth
    tick = 1e-9
    circuit = compile_network(net, x=x, y=y, gradients=True)
    analysis = Transient(stop=(ticks + 1) * tick, step=tick / 20)
    wanted = probes(net)
    start = time.perf_counter()
    text = to_spice(circuit, analysis, wanted, kernels=kernels)
    write_s = time.perf_counter() - start
    netlist = work / f"{preset}_{kernels}.cir"
    netlist.write_text(text.replace(".options reltol", ".options acct reltol", 1))
    spice_s, rss = ngspice_run(netlist)
    vectors = read_raw(netlist.with_suffix(".raw"))
    trace = assemble(circuit, probe_vectors(circuit, wanted), vectors, np.array([ticks + 0.5]) * tick, "spice-batch")
    got = relaxation_from_trace(trace, net, ticks, 1.0, False, "spice")
    relax_s, ref = timed(lambda: wavetrain.relax(net, x, y))
    numpy_s, _ = timed(lambda: get_target("numpy").run(circuit, analysis, None, wanted))
    wires = sum(math.prod(net.graph.shape[n]) for n in net.graph.order)
    return {
        "preset": preset,
        "kernels": kernels,
        "params": net.n_params,
        "depth": net.depth,
        "elements": len(circuit.elements),
        "wires": wires,
        "bsources": sum(1 for line in text.splitlines() if line.startswith("B")),
        "lines": text.count("\n"),
        "mib": len(text) / 2**20,
        "write_s": write_s,
        "spice_s": spice_s,
        "rss": rss,
        "points": len(vectors["time"]),
        "acct": accounting(netlist.with_suffix(".log")),
        "spice_err": torch_relative_error(net, x, y, got.grads),
        "relax_err": torch_relative_error(net, x, y, ref.grads),  # type: ignore[attr-defined]
        "relax_ms": relax_s * 1e3,
        "numpy_ms": numpy_s * 1e3,
    }


def render(rows: list[dict], seconds: float, load: tuple[float, float]) -> str:
    lines = [
        "## Graph circuits in ngspice (issue 19)",
        "",
        "`python benchmarks/bench_graph_spice.py`: the preset cnn1d-mnist1d (3 Conv1d of 25 channels, flatten, "
        "Linear 10) and resmlp32-mnist1d, the resmlp-mnist1d graph at width 32 (Linear 32, three residual blocks, "
        "Linear 10; the width-128 preset is not run, see the script's RUNS), fresh from seed 0, on "
        "MNIST-1D test row 0; 2D ticks (+1 to sample) of one sample, gradient probes on, ngspice 39 `-b -r`, "
        f"reltol 1e-6, one core. This run took {seconds:.0f} s; load average before / after {load[0]:.1f} / "
        f"{load[1]:.1f} on {os.cpu_count()} cores (above the core count, every wall time here is inflated by the other "
        "processes; the ratios within one row are not).",
        "",
        "| preset | conv weights | params | D | elements | wires | B-sources | lines | MiB | write s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['kernels']} | {r['params']:,} | {r['depth']} | {r['elements']} | {r['wires']:,} | "
            f"{r['bsources']:,} | {r['lines']:,} | {r['mib']:.2f} | {r['write_s']:.2f} |"
        )
    lines += [
        "",
        "Where ngspice spends its time (seconds, from `.options acct`): *parse* = netlist loading + .func/.param "
        "expansion + parsing, *load* = evaluating every device (the B-source expressions) at every Newton "
        "iteration, *factor* / *solve* = the sparse LU. Relative gradient error at tick 2D against PyTorch autograd "
        "(largest over the parameter arrays); `relax` and `numpy target`: the emulator on the network and on the "
        "compiled circuit, same session (median of 3).",
        "",
        "| preset | conv weights | ngspice s | peak RSS MiB | time points | parse | load | factor | solve | "
        "rel. error ngspice | rel. error relax | relax ms | numpy target ms | ngspice / relax |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a = r["acct"]
        lines.append(
            f"| {r['preset']} | {r['kernels']} | {r['spice_s']:.1f} | {r['rss']:.0f} | {r['points']:,} | "
            f"{a['parse']:.1f} | {a['load']:.1f} | {a['factor']:.2f} | {a['solve']:.2f} | {r['spice_err']:.1e} | "
            f"{r['relax_err']:.1e} | {r['relax_ms']:.1f} | {r['numpy_ms']:.0f} | "
            f"{r['spice_s'] * 1e3 / r['relax_ms']:,.0f}x |"
        )
    return "\n".join([*lines, ""])


def main() -> None:
    if shutil.which("ngspice") is None:
        raise SystemExit("bench_graph_spice needs ngspice: sudo apt-get install ngspice")
    start, before = time.perf_counter(), os.getloadavg()[0]
    rows: list[dict] = []
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wavetrain-bench-") as work:
        for preset, kernels in RUNS:
            rows.append(run(preset, kernels, Path(work)))
            print(f"{preset} ({kernels}): ngspice {rows[-1]['spice_s']:.1f} s", flush=True)
    text = render(rows, time.perf_counter() - start, (before, os.getloadavg()[0]))
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
