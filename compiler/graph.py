"""The network graph: one frozen dataclass per node type, string ids, edges as pairs; shapes and levels derived once.

A :class:`Graph` is the structure of a network (its parameters live in the :class:`~wavetrain.compiler.network.
Network` that wraps it). Every node is one cell of the wave machine: a junction (its linear operator: a dense or
convolutional product, a sum, a concatenation, a pooling, a reshape) followed by its nonlinearity, driving a line of
one tick. The input clamp is the reserved source ``INPUT``; the loss load reads the ``output`` node.

Derived at construction, in the NIR style (checked once, read everywhere):
  order    topological order of the nodes (edges first-listed first among equals)
  preds    each node's inputs in edge order (the order a concatenation joins them)
  succs    each node's consumers
  shape    every node's output shape per sample (batch axis excluded; ``shape[INPUT]`` is the input's)
  level    the longest path from the input in ticks: level(input) = 0, level(n) = 1 + max level(pred)
  depth    D = level(output): the relaxation from zero waves reads backprop's gradient at tick 2D
  delay    per edge (u, v): level(v) - 1 - level(u) ticks of matched line that make every input of v arrive in
           step (docs/physics.md section 10); zero on a chain

Node ids are words (``[A-Za-z0-9_]+``, at most 32 characters): every net and element name of the lowered circuit is
a role prefix followed by the id. A chain's layers are "1".."L".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping, Sequence, Union

from wavetrain.errors import NetworkError

Shape = tuple[int, ...]  # one sample's shape: (n,) dense, (C, L) 1-d signals, (C, H, W) images
INPUT = "input"  # the reserved id of the input clamp: edges start here
LOSS = "loss"  # reserved: the loss load (never a node id)
ID_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_WIDTH = 10**8  # elements of one node's output per sample


def check_id(value: Any, what: str = "node id") -> str:
    """A node id: a word of letters, digits and underscores (at most 32), not a reserved name."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value) or value in (INPUT, LOSS):
        raise NetworkError(
            f"{what} {value!r} is not valid: expected a word [A-Za-z0-9_]{{1,32}} other than {INPUT!r} and {LOSS!r}"
        )
    return value


