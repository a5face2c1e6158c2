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
    InductivePort,
    Junction,
    LeakyIntegrator,
    LearningPort,
    LossLoad,
    Nonlinearity,
    ParameterPort,
    ProbePort,
    ResistivePort,
    SampleHold,
    Source,
    Termination,
    Transient,
    TransmissionLine,
)
from wavetrain.compiler.functions import LOSSES
from wavetrain.compiler.graph import INPUT, Graph, Linear
from wavetrain.emulator import cells
from wavetrain.emulator.cells import Machine
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError, SimulationError
from wavetrain.targets import Trace, default_samples


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
    # NOTE: the cells run on one Machine, whose layer k is the k-th node of the network the circuit was lowered from
    machine: Machine = field(default=None)  # type: ignore[assignment]
    layer: dict[str, int] = field(default_factory=dict)  # element name -> its node's place in the machine
    ids: list[str] = field(default_factory=list)  # the machine's node ids, in that order
    reads: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # this step's junction reads

    def read(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        """Junction l's parameters as read this step (once: the forward and backward ops see the same read)."""
        if l not in self.reads:
            self.reads[l] = cells.read_node(self.machine, self.ids[l])
        return self.reads[l]

    def zeros(self, net: str) -> np.ndarray:
        return np.zeros((self.circuit.batch, self.widths[net]))


def _source_value(e: Source, t: float) -> np.ndarray:
    times = [0.0, e.start, e.start + e.rise]
    levels = [0.0, 0.0, 1.0]
    if e.duration is not None:
        times += [e.start + e.rise + e.duration, e.start + 2 * e.rise + e.duration]
        levels += [1.0, 0.0]
    return e.values * float(np.interp(t, times, levels))


def _kernel_source(e: Source, p: Program) -> None:
    """v_b = x ramp(t) (ideal) or a Norton source x ramp(t) / R_s with conductance 1 / R_s; the input is clamped."""
    if e.resistance == 0:
        p.ops.append(Op((), (e.b,), lambda v, t: {e.b: cells.clamp(p.machine, _source_value(e, t))}))
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
            "wave": (p.ids[p.layer[e.name]], e.wave) if e.name in p.layer and e.wave is not None else None,
            "keep": keep,
        }
    )


def _kernel_termination(e: Termination, p: Program) -> None:
    """A load R adds conductance 1 / R at its net."""
    p.conductance[e.a] = p.conductance.get(e.a, 0.0) + 1.0 / e.resistance


def _kernel_junction(e: Junction, p: Program) -> None:
    """Forward v_b = (1 - leak)(W v_a + beta); backward v_back_out = W^T v_back_in (the same W and its transpose)."""
    l, m = p.layer[e.name], p.machine
    n = p.ids[l]
    # NOTE: junction l > 0 reads s_{l} from the far end of line fl{l}: the message between layers (signal
    # "forward", e.g. a DAC), as the emulator's cells.inputs sends it; layer 1 reads the clamped input
    inputs = p.__dict__.setdefault("junction_inputs", {})  # what each junction saw this step (its port reads it)

    def sent(s: np.ndarray) -> np.ndarray:
        inputs[l] = cells.send(m, p.ids[l - 1], s) if l > 0 else s
        return inputs[l]

    kept = 1.0 - e.leak  # NOTE: a leaky junction's integrator keeps 1 - leak of a_l over the tick it holds it
    if e.leak:
        p.ops.append(
            Op((e.a,), (e.b,), lambda v, t: {e.b: kept * cells.junction(m, n, [sent(v[e.a])], {n: p.read(l)})})
        )
    else:
        p.ops.append(Op((e.a,), (e.b,), lambda v, t: {e.b: cells.junction(m, n, [sent(v[e.a])], {n: p.read(l)})}))
    back_out = e.back_out
    if back_out is not None:
        p.ops.append(Op((e.back_in,), (back_out,), lambda v, t: {back_out: _back(m, p, l, v[e.back_in])}))


def _back(m: Machine, p: Program, l: int, delta: np.ndarray) -> np.ndarray:
    """The backward wave junction l sends to junction l - 1 (W^T delta through its crossbar)."""
    n = p.ids[l]
    return cells.back(m, n, delta, {n: p.read(l)}, [delta], to_input=l == 0)[p.ids[l - 1] if l else INPUT]


def _kernel_nonlinearity(e: Nonlinearity, p: Program) -> None:
    """Forward v_b = sigma(v_a); backward v_delta = sigma'(v_a) * v_lam."""
    l, m = p.layer[e.name], p.machine
    n = p.ids[l]
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


