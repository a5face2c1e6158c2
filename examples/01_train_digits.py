"""Train a 64-128-128-10 network on the digits three ways and check the gradient arrives exactly at tick 2L.

python examples/01_train_digits.py [OUTDIR]
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

import wavetrain
from wavetrain import plots
from wavetrain.emulator import backprop


def main(out: Path) -> None:
    data = wavetrain.datasets.load("digits")
    net = wavetrain.Network.mlp([64, 128, 128, 10], activation="tanh", loss="cross_entropy", seed=0)

    # 1. frozen weights: relax the waves and compare the port readout with backprop's gradient (float64)
    x, y = data.x_train[:32], data.y_train[:32]
    reference = list(backprop(net.machine(), x, net.targets(y))[0].values())  # textbook backprop, layer order
    exact = wavetrain.relax(net, x, y, ticks=2 * net.depth)
    early = wavetrain.relax(net, x, y, ticks=2 * net.depth - 1)
    print(f"gradient error at tick 2L = {2 * net.depth}: {exact.gradient_error(reference):.2e}")
    print(f"gradient error one tick before 2L: {early.gradient_error(reference):.2e}")

    # 2. train: backprop (reference), dyadic relaxation (same trajectory), unlocked waves
    results = {}
    for method in ("backprop", "dyadic", "wave"):
        trained = net.copy()
        results[method] = wavetrain.train(trained, data, method=method, epochs=10, seed=0)
        print(f"{method:>8}: test accuracy {results[method].final_test_accuracy:.3f}")
        if method == "dyadic":
            trained.save(out / "digits_dyadic.npz")

    plots.training_curves(results, out / "digits_curves.png", title="digits 64-128-128-10")
    # NOTE: training runs in float32, so the two trajectories agree to float32 rounding (about 1e-7 relative), not
    # to float64's; dtype="float64" makes them agree to 1e-12
    dyadic, reference_loss = np.array(results["dyadic"].loss), np.array(results["backprop"].loss)
    gap = float(np.max(np.abs(dyadic - reference_loss) / np.abs(reference_loss)))
    print(f"dyadic follows backprop: largest relative loss gap {gap:.1e} over 10 epochs (float32 rounding: < 1e-5)")
    print(f"plot in {out / 'digits_curves.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
