"""Power at the layer junctions and the energy identity of unlocked wave training (spec sections 1.5 and 1.7).

A linearised layer is a three-port: flows go forward, efforts backward,
    dx_l = J_l dx_{l-1} + B_l dtheta_l,   p_{l-1} = J_l^T p_l,   g_l = B_l^T p_l,
    p_l . dx_l = p_{l-1} . dx_{l-1} + g_l . dtheta_l                              (T5; lossless when dtheta = 0)
with J_l = diag(sigma'(a_l)) W_l and B_l dtheta = diag(sigma'(a_l)) (dW x_{l-1} + db).

The energy identity of unlocked training: the loss can only fall by the work the ports absorb, and what a passive
port absorbs is stored (inductor) or dissipated (resistor):
    Loss(k) + stored(k) + sum_{j<k} dissipated(j)  =  Loss(0) + stored(0) + residual(k),
where the residual is the second-order remainder plus the stale-readout error while waves are in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array
from wavetrain.compiler.network import Dense, Network
from wavetrain.emulator import cells
from wavetrain.emulator.kernel import Machine, WaveState, tick
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError


def _layer(layer: Dense, substrate: Substrate) -> tuple[Machine, tuple[Array, Array]]:
    m = Machine([(layer.weight, layer.bias)], (layer.act,), None, substrate)  # type: ignore[arg-type]
    return m, cells.read_layer(m, 0)


def junction_flow(layer: Dense, x_prev: Array, dx_prev: Array, dW: Array, db: Array,
                  substrate: Substrate = IDEAL) -> Array:
    """Forward flow through the linearised layer: dx_l = sigma'(a) * (W dx_{l-1} + dW x_{l-1} + db), batch rows."""
    m, wb = _layer(layer, substrate)
    a = cells.junction(m, 0, x_prev, wb)
    drive = cells.forward_product(wb[0], dx_prev) + cells.forward_product(dW, x_prev) + db
    return cells.sensitivity(m, 0, a, cells.nonlinearity(m, 0, a), drive)


def junction_effort(layer: Dense, x_prev: Array, p: Array, substrate: Substrate = IDEAL) -> tuple[Array, Array, Array]:
    """Backward efforts through the transformer: (p_{l-1}, g_W, g_b), summed over the batch for g."""
    m, wb = _layer(layer, substrate)
    a = cells.junction(m, 0, x_prev, wb)
    delta = cells.sensitivity(m, 0, a, cells.nonlinearity(m, 0, a), p)
    return (cells.backward_product(wb[0], delta), *cells.readout(m, 0, delta, x_prev))


@dataclass(frozen=True)
class EnergyTrace:
    """Per tick k = 0..ticks-1 of an unlocked run: wave energy, loss, and the port ledger; arrays of length ticks."""

    wave: np.ndarray  # (1/2) sum_l (|s_l|^2 + |lam_l|^2) / batch on the lines (unit impedance)
    loss: np.ndarray  # mean loss at the parameters of tick k (a fresh forward pass, not the in-flight wave)
    absorbed: np.ndarray
    dissipated: np.ndarray
    stored: np.ndarray

    def residual(self, start: int = 0) -> np.ndarray:
        """Loss(k) + stored(k) + dissipated since ``start`` minus the same at ``start``: zero to first order."""
        spent = np.concatenate([[0.0], np.cumsum(self.dissipated[start:-1])])
        return self.loss[start:] + self.stored[start:] + spent - (self.loss[start] + self.stored[start])


def unlocked_energy(net: Network, x: Any, y: Any, ticks: int, port: Any, substrate: Substrate = IDEAL) -> EnergyTrace:
    """Hold (x, y) at the input, let ``port`` (with ``record=True``) move the parameters every tick, log energies."""
    x = net.check_input(x)
    t = net.targets(y, len(x))
    params = net.params()
    m = Machine.of(net, params, substrate)
    state = WaveState.zeros(net.sizes, len(x), x, substrate.chips)
    wave, loss = [], []
    stored = 0.0
    before = len(port.ledger)
    for _ in range(ticks):
        wave.append(0.5 * sum(float((s * s).sum() + (m * m).sum()) for s, m in zip(state.s, state.lam)) / len(x))
        loss.append(float(np.mean(cells.cost(m, cells.output(m, cells.forward_sweep(m, x).s[-1]), t))))
        state, grads = tick(m, x, t, state, 1.0)
        cells.port_step(port, params, grads, substrate)
    rows = port.ledger[before:]
    if len(rows) != ticks:
        raise ConfigError(
            f"unlocked_energy: expected a port built with record=True, got {len(rows)} ledger rows for {ticks} ticks"
        )
    absorbed = np.array([r.absorbed for r in rows])
    dissipated = np.array([r.dissipated for r in rows])
    # NOTE: stored(k) is the inductor energy *before* tick k's step, aligned with loss(k)
    stored_after = np.array([r.stored for r in rows])
    stored_before = np.concatenate([[stored], stored_after[:-1]])
    return EnergyTrace(np.array(wave), np.array(loss), absorbed, dissipated, stored_before)
