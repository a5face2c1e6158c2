"""The analog-device substrate: a :class:`HardwareModel` running on the seam, for one chip or a Monte-Carlo batch.

With ``chips = N`` every parameter is an array (N, out, in) and every wave (N, batch, n); each chip instance has its
own device-to-device variation, stuck devices, line mismatch and timing, drawn once from its own child of a numpy
``SeedSequence`` (so chip c of seed s is the same chip in every run and whatever N is). Per-read noise (read noise,
converter noise, update noise, stochastic rounding) comes from one generator of the run, also from the seed.

Where each effect enters (hooks of :class:`wavetrain.emulator.substrate.Substrate`):
  weight      the stored state already holds each device's bound, stuck devices and conductance levels
              (weight_bits), written there by program and write; the inference view (:meth:`inference`) reads
              it drifted to t_inference
  weight/bias with wires (circuit.r_row, r_col > 0): the read gives each junction's array its conductance state
              (the stored W and b, mapped onto pairs with a bias row, circuits/irdrop.py), solved once per state:
              the effective weights W_eff and bias b_eff the array implements; bias returns b_eff
  crossbar    with wires: the product is the array's read of the drive rows, x W_eff^T forward and delta W_eff
              backward (the transpose read, by reciprocity the same matrix); then read noise of every device on
              every product (forward and backward), referred to the output
  signal      input / forward / error: DAC (dac_bits, noise management); backward: ADC of the backward crossbar
              with backward_noise; output: identity (the forward ADC already digitised it in ``accumulate``)
  accumulate  the forward crossbar output: forward_noise, ADC (adc_bits), integrator leak
  line        local Courant number (jitter), line loss, mismatch echoes
  write       the port's update as pulses of a linear-step device (soft bounds, asymmetry, update noise, pulse
              rounding, per-device step and bound), or written exactly then snapped to the levels; biases are
              digital (exact) on this chip
Which schedule can express what: everything but echoes and jitter is stateless per tick, so the light-cone
schedule and the fused dyadic step see it. Echoes arrive two ticks after a wave and jitter lags a cell behind its
previous value: both need the waves' history, so they act only in tick-based schedules (``schedule="ticks"``,
``method="wave"``); :attr:`AnalogSubstrate.needs_ticks` says when a model has them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from wavetrain.circuits import devices, irdrop
from wavetrain.circuits.chip import Chip
from wavetrain.circuits.hardware import HardwareModel
from wavetrain.compiler.functions import Activation, Array
from wavetrain.emulator import ops
from wavetrain.emulator.substrate import Delegate, Substrate
from wavetrain.errors import ConfigError

_BLOCK = 1 << 16  # elements per block of the elementwise device physics (writes)


class AnalogSubstrate(Chip, Substrate):
    """A hardware model on the seam: ``AnalogSubstrate("reram", net.graph, chips=16, seed=0)``.

    The devices, their draws and their programming are the :class:`~wavetrain.circuits.chip.Chip`'s (the same
    arguments: ``network``, ``chips``, ``seed``, ``dtype``); this class adds the per-read physics of the hooks, keyed
    by node id. With ``chips = N`` every parameter is (N, out, in) and every wave (N, batch, n).
    """

    def __init__(
        self,
        hardware: HardwareModel | str,
        network: Any,
        chips: int | None = None,
        seed: int = 0,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__(hardware, network, chips, seed, dtype)
        self._lines: dict[tuple[str, str], list[Array | None]] = {}
        self._lags: dict[tuple[str, str], Array] = {}
        self._steps: dict[tuple[str, str], Array | float] = {}
        self._held: dict[str, Array] = {}  # with wires: the W each junction read this tick
        self._arrays: dict[str, _Arrays] = {}  # with wires: each junction's solved array, kept while its state holds

    @property
    def ideal(self) -> bool:
        # NOTE: False even for the ideal preset, so every schedule runs the cells through these hooks (the port
        # readout is what gradient fidelity measures), never the fused BLAS path that skips them
        return False

    @property
    def needs_ticks(self) -> bool:
        """True when the model has effects that need the waves' history (mismatch echoes, timing jitter)."""
        circ = self.model.circuit
        return bool(circ.mismatch or circ.mismatch_dtod or circ.jitter)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "chips": self.chips, "seed": self.seed, "hardware": self.model.to_dict()}

    def __repr__(self) -> str:
        return f"AnalogSubstrate({self.name!r}, {len(self.bound)} junctions, chips={self.chips}, seed={self.seed})"

    def program(self, W: Array, layer: str) -> None:
        self._arrays.pop(layer, None)
        super().program(W, layer)

    def inference(self, t: float | None = None, scales: dict[str, Any] | None = None) -> Substrate:
        """This chip as it is read in use, ``t`` seconds after programming (default ``t_inference``): its weights
        drifted (power law, each device its own exponent), each forward crossbar output of node n multiplied by
        ``scales[n]`` (a drift compensation applied digitally after the read: a number per chip (chips, 1, 1) or per
        column (chips, 1, out)); every other hook, the devices and the generators are this substrate's."""
        return _Inference(self, self.model.device.t_inference if t is None else float(t), scales or {})

    def weight(self, W: Array, layer: str) -> Array:
        if self.model.circuit.wires and layer in self.bound:
            self._held[layer] = W  # NOTE: the array's state is (W, b): the bias read that follows solves it
        return W

    def bias(self, b: Array, layer: str) -> Array:
        """With wires, the bias the array's bias row reads (b_eff); otherwise b (a digital register)."""
        if not self.model.circuit.wires or layer not in self.bound:
            return b
        return self.array(layer, b).bias(b.dtype)

    def array(self, layer: str, b: Array) -> _Arrays:
        """The solved crossbar(s) of ``layer`` holding the W it read last and ``b``: kept while both are unchanged
        (dropped when the layer is written or programmed, and compared value by value at each read)."""
        W = self._held.get(layer)
        if W is None:
            raise ConfigError(f"layer {layer}: its bias was read before its weights (the read is weight, then bias)")
        kept = self._arrays.get(layer)
        if kept is not None and kept.holds(W, b):
            return kept
        op = ops.OPS[type(self.graph.node(layer))]
        matrix = op.matrix(W) if isinstance(op, ops.ConvOp) else W
        self._arrays[layer] = _Arrays(matrix, b, W, self.model)
        return self._arrays[layer]

    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        """With wires, the array's read of the drive rows x (forward: x W_eff^T; backward, the transpose read:
        x W_eff); then read noise, referred to the output as aihwkit's w_noise is: every product is a fresh read of
        every device.

        A device read with independent noise xi_jk ~ N(0, sigma^2) gives output j of sample x the extra sum_k xi_jk
        x_k ~ N(0, sigma^2 |x|^2), independent over outputs and samples: exactly that distribution is drawn, one
        number per output instead of one per device (sigma: read_noise w_max, times sqrt 2 for a pair).
        """
        dev = self.model.device
        if self.model.circuit.wires and layer in self.bound:
            y = self._wired(y, x, layer, direction)
        if not dev.read_noise:
            return y
        # NOTE: a differential pair reads two independent devices: their noises add in quadrature
        std = dev.read_noise * dev.scale * (np.sqrt(2.0) if dev.differential else 1.0)
        norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
        noisy = devices.gauss(self.rng, y.shape, y.dtype, std)
        noisy *= norm
        noisy += y
        return noisy

    def _wired(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        kept = self._arrays.get(layer)
        W_eff = None if kept is None else kept.weights(y.dtype)
        if W_eff is None or W_eff.shape[-1 if direction == "forward" else -2] != x.shape[-1]:
            raise ConfigError(
                f"layer {layer}: a {direction} product through its array before the junction read it (weight, bias)"
            )
        return x @ W_eff.swapaxes(-1, -2) if direction == "forward" else x @ W_eff

    def signal(self, v: Array, where: str, layer: str) -> Array:
        io = self.model.io
        manage = io.noise_management == "abs_max"
        if where in ("input", "forward", "error"):
            if io.dac_bits is None and not manage:
                return np.clip(v, -io.dac_range, io.dac_range) if where == "input" else v
            return devices.convert(v, io.dac_bits, io.dac_range, 0.0, manage, None) if io.dac_bits else v
        if where == "backward":
            if io.adc_bits is None and not io.backward_noise:
                return v
            return devices.convert(v, io.adc_bits, io.adc_range, io.backward_noise, manage, self.rng)
        return v

    def accumulate(self, a: Array, layer: str) -> Array:
        if layer not in self.bound:
            return a  # NOTE: a junction without devices (a sum, a pooling, a reshape) has no crossbar to read
        io, leak = self.model.io, self.model.circuit.leak
        if io.adc_bits is not None or io.forward_noise:
            a = devices.convert(
                a, io.adc_bits, io.adc_range, io.forward_noise, io.noise_management == "abs_max", self.rng
            )
        return a * (1.0 - leak) if leak else a

    def line(self, wave: Array, layer: str, direction: str) -> Array:
        circ = self.model.circuit
        out = wave
        key = (layer, direction)
        if circ.jitter:
            nu = self._per_chip(self.courant[:, self.index[layer]], wave.ndim)
            prev = self._lags.get(key)
            if prev is not None and prev.shape != wave.shape:
                prev = None
            out = devices.courant_lag(prev, out, nu.astype(wave.dtype))
            self._lags[key] = out
        if circ.mismatch or circ.mismatch_dtod or circ.line_loss:
            gamma = self._per_chip(self.gamma[:, self.index[layer], 0 if direction == "forward" else 1], wave.ndim)
            history = self._lines.get(key)
            if history is None or (history[0] is not None and history[0].shape != out.shape):
                history = [None, None]
            out, incident = devices.line_echo(out, history[0], gamma.astype(wave.dtype), circ.line_loss)
            self._lines[key] = [history[1], incident]  # e_{k-1} becomes e_{k-2} at the next tick
        return out

    def rest(self) -> None:
        """Bring every line to rest (a relaxation that starts from zero waves)."""
        self._lines.clear()
        self._lags.clear()

    def _per_chip(self, values: Array, ndim: int) -> Array:
        if self.chips is None:
            return values[0]
        return values.reshape((self.chips,) + (1,) * (ndim - 1))

    def write(self, p: Array, step: Array, layer: str, kind: str) -> None:
        self.write_scaled(p, step, 1.0, layer, kind)

    def write_scaled(self, p: Array, step: Array, scale: float, layer: str, kind: str) -> None:
        """p += scale step as device physics (see the module docstring); the scaled step is formed a block of rows at
        a time, never as a whole temporary."""
        self._arrays.pop(layer, None)  # NOTE: a written state is solved anew at its next read
        if kind != "W":
            p += step if scale == 1.0 else scale * step  # NOTE: biases are digital registers on this chip
            return
        if scale == 0.0:
            return
        if not p.flags.c_contiguous:
            raise ConfigError(
                f"layer {layer}: the device update writes in place into a C-contiguous weight array, got "
                f"one with strides {p.strides} (make it with np.ascontiguousarray)"
            )
        dev = self.model.device
        rows, steps = p.reshape(-1, p.shape[-1]), np.broadcast_to(step, p.shape).reshape(-1, p.shape[-1])
        if dev.dw_min is None:
            # NOTE: written exactly, then clipped and snapped, over blocks of rows so the temporaries stay in cache
            for block in _row_blocks(rows.shape):
                rows[block] += steps[block] if scale == 1.0 else scale * steps[block]
                self._settle(rows[block], layer, block)
        else:
            self._pulse(p, steps, scale, layer)
        self._pin(p, layer)

    def _pulse(self, p: Array, steps: Array, scale: float, layer: str) -> None:
        """The update as pulses: each device's continuous step becomes a pulse count (rounded over blocks of rows),
        then the pulse physics runs once on the devices that got a pulse (about 1 % per step of SGD at lr 0.01 on
        reram); the others hold their settled state (clipped, on a level) from before. (A worker thread rounding
        half of the blocks, each half with its own generator, measured no faster on 2 cores: 8.9 against 8.7 ms a
        step on 784-512-512-10.)"""
        dev = self.model.device
        # NOTE: pulses of scale * step in units of dw_min: step / (dw_min / scale), a block at a time
        assert dev.dw_min is not None  # NOTE: write_scaled pulses only a device with a pulse step
        unit, width = dev.dw_min * dev.scale / scale, steps.shape[-1]
        found, counts = [], []
        for block in _row_blocks(steps.shape):
            where, n = devices.pulses(steps[block], unit, dev.rounding, self.rng, dev.max_pulses)
            found.append(where + block.start * width)
            counts.append(n)
        moved = np.concatenate(found)
        if not moved.size:
            return
        n = np.concatenate(counts)
        shape = p.shape
        dw = devices.at(self._step_size(layer, p.dtype), shape, moved)
        bound = devices.at(self.bound[layer], shape, moved)
        # NOTE: an unbounded store (w_max inf) has no soft bounds: its steps are constant
        gamma_up, gamma_down = (dev.gamma_up, dev.gamma_down) if np.isfinite(dev.w_max) else (0.0, 0.0)
        up, down = (dw * (1.0 + dev.up_down), dw * (1.0 - dev.up_down)) if dev.up_down else (dw, dw)
        flat = p.reshape(-1)
        new = devices.apply_pulses(flat[moved], n, up, down, gamma_up, gamma_down, bound, dev.dw_min_std, self.rng)
        if dev.weight_bits is not None:
            new = devices.quantize(new, dev.weight_bits, dev.scale)
        flat[moved] = new

    def _step_size(self, layer: str, dtype: Any) -> Array | float:
        """Each device's pulse step dw_min * scale * (its d2d factor), kept per layer and dtype."""
        key = (layer, np.dtype(dtype).str)
        if key not in self._steps:
            dev = self.model.device
            scale = self.dw_scale[layer]
            assert dev.dw_min is not None
            unit = dev.dw_min * dev.scale
            self._steps[key] = np.asarray(unit * scale, dtype=dtype) if np.ndim(scale) else unit
        return self._steps[key]

    def activate(self, act: Activation, a: Array, layer: str) -> Array:
        return act.f(a)


class _Inference(Delegate):
    """The inference view of an :class:`AnalogSubstrate` (see :meth:`AnalogSubstrate.inference`)."""

    inner: AnalogSubstrate

    def __init__(self, inner: AnalogSubstrate, t: float, scales: dict[str, Any]) -> None:
        super().__init__(inner)
        self.t, self.scales = t, scales

    def weight(self, W: Array, layer: str) -> Array:
        dev = self.inner.model.device
        if (dev.drift_nu or dev.drift_nu_dtod) and self.t > dev.drift_t0 and layer in self.inner.nu_drift:
            W = W * np.asarray(self.inner.drift_factor(layer, self.t)).astype(W.dtype)
        return self.inner.weight(W, layer)  # NOTE: the chip's read of the drifted state (its arrays, with wires)

    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        out = self.inner.crossbar(y, x, layer, direction)
        scale = self.scales.get(layer)
        if scale is None or direction != "forward":
            return out
        return out * np.asarray(scale, dtype=out.dtype)  # NOTE: (chips, 1, 1 or out) against (chips, rows, out)


class _Arrays:
    """The crossbars of one junction (one per chip) in one conductance state, solved: W_eff and b_eff.

    ``matrix`` (.., out, K) is the junction's weights in crossbar form (a convolution's kernel as out x (k C_in)),
    ``b`` (.., out). Each chip's pair of arrays is mapped by :func:`wavetrain.circuits.irdrop.conductances` (uS of
    the device model in S; a stored weight or bias beyond w_max, from a device's own bound or a digital bias, maps
    beyond g_max at the same scale, as a device of that range would hold it), solved by
    :class:`~wavetrain.circuits.irdrop.Crossbar` (one sparse LU per chip) and read through its effective matrix M:
    W_eff = (M[0::2] - M[1::2])[:, :K] / gs, b_eff = (M[0::2] - M[1::2])[:, K] / gs. The chip axis is a loop of
    solves (each chip its own conductances); the batch is one matrix product per read.
    """

    def __init__(self, matrix: Array, b: Array, W: Array, model: Any) -> None:
        dev, circ = model.device, model.circuit
        self.W, self.b = np.array(W), np.array(b)  # NOTE: copies: the state this solve holds
        flat_W = np.asarray(matrix, dtype=np.float64).reshape(-1, *matrix.shape[-2:])
        flat_b = np.asarray(b, dtype=np.float64).reshape(-1, b.shape[-1])
        g_min, gs = dev.g_min * 1e-6, (dev.g_max - dev.g_min) * 1e-6 / dev.w_max
        W_eff, b_eff = np.empty_like(flat_W), np.empty_like(flat_b)
        for c, (Wc, bc) in enumerate(zip(flat_W, flat_b)):
            reach = max(dev.w_max, float(np.max(np.abs(Wc), initial=0.0)), float(np.max(np.abs(bc), initial=0.0)))
            g_top = g_min + gs * reach if reach > dev.w_max else dev.g_max * 1e-6
            G = irdrop.conductances(Wc, bc, g_min, g_top, reach)
            M = irdrop.Crossbar(G, circ.r_row, circ.r_col).effective()
            signed = (M[0::2] - M[1::2]) / ((g_top - g_min) / reach)
            W_eff[c], b_eff[c] = signed[:, :-1], signed[:, -1]
        self._W_eff = W_eff.reshape(matrix.shape)
        self._b_eff = b_eff.reshape(b.shape)
        self._cast: dict[str, tuple[Array, Array]] = {}

    def holds(self, W: Array, b: Array) -> bool:
        return W.shape == self.W.shape and np.array_equal(W, self.W) and np.array_equal(b, self.b)

    def _of(self, dtype: Any) -> tuple[Array, Array]:
        key = np.dtype(dtype).str
        if key not in self._cast:
            self._cast[key] = (self._W_eff.astype(dtype), self._b_eff.astype(dtype))
        return self._cast[key]

    def weights(self, dtype: Any) -> Array:
        """W_eff (.., out, K) in ``dtype``."""
        return self._of(dtype)[0]

    def bias(self, dtype: Any) -> Array:
        """b_eff (.., out) in ``dtype``."""
        return self._of(dtype)[1]


def _row_blocks(shape: tuple[int, ...]) -> list[slice]:
    """Blocks of about _BLOCK elements over the rows of an array of ``shape`` seen as (-1, shape[-1]), so the
    temporaries of the elementwise physics stay in cache."""
    count = math.prod(shape[:-1])
    size = max(1, _BLOCK // max(1, shape[-1]))
    return [slice(first, first + size) for first in range(0, count, size)]
