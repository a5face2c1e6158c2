"""Local curvature models for the Newton-like parameter port and for OCNOpt's Q_uu (spec sections 1.7 and 5.2).

Per layer l, the Gauss-Newton block of the mean batch loss with respect to W~_l = [W_l b_l] is approximated by one
Kronecker product (KFAC):

    H_l  ~  A_l (x) G_l ,   A_l = mean_b x~_b x~_b^T  (x~ = [s_{l-1}; 1]),   G_l = mean_b D_b D_b^T

where D_b (n_l x r) is a square-root factor of the per-sample output curvature pulled back to the pre-activation a_l:
D = sigma'(a_l) * W_{l+1}^T D_{l+1}, starting from C C^T = d^2 C / ds_L^2 (mse: C = I; softmax cross-entropy:
C = diag(sqrt p) - p sqrt(p)^T, so C C^T = diag(p) - p p^T). For one linear layer under mse this block is the exact
Hessian, so a damping-free Newton step lands on the least-squares minimum (T7, T13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from wavetrain.compiler.functions import Array, namespace, softmax
from wavetrain.emulator import cells
from wavetrain.emulator.kernel import Grads, Machine


@dataclass(frozen=True, eq=False)
class Kronecker:
    """One layer's curvature block A (x) G: ``a`` is (in+1, in+1) over [input; 1], ``g`` is (out, out)."""

    a: Array
    g: Array


def output_factor(loss: str, s_last: Array) -> Array:
    """Per-sample square root C (batch, n_L, r) of the loss Hessian with respect to s_L: C C^T = d^2 C / ds_L^2."""
    xp = namespace(s_last)
    batch, n = s_last.shape
    if loss == "mse":
        return xp.broadcast_to(xp.eye(n, dtype=s_last.dtype), (batch, n, n))
    p = softmax(s_last)
    root = xp.sqrt(p)
    return root[:, :, None] * xp.eye(n, dtype=s_last.dtype)[None] - p[:, :, None] * root[:, None, :]


def kfac_blocks(m: Machine, x: Array) -> dict[str, Kronecker]:
    """The Kronecker Gauss-Newton block of every layer for the batch x, from one forward and one factor sweep
    (a chain of dense layers: the blocks are per dense junction)."""
    ids = cells.dense_chain(m, "the Kronecker curvature (KFAC)")
    xp = namespace(x)
    wb = cells.read(m)
    sweep = cells.forward_sweep(m, x, wb)
    batch = x.shape[0]
    factor = output_factor(m.loss.name, cells.output(m, sweep.s[ids[-1]]))
    blocks: dict[str, Kronecker] = {}
    for index in range(len(ids) - 1, -1, -1):
        n = ids[index]
        d = cells.slope(m, n, sweep.pre[n], sweep.out[n])[:, :, None] * factor
        flat = xp.reshape(xp.transpose(d, (1, 0, 2)), (d.shape[1], -1))
        g = flat @ flat.T / batch
        tilde = xp.concatenate([sweep.ins[n][0], xp.ones((batch, 1), dtype=x.dtype)], axis=1)
        blocks[n] = Kronecker(tilde.T @ tilde / batch, g)
        if index > 0:
            # NOTE: the factor's columns travel down as backward waves: W^T D = (D^T W)^T
            factor = cells.backward_product(wb[n][0], d.swapaxes(-1, -2)).swapaxes(-1, -2)
    return {n: blocks[n] for n in ids}


def newton_direction(blocks: Mapping[str, Kronecker], grads: Grads, damping: float) -> Grads:
    """-(A (x) G + damping)^-1 g per layer, with the damping split as (A + sqrt(d) I) (x) (G + sqrt(d) I)."""
    steps: Grads = {}
    for n, (dW, db) in grads.items():
        block = blocks[n]
        xp = namespace(dW)
        shift = damping**0.5
        a = block.a + shift * xp.eye(block.a.shape[0], dtype=dW.dtype)
        g = block.g + shift * xp.eye(block.g.shape[0], dtype=dW.dtype)
        tilde = xp.concatenate([dW, db[:, None]], axis=1)
        # NOTE: H = A (x) G acts on W~ as G W~ A, so its inverse is G^-1 W~ A^-1 (A, G symmetric)
        left = _solve(xp, g, tilde)
        step = -_solve(xp, a, left.T).T
        steps[n] = (step[:, :-1], step[:, -1])
    return steps


def _solve(xp: Any, matrix: Array, rhs: Array) -> Array:
    try:
        return xp.linalg.solve(matrix, rhs)
    except xp.linalg.LinAlgError:
        # NOTE: an undamped block is singular when the batch is smaller than the layer; the pseudo-inverse keeps
        # the Newton step on the row space, the minimum-norm choice
        return xp.linalg.pinv(matrix) @ rhs
