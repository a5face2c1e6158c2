"""The pipelined library-process machine: one sample enters every timestep, the host-side port updates every
``batch`` timesteps (a learning epoch, Loihi's t_epoch), in the arithmetic of :mod:`wavetrain.emulator.loihi2`.

This is the schedule the ``loihi2`` target runs on Lava (targets/lava/library.py), written in the chip's own time:
every synapse takes one timestep (a DelayDense 1 + its delay), every graded neuron none. Sample i of an epoch enters
at timestep i + 1 and

  the forward synapses of node m compute it at   T_f(i, m) = i + level(m)           (F_m holds s_m at T_f + 1)
  its sensitivity delta_m is formed at           T_b(i, m) = i + 2D + 4 - level(m)  (3 timesteps of loss path:
                                                 Dense y, the error neuron E = y - t, a DelayDense of delay 1)
  sigma'(a_m) waits on a DelayDense stash of     2 (D - level(m)) + 2 timesteps, so it meets lam_m of its sample

so every quantity belongs to exactly one sample and samples couple only through the weights. A product uses the
weights in place at the timestep it is computed: the port writes at the end of timestep wB (Lava's post-management
phase, through RefPorts), and synapses compute with them from timestep wB + 1 on. A sample's forward products thus
use older weights than its backward ones (the weight staleness of pipelined backprop); with frozen weights the port
reads the exact sum of the per-sample gradients of the fixed-point machine.

An epoch streams its n samples and then drains for 2D + 2 timesteps (no input), so that its last samples are learned
and the epoch's weights are well defined; its last learning epoch may be shorter than ``batch`` (the port still
divides by ``batch``: lr is per sample, lr / batch). Samples that do not exist (the fill and the drain) compute on
the chip but the port ignores them; here they are not computed at all.

Because samples never mix, each learning epoch is computed as matrix products over its rows, node by node: forward
in topological order, backward in reverse; the readout is summed in int64 (exact), as the host port sums it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from wavetrain.compiler.graph import INPUT
from wavetrain.emulator import cells, ops
from wavetrain.emulator.loihi2 import LOSS_LATENCY, LoihiLibrary, check_library, mantissas, port_step, quantize_targets
from wavetrain.errors import ConfigError


def epoch_length(depth: int, n: int) -> int:
    """Timesteps of one epoch of n samples: n, then the drain until the last sample's gradient reaches level 1."""
    return n + 2 * depth + LOSS_LATENCY - 1


def backward_lag(depth: int, level: int) -> int:
    """Timesteps from a sample's entry (T = i + 1) to its sensitivity at a node of this level: T_b = i + 1 + lag."""
    return 2 * depth + LOSS_LATENCY - level


def epoch_orders(n: int, epochs: int, seed: int | None) -> list[np.ndarray]:
    """Each epoch's sample order: numpy.random.default_rng(seed).permutation(n) per epoch, or in order (None)."""
    if seed is None:
        return [np.arange(n) for _ in range(epochs)]
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def window_ends(length: int, batch: int | None) -> list[int]:
    """The timesteps (epoch-local) after which the port updates: every ``batch``, and the epoch's last."""
    if batch is None:
        return [length]
    ends = list(range(batch, length, batch))
    return [*ends, length]


@dataclass
class Stream:
    """What a stream of epochs gave: per-sample outputs (stream order), per-epoch mean loss, the parameters after
    every epoch, and the port's readout summed over the last learning epoch (frozen weights: the whole epoch)."""

    outputs: list[np.ndarray] = field(default_factory=list)  # per epoch, (n, outputs) in that epoch's order
    loss: list[float] = field(default_factory=list)
    params: list[dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)
    grads: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    updates: int = 0
    timesteps: int = 0
    seconds: float = 0.0


SCHEDULES = ("pipelined", "minibatch")


