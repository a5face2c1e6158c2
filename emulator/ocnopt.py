"""OCNOpt / DDP training with layer-wise feedback policies (Liu, Chen & Theodorou; spec section 5.2).

Layer t: x_{t+1} = f_t(x_t, u_t) = sigma(W_t x_t + b_t), control u_t = (W_t, b_t), value V_T = Phi (the mean batch
loss). The backward sweep expands the Bellman equation to second order and returns, per layer, the policy
    du_t = k_t + K_t dx_t,   k_t = -Q_uu^-1 Q_u,   K_t = -Q_uu^-1 Q_ux,
    Q_x = f_x^T V'_x (the backprop costate),  Q_u = f_u^T V'_x (the backprop gradient),  V_x = Q_x - Q_ux^T Q_uu^-1 Q_u.

Curvature options (``quu``):
  identity   Q_uu = I / alpha, Q_ux = 0, V_xx = 0: du = -alpha Q_u, V_x = Q_x; bit for bit SGD on backprop (T12)
  kfac       Q_uu = A (x) G + damping with V_xx propagated as Gauss-Newton (emulator.curvature); one linear layer
             under mse makes it the exact Hessian, so the step is Newton's (T13)
Feedback (``feedback`` > 0) uses DDPNOpt's outer-product value Hessian V'_xx ~ V'_x V'_x^T, for which
Q_ux ~ Q_u Q_x^T and K_t dx_t = k_t (Q_x . dx_t), summed over the batch. It needs a second, sequential forward pass:
x^_0 = x_0, du_t = k_t + feedback K_t (x^_t - x_t), x^_{t+1} = f_t(x^_t, u_t + du_t). The optimizer is its own port,
so the ``port`` that ``train`` passes is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wavetrain.compiler.functions import Array
from wavetrain.emulator import cells
from wavetrain.emulator.curvature import kfac_blocks, newton_direction
from wavetrain.emulator.kernel import Grads, Machine
from wavetrain.errors import ConfigError

QUU = ("identity", "kfac")


@dataclass(frozen=True, eq=False)
class Sweep:
    """The backward sweep: open-loop steps k_t, costates Q_x per layer input (batch rows), nominal states, loss."""

    k: Grads
    costate: list[Array]  # V_x at x_t for t = 0..L (index L: the output), already including the 1/batch
    states: list[Array]  # x_0..x_L of the nominal forward pass
    loss: Array


def backward_sweep(m: Machine, x: Array, t: Array, quu: str, alpha: float, damping: float) -> Sweep:
    """Second-order DDP backward sweep with Q_ux from the outer-product model folded into the feedback (see module)."""
    ids = cells.dense_chain(m, "OCNOpt (layer-wise DDP)")
    wb = cells.read(m)
    forward = cells.forward_sweep(m, x, wb)
    y = cells.output(m, forward.s[ids[-1]])
    v_x = cells.carry(m, ids[-1], cells.load(m, y, t), "backward")
    costate = [v_x]
    q_u: Grads = {}
    for index in range(len(ids) - 1, -1, -1):
        n = ids[index]
        delta = cells.sensitivity(m, n, forward.pre[n], forward.out[n], v_x)
        q_u[n] = cells.readout(m, n, delta, forward.ins[n])
        # NOTE: V_x = Q_x - Q_ux^T Q_uu^-1 Q_u; with the outer-product model that correction is rank one along Q_x
        # and is what the feedback term applies, so the costate sent down is Q_x (Theorem 1: backprop's recursion)
        if index > 0:
            v_x = cells.carry(
                m, ids[index - 1], cells.back(m, n, delta, wb, forward.ins[n])[ids[index - 1]], "backward"
            )
        else:  # NOTE: the costate of the input x_0 (nothing receives it: no backward boundary)
            v_x = m.substrate.crossbar(cells.backward_product(wb[n][0], delta), delta, n, "backward")
        costate.insert(0, v_x)
    q_u = {n: q_u[n] for n in ids}
    if quu == "identity":
        k = {n: (-(alpha * gW), -(alpha * gb)) for n, (gW, gb) in q_u.items()}
    else:
        blocks = kfac_blocks(m, x)
        k = {n: (alpha * sW, alpha * sb) for n, (sW, sb) in newton_direction(blocks, q_u, damping).items()}
    states = [forward.ins[n][0] for n in ids] + [forward.s[ids[-1]]]
    return Sweep(k, costate, states, cells.cost(m, y, t))


@dataclass
class OCNOpt:
    """Method 'ocnopt': DDP policies per layer; ``alpha`` is 1/Q_uu (identity) or the Newton step length (kfac)."""

    alpha: float = 0.05
    quu: str = "identity"
    damping: float = 1e-3
    feedback: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.quu not in QUU:
            raise ConfigError(f"OCNOpt: quu must be one of {', '.join(QUU)}, got {self.quu!r}")
        if not isinstance(self.alpha, (int, float)) or not self.alpha > 0:
            raise ConfigError(f"OCNOpt: alpha must be > 0, got {self.alpha!r}")
        if not isinstance(self.damping, (int, float)) or self.damping < 0:
            raise ConfigError(f"OCNOpt: damping must be >= 0, got {self.damping!r}")
        if not isinstance(self.feedback, (int, float)) or self.feedback < 0:
            raise ConfigError(f"OCNOpt: feedback gain must be >= 0, got {self.feedback!r}")
        self.name = self.name or f"ocnopt({self.quu}{', feedback' if self.feedback else ''})"

    def check(self, graph: Any) -> None:
        """Refuse a graph this rule is not defined on, before any work (DDP over a chain of layer stages)."""
        problem = cells.chain_problem(graph, f"{self.name} (layer-wise DDP)")
        if problem:
            raise ConfigError(problem)

    def step(self, m: Machine, x: Array, t: Array, port: Any = None) -> Array:
        """One DDP iteration in place (backward sweep, then the feedback forward pass); returns per-sample loss."""
        sweep = backward_sweep(m, x, t, self.quu, self.alpha, self.damping)
        if self.feedback == 0.0:
            cells.update(m, sweep.k)
            return sweep.loss
        state = cells.clamp(m, x)
        ids = list(sweep.k)
        for index, (n, (kW, kb)) in enumerate(sweep.k.items()):
            # NOTE: K dx = k (Q_x . dx): the outer-product value Hessian makes the feedback gain a scalar per layer
            gain = 1.0 + self.feedback * float((sweep.costate[index] * (state - sweep.states[index])).sum())
            cells.update_node(m, n, (gain * kW, gain * kb))
            out = cells.nonlinearity(m, n, cells.junction(m, n, [state], {n: cells.read_node(m, n)}))
            state = cells.send(m, n, cells.carry(m, n, out, "forward")) if index < len(ids) - 1 else out
        return sweep.loss
