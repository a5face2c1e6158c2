"""Element validation (names, units, shapes), immutability, and the coverage of every dispatch table."""

from __future__ import annotations

import dataclasses
from typing import get_args

import numpy as np
import pytest

from wavetrain.circuits import (
    CARDS,
    Circuit,
    Element,
    InductivePort,
    Junction,
    LossLoad,
    SampleHold,
    Source,
    Termination,
    TransmissionLine,
    si,
)
from wavetrain.circuits.circuit import TERMINALS
from wavetrain.errors import CircuitError, WavetrainError
from wavetrain.targets.numpy import KERNELS


def test_every_element_has_a_card_a_kernel_and_terminals() -> None:
    elements = set(get_args(Element))
    assert elements == set(CARDS), f"missing SPICE cards: {elements - set(CARDS)}"
    assert elements == set(KERNELS), f"missing emulator kernels: {elements - set(KERNELS)}"
    assert elements == set(TERMINALS), f"missing terminal rules: {elements - set(TERMINALS)}"


def test_negative_z0_names_the_line_and_the_value() -> None:
    with pytest.raises(CircuitError, match=r"line 'l3': z0 must be > 0 ohm, got -50.0"):
        TransmissionLine(name="l3", a="a", b="b", width=1, z0=-50.0, delay=1e-9)


@pytest.mark.parametrize("delay", [0.0, -1e-9, float("nan"), float("inf")])
def test_delay_must_be_positive_and_finite(delay: float) -> None:
    with pytest.raises(CircuitError, match=r"line 'l1': delay must be > 0 s"):
        TransmissionLine(name="l1", a="a", b="b", width=1, z0=50.0, delay=delay)


@pytest.mark.parametrize("name", ["a\n.include /etc/passwd", "1abc", "a b", "x;rm", "", "a" * 65, "é", None, "a.b"])
def test_hostile_names_are_refused_before_any_text_is_written(name) -> None:
    with pytest.raises(CircuitError, match="not a valid name"):
        TransmissionLine(name=name, a="a", b="b", width=1, z0=50.0, delay=1e-9)
    with pytest.raises(CircuitError, match="net b"):
        TransmissionLine(name="ok", a="a", b=name, width=1, z0=50.0, delay=1e-9)


def test_junction_shapes_are_checked_and_arrays_are_read_only() -> None:
    with pytest.raises(CircuitError, match=r"junction 'j1': bias has shape \(2,\), expected \(3,\)"):
        Junction(name="j1", a="a", b="b", back_in="d", back_out=None, weight=np.ones((3, 4)), bias=np.ones(2))
    weight = np.ones((3, 4))
    j = Junction(name="j1", a="a", b="b", back_in="d", back_out=None, weight=weight, bias=np.zeros(3))
    weight[0, 0] = 7.0
    assert j.weight[0, 0] == 1.0, "the junction must keep its own copy"
    with pytest.raises(ValueError):
        j.weight[0, 0] = 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        j.name = "j2"  # type: ignore[misc]


def test_non_finite_values_and_bad_choices_are_refused() -> None:
    with pytest.raises(CircuitError, match=r"source 'x': values must be finite, got nan"):
        Source(name="x", b="x", values=np.array([[np.nan]]))
    with pytest.raises(CircuitError, match=r"loss load 'loss': loss must be one of"):
        LossLoad(name="loss", a="a", b="b", target=np.zeros((1, 2)), loss="hinge")
    with pytest.raises(CircuitError, match=r"sample-hold 'h': needs the net 'held'"):
        SampleHold(name="h", a="a", b="b", width=1)
    with pytest.raises(CircuitError, match=r"parameter port 'p': inductance must be > 0 H, got None"):
        InductivePort(name="p", junction="j")
    with pytest.raises(CircuitError, match=r"termination 't': width must be an integer >= 1, got 0"):
        Termination(name="t", a="a", width=0, resistance=50.0)


def test_every_circuit_error_is_a_wavetrain_error() -> None:
    assert issubclass(CircuitError, WavetrainError)
    with pytest.raises(CircuitError, match=r"circuit 'c': batch must be an integer >= 1, got 0"):
        Circuit(name="c", elements=(), batch=0)


@pytest.mark.parametrize(
    "value, text",
    [
        (1e-9, "1n"),
        (50.0, "50"),
        (2200.0, "2.2k"),
        (1e12, "1T"),
        (1.5e-12, "1.5p"),
        (0.0, "0"),
        (-3e-3, "-3m"),
    ],
)
def test_si_suffixes(value: float, text: str) -> None:
    assert si(value) == text
