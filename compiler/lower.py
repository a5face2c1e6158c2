"""Lowering: Network -> Circuit, one bundle element per node-sized group of wires (spec 1.4-1.6, 1.10, 6;
docs/circuits.md).

Node n (any node type of the graph) becomes, at Courant number 1 (tick = one line delay):
  junction j{n}  reads its inputs' far ends, drives a{n} = A_n(inputs) (+ b_n), and drives each input's backward
                 wave A_n^T d{n} (none to the input clamp): Junction (dense), ConvJunction (shared kernel), Pool, Sum
                 (Add), Wiring (Concat, Flatten, Act)
  act{n}         drives s{n} = sigma(a{n})                          and d{n} = sigma'(a{n}) * lam{n}r
  line fl{n}     s{n} -> s{n}r (forward wave)     line bl{n}   lam{n} -> lam{n}r (backward wave)
  port p{n}      (nodes with weights) reads the gradient; in the learning circuit it integrates it into the weights
The input clamp drives x (= s0), and the loss load reads s{out}r and drives lam{out} = dC/ds_out / batch.

A node read by one consumer with no delay is wired as a chain is: the consumer reads s{p}r and drives lam{p}. Any
other node gets a splitter sp{p} (docs/circuits.md): consumers tap s{p}r, every edge k whose schedule needs
graph.delay[k] > 0 extra ticks gets a buffer (tap u{k}) and a matched delay line fd{k} of that many ticks each way
(bd{k} back), and the splitter sums the branches' backward waves v{k} (or v{k}r) into lam{p}. Below Courant number 1
each cell drives its line through a sample-and-hold integrator (hs{n}, hl{n}) whose held value is its own line's far
end, one tick old. Terminations are added by the terminate_ports pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from wavetrain.circuits import (
    Circuit,
    ConvJunction,
    Element,
    InductivePort,
    Junction,
    LossLoad,
    Nonlinearity,
    ParameterPort,
    Pool,
    ProbePort,
    ResistivePort,
    SampleHold,
    Source,
    Splitter,
    Sum,
    TransmissionLine,
    Wiring,
)
from wavetrain.compiler import names
from wavetrain.compiler.graph import INPUT, Act, Add, AvgPool, Concat, Conv1d, Conv2d, Flatten, Graph, Linear, MaxPool
from wavetrain.compiler.network import Network
from wavetrain.errors import ConfigError, LoweringError

LEARNING_KINDS = ("resistor", "momentum")
PORT_CAPACITANCE = 1e-9  # [F]; the learning rate sets the port resistance R = 1 / (eta C)


@dataclass
class Plan:
    """How the waves of a graph are wired: what each junction reads and drives per input edge, and the splitters.

    ``reads[k]`` / ``sends[k]``: the net edge k's consumer reads its input from / drives its backward wave into
    (None: the edge starts at the clamp). ``split``: the nodes (and the input) that get a splitter.
    """

    graph: Graph
    nu: float
    z0: float
    tick: float
    reads: dict[int, str] = field(default_factory=dict)
    sends: dict[int, str | None] = field(default_factory=dict)
    split: set[str] = field(default_factory=set)

    def far(self, p: str) -> str:
        """The net where node p's forward wave arrives (the clamp's net for the input)."""
        return names.X if p == INPUT else names.s_far(p)

    def into(self, p: str) -> str:
        """The net that drives node p's backward line (through its sample-and-hold below Courant number 1)."""
        return names.lam(p) if self.nu == 1.0 else names.back_drive(p)

    def edges_into(self, n: str) -> list[int]:
        return [k for k, (_, v) in enumerate(self.graph.edges) if v == n]

    def edges_out(self, p: str) -> list[int]:
        """The edges leaving p, in the topological order of their consumers (the order the emulator sums them)."""
        rank = {n: i for i, n in enumerate(self.graph.order)}
        return sorted(
            (k for k, (u, _) in enumerate(self.graph.edges) if u == p), key=lambda k: rank[self.graph.edges[k][1]]
        )


def plan(graph: Graph, nu: float, z0: float, tick: float) -> Plan:
    """Decide the wiring of every edge: a chain-like edge wires the consumer to its source directly, the rest go
    through the source's splitter (with a delay line each way where graph.delay needs one)."""
    out = Plan(graph, nu, z0, tick)
    for p in (INPUT, *graph.order):
        edges = out.edges_out(p)
        delayed = [k for k in edges if graph.delay[graph.edges[k]] > 0]
        if delayed or (p != INPUT and len(edges) > 1):
            out.split.add(p)
        for k in edges:
            delay = graph.delay[graph.edges[k]]
            out.reads[k] = names.tap_far(k) if delay else out.far(p)
            if p == INPUT:
                out.sends[k] = None
            else:
                out.sends[k] = names.branch(k) if p in out.split else out.into(p)
    return out


def _ins(pl: Plan, n: str) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    edges = pl.edges_into(n)
    return tuple(pl.reads[k] for k in edges), tuple(pl.sends[k] for k in edges)


