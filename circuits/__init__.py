"""Circuit IR: immutable bundle-level elements, the Circuit container, verify, and the SPICE writer.

Data flows one way: Network -> (compiler.lower) -> Circuit -> (passes) -> Circuit -> to_spice / a target.
"""

from wavetrain import _lazy

__getattr__, __dir__, __all__ = _lazy.exports(
    __name__,
    {
        "wavetrain.circuits.circuit": ["Circuit", "Element", "Transient", "verify"],
        "wavetrain.circuits.crossbar": ["Crossbar", "CrossbarOptions", "Device"],
        "wavetrain.circuits.elements": [
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
            "TransmissionLine",
            "check_name",
        ],
        "wavetrain.circuits.junctions": [
            "ConvJunction",
            "GraphJunction",
            "ParametricJunction",
            "Pool",
            "Splitter",
            "Sum",
            "Wiring",
        ],
        "wavetrain.circuits.spice": ["CARDS", "si", "to_pyspice", "to_spice"],
    },
)
