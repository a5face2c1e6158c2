"""Forward-gradient estimators (Wang, Markou & Campbell; spec sections 3.2-3.3): no backward wave at all.

For hidden layer i with pre-activation a_i, a guess u is pushed forward as a tangent (one JVP per layer) and the
loss's directional derivative d = <delta_i, u> is read at the output; the estimate is g^_a = d u and
g^_W = g^_a^T s_{i-1}. Guesses u = M eps, eps ~ N(0, I), with M from the downstream weight W_{i+1} (out x in):

  isotropic       M = I                                   unbiased, E|cos| ~ sqrt(2 / (pi n))
  wt              M = W_{i+1}^T                          biased by the Gram matrix W^T W (Singhal et al.)
  wperp           M = V_k, W_{i+1} = U S V^T (top k)     E[u u^T] = V_k V_k^T = P_k, an orthogonal projector
  wperp_ns        M = Newton-Schulz orthonormalised (W^T W)^q Omega (k columns): wperp without an SVD
  preconditioned  u = W^T eps, g^_a = d (W^T W)^+ u      E[g^] = P delta (bias-free on the row space), high variance

The paper's J_{i+1} = W_{i+1} diag(sigma'(a_i)) is per sample; here the subspace comes from W_{i+1} alone (one SVD per
layer per step, shared by the batch: the "W~" of the paper's name). The paper's exact Newton-Schulz coefficients were
not retrieved; ours are the cubic 1.5 X - 0.5 X X^T X on q = 2 block-power steps. The output layer's gradient is local
to the loss load (no wave needed), so every family reads it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array, namespace
from wavetrain.emulator import cells
from wavetrain.emulator.kernel import Grads, Machine
from wavetrain.errors import ConfigError

FAMILIES = ("isotropic", "wt", "wperp", "wperp_ns", "preconditioned")
POWER_STEPS = 2
NS_STEPS = 12


def newton_schulz(x: Array, steps: int = NS_STEPS) -> Array:
    """Orthonormalise the columns of x (its polar factor) by the cubic Newton-Schulz iteration."""
    x = x / namespace(x).linalg.norm(x)
    for _ in range(steps):
        x = 1.5 * x - 0.5 * x @ (x.T @ x)
    return x


def guess_basis(W_next: Array, family: str, k: int | None, rng: np.random.Generator) -> tuple[Array, Array | None]:
    """(M, R): guesses are u = M eps; R (or None) maps d u to the estimate (the preconditioner (W^T W)^+)."""
    xp = namespace(W_next)
    width = W_next.shape[1]
    if family not in FAMILIES:
        raise ConfigError(f"forward gradient: family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if family in ("wperp", "wperp_ns"):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= width:
            raise ConfigError(
                f"forward gradient {family}: expected an integer 1 <= k <= width = {width}, got k = {k!r}"
            )
        k = min(int(k), min(W_next.shape))  # NOTE: the subspace cannot exceed rank(W_{i+1})
    if family == "isotropic":
        return xp.eye(width, dtype=W_next.dtype), None
    if family == "wt":
        return W_next.T, None
    if family == "preconditioned":
        return W_next.T, xp.linalg.pinv(W_next.T @ W_next)
    if family == "wperp":
        _, _, vt = xp.linalg.svd(W_next, full_matrices=False)
        return vt[:k].T, None
    gram = W_next.T @ W_next
    block = xp.asarray(rng.standard_normal((width, int(k))))  # type: ignore[arg-type]  # NOTE: k checked above
    for _ in range(POWER_STEPS):
        block = gram @ block
    return newton_schulz(block), None


def estimate(
    m: Machine, x: Array, t: Array, family: str, k: int | None, rng: np.random.Generator
) -> tuple[Grads, Array]:
    """Forward-gradient estimate of every layer's gradient (mean batch loss) and the per-sample loss."""
    ids = cells.dense_chain(m, "the forward gradient (guesses from the next layer's W)")
    xp = namespace(x)
    depth, batch = len(ids), x.shape[0]
    wb = cells.read(m)
    sweep = cells.forward_sweep(m, x, wb)
    slopes = [cells.slope(m, n, sweep.pre[n], sweep.out[n]) for n in ids]
    y = cells.output(m, sweep.s[ids[-1]])
    out_grad = cells.load(m, y, t)
    grads: Grads = {}
    for i in range(depth - 1):
        basis, precondition = guess_basis(wb[ids[i + 1]][0], family, k, rng)
        u = xp.asarray(rng.standard_normal((batch, basis.shape[1]))) @ basis.T
        tangent = slopes[i] * u
        for j in range(i + 1, depth):
            # NOTE: the tangent is a forward wave through layer j's devices: a crossbar read like the junction's
            product = cells.forward_product(wb[ids[j]][0], tangent)
            tangent = slopes[j] * m.substrate.crossbar(product, tangent, ids[j], "forward")
        d = (tangent * out_grad).sum(axis=-1, keepdims=True)  # one JVP: the loss's derivative along u
        ghat = d * (u @ precondition.T if precondition is not None else u)
        grads[ids[i]] = cells.readout(m, ids[i], ghat, sweep.ins[ids[i]])
    delta = slopes[-1] * out_grad
    grads[ids[-1]] = cells.readout(m, ids[-1], delta, sweep.ins[ids[-1]])
    return grads, cells.cost(m, y, t)


