"""Building a graph in Python: each call adds one node and returns its id, the handle the next call reads.

    g = GraphBuilder((1, 40))                      # one sample's shape: MNIST-1D as one channel of 40 values
    h = g.conv1d(g.input, 25, kernel=5, stride=2, padding=1, activation="relu")
    skip = h
    h = g.conv1d(h, 25, kernel=3, padding=1, activation="relu")
    h = g.add(h, skip)                             # a skip: the node joins two lines
    out = g.linear(g.flatten(h), 10)
    net = g.network(out, loss="cross_entropy", seed=0)

Ids default to the node type and a count (``conv1d_1``, ``add_1``); pass ``id=`` to choose one (a word, used in every
net name of the lowered circuit and as the parameters' name). Shapes are inferred and checked as each node is added,
so a mistake is reported at the line that makes it, naming the node and the shapes.
"""

from __future__ import annotations

from typing import Any

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
    Node,
    Shape,
    check_shape,
)
from wavetrain.errors import NetworkError

Pair = int | tuple[int, int]  # one value for both axes, or (height, width)


class GraphBuilder:
    """Adds nodes one call at a time (see the module docstring); :meth:`graph` / :meth:`network` finish it."""

    def __init__(self, input_shape: int | Shape) -> None:
        self.input_shape = check_shape(input_shape, "GraphBuilder: input_shape")
        self.input = INPUT
        self.nodes: list[Node] = []
        self.edges: list[tuple[str, str]] = []
        self.shape: dict[str, Shape] = {INPUT: self.input_shape}
        self._counts: dict[str, int] = {}

    def _add(self, node_type: type, sources: tuple[str, ...], id: str | None, **attrs: Any) -> str:
        kind = node_type.__name__.lower()
        if id is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            id = f"{kind}_{self._counts[kind]}"
            while id in self.shape:
                self._counts[kind] += 1
                id = f"{kind}_{self._counts[kind]}"
        elif id in self.shape:
            raise NetworkError(f"GraphBuilder: node id {id!r} is already used")
        for s in sources:
            if not isinstance(s, str) or s not in self.shape:
                raise NetworkError(
                    f"GraphBuilder: {kind} {id!r} reads {s!r}, which is not a node of this builder (expected an id "
                    f"returned by an earlier call, or builder.input)"
                )
        node = node_type(id=id, **attrs)
        self.shape[id] = node.infer([self.shape[s] for s in sources])
        self.nodes.append(node)
        self.edges += [(s, id) for s in sources]
        return id

    # --- junctions with parameters ----------------------------------------------------------------------------

    def linear(self, x: str, features: int, activation: str = "identity", id: str | None = None) -> str:
        """A dense junction on a vector: W (features, n_in), b (features,)."""
        return self._add(Linear, (x,), id, features=features, activation=activation)

    def conv1d(self, x: str, channels: int, kernel: int, stride: int = 1, padding: int = 0,
               activation: str = "identity", id: str | None = None) -> str:  # fmt: skip
        """A 1-d convolution on (C, L), as torch's Conv1d (zero padding, cross-correlation)."""
        return self._add(Conv1d, (x,), id, channels=channels, kernel=kernel, stride=stride, padding=padding,
                         activation=activation)  # fmt: skip

    def conv2d(self, x: str, channels: int, kernel: Pair, stride: Pair = 1, padding: Pair = 0,
               activation: str = "identity", id: str | None = None) -> str:  # fmt: skip
        """A 2-d convolution on (C, H, W), as torch's Conv2d."""
        return self._add(Conv2d, (x,), id, channels=channels, kernel=kernel, stride=stride, padding=padding,
                         activation=activation)  # fmt: skip

    # --- parameter-free junctions -----------------------------------------------------------------------------

    def avgpool(self, x: str, kernel: int, stride: int | None = None, activation: str = "identity",
                id: str | None = None) -> str:  # fmt: skip
        return self._add(AvgPool, (x,), id, kernel=kernel, stride=stride, activation=activation)

    def maxpool(self, x: str, kernel: int, stride: int | None = None, activation: str = "identity",
                id: str | None = None) -> str:  # fmt: skip
        return self._add(MaxPool, (x,), id, kernel=kernel, stride=stride, activation=activation)

    def flatten(self, x: str, activation: str = "identity", id: str | None = None) -> str:
        return self._add(Flatten, (x,), id, activation=activation)

    def add(self, *xs: str, activation: str = "identity", id: str | None = None) -> str:
        """The sum of two or more nodes of one shape (a residual connection)."""
        return self._add(Add, tuple(xs), id, activation=activation)

    def concat(self, *xs: str, activation: str = "identity", id: str | None = None) -> str:
        """Two or more nodes joined along features (vectors) or channels (signals, images), in argument order."""
        return self._add(Concat, tuple(xs), id, activation=activation)

    def act(self, x: str, activation: str, id: str | None = None) -> str:
        """A nonlinearity on its own (after an add, say)."""
        return self._add(Act, (x,), id, activation=activation)

    # --- finishing --------------------------------------------------------------------------------------------

    def graph(self, output: str) -> Graph:
        """The graph read out at ``output`` (every node must lead to it)."""
        if output not in self.shape or output == INPUT:
            raise NetworkError(f"GraphBuilder: output {output!r} is not a node of this builder")
        return Graph(self.input_shape, tuple(self.nodes), tuple(self.edges), output)

    def network(self, output: str, loss: str = "mse", seed: int = 0, name: str = "net") -> Any:
        """A :class:`~wavetrain.compiler.network.Network` on :meth:`graph`, its parameters initialised from ``seed``
        (Glorot, He for relu, zero biases)."""
        from wavetrain.compiler.network import Network

        return Network.from_graph(self.graph(output), loss=loss, name=name, seed=seed)


__all__ = ["GraphBuilder"]
