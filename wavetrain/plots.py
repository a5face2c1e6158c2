"""PNG figures (matplotlib, Agg): training curves, the light cone of the gradient error, the waves in space-time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from wavetrain.files import atomic_path


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (10, 4)) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size)


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write a figure as PNG atomically (a reader never sees a half-written file) and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def training_curves(results: Mapping[str, Any], path: str | os.PathLike[str], title: str = "") -> Path:
    """Loss and test accuracy per epoch, one line per labelled TrainResult."""
    fig, (ax_loss, ax_acc) = _figure(1, 2)
    for index, (label, result) in enumerate(results.items()):
        epochs = np.arange(1, len(result.loss) + 1)
        width = max(3.5 - 1.2 * index, 1.0)  # NOTE: thinner on top, so identical curves (dyadic = backprop) both show
        ax_loss.plot(epochs, result.loss, lw=width, label=f"{label} (train)")
        ax_loss.plot(epochs, result.test_loss, "--", lw=width, label=f"{label} (test)")
        ax_acc.plot(epochs, 100 * np.asarray(result.test_accuracy), lw=width, label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy [%]", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def gradient_error(per_layer: np.ndarray, depth: int, path: str | os.PathLike[str], courant: float = 1.0) -> Path:
    """Per-layer gradient error vs tick (log scale), with the tick-2L exactness line."""
    fig, ax = _figure(size=(7, 4))
    ticks = np.arange(per_layer.shape[0])
    floor = 1e-17  # NOTE: exact zeros are drawn at this floor so the log axis can show them
    for layer in range(per_layer.shape[1]):
        ax.semilogy(ticks, np.maximum(per_layer[:, layer], floor), marker="o", ms=3, label=f"layer {layer + 1}")
    ax.axvline(2 * depth, color="k", ls=":", label="tick 2L")
    ax.set(
        xlabel="tick k",
        ylabel="max |G_l(k) - G_l(backprop)|",
        title=f"light cone of the exact gradient (L = {depth}, courant {courant})",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def waves(result: Any, depth: int, path: str | os.PathLike[str], title: str = "") -> Path:
    """Space-time images of mean |s_l(k)| and mean |lam_l(k)|, marking the light cone k = l and k = 2L + 1 - l."""
    history = result.history
    ticks = np.arange(len(history.s))
    fig, axes = _figure(1, 2, (11, 3.8))
    for ax, waves, name, cone in (
        (axes[0], history.s, "forward s_l", ticks),
        (axes[1], history.lam, "backward lam_l", None),
    ):
        image = np.array([[np.mean(np.abs(w[l])) for l in range(depth)] for w in waves]).T
        image = image / np.maximum(image.max(axis=1, keepdims=True), 1e-300)  # NOTE: each layer on its own scale
        ax.imshow(
            image,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            extent=(-0.5, ticks[-1] + 0.5, 0.5, depth + 0.5),
        )
        layers = np.arange(1, depth + 1)
        arrival = layers if cone is not None else 2 * depth + 1 - layers
        ax.plot(arrival, layers, "wo", ms=6, mfc="none", label="exact from (light cone)")
        ax.set(xlabel="tick k", ylabel="layer l", title=f"{name}: mean |wave| / max per layer", yticks=layers)
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def fidelity_curves(
    curves: Mapping[str, Any], path: str | os.PathLike[str], title: str = "", by_tick: Mapping[str, Any] | None = None
) -> Path:
    """Gradient cosine per epoch (one line per label) and/or the relative gradient error per tick of a relaxation."""
    panels = (["epoch"] if curves else []) + (["tick"] if by_tick else [])
    fig, axes = _figure(1, len(panels), size=(5.5 * len(panels), 4))
    axes = dict(zip(panels, np.atleast_1d(axes)))
    for label, cosine in curves.items():
        axes["epoch"].plot(np.arange(1, len(cosine) + 1), cosine, marker="o", ms=3, label=label)
    if curves:
        axes["epoch"].set(xlabel="epoch", ylabel="cosine(hardware readout, exact gradient)", title="gradient fidelity")
    floor = 1e-17  # NOTE: exact zeros are drawn at this floor so the log axis can show them
    for label, errors in (by_tick or {}).items():
        axes["tick"].semilogy(np.maximum(np.asarray(errors, dtype=float), floor), marker="o", ms=3, label=label)
    if by_tick:
        axes["tick"].set(xlabel="tick", ylabel="relative gradient error", title="one relaxation, tick by tick")
    for ax in axes.values():
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)
