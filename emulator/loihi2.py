"""The arithmetic of Lava's library processes on Loihi 2, as a substrate: the wave cells as Dense, Sparse,
DelayDense, GradedReluVec, GradedVec and ProdNeuron compute them in their ``fixed_pt`` models (lava-nc 0.10.0).

The library-process machine (targets/lava/library.py) maps every node n onto

  forward junction    Dense (Linear) or Sparse (conv, pool, reshape, join): a_n = shift(M_n s_in, weight_exp)
  bias                a Dense from one bias unit (a LIF that fires every timestep) with binary messages
  nonlinearity        GradedReluVec (relu) or GradedVec (identity), vth = 0: s_n = a_n, no shift, no state
  sigma'(a_n)         the spike event itself: F_n fires iff s_n != 0, and a Dense with num_message_bits = 0 delivers
                      1 to the sensitivity neuron (relu only; the identity's sigma' is 1 and needs no path)
  sensitivity         ProdNeuron (relu): delta_n = sigma' * lam_n >> 0, or GradedVec (identity): delta_n = lam_n
  backward junction   a second Dense / Sparse holding M_n^T: lam_p += shift(M_n^T delta_n, weight_exp)

so the formats differ from :class:`~wavetrain.emulator.loihi.LoihiFixedPoint` where the processes do:

  quantity            library process and its arithmetic (lava/proc/...)             format here
  weight W_n          Dense/Sparse, sign_mode MIXED: W_int = 2k, k 8-bit signed       k 2^w, nearest, 8 bits
                      (clip_weights + truncate_weights, dense/models.py)
  bias b_n            Dense from the bias unit: 2k_b shifted onto the state grid      k_b 2^b, 8 bits, b >= a
  state a_n           sum at the InPort of floor(W_int s >> -weight_exp) per synapse  floor onto 2^a
  message s_n         GradedReluVec / GradedVec send v unshifted                      s = a (same exponent)
  lam_n, delta_n      ProdNeuron v = a_in1 * a_in2 >> exp (exp 0); the backward       floor onto 2^lam
                      Dense floors its sum once
  error dC/ds_out     GradedVec E = y - t, then a Dense shifting onto 2^lam_out       floor (mse only)
  input x, target t   the host's RingBuffer sends mantissas                           nearest, saturate
  readout G_n         the host-side port sums delta s^T in int64                      exact

Nothing in these models saturates: Dense accumulates in int32 (silently wrapping past 2^31, measured), the neurons
hold int32, and a graded spike carries 24 bits on the chip. The substrate therefore raises FixedPointOverflow, naming
the node, where a value would leave those widths (a state or message beyond 24 bits, a synapse accumulator beyond
32) instead of predicting a wrapped number the chip would not compute. tanh and sigmoid have no library neuron (they
would need a lookup-table neuron program, not a library process) and are refused, as are MaxPool (a routed
argmax), AvgPool windows that are not a power of two (1/k is no shift) and losses other than mse (softmax has no
library process). :func:`check_library` refuses them before any work; :func:`calibrate_library` picks the formats.

Two switches are the emulator's diagnosis of what a different plan would do, not Lava's arithmetic (the Lava target
refuses them): ``shifts`` rounds a synapse site's shift ("state", "backward", "error") to nearest or stochastically
instead of floor, and ``bias_synapses=2`` holds each bias in two 8-bit Dense from the bias unit (16 bits on the
state's grid). benchmarks/loihi2_diagnosis.py measures them (docs/lava.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Activation, Array
from wavetrain.compiler.graph import INPUT, Add, AvgPool, Conv1d, Conv2d, Graph, Linear, MaxPool
from wavetrain.emulator.loihi import LayerFormat, LoihiFixedPoint, exponent_for, limits, update_int
from wavetrain.errors import ChipError, ConfigError, FixedPointOverflow

PAYLOAD_BITS = 24  # a graded spike's payload on Loihi 2, and the state every value here must stay within
ACCUMULATOR_BITS = 32  # Lava's Dense/Sparse fixed_pt accumulate W_int . s in int32 (and wrap beyond)
MAX_DELAY = 63  # DelayDense on Loihi 2: 6 delay bits (dense/models.py, PyDelayDenseModelBitAcc)
LOSS_LATENCY = 3  # timesteps from the output neuron to the sensitivity it drives: Dense y, E, DelayDense (delay 1)
EXACT = 2**52  # float64 sums of integers on grids are exact below this
# where a synapse's right shift rounds a value onto a grid: the forward sum onto the state's, the backward sum onto
# lam's, the loss synapse onto lam_out's; Lava's Dense floors (a right shift), the others are what a chip could do
SHIFT_SITES = ("state", "backward", "error")
SHIFT_MODES = ("floor", "nearest", "stochastic")

# the library neurons of each activation: (the nonlinearity, the sensitivity)
NEURONS: dict[str, tuple[str, str]] = {"relu": ("GradedReluVec", "ProdNeuron"), "identity": ("GradedVec", "GradedVec")}

# Loihi 2 per chip (Intel's Loihi 2 brief: 128 neurocores, 1,048,576 neurons, 120 M synapses per chip) and per core
# (128 KiB of synaptic memory a neurocore partitions between synapses and state; 8,192 neurons = 1,048,576 / 128)
LIMITS = {
    "cores": 128,
    "neurons_per_core": 8192,
    "synapse_bytes_per_core": 128 * 1024,
    "neurons": 1_048_576,
    "synapses": 120_000_000,
}


@dataclass
class LoihiLibrary(LoihiFixedPoint):
    """The library-process arithmetic (module docstring); ``formats`` as LoihiFixedPoint's with s == a per node,
    ``in_exp`` the exponent of every parametric node's input messages (set by :func:`calibrate_library`)."""

    in_exp: dict[str, int] = field(default_factory=dict)
    shifts: dict[str, str] = field(default_factory=dict)  # site -> "floor" (Lava's), "nearest" or "stochastic"
    bias_synapses: int = 1  # 2: the bias as two 8-bit Dense from the bias unit (k_hi 2^(b+8) + k_lo 2^b): 16 bits
    weight_bits: int = 8
    bias_bits: int = 8
    state_bits: int = PAYLOAD_BITS
    message_bits: int = PAYLOAD_BITS
    overflow: str = "raise"
    rounding: str = "stochastic"
    name: str = "loihi2"

    def __post_init__(self) -> None:
        if self.bias_synapses not in (1, 2):
            raise ConfigError(f"LoihiLibrary: bias_synapses must be 1 or 2, got {self.bias_synapses!r}")
        if self.bias_synapses == 2 and self.bias_bits == 8:
            self.bias_bits = 16  # NOTE: two 8-bit mantissas, k = 256 k_hi + k_lo
        super().__post_init__()
        fixed = {"weight_bits": 8, "bias_bits": 8 * self.bias_synapses, "state_bits": PAYLOAD_BITS,
                 "message_bits": PAYLOAD_BITS, "overflow": "raise"}  # fmt: skip
        for key, value in fixed.items():
            if getattr(self, key) != value:
                raise ConfigError(
                    f"LoihiLibrary: {key} is {value!r} on Lava's library processes (8-bit synapses, 24-bit graded "
                    f"spikes, int32 sums that wrap silently), got {getattr(self, key)!r}"
                )
        for n, f in self.formats.items():
            if f.s != f.a:
                raise ConfigError(
                    f"LoihiLibrary: node {n}: a graded neuron sends its state unshifted, so the message exponent "
                    f"must equal the state's, got s {f.s} != a {f.a}"
                )
        self.in_exp = {str(n): int(e) for n, e in self.in_exp.items()}
        for site, mode in self.shifts.items():
            if site not in SHIFT_SITES or mode not in SHIFT_MODES:
                raise ConfigError(
                    f"LoihiLibrary: shifts maps a site ({', '.join(SHIFT_SITES)}) to a rounding "
                    f"({', '.join(SHIFT_MODES)}), got {site!r}: {mode!r}"
                )
        self.shifts = {site: self.shifts.get(site, "floor") for site in SHIFT_SITES}

    def reset(self) -> None:
        super().reset()
        self.dither = np.random.default_rng(np.random.SeedSequence([self.seed, 2]))  # NOTE: the "stochastic" shifts

    def _shift(self, v: Array, exp: int, site: str) -> np.ndarray:
        """The integer mantissas of v on the grid 2^exp as the site's synapse shift rounds them (Lava: floor)."""
        scaled = np.ldexp(np.asarray(v, dtype=np.float64), -exp)
        mode = self.shifts[site]
        if mode == "nearest":
            return np.floor(scaled + 0.5)
        if mode == "stochastic":
            return np.floor(scaled + self.dither.random(scaled.shape))
        return np.floor(scaled)

    # -- the hooks that differ from LoihiFixedPoint -------------------------------------------------------------
    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        # NOTE: y is exact on its grid; in Lava's units (W_int = 2k) the int32 accumulator holds y / 2^(w + e - 1)
        f = self.formats[layer]
        e = self.in_exp.get(layer, 0) if direction == "forward" else f.lam
        peak = float(np.max(np.abs(y), initial=0.0))
        if peak and math.ldexp(peak, 1 - f.w - e) > (1 << (ACCUMULATOR_BITS - 1)) - 1:
            raise FixedPointOverflow(
                f"node {layer}: the {direction} synapse's int32 accumulator would reach "
                f"{math.ldexp(peak, 1 - f.w - e):.4g}, beyond 2^31 - 1 where Lava's Dense wraps; recalibrate "
                f"(smaller message exponents leave fewer bits to the sums) or narrow the fan-in"
            )
        return y

    def accumulate(self, a: Array, layer: str) -> Array:
        exp = self.formats[layer].a
        m = self._shift(a, exp, "state")
        _check(m, f"node {layer} state a (sent unshifted as its graded spike)")
        return np.ldexp(m, exp)

    def activate(self, act: Activation, a: Array, layer: str) -> Array:
        if act.name not in NEURONS:
            raise ChipError(_no_neuron(layer, act.name))
        return super().activate(act, a, layer)

    def derivative(self, act: Activation, a: Array, s: Array, layer: str) -> Array:
        if act.name not in NEURONS:
            raise ChipError(_no_neuron(layer, act.name))
        return super().derivative(act, a, s, layer)

    def signal(self, v: Array, where: str, layer: str) -> Array:
        if where in ("forward", "output"):
            return v  # NOTE: s_n is the state, already on its grid; the neuron sends it as it is
        if where == "input":
            return super().signal(v, where, layer)  # the host rounds x to the nearest step, saturating at 24 bits
        exp = self.formats[layer].lam
        m = self._shift(v, exp, "error" if where == "error" else "backward")
        _check(m, f"node {layer} {where} message lam")
        return np.ldexp(m, exp)

    def gradient(self, g: Array, layer: str, kind: str) -> Array:
        return g  # NOTE: the host-side port sums delta s^T exactly (int64)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "in_exp": dict(self.in_exp), "shifts": dict(self.shifts),
                "bias_synapses": self.bias_synapses}  # fmt: skip

    def __repr__(self) -> str:
        return f"LoihiLibrary(nodes={list(self.formats)}, x_exp={self.x_exp}, rounding={self.rounding!r})"


