"""Power at the layer junctions and the energy identity of unlocked wave training (spec sections 1.5 and 1.7).

A linearised layer is a three-port: flows go forward, efforts backward,
    dx_l = J_l dx_{l-1} + B_l dtheta_l,   p_{l-1} = J_l^T p_l,   g_l = B_l^T p_l,
    p_l . dx_l = p_{l-1} . dx_{l-1} + g_l . dtheta_l                              (T5; lossless when dtheta = 0)
with J_l = diag(sigma'(a_l)) W_l and B_l dtheta = diag(sigma'(a_l)) (dW x_{l-1} + db).

The energy identity of unlocked training: the loss can only fall by the work the ports absorb, and what a passive
port absorbs is stored (inductor) or dissipated (resistor):
    Loss(k) + stored(k) + sum_{j<k} dissipated(j)  =  Loss(0) + stored(0) + residual(k),
where, with Delta theta_k the step of tick k and g_k the readout the port was handed,
    residual increment of tick k = stale(k) + taylor(k),
    stale(k)  = (grad Loss(theta_k) - g_k) . Delta theta_k        (work of the stale readout: 0 when locked)
    taylor(k) = Loss(theta_k + Delta theta_k) - Loss(theta_k) - grad Loss(theta_k) . Delta theta_k
              = (1/2) Delta theta_k^T H Delta theta_k + O(|Delta theta|^3)   (second order in the step).
This follows from absorbed = -g_k . Delta theta_k = d(stored) + dissipated (the port's own balance).

Locked (the parameters move only after the waves relaxed, the exact gradient): stale = 0, so the residual is the
Taylor remainder alone, eta^2/2 g^T H g per resistor step. Unlocked, the readout at tick k was computed by waves
that saw the parameters of up to 2L ticks earlier, so g_k - grad Loss(theta_k) = O(eta x latency) and the stale work
is second order per step too but with a coefficient that grows with the latency: over a fixed flow time eta x ticks,
residual / dissipated = c eta + O(eta^2) with c 10-15 times the locked c on the T7 toy (reproduction report, T7,
5 seeds). Compare runs at equal flow time, never at an equal number of ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array
from wavetrain.compiler.network import Dense, Network
from wavetrain.emulator import cells
from wavetrain.emulator.kernel import Machine, WaveState, light_cone, tick
from wavetrain.emulator.ports import ResistorPort
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError


def _layer(layer: Dense, substrate: Substrate) -> tuple[Machine, dict[str, tuple[Array, Array]]]:
    m = cells.bare([(layer.weight, layer.bias)], [layer.act], None, substrate)  # type: ignore[arg-type]
    return m, cells.read(m)


def junction_flow(
    layer: Dense, x_prev: Array, dx_prev: Array, dW: Array, db: Array, substrate: Substrate = IDEAL
) -> Array:
    """Forward flow through the linearised layer: dx_l = sigma'(a) * (W dx_{l-1} + dW x_{l-1} + db), batch rows."""
    m, wb = _layer(layer, substrate)
    a = cells.junction(m, "1", [x_prev], wb)
    drive = cells.forward_product(wb["1"][0], dx_prev) + cells.forward_product(dW, x_prev) + db
    return cells.sensitivity(m, "1", a, cells.nonlinearity(m, "1", a), drive)


def junction_effort(layer: Dense, x_prev: Array, p: Array, substrate: Substrate = IDEAL) -> tuple[Array, Array, Array]:
    """Backward efforts through the transformer: (p_{l-1}, g_W, g_b), summed over the batch for g."""
    m, wb = _layer(layer, substrate)
    a = cells.junction(m, "1", [x_prev], wb)
    delta = cells.sensitivity(m, "1", a, cells.nonlinearity(m, "1", a), p)
    return (cells.backward_product(wb["1"][0], delta), *cells.readout(m, "1", delta, [x_prev]))


@dataclass(frozen=True)
class EnergyTrace:
    """Per tick k = 0..ticks-1 of a run: wave energy, loss, and the port ledger; arrays of length ticks."""

    wave: np.ndarray  # (1/2) sum_l (|s_l|^2 + |lam_l|^2) / batch on the lines the port reads at tick k
    loss: np.ndarray  # mean loss at the parameters of tick k (a fresh forward pass, not the in-flight wave)
    absorbed: np.ndarray
    dissipated: np.ndarray
    stored: np.ndarray
    stale: np.ndarray  # (grad Loss(theta_k) - g_k) . Delta theta_k, the exact gradient from a fresh light cone

    def residual(self, start: int = 0) -> np.ndarray:
        """Loss(k) + stored(k) + dissipated since ``start`` minus the same at ``start``: zero to first order."""
        spent = np.concatenate([[0.0], np.cumsum(self.dissipated[start:-1])])
        return self.loss[start:] + self.stored[start:] + spent - (self.loss[start] + self.stored[start])

    def remainder(self, start: int = 0) -> np.ndarray:
        """The residual less the stale readout's work since ``start``: the Taylor remainder, second order per step."""
        return self.residual(start) - np.concatenate([[0.0], np.cumsum(self.stale[start:-1])])

    def ratio(self, first: int, last: int) -> tuple[float, float]:
        """(residual, stale work) over the steps first..last-1, each divided by what the ports dissipated there."""
        if not 0 <= first < last < len(self.loss):
            raise ConfigError(
                f"EnergyTrace.ratio: expected 0 <= first < last < {len(self.loss)} (ticks), got "
                f"first={first!r}, last={last!r}"
            )
        spent = float(self.dissipated[first:last].sum())
        return float(self.residual(first)[last - first] / spent), float(self.stale[first:last].sum() / spent)


