"""`make demo`: the main job, end to end, on real data, with numbers and plots.

    python -m wavetrain.demo --out demo_out
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

import wavetrain
from wavetrain import plots
from wavetrain.emulator import backprop

SIZES = [64, 128, 128, 10]
EPOCHS = 30


def section(title: str) -> None:
    click.secho(f"\n== {title} ==", bold=True)


def light_cone(data: wavetrain.datasets.Dataset, out: Path) -> None:
    section("1. the light cone: frozen weights, waves relax, the ports read the exact gradient at tick 2L")
    net = wavetrain.Network.mlp(SIZES, loss="cross_entropy", seed=0)
    x, y = data.x_train[:32], data.y_train[:32]
    relaxation = wavetrain.relax(net, x, y, ticks=2 * net.depth + 2, history=True)
    reference, _ = backprop(net.params(), net, x, net.targets(y))
    per_layer = np.array([[np.max(np.abs(g[0] - r[0])) for g, r in zip(step, reference)]
                          for step in relaxation.history.grads])
    click.echo("tick  " + "  ".join(f"layer{l + 1} max|G - G_backprop|" for l in range(net.depth)))
    for k, row in enumerate(per_layer):
        click.echo(f"{k:4d}  " + "  ".join(f"{v:24.2e}" for v in row) + ("   <- 2L" if k == 2 * net.depth else ""))
    path = plots.gradient_error(per_layer, net.depth, out / "light_cone.png")
    click.echo(f"plot: {path}")


def training(data: wavetrain.datasets.Dataset, out: Path) -> dict[str, wavetrain.TrainResult]:
    section(f"2. training {'-'.join(map(str, SIZES))} tanh on {data!r}, {EPOCHS} epochs, batch 32, seed 0")
    results = {}
    for method in ("backprop", "dyadic", "wave"):
        net = wavetrain.Network.mlp(SIZES, loss="cross_entropy", seed=0, name=f"digits_{method}")
        results[method] = wavetrain.train(net, data, method=method, epochs=EPOCHS, seed=0, progress=True)
        net.save(out / f"digits_{method}.npz")
    click.echo(f"{'method':>10} {'test acc':>9} {'train loss':>11} {'time [s]':>9} {'samples/s':>10}")
    for method, result in results.items():
        click.echo(f"{method:>10} {result.final_test_accuracy:9.4f} {result.loss[-1]:11.4f} "
                   f"{result.wall_time:9.2f} {result.samples_per_s:10,.0f}")
    gap = abs(results["dyadic"].final_test_accuracy - results["backprop"].final_test_accuracy)
    click.echo(f"dyadic vs backprop: {100 * gap:.2f} points apart (same trajectory up to rounding)")
    click.echo(f"wave (unlocked, ports move every tick, input held {results['wave'].hold} ticks): "
               f"{100 * results['wave'].final_test_accuracy:.1f} %")
    path = plots.training_curves(results, out / "training_curves.png", title="digits: backprop vs dyadic vs wave")
    click.echo(f"plot: {path}; trained networks: {out}/digits_*.npz")
    return results


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo_out"), show_default=True)
def main(out: Path) -> None:
    """Run the wavetrain demo and write its plots and trained networks to OUT."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = wavetrain.datasets.load("digits")
    light_cone(data, out)
    training(data, out)
    click.secho(f"\ndemo done in {time.perf_counter() - start:.0f} s; everything is in {out}/", bold=True)


if __name__ == "__main__":
    main()