def _check(m: np.ndarray, what: str) -> None:
    lo, hi = limits(PAYLOAD_BITS)
    bad = (m < lo) | (m > hi)
    if np.any(bad):
        worst = float(np.max(np.abs(m[bad])))
        raise FixedPointOverflow(
            f"{what}: {int(bad.sum())} of {m.size} values leave the {PAYLOAD_BITS}-bit graded spike [{lo}, {hi}] "
            f"(largest |value| {worst:.4g}); Lava's models would wrap in int32 where the chip cannot send them; "
            f"recalibrate with more headroom"
        )


def _no_neuron(node: str, act: str) -> str:
    return (
        f"node {node!r}: activation {act!r} has no graded neuron among Lava's library processes (expected one of "
        f"{', '.join(NEURONS)}: GradedReluVec, GradedVec); it would need a lookup-table neuron program"
    )


# --- what the library machine can hold --------------------------------------------------------------------------


def fan_in(graph: Graph, n: str) -> int:
    """Synapses into one neuron of node n's junction (the bias synapse included)."""
    node = graph.node(n)
    preds = graph.preds[n]
    if isinstance(node, Linear):
        return graph.shape[preds[0]][0] + 1
    if isinstance(node, (Conv1d, Conv2d)):
        kernel = node.kernel if isinstance(node, Conv1d) else math.prod(node.kernel)  # type: ignore[arg-type]
        return graph.shape[preds[0]][0] * int(kernel) + 1
    if isinstance(node, AvgPool):
        return int(node.kernel ** (len(graph.shape[preds[0]]) - 1))
    if isinstance(node, Add):
        return len(preds)
    return 1  # Concat, Flatten, Act: each neuron reads one input


