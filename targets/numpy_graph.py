"""What the numpy target checks before it runs a circuit lowered from a graph: every node has the junction and the
cell its type needs, wired to as many inputs as the node has, with the geometry and weights' shape of the node.

The target computes each junction through the emulator's cells (the node's operator in emulator/ops.py), so an
element that says something other than its node (a pass that rewrote a stride, a circuit edited by hand) would run
the node's math, not the element's: such a circuit is refused here, naming the element, instead.
"""

from __future__ import annotations

import math
from typing import Any

from wavetrain.circuits import (
    Circuit,
    ConvJunction,
    Crossbar,
    Junction,
    Nonlinearity,
    Pool,
    Sum,
    Wiring,
)
from wavetrain.compiler.graph import Act, Add, AvgPool, Concat, Conv1d, Conv2d, Flatten, Graph, Linear, MaxPool
from wavetrain.errors import SimulationError

JUNCTIONS = (Junction, Crossbar, ConvJunction, Pool, Sum, Wiring)  # the element that computes a node's operator
ELEMENT_OF: dict[type, type | tuple[type, ...]] = {
    Linear: (Junction, Crossbar),  # the behavioural junction or its crossbar (level="crossbar")
    Conv1d: ConvJunction,
    Conv2d: ConvJunction,
    AvgPool: Pool,
    MaxPool: Pool,
    Add: Sum,
    Concat: Wiring,
    Flatten: Wiring,
    Act: Wiring,
}


def _pair(value: Any, dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (value,) * dims


def _geometry(node: Any, e: Any, graph: Graph, n: str) -> str | None:
    """What differs between the node and its junction element (None when they agree)."""
    ins = [graph.shape[p] for p in graph.preds[n]]
    if isinstance(e, (Junction, Crossbar, ConvJunction)):
        w_shape, _ = graph.param_shapes()[n]
        if e.weight.shape != w_shape:
            return f"weight shape {e.weight.shape}, expected {w_shape}"
    if isinstance(e, ConvJunction):
        dims = e.weight.ndim - 2
        want = (ins[0], _pair(node.stride, dims), _pair(node.padding, dims))
        if (e.in_shape, e.stride, e.padding) != want:
            return f"(in_shape, stride, padding) {(e.in_shape, e.stride, e.padding)}, expected {want}"
    if isinstance(e, Pool):
        want_pool = ("max" if isinstance(node, MaxPool) else "avg", ins[0], node.kernel, node.step)
        if (e.mode, e.in_shape, e.kernel, e.stride) != want_pool:
            return f"(mode, in_shape, kernel, stride) {(e.mode, e.in_shape, e.kernel, e.stride)}, expected {want_pool}"
    if isinstance(e, Wiring) and e.widths != tuple(math.prod(s) for s in ins):
        return f"input widths {e.widths}, expected {tuple(math.prod(s) for s in ins)}"
    return None


def check_graph_circuit(circuit: Circuit, graph: Graph) -> dict[str, Any]:
    """The junction element of every node (node id -> element); SimulationError naming what does not fit."""
    junction_of: dict[str, Any] = {}
    cell_of: dict[str, Nonlinearity] = {}
    for e in circuit.elements:
        node = getattr(e, "node", None)
        if node is not None and node not in graph.shape:
            raise SimulationError(f"numpy target: element {e.name!r} belongs to node {node!r}, which the circuit's "
                                  f"graph does not have (nodes {list(graph.order)})")  # fmt: skip
        if isinstance(e, JUNCTIONS) and node is not None:
            if node in junction_of:
                raise SimulationError(f"numpy target: node {node!r} has two junctions, {junction_of[node].name!r} "
                                      f"and {e.name!r}")  # fmt: skip
            junction_of[node] = e
        elif isinstance(e, Nonlinearity) and node is not None:
            cell_of[node] = e
    for n in graph.order:
        node = graph.node(n)
        j: Any = junction_of.get(n)
        want: Any = ELEMENT_OF[type(node)]
        if j is None or cell_of.get(n) is None:
            what = "junction" if j is None else "cell"
            raise SimulationError(f"numpy target: circuit {circuit.name!r} lacks the {what} of node {n!r}")
        if not isinstance(j, want):
            kinds = " or ".join(t.__name__ for t in (want if isinstance(want, tuple) else (want,)))
            raise SimulationError(f"numpy target: node {n!r} ({type(node).__name__}) needs a {kinds}, the "
                                  f"circuit has the {type(j).__name__} {j.name!r}")  # fmt: skip
        count = len(j.a) if isinstance(j.a, tuple) else 1
        if count != len(graph.preds[n]):
            raise SimulationError(f"numpy target: junction {j.name!r} has {count} inputs, node {n!r} has "
                                  f"{len(graph.preds[n])} ({list(graph.preds[n])})")  # fmt: skip
        problem = _geometry(node, j, graph, n)
        if problem is not None:
            raise SimulationError(f"numpy target: junction {j.name!r} does not fit node {n!r}: {problem}")
        if cell_of[n].activation != graph.activation(n):
            raise SimulationError(f"numpy target: cell {cell_of[n].name!r} has activation {cell_of[n].activation!r}, "
                                  f"node {n!r} has {graph.activation(n)!r}")  # fmt: skip
    return junction_of
