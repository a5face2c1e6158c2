"""Training on emulated analog chips: the devices' store, on-chip evaluation and gradient fidelity.

:func:`wavetrain.emulator.train.train` with ``hardware=`` hands the run to a :class:`ChipRun`: the network's weights
are programmed onto the devices of ``chips`` instances (params (chips, out, in), or (out, in) with no chip axis),
every method then trains through :class:`~wavetrain.emulator.analog.AnalogSubstrate`, accuracy is measured on the
chips themselves (their reads, converters and, for evaluation, drift) and the trained network takes chip 0's weights.

Gradient fidelity (:class:`Fidelity`): on every ``every``-th minibatch the port readout of the hardware is compared
with the exact gradient of the same stored weights on the same minibatch (ideal arithmetic, the light cone, which
equals backprop), the weights being those the readout was read from (in the wave method the last tick of the
hold, whose waves still carry earlier ticks' weights and inputs: unlocked training is not exact even ideally):
cosine and relative error ||g_hw - g|| / ||g||, per layer (W and b together) and over all layers,
averaged over the chips. The realised update (what the devices actually moved) is compared with -g too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavetrain.circuits.hardware import HardwareModel, load_hardware
from wavetrain.compiler.functions import Array
from wavetrain.emulator.analog import AnalogSubstrate
from wavetrain.emulator.cells import Machine
from wavetrain.emulator.evaluation import evaluate
from wavetrain.emulator.kernel import light_cone
from wavetrain.emulator.substrate import IDEAL, Delegate, Substrate
from wavetrain.errors import ConfigError


@dataclass
class Fidelity:
    """Gradient fidelity per epoch: means over the sampled minibatches and the chips.

    ``cosine[e]`` / ``relative_error[e]``: the hardware's port readout against the exact gradient of the same weights,
    all layers together; ``layer_cosine[e][l]`` / ``layer_relative_error[e][l]`` per layer; ``update_cosine[e]``:
    the update the devices applied against -exact gradient (with momentum it also carries earlier gradients).
    """

    every: int
    chip_axis: bool = False
    cosine: list[float] = field(default_factory=list)
    relative_error: list[float] = field(default_factory=list)
    layer_cosine: list[list[float]] = field(default_factory=list)
    layer_relative_error: list[list[float]] = field(default_factory=list)
    update_cosine: list[float] = field(default_factory=list)
    _epoch: list[tuple[float, float, list[float], list[float], float]] = field(default_factory=list, repr=False)

    @property
    def mean_cosine(self) -> float:
        return float(np.mean(self.cosine)) if self.cosine else float("nan")

    def add(self, hw: list[tuple[Array, Array]], exact: list[tuple[Array, Array]], moved: list[Array] | None) -> None:
        # NOTE: each array's sums once (one float64 pass), combined per layer and over all layers
        sums = [[_sums(h, g, self.chip_axis) for h, g in zip(pair, other)] for pair, other in zip(hw, exact)]
        layer_cos, layer_err = [], []
        for layer in sums:
            cos, err = _ratios(sum(layer))
            layer_cos.append(cos)
            layer_err.append(err)
        cos, err = _ratios(sum(s for layer in sums for s in layer))
        if moved is None:
            up = float("nan")
        else:
            up = _ratios(sum(_sums(m, -gW, self.chip_axis) for m, (gW, _) in zip(moved, exact)))[0]
        self._epoch.append((cos, err, layer_cos, layer_err, up))

    def close_epoch(self) -> None:
        rows = self._epoch or [(np.nan, np.nan, [], [], np.nan)]
        self.cosine.append(float(np.mean([r[0] for r in rows])))
        self.relative_error.append(float(np.mean([r[1] for r in rows])))
        self.layer_cosine.append([float(v) for v in np.mean([r[2] for r in rows], axis=0)] if rows[0][2] else [])
        self.layer_relative_error.append(
            [float(v) for v in np.mean([r[3] for r in rows], axis=0)] if rows[0][3] else []
        )
        self.update_cosine.append(float(np.mean([r[4] for r in rows])))
        self._epoch = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "chip_axis": self.chip_axis,
            "cosine": self.cosine,
            "relative_error": self.relative_error,
            "layer_cosine": self.layer_cosine,
            "layer_relative_error": self.layer_relative_error,
            "update_cosine": self.update_cosine,
            "mean_cosine": self.mean_cosine,
        }


def _sums(h: Array, g: Array, chip: bool) -> Array:
    """(h.g, |h|^2, |g|^2, |h - g|^2) per chip (leading axis if ``chip``) in float64: shape (4, chips)."""
    lead = h.shape[0] if chip else 1
    h, g = h.reshape(lead, -1), g.reshape(lead, -1)
    d = h - g  # NOTE: exactly 0 where the readout is exact, in any dtype
    # NOTE: products summed in float64 without float64 copies (einsum casts in buffered blocks: 2x faster here)
    return np.stack([np.einsum("ij,ij->i", a, b, dtype=np.float64) for a, b in ((h, g), (h, h), (g, g), (d, d))])


def _ratios(sums: Array) -> tuple[float, float]:
    """(cosine, relative error) from :func:`_sums` added over arrays, averaged over the chips that define them."""
    dot, hh, gg, dd = sums
    nh, ng = np.sqrt(hh), np.sqrt(gg)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(nh * ng > 0, dot / (nh * ng), np.nan)
        err = np.where(ng > 0, np.sqrt(dd) / ng, np.nan)
    mean = [float(np.nanmean(v)) if np.any(np.isfinite(v)) else float("nan") for v in (cos, err)]
    return mean[0], mean[1]


def _compare(hw: list[Array], exact: list[Array], chip: bool) -> tuple[float, float]:
    """(cosine, relative error) of two lists of arrays flattened per chip (leading axis if ``chip``), chip-averaged."""
    # NOTE: in float64 whatever the training dtype, so identical float32 readouts give a cosine of 1 to 1e-16
    flat_h = np.concatenate(
        [a.reshape(a.shape[0], -1) if chip else a.reshape(1, -1) for a in hw], axis=1, dtype=np.float64
    )
    flat_g = np.concatenate(
        [a.reshape(a.shape[0], -1) if chip else a.reshape(1, -1) for a in exact], axis=1, dtype=np.float64
    )
    dot = np.sum(flat_h * flat_g, axis=1)
    nh, ng = np.linalg.norm(flat_h, axis=1), np.linalg.norm(flat_g, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(nh * ng > 0, dot / (nh * ng), np.nan)
        err = np.where(ng > 0, np.linalg.norm(flat_h - flat_g, axis=1) / ng, np.nan)
    return float(np.nanmean(cos)) if np.any(np.isfinite(cos)) else float("nan"), float(np.nanmean(err)) if np.any(
        np.isfinite(err)
    ) else float("nan")


@dataclass
class ChipState:
    """The chips' state besides their weights, as a checkpoint keeps it: the generator of every read, pulse and
    rounding; each device's bound, step scale, stuck flag and drift exponent and each line's mismatch and timing
    (drawn once from the seed, kept so a resumed run holds the same chips whatever draws them); the lines' echo
    histories; the minibatch count (which steps sample fidelity); the fidelity and per-chip accuracies so far."""

    rng: np.random.Generator
    devices: dict[str, Any]
    lines: dict[tuple[str, str], Any]
    lags: dict[tuple[str, str], Any]
    step: int = field(metadata={"state": True})
    fidelity: Fidelity | None
    chip_test_accuracy: list[list[float]]


class Recorder(Delegate):
    """A view of a substrate that keeps what the ports read (the last readout per layer and kind) and the stored
    parameters each junction read it from; every hook is the inner substrate's."""

    def __init__(self, inner: Substrate) -> None:
        super().__init__(inner)
        self.recorded: dict[tuple[str, str], Array] = {}
        self.read_from: dict[tuple[str, str], Array] = {}

    def weight(self, W: Array, layer: str) -> Array:
        self.read_from[(layer, "W")] = W.copy()
        return self.inner.weight(W, layer)

    def bias(self, b: Array, layer: str) -> Array:
        self.read_from[(layer, "b")] = b.copy()
        return self.inner.bias(b, layer)

    def gradient(self, g: Array, layer: str, kind: str) -> Array:
        g = self.inner.gradient(g, layer, kind)
        self.recorded[(layer, kind)] = g
        return g


