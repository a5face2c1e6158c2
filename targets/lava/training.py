"""Training on Lava: the dyadic schedule (2L timesteps of relaxation, then the port update, per minibatch) and the
unlocked wave schedule (the ports move every timestep), in floating_pt or fixed_pt.

The minibatch order, the port (SGD or heavy ball, lr and momentum) and the per-tick scaling of the wave schedule are
those of :func:`wavetrain.emulator.train.train`, so the same call on the emulator (the same substrate, and
``dtype="float64"``: Lava's models compute in float64 and int64) gives the same trajectory: the parameters after every
epoch are equal in floating_pt and bit for bit in fixed_pt. Two differences: a Lava network has a fixed batch width,
so each epoch runs the whole minibatches only (the last len(train) mod batch_size samples of the epoch's permutation
are skipped); and the wave schedule's reported loss is the load's at the last tick of each minibatch (the emulator
reports the tick after it).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any, Callable

import numpy as np

from wavetrain.compiler.budget import MAX_HOLD, check_count
from wavetrain.compiler.network import Network
from wavetrain.emulator.evaluation import evaluate as score
from wavetrain.emulator.loihi import LoihiFixedPoint
from wavetrain.emulator.train import TrainConfig, TrainResult, dataset_for
from wavetrain.errors import ConfigError
from wavetrain.targets.lava.runner import TIMEOUT, build, check_network, outbox, read_params, session

LAVA_METHODS = ("dyadic", "wave")


def train_on_lava(
    net: Network,
    data: Any,
    method: str = "dyadic",
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
    hold: int | None = None,
    fixed: LoihiFixedPoint | None = None,
    callback: Callable[[int, TrainResult], None] | None = None,
    timeout: float = TIMEOUT,
) -> TrainResult:
    """Train ``net`` in place on Lava; the same arguments and result as emulator.train (methods dyadic and wave).

    ``fixed``: a LoihiFixedPoint (from emulator.loihi.calibrate) selects the fixed_pt models; the network's weights
    come back as mantissa * 2^exponent after every epoch. ``timeout`` bounds each epoch's run [s].
    """
    if method not in LAVA_METHODS:
        raise ConfigError(f"target 'lava': method must be one of {', '.join(LAVA_METHODS)}, got {method!r}")
    if method != "wave" and hold is not None:
        raise ConfigError(f"hold: only the 'wave' method holds inputs for ticks, got hold={hold} with {method!r}")
    TrainConfig(epochs, batch_size, lr, momentum, seed)  # NOTE: train()'s checks of the schedule, once
    window = 2 * net.depth if method == "dyadic" or hold is None else check_count(hold, "hold", MAX_HOLD, minimum=1)
    dataset = dataset_for(net, data)
    x_all = dataset.x_train.astype(np.float64)
    t_all = net.targets(dataset.y_train, len(x_all)).astype(np.float64)
    windows = len(x_all) // batch_size
    if windows < 1:
        raise ConfigError(f"target 'lava': batch_size must be <= the {len(x_all)} training samples, got {batch_size}")
    check_network(net, batch_size, fixed)
    result = TrainResult(
        method,
        epochs,
        batch_size,
        lr,
        momentum,
        seed,
        hold=window if method == "wave" else None,
        network=net,
        dtype="int64 (Loihi fixed point)" if fixed is not None else "float64",
    )
    began = time.perf_counter()
    if epochs == 0:
        return result
    steps = windows * window
    with tempfile.TemporaryDirectory(prefix="wavetrain-lava-") as box:
        clamp, layers, load = build(
            net,
            x_all,
            t_all,
            method,
            window,
            batch_size,
            windows=windows,
            shuffle=True,
            seed=seed,
            fixed=fixed,
            lr=lr,
            momentum=momentum,
            outbox=box,
        )
        with session(clamp, layers, load, "fixed_pt" if fixed is not None else "floating_pt", timeout) as run:
            for epoch in range(epochs):
                start = time.perf_counter()
                run.run(steps)
                result.wall_time += time.perf_counter() - start
                for layer, (W, b) in zip(net.layers, read_params(layers, fixed)):  # NOTE: a chain (check_network)
                    layer.weight[...] = W
                    layer.bias[...] = b
                _record(result, net, dataset, float(np.mean(outbox(load)["loss"])), fixed)
                if callback is not None:
                    callback(epoch, result)
    result.samples_per_s = epochs * windows * batch_size / result.wall_time if result.wall_time else 0.0
    result.elapsed = time.perf_counter() - began
    return result


def evaluate(net: Network, x: Any, y: Any, substrate: Any = None) -> tuple[float, float]:
    """(mean loss, accuracy) of net's forward wave on a substrate (default ideal: Network.evaluate's numbers)."""
    scores = score(net.machine(substrate), net.check_input(x), y, fast=False)
    return scores.loss, scores.accuracy


def _record(result: TrainResult, net: Network, dataset: Any, loss: float, fixed: LoihiFixedPoint | None) -> None:
    result.loss.append(loss)
    test_loss, test_acc = evaluate(net, dataset.x_test, dataset.y_test, fixed)
    result.test_loss.append(test_loss)
    result.test_accuracy.append(test_acc)
