"""Training on the emulator: the reference backprop, the dyadic relaxation, and unlocked wave training.

Methods (all update the network in place and share one optimizer, so trajectories can be compared):
  backprop  textbook backprop (stored activations, delta recursion): the reference.
  dyadic    relax the waves for 2L ticks at Courant number 1 per minibatch, then update (T1): the same trajectory
            as backprop up to rounding. ``schedule="light_cone"`` (default) evaluates only the cells on the light
            cone; ``schedule="ticks"`` runs every tick of the relaxation.
  wave      unlocked (spec section 1.8, T4): the parameter ports move every tick while the waves are in flight.
            Each minibatch is held at the input for ``hold`` ticks (default 2L) and the waves are never reset, so
            early ticks of a minibatch read a stale mix of the previous one; that mismatch is part of the physics.
            The per-tick learning rate is lr / hold, so lr means the same displacement per minibatch as in backprop.

The optimizer is the resistor (SGD) or inductor + resistor (heavy-ball momentum) termination of the parameter ports:
v <- momentum * v - lr * g, theta <- theta + v.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from wavetrain.compiler.budget import MAX_HOLD, check_count, check_memory, network_bytes, waves_bytes
from wavetrain.compiler.data import Dataset, check_features, check_targets
from wavetrain.compiler.network import Network
from wavetrain.compiler.validate import number
from wavetrain.emulator import cells, fused
from wavetrain.emulator import checkpoint as ckpt
from wavetrain.emulator.chips import ChipRun, Fidelity
from wavetrain.emulator.kernel import Grads, Machine, Params, WaveState, light_cone, tick
from wavetrain.emulator.methods import EXTRA_METHODS, SELF_STEPPING
from wavetrain.emulator.ports import heavy_ball
from wavetrain.emulator.relax import run_ticks
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError, DataError

CORE_METHODS = ("backprop", "dyadic", "wave")
METHODS = (*CORE_METHODS, *EXTRA_METHODS)  # every name train() accepts; EXTRA_METHODS: the papers' rules
SCHEDULES = ("light_cone", "ticks")


def backprop(params: Params, net: Network, x: np.ndarray, t: np.ndarray) -> tuple[Grads, np.ndarray]:
    """Textbook backprop of the mean batch loss: (grads, per-sample loss). Written apart from the wave kernel."""
    activations = [x]
    pre = []
    for (W, b), layer in zip(params, net.layers):
        pre.append(activations[-1] @ W.T + b)
        activations.append(layer.act.f(pre[-1]))
    out = activations[-1]
    last = net.layers[-1]
    delta = last.act.df(pre[-1], out) * (net.loss_fn.grad(out, t) / len(x))
    grads: Grads = []
    for index in range(net.depth - 1, -1, -1):
        grads.append((delta.T @ activations[index], delta.sum(axis=0)))
        if index > 0:
            layer = net.layers[index - 1]
            delta = layer.act.df(pre[index - 1], activations[index]) * (delta @ params[index][0])
    return grads[::-1], net.loss_fn.value(out, t)


@dataclass
class HeavyBall:
    """The parameter-port termination: a resistor (momentum = 0: SGD) or inductor + resistor (heavy ball)."""

    lr: float
    momentum: float = 0.0
    velocity: list[tuple[np.ndarray, np.ndarray]] | None = None

    def step(self, params: Params, grads: Grads, substrate: Substrate = IDEAL) -> None:
        if self.momentum == 0.0:
            cells.update_scaled(params, grads, -self.lr, substrate)
            return
        if self.velocity is None:
            self.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
        heavy_ball(self.velocity, grads, self.lr, self.momentum)
        cells.update(params, self.velocity, substrate)


@dataclass
class TrainResult:
    """Per-epoch history and the final scores of one training run."""

    method: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    seed: int
    loss: list[float] = field(default_factory=list)  # running training loss: mean over the epoch's minibatches
    train_accuracy: list[float] = field(default_factory=list)  # whole training set, only with train_metrics=True
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    wall_time: float = 0.0  # seconds spent in training steps (evaluation excluded)
    samples_per_s: float = 0.0
    elapsed: float = 0.0  # seconds end to end: steps, per-epoch metrics, checkpoints
    dtype: str = "float32"  # the arithmetic the parameters were trained in
    hold: int | None = None
    network: Network | None = field(default=None, repr=False)
    hardware: dict[str, Any] | None = None  # the HardwareModel (to_dict) when trained on emulated hardware
    chips: int | None = None  # Monte-Carlo chip instances (None: one chip, no chip axis)
    chip_test_accuracy: list[list[float]] = field(default_factory=list)  # per epoch, per chip
    fidelity: Fidelity | None = None  # gradient fidelity per epoch (emulator/chips.py)

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("network")
        out["fidelity"] = self.fidelity.to_dict() if self.fidelity is not None else None
        out["test_accuracy_final"] = self.final_test_accuracy
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True)


def _as_dataset(data: Any, net: Network) -> Dataset:
    if isinstance(data, Dataset):
        dataset = data
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        x, y = data[0], data[1]
        x_test, y_test = (data[2], data[3]) if len(data) == 4 else (data[0], data[1])
        labels = np.asarray(y).ndim == 1
        dataset = Dataset(
            "arrays",
            np.asarray(x),
            np.asarray(y),
            np.asarray(x_test),
            np.asarray(y_test),
            net.sizes[-1] if labels else 0,
        )
    else:
        raise DataError(f"data: expected a Dataset or a tuple (x, y[, x_test, y_test]), got {type(data).__name__}")
    check_features(dataset.x_train, net.sizes[0], "training inputs")
    check_features(dataset.x_test, net.sizes[0], "test inputs")
    check_targets(dataset.y_train, net.sizes[-1], len(dataset.x_train), "training targets")
    check_targets(dataset.y_test, net.sizes[-1], len(dataset.x_test), "test targets")
    return dataset


def _check_positive(name: str, value: Any, integer: bool = False, allow_zero: bool = False) -> None:
    number(value, name, low=0, low_open=not allow_zero, integer=integer)


class Method(Protocol):
    """One training method: consumes a minibatch, moves the parameters through the port, returns per-sample loss."""

    name: str

    def step(
        self, params: Params, net: Network, x: np.ndarray, t: np.ndarray, port: Port, substrate: Substrate = IDEAL
    ) -> np.ndarray: ...


class Port(Protocol):
    """A parameter-port termination: turns the gradient read at the port into a parameter motion.

    It applies the motion through ``cells.update(params, steps, substrate)`` (the substrate's ``write``).
    """

    def step(self, params: Params, grads: Grads, substrate: Substrate = IDEAL) -> None: ...


@dataclass
class Backprop:
    """The reference: textbook backprop, then one port step."""

    name: str = "backprop"

    def step(
        self, params: Params, net: Network, x: np.ndarray, t: np.ndarray, port: Port, substrate: Substrate = IDEAL
    ) -> np.ndarray:
        if not substrate.ideal:
            raise ConfigError(
                f"backprop is the ideal reference and runs on no substrate, got substrate={substrate!r}; "
                f"train with method='dyadic' (or another wave method) on a physical substrate"
            )
        grads, loss = backprop(params, net, x, t)
        port.step(params, grads)
        return loss


@dataclass
class Dyadic:
    """Relax 2L ticks at Courant number 1 (light-cone cells only, or every tick), read the ports, step."""

    schedule: str = "light_cone"
    name: str = "dyadic"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")

    def step(
        self, params: Params, net: Network, x: np.ndarray, t: np.ndarray, port: Port, substrate: Substrate = IDEAL
    ) -> np.ndarray:
        acts = [layer.act for layer in net.layers]
        if self.schedule == "light_cone" and type(port) is HeavyBall and substrate.ideal:
            velocity = port.velocity if port.momentum != 0.0 else None
            if fused.supports(params, acts, x, t, velocity):
                # NOTE: NumPy on a CPU: the same cells and port update, fused into BLAS calls (emulator/fused.py)
                if port.momentum != 0.0 and port.velocity is None:
                    port.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
                return fused.step(params, acts, net.loss_fn, x, t, port.lr, port.momentum, port.velocity)
        machine = Machine.of(net, params, substrate)
        if self.schedule == "light_cone":
            grads, _, loss = light_cone(machine, x, t)
        else:
            relaxation = run_ticks(params, net, x, t, 2 * net.depth, 1.0, substrate=substrate)
            grads = relaxation.grads
            loss = cells.cost(machine, cells.output(machine, relaxation.s[-1]), t)
        cells.port_step(port, params, grads, substrate)
        return loss


@dataclass
class Wave:
    """Unlocked: hold each minibatch ``hold`` ticks; the ports move every tick with the readout scaled by 1/hold.

    The waves are never reset between minibatches (only when the batch size changes). The target source at the
    loss load is delayed by L ticks, the forward wave's travel time, so the load always compares the output with the
    label of the sample that produced it. Inside the network the mismatch stays: for a few ticks after a switch a
    port reads the new sample's activation against the old sample's sensitivity (spec section 1.8). ``hold`` >= 2L
    leaves most ticks exact; ``hold`` = 1 is the fully pipelined machine (a new minibatch every tick).
    """

    hold: int
    name: str = "wave"
    state: WaveState | None = field(default=None, repr=False)
    targets: deque = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        check_count(self.hold, "hold", MAX_HOLD, minimum=1)

    def step(
        self, params: Params, net: Network, x: np.ndarray, t: np.ndarray, port: Port, substrate: Substrate = IDEAL
    ) -> np.ndarray:
        machine = Machine.of(net, params, substrate)
        if self.state is None or self.state.s[0].shape[-2] != x.shape[-2]:
            self.state = WaveState.zeros(net.sizes, x.shape[-2], x, substrate.chips)
            self.targets = deque([t] * net.depth)
        scale = 1.0 / self.hold
        for _ in range(self.hold):
            self.targets.append(t)
            delayed = self.targets.popleft()  # the label of the sample now at the output
            self.state, grads = tick(machine, x, delayed, self.state, 1.0)
            assert grads is not None  # NOTE: want_grads defaults to True
            cells.port_step(port, params, [(dW * scale, db * scale) for dW, db in grads], substrate)
        # NOTE: the loss reported is what the loss load sees at the end of the hold
        return cells.cost(machine, cells.output(machine, self.state.s[-1]), self.targets[0])


def make_method(method: str | Method, net: Network, hold: int | None, schedule: str, lr: float = 0.05) -> Method:
    """A Method object from its name (``METHODS``) or the object itself; options it would ignore are refused."""
    if not isinstance(method, str):
        if hold is not None:
            raise ConfigError("hold: pass it to the Method object, not to train(), when method is an object")
        return method
    if method not in METHODS:
        raise ConfigError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if hold is not None and method != "wave":
        raise ConfigError(f"hold: only the 'wave' method holds inputs for ticks, got hold={hold} with {method!r}")
    if schedule != "light_cone" and method != "dyadic":
        raise ConfigError(f"schedule: only the 'dyadic' method has a schedule, got {schedule!r} with {method!r}")
    if method in EXTRA_METHODS:
        return EXTRA_METHODS[method](net, lr)
    if method == "wave":
        return Wave(2 * net.depth if hold is None else hold)
    if method == "dyadic":
        return Dyadic(schedule)
    return Backprop()


def check_schedule_options(epochs: Any, batch_size: Any, lr: Any, momentum: Any) -> None:
    """The options every training loop shares (emulator, Lava): counts, step size and a passive port's momentum."""
    _check_positive("epochs", epochs, integer=True, allow_zero=True)
    _check_positive("batch_size", batch_size, integer=True)
    _check_positive("lr", lr)
    _check_positive("momentum", momentum, allow_zero=True)
    if momentum >= 1:
        raise ConfigError(f"momentum: expected 0 <= momentum < 1 (a passive port), got {momentum}")


def train(
    net: Network,
    data: Any,
    method: str | Method = "dyadic",
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
    hold: int | None = None,
    schedule: str = "light_cone",
    port: Port | None = None,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    callback: Callable[[int, TrainResult], None] | None = None,
    substrate: Substrate = IDEAL,
    dtype: Any = None,
    train_metrics: bool = False,
    hardware: Any = None,
    chips: int | None = None,
    fidelity_every: int = 10,
    checkpoint_every: int = 1,
    resume: str | Path | None = None,
) -> TrainResult:
    """Train ``net`` in place on ``data`` (a Dataset or (x, y[, x_test, y_test])) and return its history.

    ``method`` is a name in ``METHODS`` or a :class:`Method` object; ``port`` overrides the default
    heavy-ball port built from ``lr`` and ``momentum``. The minibatch order comes from
    ``numpy.random.default_rng(seed)``, so a run is reproducible from the seed. ``callback(epoch, result)`` runs
    after each epoch. ``substrate`` is the arithmetic the cells run on (:mod:`wavetrain.emulator.substrate`; default
    the ideal machine).

    ``dtype``: "float32" (the default, unless the substrate needs another: the Loihi fixed-point substrate computes
    its integers exactly in float64) trains float32 copies of the parameters and writes them back into ``net`` after
    every epoch; "float64" trains the network's own arrays in place (the exact path: dyadic equals backprop to
    rounding). Per epoch the result records the running training loss (mean of the minibatch losses) and the test
    loss and accuracy; ``train_metrics=True`` also evaluates the whole training set.
    ``hardware`` (a preset name, a .json file or a :class:`~wavetrain.emulator.hardware.HardwareModel`) trains on
    emulated analog chips instead (:mod:`wavetrain.emulator.chips`): ``chips`` Monte-Carlo instances at once,
    accuracies measured on the chips (``result.chip_test_accuracy`` per chip), gradient fidelity sampled every
    ``fidelity_every`` minibatches (``result.fidelity``); the network ends with chip 0's weights.

    ``checkpoint=PATH`` writes the whole training state (emulator/checkpoint.py; also a network file that
    ``Network.load`` reads) atomically every ``checkpoint_every`` epochs and after the last (0: never), and when
    SIGINT, SIGTERM or SIGHUP stops the run at the next minibatch boundary (then TrainingInterrupted says how to
    resume). ``resume=PATH`` continues such a run with the same settings (``epochs`` may grow): 2 + 2 epochs equal
    4 uninterrupted epochs bit for bit. Not with ``hardware=`` (its chips' state is not checkpointed yet). A
    diverging run restores the last finite state and raises ConfigError.
    """
    if not isinstance(substrate, Substrate):
        raise ConfigError(
            f"substrate: expected a wavetrain.emulator.substrate.Substrate, got {type(substrate).__name__}"
        )
    work = _check_dtype(dtype if dtype is not None else (substrate.needs_dtype or "float32"))
    if substrate.needs_dtype is not None and work != np.dtype(substrate.needs_dtype):
        raise ConfigError(
            f"dtype: the {substrate.name!r} substrate computes in {substrate.needs_dtype}, got dtype={dtype!r}; "
            f"leave dtype unset or pass {substrate.needs_dtype!r}"
        )
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    check_schedule_options(epochs, batch_size, lr, momentum)
    _check_positive("checkpoint_every", checkpoint_every, integer=True, allow_zero=True)
    _check_positive("seed", seed, integer=True, allow_zero=True)
    if not isinstance(progress, bool):
        raise ConfigError(f"progress: expected True or False, got {type(progress).__name__} {progress!r}")
    stepper = make_method(method, net, hold, schedule, lr)
    if isinstance(method, str) and method in SELF_STEPPING:
        # NOTE: a CurvaturePort passed as port is used by 'curvature' (it can observe); nothing else would be
        if momentum != 0.0 or (port is not None and not (method == "curvature" and hasattr(port, "observe"))):
            raise ConfigError(
                f"method {method!r} steps the parameters itself and would ignore momentum={momentum} and "
                f"port={type(port).__name__ if port is not None else None}; pass momentum=0 (CLI: --momentum 0)"
            )
    dataset = _as_dataset(data, net)
    # NOTE: parameters + port velocity + the last finite copy + a checkpoint's copy; waves and cell buffers of a batch
    check_memory(
        4 * network_bytes(net.sizes) + 6 * waves_bytes(net.sizes, min(batch_size, len(dataset.x_train))),
        f"train (widths {net.sizes}, batch {batch_size})",
        "use a smaller network or batch",
    )
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    run = _chip_run(net, hardware, chips, substrate, seed, fidelity_every, stepper, schedule, work)
    if run is not None:
        params, substrate = run.params, run.substrate
    else:
        # NOTE: float64 trains the network's live arrays; float32 trains C-ordered copies, written back every epoch
        params = net.params() if work == np.float64 else [(W.astype(work), b.astype(work)) for W, b in net.params()]
    machine = Machine.of(net, params, substrate)
    port = HeavyBall(lr, momentum) if port is None else port
    result = TrainResult(
        stepper.name,
        epochs,
        batch_size,
        lr,
        momentum,
        seed,
        hold=getattr(stepper, "hold", None),
        network=net,
        dtype=work.name,
    )
    x_all = np.ascontiguousarray(dataset.x_train, dtype=work)
    t_all = check_targets(dataset.y_train, net.sizes[-1]).astype(work)
    x_test = np.ascontiguousarray(dataset.x_test, dtype=work)
    t_test = check_targets(dataset.y_test, net.sizes[-1]).astype(work)
    # --- checkpoint / resume / divergence / signals (emulator/checkpoint.py) ------------------------------------
    if run is not None and (checkpoint is not None or resume is not None):
        raise ConfigError(
            "checkpoint/resume: not available with hardware= (the chips' state is not checkpointed); "
            "save the network with net.save after training"
        )
    settings = {
        "method": stepper.name,
        "method_type": type(stepper).__qualname__,
        "port_type": type(port).__qualname__,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "seed": seed,
        "hold": getattr(stepper, "hold", None),
        "schedule": schedule,
        "dtype": work.name,
        "substrate": type(substrate).__qualname__,
        "train_metrics": train_metrics,
    }
    saving = checkpoint is not None or resume is not None
    session = ckpt.Session(checkpoint, checkpoint_every, settings, ckpt.fingerprint(x_all, t_all) if saving else "")
    state: dict[str, Any] = {
        "params": params,
        "rng": rng,
        "port": port,
        "method": stepper,
        "order": None,
        "losses": [],
        "history": {key: getattr(result, key) for key in ckpt.HISTORY},
    }
    if not substrate.ideal:
        state["substrate"] = substrate
    done = 0
    if resume is not None:
        done, result.wall_time = session.resume(resume, net, state)
        if run is None and work != np.float64:
            _write_back(net, params)
    session.snapshot(state)
    # --- end checkpoint setup --------------------------------------------------------------------------------------
    bar = _progress(epochs, stepper.name, done) if progress else None
    with session.guard():
        for epoch in range(done, epochs):
            if state["order"] is None:  # NOTE: a run resumed mid-epoch continues the order it was drawing from
                state["order"], state["losses"] = rng.permutation(len(x_all)), []
            order, losses = state["order"], state["losses"]
            start = time.perf_counter()
            for first in range(len(losses) * batch_size, len(order), batch_size):
                session.interrupted(
                    net, state, epoch, first // batch_size, result.wall_time + time.perf_counter() - start
                )
                batch = order[first : first + batch_size]
                if run is not None:
                    run.before_step()
                loss = _method_step(stepper, params, net, x_all[batch], t_all[batch], port, substrate)
                losses.append(float(np.mean(loss)))
                if run is not None:
                    run.after_step(x_all[batch], t_all[batch])
                if not math.isfinite(losses[-1]):
                    break  # NOTE: diverged; check_finite below restores the last finite state
            result.wall_time += time.perf_counter() - start
            try:
                session.check_finite(state, epoch, lr)
            finally:
                if run is None and work != np.float64:
                    _write_back(net, params)  # NOTE: also the restored last finite state after a divergence
            if run is not None:
                run.record(result, dataset, float(np.mean(losses)))
            else:
                result.loss.append(float(np.mean(losses)))
                test_loss, test_accuracy = _evaluate(machine, x_test, t_test, dataset.y_test)
                result.test_loss.append(test_loss)
                result.test_accuracy.append(test_accuracy)
                if train_metrics:
                    result.train_accuracy.append(_evaluate(machine, x_all, t_all, dataset.y_train)[1])
            state["order"], state["losses"] = None, []
            session.snapshot(state)
            if session.due(epoch + 1, epochs):
                session.save(net, state, epoch + 1, 0, result.wall_time)
            if bar is not None:
                bar.set_postfix(loss=f"{result.loss[-1]:.4f}", test_acc=f"{result.test_accuracy[-1]:.4f}")
                bar.update(1)
            if callback is not None:
                callback(epoch, result)
    if bar is not None:
        bar.close()
    trained = (epochs - done) * len(x_all)
    result.samples_per_s = trained / result.wall_time if result.wall_time and trained else 0.0
    if run is not None:
        run.finish(result)
    result.elapsed = time.perf_counter() - began
    return result


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        work = np.dtype(dtype)
    except TypeError as err:
        raise ConfigError(f"dtype: expected 'float32' or 'float64', got {dtype!r}") from err
    if work not in (np.float32, np.float64):
        raise ConfigError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    return work


def _write_back(net: Network, params: Params) -> None:
    """Copy trained parameters (another dtype) into the network's float64 arrays, in place."""
    for layer, (W, b) in zip(net.layers, params):
        layer.weight[...] = W
        layer.bias[...] = b


def _evaluate(machine: Machine, x: np.ndarray, t: np.ndarray, y: Any, chunk: int = 4096) -> tuple[float, float]:
    """(mean loss, accuracy) of the machine's forward wave on a data split, in chunks; accuracy NaN for 2-D targets."""
    y = np.asarray(y)
    total, hits, count = 0.0, 0, 0
    # NOTE: the fused forward (BLAS, one buffer per layer) where the light cone's fused step applies, not three
    # fresh multi-megabyte temporaries per layer and chunk (each one page-faulted anew with glibc's default trimming)
    quick = machine.substrate.ideal and fused.supports(machine.params, machine.acts, x[:1], t[:1], None)
    for first in range(0, len(x), chunk):
        rows = x[first : first + chunk]
        if quick:
            y_out = fused.forward(machine.params, machine.acts, rows)
        else:
            y_out = cells.output(machine, cells.forward_sweep(machine, rows).s[-1])
        cost = cells.cost(machine, y_out, t[first : first + chunk])  # (.., rows): a chip axis counts every chip
        total, count = total + float(cost.sum(dtype=np.float64)), count + cost.size
        if y.ndim == 1:
            hits += int(np.count_nonzero(np.argmax(y_out, axis=-1) == y[first : first + chunk]))
    count = max(count, 1)
    return total / count, (hits / count if y.ndim == 1 else float("nan"))


def _chip_run(
    net: Network,
    hardware: Any,
    chips: Any,
    substrate: Substrate,
    seed: int,
    fidelity_every: Any,
    stepper: Method,
    schedule: str,
    dtype: np.dtype,
) -> ChipRun | None:
    """The emulated-hardware run of ``train(hardware=...)``, or None (options it needs are refused without it)."""
    if hardware is None:
        if chips is not None:
            raise ConfigError(f"chips: Monte-Carlo chips need hardware= (a preset or a model), got chips={chips!r}")
        return None
    if substrate is not IDEAL:
        raise ConfigError(f"hardware: pass either hardware= or substrate=, got both ({substrate!r})")
    _check_positive("fidelity_every", fidelity_every, integer=True, allow_zero=True)
    return ChipRun(
        net, hardware, chips, seed, fidelity_every, stepper.name, getattr(stepper, "schedule", schedule), dtype
    )


def _method_step(
    stepper: Method, params: Params, net: Network, x: Any, t: Any, port: Port, substrate: Substrate
) -> Any:
    """One minibatch through a method; a Method written before the seam (no ``substrate``) runs only ideally."""
    if substrate.ideal:
        return stepper.step(params, net, x, t, port)
    return stepper.step(params, net, x, t, port, substrate=substrate)


def _progress(epochs: int, method: str, done: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=epochs, initial=done, desc=f"train ({method})", unit="epoch", leave=True)
