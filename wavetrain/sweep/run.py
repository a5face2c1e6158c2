"""Sweeps on Dask distributed: one task per (setting, seed), results appended to a Parquet table as tasks finish.

``run_sweep("sweep.yaml", "runs/x")`` validates the sweep file (:mod:`wavetrain.sweep.spec`) and every setting
against ``train()`` before any task starts, skips the tasks that already have a row in ``runs/x``
(:mod:`wavetrain.sweep.table`), and submits the rest to a Dask cluster: a ``LocalCluster`` of process workers
(its dashboard address is printed) or an existing scheduler (``scheduler="tcp://host:8786"``). The command writes
each row as its task finishes, so an interrupted sweep (a worker or the command killed, Ctrl-C, a reboot) loses
only the tasks in flight, and the same command resumes it. A task that raises is recorded with its error and does
not stop the others. The cluster and its workers are closed in ``finally``; a killed command's workers exit with it
(distributed's nannies watch their parent).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import time
import traceback
import warnings
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import pyarrow.compute as pc

from wavetrain.errors import SweepError, WavetrainError
from wavetrain.sweep.spec import HARDWARE_PREFIX, SweepSpec, Task, load_spec, tasks
from wavetrain.sweep.table import SweepTable, read_table

__all__ = ["SweepOutcome", "plan", "rerun", "run_sweep", "run_task"]


@lru_cache(maxsize=8)
def _dataset(name: str) -> Any:
    from wavetrain import datasets

    return datasets.load(name)


def _hardware(setting: dict[str, Any]) -> dict[str, Any]:
    """train()'s hardware arguments for a setting ({} on the ideal machine with one chip); chips 1: no chip axis."""
    overrides = {
        key[len(HARDWARE_PREFIX) :]: value for key, value in setting.items() if key.startswith(HARDWARE_PREFIX)
    }
    if setting["hardware"] is None and not overrides and setting["chips"] == 1:
        return {}
    try:
        from wavetrain.circuits.hardware import load_hardware
    except ImportError as err:
        raise SweepError(
            f"hardware, {HARDWARE_PREFIX}* and chips need wavetrain.circuits.hardware, which this "
            f"version of wavetrain lacks ({err})"
        ) from err
    model = load_hardware(setting["hardware"] or "ideal")
    if overrides:
        model = model.with_overrides(overrides)
    return {
        "hardware": model,
        "chips": None if setting["chips"] == 1 else setting["chips"],
        "fidelity_every": setting["fidelity_every"],
    }


def build(setting: dict[str, Any], run_seed: int, train_metrics: bool = False) -> tuple[Any, Any, dict[str, Any]]:
    """(network, data, train keyword arguments) of a setting, as ``wavetrain train --seed run_seed`` builds them."""
    from wavetrain.compiler import Network
    from wavetrain.emulator import Mpc

    data = _dataset(setting["dataset"])
    sizes = setting["layers"] or [data.n_features, 128, 128, data.n_outputs]
    loss = setting["loss"]
    if loss == "auto":
        loss = "cross_entropy" if data.n_classes else "mse"
    if setting["network"] and setting["model"]:
        raise SweepError("network and model both name the network to train; give one (the other null)")
    if setting["network"]:
        net = Network.load(setting["network"])  # NOTE: the saved weights; the seed orders the minibatches
        if setting["loss"] != "auto" and loss != net.loss:
            raise SweepError(f"loss {loss!r}: the network {setting['network']} was saved with loss {net.loss!r}")
    elif setting["model"]:
        from wavetrain.compiler.models import preset

        net = preset(setting["model"]).network(run_seed, loss=None if setting["loss"] == "auto" else loss)
    else:
        net = Network.mlp(sizes, activation=setting["activation"], loss=loss, seed=run_seed, name=f"{data.name}_mlp")
    method: Any = setting["method"]
    if setting["horizon"] is not None:
        if method != "mpc":
            raise SweepError(
                f"horizon: only the 'mpc' method has a horizon, got horizon={setting['horizon']} with method {method!r}"
            )
        method = Mpc(h=setting["horizon"])
    kwargs = {
        "method": method,
        "epochs": setting["epochs"],
        "batch_size": setting["batch_size"],
        "lr": setting["lr"],
        "momentum": setting["momentum"],
        "seed": run_seed,
        "hold": setting["hold"],
        "schedule": setting["schedule"],
        "dtype": setting["dtype"],
        "train_metrics": train_metrics,
        **_hardware(setting),
    }
    return net, data, kwargs


