"""Random network graphs for property tests: compiler/random_graphs.py's generator, its choices drawn by
hypothesis (so a failure shrinks to a small graph)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from wavetrain.compiler.graph import Graph
from wavetrain.compiler.random_graphs import exactness_tick, random_graph

__all__ = ["exactness_tick", "graphs"]


@st.composite
def graphs(draw: Any, max_body: int = 6, first_parametric: bool | None = None) -> Graph:
    """A random DAG (see :func:`random_graph`)."""
    return random_graph(
        lambda low, high: draw(st.integers(low, high)),
        lambda options: draw(st.sampled_from(list(options))),
        max_body,
        first_parametric,
    )