def stash_delay(graph: Graph, n: str) -> int:
    """Extra ticks the sigma'(a_n) path holds a sample in the pipelined machine so that it meets lam_n of the same
    sample: 2 (D - level(n)) + 2 (the loss path's three timesteps less the one every synapse takes)."""
    return 2 * (graph.depth - graph.level[n]) + LOSS_LATENCY - 1


def check_library(net: Any, sub: LoihiLibrary | None = None, stream: bool = False) -> None:
    """ChipError, naming the node and the limit, for any node the library-process machine cannot compute or a core
    cannot hold; ConfigError when ``sub``'s formats do not fit the network. ``stream``: the pipelined machine (its
    stash delays). The chip-wide totals are checked with the resource count (targets/lava/resources.py)."""
    graph: Graph = net.graph
    if net.loss != "mse":
        raise ChipError(
            f"loss {net.loss!r}: no Lava library process computes it (softmax needs exp and a division); the "
            f"library machine loads mse (E = y - t on a GradedVec); train with loss 'mse' or use target 'lava'"
        )
    for n in graph.order:
        node = graph.node(n)
        if isinstance(node, MaxPool):
            raise ChipError(
                f"node {n!r} (MaxPool): its backward wave is routed to each window's argmax, which no library "
                f"synapse or graded neuron computes; use AvgPool (a power-of-two window) or a strided Conv"
            )
        if isinstance(node, AvgPool):
            size = node.kernel ** (len(graph.shape[graph.preds[n][0]]) - 1)
            if size & (size - 1):
                raise ChipError(
                    f"node {n!r} (AvgPool): the mean over {size} inputs is a weight of 1/{size}, expected a power "
                    f"of two (a shift of the Sparse synapse), got kernel {node.kernel}"
                )
        if node.activation not in NEURONS:
            raise ChipError(_no_neuron(n, node.activation))
        need = fan_in(graph, n)
        if need > LIMITS["synapse_bytes_per_core"]:
            raise ChipError(
                f"node {n!r}: fan-in {need} synapses of 8 bits per neuron, expected at most "
                f"{LIMITS['synapse_bytes_per_core']} (a Loihi 2 core's 128 KiB of synaptic memory holds one "
                f"neuron's inputs)"
            )
    for (u, v), d in graph.delay.items():
        if d > MAX_DELAY:
            raise ChipError(f"edge ({u!r}, {v!r}): a matched delay of {d} ticks, expected at most {MAX_DELAY} "
                            f"(DelayDense's 6 delay bits on Loihi 2)")  # fmt: skip
    if stream:
        first = min(graph.order, key=lambda n: graph.level[n])
        if stash_delay(graph, first) > MAX_DELAY:
            raise ChipError(
                f"node {first!r}: the pipelined machine holds sigma'(a) for {stash_delay(graph, first)} ticks "
                f"(2 (D - level) + 2 at depth D = {graph.depth}), expected at most {MAX_DELAY} (DelayDense's 6 bits); "
                f"depth {MAX_DELAY // 2} at most"
            )
    if sub is not None:
        _check_formats(graph, sub)


