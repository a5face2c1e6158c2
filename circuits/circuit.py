"""The Circuit container, the transient analysis it runs under, and the whole-circuit checks.

Per-element checks live in ``__post_init__`` (elements.py); whole-circuit checks (duplicate names, dangling nets,
unmatched impedances, conflicting widths) live in :func:`verify`, which returns its input so it can be a pass.
SPICE is case-insensitive, so names are compared case-insensitively.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, TypeVar, Union

from wavetrain.circuits.crossbar import Crossbar
from wavetrain.circuits.elements import (
    InductivePort,
    Junction,
    LeakyIntegrator,
    LossLoad,
    Net,
    Nonlinearity,
    ParameterPort,
    ProbePort,
    ResistivePort,
    SampleHold,
    Source,
    Termination,
    TransmissionLine,
    check_name,
    check_positive,
)
from wavetrain.circuits.junctions import ConvJunction, ParametricJunction, Pool, Splitter, Sum, Wiring
from wavetrain.errors import CircuitError

Element = Union[
    TransmissionLine,
    Junction,
    Crossbar,
    ConvJunction,
    Pool,
    Sum,
    Wiring,
    Splitter,
    Nonlinearity,
    SampleHold,
    LeakyIntegrator,
    Termination,
    Source,
    LossLoad,
    ProbePort,
    ResistivePort,
    InductivePort,
]  # the closed union of circuit elements: each has its terminals here, a SPICE card and a numpy kernel
E = TypeVar("E")

# (net, width, role) per terminal; role: "drive" (ideal or Thevenin output), "read" (high-impedance input),
# "line_a"/"line_b" (line ends), "load" (a resistor to ground)
Terminal = tuple[Net, int, str]


def _junction_terminals(e: Junction | Crossbar) -> list[Terminal]:
    out, inp = e.shape
    terms = [(e.a, inp, "read"), (e.b, out, "drive"), (e.back_in, out, "read")]
    return terms + ([(e.back_out, inp, "drive")] if e.back_out is not None else [])


def _shaped_terminals(e: ConvJunction | Pool) -> list[Terminal]:
    terms = [(e.a, e.in_width, "read"), (e.b, e.out_width, "drive"), (e.back_in, e.out_width, "read")]
    return terms + ([(e.back_out, e.in_width, "drive")] if e.back_out is not None else [])


def _joining_terminals(e: Sum | Wiring) -> list[Terminal]:
    widths = (e.width,) * len(e.a) if isinstance(e, Sum) else e.widths
    terms: list[Terminal] = [(net, w, "read") for net, w in zip(e.a, widths)]
    terms += [(e.b, e.width, "drive"), (e.back_in, e.width, "read")]
    return terms + [(net, w, "drive") for net, w in zip(e.back_out, widths) if net is not None]


def _splitter_terminals(e: Splitter) -> list[Terminal]:
    terms: list[Terminal] = [(e.a, e.width, "read"), *((net, e.width, "drive") for net in e.taps)]
    terms += [(net, e.width, "read") for net in e.back_in]
    return terms + ([(e.back_out, e.width, "drive")] if e.back_out is not None else [])


TERMINALS: dict[type, Callable[..., list[Terminal]]] = {
    TransmissionLine: lambda e: [(e.a, e.width, "line_a"), (e.b, e.width, "line_b")],
    Junction: _junction_terminals,
    Crossbar: _junction_terminals,
    ConvJunction: _shaped_terminals,
    Pool: _shaped_terminals,
    Sum: _joining_terminals,
    Wiring: _joining_terminals,
    Splitter: _splitter_terminals,
    Nonlinearity: lambda e: [
        (e.a, e.width, "read"),
        (e.b, e.width, "drive"),
        (e.lam, e.width, "read"),
        (e.delta, e.width, "drive"),
    ],
    SampleHold: lambda e: [(e.a, e.width, "read"), (e.b, e.width, "drive"), (e.held, e.width, "read")],
    LeakyIntegrator: lambda e: [(e.a, e.width, "read"), (e.b, e.width, "drive")],
    Termination: lambda e: [(e.a, e.width, "load")],
    Source: lambda e: [(e.b, e.width, "drive")],
    LossLoad: lambda e: [(e.a, e.width, "read"), (e.b, e.width, "drive")],
    ProbePort: lambda e: [],
    ResistivePort: lambda e: [],
    InductivePort: lambda e: [],
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transient:
    """A transient analysis: simulate [0, stop] with step hint ``step`` and the tolerances ngspice integrates with."""

    stop: float  # [s]
    step: float | None = None  # print / maximum step hint [s]; None = stop / 1000
    reltol: float = 1e-6
    vntol: float = 1e-9  # [V]
    abstol: float = 1e-12  # [A]
    minbreak: float | None = None  # closest two breakpoints may be [s]; None = a tenth of the fastest edge

    def __post_init__(self) -> None:
        for name in ("stop", "reltol", "vntol", "abstol"):
            check_positive(self, name, getattr(self, name), "")
        for name in ("step", "minbreak"):
            if getattr(self, name) is not None:
                check_positive(self, name, getattr(self, name), "s")

    name = "transient"


@dataclass(frozen=True, kw_only=True)
class Circuit:
    """Elements wired by named bundle nets; every signal net is replicated ``batch`` times, one copy per sample."""

    name: str
    elements: tuple[Element, ...]
    batch: int = 1
    tick: float = 1e-9  # one tick = one line delay [s]
    inputs: tuple[Net, ...] = ()
    outputs: tuple[Net, ...] = ()
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        check_name(self.name, "circuit")
        object.__setattr__(self, "elements", tuple(self.elements))
        for element in self.elements:
            if type(element) not in TERMINALS:
                raise CircuitError(f"circuit {self.name!r}: {type(element).__name__} is not a circuit element")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise CircuitError(f"circuit {self.name!r}: batch must be an integer >= 1, got {self.batch!r}")
        check_positive(self, "tick", self.tick, "s")

    def __repr__(self) -> str:
        """One line: the name, the element count by type and the batch (the elements are the circuit's parts)."""
        counts: dict[str, int] = {}
        for element in self.elements:
            counts[type(element).__name__] = counts.get(type(element).__name__, 0) + 1
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda item: -item[1])[:4])
        more = f", {len(counts) - 4} more types" if len(counts) > 4 else ""
        return f"Circuit({self.name!r}: {len(self.elements)} elements ({kinds}{more}), batch {self.batch})"

    def of_type(self, kind: type[E]) -> tuple[E, ...]:
        """The elements of one type, in order."""
        return tuple(e for e in self.elements if isinstance(e, kind))

    def ports(self) -> tuple[ParameterPort, ...]:
        """The parameter ports (probes and learning ports), in order."""
        return tuple(e for e in self.elements if isinstance(e, (ProbePort, ResistivePort, InductivePort)))

    def element(self, name: str) -> Element:
        """The element with this name, or CircuitError."""
        for e in self.elements:
            if e.name == name:
                return e
        raise CircuitError(f"circuit {self.name!r}: no element named {name!r}")

    def widths(self) -> dict[Net, int]:
        """Width of every net (raises CircuitError on a conflict)."""
        widths: dict[Net, int] = {}
        for e in self.elements:
            for net, width, _ in TERMINALS[type(e)](e):
                if widths.setdefault(net, width) != width:
                    raise CircuitError(
                        f"circuit {self.name!r}: net {net!r} has width {widths[net]} but {_label(e)} expects {width}"
                    )
        return widths

    def terminals(self) -> dict[Net, list[tuple[Element, str]]]:
        """Every net's terminals as (element, role), in element order."""
        table: dict[Net, list[tuple[Element, str]]] = defaultdict(list)
        for e in self.elements:
            for net, _, role in TERMINALS[type(e)](e):
                table[net].append((e, role))
        return dict(table)