def plan(spec: SweepSpec) -> list[Task]:
    """Every task of the sweep, after checking each setting with train() itself (0 epochs: checks, no work)."""
    from wavetrain.emulator import train

    for setting in spec.settings:
        try:
            net, data, kwargs = build(setting, 0)
            train(net, data, **{**kwargs, "epochs": 0})
        except WavetrainError as err:
            where = {axis: setting[axis] for axis in spec.axis_names} or "base"
            raise SweepError(f"{spec.source}: setting {where}: {type(err).__name__}: {err}") from err
    return tasks(spec)


def run_task(task: Task) -> dict[str, Any]:
    """Train one (setting, seed) and return its row; an exception becomes a row with status 'failed' and the error."""
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    row: dict[str, Any] = {
        "task_id": task.task_id,
        "seed": task.seed,
        "run_seed": task.run_seed,
        **task.axes,
        "setting": json.dumps(task.setting, sort_keys=True),
    }
    try:
        from wavetrain.emulator import train

        net, data, kwargs = build(task.setting, task.run_seed, task.train_metrics)
        result = train(net, data, **kwargs)
        row.update(status="ok", **_metrics(result))
    except Exception as err:  # noqa: BLE001  (recorded in the table; the other tasks go on)
        row.update(
            status="failed",
            error=f"{type(err).__name__}: {err}",
            traceback="".join(traceback.format_exception(err)[-3:]),
        )
    row.update(
        task_seconds=time.perf_counter() - clock,
        started=started.isoformat(timespec="seconds"),
        host=socket.gethostname(),
        pid=os.getpid(),
        versions=json.dumps(_versions()),
    )
    return row


def _metrics(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"train_seconds": result.wall_time, "samples_per_s": result.samples_per_s}
    for name, series in (
        ("test_accuracy", result.test_accuracy),
        ("train_accuracy", result.train_accuracy),
        ("train_loss", result.loss),
        ("test_loss", result.test_loss),
    ):
        out[name] = series[-1] if series else None
        out[f"{name}_per_epoch"] = list(series)
    fidelity = getattr(result, "fidelity", None)
    if fidelity is not None:  # emulated hardware: the port readout against the exact gradient, per epoch
        for name, per_epoch, per_layer in (
            ("fidelity_cosine", fidelity.cosine, fidelity.layer_cosine),
            ("fidelity_relative_error", fidelity.relative_error, fidelity.layer_relative_error),
        ):
            out[name] = per_epoch[-1] if per_epoch else None
            out[f"{name}_per_epoch"] = list(per_epoch)
            out[f"{name}_per_layer"] = list(per_layer[-1]) if per_layer else None
    if getattr(result, "chips", None):  # the final epoch's test accuracy of each chip instance
        out["chip_accuracy"] = list(result.chip_test_accuracy[-1])
    return out


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    import numpy

    import wavetrain

    return {"wavetrain": wavetrain.__version__, "python": platform.python_version(), "numpy": numpy.__version__}


@dataclass
class SweepOutcome:
    """What one run of a sweep did: tasks in the sweep, already recorded before, recorded now, failed, lost."""

    out: Path
    total: int
    skipped: int
    recorded: int = 0
    failed: int = 0
    lost: int = 0
    dashboard: str | None = None

    @property
    def missing(self) -> int:
        return self.total - self.skipped - self.recorded


@contextmanager
def connect(scheduler: str | None, workers: int | None, echo: Callable[[str], None]) -> Iterator[Any]:
    """A Dask client on an existing scheduler, or on a LocalCluster of process workers closed on the way out."""
    from distributed import Client, LocalCluster

    cluster = client = None
    # NOTE: distributed logs tracebacks when a scheduler or worker goes away; the sweep reports lost tasks itself
    handlers = [h for name in ("distributed", "distributed.client") for h in logging.getLogger(name).handlers]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL)
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as err:
                raise SweepError(f"--scheduler {scheduler}: cannot connect: {err}") from err
            count = len(client.scheduler_info()["workers"])
            echo(
                f"Dask scheduler {scheduler}: {count} worker(s){'' if count else ' (tasks wait for one to join)'}; "
                f"dashboard: {client.dashboard_link}"
            )
        else:
            with warnings.catch_warnings():
                # NOTE: another sweep may hold port 8787; distributed then serves the dashboard on a free port
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                cluster = LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:8787",
                    silence_logs=logging.CRITICAL,
                )
            client = Client(cluster)
            echo(f"Dask LocalCluster: {len(cluster.workers)} worker process(es); dashboard: {cluster.dashboard_link}")
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        for handler, level in zip(handlers, levels):
            handler.setLevel(level)