def _check_formats(graph: Graph, sub: LoihiLibrary) -> None:
    missing = [n for n in graph.order if n not in sub.formats]
    if missing:
        raise ConfigError(f"LoihiLibrary: no format for node {missing[0]!r} (nodes {list(graph.order)}); calibrate "
                          f"it on this network")  # fmt: skip
    for n in graph.order:
        f = sub.formats[n]
        preds = graph.preds[n]
        ins = [sub.x_exp if p == INPUT else sub.formats[p].s for p in preds]
        if n in graph.parametric and sub.in_exp.get(n) != ins[0]:
            raise ConfigError(f"LoihiLibrary: node {n}: in_exp {sub.in_exp.get(n)!r}, expected its input's "
                              f"exponent {ins[0]}")  # fmt: skip
        if len(preds) > 1 and f.a > min(ins):
            raise ConfigError(
                f"LoihiLibrary: node {n} joins {len(preds)} inputs, each through its own synapse that floors its "
                f"share: its state exponent must not exceed its inputs' ({ins}) so that none rounds, got {f.a}"
            )
        positions = math.prod(graph.shape[n][1:]) if len(graph.shape[n]) > 1 else 1
        if n in graph.parametric and 2 * (PAYLOAD_BITS - 1) + math.ceil(math.log2(positions)) > 52:
            raise ConfigError(f"node {n}: a relaxation's port readout sums {positions} products of 24-bit values, "
                              f"beyond float64's exact integers (2^52); at most 64 positions")  # fmt: skip


# --- calibration ----------------------------------------------------------------------------------------------


