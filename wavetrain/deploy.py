"""Deploy a network to Lava (floating or Loihi fixed point) and check it against the emulator.

:func:`deploy` relaxes a batch on Lava for 2L timesteps and reports the outputs, the accuracy (and, in fixed point,
the float emulator's accuracy beside it), the gradient error against the emulator and against exact backprop at
every tick, and the timing. :func:`fixed_point_for` calibrates the Loihi formats on training data; :func:`train_on`
trains on the emulator or on Lava, on the ideal or the Loihi substrate (the CLI's ``--target`` / ``--substrate``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from wavetrain.compiler.network import Network
from wavetrain.emulator.loihi import Calibration, LoihiFixedPoint, calibrate
from wavetrain.errors import ConfigError

SUBSTRATES = ("ideal", "loihi")
TRAIN_TARGETS = ("emulator", "lava")
CALIBRATION_SAMPLES = 256  # training rows the fixed-point exponents are picked from


@dataclass
class DeployReport:
    """What :func:`deploy` measured; ``to_dict`` is the CLI's JSON line."""

    target: str
    fixed_point: bool
    samples: int
    ticks: int
    outputs: list[list[float]]
    accuracy: float  # on Lava (fixed point: in the fixed-point formats)
    float_accuracy: float  # the float emulator on the same samples
    error_vs_emulator: list[float]  # per tick: max |G_lava - G_emulator| (same substrate)
    error_vs_exact: list[float]  # per tick: max |G_lava - G_backprop|
    lava_seconds: float
    timesteps_per_s: float
    calibration: list[dict[str, Any]] = field(default_factory=list)
    saturated: dict[str, int] = field(default_factory=dict)  # fixed point: values each format clipped in the run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fixed_point_for(net: Network, x: Any, y: Any, **settings: Any) -> tuple[LoihiFixedPoint, Calibration]:
    """Loihi formats for ``net`` calibrated on (up to CALIBRATION_SAMPLES rows of) x, y."""
    return calibrate(net, np.asarray(x)[:CALIBRATION_SAMPLES], np.asarray(y)[:CALIBRATION_SAMPLES], **settings)


def deploy(
    net: Network,
    x: Any,
    y: Any,
    fixed_point: bool = False,
    calibration: tuple[Any, Any] | None = None,
    timeout: float | None = None,
) -> DeployReport:
    """Run ``net`` on Lava for 2L timesteps on (x, y) and compare with the emulator tick by tick.

    ``calibration``: the (x, y) the fixed-point exponents are picked from (default: the samples themselves; a
    network trained to a small loss on other rows underestimates the error waves of new samples).
    """
    from wavetrain.emulator.relax import relax
    from wavetrain.emulator.train import backprop
    from wavetrain.targets.lava.runner import TIMEOUT, relax_on_lava
    from wavetrain.targets.lava.training import evaluate

    x = net.check_input(x)
    t = net.targets(y, len(x))
    sub, report = None, None
    if fixed_point:
        cx, cy = calibration if calibration is not None else (x, y)
        rows = min(len(cx), CALIBRATION_SAMPLES)
        sub, report = fixed_point_for(net, cx, cy, batch=min(len(x), rows))
    start = time.perf_counter()
    got = relax_on_lava(net, x, y, history=True, fixed=sub, timeout=TIMEOUT if timeout is None else timeout)
    seconds = time.perf_counter() - start
    if sub is not None:
        sub.reset()
    ref = relax(net, x, y, history=True, **({"substrate": sub} if sub is not None else {}))
    keyed, _ = backprop(net.machine(), x, t)
    exact = list(keyed.values())
    assert got.history is not None and ref.history is not None  # history=True above
    vs_emulator = [_max_error(a, b) for a, b in zip(got.history.grads, ref.history.grads)]
    vs_exact = [_max_error(a, exact) for a in got.history.grads]
    outputs = got.s[-1]
    labels = np.asarray(y)
    accuracy = float(np.mean(np.argmax(outputs, axis=1) == labels)) if labels.ndim == 1 else float("nan")
    _, float_accuracy = evaluate(net, x, y)
    return DeployReport(
        "lava",
        bool(fixed_point),
        len(x),
        got.ticks,
        outputs.tolist(),
        accuracy,
        float_accuracy,
        vs_emulator,
        vs_exact,
        seconds,
        got.ticks / seconds,
        report.rows if report is not None else [],
        dict(sub.stats) if sub is not None else {},
    )


