"""Run the wave machine on Lava: build the processes of a network, run them, always stop the runtime.

:func:`relax_on_lava` (frozen weights, tick by tick) and :func:`train_on_lava` (dyadic: 2L timesteps then the port
update per minibatch; wave: the ports move every timestep) build one InputClamp, one WaveLayer per layer and a
LossLoad, connect them neighbour to neighbour and run them in Lava's CPU simulator with ``Loihi2SimCfg``
(``select_tag`` "floating_pt" or "fixed_pt").

The runtime is always stopped: after a run, on an error in a process (raised here as SimulationError with the
process's traceback), on a timeout, on Ctrl-C. If a graceful stop does not finish within seconds, every worker Lava
started is killed. Workers are also forked with the parent-death signal set (Linux prctl), so not even a SIGKILL of
wavetrain leaves a Lava worker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from typing import Any, Iterator, Sequence

import numpy as np

from wavetrain.compiler.network import Network
from wavetrain.emulator.loihi import LoihiFixedPoint, quantize
from wavetrain.emulator.relax import History, Relaxation, check_courant, check_ticks
from wavetrain.errors import ConfigError, SimulationError
from wavetrain.targets.lava._compat import require_lava

TIMEOUT = 600.0  # [s] default limit of one Lava run
STOP_GRACE = 10.0  # [s] a graceful runtime stop gets this long before its workers are killed
_GUARD = {"active": False, "installed": False}


def _die_with_parent() -> None:
    # NOTE: runs in every child forked while a Lava session is open: SIGKILL it when wavetrain dies (PR_SET_PDEATHSIG)
    if _GUARD["active"] and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


@contextlib.contextmanager
def children_die_with_parent() -> Iterator[set[int]]:
    """While open, children forked by this process get the parent-death signal; yields the pids alive before."""
    if not _GUARD["installed"]:
        os.register_at_fork(after_in_child=_die_with_parent)
        _GUARD["installed"] = True
    before = {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    _GUARD["active"] = True
    try:
        yield before
    finally:
        _GUARD["active"] = False


def _kill_new_children(before: set[int]) -> None:
    for child in multiprocessing.active_children():
        if child.pid not in before:
            child.kill()
            # NOTE: the base join: Lava's SystemProcess.join takes no timeout
            multiprocessing.Process.join(child, 2.0)


def _errors_of(runtime: Any) -> str:
    """The tracebacks the crashed ProcessModels sent back (Lava only logs them)."""
    texts = []
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    for actor in getattr(infrastructure, "actors", []):
        try:
            exception = actor.exception
        except (OSError, ValueError, EOFError):
            continue
        if exception:
            texts.append(str(exception[1]).strip().splitlines()[-1])
    return "; ".join(texts)


def _crashed(runtime: Any) -> str:
    """The error of a worker that ended during a run ('' while all are alive)."""
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    actors = list(getattr(infrastructure, "actors", []))
    if all(actor.is_alive() for actor in actors):
        return ""
    return _errors_of(runtime) or "a Lava worker exited during the run"


class Session:
    """One Lava network of processes (clamp, layers, load) and its runtime, run in chunks of timesteps."""

    # NOTE: a plain class, not a dataclass: Lava's compiler executes this module outside sys.modules

    def __init__(self, clamp: Any, layers: list[Any], load: Any, tag: str, timeout: float = TIMEOUT) -> None:
        self.clamp, self.layers, self.load, self.tag, self.timeout = clamp, layers, load, tag, timeout
        self.started = False

    def run(self, steps: int) -> None:
        """Run ``steps`` timesteps; SimulationError if a process fails or the run outlasts the timeout."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        failure: list[BaseException] = []

        def wait() -> None:
            try:
                self.clamp.wait()
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                failure.append(err)

        try:
            self.clamp.run(
                condition=RunSteps(num_steps=steps, blocking=False), run_cfg=Loihi2SimCfg(select_tag=self.tag)
            )
        except Exception as err:
            raise SimulationError(f"target 'lava' ({self.tag}): the network did not start: {err}") from err
        self.started = True
        waiter = threading.Thread(target=wait, name="lava-wait", daemon=True)
        waiter.start()
        deadline = time.monotonic() + self.timeout
        while waiter.is_alive():
            waiter.join(0.05)
            # NOTE: a ProcessModel that raises ends its worker while its neighbours wait on it forever
            crashed = _crashed(self.clamp.runtime)
            if crashed:
                raise SimulationError(f"target 'lava' ({self.tag}): a process failed: {crashed}")
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"target 'lava' ({self.tag}): {steps} timesteps did not finish within "
                    f"{self.timeout:g} s; the runtime was stopped"
                )
        if failure:
            detail = _errors_of(self.clamp.runtime) or str(failure[0])
            raise SimulationError(f"target 'lava' ({self.tag}): a process failed: {detail}")

    def stop(self, graceful: bool) -> None:
        """Stop the runtime (gracefully when it is healthy, within STOP_GRACE seconds)."""
        runtime = self.clamp.runtime if self.started else None
        if runtime is None:
            return
        done = threading.Event()

        def stop() -> None:
            with contextlib.suppress(Exception):
                runtime.stop()
            done.set()

        if graceful:
            stopper = threading.Thread(target=stop, name="lava-stop", daemon=True)
            stopper.start()
            stopper.join(STOP_GRACE)
        if not done.is_set():
            for actor in getattr(runtime._messaging_infrastructure, "actors", []):
                with contextlib.suppress(Exception):
                    actor.kill()
            with contextlib.suppress(Exception):
                runtime._messaging_infrastructure.smm.shutdown()
            with contextlib.suppress(Exception):
                runtime._watchdog_manager.stop()


