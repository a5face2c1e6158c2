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
        return train_on_lava(net, data, fixed=sub, **options), sub
    if sub is not None:
        options["substrate"] = sub
        # NOTE: the fixed-point arithmetic is exact in float64 (integers below 2^52), not in float32
        options.setdefault("dtype", "float64")
    return train(net, data, **options), sub
