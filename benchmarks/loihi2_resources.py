"""The resource and cost report of the loihi2 target for Renner et al.'s 400-400-10 network and the MNIST-1D CNN.

Renner et al. (Nature Communications 15:9691, 2024) ran exact backprop on Loihi 1 with a 784-400-400-10 network on
MNIST: 0.59 mJ and 1.5 ms per training sample (measured). Here the same widths (ReLU, mse) and the cnn1d-mnist1d
preset are planned onto Lava's library processes (targets/lava/library.py) and counted (targets/lava/resources.py):
processes, neurons, synapses, neurocores at Loihi 2's per-core limits, timesteps per sample, and the per-sample
energy and latency **estimate** from Davies et al. 2018's Loihi 1 pre-silicon per-operation figures (IEEE Micro
38(1), table 2; rows checked in targets/lava/resources.py), once with every neuron
sending every timestep (an upper bound) and once at the activity measured on 256 samples of the data (random
initial weights: ReLU layers send about half their values). Writes docs/lava/loihi2_resources.md.

Run: ``python benchmarks/loihi2_resources.py`` (seconds).
"""

from __future__ import annotations

from pathlib import Path

from wavetrain import Network, datasets
from wavetrain.compiler.models import preset
from wavetrain.emulator.loihi2 import calibrate_library
from wavetrain.files import atomic_write
from wavetrain.targets.lava.resources import measure_activity, report

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "lava" / "loihi2_resources.md"


def main() -> None:
    mnist_like = Network.mlp([784, 400, 400, 10], activation="relu", loss="mse", seed=0)
    p = preset("cnn1d-mnist1d")
    cnn = p.network(seed=0, loss="mse")
    d = datasets.load("mnist1d", shape=p.shape)
    x, y = d.x_train[:256], d.y_train[:256]
    measured = measure_activity(cnn, calibrate_library(cnn, x, y), x)
    columns = [
        ("784-400-400-10, all active", report(mnist_like)),
        ("MNIST-1D CNN, all active", report(cnn)),
        ("MNIST-1D CNN, measured activity", report(cnn, measured)),
    ]
    rows = [line.split(" | ") for line in columns[0][1].table().splitlines()[2:]]
    names = [r[0].lstrip("| ") for r in rows]
    values = [[line.split(" | ")[1].rstrip(" |") for line in c.table().splitlines()[2:]] for _, c in columns]
    lines = [
        "| quantity | " + " | ".join(label for label, _ in columns) + " | Renner et al. 2024 (Loihi 1, measured) |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    renner = {"energy per sample (estimate)": "0.59 mJ", "latency per sample (estimate)": "1.5 ms"}
    for i, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(v[i] for v in values) + f" | {renner.get(name, '')} |")
    text = "\n".join(["# loihi2 target: resources and the cost estimate", "", __doc__.split("\n\n")[1], "",
                      *lines, ""])  # fmt: skip
    atomic_write(OUT, text)
    print(text)


if __name__ == "__main__":
    main()