def run_stream(
    net: Any,
    sub: LoihiLibrary | None,
    x: Any,
    y: Any,
    epochs: int = 1,
    batch: int | None = None,
    lr: float = 0.0,
    momentum: float = 0.0,
    seed: int | None = None,
    callback: Callable[[int, Stream], None] | None = None,
    schedule: str = "pipelined",
    recalibrate: Callable[[Any], LoihiLibrary] | None = None,
) -> Stream:
    """Stream (x, y) through the library machine ``epochs`` times (shuffled per epoch with ``seed``, or in order),
    updating ``net``'s parameters in place every ``batch`` timesteps with lr > 0 (heavy ball, ``momentum``); with
    lr = 0 (or batch None) the weights stay frozen and ``grads`` is the exact readout summed over the epoch.

    Two controls separate what the chip's arithmetic does from what its schedule does: ``sub`` None runs the same
    schedule in float64 (the ideal substrate; the port's readout and update in float, no rounding), and ``schedule``
    "minibatch" relaxes each learning epoch's ``batch`` samples on the weights of its start, forward and backward,
    with no pipeline (no staleness, no fill or drain): in float64 it is textbook minibatch backprop with the
    heavy-ball port, :func:`wavetrain.emulator.train.train`'s dyadic run of the same order (tested).

    ``recalibrate(net)``, called between epochs, returns new formats (e.g. :func:`calibrate_library` on the trained
    network): the host then moves every weight and bias onto its new grid (nearest, saturating), as it would by
    rewriting the synapses and their ``weight_exp`` between two runs; the velocity and the generators carry over."""
    if schedule not in SCHEDULES:
        raise ConfigError(f"stream: schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    check_library(net, sub, stream=schedule == "pipelined")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"stream: epochs must be an integer >= 0, got {epochs!r}")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ConfigError(f"stream: batch (timesteps per learning epoch) must be an integer >= 1, got {batch!r}")
    if lr < 0 or not 0 <= momentum < 1:
        raise ConfigError(f"stream: expected lr >= 0 and 0 <= momentum < 1, got lr {lr!r}, momentum {momentum!r}")
    x = net.check_input(x).astype(np.float64)
    t = net.targets(y, len(x)).astype(np.float64)
    t = t if sub is None else quantize_targets(sub, net, t)
    g = net.graph
    machine = net.machine(sub)
    if sub is not None:
        sub.reset()
    out = Stream()
    velocity: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    learn = lr > 0 and batch is not None
    pipelined = schedule == "pipelined"
    length = epoch_length(g.depth, len(x)) if pipelined else len(x)
    began = time.perf_counter()
    for e, order in enumerate(epoch_orders(len(x), epochs, seed)):
        losses, grads = _epoch(machine, sub, x[order], t[order], batch if learn else None, lr, momentum, velocity,
                               pipelined)  # fmt: skip
        out.updates += len(window_ends(length, batch)) if learn else 0
        out.timesteps += length
        out.loss.append(float(np.mean(losses[0])) if len(x) else float("nan"))
        out.outputs.append(losses[1])
        out.grads = grads
        out.params.append({n: (W.copy(), b.copy()) for n, (W, b) in machine.params.items()})
        if callback is not None:
            callback(e, out)
        if recalibrate is not None and sub is not None and e + 1 < epochs:
            _recalibrate(net, sub, recalibrate(net))
            machine = net.machine(sub)
    out.seconds = time.perf_counter() - began
    return out


def _epoch(
    m: cells.Machine,
    sub: LoihiLibrary | None,
    xs: np.ndarray,
    ts: np.ndarray,
    batch: int | None,
    lr: float,
    momentum: float,
    velocity: dict[str, tuple[np.ndarray, np.ndarray]],
    pipelined: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    g = m.graph
    n, D = len(xs), g.depth
    exact = sub is None  # NOTE: float64: the readout and the port in float, no mantissas
    inner = {p: ops.internal_shape(g.shape[p]) for p in (INPUT, *g.order)}
    clamped = m.substrate.signal(ops.to_internal(xs, g.input_shape), "input", INPUT)
    s = {p: np.zeros((n, *inner[p])) for p in g.order}
    pre = {p: np.zeros((n, *inner[p])) for p in g.order}
    lam = {p: np.zeros((n, *inner[p])) for p in g.order}
    cost = np.zeros(n)
    kind = np.float64 if exact else np.int64
    zero = {q: (np.zeros(m.params[q][0].shape, kind), np.zeros(m.params[q][1].shape, kind)) for q in m.params}
    acc = {q: (a.copy(), b.copy()) for q, (a, b) in zero.items()}

    def inputs(q: str, rows: slice) -> list[np.ndarray]:
        return [clamped[rows] if p == INPUT else cells.send(m, p, s[p][rows]) for p in g.preds[q]]

    start, last = 0, acc
    for end in window_ends(epoch_length(D, n) if pipelined else n, batch):
        wb = cells.read(m)
        for q in g.order:  # NOTE: forward products at T = i + level, T in (start, end]; minibatch: rows start..end-1
            lead = g.level[q] if pipelined else 1
            rows = _rows(start + 1 - lead, end - lead, n)
            if rows is None:
                continue
            pre[q][rows] = cells.junction(m, q, inputs(q, rows), wb)
            s[q][rows] = cells.nonlinearity(m, q, pre[q][rows])
            if q == g.output:
                y = cells.output(m, s[q][rows])
                lam[q][rows] += m.substrate.signal(m.loss.grad(y, ts[rows]), "error", q)  # one sample: no / batch
                cost[rows] = m.loss.value(y, ts[rows])
        for q in reversed(g.order):  # NOTE: sensitivities at T = i + 1 + 2D + 3 - level, T in (start, end]
            lag = backward_lag(D, g.level[q]) if pipelined else 0
            rows = _rows(start - lag, end - 1 - lag, n)
            if rows is None:
                continue
            ins = inputs(q, rows)
            delta = cells.sensitivity(m, q, pre[q][rows], s[q][rows], lam[q][rows])
            if q in m.params:
                node = g.node(q)
                if sub is None:
                    G, gb = ops.OPS[type(node)].readout(node, delta, [ins[0]])
                else:
                    f = sub.formats[q]
                    G, gb = ops.OPS[type(node)].readout(node, mantissas(delta, f.lam),
                                                        [mantissas(ins[0], sub.in_exp[q])])  # fmt: skip
                acc[q] = (acc[q][0] + G, acc[q][1] + gb)
            if any(p != INPUT for p in g.preds[q]):
                for p, wave in cells.back(m, q, delta, wb, ins).items():
                    lam[p][rows] += wave
        if batch is not None:
            last = dict(acc)
            for q, (W, b) in m.params.items():
                if sub is None:
                    _float_step(q, W, b, acc[q], velocity, lr, momentum, batch)
                    acc[q] = (zero[q][0].copy(), zero[q][1].copy())
                    continue
                f = sub.formats[q]
                G, gb = _grads(acc[q], f.lam + sub.in_exp[q], f.lam)
                k, kb = port_step(sub, q, mantissas(W, f.w), mantissas(b, f.b), G, gb, velocity, lr, momentum, batch)
                W[...] = np.ldexp(k.astype(np.float64), f.w)
                b[...] = np.ldexp(kb.astype(np.float64), f.b)
                acc[q] = (zero[q][0].copy(), zero[q][1].copy())
        start = end
    outputs = ops.to_external(s[g.output], g.shape[g.output])
    acc = last if batch is not None else acc
    if sub is None:
        return (cost, outputs), {q: (acc[q][0], acc[q][1]) for q in m.params}
    grads = {q: _grads(acc[q], sub.formats[q].lam + sub.in_exp[q], sub.formats[q].lam) for q in m.params}
    return (cost, outputs), grads


def _float_step(
    q: str,
    W: np.ndarray,
    b: np.ndarray,
    acc: tuple[np.ndarray, np.ndarray],
    velocity: dict[str, tuple[np.ndarray, np.ndarray]],
    lr: float,
    momentum: float,
    count: int,
) -> None:
    """The heavy-ball port in float64 (:class:`wavetrain.emulator.ports.HeavyBall`'s v <- beta v - lr g, theta += v)
    on the readout summed over a learning epoch of ``count`` timesteps."""
    if q not in velocity:
        velocity[q] = (np.zeros_like(acc[0]), np.zeros_like(acc[1]))
    vW, vb = velocity[q]
    vW *= momentum
    vW -= lr * (acc[0] / count)
    vb *= momentum
    vb -= lr * (acc[1] / count)
    W += vW
    b += vb


def _recalibrate(net: Any, sub: LoihiLibrary, new: LoihiLibrary) -> None:
    """Move ``sub`` onto ``new``'s formats and ``net``'s parameters onto their new grids (nearest, saturating)."""
    from wavetrain.emulator.loihi import limits

    sub.formats, sub.in_exp = dict(new.formats), dict(new.in_exp)
    sub._tables = {}
    for q, (W, b) in net.param_dict().items():
        f = sub.formats[q]
        for value, exp, bits in ((W, f.w, sub.weight_bits), (b, f.b, sub.bias_bits)):
            value[...] = np.ldexp(np.clip(mantissas(value, exp), *limits(bits)).astype(np.float64), exp)


def _rows(first: int, last: int, n: int) -> slice | None:
    """Samples first..last (inclusive) clipped to the epoch's 0..n-1, or None when none exists."""
    lo, hi = max(first, 0), min(last, n - 1)
    return slice(lo, hi + 1) if lo <= hi else None


def _grads(acc: tuple[np.ndarray, np.ndarray], g_exp: int, gb_exp: int) -> tuple[np.ndarray, np.ndarray]:
    return np.ldexp(acc[0].astype(np.float64), g_exp), np.ldexp(acc[1].astype(np.float64), gb_exp)
