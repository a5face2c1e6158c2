"""``wavetrain sweep report DIR``: a summary table over seeds and chips, and plots against each swept axis.

Rows are grouped by their setting (the values of the swept axes). Test accuracy is pooled over the group's seeds
and, when a task trained several chip instances, over its chips (``chip_accuracy``): the table gives the mean, the
sample standard deviation and the range of that pool, and the mean and standard deviation of the final gradient
fidelity (cosine and relative error against the exact gradient) over seeds. Failed tasks are counted, not pooled.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wavetrain import plots
from wavetrain.files import atomic_write
from wavetrain.sweep.table import read_manifest, read_table

MAX_LINES = 8  # more combinations of the other axes than this are pooled into one line per plot


@dataclass(frozen=True)
class Group:
    """The rows of one setting and their pooled statistics."""

    key: tuple[Any, ...]
    ok: int
    failed: int
    accuracy: np.ndarray  # pooled over seeds and chips
    cosine: np.ndarray  # final fidelity cosine per ok task (empty when not recorded)
    relative_error: np.ndarray
    seconds: np.ndarray  # task wall time per task


@dataclass(frozen=True)
class Report:
    """The summary (markdown) and the paths written."""

    text: str
    summary: Path
    plots: list[Path]


def _stats(values: np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def groups(rows: list[dict[str, Any]], axes: list[str]) -> list[Group]:
    """One Group per setting, in the order of the axes' values."""
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault(tuple(row[axis] for axis in axes), []).append(row)
    out = []
    for key in sorted(by_key, key=lambda k: tuple((v is None, str(type(v)), v) for v in k)):
        members = by_key[key]
        ok = [r for r in members if r["status"] == "ok"]
        pooled = [a for r in ok for a in (r.get("chip_accuracy") or [r["test_accuracy"]])]
        out.append(
            Group(
                key,
                len(ok),
                len(members) - len(ok),
                np.asarray(pooled, dtype=float),
                np.asarray([r["fidelity_cosine"] for r in ok if r.get("fidelity_cosine") is not None], dtype=float),
                np.asarray(
                    [r["fidelity_relative_error"] for r in ok if r.get("fidelity_relative_error") is not None],
                    dtype=float,
                ),
                np.asarray([r["task_seconds"] for r in members], dtype=float),
            )
        )
    return out


def _cell(value: float, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value * scale:.{digits}f}"