def calibrate_library(net: Any, x: Any, y: Any, bits: int = 16, headroom: int = 2, **settings: Any) -> LoihiLibrary:
    """A LoihiLibrary for ``net``: each exponent the smallest that holds the peak seen on (x, y) in ``bits`` bits
    (default 16 of the 24 a graded spike carries), times 2^headroom for the quantities training moves (weights,
    states, sensitivities); per-sample error waves (one sample per timestep: the error is y - t, not divided by a
    batch). A join's state takes the finest of its inputs' exponents so that no synapse rounds its share."""
    from wavetrain.emulator import cells
    from wavetrain.emulator.cells import Machine
    from wavetrain.emulator.kernel import light_cone

    check_library(net)
    if isinstance(bits, bool) or not isinstance(bits, int) or not 4 <= bits <= PAYLOAD_BITS:
        raise ConfigError(f"calibrate_library: bits must be an integer in [4, {PAYLOAD_BITS}], got {bits!r}")
    if isinstance(headroom, bool) or not isinstance(headroom, int) or not 0 <= headroom <= 8:
        raise ConfigError(f"calibrate_library: headroom must be an integer in [0, 8], got {headroom!r}")
    x = net.check_input(x).astype(np.float64)
    t = net.targets(y, len(x)).astype(np.float64)
    g = net.graph
    params = {n: (W.astype(np.float64), b.astype(np.float64)) for n, (W, b) in net.param_dict().items()}
    machine = Machine.of(net, params)
    _, state, _ = light_cone(machine, x, t)
    pre = cells.forward_sweep(machine, x).pre

    def peak(v: Any) -> float:
        return float(np.max(np.abs(np.asarray(v, dtype=np.float64)), initial=0.0))

    x_exp = exponent_for(peak(x), bits)
    formats: dict[str, LayerFormat] = {}
    in_exp: dict[str, int] = {}
    for n in g.order:
        ins = [x_exp if p == INPUT else formats[p].s for p in g.preds[n]]
        a = exponent_for(peak(pre[n]), bits) + headroom
        if len(ins) > 1:
            a = min(a, *ins)
        lam = exponent_for(peak(state.lam[n]) * len(x), bits) + headroom  # NOTE: per sample (the kernel's /batch)
        if n in params:
            W, b = params[n]
            w = exponent_for(peak(W), 8) + 1
            bias = max(a, exponent_for(max(peak(b), peak(pre[n])), 8) + 1)
            if settings.get("bias_synapses", 1) == 2:
                bias = max(a, exponent_for(max(peak(b), peak(pre[n])), 16) + 1)  # NOTE: 16 bits in two synapses
            in_exp[n] = ins[0]
            formats[n] = LayerFormat(w=w, b=bias, a=a, s=a, lam=lam, g=lam + ins[0], gb=lam)
        else:
            formats[n] = LayerFormat(w=0, b=a, a=a, s=a, lam=lam, g=lam, gb=lam)
    sub = LoihiLibrary(formats, x_exp, in_exp=in_exp, **settings)
    _check_formats(g, sub)
    return sub


def quantize_targets(sub: LoihiLibrary, net: Any, t: Any) -> np.ndarray:
    """Targets on the output's grid (what the host's target RingBuffer sends), as floats: one-hot labels are exact."""
    exp = sub.formats[net.graph.output].s
    return np.ldexp(np.rint(np.ldexp(np.asarray(t, dtype=np.float64), -exp)), exp)


# --- the host-side port: one function for the emulator and the Lava host process ---------------------------------


def port_step(
    sub: LoihiLibrary,
    node: str,
    k: np.ndarray,
    kb: np.ndarray,
    G: np.ndarray,
    gb: np.ndarray,
    velocity: dict[str, tuple[np.ndarray, np.ndarray]],
    lr: float,
    momentum: float,
    count: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One port update of node ``node`` from its accumulated readout (G, gb as floats on their grids) over a
    learning epoch of ``count`` timesteps: v <- momentum v - lr G / count, then the weight and bias mantissas (k,
    kb) move by v in mantissa steps (the substrate's rounding, its generators). Returns the new mantissas."""
    f = sub.formats[node]
    gW, gB = G / count, gb / count
    if node not in velocity:
        velocity[node] = (np.zeros_like(gW), np.zeros_like(gB))
    vW, vb = velocity[node]
    vW *= momentum
    vW -= lr * gW
    vb *= momentum
    vb -= lr * gB
    new_k = update_int(k, vW, f.w, sub.weight_bits, sub.rounding, sub.generators[(node, "W")])
    new_kb = update_int(kb, vb, f.b, sub.bias_bits, sub.rounding, sub.generators[(node, "b")])
    return new_k, new_kb


def mantissas(v: Array, exp: int) -> np.ndarray:
    """The integer mantissas of values on the grid 2^exp."""
    return np.asarray(np.rint(np.ldexp(np.asarray(v, dtype=np.float64), -exp)), dtype=np.int64)
