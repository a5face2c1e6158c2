"""Passes: pure functions Circuit -> Circuit, run in the visible order of DEFAULT_PASSES.

Cells are unilateral controlled sources (zero output impedance, infinite input impedance), so a junction isolates the
lines on its two sides and is reflectionless as soon as every line end it touches is matched (spec 1.5: the condition
Z_{l-1} = J^T Z_l J is met by construction of the buffered junction). Matching therefore reduces to line ends.
"""

from __future__ import annotations

from dataclasses import replace

from wavetrain.circuits import Circuit, Source, Termination, TransmissionLine, verify
from wavetrain.circuits.circuit import impedance_problems

__all__ = ["impedance_problems", "match_impedances", "terminate_ports", "verify"]


def match_impedances(circuit: Circuit) -> Circuit:
    """Set every termination and Thevenin source on a line end to that line's z0, so no line end reflects."""
    z0_at: dict[str, float] = {}
    for line in circuit.of_type(TransmissionLine):
        z0_at.setdefault(line.a, line.z0)
        z0_at.setdefault(line.b, line.z0)
    elements = []
    for e in circuit.elements:
        if isinstance(e, Termination) and e.a in z0_at and e.resistance != z0_at[e.a]:
            e = replace(e, resistance=z0_at[e.a])
        elif isinstance(e, Source) and e.resistance > 0 and e.b in z0_at and e.resistance != z0_at[e.b]:
            e = replace(e, resistance=z0_at[e.b])
        elements.append(e)
    return replace(circuit, elements=tuple(elements))


def terminate_ports(circuit: Circuit) -> Circuit:
    """Load every line far end that nothing loads or drives with a matched resistor t{line} (absorbs the wave)."""
    terminals = circuit.terminals()
    added = []
    for line in circuit.of_type(TransmissionLine):
        roles = [role for _, role in terminals[line.b]]
        if "load" not in roles and "drive" not in roles:
            added.append(Termination(name=f"t{line.name}", a=line.b, width=line.width, resistance=line.z0))
    return replace(circuit, elements=circuit.elements + tuple(added)) if added else circuit