@contextlib.contextmanager
def session(clamp: Any, layers: list[Any], load: Any, tag: str, timeout: float) -> Iterator[Session]:
    """A Session whose runtime is stopped and whose workers are gone when the block exits, however it exits."""
    with children_die_with_parent() as before:
        run = Session(clamp, layers, load, tag, timeout)
        healthy = False
        try:
            yield run
            healthy = True
        finally:
            try:
                run.stop(graceful=healthy)
            finally:
                _kill_new_children(before)


def _tag(fixed: LoihiFixedPoint | None) -> str:
    return "fixed_pt" if fixed is not None else "floating_pt"


def build(
    net: Network,
    x: np.ndarray,
    t: np.ndarray,
    mode: str,
    window: int,
    batch: int,
    windows: int = 1,
    shuffle: bool = False,
    seed: int = 0,
    ticks: int = 0,
    history: bool = False,
    fixed: LoihiFixedPoint | None = None,
    lr: float = 0.0,
    momentum: float = 0.0,
    courant: float = 1.0,
    outbox: str | None = None,
) -> tuple[Any, list[Any], Any]:
    """The processes of ``net`` for the rows x (n, in), t (n, out): ``windows`` minibatches of ``batch`` rows per
    epoch (shuffled per epoch as emulator.train does, or in order), each held ``window`` timesteps; connected."""
    require_lava()
    from wavetrain.targets.lava.procs.process import InputClamp, LossLoad, WaveLayer

    common = {
        "mode": mode,
        "window": int(window),
        "batch": int(batch),
        "windows": int(windows),
        "rows": len(x),
        "shuffle": bool(shuffle),
        "seed": int(seed),
        "depth": net.depth,
        "acts": [layer.activation for layer in net.layers],
        "loss": net.loss,
        "history": bool(history),
        "lr": float(lr),
        "momentum": float(momentum),
        "courant": float(courant),
        "outbox": outbox,
        "fixed": None if fixed is None else _settings(fixed),
    }
    if fixed is not None:
        x = quantize(x, fixed.x_exp, fixed.message_bits, "nearest")
    clamp = InputClamp(x=x, name="clamp", **common)
    layers = []
    for l, layer in enumerate(net.layers):
        W, b = layer.weight.astype(np.float64), layer.bias.astype(np.float64)
        if fixed is not None:
            W = quantize(W, fixed.nth(l).w, fixed.weight_bits, "nearest")
            b = quantize(b, fixed.nth(l).b, fixed.bias_bits, "nearest")
        layers.append(WaveLayer(weight=W, bias=b, ticks=ticks, index=l, name=f"layer{l + 1}", **common))
    load = LossLoad(t=t, name="loss", **common)
    clamp.s_out.connect(layers[0].s_in)
    layers[0].lam_out.connect(clamp.lam_in)
    for left, right in zip(layers[:-1], layers[1:]):
        left.s_out.connect(right.s_in)
        right.lam_out.connect(left.lam_in)
    layers[-1].s_out.connect(load.s_in)
    load.lam_out.connect(layers[-1].lam_in)
    return clamp, layers, load


def outbox(proc: Any) -> dict[str, np.ndarray]:
    """What a process saved at the end of the last epoch (see procs/process.py: outbox)."""
    folder = proc.proc_params["outbox"]
    path = os.path.join(folder, f"{proc.name}.npz")
    try:
        with np.load(path) as saved:
            return {key: saved[key] for key in saved.files}
    except OSError as err:
        raise SimulationError(f"target 'lava': process {proc.name!r} left no results in {folder}: {err}") from err


