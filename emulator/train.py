"""Training on the emulator as a visible pipeline: settings -> data -> method -> run -> the epoch loop.

:func:`train` checks every setting once (:class:`TrainConfig`, shared with the Lava target's trainer), checks the
data against the network, builds the learning rule (:mod:`wavetrain.emulator.methods`), the parameter port (a
:class:`~wavetrain.emulator.ports.HeavyBall`: SGD at momentum 0) and the run: a :class:`PlainRun` (the network's
parameters, or float32 copies, on a substrate) or a :class:`~wavetrain.emulator.chips.ChipRun` (emulated analog
chips). Both implement :class:`Run`, so the epoch loop below has no branch for either. Checkpoints, resume,
divergence rollback and signals are the :class:`~wavetrain.emulator.checkpoint.Session`'s.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from wavetrain.compiler.budget import check_memory, graph_params_bytes, graph_waves_bytes
from wavetrain.compiler.data import Dataset, check_inputs, check_targets
from wavetrain.compiler.functions import Array
from wavetrain.compiler.network import Network
from wavetrain.compiler.validate import number
from wavetrain.emulator import checkpoint as ckpt
from wavetrain.emulator import threads as threads_module
from wavetrain.emulator.cells import Machine
from wavetrain.emulator.chips import ChipRun, Fidelity
from wavetrain.emulator.evaluation import evaluate
from wavetrain.emulator.methods import (
    DEFAULT_LR,
    METHODS,
    NOT_LEARNING,
    SCHEDULES,
    SELF_STEPPING,
    Backprop,
    Dyadic,
    Method,
    Port,
    Wave,
    backprop,
    make_method,
    method_defaults,
)
from wavetrain.emulator.ports import CurvaturePort, HeavyBall
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import (
    ConfigError,
    DataError,
    DataScaleWarning,
    DivergenceWarning,
    ModelFileError,
    WavetrainError,
)

__all__ = [
    "METHODS", "Backprop", "Dyadic", "HeavyBall", "Method", "PlainRun", "Port", "Run", "TrainConfig", "TrainResult",
    "Wave", "backprop", "dataset_for", "make_method", "train",
]  # fmt: skip


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
    chip_run: Any = field(default=None, repr=False)  # the ChipRun of hardware=: its chips as training left them

    def __repr__(self) -> str:
        """One line: the method, the epochs and the final scores (the per-epoch lists are its fields)."""
        if not self.loss:
            return f"TrainResult({self.method}: 0 epochs trained)"
        epochs = f"{len(self.loss)} epoch{'s' if len(self.loss) != 1 else ''}"
        return (f"TrainResult({self.method}: {epochs}, batch {self.batch_size}, lr {self.lr:g}, momentum "
                f"{self.momentum:g}, {self.dtype}; final train loss {self.loss[-1]:.4f}, test accuracy "
                f"{self.final_test_accuracy:.4f}{f', {self.chips} chips' if self.chips else ''})")  # fmt: skip

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def to_dict(self) -> dict[str, Any]:
        # NOTE: not asdict, which would deep-copy the network and the chips before they are dropped
        skip = ("network", "chip_run", "fidelity")
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name not in skip}
        out["fidelity"] = self.fidelity.to_dict() if self.fidelity is not None else None
        return {"test_accuracy_final": self.final_test_accuracy, **out}  # NOTE: the headline first (README)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True)


@dataclass(frozen=True)
class TrainConfig:
    """The schedule of a training run, each value checked when the config is built (before any work).

    Shared by :func:`train` and the Lava target's ``train_on_lava``: counts, the port's step size and momentum (a
    passive port: 0 <= momentum < 1), the seed, the evaluation and checkpoint cadence.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    seed: int = 0
    schedule: str = "light_cone"
    train_metrics: bool = False
    progress: bool = False
    checkpoint_every: int = 1
    fidelity_every: int = 10

    def __post_init__(self) -> None:
        number(self.epochs, "epochs", low=0, integer=True)
        number(self.batch_size, "batch_size", low=0, low_open=True, integer=True)
        number(self.lr, "lr", low=0, low_open=True)
        number(self.momentum, "momentum", low=0)
        if self.momentum >= 1:
            raise ConfigError(f"momentum: expected 0 <= momentum < 1 (a passive port), got {self.momentum}")
        number(self.checkpoint_every, "checkpoint_every", low=0, integer=True)
        number(self.seed, "seed", low=0, integer=True)
        for name in ("progress", "train_metrics"):
            if not isinstance(getattr(self, name), bool):
                value = getattr(self, name)
                raise ConfigError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        number(self.fidelity_every, "fidelity_every", low=0, integer=True)


