"""Fixed-point fidelity of the Loihi substrate: gradient cosine against widths, and training in fixed point.

Writes docs/lava/fidelity.md (tables) and docs/lava/fidelity.png (plot); docs/lava.md quotes them.
  1. the cosine between the fixed-point gradient (relaxation on the LoihiFixedPoint substrate, read at tick 2L) and
     the exact gradient (textbook backprop), against weight bits, state bits and message bits (one width varied,
     the others at their defaults), on a digits network trained 10 epochs in float; mean over 10 minibatches of 32;
  2. digits 64-128-10 trained 30 epochs (dyadic, SGD + momentum 0.9, batch 32, seed 0) in float and in fixed point
     (stochastic and nearest rounding of the port update); test accuracy in the arithmetic it was trained in;
  3. MNIST-1D (the ``mnist1d`` package, generated offline, 4000 train / 1000 test) 40-256-256-10, the same recipe.

Run: ``python benchmarks/lava_fidelity.py`` (``make lava-fidelity``; several minutes on 2 cores, mostly MNIST-1D).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from wavetrain import Network, datasets
from wavetrain.deploy import train_on
from wavetrain.emulator import backprop, relax, train
from wavetrain.emulator.loihi import calibrate
from wavetrain.files import atomic_write
from wavetrain.targets.lava.training import evaluate

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "lava"
WEIGHT_BITS = [2, 3, 4, 5, 6, 7, 8, 10, 12]
STATE_BITS = [10, 12, 14, 16, 18, 20, 24]
MESSAGE_BITS = [6, 8, 10, 12, 14, 16]


def cosine(grads: Any, reference: Any) -> float:
    g = np.concatenate([a.ravel() for pair in grads for a in pair])
    r = np.concatenate([a.ravel() for pair in reference for a in pair])
    return float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r)))


def gradient_cosine(net: Network, x: np.ndarray, y: np.ndarray, batch: int, **settings: Any) -> float:
    sub, _ = calibrate(net, x, y, batch=batch, **settings)
    values = []
    for first in range(0, len(x) - batch + 1, batch):
        xb, yb = x[first : first + batch], y[first : first + batch]
        exact = list(backprop(net.machine(), xb, net.targets(yb, len(xb)))[0].values())
        values.append(cosine(relax(net, xb, yb, substrate=sub).grads, exact))
    return float(np.mean(values))


def sweeps(data: Any) -> dict[str, list[tuple[int, float]]]:
    net = Network.mlp([64, 128, 10], loss="cross_entropy", seed=0)
    train(net, data, method="dyadic", epochs=10, batch_size=32, lr=0.05, momentum=0.9, seed=0, dtype="float64")
    x, y = data.x_train[:320], data.y_train[:320]
    return {
        "weight bits": [(b, gradient_cosine(net, x, y, 32, weight_bits=b)) for b in WEIGHT_BITS],
        "state bits": [(b, gradient_cosine(net, x, y, 32, state_bits=b)) for b in STATE_BITS],
        "message bits": [(b, gradient_cosine(net, x, y, 32, message_bits=b)) for b in MESSAGE_BITS],
    }


def trained(data: Any, sizes: list[int], epochs: int) -> list[tuple[str, float, float]]:
    rows = []
    for label, substrate, rounding in (
        ("float64", "ideal", None),
        ("Loihi fixed point, stochastic rounding", "loihi", "stochastic"),
        ("Loihi fixed point, nearest rounding", "loihi", "nearest"),
    ):
        net = Network.mlp(sizes, loss="cross_entropy", seed=0)
        start = time.perf_counter()
        if rounding == "nearest":
            sub, _ = calibrate(net, data.x_train[:256], data.y_train[:256], batch=32, rounding="nearest")
            train(
                net,
                data,
                method="dyadic",
                epochs=epochs,
                batch_size=32,
                lr=0.05,
                momentum=0.9,
                seed=0,
                substrate=sub,
                dtype="float64",
            )
        else:
            _, sub = train_on(
                net,
                data,
                substrate=substrate,
                method="dyadic",
                epochs=epochs,
                batch_size=32,
                lr=0.05,
                momentum=0.9,
                seed=0,
                dtype="float64",
            )
        _, accuracy = evaluate(net, data.x_test, data.y_test, sub)
        rows.append((label, accuracy, time.perf_counter() - start))
    return rows


def plot(curves: dict[str, list[tuple[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, (name, points) in zip(axes, curves.items()):
        bits, values = zip(*points)
        ax.plot(bits, 1.0 - np.asarray(values), "o-")
        ax.set_yscale("log")
        ax.set_xlabel(name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("1 - cos(fixed-point gradient, exact)")
    fig.suptitle("Loihi fixed-point substrate: gradient fidelity at tick 2L (digits 64-128-10, batch 32)")
    fig.tight_layout()
    from wavetrain.files import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--skip-mnist1d", action="store_true")
    args = parser.parse_args()
    digits = datasets.load("digits")
    curves = sweeps(digits)
    lines = [
        "# Fixed-point fidelity (generated by benchmarks/lava_fidelity.py)",
        "",
        "Cosine of the fixed-point gradient (tick 2L, LoihiFixedPoint substrate) to the exact gradient; one "
        "width varied, the others at their defaults (8-bit weights, 24-bit state, 16-bit messages).",
        "",
    ]
    for name, points in curves.items():
        lines += [
            f"| {name} | " + " | ".join(str(b) for b, _ in points) + " |",
            "|---|" + "---|" * len(points),
            "| cosine | " + " | ".join(f"{v:.5f}" for _, v in points) + " |",
            "",
        ]
    sets = [("digits 64-128-10", digits, [64, 128, 10])]
    if not args.skip_mnist1d:
        sets.append(("MNIST-1D 40-256-256-10", datasets.load("mnist1d"), [40, 256, 256, 10]))
    lines += [
        f"Training, {args.epochs} epochs, dyadic, SGD + momentum 0.9, lr 0.05, batch 32, seed 0; test accuracy "
        "in the arithmetic the network was trained in.",
        "",
        "| data | arithmetic | test accuracy | wall time [s] |",
        "|---|---|---|---|",
    ]
    for name, data, sizes in sets:
        for label, accuracy, seconds in trained(data, sizes, args.epochs):
            lines.append(f"| {name} | {label} | {accuracy:.2%} | {seconds:.1f} |")
            print(lines[-1], flush=True)
    lines.append("")
    OUT.mkdir(parents=True, exist_ok=True)
    plot(curves, OUT / "fidelity.png")
    atomic_write(OUT / "fidelity.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