def run_sweep(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Run the tasks of the sweep file ``path`` that ``out`` has no row for; return what was recorded."""
    if scheduler is not None and workers is not None:
        raise SweepError(
            f"--workers {workers}: only for the LocalCluster; an existing scheduler ({scheduler}) has its own workers"
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"--workers: expected an integer >= 1, got {workers!r}")
    spec = load_spec(path)
    every = plan(spec)
    table = SweepTable(out, spec, len(every))
    finished = table.finished(retry_failed)
    for aside, problem in table.set_aside:
        echo(f"result part {aside.name} {problem}: set aside as {aside}; its task runs again")
    todo = [task for task in every if task.task_id not in finished]
    outcome = SweepOutcome(Path(out), len(every), len(every) - len(todo))
    echo(
        f"sweep {spec.name!r} (id {spec.sweep_id}): {outcome.total} tasks, {outcome.skipped} already in {out}, "
        f"{len(todo)} to run"
    )
    if not todo:
        return outcome
    from distributed import as_completed
    from tqdm.auto import tqdm

    with connect(scheduler, workers, echo) as client:
        outcome.dashboard = client.dashboard_link
        futures = [client.submit(run_task, task, key=f"wavetrain-sweep-{task.task_id}", pure=False) for task in todo]
        with tqdm(
            total=outcome.total, initial=outcome.skipped, unit="task", desc="sweep", disable=not progress, smoothing=0.1
        ) as bar:
            seen = 0
            try:
                for future in as_completed(futures):
                    seen += 1
                    _record(future, table, outcome, bar)
            except _LOST_CONNECTION as err:
                # NOTE: the scheduler went away while results were being gathered: what is not written is lost
                outcome.lost += len(futures) - seen
                bar.write(f"connection to the scheduler lost ({type(err).__name__}: {err})")
        if outcome.lost:
            gone = "" if client.status == "running" else f" (lost the scheduler {client.scheduler.address})"
            echo(f"{outcome.lost} task(s) not recorded{gone}; rerun the same command to run them")
    return outcome


# NOTE: how a lost scheduler surfaces varies with timing (distributed's CommClosedError, ConnectionResetError, a
# timeout, or FutureCancelledError "scheduler-connection-lost" when the client cancels its futures between our status
# check and result()); CommClosedError and ConnectionResetError are OSErrors, FutureCancelledError a CancelledError
_LOST_CONNECTION = (OSError, TimeoutError, CancelledError)


def _record(future: Any, table: SweepTable, outcome: SweepOutcome, bar: Any) -> None:
    if future.status != "finished":  # the task itself never raises: its worker or the scheduler was lost
        outcome.lost += 1
        if outcome.lost == 1:
            reason = "cancelled" if future.status == "cancelled" else repr(future.exception())
            bar.write(f"task {future.key}: not recorded ({reason}); the next lost tasks are only counted")
        future.release()
        return
    try:
        row = future.result()
    except _LOST_CONNECTION as err:  # NOTE: finished on a worker, but the scheduler died before it handed the row over
        outcome.lost += 1
        if outcome.lost == 1:
            bar.write(
                f"task {future.key}: not recorded ({type(err).__name__}: {err}); the next lost tasks are only counted"
            )
        return
    future.release()
    table.write(row)
    outcome.recorded += 1
    bar.update(1)
    if row["status"] != "ok":
        outcome.failed += 1
        bar.write(f"task {row['task_id']} (seed {row['seed']}) failed: {row['error']}")


def rerun(out: str | os.PathLike[str], task_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rerun one recorded task alone, in this process, from its row: (the stored row, the new row)."""
    from wavetrain.sweep.spec import task_digest
    from wavetrain.sweep.table import read_manifest

    root_seed = read_manifest(out)["spec"]["root_seed"]
    stored = read_table(out).filter(pc.equal(pc.field("task_id"), task_id)).to_pylist()
    if not stored:
        raise SweepError(
            f"task {task_id!r}: not in {out}; expected one of its task_id values "
            f"(`wavetrain sweep tasks {out}` lists them)"
        )
    row = stored[0]
    setting = json.loads(row["setting"])
    if task_digest(setting, row["seed"], root_seed) != task_id:
        raise SweepError(f"task {task_id!r}: its stored setting and seed hash to another id; the row was altered")
    held = read_manifest(out)
    axes = {axis: setting[axis] for axis in held["axes"]}
    task = Task(task_id, setting, axes, row["seed"], row["run_seed"], "train_accuracy" in held["spec"]["metrics"])
    return row, run_task(task)