def training_dtype(dtype: Any, substrate: Substrate) -> np.dtype:
    """The arithmetic of a run: ``dtype`` (float32 or float64), default float32 unless the substrate needs another."""
    wanted = dtype if dtype is not None else (substrate.needs_dtype or "float32")
    try:
        work = np.dtype(wanted)
    except TypeError as err:
        raise ConfigError(f"dtype: expected 'float32' or 'float64', got {dtype!r}") from err
    if work not in (np.float32, np.float64):
        raise ConfigError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    if substrate.needs_dtype is not None and work != np.dtype(substrate.needs_dtype):
        raise ConfigError(
            f"dtype: the {substrate.name!r} substrate computes in {substrate.needs_dtype}, got dtype={dtype!r}; "
            f"leave dtype unset or pass {substrate.needs_dtype!r}"
        )
    return work


def dataset_for(net: Network, data: Any) -> Dataset:
    """``data`` (a Dataset or (x, y[, x_test, y_test])) checked against the network's input and output widths."""
    if isinstance(data, Dataset):
        dataset = data
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        x, y = data[0], data[1]
        x_test, y_test = (data[2], data[3]) if len(data) == 4 else (data[0], data[1])
        labels = np.asarray(y).ndim == 1
        dataset = Dataset(
            "arrays", np.asarray(x), np.asarray(y), np.asarray(x_test), np.asarray(y_test),
            net.n_outputs if labels else 0,
        )  # fmt: skip
    else:
        raise DataError(f"data: expected a Dataset or a tuple (x, y[, x_test, y_test]), got {type(data).__name__}")
    flat = dataset.x_train.ndim == 2 and dataset.x_test.ndim == 2 and len(net.input_shape) > 1
    if flat and dataset.x_train.shape[1] == math.prod(net.input_shape) == dataset.x_test.shape[1]:
        # NOTE: flat samples of as many values as the input are read in its shape (C order, torch's x.view)
        dataset = dataset.as_shape(net.input_shape)
    check_inputs(dataset.x_train, net.input_shape, "training inputs")
    check_inputs(dataset.x_test, net.input_shape, "test inputs")
    check_targets(dataset.y_train, net.n_outputs, len(dataset.x_train), "training targets")
    check_targets(dataset.y_test, net.n_outputs, len(dataset.x_test), "test targets")
    classes = np.asarray(dataset.y_train)
    if classes.ndim == 1 and np.all(classes == classes[0]):
        raise DataError(
            f"training targets: all {len(classes)} samples have label {classes[0]}, expected at least 2 classes (one "
            f"class trains to a loss of 0 and an accuracy of 1 whatever the weights)"
        )
    return dataset


class Run(Protocol):
    """Where a training run's parameters live and how its epochs are scored: the plain run or the chip run."""

    machine: Machine  # the parameters the ports write, on the substrate the cells run on

    def before_step(self) -> None: ...

    def after_step(self, x: Array, t: Array) -> None: ...

    def sync(self) -> None:
        """Write the run's parameters into the network (after every epoch, a restored state included)."""

    def score(self, result: TrainResult, loss: float) -> None:
        """Append one epoch's running loss and its evaluation to ``result``."""

    def finish(self, result: TrainResult) -> None: ...

    def checkpointed(self) -> Any:
        """State a checkpoint keeps besides the parameters (None: the substrate's own, if it has any)."""

    def resumed(self) -> None:
        """Put a restored :meth:`checkpointed` state back into the run."""


