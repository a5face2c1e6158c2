"""Random network graphs: mixed node types, fan-out, fan-in, skips of several lengths, conv strides and padding.

One generator for every driver: the property tests draw its choices with hypothesis (which shrinks a failure to a
small graph), the reproduction report with a seeded NumPy generator, and a user may fuzz a backend with it.
``exactness_tick`` computes when a relaxation from zero waves reads backprop's gradient from the edges alone, apart
from Graph's derived levels.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from wavetrain.compiler.graph import (
    INPUT,
    Act,
    Add,
    AvgPool,
    Concat,
    Conv1d,
    Conv2d,
    Flatten,
    Graph,
    Linear,
    MaxPool,
)

ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
Integer = Callable[[int, int], int]  # an integer in [low, high], both included
Choose = Callable[[Sequence[Any]], Any]  # one of the options


def numpy_choices(rng: np.random.Generator) -> tuple[Integer, Choose]:
    """The two choice functions :func:`random_graph` takes, drawn from a seeded generator."""
    return (lambda low, high: int(rng.integers(low, high + 1))), (
        lambda options: options[int(rng.integers(len(options)))]
    )


def _out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def random_graph(integer: Integer, choose: Choose, max_body: int = 6, first_parametric: bool | None = None) -> Graph:
    """A random DAG: a body of 1..max_body nodes, each reading one or two earlier values (the input or a node,
    recent ones likelier), then every value nobody reads is flattened, concatenated and read by a Linear output
    of 2 to 4 features. ``first_parametric``: force the first node to be (True) or not be (False) a junction."""
    kind = choose(["vector", "signal", "image"])
    if kind == "vector":
        shape: tuple[int, ...] = (integer(1, 6),)
    elif kind == "signal":
        shape = (integer(1, 3), integer(5, 12))
    else:
        shape = (integer(1, 2), integer(4, 7), integer(4, 7))
    values: list[tuple[str, tuple[int, ...]]] = [(INPUT, shape)]
    nodes: list[Any] = []
    edges: list[tuple[str, str]] = []
    read: set[str] = set()
    for i in range(integer(1, max_body)):
        n = f"n{i}"
        src, s = values[len(values) - 1 - integer(0, min(3, len(values) - 1))]
        options = ["linear", "act"] if len(s) == 1 else ["conv", "pool", "flatten", "act"]
        partners = [v for v in values if v[0] != src and len(v[1]) == len(s) and v[1][1:] == s[1:]]
        if partners:
            options += ["add", "concat"] if any(v[1] == s for v in partners) else ["concat"]
        if i == 0 and first_parametric is not None:
            junction = ["linear"] if len(s) == 1 else ["conv"]
            options = junction if first_parametric else (["act"] if len(s) == 1 else ["pool", "flatten", "act"])
        op = choose(options)
        sources = [src]
        activation = choose(ACTIVATIONS)
        if op == "linear":
            node: Any = Linear(id=n, features=integer(1, 5), activation=activation)
            out: tuple[int, ...] = (node.features,)
        elif op == "conv":
            kernel, stride, padding = integer(1, 3), integer(1, 2), integer(0, 1)
            if any(d + 2 * padding < kernel for d in s[1:]):
                kernel = 1
            channels = integer(1, 3)
            cls = Conv1d if len(s) == 2 else Conv2d
            node = cls(id=n, channels=channels, kernel=kernel, stride=stride, padding=padding, activation=activation)
            out = (channels, *(_out(d, kernel, stride, padding) for d in s[1:]))
        elif op == "pool" and min(s[1:]) >= 2:
            stride = integer(1, 2)
            node = choose([AvgPool, MaxPool])(id=n, kernel=2, stride=stride, activation=activation)
            out = (s[0], *(_out(d, 2, stride, 0) for d in s[1:]))
        elif op in ("pool", "flatten"):
            node, out = Flatten(id=n, activation=activation), (math.prod(s),)
        elif op == "act":
            node, out = Act(id=n, activation=choose(ACTIVATIONS[:3])), s
        elif op == "add":
            other = choose([v for v in partners if v[1] == s])
            node, out = Add(id=n, activation=activation), s
            sources.append(other[0])
        else:
            other = choose(partners)
            node, out = Concat(id=n, activation=activation), (s[0] + other[1][0], *s[1:])
            sources.append(other[0])
        if choose([False, True]):
            sources.reverse()
        nodes.append(node)
        edges += [(p, n) for p in sources]
        read.update(sources)
        values.append((n, out))
    joined = []
    for k, (n, s) in enumerate(v for v in values[1:] if v[0] not in read):
        if len(s) > 1:
            nodes.append(Flatten(id=f"f{k}"))
            edges.append((n, f"f{k}"))
            n = f"f{k}"
        joined.append(n)
    if len(joined) > 1:
        nodes.append(Concat(id="join"))
        edges += [(n, "join") for n in joined]
        joined = ["join"]
    nodes.append(Linear(id="out", features=integer(2, 4), activation=choose(ACTIVATIONS)))
    edges.append((joined[0], "out"))
    return Graph(shape, tuple(nodes), tuple(edges), "out")


def exactness_tick(graph: Graph) -> int:
    """The first tick at which every port reads backprop's gradient from zero waves, from the edges alone.

    With the matched delay lines that make every input of a node arrive in step, every path from the input through
    a node n to the output is D ticks long, so its backward wave is exact from tick 2D + 1 - level(n), level(n) the
    longest path from the input to n: T* = 2D + 1 - min over parametric nodes of level(n), and T* = 2D when a
    junction reads the input on a longest path (docs/physics.md section 10.3).
    """
    preds: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for u, v in graph.edges:
        preds[v].append(u)
    memo: dict[str, int] = {INPUT: 0}

    def level(n: str) -> int:
        if n not in memo:
            memo[n] = 1 + max(level(p) for p in preds[n])
        return memo[n]

    depth = level(graph.output)
    parametric = [node.id for node in graph.nodes if isinstance(node, (Linear, Conv1d, Conv2d))]
    return 2 * depth + 1 - min(level(n) for n in parametric)


__all__ = ["exactness_tick", "numpy_choices", "random_graph"]