def summary_table(found: list[Group], axes: list[str]) -> str:
    """A markdown table: one row per setting with accuracy (%) and fidelity over seeds and chips."""
    head = [
        *(axes or ["setting"]),
        "ok",
        "failed",
        "n",
        "acc mean %",
        "acc std %",
        "acc min-max %",
        "cos mean",
        "cos std",
        "rel err mean",
        "task s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group in found:
        acc_mean, acc_std = _stats(group.accuracy)
        cos_mean, cos_std = _stats(group.cosine)
        rel_mean, _ = _stats(group.relative_error)
        span = f"{100 * group.accuracy.min():.2f}-{100 * group.accuracy.max():.2f}" if len(group.accuracy) else "-"
        cells = [
            *(str(v) for v in group.key),
            *([] if axes else ["base"]),
            str(group.ok),
            str(group.failed),
            str(len(group.accuracy)),
            _cell(acc_mean, 100),
            _cell(acc_std, 100),
            span,
            _cell(cos_mean, digits=4),
            _cell(cos_std, digits=4),
            _cell(rel_mean, digits=4),
            _cell(float(np.mean(group.seconds)) if len(group.seconds) else math.nan),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot_axis(rows: list[dict[str, Any]], axes: list[str], axis: str, path: Path) -> Path:
    """Test accuracy and gradient fidelity against one axis: a line per combination of the other axes."""
    others = [a for a in axes if a != axis]
    combos = {tuple(r[a] for a in others) for r in rows}
    pooled = len(combos) > MAX_LINES
    has_fidelity = any(r.get("fidelity_cosine") is not None for r in rows)
    fig, panels = plots.figure(1, 2 if has_fidelity else 1, size=(13 if has_fidelity else 7.5, 4))
    panels = np.atleast_1d(panels)
    present = {r[axis] for r in rows}
    # NOTE: null (the default: float weights, 2L hold, ...) is a category of its own, drawn last
    values = sorted(present - {None}, key=lambda v: (str(type(v)), v)) + ([None] if None in present else [])
    numeric = None not in present and _numeric(values)
    position = {v: (v if numeric else i) for i, v in enumerate(values)}
    lines = [None] if pooled or not others else sorted(combos, key=str)
    labels = [
        "all settings pooled" if combo is None else ", ".join(f"{a}={v}" for a, v in zip(others, combo))
        for combo in lines
    ]
    drawn = plots.styles(labels)
    for combo, label in zip(lines, labels):
        members = [r for r in rows if r["status"] == "ok" and (combo is None or tuple(r[a] for a in others) == combo)]
        for panel, metric in zip(panels, ("accuracy", "fidelity_cosine")):
            xs, means, stds = [], [], []
            scale = 100.0 if metric == "accuracy" else 1.0  # NOTE: accuracy in %, as the summary table
            for value in values:
                pool = [x for r in members if r[axis] == value for x in _samples(r, metric)]
                if pool:
                    mean, std = _stats(np.asarray(pool, dtype=float))
                    xs.append(position[value])
                    means.append(scale * mean)
                    stds.append(scale * std)
            if xs:
                panel.errorbar(xs, means, yerr=stds, capsize=3, label=label if len(label) < 60 else None,
                               **{**drawn[label], "marker": drawn[label]["marker"] or "o"})  # fmt: skip
    titles = ("test accuracy (mean, std over seeds and chips)", "gradient cosine vs exact (mean, std over seeds)")
    ylabels = ("test accuracy [%]", "cosine(readout, exact gradient)")
    for panel, title, ylabel in zip(panels, titles, ylabels):
        panel.set(xlabel=axis, ylabel=ylabel, title=title)
        panel.grid(alpha=0.3)
        if not numeric:
            panel.set_xticks(range(len(values)), [str(v) for v in values])
        elif len(values) > 1 and min(values) > 0 and max(values) / min(values) >= 100:
            panel.set_xscale("log")
    plots.legend_outside(panels[-1], fontsize=7)  # NOTE: one legend, right of both panels (same lines in each)
    return plots.save_figure(fig, path)


def _samples(row: dict[str, Any], metric: str) -> list[float]:
    if metric == "accuracy":
        return list(row.get("chip_accuracy") or [row["test_accuracy"]])
    return [] if row.get(metric) is None else [row[metric]]


def report(out: str | os.PathLike[str], dest: str | os.PathLike[str] | None = None) -> Report:
    """Write DEST/summary.md and DEST/<axis>.png (DEST defaults to OUT/report) for the sweep table in OUT."""
    held = read_manifest(out)
    axes = list(held["axes"])
    rows = read_table(out).to_pylist()
    dest = Path(dest) if dest is not None else Path(out) / "report"
    found = groups(rows, axes)
    failed = [r for r in rows if r["status"] != "ok"]
    text = (
        f"# Sweep {held['name']!r} (id {held['sweep_id']})\n\n{len(rows)} of {held['tasks']} tasks recorded, "
        f"{len(failed)} failed. Accuracy is pooled over seeds and chips.\n\n" + summary_table(found, axes)
    )
    if failed:
        text += "\nFailures:\n\n" + "".join(f"- {r['task_id']} (seed {r['seed']}): {r['error']}\n" for r in failed[:20])
    summary = atomic_write(dest / "summary.md", text)
    plots = [plot_axis(rows, axes, axis, dest / f"{axis}.png") for axis in axes]
    return Report(text, summary, plots)