def _lower_linear(pl: Plan, n: str, network: Network) -> Junction:
    (a,), (back,) = _ins(pl, n)
    p = network.parameters(n)
    return Junction(name=names.junction(n), a=a, b=names.pre(n), back_in=names.delta(n), back_out=back,
                    weight=p.weight, bias=p.bias, node=n)  # fmt: skip


def _lower_conv(pl: Plan, n: str, network: Network) -> ConvJunction:
    (a,), (back,) = _ins(pl, n)
    node = pl.graph.node(n)
    assert isinstance(node, (Conv1d, Conv2d))
    p = network.parameters(n)
    dims = p.weight.ndim - 2
    stride = node.stride if isinstance(node.stride, tuple) else (node.stride,) * dims
    padding = node.padding if isinstance(node.padding, tuple) else (node.padding,) * dims
    return ConvJunction(name=names.junction(n), a=a, b=names.pre(n), back_in=names.delta(n), back_out=back,
                        weight=p.weight, bias=p.bias, in_shape=pl.graph.shape[pl.graph.preds[n][0]],
                        stride=stride, padding=padding, node=n)  # fmt: skip


def _lower_pool(pl: Plan, n: str, network: Network) -> Pool:
    (a,), (back,) = _ins(pl, n)
    node = pl.graph.node(n)
    assert isinstance(node, AvgPool)
    mode = "max" if isinstance(node, MaxPool) else "avg"
    shape = pl.graph.shape[pl.graph.preds[n][0]]
    return Pool(name=names.junction(n), a=a, b=names.pre(n), back_in=names.delta(n), back_out=back, mode=mode,
                in_shape=shape, kernel=node.kernel, stride=node.step, node=n)  # fmt: skip


def _lower_add(pl: Plan, n: str, network: Network) -> Sum:
    a, back = _ins(pl, n)
    return Sum(name=names.junction(n), a=a, b=names.pre(n), back_in=names.delta(n), back_out=back,
               width=math.prod(pl.graph.shape[n]), node=n)  # fmt: skip


def _lower_wiring(pl: Plan, n: str, network: Network) -> Wiring:
    a, back = _ins(pl, n)
    widths = tuple(math.prod(pl.graph.shape[p]) for p in pl.graph.preds[n])
    return Wiring(name=names.junction(n), a=a, widths=widths, b=names.pre(n), back_in=names.delta(n),
                  back_out=back, node=n)  # fmt: skip


LOWERINGS: dict[type, Callable[[Plan, str, Network], Element]] = {
    Linear: _lower_linear,
    Conv1d: _lower_conv,
    Conv2d: _lower_conv,
    AvgPool: _lower_pool,
    MaxPool: _lower_pool,
    Add: _lower_add,
    Concat: _lower_wiring,
    Flatten: _lower_wiring,
    Act: _lower_wiring,
}  # the junction of every node type; the cell, the lines and the splitter are the same for all


def _cell(pl: Plan, n: str, activation: str) -> list[Element]:
    """Node n's nonlinearity, its sample-and-hold integrators below Courant number 1, and its two lines."""
    width, nu = math.prod(pl.graph.shape[n]), pl.nu
    elements: list[Element] = [
        Nonlinearity(name=names.nonlinearity(n), a=names.pre(n), b=names.s(n) if nu == 1.0 else names.drive(n),
                     lam=names.lam_far(n), delta=names.delta(n), width=width, activation=activation, node=n)
    ]  # fmt: skip
    if nu != 1.0:
        elements += [
            SampleHold(name=names.hold_s(n), a=names.drive(n), b=names.s(n), held=names.s_far(n), width=width,
                       gain=nu, node=n),
            SampleHold(name=names.hold_lam(n), a=names.back_drive(n), b=names.lam(n), held=names.lam_far(n),
                       width=width, gain=nu, node=n),
        ]  # fmt: skip
    for line, a, b, wave in (
        (names.forward_line(n), names.s(n), names.s_far(n), "forward"),
        (names.backward_line(n), names.lam(n), names.lam_far(n), "backward"),
    ):
        elements.append(TransmissionLine(name=line, a=a, b=b, width=width, z0=pl.z0, delay=pl.tick, node=n, wave=wave))
    return elements


def _splitter(pl: Plan, p: str) -> list[Element]:
    """Node p's fan-out: the splitter (buffers onto delay lines, the backward sum) and the edges' delay lines."""
    g = pl.graph
    width = math.prod(g.shape[p])
    edges = pl.edges_out(p)
    delayed = [k for k in edges if g.delay[g.edges[k]] > 0]
    back_in = () if p == INPUT else tuple(names.branch_far(k) if k in delayed else names.branch(k) for k in edges)
    node = None if p == INPUT else p
    elements: list[Element] = [
        Splitter(name=names.splitter(p), a=pl.far(p), width=width, taps=tuple(names.tap(k) for k in delayed),
                 back_in=back_in, back_out=pl.into(p) if back_in else None, node=node)
    ]  # fmt: skip
    for k in delayed:
        edge, delay = g.edges[k], g.delay[g.edges[k]] * pl.tick
        elements.append(TransmissionLine(name=names.delay_line(k), a=names.tap(k), b=names.tap_far(k), width=width,
                                         z0=pl.z0, delay=delay, node=node, wave="forward", edge=edge))  # fmt: skip
        if p != INPUT:
            elements.append(TransmissionLine(name=names.back_delay_line(k), a=names.branch(k), b=names.branch_far(k),
                                             width=width, z0=pl.z0, delay=delay, node=node, wave="backward",
                                             edge=edge))  # fmt: skip
    return elements