def _max_error(grads: Any, reference: Any) -> float:
    return max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for g, r in zip(grads, reference) for a, b in zip(g, r)
    )


def train_on(net: Network, data: Any, target: str = "emulator", substrate: str = "ideal", **options: Any) -> Any:
    """wavetrain.train (target "emulator") or train_on_lava (target "lava"), on the ideal or the Loihi substrate
    (calibrated on the training data). Returns (TrainResult, the LoihiFixedPoint or None)."""
    from wavetrain.emulator.train import train

    if target not in TRAIN_TARGETS:
        raise ConfigError(f"target: expected one of {', '.join(TRAIN_TARGETS)}, got {target!r}")
    if substrate not in SUBSTRATES:
        raise ConfigError(f"substrate: expected one of {', '.join(SUBSTRATES)}, got {substrate!r}")
    batch = min(options.get("batch_size", 32), CALIBRATION_SAMPLES)
    if hasattr(data, "as_shape") and math.prod(net.input_shape) == data.n_features:
        data = data.as_shape(net.input_shape)  # NOTE: flat samples read in the graph's input shape, as train() does
    sub = (
        fixed_point_for(
            net, data.x_train, data.y_train, batch=batch, rounding="stochastic", seed=options.get("seed", 0)
        )[0]
        if substrate == "loihi"
        else None
    )
    if target == "lava":
        from wavetrain.targets.lava.training import train_on_lava

        for ignored in ("progress", "checkpoint", "dtype"):  # NOTE: Lava's models compute in float64 / int64
            options.pop(ignored, None)
        for unset in ("lr", "momentum"):  # NOTE: None asks for the method's default, which train_on_lava has
            if options.get(unset, 0.0) is None:
                options.pop(unset)
        return train_on_lava(net, data, fixed=sub, **options), sub
    if sub is not None:
        options["substrate"] = sub
        # NOTE: the fixed-point arithmetic is exact in float64 (integers below 2^52), not in float32
        options.setdefault("dtype", "float64")
    return train(net, data, **options), sub


