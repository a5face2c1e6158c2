"""The analog-device substrate: a :class:`HardwareModel` running on the seam, for one chip or a Monte-Carlo batch.

With ``chips = N`` every parameter is an array (N, out, in) and every wave (N, batch, n); each chip instance has its
own device-to-device variation, stuck devices, line mismatch and timing, drawn once from its own child of a numpy
``SeedSequence`` (so chip c of seed s is the same chip in every run and whatever N is). Per-read noise (read noise,
converter noise, update noise, stochastic rounding) comes from one generator of the run, also from the seed.

Where each effect enters (hooks of :class:`wavetrain.emulator.substrate.Substrate`):
  weight      the stored state already holds each device's bound, stuck devices and conductance levels
              (weight_bits), written there by program and write; the inference view (:meth:`inference`) reads
              it drifted to t_inference
  crossbar    read noise of every device on every product (forward and backward), referred to the output
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

from wavetrain.circuits import devices
from wavetrain.circuits.chip import Chip
from wavetrain.circuits.hardware import HardwareModel
from wavetrain.compiler.functions import Activation, Array
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

    def inference(self, t: float | None = None, scales: dict[str, Any] | None = None) -> Substrate:
        """This chip as it is read in use, ``t`` seconds after programming (default ``t_inference``): its weights
        drifted (power law, each device its own exponent), each forward crossbar output of node n multiplied by
        ``scales[n]`` (a drift compensation applied digitally after the read: a number per chip (chips, 1, 1) or per
        column (chips, 1, out)); every other hook, the devices and the generators are this substrate's."""
        return _Inference(self, self.model.device.t_inference if t is None else float(t), scales or {})

    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        """Read noise, referred to the output as aihwkit's w_noise is: every product is a fresh read of every device.

        A device read with independent noise xi_jk ~ N(0, sigma^2) gives output j of sample x the extra sum_k xi_jk
        x_k ~ N(0, sigma^2 |x|^2), independent over outputs and samples: exactly that distribution is drawn, one
        number per output instead of one per device (sigma: read_noise w_max, times sqrt 2 for a pair).
        """
        dev = self.model.device
        if not dev.read_noise:
            return y
        # NOTE: a differential pair reads two independent devices: their noises add in quadrature
        std = dev.read_noise * dev.scale * (np.sqrt(2.0) if dev.differential else 1.0)
        norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
        noisy = devices.gauss(self.rng, y.shape, y.dtype, std)
        noisy *= norm
        noisy += y
        return noisy

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
            return W * np.asarray(self.inner.drift_factor(layer, self.t)).astype(W.dtype)
        return W

    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        out = self.inner.crossbar(y, x, layer, direction)
        scale = self.scales.get(layer)
        if scale is None or direction != "forward":
            return out
        return out * np.asarray(scale, dtype=out.dtype)  # NOTE: (chips, 1, 1 or out) against (chips, rows, out)


def _row_blocks(shape: tuple[int, ...]) -> list[slice]:
    """Blocks of about _BLOCK elements over the rows of an array of ``shape`` seen as (-1, shape[-1]), so the
    temporaries of the elementwise physics stay in cache."""
    count = math.prod(shape[:-1])
    size = max(1, _BLOCK // max(1, shape[-1]))
    return [slice(first, first + size) for first in range(0, count, size)]
