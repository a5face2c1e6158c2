"""Backends: a small Target protocol, one shared result type (Trace), and a lazy registry.

Every target runs a Circuit under a Transient analysis and returns a Trace sampled at the requested times, so two
targets are compared in one line. Optional dependencies (PySpice, ngspice, Lava) are imported only when selected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

import numpy as np

from wavetrain.errors import UnknownTargetError


@dataclass(frozen=True, eq=False)
class Trace:
    """Named waveforms: ``t`` sample times [s] (n,), ``signals[name]`` arrays whose first axis is time.

    Nets give (n, batch, width) [V]; a parameter port ``p`` gives ``p.grad_w`` (n, out, in), ``p.grad_b`` (n, out)
    and, in the learning circuit, ``p.weight`` and ``p.bias`` (the capacitor voltages).
    """

    t: np.ndarray
    signals: Mapping[str, np.ndarray] = field(default_factory=dict)
    target: str = ""

    def __getitem__(self, name: str) -> np.ndarray:
        return self.signals[name]

    def names(self) -> list[str]:
        """The signal names, sorted."""
        return sorted(self.signals)


class Target(Protocol):
    """A circuit target: simulates a Circuit and returns the probed waveforms at the sample times (numpy, spice)."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "circuit"

    def run(
        self,
        circuit: Any,
        analysis: Any,
        samples: np.ndarray | None = None,
        probes: Sequence[str] | None = None,
    ) -> Trace:
        """Simulate circuit under analysis; sample every probe (default: all nets and ports) at ``samples`` [s]."""
        ...


class MachineTarget(Protocol):
    """A machine target: runs the network itself, not a lowered circuit (lava), and returns the Relaxation."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "machine"

    def relax(self, net: Any, x: np.ndarray, t: np.ndarray, ticks: int, courant: float = 1.0,
              history: bool = False) -> Any:  # fmt: skip
        """Relax ``net`` on (x, t) for ``ticks`` ticks with frozen weights."""
        ...


def _numpy() -> type:
    from wavetrain.targets.numpy import NumpyTarget

    return NumpyTarget


def _spice() -> type:
    from wavetrain.targets.ngspice import SpiceTarget

    return SpiceTarget


def _lava() -> type:
    from wavetrain.targets.lava.target import LavaTarget

    return LavaTarget


def _loihi2() -> type:
    from wavetrain.targets.lava.library import Loihi2Target

    return Loihi2Target


TARGETS: dict[str, Callable[[], type]] = {
    "numpy": _numpy, "spice": _spice, "ngspice": _spice, "lava": _lava, "loihi2": _loihi2,
}  # fmt: skip
ALIASES = {"ngspice": "spice"}  # names TARGETS accepts for another target


def target_names() -> list[str]:
    """One name per target (aliases left out), in registry order: the CLI's and the tests' list."""
    return [name for name in TARGETS if name not in ALIASES]


def canonical(name: str) -> str:
    """The target's own name for ``name`` (an alias resolves to the target it names)."""
    return ALIASES.get(name, name)


def get_target(name: str, **options: Any) -> Target | MachineTarget:
    """The target called name, built with options; UnknownTargetError lists the choices."""
    if name not in TARGETS:
        raise UnknownTargetError(f"unknown target {name!r}; choose one of: {', '.join(sorted(TARGETS))}")
    return TARGETS[name]()(**options)


def default_samples(circuit: Any, analysis: Any) -> np.ndarray:
    """Mid-tick sample times (k + 1/2) tick up to the analysis stop: where every wave is flat."""
    count = int(np.floor(analysis.stop / circuit.tick - 0.5 + 1e-9)) + 1
    return (np.arange(max(count, 1)) + 0.5) * circuit.tick


def split_ports(circuit: Any, name: str, values: np.ndarray, suffix: str) -> dict[str, np.ndarray]:
    """Split a port's flat per-parameter columns (weights row-major, then biases) into (n, *W's shape) and (n, out)."""
    port = next(p for p in circuit.ports() if p.name == name)
    shape = circuit.element(port.junction).weight.shape
    size, n = int(np.prod(shape)), values.shape[0]
    names = ("grad_w", "grad_b") if suffix == "grad" else ("weight", "bias")
    return {
        f"{name}.{names[0]}": values[:, :size].reshape(n, *shape),
        f"{name}.{names[1]}": values[:, size:],
    }


def ports_from_signals(circuit: Any, name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """A crossbar port's gradient from its row and column signals: columns [V(a) per sample and row, then
    V(back_in) per sample and column] -> g_W = sum_b delta_b s_b^T (n, out, in) and g_b = sum_b delta_b (n, out)."""
    port = next(p for p in circuit.ports() if p.name == name)
    n_out, n_in = circuit.element(port.junction).shape
    n, batch = values.shape[0], circuit.batch
    rows = values[:, : batch * n_in].reshape(n, batch, n_in)
    cols = values[:, batch * n_in :].reshape(n, batch, n_out)
    return {f"{name}.grad_w": np.einsum("nbj,nbi->nji", cols, rows), f"{name}.grad_b": cols.sum(axis=1)}


__all__ = [
    "ALIASES",
    "TARGETS",
    "MachineTarget",
    "Target",
    "Trace",
    "canonical",
    "default_samples",
    "get_target",
    "ports_from_signals",
    "split_ports",
    "target_names",
]
