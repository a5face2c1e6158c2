"""Netlist text primitives shared by every card writer: SI numbers, node names, expressions, continuation lines.

A wire of bundle net ``s1`` for sample b, index i is node ``n{b}_{i}_s1`` (:func:`node`). Nothing here knows an
element; :mod:`wavetrain.circuits.spice` (chains, lines, loads, ports) and :mod:`wavetrain.circuits.spice_graph`
(the junctions of graphs) write the cards with these.
"""

from __future__ import annotations

import math
from typing import Iterable

from wavetrain.circuits.circuit import Circuit
from wavetrain.circuits.elements import LearningPort
from wavetrain.circuits.junctions import ParametricJunction
from wavetrain.errors import NetlistError

KERNELS = ("shared", "inline")  # how a convolution's weights are written (see spice_graph)

LINE_WIDTH = 240
_PREFIXES = (
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "Meg"),
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "u"),
    (1e-9, "n"),
    (1e-12, "p"),
    (1e-15, "f"),
)


def si(value: float) -> str:
    """A value with a SPICE SI suffix, exact to 12 significant digits: si(1e-9) == '1n', si(2200) == '2.2k'."""
    if value == 0 or not math.isfinite(value):
        return num(value)
    for scale, suffix in _PREFIXES:
        if abs(value) >= scale * (1 - 1e-12):
            return f"{num(value / scale)}{suffix}"
    return num(value)


def num(value: float) -> str:
    if not math.isfinite(value):
        raise NetlistError(f"cannot write the non-finite number {value!r} into a netlist")
    text = f"{float(value):.12g}"
    return "0" if text == "-0" else text


def node(net: str, b: int, i: int) -> str:
    """The SPICE node of wire i of bundle net for sample b."""
    return f"n{b}_{i}_{net}"


def voltage(net: str, b: int, i: int) -> str:
    return f"V({node(net, b, i)})"


def linear(coefficients: Iterable[float | str], variables: Iterable[str], constant: float | str = 0.0) -> str:
    terms = [constant if isinstance(constant, str) else num(constant)]
    for c, v in zip(coefficients, variables):
        if isinstance(c, str):
            terms.append(f"+ {c}*{v}")
        elif c != 0.0:
            terms.append(f"{'-' if c < 0 else '+'} {num(abs(c))}*{v}")
    return " ".join(terms)


def wrap(card: str) -> str:
    # NOTE: ngspice reads long B-source expressions through '+' continuation lines; break only at spaces
    if len(card) <= LINE_WIDTH:
        return card
    lines, current = [], ""
    for word in card.split(" "):
        if current and len(current) + 1 + len(word) > LINE_WIDTH:
            lines.append(current)
            current = "+ " + word
        else:
            current = f"{current} {word}" if current else word
    return "\n".join([*lines, current])


class Context:
    """What a card needs beyond its element: the batch, each learning junction's parameter port, the junctions with
    weights by name, and how convolution kernels are written (``kernels``: "shared" or "inline")."""

    def __init__(self, circuit: Circuit, kernels: str = "shared") -> None:
        if kernels not in KERNELS:
            raise NetlistError(f"kernels must be one of {KERNELS}, got {kernels!r}")
        self.batch = circuit.batch
        self.kernels = kernels
        self.ports = {p.junction: p for p in circuit.elements if isinstance(p, LearningPort)}
        self.junctions = {j.name: j for j in circuit.elements if isinstance(j, ParametricJunction)}
