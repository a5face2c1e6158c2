"""The NumPy wave emulator: the fast reference backend and the executable spec of the physics.

If a netlist or a Lava process disagrees with the emulator, the emulator is the reference, or the equation in its
docstring is wrong, and both get fixed together. The cells (junction, nonlinearity, line, loss load, clamp, port
update) are written once in :mod:`wavetrain.emulator.cells` and run on a :mod:`wavetrain.emulator.substrate`; the
schedules that compose them (tick, light cone) live in :mod:`wavetrain.emulator.kernel`.
"""

from wavetrain.emulator.cells import Machine
from wavetrain.emulator.forward_gradient import ForwardGradient
from wavetrain.emulator.kernel import WaveState, light_cone, readout, tick
from wavetrain.emulator.mpc import Mpc
from wavetrain.emulator.ocnopt import OCNOpt
from wavetrain.emulator.pipeline import Pipelined
from wavetrain.emulator.ports import CurvatureMatched, CurvaturePort, InductorPort, ResistorPort
from wavetrain.emulator.relax import History, Relaxation, check_courant, relax, run_ticks
from wavetrain.emulator.substrate import IDEAL, Ideal, Substrate
from wavetrain.emulator.train import (
    METHODS,
    Backprop,
    Dyadic,
    HeavyBall,
    Method,
    Port,
    TrainResult,
    Wave,
    backprop,
    make_method,
    train,
)

__all__ = [
    "IDEAL",
    "Ideal",
    "Machine",
    "Substrate",
    "CurvatureMatched",
    "CurvaturePort",
    "ForwardGradient",
    "InductorPort",
    "Mpc",
    "OCNOpt",
    "Pipelined",
    "ResistorPort",
    "METHODS",
    "Backprop",
    "Dyadic",
    "HeavyBall",
    "Method",
    "Port",
    "Wave",
    "make_method",
    "History",
    "Relaxation",
    "TrainResult",
    "WaveState",
    "backprop",
    "check_courant",
    "light_cone",
    "readout",
    "relax",
    "run_ticks",
    "tick",
    "train",
]