def _ticks(owner: str, ticks: Any) -> int:
    if isinstance(ticks, bool) or not isinstance(ticks, (int, np.integer)) or ticks < 1:
        raise ConfigError(f"{owner}: ticks must be an integer >= 1, got {ticks!r}")
    return int(ticks)


def _copy(params: Any) -> dict[str, tuple[Array, Array]]:
    return {n: (W.copy(), b.copy()) for n, (W, b) in params.items()}


def _work(grads: Any, before: Any, after: Any) -> float:
    """sum_l grads_l . (after_l - before_l)."""
    return float(
        sum(
            (gW * (W1 - W0)).sum() + (gb * (b1 - b0)).sum()
            for (gW, gb), (W0, b0), (W1, b1) in zip(grads.values(), before.values(), after.values())
        )
    )


def _energy(
    owner: str, net: Network, x: Any, y: Any, ticks: Any, port: Any, substrate: Substrate, locked: bool
) -> EnergyTrace:
    ticks = _ticks(owner, ticks)
    if not hasattr(port, "ledger") or not getattr(port, "record", False):
        raise ConfigError(
            f"{owner}: expected a port built with record=True (it keeps the energy ledger), got "
            f"{type(port).__name__} with record={getattr(port, 'record', None)!r}"
        )
    x = net.check_input(x)
    t = net.targets(y, len(x))
    params = net.param_dict()
    m = Machine.of(net, params, substrate)
    state = WaveState.zeros(net.graph, len(x), x, substrate.chips)
    wave, loss, stale = [], [], []
    before = len(port.ledger)
    for _ in range(ticks):
        exact, relaxed, cost = light_cone(m, x, t)
        loss.append(float(np.mean(cost)))
        seen = relaxed if locked else state  # the waves the port reads from
        wave.append(
            0.5
            * sum(float((s * s).sum() + (lam * lam).sum()) for s, lam in zip(seen.s.values(), seen.lam.values()))
            / len(x)
        )
        if locked:
            grads = exact
        else:
            state, ticked = tick(m, x, t, state, 1.0)
            assert ticked is not None  # NOTE: want_grads defaults to True
            grads = ticked
        theta = _copy(params)
        port.step(m, grads)
        # NOTE: (exact - g) . Delta theta, as one difference of works: exact 0.0 when the port read the exact gradient
        stale.append(_work(exact, theta, params) - _work(grads, theta, params))
    rows = port.ledger[before:]
    if len(rows) != ticks:
        raise ConfigError(
            f"{owner}: expected a port built with record=True, got {len(rows)} ledger rows for {ticks} ticks"
        )
    absorbed = np.array([r.absorbed for r in rows])
    dissipated = np.array([r.dissipated for r in rows])
    # NOTE: stored(k) is the inductor energy *before* tick k's step, aligned with loss(k)
    stored_after = np.array([r.stored for r in rows])
    initial = port.ledger[before - 1].stored if before else 0.0  # a port that already moved may hold energy
    stored_before = np.concatenate([[initial], stored_after[:-1]])
    return EnergyTrace(np.array(wave), np.array(loss), absorbed, dissipated, stored_before, np.array(stale))


def unlocked_energy(net: Network, x: Any, y: Any, ticks: int, port: Any, substrate: Substrate = IDEAL) -> EnergyTrace:
    """Hold (x, y) at the input, let ``port`` (with ``record=True``) move the parameters every tick, log energies.

    The waves start from zero, so the first 2L readouts are the fill transient, not a stale gradient: measure the
    identity from a tick >= 2L (``trace.residual(start)``).
    """
    return _energy("unlocked_energy", net, x, y, ticks, port, substrate, locked=False)


def locked_energy(net: Network, x: Any, y: Any, steps: int, port: Any, substrate: Substrate = IDEAL) -> EnergyTrace:
    """The control of :func:`unlocked_energy`: every step relaxes the waves (light cone, tick 2L), then the port moves.

    The port reads the exact gradient, so ``stale`` is zero and the residual is the Taylor remainder alone.
    """
    return _energy("locked_energy", net, x, y, steps, port, substrate, locked=True)


def identity_ratio(
    net: Network, x: Any, y: Any, eta: float, window: tuple[float, float] = (1.0, 5.0), locked: bool = False
) -> tuple[float, float]:
    """(residual, stale work) / dissipated of a resistor port eta over the flow-time window [t0, t1] of eta x ticks.

    The window is fixed in flow time so that runs at different eta cover the same stretch of the trajectory; the
    ratio is then c eta + O(eta^2). Unlocked, the window must start after the 2L-tick fill of the waves. The network
    is not modified.
    """
    port = ResistorPort(eta, record=True)  # validates eta
    ok = (
        isinstance(window, tuple)
        and len(window) == 2
        and all(isinstance(w, (int, float)) and np.isfinite(w) for w in window)
        and 0 <= window[0] < window[1]
    )
    if not ok:
        raise ConfigError(f"identity_ratio: window must be a flow-time pair (t0, t1) with 0 <= t0 < t1, got {window!r}")
    first, last = int(round(window[0] / port.eta)), int(round(window[1] / port.eta))
    fill = 2 * net.depth
    if not locked and first < fill:
        raise ConfigError(
            f"identity_ratio: the window must start after the waves' fill (tick >= 2L = {fill}), got "
            f"tick {first} (t0 / eta = {window[0]} / {port.eta})"
        )
    if last - first < 1:
        raise ConfigError(f"identity_ratio: the window {window!r} holds no step at eta {port.eta}")
    return _energy("identity_ratio", net.copy(), x, y, last + 1, port, IDEAL, locked).ratio(first, last)
