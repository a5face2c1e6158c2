"""Why the library arithmetic trains the MNIST-1D CNN worse than float: one cause at a time, several seeds.

Every run trains the ``cnn1d-mnist1d`` preset with loss mse by :func:`wavetrain.emulator.stream.run_stream` (SGD +
momentum on the host port, stochastic rounding of the 8-bit weight and bias mantissas) and scores the test rows in
the arithmetic it was trained in. The variants separate the causes:

  float, minibatch        float64, each learning epoch relaxed on its start's weights: textbook minibatch backprop
                          (equal to train()'s dyadic float64 run, tests/emulator/test_stream_schedules.py)
  float, pipelined        float64 on the pipelined schedule: the staleness alone
  library, pipelined      the loihi2 target's run (Lava's floors)
  library, minibatch      the library arithmetic without staleness
  library + <site> <mode> one rounding site of the library (LoihiLibrary.shifts) switched from floor
  library + recalibrate   the host re-calibrates the formats between epochs
  library + 2 bias synapses  a 16-bit bias (two 8-bit bias Dense per node; LoihiLibrary.bias_synapses)

Run: ``python benchmarks/loihi2_diagnosis.py [--train 2000] [--epochs 20] [--seeds 0 1 2] [--only NAME ...]``;
writes docs/lava/loihi2_diagnosis.json and prints the table docs/lava.md quotes (mean, the seeds' range and a
t interval of the mean over the seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from wavetrain import datasets
from wavetrain.compiler.models import preset
from wavetrain.emulator.loihi2 import LoihiLibrary, calibrate_library
from wavetrain.emulator.stream import run_stream
from wavetrain.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "lava" / "loihi2_diagnosis.json"

# name: (arithmetic, schedule, LoihiLibrary.shifts, recalibrate, calibrate_library settings)
VARIANTS: dict[str, tuple[str, str, dict[str, str], bool, dict[str, Any]]] = {
    "float, minibatch": ("float", "minibatch", {}, False, {}),
    "float, pipelined": ("float", "pipelined", {}, False, {}),
    "library, pipelined": ("library", "pipelined", {}, False, {}),
    "library, minibatch": ("library", "minibatch", {}, False, {}),
    "library + state nearest": ("library", "pipelined", {"state": "nearest"}, False, {}),
    "library + backward nearest": ("library", "pipelined", {"backward": "nearest"}, False, {}),
    "library + backward stochastic": ("library", "pipelined", {"backward": "stochastic"}, False, {}),
    "library + error nearest": ("library", "pipelined", {"error": "nearest"}, False, {}),
    "library + backward, error nearest": (
        "library",
        "pipelined",
        {"backward": "nearest", "error": "nearest"},
        False,
        {},
    ),  # fmt: skip
    "library + all stochastic": (
        "library",
        "pipelined",
        dict.fromkeys(("state", "backward", "error"), "stochastic"),
        False,
        {},
    ),  # fmt: skip
    "library + recalibrate": ("library", "pipelined", {}, True, {}),
    "library + 2 bias synapses": ("library", "pipelined", {}, False, {"bias_synapses": 2}),
    "library + 2 bias synapses, backward nearest, recalibrate": (
        "library",
        "pipelined",
        {"backward": "nearest"},
        True,
        {"bias_synapses": 2},
    ),  # fmt: skip
}
T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 8: 2.365, 10: 2.262}  # Student t, two-sided 95 %, by n


def accuracy(net: Any, sub: LoihiLibrary | None, x: np.ndarray, labels: np.ndarray) -> float:
    out = run_stream(net, sub, x, labels, schedule="minibatch").outputs[0]
    return float(np.mean(np.argmax(out, axis=1) == labels))


def run(name: str, seed: int, rows: int, epochs: int, batch: int, lr: float, momentum: float) -> dict[str, Any]:
    arithmetic, schedule, shifts, recal, settings = VARIANTS[name]
    p = preset("cnn1d-mnist1d")
    net = p.network(seed=seed, loss="mse")
    data = datasets.load("mnist1d", shape=p.shape)
    x, y = data.x_train[:rows], data.y_train[:rows]
    sub = calibrate_library(net, x, y, shifts=shifts, seed=seed, **settings) if arithmetic == "library" else None

    def again(trained: Any) -> LoihiLibrary:
        return calibrate_library(trained, x, y, shifts=shifts, seed=seed, **settings)

    began = time.perf_counter()
    stream = run_stream(net, sub, x, y, epochs=epochs, batch=batch, lr=lr, momentum=momentum, seed=seed,
                        schedule=schedule, recalibrate=again if recal else None)  # fmt: skip
    seconds = time.perf_counter() - began
    return {"variant": name, "seed": seed, "train_rows": rows, "epochs": epochs, "batch": batch, "lr": lr,
            "momentum": momentum, "test_accuracy": accuracy(net, sub, data.x_test, np.asarray(data.y_test)),
            "final_loss": stream.loss[-1], "seconds": seconds}  # fmt: skip


def summary(values: list[float], signed: bool = False) -> str:
    """mean [95 % t interval] in percent (points when ``signed``)."""
    form = "+.1f" if signed else ".1f"
    unit = " pt" if signed else " %"
    mean = 100 * float(np.mean(values))
    if len(values) < 2:
        return f"{mean:{form}}{unit}"
    half = 100 * T95.get(len(values), 2.0) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return f"{mean:{form}}{unit} [{mean - half:{form}}, {mean + half:{form}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000, help="training rows (of 4000)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=None)
    parser.add_argument("--tag", default="", help="a key suffix: several recipes in one file")
    parser.add_argument("--report", action="store_true", help="print the tables of the file and run nothing")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    if args.report:
        for key, table in results.items():
            print(f"\n{key}\n\n{report(table)}")
        return
    recipe = f"{args.train} rows, {args.epochs} epochs, batch {args.batch}, lr {args.lr}, momentum {args.momentum}"
    key = recipe + (f", {args.tag}" if args.tag else "")
    table = results.setdefault(key, {})
    for name in args.only or list(VARIANTS):
        for seed in args.seeds:
            r = run(name, seed, args.train, args.epochs, args.batch, args.lr, args.momentum)
            table.setdefault(name, {})[str(seed)] = r
            print(f"  {name}, seed {seed}: {r['test_accuracy']:.2%} ({r['seconds']:.0f} s, load "
                  f"{os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
            atomic_write(OUT, json.dumps(results, indent=1) + "\n")
    print(f"\n{key}\n")
    print(report(table))


def report(table: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The Markdown table: each variant's accuracy over its seeds and its difference to float minibatch backprop,
    paired by seed (the same initial weights and sample order), each with a 95 % t interval of the mean."""
    base = table.get("float, minibatch", {})
    lines = ["| variant | seeds | test accuracy, mean [95 % t interval] | minus float, paired by seed | per seed |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, runs in table.items():
        seeds = sorted(runs, key=int)
        accs = [runs[s]["test_accuracy"] for s in seeds]
        paired = [runs[s]["test_accuracy"] - base[s]["test_accuracy"] for s in seeds if s in base]
        diff = summary(paired, signed=True) if paired and name != "float, minibatch" else "-"
        lines.append(f"| {name} | {', '.join(seeds)} | {summary(accs)} | {diff} | "
                     f"{', '.join(f'{100 * a:.1f}' for a in accs)} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
