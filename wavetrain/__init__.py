"""wavetrain: compile neural networks into wave circuits and train them as physical systems.

Data flows one way: Network -> (compiler) -> Circuit -> (target) -> Trace / trained Network.
"""

from wavetrain import datasets
from wavetrain.circuits import Circuit, to_spice
from wavetrain.compiler import Dense, Network, compile_network
from wavetrain.emulator import Relaxation, TrainResult, relax, train
from wavetrain.errors import WavetrainError
from wavetrain.simulation import simulate
from wavetrain.targets import TARGETS, Trace, get_target

__version__ = "0.1.0"

__all__ = [
    "TARGETS",
    "Circuit",
    "Dense",
    "Network",
    "Relaxation",
    "Trace",
    "TrainResult",
    "WavetrainError",
    "compile_network",
    "datasets",
    "get_target",
    "relax",
    "simulate",
    "to_spice",
    "train",
]
