"""The learning rules of the source papers on digits: ports, pipelining, MPC horizons, forward guesses, OCNOpt.

Usage: python examples/03_learning_rules.py [OUT_DIR]   (writes learning_rules.png there, or into a temp dir)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from wavetrain import Network, datasets, plots, train
from wavetrain.emulator.forward_gradient import ForwardGradient
from wavetrain.emulator.mpc import Mpc
from wavetrain.emulator.ocnopt import OCNOpt
from wavetrain.emulator.pipeline import Pipelined
from wavetrain.emulator.ports import HeavyBall, ResistorPort

RULES = {  # name -> (method, port): the port is the parameter termination (spec section 1.7)
    "backprop, L-R port (heavy ball)": ("backprop", HeavyBall(0.05, 0.9)),
    "pipelined + delay lines, R port": (Pipelined(stash=True), ResistorPort(0.05)),
    "mpc h = 1 (local heads)": (Mpc(1), HeavyBall(0.05, 0.9)),
    "forward W-perp k = 10": (ForwardGradient("wperp", 10), HeavyBall(0.05, 0.9)),
    "ocnopt (KFAC Q_uu)": (OCNOpt(alpha=0.5, quu="kfac", damping=1e-2), None),
}


def main(out: Path) -> None:
    data = datasets.load("digits")
    fig, ax = plots.figure(size=(9, 4))  # NOTE: wavetrain's figure style: colour by method, legend outside
    styles = plots.styles(list(RULES))
    for name, (method, port) in RULES.items():
        net = Network.mlp([64, 64, 64, 10], loss="cross_entropy", seed=0)
        result = train(net, data, method=method, port=port, epochs=5, progress=sys.stderr.isatty())
        print(f"{name:36s} test accuracy {result.final_test_accuracy:.3f}  ({result.wall_time:.2f} s)")
        ax.plot(range(1, 6), [100 * a for a in result.test_accuracy], label=name, **{**styles[name], "marker": "o"})
    ax.set(xlabel="epoch", ylabel="digits test accuracy [%]")
    plots.legend_outside(ax, fontsize=7)
    plots.save_figure(fig, out / "learning_rules.png")
    print(f"plot written to {out / 'learning_rules.png'}")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="wavetrain-"))
    target.mkdir(parents=True, exist_ok=True)
    main(target)
