"""wavetrain: compile neural networks into wave circuits and train them as physical systems.

Data flows one way: Network -> (compiler) -> Circuit -> (target) -> Trace / trained Network.
"""

from wavetrain import datasets
from wavetrain.compiler import Dense, Network
from wavetrain.emulator import Relaxation, TrainResult, relax, train
from wavetrain.errors import WavetrainError

__version__ = "0.1.0"

__all__ = ["Dense", "Network", "Relaxation", "TrainResult", "WavetrainError", "datasets", "relax", "train"]