class PlainRun:
    """The network on a substrate: float64 trains its own arrays, float32 C-ordered copies written back per epoch."""

    def __init__(self, net: Network, dataset: Dataset, substrate: Substrate, dtype: np.dtype, metrics: bool) -> None:
        params = net.param_dict() if dtype == np.float64 else {n: (W.astype(dtype), b.astype(dtype)) for n, (W, b) in
                                                               net.param_dict().items()}  # fmt: skip
        self.net, self.machine, self.metrics, self.copied = net, Machine.of(net, params, substrate), metrics, dtype
        self.x_test = np.ascontiguousarray(dataset.x_test, dtype=dtype)
        self.y_test, self.dataset = dataset.y_test, dataset

    def before_step(self) -> None:
        pass

    def after_step(self, x: Array, t: Array) -> None:
        pass

    def sync(self) -> None:
        if self.copied != np.float64:
            for n, (W, b) in self.machine.params.items():
                held = self.net.parameters(n)
                held.weight[...] = W
                held.bias[...] = b

    def score(self, result: TrainResult, loss: float) -> None:
        result.loss.append(loss)
        scores = evaluate(self.machine, self.x_test, self.y_test)
        result.test_loss.append(scores.loss)
        result.test_accuracy.append(scores.accuracy)
        if self.metrics:
            x_train = np.ascontiguousarray(self.dataset.x_train, dtype=self.copied)
            result.train_accuracy.append(evaluate(self.machine, x_train, self.dataset.y_train).accuracy)

    def finish(self, result: TrainResult) -> None:
        pass

    def checkpointed(self) -> Any:
        return None

    def resumed(self) -> None:
        pass


