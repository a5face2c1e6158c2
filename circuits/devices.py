"""Device and circuit physics of an analog learning machine, as array functions with closed forms.

Every function broadcasts over leading axes (a Monte-Carlo axis of chips first) and takes its randomness as an
explicit ``numpy.random.Generator``, so each effect is reproducible from a seed and testable against its statistics:

  gauss            standard normal noise                Box-Muller on uniform draws (2.5x numpy's ziggurat here)
  quantize         converter / conductance levels       |q - v| <= step / 2 inside the range, clipped outside
  convert          DAC / ADC with noise management      row-wise auto-ranging, additive noise, quantization
  pulse_count      continuous update -> pulses          E[n] = dw / dw_min (stochastic) or round (deterministic)
  pulses           the same, sparse                     (devices that get pulses, their counts)
  apply_pulses     n pulses of a linear-step device     w_n = w* - (w* - w_0)(1 - gamma a)^n, w* = w_max / gamma
  drift_factor     conductance drift                    G(t) / G(t0) = (t / t0)^-nu
  reflection       impedance mismatch at a line end     Gamma = (Z_L - Z0) / (Z_L + Z0) = m / (2 + m)
  line_echo        a mismatched lossy line, one tick    e_k = exp(-alpha) v_k - Gamma exp(-2 alpha) e_{k-2}
  courant_lag      a local Courant number nu            y_k = y_{k-1} + nu (v_k - y_{k-1})
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array


def gauss(rng: np.random.Generator, shape: int | tuple[int, ...], dtype: Any = np.float64, std: float = 1.0) -> Array:
    """Normal draws N(0, std^2) of ``shape`` and ``dtype`` (float32 or float64) from ``rng``, by the Box-Muller
    transform (``std`` is folded into the radius, no extra pass).

    z = sqrt(-2 ln(1 - u1)) cos(2 pi u2) and the same with sin, for u1, u2 uniform in [0, 1): two exact N(0, 1) draws
    per pair of uniforms, computed with vectorised log / sqrt / cos / sin. Per-read device noise is the hot loop of
    training on an emulated chip, and numpy's ziggurat ``standard_normal`` costs about 10 ns a draw on a 2-core Xeon
    against about 3 ns here. The only departure from N(0, 1) is the tail: 1 - u1 >= 2^-23 in float32 (2^-53 in
    float64), so |z| <= 5.65 (8.57), a cut that a draw crosses with probability 2e-8 (1e-17).
    """
    dtype = np.dtype(dtype)
    size = _count(shape)
    half = (size + 1) // 2
    if dtype == np.float32:
        # NOTE: from floats f in [1, 2) (see _one_to_two): 1 - u1 = 2 - f1 in (0, 1], and cos(2 pi f2) = cos(2 pi u2)
        u = _one_to_two(rng, 2 * half)
        radius, angle = u[:half], u[half:]
        np.subtract(np.float32(2.0), radius, out=radius)
    else:
        u = rng.random(2 * half, dtype=dtype)
        radius, angle = u[:half], u[half:]
        np.subtract(1.0, radius, out=radius)
    np.log(radius, out=radius)
    radius *= dtype.type(-2.0 * std * std)
    np.sqrt(radius, out=radius)
    angle *= dtype.type(2.0 * np.pi)
    out = np.empty(2 * half, dtype)
    np.cos(angle, out=out[:half])
    np.sin(angle, out=out[half:])
    out[:half] *= radius
    out[half:] *= radius
    return out[:size].reshape(shape)


def _one_to_two(rng: np.random.Generator, count: int) -> Array:
    """``count`` float32 1 + k 2^-23, k uniform on 0 .. 2^23 - 1: the top 23 bits of each half of the bit
    generator's raw 64-bit words as the mantissa of a float in [1, 2), in place (numpy's float32 ``random`` makes
    one draw from each 32-bit output at 1.6x the cost here)."""
    bits = rng.bit_generator.random_raw((count + 1) // 2).view(np.uint32)[:count]
    bits >>= np.uint32(9)
    bits |= np.uint32(0x3F800000)
    return bits.view(np.float32)


def _count(shape: int | tuple[int, ...]) -> int:
    """Elements of an array of ``shape`` (math.prod: np.prod costs a ufunc reduction, ~1 us, per draw)."""
    return int(shape) if isinstance(shape, (int, np.integer)) else math.prod(shape)


def quantize(v: Array, bits: int | None, full_scale: float) -> Array:
    """Clip to [-full_scale, full_scale] and round to the nearest level (mid-tread, 0 is a level).

    ``bits`` >= 2: 2^bits - 1 levels k * step, step = full_scale / (2^(bits-1) - 1); ``bits`` = 1: the sign
    converter with levels +-full_scale; ``bits`` None: no rounding (clip only).
    """
    return _quantize_into(np.clip(v, -full_scale, full_scale), bits, full_scale)


def _quantize_into(u: Array, bits: int | None, full_scale: float) -> Array:
    """:func:`quantize` computed in the fresh array ``u`` (overwritten; the same float operations, in place)."""
    np.clip(u, -full_scale, full_scale, out=u)
    if bits is None:
        return u
    if bits == 1:
        return np.where(u >= 0, full_scale, -full_scale).astype(u.dtype, copy=False)
    levels = 2 ** (bits - 1) - 1
    # NOTE: k / levels * full_scale, so the end levels are exactly +-full_scale
    u *= levels / full_scale
    np.rint(u, out=u)
    u /= levels
    u *= full_scale
    return u


def quantization_step(bits: int, full_scale: float) -> float:
    """The distance between neighbouring levels of :func:`quantize`."""
    return 2.0 * full_scale if bits == 1 else full_scale / (2 ** (bits - 1) - 1)


def convert(
    v: Array, bits: int | None, full_scale: float, noise: float, manage: bool, rng: np.random.Generator | None
) -> Array:
    """A converter (DAC or ADC) on rows of ``v`` (last axis), with additive noise before it is rounded.

    ``manage`` (aihwkit's abs_max noise management): each row is divided by its largest magnitude, converted at
    full scale 1 and multiplied back, so the relative error is the same for waves of any scale. Otherwise the
    absolute full scale clips. ``noise``: std in units of the managed full scale (managed), in units of v
    (otherwise). Computed in units of one level of each row's full scale F (v levels / F, noise, clip, round, back
    to F): :func:`quantize` of the noisy v / F.
    """
    if manage:
        # NOTE: an fmax reduction of |v|: numpy's max propagates NaN at a cost (1.3x here)
        peak = np.fmax.reduce(np.abs(v), axis=-1, keepdims=True)
        scale: Any = np.where(peak > 0, peak, 1.0).astype(v.dtype, copy=False)
    else:
        scale = full_scale
    relative = noise if manage else noise / full_scale  # the noise std in units of the full scale F
    if bits is None or bits == 1:
        u = v / scale
        if noise and rng is not None:
            u += gauss(rng, u.shape, u.dtype, relative)
        u = _quantize_into(u, bits, 1.0)
        u *= scale
        return u
    levels = 2 ** (bits - 1) - 1
    u = v * (levels / scale)
    if noise and rng is not None:
        u += gauss(rng, u.shape, u.dtype, relative * levels)
    if noise or not manage:  # NOTE: a managed row without noise is within +-levels by construction
        np.minimum(u, levels, out=u)  # NOTE: the clip as two ufuncs: np.clip is 1.3x slower here
        np.maximum(u, -levels, out=u)
    np.rint(u, out=u)
    # NOTE: k / levels * F, as in quantize, so the end levels are exactly +-F
    u /= levels
    u *= scale
    return u


def pulse_count(
    dw: Array, dw_min: float, rounding: str, rng: np.random.Generator, max_pulses: int | None = None
) -> Array:
    """Signed pulse counts for continuous updates ``dw`` (same units as ``dw_min``): unbiased stochastic rounding
    (floor(dw / dw_min + U), U uniform in [0, 1)) or deterministic rounding to nearest; clipped to +-max_pulses.
    The dense form of :func:`pulses` (same draws)."""
    where, counts = pulses(dw, dw_min, rounding, rng, max_pulses)
    n = np.zeros(np.shape(dw), dtype=counts.dtype)
    n.reshape(-1)[where] = counts
    return n


def pulses(
    dw: Array, dw_min: float, rounding: str, rng: np.random.Generator, max_pulses: int | None = None
) -> tuple[Array, Array]:
    """The pulse counts of :func:`pulse_count` as (flat indices of the devices that get pulses, their signed counts):
    most devices get none, so nothing dense is kept. Stochastic float32 rounds floor(dw / dw_min + f) - 1 with f = 1
    + U in [1, 2) (a float32 uniform made from raw bits is that float first: one pass fewer); clipping touches only
    the counts."""
    n = dw / dw_min
    if rounding == "stochastic":
        if n.dtype == np.float32:
            n += _one_to_two(rng, n.size).reshape(n.shape)
            np.floor(n, out=n)
            flat = n.reshape(-1)
            where = np.flatnonzero(flat != 1.0)
            counts = flat[where] - 1.0
        else:
            n += rng.random(n.shape, dtype=n.dtype)
            np.floor(n, out=n)
            flat = n.reshape(-1)
            where = np.flatnonzero(flat != 0)  # NOTE: on a bool array: 10x faster than on floats
            counts = flat[where]
    else:
        np.rint(n, out=n)
        flat = n.reshape(-1)
        where = np.flatnonzero(flat != 0)
        counts = flat[where]
    if max_pulses is not None:
        np.clip(counts, -max_pulses, max_pulses, out=counts)
    return where, counts


def apply_pulses(
    w: Array,
    n: Array,
    dw_up: Array,
    dw_down: Array,
    gamma_up: float,
    gamma_down: float,
    bound: Array,
    dw_std: float,
    rng: np.random.Generator | None,
) -> Array:
    """The state after ``n`` pulses (n > 0 up, n < 0 down) of a linear-step device, in closed form.

    One up pulse: w += dw_up (1 - gamma_up w / bound); one down pulse: w -= dw_down (1 + gamma_down w / bound); the
    state stays in [-bound, bound]. n pulses compose geometrically towards the fixed point w* = bound / gamma:
    w_n = w* - (w* - w_0)(1 - gamma dw / bound)^n (gamma = 0: w_0 + n dw). Update noise: every pulse's step has an
    additive std ``dw_std dw`` (aihwkit's dw_min_std with mult_noise off), and each later pulse shrinks an earlier
    pulse's noise by c = 1 - gamma dw / bound, so n pulses add N(0, (dw_std dw)^2 (1 - c^2n) / (1 - c^2)) (n (dw_std
    dw)^2 for a constant step), the distribution of n pulses applied one by one (checked against aihwkit by
    benchmarks/aihwkit_check.py).
    """
    count = np.abs(n)
    single = not count.size or count.max() <= 1
    symmetric = gamma_up == gamma_down and (
        dw_up is dw_down or (np.ndim(dw_up) == 0 and np.ndim(dw_down) == 0 and dw_up == dw_down)
    )
    if single and symmetric:
        # NOTE: one pulse or none (the common case of small updates), the same step both ways: w + dw (n - gamma |n|
        # w / bound) is both single-step formulas at once, in place over one temporary
        out = np.divide(w, bound)
        out *= count
        if gamma_up != 1.0:
            out *= gamma_up
        np.subtract(n, out, out=out)
        out *= dw_up
        out += w
    elif single:
        up, down = n > 0, n < 0
        out = w + up * (dw_up * (1.0 - (gamma_up / bound) * w)) - down * (dw_down * (1.0 + (gamma_down / bound) * w))
    else:
        up, down = n > 0, n < 0
        w_up = _linear_step(w, count, dw_up, gamma_up, bound)
        w_down = -_linear_step(-w, count, dw_down, gamma_down, bound)
        out = np.where(up, w_up, np.where(down, w_down, w))
    if dw_std and rng is not None:
        # NOTE: only a device that received pulses has update noise: draw for those alone (most get none)
        moved = np.flatnonzero(count != 0)
        if moved.size:
            if symmetric:
                step = at(dw_up, out.shape, moved)
            else:
                step = np.where(at(n, out.shape, moved) > 0, at(dw_up, out.shape, moved), at(dw_down, out.shape, moved))
            pulses = at(count, out.shape, moved)
            if single or (gamma_up == 0.0 and gamma_down == 0.0):
                var = pulses
            else:
                bound_at = at(bound, out.shape, moved)
                var = np.where(
                    at(n, out.shape, moved) > 0,
                    _noise_sum(pulses, at(dw_up, out.shape, moved), gamma_up, bound_at),
                    _noise_sum(pulses, at(dw_down, out.shape, moved), gamma_down, bound_at),
                )
            noise = gauss(rng, moved.size, out.dtype)
            noise *= dw_std * step * np.sqrt(var)
            out = np.ascontiguousarray(out)
            flat = out.reshape(-1)
            flat[moved] += noise
    return np.clip(out, -bound, bound, out=out)


def at(value: Array | float, shape: tuple[int, ...], flat_index: Array) -> Array | float:
    """``value`` broadcast to ``shape`` at the C-order flat indices ``flat_index`` (a scalar stays a scalar)."""
    if np.ndim(value) == 0:
        return value
    value = np.asarray(value)
    if value.shape == tuple(shape) and value.flags.c_contiguous:
        return value.reshape(-1)[flat_index]
    return np.broadcast_to(value, shape)[np.unravel_index(flat_index, shape)]


def _noise_sum(count: Array, dw: Array, gamma: float, bound: Array) -> Array:
    """sum_{k < count} c^2k = (1 - c^2 count) / (1 - c^2), c = 1 - gamma dw / bound: how much of the additive
    noise of ``count`` pulses survives the contraction of the later ones (``count`` for gamma = 0)."""
    # NOTE: expm1 / log1p keep the ratio accurate when gamma dw / bound is tiny (c -> 1, the ratio -> count); a step
    # that overshoots its own fixed point (gamma dw / bound >= 1, c <= 0) is degenerate and counts as c = 0.001
    log_c2 = 2.0 * np.log1p(-np.minimum(gamma * dw / bound, 0.999))
    safe = np.minimum(log_c2, -1e-15)
    return np.where(log_c2 < -1e-15, np.expm1(count * safe) / np.expm1(safe), count)


def _linear_step(w: Array, count: Array, dw: Array, gamma: float, bound: Array) -> Array:
    if gamma == 0.0:
        return w + count * dw
    target = bound / gamma
    return target - (target - w) * (1.0 - gamma * dw / bound) ** count


def drift_factor(t: float, t0: float, nu: Array) -> Array:
    """G(t) / G(t0) = (t / t0)^-nu for t > t0, and 1 before drift starts."""
    return (max(t, t0) / t0) ** (-np.asarray(nu))


def reflection(mismatch: Array) -> Array:
    """Reflection coefficient of a line end loaded by Z0 (1 + mismatch): (Z_L - Z0) / (Z_L + Z0) = m / (2 + m)."""
    return mismatch / (2.0 + mismatch)


def line_echo(v: Array, prev2: Array | None, gamma: Array, loss: float) -> tuple[Array, Array]:
    """One tick of a lossy line of one-tick delay into a mismatched load: (what the load receives, e_k to keep).

    The line is driven by a cell, an ideal voltage source (zero output impedance: it reflects -1), and ends in a
    load of reflection coefficient Gamma. The wave incident at the load is e_k = exp(-loss) v_k - Gamma exp(-2 loss)
    e_{k-2}: the load reflects Gamma e, which travels back (one tick), is inverted by the driver and returns (one
    more tick). The load receives (1 + Gamma) e_k; at steady state (no loss) exactly v, as a driven resistor should.
    ``prev2`` is e_{k-2} (None: the line was at rest). The compiled circuit has the same line (``with_hardware``).
    """
    keep = np.exp(-loss)
    incident = keep * v
    if prev2 is not None:
        incident = incident - gamma * (keep * keep) * prev2
    return (1.0 + gamma) * incident, incident


def courant_lag(prev: Array | None, v: Array, nu: Array) -> Array:
    """A cell updated at local Courant number nu: y_k = y_{k-1} + nu (v_k - y_{k-1}); from rest (None) nu v_k."""
    if prev is None:
        return nu * v
    return prev + nu * (v - prev)