@dataclass
class LibraryReport:
    """What :func:`deploy_library` measured on Lava's library processes (the ``loihi2`` target); ``to_dict`` is the
    CLI's JSON line. Errors are max |difference| over every weight and bias gradient."""

    samples: int
    depth: int
    accuracy: float  # the samples streamed through Lava, one per timestep (frozen weights)
    emulator_accuracy: float  # the same stream in the emulator's library arithmetic
    float_accuracy: float  # the float emulator on the same samples
    outputs_match: bool  # Lava's outputs equal the emulator's bit for bit
    error_vs_emulator: list[float]  # per tick k (Lava timestep k + 3): one sample relaxing, against emulator.relax
    error_vs_fixed_exact: list[float]  # per tick: against the fixed-point machine's exact gradient (light cone)
    error_vs_float: list[float]  # per tick: against float backprop
    stream_vs_emulator: float  # the port's readout summed over the streamed samples, against the emulator's
    stream_vs_float: float  # relative: |G_stream - G_float| / |G_float| (largest entry)
    relax_seconds: float
    stream_seconds: float
    timesteps_per_s: float  # Lava, the stream (startup included)
    resources: dict[str, Any] = field(default_factory=dict)
    formats: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def deploy_library(
    net: Network,
    x: Any,
    y: Any,
    calibration: tuple[Any, Any] | None = None,
    train: tuple[Any, Any] | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
    timeout: float | None = None,
) -> LibraryReport:
    """Run ``net`` on Lava's library processes (fixed_pt) against the emulator's library arithmetic: one sample's
    relaxation tick by tick, the samples (x, y) streamed one per timestep (accuracy, the port's summed readout), the
    resource and cost report, and with ``train`` (x, y) a few epochs of the pipelined machine on Lava compared with
    the emulator after every epoch. ``calibration``: the (x, y) the formats are picked from (default: x, y)."""
    from wavetrain.emulator.kernel import light_cone
    from wavetrain.emulator.loihi2 import calibrate_library, check_library
    from wavetrain.emulator.relax import relax
    from wavetrain.emulator.stream import run_stream
    from wavetrain.emulator.train import backprop
    from wavetrain.targets.lava.library import TIMEOUT, relax_library, stream_library
    from wavetrain.targets.lava.resources import measure_activity, report

    check_library(net, stream=True)
    x = net.check_input(x)
    limit = TIMEOUT if timeout is None else timeout
    cx, cy = calibration if calibration is not None else (x, y)
    sub = calibrate_library(net, np.asarray(cx)[:CALIBRATION_SAMPLES], np.asarray(cy)[:CALIBRATION_SAMPLES])
    start = time.perf_counter()
    got = relax_library(net, x[:1], np.asarray(y)[:1], sub, timeout=limit)
    relax_seconds = time.perf_counter() - start
    ref = relax(net, x[:1], np.asarray(y)[:1], history=True, substrate=sub)
    t1 = net.targets(np.asarray(y)[:1], 1)
    exact_fixed = list(light_cone(net.machine(sub), x[:1], t1)[0].values())
    exact_float = list(backprop(net.machine(), x[:1], t1)[0].values())
    assert got.history is not None and ref.history is not None
    start = time.perf_counter()
    streamed = stream_library(net.copy(), x, y, sub, timeout=limit)
    stream_seconds = time.perf_counter() - start
    emulated = run_stream(net.copy(), sub, x, y)
    labels = np.asarray(y)
    acc = lambda out: float(np.mean(np.argmax(out, axis=1) == labels)) if labels.ndim == 1 else float("nan")  # noqa: E731
    float_grads = backprop(net.machine(), x, net.targets(y, len(x)))[0]
    scale = max(float(np.max(np.abs(a))) for pair in float_grads.values() for a in pair) * len(x) or 1.0
    stream_vs_float = (
        max(
            float(np.max(np.abs(streamed.grads[n][j] - len(x) * float_grads[n][j])))
            for n in float_grads
            for j in (0, 1)
        )
        / scale
    )  # NOTE: backprop's gradient is the batch mean, the port's the sum
    training = None
    if train is not None:
        training = _train_library(net, sub, train, (x, y), epochs, batch_size, lr, momentum, seed, limit)
    return LibraryReport(
        samples=len(x),
        depth=net.depth,
        accuracy=acc(streamed.outputs[0]),
        emulator_accuracy=acc(emulated.outputs[0]),
        float_accuracy=acc(net.forward(x)),
        outputs_match=bool(np.array_equal(streamed.outputs[0], emulated.outputs[0])),
        error_vs_emulator=[_max_error(a, b) for a, b in zip(got.history.grads, ref.history.grads)],
        error_vs_fixed_exact=[_max_error(a, exact_fixed) for a in got.history.grads],
        error_vs_float=[_max_error(a, exact_float) for a in got.history.grads],
        stream_vs_emulator=_max_error(list(streamed.grads.values()), list(emulated.grads.values())),
        stream_vs_float=stream_vs_float,
        relax_seconds=relax_seconds,
        stream_seconds=stream_seconds,
        timesteps_per_s=streamed.timesteps / streamed.seconds if streamed.seconds else 0.0,
        resources=report(net, measure_activity(net, sub, x)).to_dict(),
        formats=sub.describe(),
        training=training,
    )


def _train_library(
    net: Network, sub: Any, train: tuple[Any, Any], test: tuple[Any, Any], epochs: int, batch_size: int, lr: float,
    momentum: float, seed: int, timeout: float,
) -> dict[str, Any]:  # fmt: skip
    """Train copies of ``net`` on Lava and in the emulator (the pipelined machine): per-epoch weight gap and loss."""
    from wavetrain.emulator.evaluation import evaluate
    from wavetrain.emulator.stream import run_stream
    from wavetrain.targets.lava.library import stream_library

    on_lava, on_emulator = net.copy(), net.copy()
    start = time.perf_counter()
    got = stream_library(on_lava, *train, sub, epochs, batch_size, lr, momentum, seed, timeout)
    seconds = time.perf_counter() - start
    ref = run_stream(on_emulator, sub, *train, epochs, batch_size, lr, momentum, seed)
    gaps = [_max_error(list(a.values()), list(b.values())) for a, b in zip(got.params, ref.params)]
    scores = evaluate(on_lava.machine(sub), on_lava.check_input(test[0]), test[1], fast=False)
    return {
        "epochs": epochs,
        "samples": len(train[0]),
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "weight_gap": gaps,
        "loss": ref.loss,
        "accuracy": float(scores.accuracy),
        "seconds": seconds,
        "timesteps": got.timesteps,
        "timesteps_per_s": got.timesteps / got.seconds if got.seconds else 0.0,
    }
