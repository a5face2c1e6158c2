"""PNG figures (matplotlib, Agg): training curves, the light cone of the gradient error, the waves in space-time.

One style for every figure: a curve's colour says what it is (:data:`COLORS`, by method or hardware name, so pcm is
the same colour in every panel and figure), legends sit outside the data (:func:`legend_outside`), images carry a
colour bar, axes name their units.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from wavetrain.files import atomic_path

# NOTE: colours by meaning (matplotlib's tab10), matched against a label's words: "pcm" and "pcm (train)" share one
COLORS = {
    "backprop": "#1f77b4", "dyadic": "#ff7f0e", "wave": "#2ca02c", "float": "#7f7f7f", "ideal": "#1f77b4",
    "reram": "#9467bd", "pcm": "#d62728", "ecram": "#2ca02c", "lossy-board": "#8c564b", "pipelined": "#e377c2",
    "mpc": "#bcbd22", "forward": "#17becf", "ocnopt": "#7f7f7f", "curvature": "#ff9896",
}  # fmt: skip
_SPARE = ("#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")


def color_for(label: str, index: int = 0) -> str:
    """The colour of what ``label`` names: the first :data:`COLORS` key among its words (longest key first, so
    "pipelined+stash" is pipelined and "lossy-board, wave" is the lossy board), else a spare by ``index``."""
    words = label.lower()
    for key in sorted(COLORS, key=len, reverse=True):
        if key in words:
            return COLORS[key]
    return _SPARE[index % len(_SPARE)]


LINESTYLES = ("-", "--", ":", "-.")
MARKERS = (None, "o", "s", "^", "v", "D")


def styles(labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per label, the keyword arguments of its line: the colour of what it names (:func:`color_for`), and where
    several labels share a colour (variants of one method), a line style and then a marker of their own, so no two
    labels are drawn alike."""
    out: dict[str, dict[str, Any]] = {}
    used: dict[str, int] = {}
    for index, label in enumerate(labels):
        color = color_for(label, index)
        n = used.get(color, 0)
        used[color] = n + 1
        out[label] = {"color": color, "ls": LINESTYLES[n % len(LINESTYLES)], "marker": MARKERS[n // len(LINESTYLES)]}
    return out


def legend_outside(ax: Any, **options: Any) -> None:
    """The legend to the right of the axes, never over the data."""
    if ax.get_legend_handles_labels()[0]:
        options = {"fontsize": 8, **options}
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **options)


def figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (10, 4)) -> Any:
    """A new figure and its axes (``plt.subplots``) laid out with room for legends outside the axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size, layout="constrained")  # NOTE: room for legends outside the axes


_figure = figure


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
    drawn = styles(list(results))
    for index, (label, result) in enumerate(results.items()):
        epochs = np.arange(1, len(result.loss) + 1)
        width = max(3.5 - 1.2 * index, 1.0)  # NOTE: thinner on top, so identical curves (dyadic = backprop) both show
        # NOTE: solid train, dashed test; two labels of one colour ("CNN dyadic", "MLP dyadic") apart by marker
        style = {"color": drawn[label]["color"], "marker": MARKERS[LINESTYLES.index(drawn[label]["ls"])], "lw": width,
                 "markevery": max(len(epochs) // 8, 1), "ms": 5}  # fmt: skip
        ax_loss.plot(epochs, result.loss, label=f"{label} (train)", **style)
        ax_loss.plot(epochs, result.test_loss, "--", label=f"{label} (test)", **style)
        ax_acc.plot(epochs, 100 * np.asarray(result.test_accuracy), label=label, **style)
    ax_loss.set(xlabel="epoch", ylabel="loss (cross-entropy or mse)", yscale="log", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy [%]", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        legend_outside(ax)
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
    legend_outside(ax)
    return save_figure(fig, path)


def waves(
    result: Any,
    depth: int,
    path: str | os.PathLike[str],
    title: str = "",
    reference: Any = None,
    levels: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
) -> Path:
    """Space-time images of mean |s_l(k)| and mean |lam_l(k)|, marking the light cone k = l and k = 2L + 1 - l;
    with ``reference`` (backprop's gradients), a third panel of the readout's error against it, tick by tick.

    A graph's waves are one row per node (``labels``, its ids), its cone at the node's level (``levels``) and at
    2D + 1 - level."""
    history = result.history
    ticks = np.arange(len(history.s))
    levels = np.arange(1, depth + 1) if levels is None else np.asarray(levels)
    rows = np.arange(1, len(levels) + 1)
    height = 3.8 if len(rows) <= 8 else 3.8 + 0.2 * (len(rows) - 8)
    fig, axes = _figure(1, 3 if reference is not None else 2, (16.5 if reference is not None else 11, height))
    for ax, waves, name, forward in (
        (axes[0], history.s, "forward s_l", True),
        (axes[1], history.lam, "backward lam_l", False),
    ):
        image = np.array([[np.mean(np.abs(w[l])) for l in range(len(rows))] for w in waves]).T
        image = image / np.maximum(image.max(axis=1, keepdims=True), 1e-300)  # NOTE: each layer on its own scale
        shown = ax.imshow(
            image,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            extent=(-0.5, ticks[-1] + 0.5, 0.5, len(rows) + 0.5),
        )
        fig.colorbar(shown, ax=ax, label="mean |wave| / its layer's max")
        arrival = levels if forward else 2 * depth + 1 - levels
        ax.plot(arrival, rows, "wo", ms=6, mfc="none", label="exact from (light cone)")
        ylabel = "layer l" if labels is None else "node"
        ax.set(xlabel="tick k (1 ns each)", ylabel=ylabel, title=f"{name}: mean |wave| / max per layer", yticks=rows)
        if labels is not None:
            ax.set_yticklabels(list(labels), fontsize=7)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8)  # NOTE: below, not over the image
    if reference is not None:
        errors = np.maximum(np.asarray(result.error_by_tick(reference), dtype=float), 1e-17)
        axes[2].semilogy(np.arange(len(errors)), errors, marker="o", ms=3, color=color_for(str(result.target)))
        axes[2].axvline(2 * depth, color="k", ls=":", label="tick 2L" if labels is None else "tick 2D")
        axes[2].set(xlabel="tick k (1 ns each)", ylabel="max |G(k) - G(backprop)|",
                    title=f"gradient error on {result.target}")  # fmt: skip
        axes[2].grid(alpha=0.3)
        legend_outside(axes[2])
    fig.suptitle(title)
    return save_figure(fig, path)


def fidelity_curves(
    curves: Mapping[str, Any],
    path: str | os.PathLike[str],
    title: str = "",
    by_tick: Mapping[str, Any] | None = None,
    depth: int | None = None,
) -> Path:
    """Gradient cosine per epoch (one line per label) and/or the relative gradient error per tick of a relaxation
    (with ``depth``, a dashed line at tick 2L, where the ideal machine is exact)."""
    panels = (["epoch"] if curves else []) + (["tick"] if by_tick else [])
    fig, axes = _figure(1, len(panels), size=(5.5 * len(panels), 4))
    axes = dict(zip(panels, np.atleast_1d(axes)))
    for index, (label, cosine) in enumerate(curves.items()):
        axes["epoch"].plot(
            np.arange(1, len(cosine) + 1), cosine, marker="o", ms=3, color=color_for(label, index), label=label
        )
    if curves:
        axes["epoch"].set(xlabel="epoch", ylabel="cosine(hardware readout, exact gradient)", title="gradient fidelity")
    floor = 1e-17  # NOTE: exact zeros are drawn at this floor so the log axis can show them
    for index, (label, errors) in enumerate((by_tick or {}).items()):
        values = np.maximum(np.asarray(errors, dtype=float), floor)
        axes["tick"].semilogy(values, marker="o", ms=3, color=color_for(label, index), label=label)
    if by_tick:
        axes["tick"].set(xlabel="tick", ylabel="relative gradient error", title="one relaxation, tick by tick")
        if depth is not None:
            axes["tick"].axvline(2 * depth, color="0.4", ls="--", lw=1, label=f"2L = {2 * depth}")
    for ax in axes.values():
        ax.grid(alpha=0.3)
        legend_outside(ax)
    fig.suptitle(title)
    return save_figure(fig, path)


def lifetime_curves(curves: Mapping[str, Any], path: str | os.PathLike[str], title: str = "") -> Path:
    """Test accuracy against the time since programming (log axis): one line per label, mean over the chips with a
    band of +-1 std. ``curves[label] = (times, mean, std)``, accuracies as fractions."""
    fig, ax = _figure(1, 1, size=(8, 4.5))
    drawn = styles(list(curves))
    for label, (times, mean, std) in curves.items():
        t, m, s = (np.asarray(v, dtype=float) for v in (times, mean, std))
        ax.semilogx(t, 100 * m, ms=3, label=label, **{"marker": "o", **drawn[label]})
        ax.fill_between(t, 100 * (m - s), 100 * (m + s), color=drawn[label]["color"], alpha=0.15)
    ax.set(xlabel="time since programming [s]", ylabel="test accuracy [%]", title=title)
    ax.grid(alpha=0.3, which="both")
    legend_outside(ax)
    return save_figure(fig, path)


def loss_by_time(
    curves: Mapping[str, tuple[Any, Any]], path: str | os.PathLike[str], title: str = "", xlabel: str = "time [ns]"
) -> Path:
    """Loss (log axis) against time, one line per label (``curves[label] = (times, losses)``): a learning circuit's
    loss on two targets, say."""
    fig, ax = _figure(size=(7, 3.5))
    drawn = styles(list(curves))
    for index, (label, (times, losses)) in enumerate(curves.items()):
        ax.semilogy(times, losses, ms=4, label=label, **{**drawn[label], "marker": "o" if index == 0 else None})
    ax.set(xlabel=xlabel, ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return save_figure(fig, path)