class ChipRun:
    """A training run on emulated analog chips (see the module docstring): a :class:`~wavetrain.emulator.train.Run`."""

    def __init__(self, net: Any, hardware: HardwareModel | str, chips: int | None, seed: int,
                 fidelity_every: int | None, method_name: str, schedule: str, dtype: Any = np.float64,
                 dataset: Any = None, metrics: bool = False) -> None:  # fmt: skip
        self.model = load_hardware(hardware)
        # NOTE: the per-device arrays (bounds, steps) in the training dtype, so device writes stay in it
        self.substrate = AnalogSubstrate(self.model, net.graph, chips=chips, seed=seed, dtype=dtype)
        if self.substrate.needs_ticks and method_name == "dyadic" and schedule == "light_cone":
            raise ConfigError(
                f"hardware {self.model.name!r}: mismatch echoes and timing jitter need the waves' history, which the "
                "light-cone schedule does not keep; train with schedule='ticks' or method='wave'"
            )
        if method_name not in ("dyadic", "wave"):
            raise ConfigError(f"hardware: expected method 'dyadic' or 'wave' (the wave machines the analog substrate "
                              f"runs), got {method_name!r}")  # fmt: skip
        self.net, self.chips, self.dataset = net, chips, dataset
        lead = () if chips is None else (chips,)
        # NOTE: with no chip axis in float64 the devices hold the network's own arrays; otherwise a copy (per chip,
        # in the training dtype), written back into the network every epoch (chip 0)
        self.dtype = np.dtype(dtype)
        self.copied = chips is not None or self.dtype != np.float64
        params = net.param_dict() if not self.copied else {
            n: (np.broadcast_to(W, lead + W.shape).astype(self.dtype, order="C"),
                np.broadcast_to(b, lead + b.shape).astype(self.dtype, order="C"))
            for n, (W, b) in net.param_dict().items()}  # fmt: skip
        for n, (W, _) in params.items():
            self.substrate.program(W, n)
        # NOTE: the ideal preset on one chip computes what the ideal substrate does, so it trains on it (the fused
        # step where that applies) and is scored as the plain run is: train(hardware="ideal") equals train() bit for
        # bit; its port readout is still read through the chip's hooks on the fidelity steps (light cone: beside
        # the step, from the same weights)
        self.exact = self.model.ideal and chips is None
        self.hooks = Machine.of(net, params, self.substrate)  # the chip read through its hooks
        self.chip = Machine.of(net, params, IDEAL) if self.exact else self.hooks  # the chips as training writes them
        self.machine = self.chip  # what the next step runs on (a recording view on fidelity steps)
        self.beside = self.exact and method_name == "dyadic" and schedule == "light_cone"
        sub = self.substrate
        self.state = ChipState(
            sub.rng, {"bound": sub.bound, "dw_scale": sub.dw_scale, "stuck": sub.stuck, "nu_drift": sub.nu_drift,
                      "gamma": sub.gamma, "courant": sub.courant},
            sub._lines, sub._lags, 0, Fidelity(fidelity_every, chips is not None) if fidelity_every else None, [],
        )  # fmt: skip
        self._before: dict[str, tuple[Array, Array]] | None = None
        self.metrics = metrics
        self._cast: dict[str, Array] = {}

    @property
    def fidelity(self) -> Fidelity | None:
        return self.state.fidelity

    @property
    def chip_test_accuracy(self) -> list[list[float]]:
        return self.state.chip_test_accuracy

    def checkpointed(self) -> ChipState:
        """What a checkpoint keeps of the chips besides their weights (``params``): :class:`ChipState`."""
        return self.state

    def resumed(self) -> None:
        """After a checkpoint was restored into :attr:`state` (fresh objects): put it back into the chips."""
        sub, state = self.substrate, self.state
        sub.rng.bit_generator.state = state.rng.bit_generator.state
        state.rng = sub.rng
        for key in ("bound", "dw_scale", "stuck", "nu_drift"):
            live, saved = getattr(sub, key), state.devices[key]
            if set(live) != set(saved):
                raise ConfigError(f"resume: the checkpoint's chips hold nodes {sorted(saved)}, expected {sorted(live)}")
            for n, value in saved.items():
                if np.shape(value) != np.shape(live[n]):
                    raise ConfigError(f"resume: the checkpoint's {key} of node {n} has shape {np.shape(value)}, "
                                      f"expected {np.shape(live[n])} (the same chips)")  # fmt: skip
                live[n] = value if not isinstance(value, np.ndarray) else value.astype(
                    live[n].dtype if isinstance(live[n], np.ndarray) else value.dtype, copy=False)  # fmt: skip
            state.devices[key] = live
        for key in ("gamma", "courant"):
            getattr(sub, key)[...] = state.devices[key]
            state.devices[key] = getattr(sub, key)
        for live, saved in ((sub._lines, state.lines), (sub._lags, state.lags)):
            live.clear()
            live.update(saved)
        state.lines, state.lags = sub._lines, sub._lags
        sub._stuck_at.clear()  # NOTE: caches derived from the devices
        sub._steps.clear()

    @property
    def params(self) -> list[tuple[Array, Array]]:
        return list(self.chip.params.values())

    def before_step(self) -> None:
        due = self.fidelity is not None and self.state.step % self.fidelity.every == 0
        record = due and not self.beside
        self.machine = self.chip.on(Recorder(self.hooks.substrate)) if record else self.chip
        self._before = {n: (W.copy(), b.copy()) for n, (W, b) in self.chip.params.items()} if due else None

    def after_step(self, x: Array, t: Array) -> None:
        """Compare the last port readout of the step with the exact gradient of the weights it was read from."""
        self.state.step += 1
        recorder, self.machine = self.machine.substrate, self.chip
        if self._before is None or self.fidelity is None:
            return
        ids = list(self.chip.params)
        if self.beside:  # NOTE: the readout the chip's hooks give from the weights the step read
            read_from = self._before
            keyed_hw, _, _ = light_cone(Machine.of(self.net, read_from, self.substrate), x, t)
            hw = [keyed_hw[n] for n in ids]
        elif isinstance(recorder, Recorder):
            hw = [(recorder.recorded[(n, "W")], recorder.recorded[(n, "b")]) for n in ids]
            read_from = {n: (recorder.read_from[(n, "W")], recorder.read_from[(n, "b")]) for n in ids}
        else:
            return
        keyed, _, _ = light_cone(Machine.of(self.net, read_from, IDEAL), x, t)
        exact = list(keyed.values())
        moved = [W - self._before[n][0] for n, (W, _) in self.chip.params.items()]
        self.fidelity.add(hw, exact, moved)
        self._before = None

    def evaluate(self, x: Array, y: Array) -> tuple[Array, Array]:
        """Per-chip (mean loss, accuracy) of the chips as they are read in use (drift at t_inference)."""
        if self.exact:  # NOTE: as the plain run scores: the data in the training dtype, the ideal substrate
            scores = evaluate(self.chip, np.ascontiguousarray(x, dtype=self.dtype), y)
            return scores.chip_loss, scores.chip_accuracy
        self.substrate.rest()
        try:
            scores = evaluate(self.chip.on(self.substrate.inference()), x, y)
        finally:
            self.substrate.rest()
        return scores.chip_loss, scores.chip_accuracy

    def sync(self) -> None:
        """The network (and its checkpoint) holds chip 0."""
        if self.copied:
            for n, (W, b) in self.chip.params.items():
                held = self.net.parameters(n)
                held.weight[...] = W if self.chips is None else W[0]
                held.bias[...] = b if self.chips is None else b[0]

    def score(self, result: Any, loss: float) -> None:
        """One epoch's entries of ``result``: on-chip test loss and accuracy (mean over chips), per-chip test accuracy,
        the training set's accuracy with ``metrics`` (train_metrics=True)."""
        dataset = self.dataset
        result.loss.append(loss)
        # NOTE: the drives in the chips' dtype, as training reads them; the training set only with train_metrics
        test_loss, test_acc = self.evaluate(self._drives("x_test"), dataset.y_test)
        if self.metrics:
            result.train_accuracy.append(float(np.mean(self.evaluate(self._drives("x_train"), dataset.y_train)[1])))
        result.test_loss.append(float(np.mean(test_loss)))
        result.test_accuracy.append(float(np.mean(test_acc)))
        self.chip_test_accuracy.append([float(a) for a in test_acc])
        if self.fidelity is not None:
            self.fidelity.close_epoch()

    def _drives(self, split: str) -> Array:
        if split not in self._cast:
            self._cast[split] = np.ascontiguousarray(getattr(self.dataset, split), dtype=self.dtype)
        return self._cast[split]

    def finish(self, result: Any) -> None:
        """The result gets the hardware, the chips and the fidelity."""
        result.hardware = self.model.to_dict()
        result.chips = self.chips
        result.fidelity = self.fidelity
        result.chip_test_accuracy = self.chip_test_accuracy
        result.chip_run = self


