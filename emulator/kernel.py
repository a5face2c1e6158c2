"""The array math of the wave emulator, in one place.

Every function here takes arrays and returns arrays; none loops over neurons, none calls ``np.`` on data, so a GPU
array library with NumPy's names (cupy) can stand in by passing its arrays. The only Python loop is over layers.

State of layer l (1-based in the spec, index l-1 here), for a batch of rows:
  s_l    activation (the right-moving wave)        lam_l  sensitivity dC/ds_l (the left-moving wave)
One tick (spec sections 1.8 and 2.4), every cell from the previous tick's values (Jacobi), Courant number nu:
  a_l     = W_l s_{l-1} + b_l
  s_l    <- s_l   + nu (sigma(a_l) - s_l)                          forward wave + residual source
  lam_L  <- lam_L + nu (dC/ds_L(s_L) / batch - lam_L)              loss load reflects the error wave
  lam_l  <- lam_l + nu (W_{l+1}^T (sigma'(a_{l+1}) * lam_{l+1}) - lam_l)   backward wave, l < L
and the parameter port of layer l reads the gradient G_l = (sigma'(a_l) * lam_l)^T s_{l-1} (summed over the batch),
the same delta_l = sigma'(a_l) * lam_l that drives the backward wave one layer down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from wavetrain.compiler.functions import Activation, Array, Loss

Params = Sequence[tuple[Array, Array]]  # (W_l, b_l) per layer; W_l has shape (out, in)
Grads = list[tuple[Array, Array]]  # (dC/dW_l, dC/db_l) per layer


@dataclass
class WaveState:
    """The waves on every layer: ``s[l]`` and ``lam[l]`` for layers 1..L (index 0..L-1), each (batch, n_l)."""

    s: list[Array]
    lam: list[Array]

    @classmethod
    def zeros(cls, sizes: Sequence[int], batch: int, like: Array) -> WaveState:
        xp_zeros = _zeros_like_factory(like)
        return cls([xp_zeros((batch, n)) for n in sizes[1:]], [xp_zeros((batch, n)) for n in sizes[1:]])

    def copy(self) -> WaveState:
        return WaveState([a.copy() for a in self.s], [a.copy() for a in self.lam])


def _zeros_like_factory(like: Array) -> Any:
    from wavetrain.compiler.functions import namespace

    xp = namespace(like)
    return lambda shape: xp.zeros(shape, dtype=like.dtype)


def tick(
    params: Params,
    acts: Sequence[Activation],
    loss: Loss,
    x: Array,
    t: Array,
    state: WaveState,
    nu: float = 1.0,
    want_grads: bool = True,
) -> tuple[WaveState, Grads | None]:
    """Advance every layer one tick; also return the gradient read out from the *incoming* state (tick k).

    Returns (state at tick k+1, G(k)). G(k) is what the parameter ports see during tick k.
    """
    depth = len(params)
    batch = x.shape[0]
    inputs = [x, *state.s[:-1]]
    pre = [inputs[l] @ W.T + b for l, (W, b) in enumerate(params)]
    out = [acts[l].f(pre[l]) for l in range(depth)]
    delta = [acts[l].df(pre[l], out[l]) * state.lam[l] for l in range(depth)]
    drive = [delta[l + 1] @ params[l + 1][0] for l in range(depth - 1)]
    drive.append(loss.grad(state.s[-1], t) / batch)
    if nu == 1.0:
        # NOTE: at nu = 1 the update is a pure transport (no residual), kept exact in floating point
        new = WaveState(out, drive)
    else:
        new = WaveState(
            [s + nu * (f - s) for s, f in zip(state.s, out)],
            [lam + nu * (d - lam) for lam, d in zip(state.lam, drive)],
        )
    grads = [(delta[l].T @ inputs[l], delta[l].sum(axis=0)) for l in range(depth)] if want_grads else None
    return new, grads


def readout(params: Params, acts: Sequence[Activation], x: Array, state: WaveState) -> Grads:
    """The gradient the parameter ports see at the current tick: G_l = (sigma'(a_l) * lam_l)^T s_{l-1}."""
    inputs = [x, *state.s[:-1]]
    grads = []
    for l, (W, b) in enumerate(params):
        a = inputs[l] @ W.T + b
        delta = acts[l].df(a, acts[l].f(a)) * state.lam[l]
        grads.append((delta.T @ inputs[l], delta.sum(axis=0)))
    return grads


def forward_sweep(params: Params, acts: Sequence[Activation], x: Array) -> tuple[list[Array], list[Array]]:
    """The forward wave once through every layer: (pre-activations a_1..a_L, states [x, s_1, ..., s_L])."""
    states, pre = [x], []
    for (W, b), act in zip(params, acts):
        pre.append(states[-1] @ W.T + b)
        states.append(act.f(pre[-1]))
    return pre, states


def light_cone(
    params: Params, acts: Sequence[Activation], loss: Loss, x: Array, t: Array
) -> tuple[Grads, WaveState, Array]:
    """The tick-2L readout at Courant number 1, computing only the cells on the light cone.

    From any start, s_l stops changing at tick l and lam_l at tick 2L+1-l (T2), so the state the ports read at tick
    2L is reached by evaluating each cell once, in the order its last input arrives: s_1..s_L on the way out (tick l),
    lam_L..lam_1 on the way back (tick 2L+1-l). Same arithmetic as :func:`tick`, so the result equals relaxation.
    Returns (grads, the tick-2L wave state, the per-sample loss).
    """
    depth = len(params)
    batch = x.shape[0]
    pre, inputs = forward_sweep(params, acts, x)
    out = inputs[1:]
    lam = [None] * depth
    lam[-1] = loss.grad(out[-1], t) / batch
    grads: Grads = [None] * depth  # type: ignore[list-item]
    for l in range(depth - 1, -1, -1):
        delta = acts[l].df(pre[l], out[l]) * lam[l]
        grads[l] = (delta.T @ inputs[l], delta.sum(axis=0))
        if l > 0:
            lam[l - 1] = delta @ params[l][0]
    return grads, WaveState(out, lam), loss.value(out[-1], t)
