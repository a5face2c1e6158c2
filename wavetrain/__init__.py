"""wavetrain: compile neural networks into wave circuits and train them as physical systems.

Data flows one way: Network -> (compiler) -> Circuit -> (target) -> Trace / trained Network.
Every name below loads on first use (:mod:`wavetrain._lazy`): importing one low module costs only that module.
"""

from wavetrain import _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.exports(
    __name__,
    {
        "wavetrain": ["datasets"],
        "wavetrain.circuits": ["Circuit", "to_pyspice", "to_spice"],
        "wavetrain.compiler": ["Dense", "GraphBuilder", "Network", "compile_network", "model"],
        "wavetrain.emulator": ["Relaxation", "TrainResult", "relax", "train"],
        "wavetrain.errors": ["WavetrainError"],
        "wavetrain.simulation": ["simulate"],
        "wavetrain.targets": ["TARGETS", "Trace", "get_target"],
    },
)
