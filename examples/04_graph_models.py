"""Your own PyTorch model as a wave machine: a residual CNN imported with torch.fx, its gradient checked against
autograd, trained on MNIST-1D by the dyadic relaxation and by MPC with block-local horizons, exported back.

Usage: python examples/04_graph_models.py [OUT_DIR]   (writes graph_models.png and residual_cnn.npz there)
Exits non-zero if a claim it prints does not hold.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import wavetrain


class ResidualCNN(torch.nn.Module):
    """Two convolutions with a skip connection around the second, average pooling, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv1d(1, 8, kernel_size=5, stride=2, padding=2)
        self.block = torch.nn.Conv1d(8, 8, kernel_size=3, padding=1)
        self.head = torch.nn.Linear(8 * 10, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        h = h + torch.tanh(self.block(h))  # the skip: a junction of three lines
        return self.head(torch.flatten(F.avg_pool1d(h, 2), 1))


def main(out: Path) -> None:
    torch.manual_seed(0)
    module = ResidualCNN().double()
    net = wavetrain.Network.from_torch(module, torch.zeros(1, 1, 40), loss="cross_entropy", name="residual_cnn")
    print(net)
    print(f"nodes: {' -> '.join(net.graph.order)}; depth D = {net.graph.depth} ticks; "
          f"matched delay lines: {[(e, d) for e, d in net.graph.delay.items() if d]}")  # fmt: skip

    data = wavetrain.datasets.load("mnist1d")
    x, y = data.x_train[:64].reshape(-1, 1, 40), data.y_train[:64]
    relaxation = wavetrain.relax(net, x, y)  # frozen weights, zero waves, 2D ticks
    loss = F.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    worst = max(
        float(np.max(np.abs(g - p.grad.numpy())) / np.max(np.abs(p.grad.numpy())))
        for (name, g), (_, p) in zip(relaxation.named_grads().items(), module.named_parameters())
    )
    print(f"gradient at tick 2D = {relaxation.ticks} against torch autograd, keyed {list(relaxation.named_grads())}: "
          f"largest relative error {worst:.1e}")  # fmt: skip
    if worst > 1e-12:
        raise SystemExit(f"claim failed: the tick-2D gradient is autograd's to 1e-12 (got {worst:.1e})")

    results = {}
    for label, method in (("dyadic", "dyadic"), ("MPC h = 1 (block-local)", wavetrain.emulator.mpc.Mpc(1))):
        trained = net.copy()
        results[label] = wavetrain.train(trained, data, method=method, epochs=8, lr=0.02, seed=0, progress=False)
        print(f"{label:>24}: test accuracy {100 * results[label].final_test_accuracy:.1f} % after 8 epochs")
        if label == "dyadic":
            trained.save(out / "residual_cnn.npz")
            exported = trained.to_torch()
            gap = float(np.max(np.abs(exported(torch.from_numpy(x)).detach().numpy() - trained.forward(x))))
            print(f"exported back to torch: forward equals the emulator's to {gap:.1e}")
            if gap > 1e-12:
                raise SystemExit(f"claim failed: the exported module's forward equals the emulator's (got {gap:.1e})")
    if not results["dyadic"].final_test_accuracy > 0.5:
        raise SystemExit("claim failed: dyadic trains the residual CNN past 50 % in 8 epochs")

    fig, ax = wavetrain.plots.figure(size=(7.5, 4))  # NOTE: wavetrain's figure style: colour by method
    for label, result in results.items():
        color = wavetrain.plots.color_for(label)
        ax.plot(np.arange(1, 9), 100 * np.array(result.test_accuracy), marker="o", color=color, label=label)
    ax.set(xlabel="epoch", ylabel="MNIST-1D test accuracy [%]", title="a residual CNN imported from PyTorch")
    ax.grid(alpha=0.3)
    wavetrain.plots.legend_outside(ax)
    wavetrain.plots.save_figure(fig, out / "graph_models.png")
    print(f"plot: {out / 'graph_models.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
