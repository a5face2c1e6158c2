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

from wavetrain.compiler.budget import check_memory
from wavetrain.compiler.functions import Activation, Array
from wavetrain.compiler.graph import as_graph
from wavetrain.emulator import devices
from wavetrain.emulator.hardware import HardwareModel, load_hardware
from wavetrain.emulator.substrate import Delegate, Substrate
from wavetrain.errors import ConfigError

_STUCK_NONE, _STUCK_ON, _STUCK_OFF = 0, 1, 2
_BLOCK = 1 << 16  # elements per block of the elementwise device physics (writes)


class AnalogSubstrate(Substrate):
    """A hardware model on the seam: ``AnalogSubstrate("reram", net.graph, chips=16, seed=0)``.

    ``network``: the graph (or the Network, or a chain's widths input first, as [64, 128, 10]) whose junctions the
    chip holds: every parametric node gets its devices, one per weight (a convolution's kernel is one crossbar of
    out_channels x in_channels x kernel, read at every position), every node its lines. ``chips`` None: no chip axis
    (params (*shape)); an integer N: params (N, *shape). ``dtype`` is the dtype of the drawn device arrays. Hooks are
    keyed by node id.
    """

    def __init__(
        self,
        hardware: HardwareModel | str,
        network: Any,
        chips: int | None = None,
        seed: int = 0,
        dtype: Any = np.float64,
    ) -> None:
        self.model = load_hardware(hardware)
        self.name = self.model.name
        if chips is not None and (isinstance(chips, bool) or not isinstance(chips, (int, np.integer)) or chips < 1):
            raise ConfigError(f"chips: expected an integer >= 1 or None, got {chips!r}")
        self.chips = None if chips is None else int(chips)
        self.graph = as_graph(network)
        self.index = {n: k for k, n in enumerate(self.graph.order)}  # node id -> its row of the line arrays
        self.seed = seed
        self.dtype = np.dtype(dtype)
        self._lines: dict[tuple[str, str], list[Array | None]] = {}
        self._lags: dict[tuple[str, str], Array] = {}
        self._steps: dict[tuple[str, str], Array | float] = {}
        self._stuck_at: dict[str, tuple[Array, Any, Array]] = {}  # flat indices of stuck-on / -off devices, per node
        root = np.random.SeedSequence(seed)
        chip_seeds, run_seed = root.spawn(2)
        # NOTE: PCG64DXSM (numpy's recommended successor of PCG64): its raw words make float32 draws 1.6x faster
        self.rng = np.random.Generator(np.random.PCG64DXSM(run_seed))
        count = 1 if self.chips is None else self.chips
        # NOTE: per chip, each weight has a bound, a step scale, a stuck mask, a drift exponent, its conductances and
        # its copy in the run: refused before a seed is spawned (spawning 10^13 chips' seeds alone never ends)
        weights = sum(int(np.prod(shape)) + int(np.prod(bias)) for shape, bias in self.graph.param_shapes().values())
        check_memory(8.0 * count * weights * 8, f"{count:,} chips of {self.name}", "use fewer chips")
        self._draw([np.random.default_rng(s) for s in chip_seeds.spawn(count)])

    # NOTE: per-chip draws are stacked so that chip c is identical whatever the number of chips
    def _draw(self, chip_rngs: list[np.random.Generator]) -> None:
        dev, circ = self.model.device, self.model.circuit
        depth = len(self.graph.order)  # NOTE: every node drives lines; a chain's nodes are its layers
        self.bound: dict[str, Array | float] = {}
        self.dw_scale: dict[str, Array | float] = {}
        self.stuck: dict[str, Array | None] = {}
        self.nu_drift: dict[str, Array | float] = {}
        for n, (shape, _) in self.graph.param_shapes().items():
            per_chip = [self._draw_layer(rng, shape) for rng in chip_rngs]
            bound, dw_scale, stuck, nu = (self._stack([p[i] for p in per_chip]) for i in range(4))
            self.bound[n] = dev.w_max if bound is None else bound
            self.dw_scale[n] = 1.0 if dw_scale is None else dw_scale
            self.stuck[n] = stuck
            self.nu_drift[n] = dev.drift_nu if nu is None else nu
        gammas, courants = [], []
        for rng in chip_rngs:
            m = circ.mismatch + circ.mismatch_dtod * rng.standard_normal((depth, 2))
            gammas.append(devices.reflection(np.clip(m, -0.9, None)))
            courants.append(np.clip(1.0 - np.abs(circ.jitter * rng.standard_normal(depth)), 0.05, 1.0))
        self.gamma = np.stack(gammas)  # (chips, depth, direction)
        self.courant = np.stack(courants)  # (chips, depth)

    def _draw_layer(self, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Any, Any, Any, Any]:
        dev = self.model.device
        bound = dw_scale = stuck = nu = None
        if dev.w_max_dtod and np.isfinite(dev.w_max):
            bound = dev.scale * np.clip(1.0 + dev.w_max_dtod * rng.standard_normal(shape), 0.1, None)
        if dev.dw_min_dtod:
            dw_scale = np.clip(1.0 + dev.dw_min_dtod * rng.standard_normal(shape), 0.05, None)
        if dev.stuck_on or dev.stuck_off:
            u = rng.random(shape)
            stuck = np.where(
                u < dev.stuck_on, _STUCK_ON, np.where(u < dev.stuck_on + dev.stuck_off, _STUCK_OFF, _STUCK_NONE)
            ).astype(np.int8)
        if dev.drift_nu_dtod:
            nu = np.clip(dev.drift_nu + dev.drift_nu_dtod * rng.standard_normal(shape), 0.0, None)
        return bound, dw_scale, stuck, nu

    def _stack(self, arrays: list[Any]) -> Any:
        if arrays[0] is None:
            return None
        if self.chips is None:
            return arrays[0] if arrays[0].dtype == np.int8 else arrays[0].astype(self.dtype)
        stacked = np.stack(arrays)
        return stacked if stacked.dtype == np.int8 else stacked.astype(self.dtype)

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
        """Write a whole weight array onto the devices at once (the initial transfer), in place: programming noise,
        clip to each device's bound, stuck devices, conductance levels."""
        dev = self.model.device
        if dev.prog_noise:
            W += dev.prog_noise * dev.scale * self.rng.standard_normal(W.shape, dtype=W.dtype)
        self._settle(W, layer)

    def conductances(self, W: Array) -> tuple[Array, Array]:
        """The conductances [uS] that store weights W: (G+, G-) of each pair, or (G, G_ref) without pairs."""
        dev = self.model.device
        span, unit = dev.g_max - dev.g_min, W / dev.scale
        if dev.differential:
            return dev.g_min + span * np.maximum(unit, 0.0), dev.g_min + span * np.maximum(-unit, 0.0)
        reference = dev.g_min + span / 2
        return reference + span / 2 * unit, np.full_like(W, reference)

    def _settle(self, W: Array, layer: str, rows: slice | None = None) -> None:
        """Clip to each device's bound, snap to the conductance levels, pin the stuck devices (``rows``: a block of
        the rows of W flattened to (-1, in), see :meth:`write`: then the caller pins)."""
        dev = self.model.device
        bound = self._rows(self.bound[layer], rows)
        if dev.w_max != np.inf or np.ndim(bound):
            np.clip(W, -bound, bound, out=W)
        if dev.weight_bits is not None:
            W[...] = devices.quantize(W, dev.weight_bits, dev.scale)
        if rows is None:
            self._pin(W, layer)

    def _pin(self, W: Array, layer: str) -> None:
        """Stuck-on devices read their bound (the scale if unbounded), stuck-off devices 0."""
        stuck = self.stuck[layer]
        if stuck is None:
            return
        if layer not in self._stuck_at:
            bound = self.bound[layer] if np.isfinite(self.model.device.w_max) else self.model.device.scale
            on, off = np.flatnonzero(stuck == _STUCK_ON), np.flatnonzero(stuck == _STUCK_OFF)
            values = np.broadcast_to(bound, stuck.shape).reshape(-1)[on] if np.ndim(bound) else bound
            self._stuck_at[layer] = (on, values, off)
        on, values, off = self._stuck_at[layer]
        if W.shape != stuck.shape or not W.flags.c_contiguous:
            raise ConfigError(
                f"layer {layer}: expected a C-contiguous weight array of shape {stuck.shape} for its "
                f"stuck devices, got shape {W.shape}"
            )
        flat = W.reshape(-1)
        flat[on] = values
        flat[off] = 0.0

    @staticmethod
    def _rows(value: Any, rows: slice | None) -> Any:
        if rows is None or value is None or np.ndim(value) == 0:
            return value
        return value.reshape(-1, value.shape[-1])[rows]

    def inference(self, t: float | None = None, scales: dict[str, Any] | None = None) -> Substrate:
        """This chip as it is read in use, ``t`` seconds after programming (default ``t_inference``): its weights
        drifted (power law, each device its own exponent), each forward crossbar output of node n multiplied by
        ``scales[n]`` (a drift compensation applied digitally after the read: a number per chip (chips, 1, 1) or per
        column (chips, 1, out)); every other hook, the devices and the generators are this substrate's."""
        return _Inference(self, self.model.device.t_inference if t is None else float(t), scales or {})

    def drift_factor(self, layer: str, t: float) -> Array | float:
        """G(t) / G(t_programmed) of every device of ``layer``: (t / t0)^-nu_i after drift_t0, 1 before."""
        dev = self.model.device
        if not dev.drift_nu and not dev.drift_nu_dtod:
            return 1.0
        return devices.drift_factor(t, dev.drift_t0, self.nu_drift[layer])

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
