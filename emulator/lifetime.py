"""A trained chip over its lifetime: test accuracy at a grid of times since its weights were programmed.

:func:`lifetime` takes a network and either a hardware model (the float weights are programmed once onto ``chips``
fresh chips: programming noise, device-to-device bounds, stuck devices, conductance levels) or the chips a
``train(hardware=...)`` run trained in situ (``result.chip_run``: the chips keep their own devices, bounds, stuck
cells and weights, nothing is re-programmed). At every time t of the grid each chip is read as it is in use:

  drift        each device its own exponent nu_i ~ N(drift_nu, drift_nu_dtod^2) (clipped at 0, drawn once per
               chip): w_i(t) = w_i (t / t0)^-nu_i after t0 = drift_t0, unchanged before (Le Gallo et al. 2018;
               aihwkit PCMLikeNoiseModel). For in-situ chips t counts from the end of training.
  1/f noise    optional (``flicker`` > 0): the noise a PCM device accumulates since programming, aihwkit's
               PCMLikeNoiseModel (Nandakumar et al. 2019): w(t) += flicker |w(t)| Q_s sqrt(ln((t + t_r) / (2 t_r)))
               N(0, 1), Q_s = min(0.0088 / max(|w| / w_max, 1e-3)^0.65, 0.2), t_r = 250 ns; drawn once per time.
  read noise   every read of every device, converters and their noise: the chip's own hooks
               (:class:`~wavetrain.emulator.analog.AnalogSubstrate`), at every product of the evaluation.
  compensation a digital scale on each forward crossbar output, from a calibration read (aihwkit's
               GlobalDriftCompensation / PerColumnDriftCompensation): the crossbar is read with the identity input
               (every device once, with read noise) right after programming (R_0) and at time t (R_t); ``global``
               scales a layer's outputs by alpha = mean|R_0| / mean|R_t|, ``column`` each output j by
               alpha_j = mean_k|R_0,kj| / mean_k|R_t,kj|; ``none`` by 1.

Refresh (``refresh`` = P seconds, off by default): every P seconds the chips are re-programmed from a digital copy
of the weights they were first given (the network's weights, or for in-situ chips the weights training left on
them, taken as an exact copy at the end of training): fresh programming noise (its own generator per refresh k, so
the reads before the first refresh are those without refresh, bit for bit), each device's bound, level and stuck
state as before; each device keeps its drift exponent and its clock restarts, and the compensation's calibration
read R_0 is taken again. A chip read at t >= P is the one re-programmed at k P, k = floor(t / P), aged t - k P.

A population with per-device exponents drifts on average by E[(t/t0)^-nu] = exp(-mu L + sigma^2 L^2 / 2), L =
ln(t / t0) (the mean of a log-normal; :func:`mean_drift_factor`), so global compensation of a wide layer tends to
alpha = 1 / E[factor] and leaves only the spread of the factors (tests/emulator/test_lifetime.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from wavetrain.circuits.hardware import HardwareModel, load_hardware
from wavetrain.compiler.functions import Array
from wavetrain.emulator.analog import AnalogSubstrate
from wavetrain.emulator.cells import Machine
from wavetrain.emulator.evaluation import evaluate
from wavetrain.errors import ConfigError

COMPENSATIONS = ("none", "global", "column")
T_READ = 250e-9  # s: the read duration of aihwkit's PCMLikeNoiseModel 1/f noise
TIMES = (1.0, 60.0, 3600.0, 86400.0, 2.6e6, 3.15e7)  # s: a second, a minute, an hour, a day, a month, a year


def check_times(times: Any) -> tuple[float, ...]:
    """The time grid as floats: at least one, each finite and > 0, strictly increasing; refused naming the value."""
    if isinstance(times, (str, bytes)) or not isinstance(times, Sequence) and not isinstance(times, np.ndarray):
        raise ConfigError(f"times: expected a sequence of seconds (e.g. 1, 60, 3600), got {times!r}")
    values = list(times)
    if not values:
        raise ConfigError("times: expected at least one time [s], got an empty grid")
    out: list[float] = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"times[{i}]: expected a number of seconds, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"times[{i}]: expected a finite time > 0 [s] since programming, got {value!r}")
        if out and value <= out[-1]:
            raise ConfigError(f"times[{i}]: expected a strictly increasing grid, got {value!r} after {out[-1]!r}")
        out.append(float(value))
    return tuple(out)


def check_compensation(names: Any) -> tuple[str, ...]:
    """Compensation names (one or a sequence), each in COMPENSATIONS, none twice."""
    values = [names] if isinstance(names, str) else list(names)
    if not values:
        raise ConfigError(f"compensation: expected one or more of {', '.join(COMPENSATIONS)}, got none")
    for name in values:
        if name not in COMPENSATIONS:
            raise ConfigError(f"compensation: expected one of {', '.join(COMPENSATIONS)}, got {name!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"compensation: expected each scheme once, got {values!r}")
    return tuple(values)


def mean_drift_factor(t: float, t0: float, nu: float, nu_std: float) -> float:
    """E[(t / t0)^-nu_i] for nu_i ~ N(nu, nu_std^2): exp(-nu L + nu_std^2 L^2 / 2), L = ln(t / t0) (1 before t0).

    The mean of a log-normal; it ignores the clip of nu_i at 0, a 5-sigma event for the pcm preset (0.05 +- 0.01)."""
    if t <= t0:
        return 1.0
    L = math.log(t / t0)
    return math.exp(-nu * L + 0.5 * (nu_std * L) ** 2)


@dataclass
class Lifetime:
    """Per compensation, per time, per chip: test accuracy and loss; ``scale``: the mean compensation scale."""

    hardware: str
    origin: str  # "programmed" (float weights written once) or "in situ" (the chips a training run trained)
    times: list[float]
    chips: int
    seed: int
    flicker: float = 0.0
    refresh: float | None = None  # s: the re-programming period (None: never), see the module docstring
    accuracy: dict[str, list[list[float]]] = field(default_factory=dict)
    loss: dict[str, list[list[float]]] = field(default_factory=dict)
    scale: dict[str, list[float]] = field(default_factory=dict)

    def mean(self, compensation: str) -> list[float]:
        return [float(np.mean(row)) for row in self.accuracy[compensation]]

    def std(self, compensation: str) -> list[float]:
        return [float(np.std(row)) for row in self.accuracy[compensation]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "hardware": self.hardware, "origin": self.origin, "times": self.times, "chips": self.chips,
            "seed": self.seed, "flicker": self.flicker, "refresh": self.refresh, "accuracy": self.accuracy,
            "loss": self.loss,
            "scale": self.scale,
            "mean": {c: self.mean(c) for c in self.accuracy}, "std": {c: self.std(c) for c in self.accuracy},
        }  # fmt: skip

    def table(self) -> str:
        """A text table: one row per time, mean +- std over the chips (%) per compensation."""
        comps = list(self.accuracy)
        head = f"{'t [s]':>10s}  " + "  ".join(f"{c + ' %':>14s}" for c in comps)
        rows = [head]
        for k, t in enumerate(self.times):
            cells = [f"{100 * np.mean(self.accuracy[c][k]):6.2f} +- {100 * np.std(self.accuracy[c][k]):4.2f}"
                     for c in comps]  # fmt: skip
            rows.append(f"{t:10.3g}  " + "  ".join(f"{cell:>14s}" for cell in cells))
        return "\n".join(rows)


def hwa_model(hardware: HardwareModel | str) -> HardwareModel:
    """The noise model of hardware-aware training for chips of ``hardware`` (as aihwkit's HWA training trains in
    float with the inference chip's noise in the loop): the chip's read noise on every product, forward and backward,
    and its converters (DAC / ADC levels, forward and backward noise, noise management) and weight range; no device
    physics (exact writes, no pulses, no programming noise, no device-to-device variation, no stuck devices, no
    drift). Training on it (``train(hardware=hwa_model("pcm"))``) injects noise into the forward and backward waves
    of a float training; the weights are then programmed once (:func:`program`)."""
    model = load_hardware(hardware)
    return model.with_overrides({
        "name": f"hwa-{model.name}",
        "description": f"hardware-aware training noise of {model.name}: its read noise and converters, exact writes",
        "device.dw_min": None, "device.prog_noise": 0.0, "device.w_max_dtod": 0.0, "device.dw_min_dtod": 0.0,
        "device.dw_min_std": 0.0, "device.stuck_on": 0.0, "device.stuck_off": 0.0, "device.drift_nu": 0.0,
        "device.drift_nu_dtod": 0.0, "device.weight_bits": None,
    })  # fmt: skip


def program(net: Any, hardware: HardwareModel | str, chips: int, seed: int, dtype: Any = np.float64) -> tuple[
        AnalogSubstrate, dict[str, tuple[Array, Array]]]:  # fmt: skip
    """``chips`` fresh chips holding the network's weights written once (:meth:`AnalogSubstrate.program`)."""
    substrate = AnalogSubstrate(hardware, net.graph, chips=chips, seed=seed, dtype=dtype)
    params = {
        n: (np.broadcast_to(W, (chips,) + W.shape).astype(dtype, order="C"),
            np.broadcast_to(b, (chips,) + b.shape).astype(dtype, order="C"))
        for n, (W, b) in net.param_dict().items()
    }  # fmt: skip
    for n, (W, _) in params.items():
        substrate.program(W, n)
    return substrate, params


def reprogram(substrate: AnalogSubstrate, target: Array, layer: str, rng: np.random.Generator) -> Array:
    """``target`` written anew onto the chips' devices of ``layer`` (a refresh): programming noise from ``rng``, then
    each device's bound, the conductance levels and the stuck devices, as :meth:`AnalogSubstrate.program`."""
    dev = substrate.model.device
    W = np.array(target, order="C")
    if dev.prog_noise:
        W += dev.prog_noise * dev.scale * rng.standard_normal(W.shape, dtype=W.dtype)
    substrate._settle(W, layer)
    return W


def check_refresh(refresh: Any) -> float | None:
    """The refresh period [s]: None (never) or a finite number > 0; refused naming the value."""
    if refresh is None:
        return None
    if isinstance(refresh, bool) or not isinstance(refresh, (int, float, np.integer, np.floating)):
        raise ConfigError(f"refresh: expected a period in seconds (e.g. 86400) or None, got {refresh!r}")
    if not math.isfinite(refresh) or refresh <= 0:
        raise ConfigError(f"refresh: expected a finite period > 0 [s] between re-programmings, got {refresh!r}")
    return float(refresh)


def aged(substrate: AnalogSubstrate, W: Array, layer: str, t: float, flicker: float = 0.0) -> Array:
    """The weights of ``layer`` as the devices hold them ``t`` seconds after programming: drifted (each device its
    own exponent) and, with ``flicker`` > 0, with the 1/f noise accumulated since (module docstring)."""
    out = W * np.asarray(substrate.drift_factor(layer, t), dtype=W.dtype)
    if flicker:
        dev = substrate.model.device
        level = np.maximum(np.abs(W) / dev.scale, 1e-3)
        q_s = np.minimum(0.0088 / level**0.65, 0.2)
        sigma = flicker * q_s * math.sqrt(max(math.log((t + T_READ) / (2 * T_READ)), 0.0))  # NOTE: 0 before t_r
        out = out + np.abs(out) * sigma * substrate.rng.standard_normal(out.shape).astype(out.dtype)
    return out


def readout(substrate: AnalogSubstrate, W: Array, layer: str, per_column: bool) -> Array:
    """The calibration read of a compensation: the crossbar read with the identity input (each row of the matrix
    form once, with the chip's read noise), mean |output| per chip (shape (chips, 1, 1)) or per column (chips, 1,
    out)."""
    lead = () if substrate.chips is None else (substrate.chips,)
    matrix = W.reshape(*lead, W.shape[len(lead)], -1)  # (.., out, K): a convolution's kernel as its crossbar
    eye = np.eye(matrix.shape[-1], dtype=W.dtype)
    y = substrate.crossbar(eye @ matrix.swapaxes(-1, -2), eye, layer, "forward")  # (.., K, out)
    if per_column:
        return np.abs(y).mean(axis=-2, keepdims=True)
    return np.abs(y).mean(axis=(-2, -1), keepdims=True)


def _scales(substrate: AnalogSubstrate, base: dict[str, Array], now: dict[str, Array], scheme: str) -> dict:
    if scheme == "none":
        return {}
    column = scheme == "column"
    out = {}
    for n in now:
        r_t = readout(substrate, now[n], n, column)
        # NOTE: a column (or layer) that reads nothing (every device stuck off) keeps scale 1, as aihwkit's clamp
        out[n] = np.where(r_t > 0, base[n] / np.where(r_t > 0, r_t, 1.0), 1.0)
    return out


def lifetime(
    net: Any,
    data: Any,
    hardware: HardwareModel | str | None = None,
    times: Sequence[float] = TIMES,
    chips: int = 16,
    seed: int = 0,
    compensation: Any = ("none", "global"),
    chip_run: Any = None,
    flicker: float = 0.0,
    refresh: float | None = None,
    dtype: Any = np.float64,
) -> Lifetime:
    """Test accuracy of ``chips`` chips at every time of ``times`` [s] after programming (module docstring).

    ``data``: a Dataset (its test split) or (x_test, y_test). Either ``hardware`` (the network's weights programmed
    once onto fresh chips of seed ``seed``) or ``chip_run`` (``TrainResult.chip_run`` of ``train(hardware=...,
    chips=N)``: those chips as training left them; ``hardware``, ``chips`` and ``seed`` are theirs). ``refresh``: a
    re-programming period [s] (module docstring). ``dtype``: the arithmetic of programmed chips (in-situ chips keep
    their run's). Every setting is checked before any work.
    """
    from wavetrain.emulator.train import dataset_for

    grid = check_times(times)
    schemes = check_compensation(compensation)
    period = check_refresh(refresh)
    if isinstance(flicker, bool) or not isinstance(flicker, (int, float)) or not 0 <= flicker < math.inf:
        raise ConfigError(f"flicker: expected a number >= 0 (1: aihwkit's PCM 1/f noise, 0: off), got {flicker!r}")
    if isinstance(data, (tuple, list)) and len(data) == 2:
        data = (data[0], data[1], data[0], data[1])
    dataset = dataset_for(net, data)
    if chip_run is None:
        if hardware is None:
            raise ConfigError("lifetime: expected hardware= (a preset or a model) or chip_run=, got neither")
        if isinstance(chips, bool) or not isinstance(chips, (int, np.integer)) or chips < 1:
            raise ConfigError(f"chips: expected an integer >= 1, got {chips!r}")
        model = load_hardware(hardware)
        substrate, params = program(net, model, int(chips), seed, dtype)
        origin = "programmed"
        lead = (int(chips),)
        targets = {n: np.broadcast_to(W, lead + W.shape).astype(params[n][0].dtype) for n, (W, _) in
                   net.param_dict().items()}  # fmt: skip
    else:
        substrate, params = _in_situ(net, chip_run, hardware)
        origin, model, seed = "in situ", substrate.model, substrate.seed
        chips = 1 if substrate.chips is None else substrate.chips
        targets = {n: W.copy() for n, (W, _) in params.items()}  # NOTE: the digital copy a refresh writes back
    if model.circuit.wires and any(scheme != "none" for scheme in schemes):
        raise ConfigError(
            f"compensation: a drift compensation's calibration read is not modelled through wires (circuit.r_row "
            f"{model.circuit.r_row:g}, r_col {model.circuit.r_col:g} ohm), expected ['none'], got {list(schemes)}"
        )
    result = Lifetime(model.name, origin, list(grid), int(chips), int(seed), float(flicker), period)
    written = {n: W for n, (W, _) in params.items()}
    x_test = np.ascontiguousarray(dataset.x_test, dtype=next(iter(written.values())).dtype)

    def calibrate(weights: dict[str, Array]) -> dict[str, dict[str, Array]]:
        return {scheme: {n: readout(substrate, W, n, scheme == "column") for n, W in weights.items()}
                for scheme in schemes if scheme != "none"}  # fmt: skip

    base, refreshed = calibrate(written), 0
    for scheme in schemes:
        result.accuracy[scheme], result.loss[scheme], result.scale[scheme] = [], [], []
    for t in grid:
        age, weights = t, written
        if period is not None and t >= period:
            k = int(t // period)
            age = t - k * period
            if k != refreshed:  # NOTE: the chips as the k-th refresh wrote them (its own noise), then R_0 again
                rng = np.random.default_rng([int(seed), 0x5EF4E5, k])
                written = {n: reprogram(substrate, targets[n], n, rng) for n in targets}
                weights, base, refreshed = written, calibrate(written), k
        now = {n: aged(substrate, W, n, age, flicker) for n, W in weights.items()}
        held = {n: (now[n], b) for n, (_, b) in params.items()}
        for scheme in schemes:
            scales = _scales(substrate, base.get(scheme, {}), now, scheme)
            substrate.rest()
            # NOTE: the aged weights are given; the view adds no drift of its own (t = 0) and applies the scales
            scores = evaluate(Machine.of(net, held, substrate.inference(0.0, scales)), x_test, dataset.y_test)
            substrate.rest()
            result.accuracy[scheme].append([float(a) for a in scores.chip_accuracy])
            result.loss[scheme].append([float(v) for v in scores.chip_loss])
            result.scale[scheme].append(float(np.mean([np.mean(s) for s in scales.values()])) if scales else 1.0)
    return result


def _in_situ(net: Any, run: Any, hardware: Any) -> tuple[AnalogSubstrate, dict[str, tuple[Array, Array]]]:
    """The chips of a chip run, checked against the network they are to run."""
    substrate = getattr(run, "substrate", None)
    if not isinstance(substrate, AnalogSubstrate) or not hasattr(run, "chip"):
        raise ConfigError(f"chip_run: expected TrainResult.chip_run of train(hardware=...), got {type(run).__name__}")
    if substrate.graph.to_dict() != net.graph.to_dict():
        raise ConfigError(
            f"chip_run: its chips hold the network {run.net.describe()}, expected {net.describe()} (the network "
            "the lifetime evaluates)"
        )
    if hardware is not None and load_hardware(hardware).to_dict() != substrate.model.to_dict():
        raise ConfigError(
            f"hardware: the chips of chip_run are {substrate.model.name!r}, got hardware={hardware!r}; leave it unset"
        )
    return substrate, dict(run.chip.params)
