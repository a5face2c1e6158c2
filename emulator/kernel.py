"""The schedules of the wave machine: one tick, the port readout, the forward sweep and the light cone.

Each schedule composes the cells of :mod:`wavetrain.emulator.cells` on a :class:`~wavetrain.emulator.cells.Machine`
(parameters, nonlinearities, loss load, substrate); none writes the wave math itself. Nothing here calls ``np.`` on
data, so a GPU array library with NumPy's names (cupy) can stand in by passing its arrays.

State of layer l (1-based in the spec, index l-1 here), for a batch of rows:
  s_l    activation (the right-moving wave)        lam_l  sensitivity dC/ds_l (the left-moving wave)
One tick (spec sections 1.8 and 2.4), every cell from the previous tick's values (Jacobi), Courant number nu:
  a_l     = W_l s_{l-1} + b_l
  s_l    <- s_l   + nu (sigma(a_l) - s_l)                          forward wave + residual source
  lam_L  <- lam_L + nu (dC/ds_L(s_L) / batch - lam_L)              loss load reflects the error wave
  lam_l  <- lam_l + nu (W_{l+1}^T (sigma'(a_{l+1}) * lam_{l+1}) - lam_l)   backward wave, l < L
and the parameter port of layer l reads the gradient G_l = (sigma'(a_l) * lam_l)^T s_{l-1} (summed over the batch),
the same delta_l = sigma'(a_l) * lam_l that drives the backward wave one layer down.

Every schedule takes a :class:`~wavetrain.emulator.cells.Machine` first (parameters, nonlinearities, loss load and
the substrate they run on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from wavetrain.compiler.functions import Array, namespace
from wavetrain.emulator import cells
from wavetrain.emulator.cells import Grads, Machine, Params

__all__ = ["Grads", "Machine", "Params", "WaveState", "forward_sweep", "light_cone", "readout", "tick"]


@dataclass
class WaveState:
    """The waves on every layer: ``s[l]`` and ``lam[l]`` for layers 1..L (index 0..L-1), each (.., batch, n_l)."""

    s: list[Array]
    lam: list[Array]

    @classmethod
    def zeros(cls, sizes: Sequence[int], batch: int, like: Array, chips: int | None = None) -> WaveState:
        """Zero waves for ``batch`` rows (and a leading axis of ``chips`` instances), dtype and library of ``like``."""
        xp = namespace(like)
        lead = () if chips is None else (chips,)
        return cls(
            [xp.zeros((*lead, batch, n), dtype=like.dtype) for n in sizes[1:]],
            [xp.zeros((*lead, batch, n), dtype=like.dtype) for n in sizes[1:]],
        )

    def copy(self) -> WaveState:
        return WaveState([a.copy() for a in self.s], [a.copy() for a in self.lam])


def tick(
    m: Machine, x: Array, t: Array, state: WaveState, nu: float = 1.0, want_grads: bool = True
) -> tuple[WaveState, Grads | None]:
    """Advance every layer one tick; also return the gradient read out from the *incoming* state (tick k).

    Returns (state at tick k+1, G(k)). G(k) is what the parameter ports see during tick k.
    """
    depth = m.depth
    wb = cells.read(m)
    ins = cells.inputs(m, x, state.s)
    pre = [cells.junction(m, l, ins[l], wb[l]) for l in range(depth)]
    out = [cells.nonlinearity(m, l, pre[l]) for l in range(depth)]
    delta = [cells.sensitivity(m, l, pre[l], out[l], state.lam[l]) for l in range(depth)]
    drive = [cells.back(m, l + 1, delta[l + 1], wb[l + 1][0]) for l in range(depth - 1)]
    drive.append(cells.load(m, cells.output(m, state.s[-1]), t))
    new = WaveState(
        [cells.line(m, l, state.s[l], out[l], nu, "forward") for l in range(depth)],
        [cells.line(m, l, state.lam[l], drive[l], nu, "backward") for l in range(depth)],
    )
    grads = [cells.readout(m, l, delta[l], ins[l]) for l in range(depth)] if want_grads else None
    return new, grads


def readout(m: Machine, x: Array, state: WaveState) -> Grads:
    """The gradient the parameter ports see at the current tick: G_l = (sigma'(a_l) * lam_l)^T s_{l-1}."""
    wb = cells.read(m)
    ins = cells.inputs(m, x, state.s)
    grads = []
    for l in range(m.depth):
        a = cells.junction(m, l, ins[l], wb[l])
        delta = cells.sensitivity(m, l, a, cells.nonlinearity(m, l, a), state.lam[l])
        grads.append(cells.readout(m, l, delta, ins[l]))
    return grads


def forward_sweep(m: Machine, x: Array) -> tuple[list[Array], list[Array]]:
    """The forward wave once through every layer: (pre-activations a_1..a_L, states [x, s_1, ..., s_L]).

    The states are what each junction saw (the clamped input, the sent s_l) and, last, s_L as layer L holds it.
    """
    sweep = cells.forward_sweep(m, x)
    return sweep.pre, [*sweep.ins, sweep.s[-1]]


def light_cone(m: Machine, x: Array, t: Array) -> tuple[Grads, WaveState, Array]:
    """The tick-2L readout at Courant number 1, computing only the cells on the light cone.

    From any start, s_l stops changing at tick l and lam_l at tick 2L+1-l (T2), so the state the ports read at tick
    2L is reached by evaluating each cell once, in the order its last input arrives: s_1..s_L on the way out (tick l),
    lam_L..lam_1 on the way back (tick 2L+1-l). Same cells as :func:`tick`, so the result equals relaxation.
    Returns (grads, the tick-2L wave state, the per-sample loss).
    """
    depth = m.depth
    wb = cells.read(m)
    sweep = cells.forward_sweep(m, x, wb)
    y = cells.output(m, sweep.s[-1])
    lam: list[Array] = [None] * depth
    lam[-1] = cells.carry(m, depth - 1, cells.load(m, y, t), "backward")
    grads: Grads = [None] * depth  # type: ignore[list-item]
    for l in range(depth - 1, -1, -1):
        delta = cells.sensitivity(m, l, sweep.pre[l], sweep.out[l], lam[l])
        grads[l] = cells.readout(m, l, delta, sweep.ins[l])
        if l > 0:
            lam[l - 1] = cells.carry(m, l - 1, cells.back(m, l, delta, wb[l][0]), "backward")
    return grads, WaveState(sweep.s, lam), cells.cost(m, y, t)
