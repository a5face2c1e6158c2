"""The numpy target: the emulator running a compiled Circuit, the executable spec of every element.

Time is discrete, dt = tick / steps_per_tick; every line delay must be a whole number of steps. Each element kind has
a kernel in KERNELS that registers what it does, forward and backward side by side:
  ops     instantaneous cells (net values from net values), run every step in dependency order
  loads   conductances and Norton currents at a net (terminations, Thevenin sources)
  lines   delay buffers of the right- and left-moving waves v+ and v-
  updates state changes at the end of a step (leaky integrators, parameter ports)
A line end without an ideal driver settles to V = (2 v_in / z0 + I) / (1 / z0 + G) (the line as a Norton source),
so a load R reflects v_out = V - v_in = v_in (R - z0) / (R + z0). If a netlist and this module disagree, this module
is the reference, or the equation in its docstring is wrong, and both get fixed together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from wavetrain.circuits import (
    Circuit,
    ConvJunction,
    Crossbar,
    InductivePort,
    Junction,
    LeakyIntegrator,
    LearningPort,
    LossLoad,
    Nonlinearity,
    ParameterPort,
    ParametricJunction,
    Pool,
    ProbePort,
    ResistivePort,
    SampleHold,
    Source,
    Splitter,
    Sum,
    Termination,
    Transient,
    TransmissionLine,
    Wiring,
)
from wavetrain.compiler.functions import LOSSES
from wavetrain.compiler.graph import INPUT, Graph, Linear
from wavetrain.emulator import cells, ops
from wavetrain.emulator.cells import Machine
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError, SimulationError
from wavetrain.targets import Trace, default_samples
from wavetrain.targets.numpy_graph import JUNCTIONS, check_graph_circuit


@dataclass
class Op:
    """An instantaneous cell: ``fn(values, t)`` returns {net: array} for its outputs, from its input nets."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fn: Callable[[dict[str, np.ndarray], float], dict[str, np.ndarray]]


