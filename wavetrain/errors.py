"""One hierarchy for every error wavetrain raises on purpose.

Messages name the culprit and say what was expected and what was given, e.g.
``NetworkError: layer 2: weight has shape (3, 5), expected (out, in) = (3, 4)``.
The CLI turns any WavetrainError into one line and exit code 1; anything else is a bug.
"""

from __future__ import annotations


class WavetrainError(Exception):
    """Base for every error wavetrain raises on purpose."""


class NetworkError(WavetrainError):
    """A network is malformed: shapes, activations, losses."""


class ModelFileError(WavetrainError):
    """A saved network cannot be read: missing, corrupt, foreign or from a newer format."""


class DataError(WavetrainError):
    """A data set is unusable: NaN, wrong feature count, labels out of range."""


class ConfigError(WavetrainError):
    """A run setting is out of its valid range (courant, horizon, learning rate, ...)."""


class BudgetError(ConfigError):
    """A run would exceed a budget (memory, ticks, hold, file size); refused before any work starts."""


class TrainingInterrupted(WavetrainError):
    """Training stopped on a signal (SIGINT, SIGTERM, SIGHUP) at a minibatch boundary; ``checkpoint`` says where
    the state was written (None if no checkpoint path was given) and ``signal`` which signal it was."""

    def __init__(self, message: str, signal: int = 2, checkpoint: object = None) -> None:
        super().__init__(message)
        self.signal = signal
        self.checkpoint = checkpoint


class OutputError(ConfigError):
    """An output cannot be written: the path is a device or a folder, its folder refuses files, the disk is full.
    Raised before any work where it can be known then; a write that fails later leaves the previous file whole."""


class StabilityError(ConfigError):
    """A setting for which the wave dynamics are unstable (e.g. courant >= 2)."""


class CircuitError(WavetrainError):
    """Invalid circuit IR, found when an element is built or by verify."""


class LoweringError(WavetrainError):
    """A network cannot be lowered to a circuit."""


class NetlistError(WavetrainError):
    """A circuit cannot be written as SPICE text."""


class UnknownTargetError(WavetrainError):
    """No backend of that name."""


class TargetUnavailable(WavetrainError):
    """An optional dependency or tool a backend needs is missing."""


class UntrustedNetlist(WavetrainError):
    """A user's netlist asks ngspice to run commands or read files outside its folder (needs --trust-netlist)."""


class SimulationError(WavetrainError):
    """A backend simulation failed or did not converge."""


class MissingDependency(TargetUnavailable):
    """An optional Python package (torch, PySpice, lava) is not installed."""


class StabilityWarning(UserWarning):
    """A setting that converges but with large transients (e.g. 1 < courant < 2)."""


class DataScaleWarning(UserWarning):
    """Training inputs far from the order-one scale the initialisation assumes (standardise them)."""


class DivergenceWarning(UserWarning):
    """A training run whose loss grows (ten times its first minibatch's) or whose method is known not to learn."""


class FixedPointOverflow(SimulationError):
    """A fixed-point value left its width where the substrate was told to raise (overflow='raise')."""


class SweepError(ConfigError):
    """A sweep file, or a sweep's output directory, is unusable (unknown axis, empty grid, another sweep's table)."""


class ChipError(ConfigError):
    """A network the target chip cannot hold or compute (a node type, activation or loss with no library process,
    a fan-in, delay or size beyond the chip's limits); refused before any work starts, naming the node and limit."""
