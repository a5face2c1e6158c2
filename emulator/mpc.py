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
from typing import Any, Mapping

import numpy as np

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.graph import INPUT
from wavetrain.compiler.network import Network
from wavetrain.emulator import cells, ops
from wavetrain.emulator.kernel import Grads, Machine
from wavetrain.errors import ConfigError

Heads = dict[str, tuple[Array, Array]]  # cut id -> (V_e, c_e), every cut but the output; V_e (n_out, n_e)


def check_horizon(h: Any, depth: int) -> int:
    """h as an int in [1, K], K the segments (a chain's L layers, a residual network's blocks), or a ConfigError."""
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or not 1 <= h <= depth:
        raise ConfigError(
            f"horizon h: expected an integer 1 <= h <= L = {depth} segments (the layers of a chain, the blocks "
            f"between a graph's cuts; h = L is backprop, h = 1 local learning), got {h!r}"
        )
    return int(h)


def random_heads(net: Network, seed: int = 0) -> Heads:
    """Glorot-initialised linear heads from every cut but the output (every hidden layer of a chain; the block
    outputs of a residual network) to the output width, zero biases; a head reads its cut's wave flattened."""
    rng = np.random.default_rng(seed)
    g = net.graph
    n_out = net.n_outputs
    heads: Heads = {}
    for c in g.cuts[:-1]:
        n = int(np.prod(g.shape[c]))
        heads[c] = (rng.normal(0.0, np.sqrt(2.0 / (n + n_out)), size=(n_out, n)), np.zeros(n_out))
    return heads


def mpc_gradients(
    m: Machine, heads: Mapping[str, tuple[Array, Array]], x: Array, t: Array, h: int
) -> tuple[Grads, Heads, Array]:
    """(node grads g^h keyed by id, head grads keyed by cut id, per-sample output loss) for horizon h, streaming with
    a window of h segments (layers of a chain, blocks of a residual network: the nodes between consecutive cuts of
    the graph).

    Segment j is trained on the loss at the cut that ends segment min(j + h - 1, K): the head there (the network's
    own loss at the output), whose backward wave crosses h segments and is read only by the farthest one (every one
    at the output). A local head is an ideal linear junction beside the chip; the nodes run on the substrate.
    """
    g = m.graph
    segments = g.segments()
    count = len(segments)
    h = check_horizon(h, count)
    cuts = [seg[-1] for seg in segments]
    if not isinstance(heads, Mapping) or sorted(heads) != sorted(cuts[:-1]):
        got = sorted(heads) if isinstance(heads, Mapping) else type(heads).__name__
        raise ConfigError(f"mpc: expected heads at the cuts {cuts[:-1]} (every cut before the output), got {got}")
    xp = namespace(x)
    reads = cells.read(m)
    grads: Grads = {}
    head_grads: dict[str, Any] = {}
    window: deque = deque(maxlen=h)
    waves = {INPUT: cells.clamp(m, x)}
    readers = {p: len(g.succs[p]) for p in waves}  # NOTE: a wave is dropped once its last reader took it, so the
    # activation memory is the window's alone (T10 measures it)
    for e in range(1, count + 1):
        cache = {}
        for n in segments[e - 1]:
            ins = cells.inputs(m, n, waves)
            for p in g.preds[n]:
                readers[p] -= 1
                if not readers[p]:
                    del waves[p]
            a = cells.junction(m, n, ins, reads)
            out = cells.nonlinearity(m, n, a)
            cache[n] = (ins, a, out)
            s = cells.carry(m, n, out, "forward")
            if g.succs[n]:
                waves[n] = cells.send(m, n, s)
                readers[n] = len(g.succs[n])
        window.append((segments[e - 1], cache))
        if e < count and e < h:
            continue
        cut = cuts[e - 1]
        if e == count:
            y = cells.output(m, s)
            pending: dict[str, list[Array]] = {cut: [cells.load(m, y, t)]}
            last = max(1, count - h + 1)
        else:
            # NOTE: the local heads are training scaffolding beside the chip, not devices on it: ideal products
            V, c = heads[cut]
            shape = g.shape[cut]
            read = ops.flatten_forward(waves[cut], shape)  # NOTE: the cut's wave waits for the next segment
            a = read @ V.swapaxes(-1, -2) + c[..., None, :]
            err = m.loss.grad(a, t) / a.shape[-2]
            head_grads[cut] = (ops.outer_product(err, read), err.sum(axis=-2))
            pending = {cut: [ops.flatten_backward(cells.backward_product(V, err), shape)]}
            last = e - h + 1
        inside = {n for seg, _ in list(window)[len(window) - (e - last + 1) :] for n in seg}
        # NOTE: each wave is held once, in pending until its node takes it (the activation memory T10 measures)
        for j in range(e, last - 1, -1):
            seg, cache = window[j - e - 1]
            for n in reversed(seg):
                lam_n = cells.carry(m, n, cells.gather(pending, n), "backward")
                del pending[n]
                ins, a, out = cache[n]
                delta = cells.sensitivity(m, n, a, out, lam_n)
                if n in m.params and (j == last or e == count):
                    grads[n] = cells.readout(m, n, delta, ins)
                if any(p in inside for p in g.preds[n]):
                    for p, wave in cells.back(m, n, delta, reads, ins).items():
                        if p in inside:
                            pending.setdefault(p, []).append(wave)
    for cut in cuts[:-1]:
        if cut not in head_grads:
            # NOTE: heads below depth h end no horizon, yet still learn to read their depth (their local loss)
            V, c = heads[cut]
            head_grads[cut] = (xp.zeros_like(V), xp.zeros_like(c))
    return {n: grads[n] for n in g.parametric}, {c: head_grads[c] for c in cuts[:-1]}, cells.cost(m, y, t)


def deviation(grads: Any, reference: Any) -> float:
    """D = 1 - cos^2 between the stacked gradients and a reference (backprop): 0 when they are parallel."""
    grads = list(grads.values()) if isinstance(grads, dict) else grads
    reference = list(reference.values()) if isinstance(reference, dict) else reference
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

    def check(self, graph: Any) -> None:
        """The horizon counts segments (the blocks between cuts): h must be 1..the number of segments."""
        check_horizon(self.h, len(graph.cuts))

    def step(self, m: Machine, x: Array, t: Array, port: Any) -> Array:
        """Truncated-horizon gradients into the port, SGD on the heads; returns the per-sample output loss."""
        check_horizon(self.h, len(m.graph.cuts))
        if self.heads is None:
            self.heads = random_heads(m.network, self.seed)
        grads, head_grads, loss = mpc_gradients(m, self.heads, x, t, self.h)
        port.step(m, grads)
        for cut, (dV, dc) in head_grads.items():
            V, c = self.heads[cut]
            # NOTE: the heads are ideal digital scaffolding: plain SGD, no substrate
            V += -self.head_lr * dV
            c += -self.head_lr * dc
        return loss
