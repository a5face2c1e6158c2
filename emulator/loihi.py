"""The Loihi fixed-point substrate: the wave cells in the integer formats a Loihi 2 neurocore holds.

Every quantity lives on a grid value = m * 2^e: an integer mantissa m of a fixed width and an exponent e per layer
(one shared exponent per layer and quantity, as Lava's ``weight_exp``). The hooks of :class:`LoihiFixedPoint` keep
every wave, state and parameter on its grid; the arithmetic between hooks (W s sums, sigma' * lam, delta^T s) is done
in float64 on those grids and is exact, because every intermediate integer stays below 2^53
(:meth:`LoihiFixedPoint.check_exact` refuses a network where it would not). So this substrate is integer arithmetic
written in floats, and Lava's ``fixed_pt`` ProcessModels (targets/lava/models.py), which compute the same cells in
int64, must agree with it bit for bit.

Formats (widths from Lava 0.10.0's bit-accurate models; ``l`` a layer):

  quantity                 width (default)             exponent      rounding / overflow     Lava reference
  weight W_l               ``weight_bits`` = 8 signed  w_exp[l]      nearest; saturate        Dense: mixed-sign
                           mantissa k in [-128, 127]                                          weights even in
                                                                                              [-256, 254], W_int = 2k
                                                                                              (num_weight_bits = 8)
  bias b_l                 ``bias_bits`` = 16 signed   b_exp[l] >=   nearest; saturate        LIF bias_mant and
                                                       a_exp[l]                               bias_exp; SigmaDelta
                                                                                              bias (16)
  neuron state a_l         ``state_bits`` = 24 signed  a_exp[l]      floor (Dense's right     LIF u, v; Sigma (24)
  = W s + b                                                          shift); ``overflow``:
                                                                     saturate (LIF v), wrap
                                                                     (LIF u, mod 2^24) or raise
  forward message s_l      ``message_bits`` = 16       s_exp[l]      floor; saturate          graded spike payload
  backward message lam_l   ``message_bits`` = 16       lam_exp[l]    floor; saturate          (Loihi 2: up to 24)
  input x / error dC/ds_L  ``message_bits`` = 16       x_exp /       nearest; saturate        host -> chip messages
                                                       lam_exp[L-1]
  sigma(a), sigma'(a)      lookup tables of 2^``lut_bits`` = 2^10 bins over a in [-4, 4) (tanh, sigmoid),
                           exact piecewise forms for relu and identity; sigma' on a 2^-``derivative_bits`` grid
  port readout G_l, g_b    ``grad_bits`` = 24 signed   g_exp[l],     floor; saturate          24-bit accumulators
                                                       gb_exp[l]
  port update              W <- W + step in mantissa units, ``rounding`` "nearest" or "stochastic" (seeded,
                           one generator per layer and kind, numpy SeedSequence(seed).spawn(2 L)); saturate

:func:`calibrate` picks every exponent from data (a float forward and backward pass on a batch) and reports how many
values each format clips.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Sequence

import numpy as np

from wavetrain.compiler.functions import ACTIVATIONS, Activation, Array
from wavetrain.emulator.substrate import BOUNDARIES, PARAM_KINDS, Substrate
from wavetrain.errors import ConfigError, FixedPointOverflow

OVERFLOW = ("saturate", "wrap", "raise")
ROUNDING = ("nearest", "stochastic")
LUT_RANGE = 4.0  # the lookup tables cover a in [-LUT_RANGE, LUT_RANGE); beyond, the end bins hold
TABLED = ("tanh", "sigmoid")  # activations read from a table; relu and identity are exact piecewise forms
EXACT_BITS = 52  # the float64 arithmetic between hooks is exact while every integer stays below 2^52


def shift_floor(m: np.ndarray, shift: int) -> np.ndarray:
    """m * 2^shift rounded down, in int64 (an arithmetic right shift for shift < 0, as Lava's Dense does)."""
    m = np.asarray(m, dtype=np.int64)
    return np.left_shift(m, shift) if shift >= 0 else np.right_shift(m, -shift)


def limits(bits: int) -> tuple[int, int]:
    """The signed range of a bits-wide mantissa: [-2^(bits-1), 2^(bits-1) - 1]."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def overflow(m: np.ndarray, bits: int, mode: str, what: str) -> np.ndarray:
    """m brought into ``bits`` signed bits: saturate, wrap (two's complement) or raise FixedPointOverflow."""
    lo, hi = limits(bits)
    if mode == "saturate":
        return np.clip(m, lo, hi)
    if mode == "wrap":
        return ((m - lo) & ((1 << bits) - 1)) + lo
    bad = (m < lo) | (m > hi)
    if np.any(bad):
        worst = int(np.max(np.abs(m[bad])))
        raise FixedPointOverflow(
            f"{what}: {int(bad.sum())} of {m.size} values overflow the {bits}-bit range [{lo}, {hi}], the largest "
            f"|value| is {worst} ({worst / hi:.3g}x the limit); recalibrate (a larger exponent) or use "
            f"overflow='saturate' or 'wrap'"
        )
    return m


def to_int(v: Array, exp: int) -> np.ndarray:
    """The mantissas of values already on the grid 2^exp (exact: a power-of-two scaling)."""
    return np.asarray(np.ldexp(v, -exp), dtype=np.int64)


def to_float(m: np.ndarray, exp: int) -> np.ndarray:
    return np.ldexp(np.asarray(m, dtype=np.float64), exp)


def quantize(v: Array, exp: int, bits: int, rounding: str = "floor") -> np.ndarray:
    """Mantissas of float values on the grid 2^exp: floor or nearest (ties to even), saturated to ``bits``."""
    scaled = np.ldexp(np.asarray(v, dtype=np.float64), -exp)
    scaled = np.floor(scaled) if rounding == "floor" else np.rint(scaled)
    lo, hi = limits(bits)
    return np.clip(scaled, lo, hi).astype(np.int64)


def exponent_for(peak: float, bits: int) -> int:
    """The smallest exponent e with peak <= (2^(bits-1) - 1) 2^e (0 when peak is 0)."""
    if not np.isfinite(peak) or peak <= 0:
        return 0
    return math.ceil(math.log2(peak / ((1 << (bits - 1)) - 1)))


@dataclass(frozen=True)
class Tables:
    """sigma and sigma' of one layer as integer tables (or None for the piecewise relu/identity)."""

    name: str
    s: np.ndarray | None  # mantissas on the s grid, one per bin
    d: np.ndarray | None  # sigma' on the 2^-derivative_bits grid, one per bin


@dataclass(frozen=True)
class LayerFormat:
    """The exponents of one layer's quantities: every value of a quantity is a mantissa times 2^exponent."""

    w: int  # weight W_l
    b: int  # bias b_l (>= a: the bias joins the state by a left shift)
    a: int  # neuron state a_l = W s + b
    s: int  # forward message s_l
    lam: int  # backward message lam_l
    g: int  # port readout G_l
    gb: int  # bias readout g_l

    def __post_init__(self) -> None:
        for name in ("w", "b", "a", "s", "lam", "g", "gb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -64 <= value <= 64:
                raise ConfigError(f"LayerFormat: exponent {name} must be an integer in [-64, 64], got {value!r}")
            object.__setattr__(self, name, int(value))

    @classmethod
    def coerce(cls, value: Any, layer: int) -> LayerFormat:
        if isinstance(value, LayerFormat):
            return value
        if isinstance(value, dict) and set(value) == {f.name for f in fields(cls)}:
            return cls(**value)
        raise ConfigError(f"LoihiFixedPoint: layer {layer + 1}: expected a LayerFormat or a dict of its exponents "
                          f"w, b, a, s, lam, g, gb, got {value!r}")  # fmt: skip


@dataclass
class LoihiFixedPoint(Substrate):
    """Loihi 2 fixed-point arithmetic as a substrate (see the module docstring for every width and its source).

    ``formats`` holds one :class:`LayerFormat` per layer and ``x_exp`` the input's exponent; :func:`calibrate` picks
    them from data. ``stats`` counts values that saturated, per format, so a run can report its clipping.
    """

    # NOTE: the integer grids are exact only in float64 (every intermediate below 2^52, see check_exact)
    needs_dtype: ClassVar[str | None] = "float64"
    formats: dict[str, LayerFormat]  # per node id (a list is read as a chain's layers "1".."L")
    x_exp: int
    weight_bits: int = 8
    bias_bits: int = 16
    state_bits: int = 24
    message_bits: int = 16
    derivative_bits: int = 8
    grad_bits: int = 24
    lut_bits: int = 10
    overflow: str = "saturate"
    rounding: str = "nearest"
    seed: int = 0
    name: str = "loihi"
    stats: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.formats, (list, tuple)):
            self.formats = {str(k + 1): f for k, f in enumerate(self.formats)}
        if not isinstance(self.formats, dict) or not self.formats:
            raise ConfigError(f"LoihiFixedPoint: formats must be a non-empty map node id -> LayerFormat (or a list, "
                              f"one per layer of a chain), got {self.formats!r}")  # fmt: skip
        self.formats = {str(n): LayerFormat.coerce(f, k) for k, (n, f) in enumerate(self.formats.items())}
        # NOTE: Loihi's synapses hold at most 8 weight bits; wider weights are for fidelity studies only
        bounds = {
            "weight_bits": (2, 16),
            "bias_bits": (2, 24),
            "state_bits": (8, 32),
            "message_bits": (2, 24),
            "derivative_bits": (1, 16),
            "grad_bits": (8, 32),
            "lut_bits": (4, 16),
        }
        for key, (lo, hi) in bounds.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
                raise ConfigError(f"LoihiFixedPoint: {key} must be an integer in [{lo}, {hi}], got {value!r}")
        if self.overflow not in OVERFLOW:
            raise ConfigError(f"LoihiFixedPoint: overflow must be one of {', '.join(OVERFLOW)}, got {self.overflow!r}")
        below = [n for n, f in self.formats.items() if f.b < f.a]
        if below:
            f = self.formats[below[0]]
            raise ConfigError(
                f"LoihiFixedPoint: node {below[0]}: the bias exponent must be >= the state exponent "
                f"(the bias is added to the state by a left shift), got {f.b} < {f.a}"
            )
        if self.rounding not in ROUNDING:
            raise ConfigError(f"LoihiFixedPoint: rounding must be one of {', '.join(ROUNDING)}, got {self.rounding!r}")
        self._tables: dict[tuple[str, str], Tables] = {}
        self.reset()

    @property
    def depth(self) -> int:
        return len(self.formats)

    def nth(self, k: int) -> LayerFormat:
        """The format of the k-th node (in the order the formats were given: a chain's layer k)."""
        return list(self.formats.values())[k]

    def reset(self) -> None:
        """Restart the stochastic-rounding generators (one per layer and kind) and the clipping counts."""
        children = np.random.SeedSequence(self.seed).spawn(2 * self.depth)
        self.generators = {
            (n, kind): np.random.default_rng(children[2 * l + k])
            for l, n in enumerate(self.formats)
            for k, kind in enumerate(PARAM_KINDS)
        }
        self.stats = {}

    def _count(self, key: str, scaled: np.ndarray, lo: int, hi: int) -> None:
        clipped = int(np.count_nonzero((scaled < lo) | (scaled > hi)))
        if clipped:
            self.stats[key] = self.stats.get(key, 0) + clipped

    def _quantize(self, v: Array, exp: int, bits: int, rounding: str, key: str) -> np.ndarray:
        scaled = np.ldexp(np.asarray(v, dtype=np.float64), -exp)
        scaled = np.floor(scaled) if rounding == "floor" else np.rint(scaled)
        lo, hi = limits(bits)
        self._count(key, scaled, lo, hi)
        return np.clip(scaled, lo, hi)

    # -- reads ---------------------------------------------------------------------------------------------------
    def weight(self, W: Array, layer: str) -> Array:
        exp = self.formats[layer].w
        return np.ldexp(self._quantize(W, exp, self.weight_bits, "nearest", f"layer {layer} weight"), exp)

    def bias(self, b: Array, layer: str) -> Array:
        exp = self.formats[layer].b
        return np.ldexp(self._quantize(b, exp, self.bias_bits, "nearest", f"layer {layer} bias"), exp)

    def accumulate(self, a: Array, layer: str) -> Array:
        exp = self.formats[layer].a
        m = np.floor(np.ldexp(np.asarray(a, dtype=np.float64), -exp)).astype(np.int64)
        lo, hi = limits(self.state_bits)
        self._count(f"layer {layer} state", m, lo, hi)
        m = overflow(m, self.state_bits, self.overflow, f"layer {layer} state a = W s + b")
        return to_float(m, exp)

    # -- nonlinearity ----------------------------------------------------------------------------------------------
    def tables(self, act: Activation, layer: str) -> Tables:
        """The lookup tables of layer ``layer`` (built once per activation and layer)."""
        key = (act.name, layer)
        if key not in self._tables:
            self._tables[key] = build_tables(
                act.name, self.formats[layer].s, self.message_bits, self.derivative_bits, self.lut_bits
            )
        return self._tables[key]

    def lut_index(self, a_int: np.ndarray, layer: str) -> np.ndarray:
        """The table bin of state mantissas a_int: floor(a / bin) + 2^(lut_bits - 1), clipped to the table."""
        half = 1 << (self.lut_bits - 1)
        bin_exp = int(math.log2(LUT_RANGE)) + 1 - self.lut_bits  # bin width 2^bin_exp
        return np.clip(shift_floor(a_int, self.formats[layer].a - bin_exp) + half, 0, 2 * half - 1)

    def activate(self, act: Activation, a: Array, layer: str) -> Array:
        f = self.formats[layer]
        return to_float(activate_int(self, act.name, to_int(a, f.a), layer), f.s)

    def derivative(self, act: Activation, a: Array, s: Array, layer: str) -> Array:
        d = derivative_int(self, act.name, to_int(a, self.formats[layer].a), layer)
        return to_float(d, -self.derivative_bits)

    # -- messages and ports ----------------------------------------------------------------------------------------
    def signal(self, v: Array, where: str, layer: str) -> Array:
        if where not in BOUNDARIES:
            raise ConfigError(f"signal: where must be one of {', '.join(BOUNDARIES)}, got {where!r}")
        if where == "input":
            exp, rounding = self.x_exp, "nearest"
        elif where == "error":
            exp, rounding = self.formats[layer].lam, "nearest"
        elif where == "backward":
            exp, rounding = self.formats[layer].lam, "floor"
        else:  # forward, output: s_l, already on its grid when it came out of the table
            exp, rounding = self.formats[layer].s, "floor"
        m = self._quantize(v, exp, self.message_bits, rounding, f"layer {layer} {where} message")
        return np.ldexp(m, exp)

    def gradient(self, g: Array, layer: str, kind: str) -> Array:
        exp = self.formats[layer].g if kind == "W" else self.formats[layer].gb
        m = self._quantize(g, exp, self.grad_bits, "floor", f"layer {layer} gradient {kind}")
        return np.ldexp(m, exp)

    def write(self, p: Array, step: Array, layer: str, kind: str) -> None:
        f = self.formats[layer]
        exp, bits = (f.w, self.weight_bits) if kind == "W" else (f.b, self.bias_bits)
        rng = self.generators[(layer, kind)]
        m = update_int(quantize(p, exp, bits, "nearest"), step, exp, bits, self.rounding, rng)
        p[...] = to_float(m, exp)

    # -- checks and reports ---------------------------------------------------------------------------------------
    def check_exact(self, network: Any, batch: int) -> None:
        """ConfigError unless every float64 sum between hooks is exact (integers below 2^52) for this network (a
        Graph, a Network or a chain's widths): the fan-in of each junction, the fan-out its transpose sums, and the
        batch (times the positions of a convolution) its port readout sums."""
        from wavetrain.compiler.graph import INPUT, as_graph

        graph = as_graph(network)
        missing = [n for n in graph.order if n not in self.formats]
        if missing:
            raise ConfigError(f"LoihiFixedPoint: has exponents for {len(self.formats)} layers, expected "
                              f"{len(graph.order)} (no format for node {missing[0]!r})")  # fmt: skip
        w, m, d = self.weight_bits, self.message_bits, self.derivative_bits + 1
        for n, (w_shape, _) in graph.param_shapes().items():
            n_in, n_out = int(np.prod(w_shape[1:])), int(np.prod(w_shape)) // w_shape[1]
            pred = graph.preds[n][0]
            in_exp = self.x_exp if pred == INPUT else self.formats[pred].s
            positions = int(np.prod(graph.shape[n][1:])) if len(graph.shape[n]) > 1 else 1
            # NOTE: the bias joins W s on the finer of the two grids; its bits count from there
            bias_span = self.bias_bits + max(0, self.formats[n].b - (self.formats[n].w + in_exp))
            need = {
                "forward sum W s + b": max(w + m + math.ceil(math.log2(n_in + 1)), bias_span) + 1,
                "backward sum W^T delta": w + d + m + math.ceil(math.log2(n_out + 1)),
                "port readout delta^T s": d + m + m + math.ceil(math.log2(batch * positions + 1)),
            }
            for what, bits in need.items():
                if bits > EXACT_BITS:
                    raise ConfigError(
                        f"layer {n}: the {what} needs {bits} bits, expected <= {EXACT_BITS} for exact "
                        f"fixed-point arithmetic (fan-in {n_in}, fan-out {n_out}, batch {batch}); use fewer message "
                        f"bits, a smaller batch or narrower layers"
                    )

    def describe(self) -> dict[str, Any]:
        keys = (
            "weight_bits",
            "bias_bits",
            "state_bits",
            "message_bits",
            "derivative_bits",
            "grad_bits",
            "lut_bits",
            "overflow",
            "rounding",
            "seed",
            "x_exp",
        )
        formats = {n: asdict(f) for n, f in self.formats.items()}
        return {"name": self.name, **{key: getattr(self, key) for key in keys}, "formats": formats}

    def __repr__(self) -> str:
        return (
            f"LoihiFixedPoint(weight_bits={self.weight_bits}, state_bits={self.state_bits}, "
            f"message_bits={self.message_bits}, overflow={self.overflow!r}, rounding={self.rounding!r})"
        )


def update_int(m: np.ndarray, step: Array, exp: int, bits: int, rounding: str, rng: np.random.Generator) -> np.ndarray:
    """The port update in mantissa units: m + round(step / 2^exp), saturated; stochastic draws one uniform each."""
    scaled = np.ldexp(np.asarray(step, dtype=np.float64), -exp)
    if rounding == "stochastic":
        delta = np.floor(scaled + rng.random(scaled.shape))
    else:
        delta = np.rint(scaled)
    lo, hi = limits(bits)
    return np.clip(m + delta, lo, hi).astype(np.int64)


def build_tables(name: str, s_exp: int, message_bits: int, derivative_bits: int, lut_bits: int) -> Tables:
    """Integer tables of sigma (on the s grid) and sigma' (on 2^-derivative_bits) at the bin centres."""
    if name not in TABLED:
        if name not in ACTIVATIONS:
            raise ConfigError(
                f"fixed point: no table for activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
            )
        return Tables(name, None, None)
    act = ACTIVATIONS[name]
    half = 1 << (lut_bits - 1)
    width = 2 * LUT_RANGE / (2 * half)
    centres = (np.arange(2 * half) - half + 0.5) * width
    s = act.f(centres)
    s_int = quantize(s, s_exp, message_bits, "nearest")
    d_int = np.rint(np.ldexp(act.df(centres, s), derivative_bits)).astype(np.int64)
    return Tables(name, s_int, d_int)


def activate_int(sub: LoihiFixedPoint, name: str, a_int: np.ndarray, layer: str) -> np.ndarray:
    """sigma on state mantissas -> s mantissas: a table read, or the exact piecewise relu / identity."""
    tables = sub.tables(ACTIVATIONS[name], layer)
    if tables.s is not None:
        return tables.s[sub.lut_index(a_int, layer)]
    m = shift_floor(a_int, sub.formats[layer].a - sub.formats[layer].s)
    if name == "relu":
        m = np.maximum(m, 0)
    return np.clip(m, *limits(sub.message_bits))


def derivative_int(sub: LoihiFixedPoint, name: str, a_int: np.ndarray, layer: str) -> np.ndarray:
    """sigma' on state mantissas -> mantissas on the 2^-derivative_bits grid."""
    tables = sub.tables(ACTIVATIONS[name], layer)
    if tables.d is not None:
        return tables.d[sub.lut_index(a_int, layer)]
    one = np.int64(1 << sub.derivative_bits)
    if name == "relu":
        return np.where(a_int > 0, one, np.int64(0))
    return np.full(np.shape(a_int), one, dtype=np.int64)


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` chose: per layer and quantity the peak seen, the exponent, the range it gives and the
    fraction of the calibration values that format clips."""

    rows: list[dict[str, Any]]

    def __repr__(self) -> str:
        """One line: the formats chosen and the largest clipped fraction (:meth:`table`: every row)."""
        return f"Calibration({len(self.rows)} formats, largest clipped fraction {self.clipped():.2%}; .table())"

    def clipped(self) -> float:
        """The largest clipped fraction over every format."""
        return max((row["clipped"] for row in self.rows), default=0.0)

    def table(self) -> str:
        lines = ["layer  quantity  bits  exponent  peak        range       clipped"]
        for row in self.rows:
            lines.append(
                f"{row['layer']:>5}  {row['quantity']:<8}  {row['bits']:>4}  {row['exponent']:>8}  "
                f"{row['peak']:<10.4g}  {row['range']:<10.4g}  {row['clipped']:.2%}"
            )
        return "\n".join(lines)


def calibrate(
    net: Any, x: Any, y: Any, percentile: float = 100.0, headroom: int = 1, batch: int | None = None, **settings: Any
) -> tuple[LoihiFixedPoint, Calibration]:
    """A LoihiFixedPoint whose exponents fit ``net`` on the data (x, y), and the clipping report.

    Each exponent is the smallest that holds the ``percentile`` of |values| (100: the peak, nothing clips) in the
    format's width, times 2^headroom for the quantities that move in training (weights, biases, sensitivities,
    gradients; states and unbounded outputs get 3 bits more, as logits grow while a network learns). ``batch``: the
    minibatch size the network will run with (the error wave and the readout scale with 1 / batch); x is cut into
    minibatches of that size (default: one batch of all rows). ``settings`` are LoihiFixedPoint's widths, overflow,
    rounding and seed.
    """
    from wavetrain.emulator import cells
    from wavetrain.emulator.cells import Machine
    from wavetrain.emulator.kernel import light_cone

    if not 0 < percentile <= 100:
        raise ConfigError(f"calibrate: percentile must be in (0, 100], got {percentile!r}")
    if isinstance(headroom, bool) or not isinstance(headroom, (int, np.integer)) or not 0 <= headroom <= 8:
        raise ConfigError(f"calibrate: headroom must be an integer in [0, 8], got {headroom!r}")
    x = net.check_input(x)
    t = net.targets(y, len(x))
    size = len(x) if batch is None else int(batch)
    if isinstance(batch, bool) or not 1 <= size <= len(x):
        raise ConfigError(f"calibrate: batch must be an integer in [1, {len(x)}] (the calibration rows), got {batch!r}")
    g = net.graph
    params = {n: (W.astype(np.float64), b.astype(np.float64)) for n, (W, b) in net.param_dict().items()}
    machine = Machine.of(net, params)
    chunks = [light_cone(machine, x[i : i + size], t[i : i + size]) for i in range(0, len(x) - size + 1, size)]
    grads = {n: (np.stack([c[0][n][0] for c in chunks]), np.stack([c[0][n][1] for c in chunks])) for n in params}
    s_all = {n: np.concatenate([c[1].s[n] for c in chunks]) for n in g.order}
    lam_all = {n: np.concatenate([c[1].lam[n] for c in chunks]) for n in g.order}
    pre = cells.forward_sweep(machine, x[: len(s_all[g.order[0]])]).pre
    probe = zero_exponents(g.order, **settings)
    rows: list[dict[str, Any]] = []

    def pick(layer: str, quantity: str, values: Any, bits: int, extra: int, fixed: int | None = None) -> int:
        flat = np.abs(np.asarray(values, dtype=np.float64)).ravel()
        peak = float(np.percentile(flat, percentile)) if flat.size else 0.0
        exp = fixed if fixed is not None else exponent_for(peak, bits) + extra
        top = ((1 << (bits - 1)) - 1) * 2.0**exp
        clipped = float(np.mean(flat > top)) if flat.size else 0.0
        rows.append(
            {
                "layer": layer,
                "quantity": quantity,
                "bits": bits,
                "exponent": exp,
                "peak": float(np.max(flat)) if flat.size else 0.0,
                "range": top,
                "clipped": clipped,
            }
        )
        return exp

    x_exp = pick("input", "input", x, probe.message_bits, 0)
    formats = {}
    for n in g.order:
        act = machine.acts[n]
        W, b = params.get(n, (None, None))
        w_exp = pick(n, "weight", W, probe.weight_bits, headroom) if W is not None else 0
        state = pre[n].ravel() if b is None else np.concatenate([pre[n].ravel(), b.ravel()])
        a_exp = pick(n, "state", state, probe.state_bits, headroom + 3)
        if b is not None:
            # NOTE: biases start at zero; their format spans the state's peak so that training can move them
            b_peak = max(float(np.max(np.abs(b), initial=0.0)), float(np.max(np.abs(pre[n]), initial=0.0)))
            b_fixed = max(a_exp, exponent_for(b_peak, probe.bias_bits) + headroom)
            b_exp = pick(n, "bias", b, probe.bias_bits, 0, fixed=b_fixed)
        else:
            b_exp = a_exp
        if act.name in ("tanh", "sigmoid"):  # NOTE: bounded outputs: a fixed full-scale format
            s_exp = pick(n, "s", s_all[n], probe.message_bits, 0, fixed=1 - probe.message_bits)
        else:
            s_exp = pick(n, "s", s_all[n], probe.message_bits, headroom + 3)
        lam_exp = pick(n, "lam", lam_all[n], probe.message_bits, headroom)
        g_exp = pick(n, "grad W", grads[n][0], probe.grad_bits, headroom) if n in grads else 0
        gb_exp = pick(n, "grad b", grads[n][1], probe.grad_bits, headroom) if n in grads else 0
        formats[n] = LayerFormat(w=w_exp, b=b_exp, a=a_exp, s=s_exp, lam=lam_exp, g=g_exp, gb=gb_exp)
    return LoihiFixedPoint(formats, x_exp, **settings), Calibration(rows)


def zero_exponents(nodes: int | Sequence[str], **settings: Any) -> LoihiFixedPoint:
    """A LoihiFixedPoint with every exponent 0 for ``nodes`` (ids, or a chain's depth: "1".."L"): a probe of the
    settings, or a start for hand-set exponents."""
    ids = [str(k + 1) for k in range(nodes)] if isinstance(nodes, int) else list(nodes)
    return LoihiFixedPoint({n: LayerFormat(0, 0, 0, 0, 0, 0, 0) for n in ids}, 0, **settings)
