"""Compile a small residual CNN (a graph) to an ngspice netlist and read its exact gradient at tick 2D in ngspice.

Usage: python examples/05_graph_circuit.py [OUTDIR]   (writes rescnn.cir and waves.png there)

The graph: Conv1d (stride 2, padding 1) -> average pooling -> flatten -> Linear, with a residual block around a
second Linear: fc's wave fans out (a splitter) to the block and to its skip, which waits on a matched delay line.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from wavetrain import compile_network, plots, relax, simulate, to_spice
from wavetrain.circuits import Splitter, Transient, TransmissionLine
from wavetrain.compiler.builder import GraphBuilder
from wavetrain.emulator import backprop


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    g = GraphBuilder((1, 12))  # one channel of 12 samples
    c = g.conv1d(g.input, 3, kernel=3, stride=2, padding=1, activation="tanh", id="conv")
    f = g.flatten(g.avgpool(c, 2, id="pool"), id="flat")
    h = g.linear(f, 6, "tanh", id="fc")
    block = g.add(g.linear(h, 6, id="inner"), h, activation="tanh", id="res")  # the skip fc -> res
    net = g.network(g.linear(block, 3, id="head"), loss="cross_entropy", seed=0, name="rescnn")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 1, 12)), np.array([0, 2])

    # 1. The relaxation circuit: every node a junction (the convolution's kernel written once per output channel),
    #    splitters where a wave fans out, a delay line for the skip; `ngspice -b rescnn.cir` runs it as is.
    circuit = compile_network(net, x=x, y=y)
    (out / "rescnn.cir").write_text(to_spice(circuit, Transient(stop=(2 * net.depth + 1) * 1e-9, step=5e-11)))
    delays = [e for e in circuit.of_type(TransmissionLine) if e.edge is not None]
    print(f"{net!r}: {len(circuit.elements)} elements, splitters {[e.name for e in circuit.of_type(Splitter)]}, "
          f"delay lines {[(e.name, e.edge, e.delay) for e in delays]}")  # fmt: skip

    # 2. The exact gradient arrives at tick 2D in the circuit as in the emulator.
    target = "spice" if shutil.which("ngspice") else "numpy"
    wave = simulate(net, x, y, target=target, history=True)
    emulated = relax(net, x, y, history=True)
    exact = list(backprop(net.machine(), x, net.targets(y))[0].values())  # plain backprop, node order
    print(f"{target}: gradient error against backprop at tick 2D = {2 * net.depth}: {wave.gradient_error(exact):.2e}")
    print(f"{'tick':>4} {target:>10} {'emulator':>10}")
    for k, (a, b) in enumerate(zip(wave.error_by_tick(exact), emulated.error_by_tick(exact))):
        print(f"{k:4d} {a:10.2e} {b:10.2e}")
    levels = [net.graph.level[n] for n in net.graph.order]
    plots.waves(wave, net.depth, out / "waves.png", title=f"rescnn on {target}", levels=levels,
                labels=list(net.graph.order))  # fmt: skip
    print(f"wrote {out / 'rescnn.cir'} and {out / 'waves.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="wavetrain-")))
