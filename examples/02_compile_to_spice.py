"""Compile a small network to an ngspice netlist, simulate it, and check the circuit's gradient against backprop.

Usage: python examples/02_compile_to_spice.py [OUTDIR]   (writes xor.cir, xor_learning.cir and waves.png there)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from wavetrain import Network, compile_network, plots, relax, simulate, to_spice
from wavetrain.circuits import Transient


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    x = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    y = np.array([[-1.0], [1.0], [1.0], [-1.0]])
    net = Network.mlp([2, 4, 1], activation="tanh", output_activation="tanh", seed=0, name="xor")

    # 1. The relaxation circuit: T-lines carry the waves, B-sources are the layers; `ngspice -b xor.cir` runs it.
    circuit = compile_network(net, x=x, y=y)
    (out / "xor.cir").write_text(to_spice(circuit, Transient(stop=5e-9, step=5e-11)))

    # 2. The same network on two backends: the exact gradient arrives after 2L = 4 ticks on both.
    target = "spice" if shutil.which("ngspice") else "numpy"
    wave = simulate(net, x, y, target=target, history=True)
    reference = relax(net, x, y)
    print(f"{target}: gradient error at tick 2L = {wave.gradient_error(reference.grads):.2e}")
    print("error by tick:", np.array2string(wave.error_by_tick(reference.grads), precision=3))
    plots.waves(wave, net.depth, out / "waves.png", title=f"xor on {target}")

    # 3. The learning circuit: weights are capacitor voltages charged by their gradient currents.
    learning = compile_network(net, x=x, y=y, learning="resistor", eta=5e7)
    (out / "xor_learning.cir").write_text(to_spice(learning, Transient(stop=1e-6, step=2.5e-10)))
    print(f"wrote {out / 'xor.cir'}, {out / 'xor_learning.cir'} and {out / 'waves.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="wavetrain-")))
