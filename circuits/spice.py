"""The one module that writes SPICE text: :func:`to_spice` renders a Circuit as a self-contained ngspice netlist.

Naming (so no two generated names can collide, whatever the validated IR names are): a wire of bundle net ``s1`` for
sample b, index i is node ``n{b}_{i}_s1``; every other generated node or device name is a role prefix of letters, then a
digit, then the validated IR name. ``en`` is the enable node: every cell output is multiplied by V(en), which ramps
0 -> 1 at t = 0, so the operating point is all-zero and the waves start from the emulator's zero state.

Cards per element (bundles expand to one card per wire and sample):
  TransmissionLine  T-line, TD = delay
  Junction          B-sources W v + b forward, W^T delta backward
  Nonlinearity      B-sources sigma(a), sigma'(a)*lam
  SampleHold        B-source (1 - nu) held + nu a
  LeakyIntegrator   R-C + buffer
  Termination       R to ground
  Source            PWL voltage source (+ series R)
  LossLoad          B-source dC/ds / batch (cross-entropy: softmax shifted by a per-sample max node mx{b}_{name})
  ProbePort         B-source effort g (of a crossbar: none; the reader forms g from the saved row and column signals)
  ResistivePort     the effort g, R -> ammeter, F copies the current into the weight capacitor
  InductivePort     the same with L in series with R
  Crossbar          conductance arrays read forward and in transpose (circuits/spice_crossbar.py)

Breakpoints: ``.options minbreak`` is a tenth of the fastest edge (:func:`min_break`), not ngspice's default
(1e-10 of the maximum step), and ``.tran`` runs one minbreak past the analysis stop.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from wavetrain.circuits.circuit import Circuit, Transient, structural_problems
from wavetrain.circuits.crossbar import Crossbar
from wavetrain.circuits.elements import (
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
    TransmissionLine,
)
from wavetrain.circuits.junctions import ConvJunction, ParametricJunction
from wavetrain.circuits.netlist import Context, linear, node, num, si, voltage, wrap
from wavetrain.circuits.spice_crossbar import CROSSBAR_CARDS, crossbar_preamble
from wavetrain.circuits.spice_graph import GRAPH_CARDS, weight_tag
from wavetrain.errors import NetlistError

__all__ = ["CARDS", "min_break", "node", "port_parameters", "probe_vectors", "si", "to_pyspice", "to_spice"]

LEAK_OHMS = 1e12  # DC path for every capacitor node (ngspice would otherwise fall back to gmin stepping)
ENABLE_RISE = 1e-2  # the enable ramp V(en) 0 -> 1, as a fraction of the tick
BREAK_FRACTION = 0.1  # minbreak as a fraction of the fastest edge in the circuit


def _line(e: TransmissionLine, ctx: Context) -> list[str]:
    if e.loss == 0:
        return [
            f"T{b}_{i}_{e.name} {node(e.a, b, i)} 0 {node(e.b, b, i)} 0 Z0={si(e.z0)} TD={si(e.delay)}"
            for b in range(ctx.batch)
            for i in range(e.width)
        ]
    # NOTE: a lossy line is the lossless delay followed by a matched T pad (image impedance z0) that passes
    # K = exp(-loss) of a wave in either direction: series R1 = z0 (1 - K) / (1 + K), shunt R2 = 2 z0 K / (1 - K^2)
    keep = math.exp(-e.loss)
    series, shunt = e.z0 * (1 - keep) / (1 + keep), 2 * e.z0 * keep / (1 - keep * keep)
    cards = []
    for b in range(ctx.batch):
        for i in range(e.width):
            tag, far = f"{b}_{i}_{e.name}", node(e.b, b, i)
            cards += [
                f"T{tag} {node(e.a, b, i)} 0 pa{tag} 0 Z0={si(e.z0)} TD={si(e.delay)}",
                f"Rpa{tag} pa{tag} pm{tag} {si(series)}",
                f"Rpm{tag} pm{tag} 0 {si(shunt)}",
                f"Rpb{tag} pm{tag} {far} {si(series)}",
            ]
    return cards


def _junction(e: Junction, ctx: Context) -> list[str]:
    out, inp = e.shape
    port = ctx.ports.get(e.name)
    weight: Callable[[int, int], float | str]
    bias: Callable[[int], float | str]
    if port is None:
        weight = lambda i, j: float(e.weight[i, j])  # noqa: E731
        bias = lambda i: float(e.bias[i])  # noqa: E731
    else:
        weight = lambda i, j: f"V(w{i}_{j}_{port.name})"  # noqa: E731
        bias = lambda i: f"V(c{i}_{port.name})"  # noqa: E731
    cards = []
    for b in range(ctx.batch):
        for i in range(out):
            expr = linear([weight(i, j) for j in range(inp)], [voltage(e.a, b, j) for j in range(inp)], bias(i))
            gain = f"{num(1.0 - e.leak)}*" if e.leak else ""
            cards.append(wrap(f"B{b}_{i}_{e.name} {node(e.b, b, i)} 0 V=V(en)*{gain}({expr})"))
        if e.back_out is not None:
            for j in range(inp):
                expr = linear([weight(i, j) for i in range(out)], [voltage(e.back_in, b, i) for i in range(out)])
                cards.append(wrap(f"Bb{b}_{j}_{e.name} {node(e.back_out, b, j)} 0 V=V(en)*({expr})"))
    return cards


def _nonlinearity(e: Nonlinearity, ctx: Context) -> list[str]:
    from wavetrain.compiler.functions import ACTIVATIONS  # NOTE: lazily; the compiler package imports circuits

    act = ACTIVATIONS[e.activation]
    cards = []
    for b in range(ctx.batch):
        for i in range(e.width):
            a = voltage(e.a, b, i)
            f, df = act.spice_f.format(a=a), act.spice_df.format(a=a)
            cards.append(f"B{b}_{i}_{e.name} {node(e.b, b, i)} 0 V=V(en)*{f}")
            cards.append(f"Bd{b}_{i}_{e.name} {node(e.delta, b, i)} 0 V=V(en)*{df}*{voltage(e.lam, b, i)}")
    return cards


def _sample_hold(e: SampleHold, ctx: Context) -> list[str]:
    cards = []
    for b in range(ctx.batch):
        for i in range(e.width):
            expr = f"{num(1.0 - e.gain)}*{voltage(e.held, b, i)} + {num(e.gain)}*{voltage(e.a, b, i)}"  # type: ignore[arg-type]
            cards.append(f"Bh{b}_{i}_{e.name} {node(e.b, b, i)} 0 V=V(en)*({expr})")
    return cards


def _leaky_integrator(e: LeakyIntegrator, ctx: Context) -> list[str]:
    capacitance = 1e-12
    cards = []
    for b in range(ctx.batch):
        for i in range(e.width):
            out, tag = node(e.b, b, i), f"{b}_{i}_{e.name}"
            cards += [
                f"Bi{tag} s{tag} 0 V={voltage(e.a, b, i)}",
                f"Rh{tag} s{tag} q{tag} {si(e.tau / capacitance)}",
                f"Ch{tag} q{tag} 0 {si(capacitance)}",
                f"Bh{tag} {out} 0 V=V(en)*V(q{tag})",
            ]
    return cards


def _termination(e: Termination, ctx: Context) -> list[str]:
    return [
        f"R{b}_{i}_{e.name} {node(e.a, b, i)} 0 {si(e.resistance)}" for b in range(ctx.batch) for i in range(e.width)
    ]


def _source(e: Source, ctx: Context) -> list[str]:
    cards = []
    for b in range(ctx.batch):
        for i in range(e.width):
            x, tag, out = float(e.values[b, i]), f"{b}_{i}_{e.name}", node(e.b, b, i)
            points = [(0.0, 0.0), (e.start, 0.0), (e.start + e.rise, x)]
            if e.duration is not None:
                end = e.start + e.rise + e.duration
                points += [(end, x), (end + e.rise, 0.0)]
            points = [p for k, p in enumerate(points) if k == 0 or p[0] > points[k - 1][0]]
            pwl = " ".join(f"{si(t)} {num(v)}" for t, v in points)
            if e.resistance > 0:
                cards += [f"V{tag} s{tag} 0 PWL({pwl})", f"Rs{tag} s{tag} {out} {si(e.resistance)}"]
            else:
                cards.append(f"V{tag} {out} 0 PWL({pwl})")
    return cards


def _loss_load(e: LossLoad, ctx: Context) -> list[str]:
    cards = []
    scale = num(1.0 / ctx.batch)
    for b in range(ctx.batch):
        if e.loss == "cross_entropy":
            # NOTE: stable softmax, exp(s_i - max s) / sum_k exp(s_k - max s); the shift cancels, so the max node's
            # kinks (where the argmax changes) leave the value and its Jacobian unchanged, and exp never overflows
            peak = voltage(e.a, b, 0)
            for k in range(1, e.width):
                peak = f"max({peak}, {voltage(e.a, b, k)})"
            cards.append(wrap(f"Bmx{b}_{e.name} mx{b}_{e.name} 0 V={peak}"))
            shifted = [f"exp({voltage(e.a, b, k)} - V(mx{b}_{e.name}))" for k in range(e.width)]
            partition = " + ".join(shifted)
        for i in range(e.width):
            t = num(float(e.target[b, i]))
            value = f"{shifted[i]}/({partition})" if e.loss == "cross_entropy" else voltage(e.a, b, i)
            cards.append(wrap(f"B{b}_{i}_{e.name} {node(e.b, b, i)} 0 V=V(en)*{scale}*({value} - {t})"))
    return cards


def port_parameters(port: ParameterPort, junction: ParametricJunction, batch: int) -> list[tuple[str, float, str]]:
    """(tag, initial value, gradient expression) for every weight (row-major in W's shape) then every bias held by
    a parameter port. A convolution's shared weight sums its effort over every position (and sample)."""
    if isinstance(junction, ConvJunction):
        return _conv_parameters(junction, batch)
    out, inp = junction.shape
    rows = []
    for i in range(out):
        for j in range(inp):
            terms = " + ".join(f"{voltage(junction.back_in, b, i)}*{voltage(junction.a, b, j)}" for b in range(batch))
            rows.append((f"w{i}_{j}", float(junction.weight[i, j]), terms))
    for i in range(out):
        rows.append(
            (f"c{i}", float(junction.bias[i]), " + ".join(voltage(junction.back_in, b, i) for b in range(batch)))
        )
    return rows


def _conv_parameters(e: ConvJunction, batch: int) -> list[tuple[str, float, str]]:
    windows, flat = e.windows, e.weight.reshape(e.weight.shape[0], -1)
    positions = windows.shape[0]
    rows = []
    for o in range(flat.shape[0]):
        for q in range(flat.shape[1]):
            reads = [(t, int(u)) for t, u in enumerate(windows[:, q]) if u >= 0]
            terms = " + ".join(
                f"{voltage(e.back_in, b, o * positions + t)}*{voltage(e.a, b, u)}"
                for b in range(batch)
                for t, u in reads
            )
            rows.append((weight_tag(e, o, q), float(flat[o, q]), terms or "0"))
    for o in range(flat.shape[0]):
        terms = " + ".join(voltage(e.back_in, b, o * positions + t) for b in range(batch) for t in range(positions))
        rows.append((f"c{o}", float(e.bias[o]), terms))
    return rows


def _port_efforts(e: ParameterPort, ctx: Context) -> list[tuple[str, list[str]]]:
    """(parameter tag, [its effort card g = delta^T s]) for every weight and bias the port reads."""
    junction = ctx.junctions.get(e.junction)
    if junction is None:
        raise NetlistError(f"parameter port {e.name!r}: junction {e.junction!r} is not in the circuit")
    rows = []
    for tag, _, gradient in port_parameters(e, junction, ctx.batch):
        p = f"{tag}_{e.name}"
        rows.append((p, [wrap(f"Bg{p} g{p} 0 V={gradient}")]))
    return rows


def _probe_port(e: ProbePort, ctx: Context) -> list[str]:
    # NOTE: a crossbar's port reads its gradient from the row and column signals (probe_vectors saves V(a) and
    # V(back_in), the reader forms sum_b delta_b s_b^T): no B-source per weight, whose evaluation at every Newton
    # iteration is most of the behavioural netlist's time (BENCHMARKS.md, "Crossbar netlists in ngspice")
    if isinstance(ctx.junctions.get(e.junction), Crossbar):
        return []
    return [card for _, cards in _port_efforts(e, ctx) for card in cards]


def _weight_capacitor(p: str, capacitance: float) -> list[str]:
    # NOTE: the port current i = I(Vz) flows g -> ground; F draws it out of the weight node: C dtheta/dt = -i
    return [f"Vz{p} z{p} 0 0", f"F{p} {p} 0 Vz{p} 1", f"C{p} {p} 0 {si(capacitance)}", f"Rl{p} {p} 0 {si(LEAK_OHMS)}"]


def _resistive_port(e: ResistivePort, ctx: Context) -> list[str]:
    cards = []
    for p, effort in _port_efforts(e, ctx):
        cards += [*effort, f"Rg{p} g{p} z{p} {si(e.resistance)}", *_weight_capacitor(p, e.capacitance)]
    return cards


def _inductive_port(e: InductivePort, ctx: Context) -> list[str]:
    cards = []
    for p, effort in _port_efforts(e, ctx):
        cards += [*effort, f"Rg{p} g{p} m{p} {si(e.resistance)}", f"Lg{p} m{p} z{p} {si(e.inductance)}"]  # type: ignore[arg-type]
        cards += _weight_capacitor(p, e.capacitance)
    return cards


CARDS: dict[type, Callable[[Any, Context], list[str]]] = {
    TransmissionLine: _line,
    Junction: _junction,
    Nonlinearity: _nonlinearity,
    SampleHold: _sample_hold,
    LeakyIntegrator: _leaky_integrator,
    Termination: _termination,
    Source: _source,
    LossLoad: _loss_load,
    ProbePort: _probe_port,
    ResistivePort: _resistive_port,
    InductivePort: _inductive_port,
    **GRAPH_CARDS,
    **CROSSBAR_CARDS,
}


def probe_vectors(circuit: Circuit, probes: Sequence[str] | None = None) -> dict[str, list[str]]:
    """IR probe name -> the ngspice vector names it reads (nets: per sample and wire; ports: per parameter)."""
    widths = circuit.widths()
    ports = {p.name: p for p in circuit.elements if isinstance(p, ParameterPort)}
    names = list(widths) + list(ports) if probes is None else list(probes)
    table: dict[str, list[str]] = {}
    for name in names:
        if name in widths:
            table[name] = [f"v({node(name, b, i)})" for b in range(circuit.batch) for i in range(widths[name])]
        elif name in ports:
            port = ports[name]
            junction = circuit.element(port.junction)
            if not isinstance(junction, ParametricJunction):
                raise NetlistError(f"parameter port {name!r}: {port.junction!r} is not a junction with weights")
            if isinstance(junction, Crossbar) and isinstance(port, ProbePort):
                rows = [f"v({node(junction.a, b, i)})" for b in range(circuit.batch) for i in range(junction.shape[1])]
                cols = [
                    f"v({node(junction.back_in, b, j)})" for b in range(circuit.batch) for j in range(junction.shape[0])
                ]
                table[name + ".signals"] = rows + cols
                continue
            tags = [tag for tag, _, _ in port_parameters(port, junction, circuit.batch)]
            table[name + ".grad"] = [f"v(g{tag}_{name})" for tag in tags]
            if isinstance(port, LearningPort):
                table[name + ".param"] = [f"v({tag}_{name})" for tag in tags]
        else:
            raise NetlistError(f"circuit {circuit.name!r}: no net or parameter port named {name!r} to probe")
    return table


def min_break(circuit: Circuit) -> float:
    """The closest two ngspice breakpoints may lie [s]: a tenth of the fastest edge (enable ramp, source ramps)."""
    edges = [circuit.tick * ENABLE_RISE]
    for source in circuit.of_type(Source):
        edges.append(source.rise)
        edges += [t for t in (source.start, source.duration) if t]
    return BREAK_FRACTION * min(edges)


def to_spice(
    circuit: Circuit,
    analysis: Transient | None = None,
    probes: Sequence[str] | None = None,
    kernels: str = "shared",
) -> str:
    """Render circuit as a self-contained ngspice netlist (sources, .ic, .tran, .save). Pure and deterministic.

    ``kernels``: how a convolution's shared weights are written: "shared" (one ``.func`` per output channel that
    every position calls, and per input channel and stride phase backward) or "inline" (every position's
    expression spells its weights out, as a dense junction does). Both compute the same circuit."""
    problems = structural_problems(circuit)
    if problems:
        raise NetlistError(f"circuit {circuit.name!r} cannot be written:\n  " + "\n  ".join(problems))
    depth = circuit.meta.get("depth", len(circuit.of_type(Junction)))
    analysis = analysis or Transient(stop=(2 * depth + 1) * circuit.tick)
    ctx = Context(circuit, kernels)
    # NOTE: ngspice's T-line sets a breakpoint one delay after every point where a line's wave turns its slope
    # (TRAaccept, REL = ABS = 1), and XSPICE builds (Debian's) merge breakpoints only 1e-10 max step (5e-21 s) apart.
    # Corners inside one edge, each followed by steps of 0.1x the gap (where rounding noise reads as slope turns),
    # then multiply tick by tick: a trained 64-128-128-10 took 3028 time points instead of 155 (ngspice acct).
    minbreak = analysis.minbreak if analysis.minbreak is not None else min_break(circuit)
    cards = [
        f"* wavetrain circuit {circuit.name}: batch {circuit.batch}, tick {si(circuit.tick)}s",
        f".options reltol={num(analysis.reltol)} vntol={num(analysis.vntol)} abstol={num(analysis.abstol)} "
        f"minbreak={si(minbreak)}",
        f"Ven en 0 PWL(0 0 {si(circuit.tick * ENABLE_RISE)} 1)",
        *crossbar_preamble(circuit),
    ]
    for element in circuit.elements:
        card = CARDS.get(type(element))
        if card is None:
            raise NetlistError(
                f"no SPICE card for {type(element).__name__} {element.name!r}; add one to CARDS in circuits/spice.py"
            )
        cards += card(element, ctx)
    for port in circuit.elements:
        if isinstance(port, LearningPort):
            for tag, value, _ in port_parameters(port, ctx.junctions[port.junction], circuit.batch):
                cards.append(f".ic V({tag}_{port.name})={num(value)}")
    step = analysis.step if analysis.step is not None else analysis.stop / 1000
    # NOTE: ngspice ends a run once it is within minbreak of the final time, so run one minbreak past the stop
    cards.append(f".tran {si(step)} {si(analysis.stop + minbreak)}")
    vectors = [v for group in probe_vectors(circuit, probes).values() for v in group]
    for start in range(0, len(vectors), 8):
        cards.append(".save " + " ".join(vectors[start : start + 8]))
    # NOTE: `ngspice -b net.cir` runs an analysis only when something is printed; `-r file` ignores this line
    printed = [v for group in probe_vectors(circuit, circuit.outputs).values() for v in group] or vectors
    cards.append(".print tran " + " ".join(printed[:8]))
    return "\n".join([f".title {circuit.name}", *cards, ".end"]) + "\n"


def to_pyspice(circuit: Circuit, analysis: Transient | None = None) -> Any:
    """A PySpice ``Circuit`` holding this netlist (title from the circuit; cards as its raw SPICE), for PySpice users.

    The ``.options`` card (reltol, vntol, abstol, minbreak) is not carried: PySpice sets options on its simulator,
    so set the same values there (``simulator = circuit.simulator(); simulator.options(reltol=1e-6, ...)``).
    """
    try:
        from PySpice.Spice.Netlist import Circuit as PySpiceCircuit
    except ImportError as err:
        from wavetrain.errors import MissingDependency

        raise MissingDependency("to_pyspice needs PySpice; install it with `pip install 'wavetrain[spice]'`") from err
    text = to_spice(circuit, analysis)
    body = [
        line for line in text.splitlines()[1:] if line != ".end" and not line.startswith((".tran", ".save", ".options"))
    ]
    result = PySpiceCircuit(circuit.name)
    result.raw_spice = "\n".join(body)
    return result
