"""Training in the library-process arithmetic (the ``loihi2`` target's), in the emulator: accuracy against float.

The pipelined machine of :mod:`wavetrain.emulator.stream` (one sample per timestep, the host port updating every
``batch`` timesteps with SGD + momentum, stochastic rounding of the 8-bit weights) on the LoihiLibrary formats
calibrated on the training rows, beside the same network trained in float64 by textbook minibatch backprop (dyadic,
the same lr, momentum, batch, epochs and seed). Loss mse (the only loss the library machine loads). Writes
docs/lava/loihi2_accuracy.json and prints a Markdown table; docs/lava.md quotes it.

  digits        64-128-10 ReLU (sklearn's 8x8 digits)
  mnist1d-cnn   the cnn1d-mnist1d preset (3 Conv1d, 25 channels, stride 2) with loss mse, MNIST-1D 4000 / 1000

Run: ``python benchmarks/loihi2_accuracy.py [--only digits] [--epochs N]`` (digits about a minute on 2 cores;
the CNN tens of minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from wavetrain import Network, datasets
from wavetrain.compiler.models import preset
from wavetrain.emulator.evaluation import evaluate
from wavetrain.emulator.loihi2 import calibrate_library
from wavetrain.emulator.stream import run_stream
from wavetrain.emulator.train import train
from wavetrain.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "lava" / "loihi2_accuracy.json"


def case(name: str) -> tuple[Network, Any]:
    if name == "digits":
        data = datasets.load("digits")
        return Network.mlp([64, 128, 10], activation="relu", loss="mse", seed=0), data
    p = preset("cnn1d-mnist1d")
    return p.network(seed=0, loss="mse"), datasets.load("mnist1d", shape=p.shape)


def run(name: str, epochs: int, batch: int, lr: float, momentum: float) -> dict[str, Any]:
    net, data = case(name)
    x, y = data.x_train, data.y_train
    floating = net.copy()
    began = time.perf_counter()
    train(floating, data, epochs=epochs, batch_size=batch, lr=lr, momentum=momentum, seed=0, dtype="float64")
    float_seconds = time.perf_counter() - began
    float_acc = float(evaluate(floating.machine(), floating.check_input(data.x_test), data.y_test).accuracy)
    sub = calibrate_library(net, x, y)
    fixed = net.copy()
    curve: list[float] = []

    def score(e: int, _: Any) -> None:
        m = fixed.machine(sub)
        curve.append(float(evaluate(m, fixed.check_input(data.x_test), data.y_test, fast=False).accuracy))
        print(f"  {name} epoch {e + 1}: {curve[-1]:.4f}", flush=True)

    began = time.perf_counter()
    run_stream(fixed, sub, x, y, epochs=epochs, batch=batch, lr=lr, momentum=momentum, seed=0, callback=score)
    return {
        "network": net.describe(),
        "data": data.name,
        "train_rows": len(x),
        "test_rows": len(data.x_test),
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "momentum": momentum,
        "float_accuracy": float_acc,
        "library_accuracy": curve[-1],
        "library_best": max(curve),
        "library_curve": curve,
        "float_seconds": float_seconds,
        "library_seconds": time.perf_counter() - began,
        "formats": sub.describe()["formats"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["digits", "mnist1d-cnn"], default=None)
    parser.add_argument("--epochs", type=int, default=None, help="default: 30 (digits), 40 (mnist1d-cnn)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in ["digits", "mnist1d-cnn"] if args.only is None else [args.only]:
        epochs = args.epochs or (30 if name == "digits" else 40)
        key = name if (args.lr, args.momentum) == (0.05, 0.9) else f"{name}, lr {args.lr}, momentum {args.momentum}"
        results[key] = run(name, epochs, args.batch, args.lr, args.momentum)
        atomic_write(OUT, json.dumps(results, indent=1) + "\n")
    print("| network | data | epochs | lr, momentum | float64 | library arithmetic (final / best) |")
    print("|---|---|---|---|---|---|")
    for r in results.values():
        print(f"| {r['network']} | {r['data']} | {r['epochs']} | {r['lr']}, {r['momentum']} | "
              f"{r['float_accuracy']:.2%} | {r['library_accuracy']:.2%} / {r['library_best']:.2%} |")  # fmt: skip


if __name__ == "__main__":
    main()