def _kernel_port_readout(e: ParameterPort, p: Program) -> tuple[list[np.ndarray], Any, int]:
    """g = delta^T s (summed over the batch), read every step: (g, the junction's live [W, b], its layer)."""
    junction = p.circuit.element(e.junction)
    if not isinstance(junction, Junction):
        raise SimulationError(
            f"numpy target: port {e.name!r} names {e.junction!r}, a {type(junction).__name__}, expected a Junction"
        )
    l, m = p.layer[junction.name], p.machine
    params = m.params[p.ids[l]]
    grads = p.grads.setdefault(e.name, [np.zeros_like(params[0]), np.zeros_like(params[1])])

    inputs = p.__dict__.setdefault("junction_inputs", {})

    def read(v: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
        # NOTE: the port reads the junction's input as the junction saw it (after the "forward" boundary)
        grads[0], grads[1] = cells.readout(m, p.ids[l], v[junction.back_in], [inputs.get(l, v[junction.a])])
        return {}

    p.ops.append(Op((junction.a, junction.b, junction.back_in), (), read))
    return grads, params, l


def _kernel_probe_port(e: ProbePort, p: Program) -> None:
    """The effort g, measured; the weights stay."""
    _kernel_port_readout(e, p)


def _kernel_learning_port(e: LearningPort, p: Program) -> None:
    """ResistivePort: i = g / R; InductivePort: L di/dt = g - R i; both C dtheta/dt = -i, through the cells' update."""
    grads, params, l = _kernel_port_readout(e, p)
    current = [np.zeros_like(params[0]), np.zeros_like(params[1])]
    inductance = e.inductance if isinstance(e, InductivePort) else None

    def update(v: dict[str, np.ndarray]) -> None:
        for k in range(2):
            if inductance is not None:
                current[k] = current[k] + p.dt * (grads[k] - e.resistance * current[k]) / inductance
            else:
                current[k] = grads[k] / e.resistance
        steps = [-(p.dt * current[k] / e.capacitance) for k in range(2)]
        cells.update_node(p.machine, p.ids[l], (steps[0], steps[1]))

    p.updates.append(update)


KERNELS: dict[type, Callable[[Any, Program], None]] = {
    TransmissionLine: _kernel_line,
    Junction: _kernel_junction,
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
    junctions, nonlinearities, program.layer = _machine_layers(circuit)
    loads = circuit.of_type(LossLoad)
    ids = [j.node if j.node is not None else str(k + 1) for k, j in enumerate(junctions)]
    program.ids = ids
    acts = [nonlinearities[k].activation if k < len(nonlinearities) else "identity" for k in range(len(junctions))]
    if junctions:
        # NOTE: the machine's graph is the chain of the circuit's junctions (a hand-made circuit's too)
        nodes = [Linear(id=n, features=j.shape[0], activation=a) for n, j, a in zip(ids, junctions, acts)]
        graph = Graph.chain((junctions[0].shape[1],), nodes)
    else:
        graph = Graph.chain((1,), [Linear(id="1", features=1)])
    pairs = {n: [j.weight.copy(), j.bias.copy()] for n, j in zip(ids, junctions)}
    program.machine = Machine(
        graph,
        pairs,  # type: ignore[arg-type]
        LOSSES[loads[0].loss] if loads else None,  # type: ignore[arg-type]
        substrate,
    )
    program.params = {j.name: pairs[n] for n, j in zip(ids, junctions)}
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


def _machine_layers(circuit: Circuit) -> tuple[list[Junction], list[Nonlinearity], dict[str, int]]:
    """The junctions and cells in machine order, and every element's place in it (by the node id it carries).

    A circuit lowered from a network lists its node order in ``meta["nodes"]``; a hand-made circuit's junctions and
    cells carry no node, and each is its own layer in the order it appears.
    """
    order = {n: k for k, n in enumerate(circuit.meta.get("nodes", ()))}
    if not order:
        junctions, cells_ = list(circuit.of_type(Junction)), list(circuit.of_type(Nonlinearity))
        places = {e.name: k for k, e in enumerate(junctions)}
        places.update({e.name: k for k, e in enumerate(cells_)})
        return junctions, cells_, places
    layer: dict[str, int] = {}
    for e in circuit.elements:
        node = getattr(e, "node", None)
        if node is not None:
            if node not in order:
                raise SimulationError(f"numpy target: element {e.name!r} belongs to node {node!r}, which the circuit's "
                                      f"network does not have (nodes {list(order)})")  # fmt: skip
            layer[e.name] = order[node]
    junction_of = {e.node: e for e in circuit.of_type(Junction)}
    cell_of = {e.node: e for e in circuit.of_type(Nonlinearity)}
    missing = [
        (kind, n) for n in order for kind, table in (("junction", junction_of), ("cell", cell_of)) if n not in table
    ]
    if missing:
        raise SimulationError(f"numpy target: circuit {circuit.name!r} lacks the {missing[0][0]} of node "
                              f"{missing[0][1]!r}")  # fmt: skip
    return [junction_of[n] for n in order], [cell_of[n] for n in order], layer


def _settle(program: Program, net: str, ends: list[tuple[dict[str, Any], str]]) -> Op:
    sources = [(g, src) for n, g, src in program.norton if n == net]
    g_total = (
        program.conductance.get(net, 0.0) + sum(g for g, _ in sources) + sum(1.0 / line["line"].z0 for line, _ in ends)
    )
    if g_total == 0:
        raise SimulationError(f"numpy target: net {net!r} has nothing that sets its voltage")

    def fn(v: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
        current = sum((g * _source_value(src, t) for g, src in sources), program.zeros(net))
        for line, end in ends:
            current = current + 2.0 * v[_incoming(line, end)] / line["line"].z0
        return {net: current / g_total}

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