def train(
    net: Network,
    data: Any,
    method: str | Method = "dyadic",
    epochs: int = 30,
    batch_size: int = 32,
    lr: float | None = None,
    momentum: float | None = None,
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
    threads: int | None = None,
) -> TrainResult:
    """Train ``net`` in place on ``data`` (a Dataset or (x, y[, x_test, y_test])) and return its history.

    ``method`` is a name in ``METHODS`` or a :class:`Method` object; ``port`` overrides the default
    heavy-ball port built from ``lr`` and ``momentum``. Unset, ``lr`` and ``momentum`` are the method's defaults
    (:func:`~wavetrain.emulator.methods.method_defaults`: lr 0.05, momentum 0.9; momentum 0 for the pipelined
    machines, whose stale per-tick updates momentum 0.9 drives to divergence, and for ocnopt and curvature, which
    step the parameters themselves). A run whose running loss grows to ten times its first minibatch's warns
    (:class:`~wavetrain.errors.DivergenceWarning`) naming the settings to lower. ``threads`` is the BLAS/OpenMP/torch
    thread count for the run (:mod:`wavetrain.emulator.threads`: default 1, or ``$WAVETRAIN_THREADS``; 0 leaves the
    libraries' own). The minibatch order comes from
    ``numpy.random.default_rng(seed)``, so a run is reproducible from the seed. ``callback(epoch, result)`` runs
    after each epoch. ``substrate`` is the arithmetic the cells run on (:mod:`wavetrain.emulator.substrate`; default
    the ideal machine).

    ``dtype``: "float32" (the default, unless the substrate needs another: the Loihi fixed-point substrate computes
    its integers exactly in float64) trains float32 copies of the parameters and writes them back into ``net`` after
    every epoch; "float64" trains the network's own arrays in place (the exact path: dyadic equals backprop to
    rounding). Per epoch the result records the running training loss (mean of the minibatch losses) and the test
    loss and accuracy; ``train_metrics=True`` also evaluates the whole training set.
    ``hardware`` (a preset name, a .json file or a :class:`~wavetrain.circuits.hardware.HardwareModel`) trains on
    emulated analog chips instead (:mod:`wavetrain.emulator.chips`): ``chips`` Monte-Carlo instances at once,
    accuracies measured on the chips (``result.chip_test_accuracy`` per chip), gradient fidelity sampled every
    ``fidelity_every`` minibatches (``result.fidelity``); the network ends with chip 0's weights.

    ``checkpoint=PATH`` writes the whole training state (emulator/checkpoint.py; also a network file that
    ``Network.load`` reads) atomically every ``checkpoint_every`` epochs and after the last (0: never), and when
    SIGINT, SIGTERM or SIGHUP stops the run at the next minibatch boundary (then TrainingInterrupted says how to
    resume). ``resume=PATH`` continues such a run with the same settings (``epochs`` may grow): 2 + 2 epochs equal
    4 uninterrupted epochs bit for bit; with ``hardware=`` the checkpoint also keeps the chips (every device's weight,
    bound, step, stuck flag and drift exponent, the lines, the generator of the reads and pulses, the fidelity so
    far). A diverging run restores the last finite state and raises ConfigError.
    """
    if not isinstance(substrate, Substrate):
        raise ConfigError(
            f"substrate: expected a wavetrain.emulator.substrate.Substrate, got {type(substrate).__name__}"
        )
    work = training_dtype(dtype, substrate)
    count = threads_module.resolve(threads)
    stepper = make_method(method, net, hold, schedule, lr if lr is not None else DEFAULT_LR)
    lr, momentum = _defaults(method if isinstance(method, str) else stepper.name, lr, momentum)
    config = TrainConfig(
        epochs, batch_size, lr, momentum, seed, schedule, train_metrics, progress, checkpoint_every, fidelity_every
    )
    if hasattr(stepper, "check"):  # NOTE: a rule not defined on this graph refuses before any work, naming the node
        stepper.check(net.graph)
    _check_port(method, momentum, port)
    dataset = dataset_for(net, data)
    _check_scale(dataset)
    # NOTE: parameters + port velocity + the last finite copy + a checkpoint's copy; waves and cell buffers of a batch
    check_memory(
        4 * graph_params_bytes(net.graph) + 6 * graph_waves_bytes(net.graph, min(batch_size, len(dataset.x_train))),
        f"train (network {net.describe()}, batch {batch_size})", "use a smaller network or batch",
    )  # fmt: skip
    began = time.perf_counter()
    run = _start(net, dataset, config, stepper, substrate, work, hardware, chips, checkpoint, resume)
    port = HeavyBall(lr, momentum) if port is None else port
    result = TrainResult(stepper.name, epochs, batch_size, lr, momentum, seed, hold=getattr(stepper, "hold", None),
                         network=net, dtype=work.name)  # fmt: skip
    x_all = np.ascontiguousarray(dataset.x_train, dtype=work)
    t_all = check_targets(dataset.y_train, net.n_outputs).astype(work)
    rng = np.random.default_rng(seed)
    session = ckpt.Session(checkpoint, checkpoint_every, _settings(config, stepper, port, run, hold, work),
                           ckpt.fingerprint(x_all, t_all) if checkpoint or resume else "")  # fmt: skip
    state = ckpt.live_state(run.machine, rng, port, stepper, {key: getattr(result, key) for key in ckpt.HISTORY})
    own = run.checkpointed()
    if own is not None:  # NOTE: the chips' state replaces the substrate's; kept only where a checkpoint is in play
        state.pop("substrate", None)
        if checkpoint is not None or resume is not None:
            state["chips"] = own
    done = session.start(resume, net, state, result)
    if resume is not None:
        run.resumed()
        _probe(resume, run, stepper, port, x_all, t_all, batch_size, state)
        run.sync()
    watch = _LossWatch(stepper.name, lr, momentum, port)
    with threads_module.limited(count), session.guard(), _progress(progress, epochs, stepper.name, done) as bar:
        for epoch in range(done, epochs):
            order, losses = session.epoch_order(state, len(x_all))
            start, spent = time.perf_counter(), result.wall_time
            for first in range(len(losses) * batch_size, len(order), batch_size):
                session.interrupted(net, state, epoch, first // batch_size, spent + time.perf_counter() - start)
                rows = order[first : first + batch_size]
                run.before_step()
                losses.append(float(np.mean(stepper.step(run.machine, x_all[rows], t_all[rows], port))))
                run.after_step(x_all[rows], t_all[rows])
                if not math.isfinite(losses[-1]):
                    break  # NOTE: diverged; check_finite below restores the last finite state
            result.wall_time += time.perf_counter() - start
            try:
                session.check_finite(state, epoch, lr)
            finally:
                run.sync()  # NOTE: also the restored last finite state after a divergence
            watch.first(losses)
            run.score(result, float(np.mean(losses)))
            watch.check(epoch, result.loss[-1])
            session.end_epoch(net, state, epoch + 1, epochs, result.wall_time)
            bar.update(result)
            if callback is not None:
                callback(epoch, result)
    trained = (epochs - done) * len(x_all)
    result.samples_per_s = trained / result.wall_time if result.wall_time and trained else 0.0
    run.finish(result)
    result.elapsed = time.perf_counter() - began
    return result


INPUT_SCALE = (0.01, 10.0)  # NOTE: per-feature max(|mean|, std) outside this range draws a DataScaleWarning


def _check_scale(dataset: Dataset) -> None:
    """Warn, before the first epoch, when the inputs are far from the order-one scale the initialisation assumes."""
    if dataset.x_train.dtype.kind != "f" or not len(dataset.x_train):
        return
    size, feature = dataset.input_scale()
    if size == 0.0 or INPUT_SCALE[0] <= size <= INPUT_SCALE[1]:
        return
    warnings.warn(
        f"training inputs of {dataset.name!r}: feature {feature} has mean or spread {size:.3g}, expected values of "
        f"order 1 (between {INPUT_SCALE[0]} and {INPUT_SCALE[1]}), the scale the initialisation assumes; "
        "standardize them: datasets.load(..., standardize=True) or Dataset.standardized(), CLI --standardize",
        DataScaleWarning,
        stacklevel=3,
    )


def _defaults(name: str, lr: float | None, momentum: float | None) -> tuple[float, float]:
    """``lr`` and ``momentum`` as given, or the defaults of the method called ``name``; a method that does not
    learn says so."""
    default_lr, default_momentum = method_defaults(name)
    if name in NOT_LEARNING:
        warnings.warn(
            f"method {name!r} is the control experiment of the reproduction's T4 and barely learns (its ports "
            f"multiply activations and sensitivities of different minibatches): {NOT_LEARNING[name]}",
            DivergenceWarning,
            stacklevel=3,
        )
    return (default_lr if lr is None else lr), (default_momentum if momentum is None else momentum)


class _LossWatch:
    """Warns once when an epoch's running loss reaches ten times the run's first minibatch loss (a run that
    diverges slowly, without leaving the finite range, would otherwise finish quietly at chance accuracy)."""

    GROWTH = 10.0

    def __init__(self, method: str, lr: float, momentum: float, port: Port) -> None:
        self.method, self.lr, self.momentum, self.port = method, lr, momentum, port
        self.start: float | None = None
        self.warned = False

    def first(self, losses: list[float]) -> None:
        if self.start is None and losses and math.isfinite(losses[0]):
            self.start = losses[0]

    def check(self, epoch: int, loss: float) -> None:
        if self.warned or self.start is None or not loss > self.GROWTH * self.start:
            return
        self.warned = True
        if isinstance(self.port, HeavyBall):
            change = f"lower lr (got {self.lr}) or momentum (got {self.momentum}); CLI: --lr, --momentum"
        else:
            change = f"lower the step of the port or method ({type(self.port).__name__})"
        warnings.warn(
            f"training loss grew from {self.start:.3g} (first minibatch) to {loss:.3g} (epoch {epoch + 1}, running "
            f"mean) with method {self.method!r}: the run is unstable; {change}",
            DivergenceWarning,
            stacklevel=3,
        )


def _probe(path: Any, run: Run, stepper: Method, port: Port, x: Array, t: Array, batch: int, state: dict) -> None:
    """One minibatch on copies of the resumed state, before any work: a checkpoint whose state parses but does not
    fit the run (a tampered port or method field) is refused here as ModelFileError, not as a crash mid-run."""
    import copy

    params = {n: (W.copy(), b.copy()) for n, (W, b) in run.machine.params.items()}
    # NOTE: a substrate with state (Loihi's rounding generators and counters) is copied too: the probe leaves no trace
    substrate = run.machine.substrate if run.machine.substrate is IDEAL else copy.deepcopy(run.machine.substrate)
    machine = Machine.of(run.machine.net, params, substrate) if run.machine.net is not None else None
    if machine is None:
        return
    order = state["order"] if state["order"] is not None else np.arange(len(x))
    first = len(state["losses"]) * batch if state["order"] is not None else 0
    rows = order[first : first + batch]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copy.deepcopy(stepper).step(machine, x[rows], t[rows], copy.deepcopy(port))
    except WavetrainError:
        raise
    except Exception as err:  # noqa: BLE001 -- NOTE: whatever a tampered field breaks, said in one line
        raise ModelFileError(
            f"{path}: the checkpoint's state does not fit this run ({type(err).__name__}: {err}); expected the "
            f"state `train(..., checkpoint=PATH)` wrote"
        ) from err


def _check_port(method: str | Method, momentum: float, port: Port | None) -> None:
    """A self-stepping method would ignore train()'s port and momentum: refuse them rather than drop them."""
    if isinstance(method, str) and method in SELF_STEPPING:
        # NOTE: a CurvaturePort passed as port is used by 'curvature' (it can observe); nothing else would be
        if momentum != 0.0 or (port is not None and not (method == "curvature" and isinstance(port, CurvaturePort))):
            raise ConfigError(
                f"method {method!r} steps the parameters itself and would ignore momentum={momentum} and "
                f"port={type(port).__name__ if port is not None else None}; pass momentum=0 (CLI: --momentum 0)"
            )


def _start(net: Network, dataset: Dataset, config: TrainConfig, stepper: Method, substrate: Substrate,
           dtype: np.dtype, hardware: Any, chips: Any, checkpoint: Any, resume: Any) -> Run:  # fmt: skip
    """The plain run, or the chip run of ``hardware=`` (options one needs are refused without it)."""
    if hardware is None:
        if chips is not None:
            raise ConfigError(f"chips: Monte-Carlo chips need hardware= (a preset or a model), got chips={chips!r}")
        return PlainRun(net, dataset, substrate, dtype, config.train_metrics)
    if substrate is not IDEAL:
        raise ConfigError(f"hardware: pass either hardware= or substrate=, got both ({substrate!r})")
    return ChipRun(net, hardware, chips, config.seed, config.fidelity_every, stepper.name,
                   getattr(stepper, "schedule", config.schedule), dtype, dataset, config.train_metrics)  # fmt: skip


def _settings(config: TrainConfig, stepper: Method, port: Port, run: Run, hold: Any, dtype: np.dtype) -> dict:
    """What a checkpoint records of the run, and a resumed run must repeat."""
    return {
        "method": stepper.name, "method_type": type(stepper).__qualname__, "port_type": type(port).__qualname__,
        "epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr, "momentum": config.momentum,
        "seed": config.seed, "hold": getattr(stepper, "hold", None), "schedule": config.schedule, "dtype": dtype.name,
        "substrate": type(run.machine.substrate).__qualname__, "train_metrics": config.train_metrics,
        **({"hardware": run.model.to_dict(), "chips": run.chips, "fidelity_every": config.fidelity_every}
           if isinstance(run, ChipRun) else {}),
    }  # fmt: skip


class _Bar:
    """The epoch progress bar (tqdm), or nothing."""

    def __init__(self, bar: Any = None) -> None:
        self.bar = bar

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, result: TrainResult) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{result.loss[-1]:.4f}", test_acc=f"{result.test_accuracy[-1]:.4f}")
            self.bar.update(1)


def _progress(show: bool, epochs: int, method: str, done: int) -> _Bar:
    if not show:
        return _Bar()
    from tqdm.auto import tqdm

    return _Bar(tqdm(total=epochs, initial=done, desc=f"train ({method})", unit="epoch", leave=True))
