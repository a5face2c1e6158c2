"""What every saved figure must show: data in each panel, legends off the data, labelled axes, one style per label.

:func:`problems` inspects a matplotlib Figure (as drawn, before it is written); the ``saved_figures`` fixture
(tests/conftest.py) runs it on every figure any code saves while a test runs and fails the test on a problem, so a
test that renders the demo's, the report's or the sweep report's figures checks each of them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

_SUFFIX = re.compile(r"\s*\([^()]*\)\s*$")  # "pcm (train)", "smooth (measured)": the thing is before the brackets


def _is_colorbar(ax: Any) -> bool:
    return ax.get_label() == "<colorbar>"


def _data_artists(ax: Any) -> list[Any]:
    """The artists that draw data in data coordinates (reference lines such as axhline/axvline are not data)."""
    import matplotlib.collections
    import matplotlib.image
    import matplotlib.lines

    out = []
    for artist in ax.get_children():
        if not artist.get_visible():
            continue
        if isinstance(artist, matplotlib.lines.Line2D) and artist.get_transform() == ax.transData:
            out.append(artist)
        elif isinstance(artist, (matplotlib.collections.Collection, matplotlib.image.AxesImage)):
            out.append(artist)
    return out


def _xs(artist: Any) -> np.ndarray:
    import matplotlib.collections
    import matplotlib.image
    import matplotlib.lines

    if isinstance(artist, matplotlib.lines.Line2D):
        x, y = (np.asarray(v, dtype=float) for v in artist.get_data())
        return x[np.isfinite(x) & np.isfinite(y)]
    if isinstance(artist, matplotlib.image.AxesImage):
        left, right, _, _ = artist.get_extent()
        return np.array([left, right], dtype=float)
    if isinstance(artist, matplotlib.collections.Collection):
        points = [path.vertices for path in artist.get_paths()] + [artist.get_offsets()]
        xy = np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for p in points])
        return xy[np.all(np.isfinite(xy), axis=1), 0]
    return np.array([])


def _display_points(line: Any) -> np.ndarray:
    """A line's finite points in display pixels, each segment sampled every few pixels when the line is drawn."""
    x, y = (np.asarray(v, dtype=float) for v in line.get_data())
    xy = np.column_stack([x, y])[np.isfinite(x) & np.isfinite(y)]
    if len(xy) == 0:
        return xy
    pixels = line.get_transform().transform(xy)
    if line.get_linestyle() in ("None", "none", "", " ") or len(pixels) < 2:
        return pixels
    dense = [pixels[:1]]
    for a, b in zip(pixels[:-1], pixels[1:]):
        steps = max(int(np.hypot(*(b - a)) / 3), 1)
        dense.append(a + (b - a) * np.linspace(0, 1, steps + 1)[1:, None])
    return np.concatenate(dense)


def _style(line: Any) -> tuple[Any, ...]:
    import matplotlib.colors

    return (matplotlib.colors.to_hex(line.get_color()), line.get_linestyle(), line.get_marker())


def problems(fig: Any) -> list[str]:
    """Everything wrong with a figure, one sentence each (empty: the figure shows what it says)."""
    import matplotlib.colors

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    panels = [ax for ax in fig.axes if not _is_colorbar(ax) and ax.get_visible()]
    colours: dict[str, set[str]] = {}
    for number, ax in enumerate(panels, start=1):
        name = f"panel {number} ({ax.get_title() or 'untitled'!r})"
        data = _data_artists(ax)
        if not data:
            found.append(f"{name}: no data drawn")
            continue
        xs = np.concatenate([_xs(a) for a in data])
        if len(np.unique(xs)) < 2:
            found.append(f"{name}: all its data sits at one x ({np.unique(xs)}): a panel of one column is empty")
        # NOTE: what the data adds to the pixels of the panel: drawn with and without it
        box = ax.get_window_extent(renderer)
        rows = slice(int(fig.bbox.height - box.y1) + 2, int(fig.bbox.height - box.y0) - 2)
        cols = slice(int(box.x0) + 2, int(box.x1) - 2)
        with_data = np.asarray(fig.canvas.buffer_rgba())[rows, cols, :3].copy()
        for artist in data:
            artist.set_visible(False)
        fig.canvas.draw()
        without = np.asarray(fig.canvas.buffer_rgba())[rows, cols, :3].copy()
        for artist in data:
            artist.set_visible(True)
        fig.canvas.draw()
        changed = np.mean(np.any(with_data != without, axis=-1)) if with_data.size else 0.0
        if changed < 0.002:
            found.append(f"{name}: its data changes {100 * changed:.2f} % of the panel's pixels (nothing visible)")
        if len(np.unique(with_data.reshape(-1, 3), axis=0)) < 2:
            found.append(f"{name}: one colour in its data area")
        for axis, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if not label.strip():
                found.append(f"{name}: no {axis} label")
            elif "accuracy" in label and "%" not in label:
                found.append(f"{name}: {axis} label {label!r} names an accuracy without its unit (%)")
        styles: dict[tuple[Any, ...], str] = {}
        labelled = [(line.get_label(), line) for line in ax.get_lines() if line in data]
        labelled += [(c.get_label(), c.lines[0]) for c in ax.containers if hasattr(c, "lines") and c.lines[0]]
        for label, line in labelled:
            if not isinstance(label, str) or label.startswith("_"):
                continue
            other = styles.setdefault(_style(line), label)
            if other != label:
                found.append(f"{name}: {other!r} and {label!r} are drawn alike {_style(line)}")
            colours.setdefault(_SUFFIX.sub("", label), set()).add(matplotlib.colors.to_hex(line.get_color()))
    lines = [line for ax in panels for line in _data_artists(ax) if hasattr(line, "get_xydata")]
    legends = [ax.get_legend() for ax in panels if ax.get_legend() is not None] + list(fig.legends)
    for legend in legends:
        box = legend.get_window_extent(renderer).shrunk(0.98, 0.98)
        for line in lines:
            points = _display_points(line)
            inside = (
                (points[:, 0] > box.x0) & (points[:, 0] < box.x1) & (points[:, 1] > box.y0) & (points[:, 1] < box.y1)
            )
            if np.any(inside):
                found.append(f"the legend ({len(legend.get_texts())} entries) covers the data of {line.get_label()!r}")
                break
    for thing, used in colours.items():
        if len(used) > 1:
            found.append(f"{thing!r} is drawn in {len(used)} colours {sorted(used)}: one thing, one colour")
    return found