def _settings(fixed: LoihiFixedPoint) -> dict[str, Any]:
    settings = fixed.describe()
    settings.pop("name")
    return settings


def read_params(layers: Sequence[Any], fixed: LoihiFixedPoint | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every layer's (W, b) as floats (fixed point: mantissas times 2^exponent), from the outbox."""
    out = []
    for l, proc in enumerate(layers):
        saved = outbox(proc)
        W, b = saved["weight"].astype(np.float64), saved["bias"].astype(np.float64)
        if fixed is not None:
            W, b = np.ldexp(W, fixed.nth(l).w), np.ldexp(b, fixed.nth(l).b)
        out.append((W, b))
    return out


def relax_on_lava(
    net: Network,
    x: Any,
    y: Any,
    ticks: int | None = None,
    courant: float = 1.0,
    history: bool = False,
    fixed: LoihiFixedPoint | None = None,
    timeout: float = TIMEOUT,
) -> Relaxation:
    """emulator.relax on Lava: ``ticks`` timesteps from zero waves with frozen weights, same Relaxation type.

    With ``fixed`` (a LoihiFixedPoint) the fixed_pt models run, and every value comes back as mantissa * 2^exponent.
    """
    nu = check_courant(courant)
    if nu > 1.0:
        raise ConfigError(f"target 'lava': courant must be <= 1 (one timestep carries a wave one layer), got {courant}")
    if fixed is not None and nu != 1.0:
        raise ConfigError(f"target 'lava' fixed point: courant must be 1 (integer transport), got {courant}")
    ticks = check_ticks(ticks, net.depth, nu)
    if ticks < 1:
        raise ConfigError(f"target 'lava': ticks must be >= 1, got {ticks}")
    x = net.check_input(x).astype(np.float64)
    t = net.targets(y, len(x)).astype(np.float64)
    check_network(net, len(x), fixed)
    with tempfile.TemporaryDirectory(prefix="wavetrain-lava-") as box:
        clamp, layers, load = build(
            net, x, t, "relax", ticks, len(x), ticks=ticks, history=history, fixed=fixed, courant=nu, outbox=box
        )
        with session(clamp, layers, load, _tag(fixed), timeout) as run:
            run.run(ticks)
            result = _relaxation(layers, ticks, nu, history, fixed)
    result.nodes, result.params, result.names = net.ids, net.graph.parametric, net.param_names
    return result


def _relaxation(layers: list[Any], ticks: int, nu: float, history: bool, fixed: LoihiFixedPoint | None) -> Relaxation:
    def scale(v: Any, exp: int) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        return v if fixed is None else np.ldexp(v, exp)

    def exps(l: int) -> tuple[int, int, int, int]:
        if fixed is None:
            return 0, 0, 0, 0
        f = fixed.nth(l)
        return f.s, f.lam, f.g, f.gb

    saved = [outbox(p) for p in layers]
    s = [scale(v["s"], exps(l)[0]) for l, v in enumerate(saved)]
    lam = [scale(v["lam"], exps(l)[1]) for l, v in enumerate(saved)]
    grads = [(scale(v["grad_w"], exps(l)[2]), scale(v["grad_b"], exps(l)[3])) for l, v in enumerate(saved)]
    log = None
    if history:
        log = History()
        parts = [
            (scale(v["hist_s"], e[0]), scale(v["hist_lam"], e[1]), scale(v["hist_gw"], e[2]), scale(v["hist_gb"], e[3]))
            for v, e in ((v, exps(l)) for l, v in enumerate(saved))
        ]
        for k in range(ticks + 1):
            log.s.append([part[0][k] for part in parts])
            log.lam.append([part[1][k] for part in parts])
            log.grads.append([(part[2][k], part[3][k]) for part in parts])
    return Relaxation(grads, s, lam, ticks, nu, log, target="lava")


def check_network(net: Network, batch: int, fixed: LoihiFixedPoint | None) -> None:
    """ConfigError when the network is not a chain of dense layers, or the fixed-point formats do not fit it (layer
    count, exact integer sums)."""
    if not net.is_chain:
        raise ConfigError(
            f"target 'lava' runs chains of dense layers (one process per layer), got {net.describe()}; graphs go to "
            f"Lava's library processes (the loihi2 target)"
        )
    if fixed is None:
        return
    if fixed.depth != net.depth:
        raise ConfigError(
            f"target 'lava' fixed point: the substrate has exponents for {fixed.depth} layers, "
            f"expected {net.depth} (calibrate it on this network)"
        )
    fixed.check_exact(net.graph, batch)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
