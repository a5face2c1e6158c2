"""Circuit IR: immutable bundle-level elements, the Circuit container, verify, and the SPICE writer.

Data flows one way: Network -> (compiler.lower) -> Circuit -> (passes) -> Circuit -> to_spice / a target.
"""

from wavetrain.circuits.circuit import Circuit, Element, Transient, verify
from wavetrain.circuits.elements import (
    InductivePort,
    Integrator,
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
    check_name,
)
from wavetrain.circuits.spice import CARDS, si, to_pyspice, to_spice

__all__ = [
    "CARDS",
    "Circuit",
    "Element",
    "InductivePort",
    "Integrator",
    "Junction",
    "LeakyIntegrator",
    "LearningPort",
    "LossLoad",
    "Nonlinearity",
    "ParameterPort",
    "ProbePort",
    "ResistivePort",
    "SampleHold",
    "Source",
    "Termination",
    "Transient",
    "TransmissionLine",
    "check_name",
    "si",
    "to_pyspice",
    "to_spice",
    "verify",
]