def _count(node: Any, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise NetworkError(f"node {node.id!r}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def _pair(node: Any, name: str, value: Any, minimum: int) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise NetworkError(f"node {node.id!r}: {name} must be an integer or a pair of integers, got {value!r}")
    return (_count(node, name, value[0], minimum), _count(node, name, value[1], minimum))


def _activation(node: Any) -> None:
    from wavetrain.compiler.functions import ACTIVATIONS

    if not isinstance(node.activation, str) or node.activation not in ACTIVATIONS:
        raise NetworkError(
            f"node {node.id!r}: unknown activation {node.activation!r}; expected one of {', '.join(ACTIVATIONS)}"
        )


def _one(node: Any, ins: Sequence[Shape]) -> Shape:
    if len(ins) != 1:
        raise NetworkError(f"node {node.id!r} ({type(node).__name__}): expected 1 input, got {len(ins)}")
    return ins[0]


def _sliding(node: Any, size: int, kernel: int, stride: int, padding: int, axis: str, shape: Shape) -> int:
    span = size + 2 * padding
    if kernel > span:
        raise NetworkError(
            f"node {node.id!r}: kernel {kernel} is larger than its input's {axis} {size} + 2 x padding {padding} = "
            f"{span} (input shape {shape})"
        )
    return (span - kernel) // stride + 1


@dataclass(frozen=True, kw_only=True)
class Linear:
    r"""A dense junction: :math:`s = \sigma(W x + b)`, x a vector (n_in,), W (features, n_in), b (features,)."""

    id: str
    features: int
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        _count(self, "features", self.features)
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        x = _one(self, ins)
        if len(x) != 1:
            raise NetworkError(
                f"node {self.id!r} (Linear): expected a vector input (n,), got shape {x}; put a Flatten before it"
            )
        return (self.features,)

    def params(self, ins: Sequence[Shape]) -> tuple[Shape, Shape]:
        return (self.features, ins[0][0]), (self.features,)


@dataclass(frozen=True, kw_only=True)
class Conv1d:
    r"""A 1-d convolution junction: :math:`s_{o,t} = \sigma(\sum_{c,j} W_{o,c,j} x_{c, t \cdot stride + j - pad} + b_o)`
    on x (C_in, L), W (channels, C_in, kernel), b (channels,); zero padding, cross-correlation as torch's Conv1d."""

    id: str
    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        for name in ("channels", "kernel", "stride"):
            _count(self, name, getattr(self, name))
        _count(self, "padding", self.padding, 0)
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        x = _one(self, ins)
        if len(x) != 2:
            raise NetworkError(f"node {self.id!r} (Conv1d): expected an input (channels, length), got shape {x}")
        return (self.channels, _sliding(self, x[1], self.kernel, self.stride, self.padding, "length", x))

    def params(self, ins: Sequence[Shape]) -> tuple[Shape, Shape]:
        return (self.channels, ins[0][0], self.kernel), (self.channels,)


@dataclass(frozen=True, kw_only=True)
class Conv2d:
    r"""A 2-d convolution junction on x (C_in, H, W): W (channels, C_in, kh, kw), b (channels,), as torch's Conv2d.

    .. math:: s_{o,y,x} = \sigma(\sum_{c,i,j} W_{o,c,i,j}\, x_{c,\, y s_h + i - p_h,\, x s_w + j - p_w} + b_o)
    """

    id: str
    channels: int
    kernel: tuple[int, int] | int
    stride: tuple[int, int] | int = 1
    padding: tuple[int, int] | int = 0
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        _count(self, "channels", self.channels)
        object.__setattr__(self, "kernel", _pair(self, "kernel", self.kernel, 1))
        object.__setattr__(self, "stride", _pair(self, "stride", self.stride, 1))
        object.__setattr__(self, "padding", _pair(self, "padding", self.padding, 0))
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        x = _one(self, ins)
        if len(x) != 3:
            raise NetworkError(f"node {self.id!r} (Conv2d): expected an input (channels, height, width), got {x}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding  # type: ignore[misc]
        return (
            self.channels,
            _sliding(self, x[1], kh, sh, ph, "height", x),
            _sliding(self, x[2], kw, sw, pw, "width", x),
        )

    def params(self, ins: Sequence[Shape]) -> tuple[Shape, Shape]:
        return (self.channels, ins[0][0], *self.kernel), (self.channels,)  # type: ignore[misc]


@dataclass(frozen=True, kw_only=True)
class AvgPool:
    """Average pooling over windows of ``kernel`` (each spatial axis) every ``stride`` (default: the kernel), on
    (C, L) or (C, H, W); a parameter-free linear junction, its transpose spreads each delta evenly over its window."""

    id: str
    kernel: int
    stride: int | None = None
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        _count(self, "kernel", self.kernel)
        if self.stride is not None:
            _count(self, "stride", self.stride)
        _activation(self)

    @property
    def step(self) -> int:
        return self.kernel if self.stride is None else self.stride

    def infer(self, ins: Sequence[Shape]) -> Shape:
        x = _one(self, ins)
        if len(x) not in (2, 3):
            raise NetworkError(f"node {self.id!r} ({type(self).__name__}): expected (C, L) or (C, H, W), got {x}")
        axes = ("length",) if len(x) == 2 else ("height", "width")
        return (x[0], *(_sliding(self, n, self.kernel, self.step, 0, a, x) for n, a in zip(x[1:], axes)))

    def params(self, ins: Sequence[Shape]) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class MaxPool(AvgPool):
    """Max pooling over windows (as AvgPool); its backward wave is routed to each window's argmax, the way a
    nonlinearity's derivative gates a sensitivity (the first maximum on ties, as torch)."""


@dataclass(frozen=True, kw_only=True)
class Flatten:
    """A reshape of the input to a vector (C x ...,), in C order: a wiring, its transpose the inverse reshape."""

    id: str
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        return (math.prod(_one(self, ins)),)

    def params(self, ins: Sequence[Shape]) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class Add:
    """The sum of two or more inputs of one shape: a junction of three (or more) lines; backward, each input line
    carries the whole delta (the junction's transpose)."""

    id: str
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        if len(ins) < 2:
            raise NetworkError(f"node {self.id!r} (Add): expected at least 2 inputs, got {len(ins)}")
        if len(set(ins)) != 1:
            raise NetworkError(f"node {self.id!r} (Add): inputs must have one shape, got {list(ins)}")
        return ins[0]

    def params(self, ins: Sequence[Shape]) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class Concat:
    """The inputs joined along their first axis (features of vectors, channels of signals and images), in edge
    order; backward, each input line takes its slice of the delta."""

    id: str
    activation: str = "identity"

    def __post_init__(self) -> None:
        check_id(self.id)
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        if len(ins) < 2:
            raise NetworkError(f"node {self.id!r} (Concat): expected at least 2 inputs, got {len(ins)}")
        if len({len(s) for s in ins}) != 1 or len({s[1:] for s in ins}) != 1:
            raise NetworkError(
                f"node {self.id!r} (Concat): inputs must agree on every axis but the first, got {list(ins)}"
            )
        return (sum(s[0] for s in ins), *ins[0][1:])

    def params(self, ins: Sequence[Shape]) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class Act:
    """A nonlinearity on its own: the identity junction followed by ``activation``."""

    id: str
    activation: str

    def __post_init__(self) -> None:
        check_id(self.id)
        _activation(self)

    def infer(self, ins: Sequence[Shape]) -> Shape:
        return _one(self, ins)

    def params(self, ins: Sequence[Shape]) -> None:
        return None


Node = Union[Linear, Conv1d, Conv2d, AvgPool, MaxPool, Flatten, Add, Concat, Act]  # the closed union of node types
NODE_TYPES: dict[str, type] = {
    "linear": Linear, "conv1d": Conv1d, "conv2d": Conv2d, "avgpool": AvgPool, "maxpool": MaxPool,
    "flatten": Flatten, "add": Add, "concat": Concat, "act": Act,
}  # fmt: skip
TYPE_NAMES = {cls: name for name, cls in NODE_TYPES.items()}
PARAMETRIC = (Linear, Conv1d, Conv2d)


def check_shape(value: Any, what: str) -> Shape:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if (
        not isinstance(value, (tuple, list))
        or not 1 <= len(value) <= 3
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value)
    ):
        raise NetworkError(f"{what}: expected a shape of 1 to 3 positive integers, got {value!r}")
    return tuple(value)


@dataclass(frozen=True, eq=False)
class Graph:
    """Nodes joined by edges from ``INPUT`` to ``output`` (see the module docstring for what is derived)."""

    input_shape: Shape
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]
    output: str
    order: tuple[str, ...] = field(init=False)
    preds: Mapping[str, tuple[str, ...]] = field(init=False)
    succs: Mapping[str, tuple[str, ...]] = field(init=False)
    shape: Mapping[str, Shape] = field(init=False)
    level: Mapping[str, int] = field(init=False)
    depth: int = field(init=False)
    delay: Mapping[tuple[str, str], int] = field(init=False)

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("input_shape", check_shape(self.input_shape, "graph: input_shape"))
        set_("nodes", tuple(self.nodes))
        by_id: dict[str, Node] = {}
        for node in self.nodes:
            if type(node) not in TYPE_NAMES:
                raise NetworkError(f"graph: {node!r} is not a node (expected one of {', '.join(NODE_TYPES)})")
            if node.id in by_id:
                raise NetworkError(f"graph: node id {node.id!r} is used twice")
            by_id[node.id] = node
        edges = []
        for edge in self.edges:
            if not isinstance(edge, (tuple, list)) or len(edge) != 2:
                raise NetworkError(f"graph: an edge is a pair (source, target), got {edge!r}")
            u, v = edge
            if u != INPUT and u not in by_id:
                raise NetworkError(f"graph: edge ({u!r}, {v!r}) starts at {u!r}, which is not a node nor {INPUT!r}")
            if v not in by_id:
                raise NetworkError(f"graph: edge ({u!r}, {v!r}) ends at {v!r}, which is not a node")
            edges.append((u, v))
        if len(set(edges)) != len(edges):
            raise NetworkError(f"graph: an edge is listed twice: {sorted(e for e in edges if edges.count(e) > 1)[0]}")
        set_("edges", tuple(edges))
        if self.output not in by_id:
            raise NetworkError(f"graph: output {self.output!r} is not a node (nodes {list(by_id)})")
        preds = {n: tuple(u for u, v in edges if v == n) for n in by_id}
        succs = {n: tuple(v for u, v in edges if u == n) for n in (INPUT, *by_id)}
        if succs[self.output]:
            raise NetworkError(
                f"graph: the output {self.output!r} feeds {list(succs[self.output])}; the loss load reads the output, "
                f"which drives nothing else (add a node that copies it)"
            )
        order = _topological(by_id, preds, edges)
        _reachable(by_id, preds, succs, self.output)
        shape: dict[str, Shape] = {INPUT: self.input_shape}
        level = {INPUT: 0}
        for n in order:
            shape[n] = by_id[n].infer([shape[p] for p in preds[n]])
            if math.prod(shape[n]) > MAX_WIDTH:
                raise NetworkError(f"node {n!r}: output shape {shape[n]} holds more than {MAX_WIDTH:,} values")
            level[n] = 1 + max(level[p] for p in preds[n])
        set_("order", order)
        set_("preds", preds)
        set_("succs", succs)
        set_("shape", shape)
        set_("level", level)
        set_("depth", level[self.output])
        set_("delay", {(u, v): level[v] - 1 - level[u] for u, v in edges})
        object.__setattr__(self, "_by_id", by_id)

    def _key(self) -> tuple[Any, ...]:
        return (self.input_shape, self.nodes, self.edges, self.output)

    def __eq__(self, other: object) -> bool:
        """Two graphs are equal when their input shape, nodes, edges and output are (the rest is derived)."""
        return isinstance(other, Graph) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def node(self, node_id: str) -> Node:
        """The node called ``node_id``."""
        try:
            return self._by_id[node_id]  # type: ignore[attr-defined, no-any-return]
        except KeyError:
            raise NetworkError(f"graph: no node {node_id!r} (nodes {list(self.order)})") from None

    @property
    def parametric(self) -> tuple[str, ...]:
        """The ids of the nodes with parameters (dense and convolution junctions), in topological order."""
        return tuple(n for n in self.order if isinstance(self.node(n), PARAMETRIC))

    def param_shapes(self) -> dict[str, tuple[Shape, Shape]]:
        """(weight shape, bias shape) of every parametric node, in topological order."""
        out = {}
        for n in self.parametric:
            shapes = self.node(n).params([self.shape[p] for p in self.preds[n]])
            assert shapes is not None
            out[n] = shapes
        return out

    @property
    def cuts(self) -> tuple[str, ...]:
        """The nodes every input-to-output path passes through, in order (every node of a chain; a residual
        network's block outputs): they split the graph into segments, the blocks of MPC's block-wise horizons."""
        cuts = []
        for c in self.order:
            seen, stack = {INPUT}, [INPUT]
            while stack:
                for v in self.succs[stack.pop()]:
                    if v != c and v not in seen:
                        seen.add(v)
                        stack.append(v)
            if self.output not in seen:
                cuts.append(c)
        return tuple(cuts)

    def segments(self) -> list[tuple[str, ...]]:
        """The nodes between consecutive cuts (each segment ends at its cut), in topological order."""
        out, current = [], []
        cuts = set(self.cuts)
        for n in self.order:
            current.append(n)
            if n in cuts:
                out.append(tuple(current))
                current = []
        return out

    @property
    def is_chain(self) -> bool:
        """Every node has one input and one consumer, the input feeds the first: a chain of cells."""
        return all(len(self.preds[n]) == 1 and len(self.succs[n]) == (0 if n == self.output else 1) for n in self.order)

    @property
    def is_dense_chain(self) -> bool:
        """A chain of Linear nodes only: what the chain-only algorithms (fused paths, forward gradient) run."""
        return self.is_chain and all(isinstance(self.node(n), Linear) for n in self.order)

    def activation(self, node_id: str) -> str:
        return self.node(node_id).activation

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON values: {"input_shape", "nodes": [{"id", "type", attrs...}], "edges", "output"}."""
        nodes = []
        for node in self.nodes:
            entry: dict[str, Any] = {"type": TYPE_NAMES[type(node)]}
            for f in fields(node):
                value = getattr(node, f.name)
                entry[f.name] = list(value) if isinstance(value, tuple) else value
            nodes.append(entry)
        return {"input_shape": list(self.input_shape), "nodes": nodes, "edges": [list(e) for e in self.edges],
                "output": self.output}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any) -> Graph:
        """The graph :meth:`to_dict` wrote; NetworkError naming the field for anything else."""
        if not isinstance(data, dict):
            raise NetworkError(f"graph: expected an object, got {type(data).__name__}")
        missing = sorted({"input_shape", "nodes", "edges", "output"} - set(data))
        if missing:
            raise NetworkError(f"graph: lacks the field {missing[0]!r}")
        if not isinstance(data["nodes"], list) or not isinstance(data["edges"], list):
            raise NetworkError("graph: 'nodes' and 'edges' must be lists")
        nodes = []
        for index, entry in enumerate(data["nodes"]):
            if not isinstance(entry, dict) or entry.get("type") not in NODE_TYPES:
                got = entry.get("type") if isinstance(entry, dict) else entry
                raise NetworkError(f"graph: node {index} has type {got!r}, expected one of {', '.join(NODE_TYPES)}")
            kind = NODE_TYPES[entry["type"]]
            names = {f.name for f in fields(kind)}
            attrs = {k: v for k, v in entry.items() if k != "type"}
            unknown = sorted(set(attrs) - names)
            if unknown:
                raise NetworkError(f"graph: node {index} ({entry['type']}) has no field {unknown[0]!r}")
            try:
                nodes.append(kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}))
            except TypeError as err:
                raise NetworkError(f"graph: node {index} ({entry['type']}): {err}") from None
        edges = [tuple(e) if isinstance(e, list) else e for e in data["edges"]]
        return cls(data["input_shape"], tuple(nodes), tuple(edges), data["output"])  # type: ignore[arg-type]

    @classmethod
    def chain(cls, input_shape: Shape, nodes: Iterable[Node]) -> Graph:
        """A chain: every node feeds the next, the first reads the input, the last is the output."""
        nodes = tuple(nodes)
        if not nodes:
            raise NetworkError("graph: a chain needs at least 1 node, got 0")
        ids = [INPUT, *(n.id for n in nodes)]
        return cls(input_shape, nodes, tuple(zip(ids[:-1], ids[1:])), nodes[-1].id)

    def __repr__(self) -> str:
        body = ", ".join(f"{n}:{TYPE_NAMES[type(self.node(n))]}{list(self.shape[n])}" for n in self.order)
        return f"Graph(input {list(self.input_shape)} -> {body}; output {self.output!r}, depth {self.depth})"


def _topological(by_id: dict[str, Node], preds: dict[str, tuple[str, ...]], edges: list[tuple[str, str]]) -> tuple:
    """Kahn's order, ties broken by the order nodes were listed; a cycle is refused naming a node on it."""
    listed = {n: k for k, n in enumerate(by_id)}
    waiting = {n: len(preds[n]) for n in by_id}
    ready = sorted((n for n in by_id if waiting[n] == 0), key=listed.__getitem__)
    if ready:
        raise NetworkError(f"graph: node {ready[0]!r} has no input (every node needs an edge from {INPUT!r} or a node)")
    order: list[str] = []
    frontier = [v for u, v in edges if u == INPUT]
    for v in frontier:
        waiting[v] -= 1
    ready = sorted({v for v in frontier if waiting[v] == 0}, key=listed.__getitem__)
    while ready:
        n = ready.pop(0)
        order.append(n)
        released = []
        for u, v in edges:
            if u == n:
                waiting[v] -= 1
                if waiting[v] == 0:
                    released.append(v)
        ready = sorted(set(ready) | set(released), key=listed.__getitem__)
    if len(order) != len(by_id):
        stuck = sorted((n for n in by_id if n not in order), key=listed.__getitem__)
        raise NetworkError(f"graph: the edges form a cycle through node {stuck[0]!r} (a network is a DAG)")
    return tuple(order)


def _reachable(by_id: dict[str, Node], preds: dict, succs: dict, output: str) -> None:
    """Every node lies on a path from the input to the output (no dangling node, no dead branch)."""
    seen, stack = {output}, [output]
    while stack:
        for p in preds.get(stack.pop(), ()):
            if p != INPUT and p not in seen:
                seen.add(p)
                stack.append(p)
    dead = [n for n in by_id if n not in seen]
    if dead:
        raise NetworkError(
            f"graph: node {dead[0]!r} does not lead to the output {output!r} (a dangling node: its waves would go "
            f"nowhere); connect it or remove it"
        )


def as_graph(network: Any) -> Graph:
    """The graph of a Network, a Graph as it is, or a chain's widths (input first) as a chain of dense nodes."""
    if isinstance(network, Graph):
        return network
    if isinstance(getattr(network, "graph", None), Graph):
        return network.graph  # type: ignore[no-any-return]
    if isinstance(network, (str, bytes)) or not isinstance(network, Sequence) or len(network) < 2:
        raise NetworkError(f"expected a Graph, a Network or a chain's widths (input first), got {network!r}")
    widths = [int(n) for n in network]
    return Graph.chain((widths[0],), [Linear(id=str(k + 1), features=n) for k, n in enumerate(widths[1:])])
