"""Digits accuracy of every learning rule at equal epochs: mean and spread over seeds, wall time, curves."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from wavetrain import datasets
from wavetrain.compiler.network import Network
from wavetrain.datasets import Dataset
from wavetrain.emulator.forward_gradient import ForwardGradient
from wavetrain.emulator.mpc import Mpc
from wavetrain.emulator.ocnopt import OCNOpt
from wavetrain.emulator.pipeline import Pipelined
from wavetrain.emulator.ports import CurvatureMatched, CurvaturePort
from wavetrain.emulator.train import Wave, train
from wavetrain.errors import DivergenceWarning
from wavetrain.reproduction.report_types import interval

SIZES = [64, 128, 128, 10]
LR, MOMENTUM = 0.05, 0.9

# name -> (method factory for a seed, momentum); all use lr 0.05, batch 32, the heavy-ball port unless noted
METHODS: dict[str, tuple[Callable[[int], Any], float]] = {
    "backprop": (lambda seed: "backprop", MOMENTUM),
    "dyadic (2L ticks, light cone)": (lambda seed: "dyadic", MOMENTUM),
    "wave, hold 2L = 6": (lambda seed: Wave(6), MOMENTUM),
    "wave, hold 12": (lambda seed: Wave(12), MOMENTUM),
    "pipelined, no stash": (lambda seed: Pipelined(False), MOMENTUM),
    "pipelined + delay lines": (lambda seed: Pipelined(True), MOMENTUM),
    "pipelined + delay lines, resistor port": (lambda seed: Pipelined(True), 0.0),
    "pipelined + delay lines carrying the forward pass": (lambda seed: Pipelined(True, recompute=False), MOMENTUM),
    "pipelined + delay lines carrying the forward pass, resistor port": (
        lambda seed: Pipelined(True, recompute=False),
        0.0,
    ),
    "mpc h = 1 (local)": (lambda seed: Mpc(1, seed=seed), MOMENTUM),
    "mpc h = 2": (lambda seed: Mpc(2, seed=seed), MOMENTUM),
    "forward isotropic": (lambda seed: ForwardGradient("isotropic", None, seed), MOMENTUM),
    "forward W^T": (lambda seed: ForwardGradient("wt", None, seed), MOMENTUM),
    "forward W-perp k 10": (lambda seed: ForwardGradient("wperp", 10, seed), MOMENTUM),
    "forward W-perp-NS k 10": (lambda seed: ForwardGradient("wperp_ns", 10, seed), MOMENTUM),
    "forward preconditioned": (lambda seed: ForwardGradient("preconditioned", None, seed), MOMENTUM),
    "ocnopt Q_uu = I/alpha (SGD limit)": (lambda seed: OCNOpt(alpha=LR), 0.0),
    "ocnopt + feedback": (lambda seed: OCNOpt(alpha=LR, feedback=1.0), 0.0),
    "ocnopt KFAC Q_uu": (lambda seed: OCNOpt(alpha=0.5, quu="kfac", damping=1e-2), 0.0),
    # NOTE: the port of the committed report (damping 1e-2); CurvatureMatched()'s default is now damping 0.1
    "curvature port (KFAC Newton)": (
        lambda seed: CurvatureMatched(CurvaturePort(lr=0.5, damping=1e-2, decay=0.9)),
        0.0,
    ),
}


def subset(data: Dataset, n: int) -> Dataset:
    if not n:
        return data
    return Dataset(data.name, data.x_train[:n], data.y_train[:n], data.x_test, data.y_test, data.n_classes)


def run_all(epochs: int, seeds: tuple[int, ...], n_train: int, progress: Any = None) -> dict[str, dict[str, Any]]:
    """Train every method for every seed; per method: accuracy curves (seeds x epochs) and wall times."""
    data = subset(datasets.load("digits"), n_train)
    results = {}
    for name, (factory, momentum) in METHODS.items():
        curves, walls, starts = [], [], []
        for seed in seeds:
            net = Network.mlp(SIZES, loss="cross_entropy", seed=seed)
            starts.append(net.evaluate(data.x_test, data.y_test)[1])  # NOTE: epoch 0 of the curve, before training
            try:
                with warnings.catch_warnings():  # NOTE: diverging rows are results of this table, not mistakes
                    warnings.simplefilter("ignore", DivergenceWarning)
                    run = train(net, data, method=factory(seed), epochs=epochs, lr=LR, momentum=momentum, seed=seed)
                curves.append(run.test_accuracy)
                walls.append(run.wall_time)
            except Exception as err:  # noqa: BLE001 - a diverged method is a result, recorded as NaN
                curves.append([float("nan")] * epochs)
                walls.append(float("nan"))
                name_err = f"{type(err).__name__}: {err}"
                results.setdefault("_errors", {})[name] = name_err
            if progress is not None:
                progress.update(1)
        results[name] = {"curves": np.array(curves), "wall": np.array(walls), "momentum": momentum,
                         "initial": np.array(starts)}  # fmt: skip
    return results


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| method | port momentum | test accuracy (%), mean [95% CI] over seeds | min / max | wall time per run (s) |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if name.startswith("_"):
            continue
        final = r["curves"][:, -1] * 100
        mean, low, high = interval(final)
        lines.append(
            f"| {name} | {r['momentum']} | {mean:.1f} [{low:.1f}, {high:.1f}] | "
            f"{np.min(final):.1f} / {np.max(final):.1f} | {np.mean(r['wall']):.2f} |"
        )
    return lines


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    """Test accuracy against epochs, mean over seeds, from the untrained network (epoch 0): a method family's colour
    (wavetrain.plots' style), its variants apart by line style and marker, the legend beside the axes."""
    from wavetrain import plots

    names = [name for name in results if not name.startswith("_")]
    drawn = plots.styles(names)
    fig, ax = plots.figure(size=(10, 5))
    for name in names:
        r = results[name]
        mean = np.nanmean(r["curves"], axis=0) * 100
        start = [np.nanmean(r["initial"]) * 100] if "initial" in r else []
        curve = np.concatenate([start, mean])
        width = 3.0 if name == "backprop" else 1.5  # NOTE: wider below, so dyadic (= backprop) shows both
        ax.plot(np.arange(1 - len(start), len(mean) + 1), curve, ms=4, lw=width, label=name, **drawn[name])
    ax.set(
        xlabel="epoch (0: untrained)", ylabel="digits test accuracy [%]", title="accuracy vs epochs (mean over seeds)"
    )
    ax.xaxis.get_major_locator().set_params(integer=True)  # NOTE: whole epochs
    ax.grid(alpha=0.3)
    plots.legend_outside(ax, fontsize=7)
    plots.save_figure(fig, path)