def fidelity_by_tick(
    net: Any,
    x: Array,
    y: Array,
    hardware: HardwareModel | str,
    ticks: int | None = None,
    chips: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Gradient fidelity tick by tick of one relaxation (frozen weights, courant 1) on emulated hardware.

    The network's weights are programmed onto fresh chips; at every tick k = 0..ticks the port readout is compared
    with the exact gradient of the programmed weights. Returns ``{"cosine": [...], "relative_error": [...],
    "layer_cosine": [[...] per tick]}`` (chip-averaged).
    """
    from wavetrain.emulator.relax import check_ticks, run_ticks

    ticks = check_ticks(ticks, net.depth, 1.0)
    substrate = AnalogSubstrate(hardware, net.graph, chips=chips, seed=seed)
    lead = () if chips is None else (chips,)
    params = {
        n: (np.broadcast_to(W, lead + W.shape).copy(), np.broadcast_to(b, lead + b.shape).copy())
        for n, (W, b) in net.param_dict().items()
    }
    for n, (W, _) in params.items():
        substrate.program(W, n)
    x = net.check_input(x)
    t = net.targets(y, len(x))
    relaxation = run_ticks(Machine.of(net, params, substrate), x, t, ticks, 1.0, history=True)
    keyed, _, _ = light_cone(Machine.of(net, params, IDEAL), x, t)
    exact = list(keyed.values())
    out: dict[str, Any] = {"cosine": [], "relative_error": [], "layer_cosine": []}
    for grads in relaxation.history.grads:  # type: ignore[union-attr]
        cos, err = _compare([a for pair in grads for a in pair], [a for pair in exact for a in pair], chips is not None)
        out["cosine"].append(cos)
        out["relative_error"].append(err)
        out["layer_cosine"].append(
            [_compare([g[0], g[1]], [e[0], e[1]], chips is not None)[0] for g, e in zip(grads, exact)]
        )
    return out