@dataclass
class ForwardGradient:
    """Method 'forward:<family>': one forward pass plus one JVP per hidden layer, no backward wave."""

    family: str = "wperp"
    k: int | None = 10
    seed: int = 0
    name: str = ""
    rng: np.random.Generator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"ForwardGradient: family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if not self.name:
            rank = f"(k={self.k})" if self.family in ("wperp", "wperp_ns") else ""
            self.name = f"forward:{self.family}{rank}"
        self.rng = np.random.default_rng(self.seed)

    def check(self, graph: Any) -> None:
        """Refuse a graph this rule is not defined on, before any work (the guesses read the next layer's W)."""
        problem = cells.chain_problem(graph, f"the forward gradient {self.name}")
        if problem:
            raise ConfigError(problem + "; W-perp needs one next layer W_{l+1} per layer")

    def step(self, m: Machine, x: Array, t: Array, port: Any) -> Array:
        """Estimate the gradient by forward-mode guesses, step the port, return the per-sample loss."""
        assert self.rng is not None  # NOTE: made in __post_init__ (or restored from a checkpoint)
        grads, loss = estimate(m, x, t, self.family, self.k, self.rng)
        port.step(m, grads)
        return loss


def expected_abs_cos(k: int, captured: float = 1.0) -> float:
    """Closed form E|cos(g^, g)| = (|P g| / |g|) Gamma(k/2) / (sqrt(pi) Gamma((k+1)/2)) for a rank-k projector."""
    from math import exp, lgamma, pi, sqrt

    return captured * exp(lgamma(k / 2) - lgamma((k + 1) / 2)) / sqrt(pi)


def cosine_by_layer(m: Machine, x: Array, t: Array, family: str, k: int | None, draws: int, seed: int = 0) -> float:
    """Mean |cos| between a single-sample guess estimate and the true per-sample delta, over hidden layers and draws."""
    rng = np.random.default_rng(seed)
    ids = cells.dense_chain(m, "the forward-gradient cosine")
    depth = len(ids)
    wb = cells.read(m)
    sweep = cells.forward_sweep(m, x, wb)
    y = cells.output(m, sweep.s[ids[-1]])
    # NOTE: per-sample deltas: the load's wave times the batch (the cosine is scale-free; kept for the same numbers)
    last = ids[-1]
    delta = cells.sensitivity(m, last, sweep.pre[last], sweep.out[last], m.loss.grad(y, t))
    deltas = [delta]
    for i in range(depth - 2, -1, -1):
        n, above = ids[i], ids[i + 1]
        lam = cells.back(m, above, delta, wb, sweep.ins[above])[n]
        delta = cells.sensitivity(m, n, sweep.pre[n], sweep.out[n], lam)
        deltas.insert(0, delta)
    values = []
    for i in range(depth - 1):
        fixed = None if family == "wperp_ns" else guess_basis(wb[ids[i + 1]][0], family, k, rng)
        for _ in range(draws):
            basis, precondition = fixed or guess_basis(wb[ids[i + 1]][0], family, k, rng)
            u = rng.standard_normal((x.shape[0], basis.shape[1])) @ basis.T
            d = (deltas[i] * u).sum(axis=1, keepdims=True)
            ghat = d * (u @ precondition.T if precondition is not None else u)
            norms = np.linalg.norm(ghat, axis=1) * np.linalg.norm(deltas[i], axis=1)
            values.append(np.abs((ghat * deltas[i]).sum(axis=1)) / np.maximum(norms, 1e-300))
    return float(np.mean(values))
