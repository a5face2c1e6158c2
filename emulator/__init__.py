"""The NumPy wave emulator: the fast reference backend and the executable spec of the physics.

If a netlist or a Lava process disagrees with the emulator, the emulator is the reference, or the equation in its
docstring is wrong, and both get fixed together. The cells (junction, nonlinearity, line, loss load, clamp, port
update) are written once in :mod:`wavetrain.emulator.cells` and run on a :mod:`wavetrain.emulator.substrate`; the
schedules that compose them (tick, light cone) live in :mod:`wavetrain.emulator.kernel`. The names below load on
first use (:mod:`wavetrain._lazy`).
"""

from wavetrain import _lazy

__getattr__, __dir__, __all__ = _lazy.exports(
    __name__,
    {
        "wavetrain.emulator.cells": ["Machine"],
        "wavetrain.emulator.forward_gradient": ["ForwardGradient"],
        "wavetrain.emulator.kernel": ["WaveState", "light_cone", "readout", "tick"],
        "wavetrain.emulator.mpc": ["Mpc"],
        "wavetrain.emulator.ocnopt": ["OCNOpt"],
        "wavetrain.emulator.pipeline": ["Pipelined"],
        "wavetrain.emulator.ports": ["CurvatureMatched", "CurvaturePort", "InductorPort", "ResistorPort"],
        "wavetrain.emulator.relax": ["History", "Relaxation", "check_courant", "relax", "run_ticks"],
        "wavetrain.emulator.substrate": ["IDEAL", "Ideal", "Substrate"],
        "wavetrain.emulator.train": [
            "METHODS",
            "Backprop",
            "Dyadic",
            "HeavyBall",
            "Method",
            "Port",
            "TrainResult",
            "Wave",
            "backprop",
            "make_method",
            "train",
        ],
    },
)
