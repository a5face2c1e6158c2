"""The ``lava`` entry of the target registry: a machine target, running the network itself on Lava.

Lava runs the wave machine (one process per layer, one timestep per tick), not a netlist, so :class:`LavaTarget`
takes the network (``kind = "machine"``), not a lowered circuit: :meth:`LavaTarget.relax` returns the Relaxation the
circuit targets' traces are read into, and ``simulate(net, x, y, target="lava")`` therefore returns the same
result type as ``target="numpy"`` and ``"spice"``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from wavetrain.compiler.network import Network
from wavetrain.emulator.loihi import LoihiFixedPoint, calibrate
from wavetrain.emulator.relax import History, Relaxation
from wavetrain.errors import ConfigError
from wavetrain.targets.lava._compat import require_lava
from wavetrain.targets.lava.runner import TIMEOUT, relax_on_lava


class LavaTarget:
    """Lava's CPU simulator (Loihi2SimCfg): ``fixed_point`` False (floating_pt), True (fixed_pt, exponents
    calibrated on the circuit's own drive) or a LoihiFixedPoint (fixed_pt with those formats)."""

    name: ClassVar[str] = "lava"
    kind: ClassVar[str] = "machine"  # runs a Network (relax), not a Circuit

    def __init__(self, fixed_point: bool | LoihiFixedPoint = False, timeout: float = TIMEOUT) -> None:
        if not isinstance(fixed_point, (bool, LoihiFixedPoint)):
            raise ConfigError(
                f"target 'lava': fixed_point must be True, False or a LoihiFixedPoint, got {type(fixed_point).__name__}"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"target 'lava': timeout must be a number of seconds > 0, got {timeout!r}")
        require_lava()
        self.fixed_point = fixed_point
        self.timeout = float(timeout)

    def substrate(self, net: Network, x: np.ndarray, t: np.ndarray) -> LoihiFixedPoint | None:
        """The fixed-point formats this target runs ``net`` in (None: floating point)."""
        if self.fixed_point is True:
            return calibrate(net, x, t)[0]
        return self.fixed_point or None

    def relax(
        self, net: Network, x: np.ndarray, t: np.ndarray, ticks: int, courant: float = 1.0, history: bool = False
    ) -> Relaxation:
        """Relax ``net`` (frozen weights) on Lava for ``ticks`` timesteps: the Relaxation the other targets return."""
        fixed = self.substrate(net, x, t)
        run = relax_on_lava(net, x, t, ticks=max(ticks, 1), courant=courant, history=history or ticks == 0,
                            fixed=fixed, timeout=self.timeout)  # fmt: skip
        if ticks == 0:  # NOTE: Lava runs at least one timestep; tick 0 is the state before it
            log = run.history
            assert log is not None
            first = History(log.s[:1], log.lam[:1], log.grads[:1]) if history else None
            return Relaxation(log.grads[0], log.s[0], log.lam[0], 0, run.courant, first, "lava", run.nodes, run.params,
                              run.names)  # fmt: skip
        return run