@dataclass
class Program:
    """A circuit compiled once into ops, loads, lines and state."""

    circuit: Circuit
    dt: float
    widths: dict[str, int]
    ops: list[Op] = field(default_factory=list)
    conductance: dict[str, float] = field(default_factory=dict)  # net -> G [S]
    norton: list[tuple[str, float, Source]] = field(default_factory=list)  # (net, G_s, source)
    lines: list[dict[str, Any]] = field(default_factory=list)
    updates: list[Callable[[dict[str, np.ndarray]], None]] = field(default_factory=list)
    params: dict[str, list[np.ndarray]] = field(default_factory=dict)  # junction -> [W, b] (mutable in learning)
    grads: dict[str, list[np.ndarray]] = field(default_factory=dict)  # port -> [gW, gb], current step
    # NOTE: the cells run on one Machine: the graph the circuit was lowered from (a hand-made circuit: the chain of
    # its junctions), every element keyed by the id of its node
    machine: Machine = field(default=None)  # type: ignore[assignment]
    node_of: dict[str, str] = field(default_factory=dict)  # element name -> its node id
    preds: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node -> where each junction input comes from
    reads: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # this step's junction reads
    seen: dict[str, list[np.ndarray]] = field(default_factory=dict)  # node -> its junction's inputs this step

    def read(self, n: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Junction n's parameters as read this step (once: the forward and backward ops see the same read), as the
        cells take them; {} for a junction without weights."""
        if n not in self.machine.params:
            return {}
        if n not in self.reads:
            self.reads[n] = cells.read_node(self.machine, n)
        return {n: self.reads[n]}

    def shape(self, n: str) -> tuple[int, ...]:
        """One sample's shape of node n's wave (the input's for INPUT)."""
        return self.machine.graph.shape[n]

    def zeros(self, net: str) -> np.ndarray:
        return np.zeros((self.circuit.batch, self.widths[net]))


def _source_value(e: Source, t: float) -> np.ndarray:
    times = [0.0, e.start, e.start + e.rise]
    levels = [0.0, 0.0, 1.0]
    if e.duration is not None:
        times += [e.start + e.rise + e.duration, e.start + 2 * e.rise + e.duration]
        levels += [1.0, 0.0]
    return e.values * float(np.interp(t, times, levels))


def to_cells(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A net's wires (.., batch, width), channels first, in the layout the cells compute in (channels last)."""
    return v if len(shape) == 1 else ops.to_internal(v.reshape(*v.shape[:-1], *shape), shape)


def to_net(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The cells' layout of a wave of ``shape`` back as a net's wires, channels first."""
    return a if len(shape) == 1 else ops.to_external(a, shape).reshape(*a.shape[: -len(shape)], -1)


def _kernel_source(e: Source, p: Program) -> None:
    """v_b = x ramp(t) (ideal) or a Norton source x ramp(t) / R_s with conductance 1 / R_s; the input is clamped."""
    shape = p.shape(INPUT) if int(np.prod(p.shape(INPUT))) == e.width else (e.width,)
    if e.resistance == 0:
        p.ops.append(
            Op(
                (),
                (e.b,),
                lambda v, t: {e.b: to_net(cells.clamp(p.machine, _source_value(e, t).reshape(-1, *shape)), shape)},
            )  # fmt: skip
        )
    else:
        p.norton.append((e.b, 1.0 / e.resistance, e))


def _kernel_line(e: TransmissionLine, p: Program) -> None:
    """v+_b(t) = v+_a(t - delay), v-_a(t) = v-_b(t - delay): two ring buffers of delay / dt steps."""
    steps = int(round(e.delay / p.dt))
    if steps < 1 or abs(steps * p.dt - e.delay) > 1e-9 * e.delay:
        raise SimulationError(
            f"numpy target: line {e.name!r} delay {e.delay:g} s is not a whole number of steps dt = {p.dt:g} s"
        )
    shape = (steps, p.circuit.batch, e.width)
    keep = float(np.exp(-e.loss))  # NOTE: a lossy line attenuates each traversal once (the pad of its SPICE card)
    p.lines.append(
        {
            "line": e,
            "steps": steps,
            "fwd": np.zeros(shape),
            "bwd": np.zeros(shape),
            # NOTE: a node's own line carries the substrate's line effects; a skip's delay line (edge) is ideal
            "wave": (p.node_of[e.name], e.wave) if e.name in p.node_of and e.wave and e.edge is None else None,
            "keep": keep,
        }
    )


def _kernel_termination(e: Termination, p: Program) -> None:
    """A load R adds conductance 1 / R at its net."""
    p.conductance[e.a] = p.conductance.get(e.a, 0.0) + 1.0 / e.resistance


def _kernel_junction(e: Junction | Crossbar | ConvJunction | Pool | Sum | Wiring, p: Program) -> None:
    """Forward v_b = (1 - leak) A_n(v_a...) (+ beta); backward v_back_out_k = A_n^T v_back_in for each input k: the
    node's operator and its transpose (emulator/ops.py), both through the cells, on one read of the weights."""
    n, m = p.node_of[e.name], p.machine
    nets = e.a if isinstance(e.a, tuple) else (e.a,)
    outs = e.back_out if isinstance(e.back_out, tuple) else (e.back_out,)
    preds = p.preds[n]
    kept = 1.0 - getattr(e, "leak", 0.0)  # NOTE: a leaky integrator keeps 1 - leak of a_n over the tick it holds it

    def forward(v: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
        # NOTE: an input from a node crosses the "forward" message boundary (a DAC, say) as cells.sent sends it;
        # the port reads the junction's inputs as the junction saw them
        ins = [to_cells(v[net], p.shape(q)) for q, net in zip(preds, nets)]
        p.seen[n] = [x if q == INPUT else cells.send(m, q, x) for q, x in zip(preds, ins)]
        a = cells.junction(m, n, p.seen[n], p.read(n))
        return {e.b: to_net(kept * a if kept != 1.0 else a, p.shape(n))}

    p.ops.append(Op(nets, (e.b,), forward))
    driven = tuple(out for out in outs if out is not None)
    if driven:
        to_input = any(q == INPUT and out is not None for q, out in zip(preds, outs))

        def backward(v: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
            delta = to_cells(v[e.back_in], p.shape(n))
            waves = cells.back(m, n, delta, p.read(n), p.seen[n], to_input=to_input)
            return {out: to_net(waves[q], p.shape(q)) for q, out in zip(preds, outs) if out is not None}

        p.ops.append(Op((e.back_in, e.b), driven, backward))


def _kernel_splitter(e: Splitter, p: Program) -> None:
    """Forward every tap copies v_a (a unity buffer); backward v_back_out = the sum of the branches (cells.gather)."""

    def buffer(tap: str) -> Callable[[dict[str, np.ndarray], float], dict[str, np.ndarray]]:
        return lambda v, t: {tap: v[e.a]}

    for tap in e.taps:
        p.ops.append(Op((e.a,), (tap,), buffer(tap)))
    back_out = e.back_out
    if back_out is not None:
        p.ops.append(
            Op(e.back_in, (back_out,), lambda v, t: {back_out: cells.gather({"": [v[b] for b in e.back_in]}, "")})
        )


def _kernel_nonlinearity(e: Nonlinearity, p: Program) -> None:
    """Forward v_b = sigma(v_a); backward v_delta = sigma'(v_a) * v_lam."""
    m, n = p.machine, p.node_of[e.name]
    p.ops.append(Op((e.a,), (e.b,), lambda v, t: {e.b: cells.nonlinearity(m, n, v[e.a])}))
    p.ops.append(
        Op(
            (e.a, e.lam),
            (e.delta,),
            lambda v, t: {e.delta: cells.sensitivity(m, n, v[e.a], cells.nonlinearity(m, n, v[e.a]), v[e.lam])},
        )
    )


def _kernel_sample_hold(e: SampleHold, p: Program) -> None:
    """v_b = v_held + nu (v_a - v_held) (the cells' blend)."""
    held = e.held
    assert held is not None  # NOTE: SampleHold checks that it names its held net
    p.ops.append(Op((e.a, held), (e.b,), lambda v, t: {e.b: cells.blend(v[held], v[e.a], e.gain)}))


def _kernel_leaky_integrator(e: LeakyIntegrator, p: Program) -> None:
    """tau dv_b/dt = v_a - v_b (exact for a held input)."""
    state = [p.zeros(e.b)]
    decay = float(np.exp(-p.dt / e.tau))
    p.ops.append(Op((), (e.b,), lambda v, t: {e.b: state[0]}))

    def update(v: dict[str, np.ndarray]) -> None:
        state[0] = v[e.a] + (state[0] - v[e.a]) * decay

    p.updates.append(update)


def _kernel_loss_load(e: LossLoad, p: Program) -> None:
    """v_b = dC/ds(v_a, y) / batch: the reflected error wave."""
    m = p.machine
    p.ops.append(Op((e.a,), (e.b,), lambda v, t: {e.b: cells.load(m, cells.output(m, v[e.a]), e.target)}))


def _kernel_port_readout(e: ParameterPort, p: Program) -> tuple[list[np.ndarray], Any, str]:
    """g = the port's correlation of delta with the junction's input (summed over the batch and, for a shared
    kernel, the positions), read every step: (g, the junction's live [W, b], its node)."""
    junction = p.circuit.element(e.junction)
    if not isinstance(junction, ParametricJunction):
        raise SimulationError(
            f"numpy target: port {e.name!r} names {e.junction!r}, a {type(junction).__name__}, expected a junction "
            f"with weights"
        )
    n, m = p.node_of[junction.name], p.machine
    params = m.params[n]
    grads = p.grads.setdefault(e.name, [np.zeros_like(params[0]), np.zeros_like(params[1])])

    def read(v: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
        # NOTE: the port reads the junction's inputs as the junction saw them (after the "forward" boundary)
        grads[0], grads[1] = cells.readout(m, n, to_cells(v[junction.back_in], p.shape(n)), p.seen[n])
        return {}

    p.ops.append(Op((junction.b, junction.back_in), (), read))
    return grads, params, n


def _kernel_probe_port(e: ProbePort, p: Program) -> None:
    """The effort g, measured; the weights stay."""
    _kernel_port_readout(e, p)


def _kernel_learning_port(e: LearningPort, p: Program) -> None:
    """ResistivePort: i = g / R; InductivePort: L di/dt = g - R i; both C dtheta/dt = -i, through the cells' update."""
    grads, params, n = _kernel_port_readout(e, p)
    junction = p.circuit.element(e.junction)
    if isinstance(junction, Crossbar) and not junction.ideal:
        raise SimulationError(
            f"numpy target: learning port {e.name!r} moves the weights of crossbar {junction.name!r}, whose reads "
            "with wires are W_eff(W); the numpy target learns on ideal arrays only, run it on target 'spice'"
        )
    current = [np.zeros_like(params[0]), np.zeros_like(params[1])]
    inductance = e.inductance if isinstance(e, InductivePort) else None

    def update(v: dict[str, np.ndarray]) -> None:
        for k in range(2):
            if inductance is not None:
                current[k] = current[k] + p.dt * (grads[k] - e.resistance * current[k]) / inductance
            else:
                current[k] = grads[k] / e.resistance
        steps = [-(p.dt * current[k] / e.capacitance) for k in range(2)]
        cells.update_node(p.machine, n, (steps[0], steps[1]))

    p.updates.append(update)


KERNELS: dict[type, Callable[[Any, Program], None]] = {
    TransmissionLine: _kernel_line,
    Junction: _kernel_junction,
    Crossbar: _kernel_junction,
    ConvJunction: _kernel_junction,
    Pool: _kernel_junction,
    Sum: _kernel_junction,
    Wiring: _kernel_junction,
    Splitter: _kernel_splitter,
    Nonlinearity: _kernel_nonlinearity,
    SampleHold: _kernel_sample_hold,
    LeakyIntegrator: _kernel_leaky_integrator,
    Termination: _kernel_termination,
    Source: _kernel_source,
    LossLoad: _kernel_loss_load,
    ProbePort: _kernel_probe_port,
    ResistivePort: _kernel_learning_port,
    InductivePort: _kernel_learning_port,
}


def compile_program(circuit: Circuit, steps_per_tick: int = 1, substrate: Substrate = IDEAL) -> Program:
    """Turn a circuit into a Program: kernels registered, line-end settling ops added, ops sorted by dependency."""
    program = Program(circuit=circuit, dt=circuit.tick / steps_per_tick, widths=circuit.widths())
    _machine(program, substrate)
    for element in circuit.elements:
        KERNELS[type(element)](element, program)
    driven = {net for op in program.ops for net in op.outputs}
    ends: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for line in program.lines:
        ends.setdefault(line["line"].a, []).append((line, "a"))
        ends.setdefault(line["line"].b, []).append((line, "b"))
    passive = (set(ends) | set(program.conductance) | {n for n, _, _ in program.norton}) - driven
    for net in sorted(passive):
        program.ops.append(_settle(program, net, ends.get(net, [])))
    program.ops = _sort(program.ops, circuit.name)
    return program


def _machine(program: Program, substrate: Substrate) -> None:
    """The Machine the cells run on, every element's node and every junction's input nodes.

    A circuit lowered from a network carries its graph (``meta["graph"]``): each node's junction and cell are
    checked against it (numpy_graph.check_graph_circuit). A hand-made circuit's junctions (dense) form a chain in
    the order they appear, each its own node (its ``node``, else "1".."L").
    """
    circuit = program.circuit
    loads = circuit.of_type(LossLoad)
    loss = LOSSES[loads[0].loss] if loads else None
    graph = circuit.meta.get("graph")
    if isinstance(graph, Graph):
        junction_of = check_graph_circuit(circuit, graph)
        program.node_of = {e.name: e.node for e in circuit.elements if getattr(e, "node", None) in graph.shape}
        pairs = {n: stored(junction_of[n]) for n in graph.parametric}
    else:
        junctions = [e for e in circuit.elements if isinstance(e, JUNCTIONS)]
        if any(not isinstance(e, (Junction, Crossbar)) for e in junctions):
            odd = next(e for e in junctions if not isinstance(e, (Junction, Crossbar)))
            raise SimulationError(
                f"numpy target: circuit {circuit.name!r} has the {type(odd).__name__} {odd.name!r} but no graph "
                f"(meta['graph']) to say which node it is; lower it from a Network"
            )
        dense = [e for e in junctions if isinstance(e, (Junction, Crossbar))]
        nonlinearities = circuit.of_type(Nonlinearity)
        ids = [j.node if j.node is not None else str(k + 1) for k, j in enumerate(dense)]
        acts = [nonlinearities[k].activation if k < len(nonlinearities) else "identity" for k in range(len(dense))]
        if dense:
            nodes = [Linear(id=n, features=j.shape[0], activation=a) for n, j, a in zip(ids, dense, acts)]
            graph = Graph.chain((dense[0].shape[1],), nodes)
        else:
            graph = Graph.chain((1,), [Linear(id="1", features=1)])
        program.node_of = {e.name: ids[k] for k, e in enumerate(dense)}
        program.node_of.update({e.name: ids[k] for k, e in enumerate(nonlinearities) if k < len(ids)})
        pairs = {n: stored(j) for n, j in zip(ids, dense)}
        junction_of = dict(zip(ids, dense))  # type: ignore[arg-type]
    program.preds = dict(graph.preds)
    program.machine = Machine(graph, pairs, loss, substrate)  # type: ignore[arg-type]
    program.params = {junction_of[n].name: pairs[n] for n in pairs}


def stored(e: Any) -> list[np.ndarray]:
    """[W, b] a junction computes with: its own weights, or what its crossbar reads.

    An ideal crossbar reads W x + b exactly (its own weights, bit for bit). With wire resistance it reads W_eff,
    b_eff = (M[0::2] - M[1::2]) / gs of the IR-drop model's map M (circuits/irdrop.py), and by reciprocity its
    transpose read is exactly W_eff^T, so the cells' one matrix serves both waves. Driver resistance, finite-gain
    TIAs and user devices are ngspice's alone (refused here, naming the element).
    """
    if not isinstance(e, Crossbar):
        return [np.array(e.weight), np.array(e.bias)]
    if e.r_driver or e.tia != "ideal" or e.device is not None:
        raise SimulationError(
            f"numpy target: crossbar {e.name!r} has r_driver {e.r_driver:g} ohm, tia {e.tia!r}, device "
            f"{None if e.device is None else e.device.subckt!r}; the numpy target models the ideal array and wire "
            "resistance (circuits/irdrop.py), run the others on target 'spice'"
        )
    if e.ideal:
        return [np.array(e.weight), np.array(e.bias)]
    from wavetrain.circuits.irdrop import Crossbar as Array

    M = Array(e.conductances, e.r_row, e.r_col).effective()
    signed = (M[0::2] - M[1::2]) / e.gs
    n_in = e.shape[1]
    return [np.ascontiguousarray(signed[:, :n_in]), np.ascontiguousarray(signed[:, n_in])]


def _settle(program: Program, net: str, ends: list[tuple[dict[str, Any], str]]) -> Op:
    sources = [(g, src) for n, g, src in program.norton if n == net]
    g_total = (
        program.conductance.get(net, 0.0) + sum(g for g, _ in sources) + sum(1.0 / line["line"].z0 for line, _ in ends)
    )
    if g_total == 0:
        raise SimulationError(f"numpy target: net {net!r} has nothing that sets its voltage")

    # NOTE: each term's share of the net's voltage, g_k / g_total, is computed once: a line arriving at its matched
    # termination then passes its wave with coefficient 1.0 exactly, so the end reflects exactly nothing (dividing a
    # sum of currents by g_total rounded a relu's 0 to 5.6e-17, which a downstream relu' turned into 1)
    shares = [(g / g_total, src) for g, src in sources]
    lines = [((2.0 / line["line"].z0) / g_total, _incoming(line, end)) for line, end in ends]

    def fn(v: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
        voltage = sum((c * _source_value(src, t) for c, src in shares), program.zeros(net))
        for c, incoming in lines:
            voltage = voltage + c * v[incoming]
        return {net: voltage}

    inputs = tuple(_incoming(line, end) for line, end in ends)
    return Op(inputs, (net,), fn)


def _incoming(line: dict[str, Any], end: str) -> str:
    return f"{line['line'].name}:{'fwd' if end == 'b' else 'bwd'}"


def _sort(ops: list[Op], name: str) -> list[Op]:
    producers = {net: k for k, op in enumerate(ops) for net in op.outputs}
    order, state = [], [0] * len(ops)

    def visit(k: int) -> None:
        if state[k] == 1:
            raise SimulationError(f"numpy target: circuit {name!r} has an algebraic loop through {ops[k].outputs}")
        if state[k] == 0:
            state[k] = 1
            for net in ops[k].inputs:
                if net in producers:
                    visit(producers[net])
            state[k] = 2
            order.append(ops[k])

    for k in range(len(ops)):
        visit(k)
    return order


class NumpyTarget:
    """Runs a Circuit with the discrete-time element kernels; ``steps_per_tick`` sub-steps per line delay."""

    name: ClassVar[str] = "numpy"
    kind: ClassVar[str] = "circuit"

    def __init__(self, steps_per_tick: int = 1, substrate: Substrate = IDEAL) -> None:
        if isinstance(steps_per_tick, bool) or not isinstance(steps_per_tick, int) or steps_per_tick < 1:
            raise ConfigError(f"numpy target: steps_per_tick must be an integer >= 1, got {steps_per_tick!r}")
        if not isinstance(substrate, Substrate):
            raise ConfigError(f"numpy target: substrate must be a Substrate, got {type(substrate).__name__}")
        self.steps_per_tick = steps_per_tick
        self.substrate = substrate

    def run(
        self,
        circuit: Circuit,
        analysis: Transient,
        samples: np.ndarray | None = None,
        probes: Sequence[str] | None = None,
    ) -> Trace:
        """Step the program from the zero state to analysis.stop, recording probes at the sample times [s]."""
        program = compile_program(circuit, self.steps_per_tick, self.substrate)
        samples = default_samples(circuit, analysis) if samples is None else np.asarray(samples, dtype=np.float64)
        dt = program.dt
        record_at = np.floor(samples / dt + 1e-9).astype(int)
        nets = list(program.widths) if probes is None else [n for n in probes if n in program.widths]
        ports = [p for p in circuit.ports() if probes is None or p.name in probes]
        rows: dict[str, list[np.ndarray]] = {}
        wanted: dict[int, list[int]] = {}
        for k, step in enumerate(record_at):
            wanted.setdefault(int(step), []).append(k)
        for n in range(int(record_at.max()) + 1 if len(record_at) else 0):
            values = self._step(program, n)
            for _ in wanted.get(n, []):
                for net in nets:
                    rows.setdefault(net, []).append(values.get(net, program.zeros(net)).copy())
                for port in ports:
                    gw, gb = program.grads[port.name]
                    rows.setdefault(f"{port.name}.grad_w", []).append(gw.copy())
                    rows.setdefault(f"{port.name}.grad_b", []).append(gb.copy())
                    if isinstance(port, LearningPort):
                        w, b = program.params[port.junction]
                        rows.setdefault(f"{port.name}.weight", []).append(w.copy())
                        rows.setdefault(f"{port.name}.bias", []).append(b.copy())
            for update in program.updates:
                update(values)
            self._advance(program, values, n)
        return Trace(t=samples, signals={k: np.array(v) for k, v in rows.items()}, target="numpy")

    @staticmethod
    def _step(program: Program, n: int) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}
        for line in program.lines:
            slot = n % line["steps"]
            values[f"{line['line'].name}:fwd"] = line["fwd"][slot]
            values[f"{line['line'].name}:bwd"] = line["bwd"][slot]
        t = (n + 0.5) * program.dt  # NOTE: a step stands for [n dt, (n+1) dt); sources are read mid-step
        for op in program.ops:
            values.update(op.fn(values, t))
        return values

    @staticmethod
    def _advance(program: Program, values: dict[str, np.ndarray], n: int) -> None:
        program.reads.clear()
        program.seen.clear()
        for line in program.lines:
            e, slot = line["line"], n % line["steps"]
            out_a = values[e.a] - line["bwd"][slot]
            out_b = values[e.b] - line["fwd"][slot]
            if line["keep"] != 1.0:
                out_a, out_b = line["keep"] * out_a, line["keep"] * out_b
            if line["wave"] is not None:
                # NOTE: a layer's wave (s_l on fl{l}, lam_l on bl{l}) enters at end a and travels to b
                out_a = program.machine.substrate.line(out_a, *line["wave"])
            line["fwd"][slot], line["bwd"][slot] = out_a, out_b