def _label(e: Element) -> str:
    from wavetrain.circuits.elements import KIND_NAMES

    return f"{KIND_NAMES[type(e)]} {e.name!r}"


def structural_problems(circuit: Circuit) -> list[str]:
    """Problems that make a circuit unsimulatable: duplicate names, width conflicts, dangling or doubly driven nets."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for e in circuit.elements:
        key = e.name.lower()
        if key in seen:
            problems.append(
                f"duplicate element name {e.name!r} (SPICE names are case-insensitive; clashes with {seen[key]!r})"
            )
        seen[key] = e.name
    try:
        widths = circuit.widths()
    except CircuitError as err:
        return problems + [str(err)]
    lowered: dict[str, str] = {}
    for net in widths:
        if lowered.setdefault(net.lower(), net) != net:
            problems.append(f"nets {lowered[net.lower()]!r} and {net!r} differ only in case (SPICE would merge them)")
    for net, terms in circuit.terminals().items():
        roles = [role for _, role in terms]
        drivers = [e for e, role in terms if role in ("drive", "line_a", "line_b")]
        if len(terms) < 2:
            e, role = terms[0]
            problems.append(
                f"dangling net {net!r}: connected only to {_label(e)} ({role}); every net needs at least 2 terminals"
            )
        elif not drivers:
            problems.append(
                f"dangling net {net!r}: read by {', '.join(_label(e) for e, _ in terms)} but nothing drives it"
            )
        if roles.count("drive") > 1:
            names = ", ".join(_label(e) for e, role in terms if role == "drive")
            problems.append(f"net {net!r} is driven by more than one element: {names}")
    for e in circuit.elements:
        if isinstance(e, (Source, LossLoad)):
            rows = (e.values if isinstance(e, Source) else e.target).shape[0]
            if rows != circuit.batch:
                problems.append(f"{_label(e)}: has {rows} samples, expected the circuit batch {circuit.batch}")
        if isinstance(e, ParameterPort) and not any(
            isinstance(j, ParametricJunction) and j.name == e.junction for j in circuit.elements
        ):
            problems.append(f"{_label(e)}: junction {e.junction!r} (with weights) does not exist")
    return problems


def impedance_problems(circuit: Circuit) -> list[str]:
    """Line ends that reflect: a far end whose load differs from z0, or a loaded near end that differs from z0."""
    terminals = circuit.terminals()
    problems = []
    for line in circuit.of_type(TransmissionLine):
        for end, role in ((line.b, "far"), (line.a, "near")):
            loads = [e.resistance for e, r in terminals[end] if isinstance(e, Termination)]
            driven = any(r == "drive" for _, r in terminals[end])
            if not loads and role == "far" and not driven:
                problems.append(f"line {line.name!r}: far end {end!r} is unterminated, expected a {line.z0:g} ohm load")
            elif loads:
                total = 1.0 / sum(1.0 / r for r in loads)
                if not math.isclose(total, line.z0, rel_tol=1e-9):
                    gamma = (total - line.z0) / (total + line.z0)
                    problems.append(
                        f"line {line.name!r}: {role} end {end!r} is loaded by {total:g} ohm, "
                        f"expected z0 = {line.z0:g} ohm "
                        f"(reflection coefficient {gamma:+.3g})"
                    )
    return problems


def verify(circuit: Circuit) -> Circuit:
    """Return circuit unchanged if it has no dangling nets, duplicate names or unmatched impedances.

    Otherwise raise CircuitError."""
    problems = structural_problems(circuit) + impedance_problems(circuit)
    if problems:
        raise CircuitError(f"circuit {circuit.name!r} failed verify:\n  " + "\n  ".join(problems))
    return circuit