def _port(n: str, learning: str | None, eta: float, tau_m: float) -> ParameterPort:
    ids = {"name": names.port(n), "junction": names.junction(n), "node": n}
    if learning is None:
        return ProbePort(**ids)
    resistance = 1.0 / (eta * PORT_CAPACITANCE)
    if learning == "momentum":
        return InductivePort(**ids, resistance=resistance, capacitance=PORT_CAPACITANCE, inductance=tau_m * resistance)
    return ResistivePort(**ids, resistance=resistance, capacitance=PORT_CAPACITANCE)


def check_lowerable(network: Network) -> None:
    """Refuse (LoweringError, naming the node) a network with a node no circuit element implements, or node ids
    whose circuit names would collide; nothing is built before this passes."""
    if not isinstance(network, Network):
        raise LoweringError(f"lower: expected a Network, got {type(network).__name__}")
    g = network.graph
    for n in g.order:
        if type(g.node(n)) not in LOWERINGS:
            supported = ", ".join(sorted(t.__name__ for t in LOWERINGS))
            raise LoweringError(
                f"lower: node {n!r} ({type(g.node(n)).__name__}, inputs {list(g.preds[n])}) has no circuit element; "
                f"circuits lower {supported}"
            )
    same = names.clash(g.order)
    if same is not None:
        name, first, second = same
        raise LoweringError(
            f"lower: nodes {first!r} and {second!r} would both name {name!r} in the circuit (SPICE names ignore "
            f"case); rename one"
        )


def lower(
    network: Network,
    x: Any = None,
    y: Any = None,
    *,
    courant: float = 1.0,
    tick: float = 1e-9,
    z0: float = 50.0,
    gradients: bool = True,
    learning: str | None = None,
    eta: float = 1e8,
    tau_m: float = 1e-8,
) -> Circuit:
    """Map each node to a junction, an activation cell and two line bundles (plus a splitter and delay lines where
    waves fan out or paths of unequal length meet); clamp the input, load the output.

    x, y: the batch the circuit is driven with (default: one zero sample). learning: None (frozen weights; ports only
    probe the gradient when ``gradients``), "resistor" (gradient flow, d theta/dt = -eta g [eta in 1/s]) or
    "momentum" (tau_m theta'' + theta' = -eta g).
    """
    check_lowerable(network)
    if learning is not None and learning not in LEARNING_KINDS:
        raise ConfigError(f"lower: learning must be None or one of {LEARNING_KINDS}, got {learning!r}")
    if isinstance(courant, bool) or not (isinstance(courant, (int, float)) and 0.0 < courant <= 1.0):
        raise ConfigError(f"lower: courant must be in (0, 1] for a circuit, got {courant!r}")
    for what, value in (("eta", eta), ("tau_m", tau_m), ("tick", tick), ("z0", z0)):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ConfigError(f"lower: {what} must be a positive number, got {value!r}")
    g = network.graph
    x = np.zeros((1, *g.input_shape)) if x is None else network.check_input(x)
    t = np.zeros((len(x), network.n_outputs)) if y is None else network.targets(y, len(x))
    pl = plan(g, float(courant), float(z0), float(tick))
    elements: list[Element] = [Source(name=names.INPUT, b=names.X, values=x.reshape(len(x), -1), rise=tick * 1e-2)]
    if INPUT in pl.split:
        elements += _splitter(pl, INPUT)
    for n in g.order:
        elements.append(LOWERINGS[type(g.node(n))](pl, n, network))
        elements += _cell(pl, n, g.activation(n))
        if n in pl.split:
            elements += _splitter(pl, n)
    elements.append(LossLoad(name=names.LOSS, a=names.s_far(g.output), b=pl.into(g.output), target=t,
                             loss=network.loss))  # fmt: skip
    if gradients or learning is not None:
        elements += [_port(n, learning, eta, tau_m) for n in g.parametric]
    # NOTE: the circuit carries its graph: a target maps an element's node id to its node (type, shape, edges)
    meta = {"graph": g, "nodes": g.order, "loss": network.loss, "courant": pl.nu, "depth": g.depth,
            "learning": learning}  # fmt: skip
    if network.is_chain:
        meta["sizes"] = network.sizes
    return Circuit(
        name=_circuit_name(network.name),
        elements=tuple(elements),
        batch=len(x),
        tick=tick,
        inputs=(names.X,),
        outputs=(names.s_far(g.output),),
        meta=meta,
    )


def _circuit_name(name: str) -> str:
    from wavetrain.circuits import check_name
    from wavetrain.errors import CircuitError

    try:
        return check_name(name, "network name")
    except CircuitError as err:
        raise LoweringError(f"network {name!r} cannot name a circuit: {err}") from err
