"""MPC horizon training (Ren & Li; spec sections 4.2-4.4): the backward wave truncated after h layers.

Layer l (1-based) is trained on the loss at depth e = min(l + h - 1, L): a local head l_e(s_e) = C(V_e s_e + c_e, t)
for e < L, the network's own loss at e = L. The sensitivity restarts at each head and travels back h layers only:
    g_l^h = (d F_l / d theta_l)^T p_l^(h),   p_e^(h) = grad l_e(s_e),   p_{j-1}^(h) = J_j^T p_j^(h)   (j > e - h + 1)
h = L is backprop exactly (every layer's end is the output, T10); h = 1 trains each layer on its own head.

The implementation streams: the forward pass keeps a sliding window of the last h layers' (input, pre-activation)
and, at each depth that ends a horizon, sends one truncated backward wave through the window. So the activation
memory is h layers, M(h) ~ a h + b, measured with tracemalloc in :func:`measure_memory`.
"""

from __future__ import annotations

import tracemalloc
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.network import Network
from wavetrain.emulator import cells
from wavetrain.emulator.kernel import Grads, Machine
from wavetrain.emulator.substrate import IDEAL
from wavetrain.errors import ConfigError

Heads = list[tuple[Array, Array]]  # (V_e, c_e) for depths e = 1..L-1; V_e has shape (n_out, n_e)


def check_horizon(h: Any, depth: int) -> int:
    """h as an int in [1, L], or a ConfigError saying why."""
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or not 1 <= h <= depth:
        raise ConfigError(
            f"horizon h: expected an integer 1 <= h <= L = {depth} (h = L is backprop, h = 1 local learning), got {h!r}"
        )
    return int(h)


def random_heads(net: Network, seed: int = 0) -> Heads:
    """Glorot-initialised linear heads from every hidden depth to the output width, zero biases."""
    rng = np.random.default_rng(seed)
    n_out = net.sizes[-1]
    return [(rng.normal(0.0, np.sqrt(2.0 / (n + n_out)), size=(n_out, n)), np.zeros(n_out)) for n in net.sizes[1:-1]]


def head_machine(m: Machine, heads: Sequence[tuple[Array, Array]]) -> Machine:
    """The local heads as a bare stack of ideal linear junctions beside the chip, with the network's loss."""
    return Machine(heads, (), m.loss, IDEAL)


def mpc_gradients(
    m: Machine, heads: Sequence[tuple[Array, Array]], x: Array, t: Array, h: int
) -> tuple[Grads, Grads, Array]:
    """(layer grads g^h, head grads, per-sample output loss) for horizon h, streaming with an h-layer window.

    A local head is an ideal linear junction beside the chip; the layers run on the machine's substrate.
    """
    depth = m.depth
    h = check_horizon(h, depth)
    if len(heads) != depth - 1:
        raise ConfigError(f"mpc: expected {depth - 1} heads (one per hidden depth), got {len(heads)}")
    xp = namespace(x)
    # NOTE: the local heads are training scaffolding beside the chip, not devices on it: ideal linear junctions
    head = head_machine(m, heads)
    reads = cells.read(m)
    grads: Grads = [None] * depth  # type: ignore[list-item]
    head_grads: Grads = [None] * (depth - 1)  # type: ignore[list-item]
    window: deque = deque(maxlen=h)
    s = cells.clamp(m, x)
    for e in range(1, depth + 1):
        wb = reads[e - 1]
        a = cells.junction(m, e - 1, s, wb)
        out = cells.nonlinearity(m, e - 1, a)
        window.append((s, a, out, wb[0]))
        s = cells.carry(m, e - 1, out, "forward")
        if e < depth:
            s = cells.send(m, e - 1, s)
        if e < depth and e < h:
            continue
        if e == depth:
            y = cells.output(m, s)
            lam = cells.carry(m, depth - 1, cells.load(m, y, t), "backward")
            last = max(1, depth - h + 1)
        else:
            hw = heads[e - 1]
            err = cells.load(head, cells.junction(head, e - 1, s, hw), t)
            head_grads[e - 1] = cells.readout(head, e - 1, err, s)
            lam = cells.carry(m, e - 1, cells.back(head, e, err, hw[0]), "backward")
            last = e - h + 1
        for j in range(e, last - 1, -1):
            s_in, a_j, out_j, W_j = window[j - e - 1]
            delta = cells.sensitivity(m, j - 1, a_j, out_j, lam)
            if j == last or e == depth:
                grads[j - 1] = cells.readout(m, j - 1, delta, s_in)
            if j > last:
                lam = cells.carry(m, j - 2, cells.back(m, j - 1, delta, W_j), "backward")
    for e in range(1, depth):
        if head_grads[e - 1] is None:
            # NOTE: heads below depth h end no horizon, yet still learn to read their depth (their local loss)
            V, c = heads[e - 1]
            head_grads[e - 1] = (xp.zeros_like(V), xp.zeros_like(c))
    return grads, head_grads, cells.cost(m, y, t)


def deviation(grads: Grads, reference: Grads) -> float:
    """D = 1 - cos^2 between the stacked gradients and a reference (backprop): 0 when they are parallel."""
    a = np.concatenate([np.ravel(np.asarray(p)) for pair in grads for p in pair])
    r = np.concatenate([np.ravel(np.asarray(p)) for pair in reference for p in pair])
    cos = float(a @ r) / (float(np.linalg.norm(a)) * float(np.linalg.norm(r)))
    return max(0.0, 1.0 - cos * cos)


def measure_memory(net: Network, heads: Heads, x: Array, t: Array, h: int) -> int:
    """Peak bytes allocated (tracemalloc) while computing the horizon-h gradients of one batch."""
    m = Machine.of(net)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        mpc_gradients(m, heads, x, t, h)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


@dataclass(frozen=True)
class HorizonModel:
    """M(h) = a h + b (bytes) and D(h) = c (1 - h/T)^3 (spec section 4.4)."""

    depth: int  # T
    a: float
    b: float
    c: float

    def memory(self, h: float) -> float:
        return self.a * h + self.b

    def deviation(self, h: float) -> float:
        return self.c * (1.0 - h / self.depth) ** 3


def fit_horizon_model(depth: int, memory_at: dict[int, float], deviation_at: tuple[int, float]) -> HorizonModel:
    """Fit M from two or more (h, bytes) profiles (least squares) and C from one (h, D) measurement with h < T."""
    if len(memory_at) < 2:
        raise ConfigError(f"fit_horizon_model: expected memory at >= 2 horizons, got {len(memory_at)}")
    hs = np.array(sorted(memory_at), dtype=float)
    a, b = np.polyfit(hs, [memory_at[int(h)] for h in hs], 1)
    h0, d0 = deviation_at
    if not 1 <= h0 < depth:
        raise ConfigError(f"fit_horizon_model: deviation must be measured at 1 <= h < T = {depth}, got h = {h0}")
    return HorizonModel(depth, float(a), float(b), float(d0) / (1.0 - h0 / depth) ** 3)


def select_horizon(
    model: HorizonModel, budget: float | None = None, tolerance: float | None = None, weight: float | None = None
) -> int:
    """The horizon for exactly one objective: memory budget (largest h with M <= budget), accuracy tolerance
    (smallest h with D <= tolerance) or weighted (argmin D(h) + weight M(h); continuum optimum
    h* = T (1 - sqrt(weight a T / (3 C))))."""
    given = [name for name, v in (("budget", budget), ("tolerance", tolerance), ("weight", weight)) if v is not None]
    if len(given) != 1:
        raise ConfigError(f"select_horizon: expected exactly one of budget, tolerance, weight, got {given or 'none'}")
    hs = range(1, model.depth + 1)
    if budget is not None:
        fits = [h for h in hs if model.memory(h) <= budget]
        if not fits:
            raise ConfigError(f"select_horizon: budget {budget:.0f} B is below M(1) = {model.memory(1):.0f} B")
        return max(fits)
    if tolerance is not None:
        return min(h for h in hs if model.deviation(h) <= tolerance)
    cost = float(weight)  # type: ignore[arg-type]  # NOTE: exactly one objective was given; it is the weight
    return min(hs, key=lambda h: model.deviation(h) + cost * model.memory(h))


@dataclass
class Mpc:
    """Method 'mpc': horizon-h truncated sensitivities; the heads learn their local losses by SGD at ``head_lr``."""

    h: int
    head_lr: float = 0.05
    seed: int = 0
    name: str = ""
    heads: Heads | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.h, bool) or not isinstance(self.h, (int, np.integer)) or self.h < 1:
            raise ConfigError(f"Mpc: horizon h must be an integer >= 1, got {self.h!r}")
        self.name = self.name or f"mpc(h={self.h})"

    def step(self, m: Machine, x: Array, t: Array, port: Any) -> Array:
        """Truncated-horizon gradients into the port, SGD on the heads; returns the per-sample output loss."""
        check_horizon(self.h, m.depth)
        if self.heads is None:
            self.heads = random_heads(m.network, self.seed)
        grads, head_grads, loss = mpc_gradients(m, self.heads, x, t, self.h)
        port.step(m, grads)
        cells.update(head_machine(m, self.heads), [(-self.head_lr * dV, -self.head_lr * dc) for dV, dc in head_grads])
        return loss
