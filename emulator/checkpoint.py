"""Training checkpoints: the whole state of a :func:`~wavetrain.emulator.train` run, so a run can be resumed.

A checkpoint is a wavetrain network file (:meth:`Network.save`'s npz + json, so ``Network.load`` and
``wavetrain compile`` read it as the network trained so far) with two more kinds of member, nothing pickled:

- ``checkpoint.json``: ``{"format": "wavetrain.checkpoint", "version": 1, "versions": {...}, "settings": {...},
  "data": sha256 of the training arrays, "epoch": completed epochs, "position": minibatches done in the next epoch,
  "wall_time": float, "state": TREE}``;
- ``state/N.npy``: the arrays the TREE refers to.

TREE (:mod:`wavetrain.emulator.state_tree`) encodes the live state: the training parameters, the minibatch RNG (its
bit generator's state), the current epoch's minibatch order and losses when the run stopped mid-epoch, the history
(loss and accuracy per epoch), and the port and method objects field by field (velocities, wave state, delay lines,
heads, their own RNGs), so a resumed run continues bit for bit.

:class:`Session` is what ``train`` uses: it restores a checkpoint, keeps the last finite state in memory (divergence
restores it), writes checkpoints every N epochs, and turns SIGINT / SIGTERM / SIGHUP into a checkpoint written at the
next minibatch boundary followed by :class:`~wavetrain.errors.TrainingInterrupted`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import signal
import sys
import threading
import zipfile
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from wavetrain.compiler.network import Network
from wavetrain.compiler.storage import (
    NpyError,
    atomic_write,
    check_writable,
    read_json_member,
    read_npy,
    writer_lock,
)
from wavetrain.emulator.state_tree import assign, decode, encode, restore_into
from wavetrain.errors import ConfigError, ModelFileError, TrainingInterrupted

FORMAT_NAME = "wavetrain.checkpoint"
FORMAT_VERSION = 2  # 2: parameters, velocities and the wave state keyed by node id (1: lists by layer)
STATE_LIMIT = 64 * 2**20  # bytes of checkpoint.json read at most
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


# --- the checkpoint file --------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    try:
        from importlib.metadata import version

        wavetrain_version = version("wavetrain")
    except Exception:  # noqa: BLE001 -- NOTE: an uninstalled checkout still checkpoints
        wavetrain_version = "unknown"
    return {"wavetrain": wavetrain_version, "numpy": np.__version__, "python": sys.version.split()[0]}


def fingerprint(*arrays: np.ndarray) -> str:
    """sha256 over the training arrays' dtypes, shapes and bytes: a resume on other data is refused."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def write(path: str | os.PathLike[str], net: Network, header: dict[str, Any], state: Any) -> Path:
    """Write a checkpoint atomically: ``net``'s network members, ``checkpoint.json`` and the state arrays."""
    arrays: dict[str, np.ndarray] = {}
    body = dict(header, format=FORMAT_NAME, version=FORMAT_VERSION, versions=versions(), state=encode(state, arrays))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in net.archive_members().items():
            archive.writestr(name, data)
        archive.writestr("checkpoint.json", json.dumps(body, allow_nan=False))
        for key, array in arrays.items():
            member = io.BytesIO()
            # NOTE: a Fortran-ordered buffer stays Fortran-ordered (np.save records it): BLAS sums in layout order
            np.save(member, array, allow_pickle=False)
            archive.writestr(f"{key}.npy", member.getvalue())
    return atomic_write(path, buffer.getvalue())


def read(path: str | os.PathLike[str]) -> tuple[Network, dict[str, Any], dict[str, np.ndarray]]:
    """(network, checkpoint.json, state arrays) of a checkpoint file; every member is checked before it is read."""
    path = Path(path)
    net = Network.load(path)  # NOTE: checks the file, meta.json and the weights (ModelFileError)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "checkpoint.json" not in names:
            raise ModelFileError(
                f"{path}: a network file but not a training checkpoint (no checkpoint.json); "
                f"train(..., checkpoint=PATH) writes checkpoints"
            )
        header = read_json_member(archive, path, "checkpoint.json", STATE_LIMIT)
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            got = header.get("format") if isinstance(header, dict) else type(header).__name__
            raise ModelFileError(f"{path}: checkpoint format is {got!r}, expected {FORMAT_NAME!r}")
        version = header.get("version")
        if version == 1:
            raise ModelFileError(
                f"{path}: checkpoint version 1 was written by wavetrain before the graph redesign (state kept per "
                f"layer index); resume it with that wavetrain, or start the run anew (the network in it loads with "
                f"Network.load)"
            )
        if not isinstance(version, int) or isinstance(version, bool) or not 2 <= version <= FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: checkpoint version {version!r} is not supported, expected 2..{FORMAT_VERSION}"
            )
        for key, kind in (("epoch", int), ("position", int), ("settings", dict), ("data", str), ("wall_time", float)):
            if not isinstance(header.get(key), kind) or isinstance(header.get(key), bool):
                raise ModelFileError(
                    f"{path}: checkpoint.json field {key!r} is {header.get(key)!r}, expected {kind.__name__}"
                )
        for key in ("epoch", "position", "wall_time"):  # NOTE: an epoch of -1 would replay history entries
            if not 0 <= header[key] < math.inf:
                raise ModelFileError(f"{path}: checkpoint.json field {key!r} is {header[key]!r}, expected >= 0")
        arrays = {}
        for name in sorted(names):
            if name.startswith("state/") and name.endswith(".npy"):
                try:
                    arrays[name[: -len(".npy")]] = read_npy(archive, name, f"{path}: {name}")
                except NpyError as err:
                    raise ModelFileError(str(err)) from err
                except (zipfile.BadZipFile, OSError, EOFError) as err:
                    raise ModelFileError(f"{path}: {name} is corrupt: {err}") from err
    return net, header, arrays


# --- the session train() drives -------------------------------------------------------------------------------------


STATE_KEYS = ("params", "rng", "port", "method", "order", "losses", "history")
HISTORY = ("loss", "train_accuracy", "test_loss", "test_accuracy")


def live_state(m: Any, rng: np.random.Generator, port: Any, method: Any, history: dict[str, list]) -> dict[str, Any]:
    """The live training state a session saves and restores: the machine's parameters (and its substrate's own
    state, unless ideal), the minibatch RNG, the port and method objects, this epoch's order and losses, the history.
    train() owns the objects; the session only reads them to save and writes them back to restore."""
    state: dict[str, Any] = {"params": m.params, "rng": rng, "port": port, "method": method, "order": None,
                             "losses": [], "history": history}  # fmt: skip
    if not m.substrate.ideal:
        state["substrate"] = m.substrate
    return state


def _set_params(live: Any, saved: Any) -> None:
    for n, (W, b) in live.items():
        sW, sb = saved[n]
        W[...] = sW
        b[...] = sb


class Session:
    """Checkpointing, resuming, divergence rollback and signal handling for one ``train`` call.

    ``state`` is the live training state (a dict: params, rng, result history, port, method, order, losses); train()
    owns the objects, the session only reads them to save and writes them back to restore.
    """

    def __init__(self, path: str | os.PathLike[str] | None, every: int, settings: dict[str, Any], data: str) -> None:
        self.path = None if path is None else check_writable(path, "checkpoint")
        self.every = every
        self.settings = settings
        self.data = data
        self.pending: int | None = None  # the signal number received, handled at the next minibatch boundary
        self.last_finite: tuple[Any, dict[str, np.ndarray]] | None = None

    def resume(self, path: str | os.PathLike[str], net: Network, state: dict[str, Any]) -> tuple[int, float]:
        """Load checkpoint ``path`` into the live state (arrays in place, objects field by field) after checking
        that it continues this run; returns (completed epochs, wall time). A run stopped mid-epoch carries that
        epoch's minibatch order and the losses so far in the state."""
        path = Path(path)
        saved_net, header, arrays = read(path)
        self.check_resume(header, net, saved_net, path)
        tree = header["state"]
        fields = tree.get("$dict") if isinstance(tree, dict) else None
        if not isinstance(fields, dict):
            raise ModelFileError(f"{path}: checkpoint.json 'state' is not a training state")
        missing = sorted(set(STATE_KEYS) - set(fields))
        if missing:
            raise ModelFileError(f"{path}: checkpoint state lacks {missing}")
        for name, array in arrays.items():  # NOTE: a checkpoint is written only from a finite state
            if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
                index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
                raise ModelFileError(
                    f"{path}: {name}.npy holds {array[index]} at {index}, expected finite numbers (a checkpoint is "
                    f"written from a finite state only)"
                )
        try:
            saved = {key: decode(fields[key], arrays) for key in STATE_KEYS if key not in ("port", "method")}
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as err:
            raise ModelFileError(f"{path}: checkpoint state is malformed: {type(err).__name__}: {err}") from err
        self.check_history(saved, header, path)
        shapes = {n: (W.shape, b.shape) for n, (W, b) in state["params"].items()}
        params = saved["params"]
        if (
            not isinstance(params, dict)
            or set(params) != set(shapes)
            or not all(_pair_fits(params[n], shapes[n]) for n in shapes)
        ):
            raise ModelFileError(f"{path}: checkpoint parameters do not match the network's shapes {shapes}")
        order, losses = saved["order"], saved["losses"]
        if order is not None and not (
            isinstance(order, np.ndarray)
            and order.ndim == 1
            and order.dtype.kind in "iu"
            and isinstance(losses, list)
            and header["position"] == len(losses)
            and len(losses) * self.settings["batch_size"] < len(order)
            and np.array_equal(np.sort(order), np.arange(len(order)))
        ):
            raise ModelFileError(f"{path}: checkpoint stopped mid-epoch but holds no usable minibatch order")
        if order is None and header["position"]:
            raise ModelFileError(f"{path}: checkpoint stopped mid-epoch but holds no minibatch order")
        try:
            restore_into(state["port"], fields["port"], arrays, "port")
            restore_into(state["method"], fields["method"], arrays, "method")
            _check_per_node(state["port"], shapes, "port", path)
            if "substrate" in state:  # NOTE: a substrate's own state (counters, a seeded generator, devices)
                if "substrate" not in fields:
                    raise ConfigError(
                        f"resume {path}: the run has a {type(state['substrate']).__qualname__} substrate, "
                        f"expected the ideal one as in the checkpoint"
                    )
                restore_into(state["substrate"], fields["substrate"], arrays, "substrate")
            if "chips" in state:  # NOTE: emulated analog chips (train's hardware=): their devices, lines, generator
                if "chips" not in fields:
                    raise ConfigError(f"resume {path}: the run trains on emulated chips (hardware=), expected a "
                                      f"checkpoint with their state; this one has none")  # fmt: skip
                restore_into(state["chips"], fields["chips"], arrays, "chips")
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as err:
            raise ModelFileError(f"{path}: checkpoint state is malformed: {type(err).__name__}: {err}") from err
        if not isinstance(saved["rng"], np.random.Generator):
            got = type(saved["rng"]).__name__
            raise ModelFileError(f"{path}: checkpoint state 'rng' is {got}, expected a numpy Generator")
        _set_params(state["params"], params)
        state["rng"].bit_generator.state = saved["rng"].bit_generator.state
        for key in HISTORY:
            state["history"][key][:] = saved["history"][key]
        state["order"], state["losses"] = order, losses
        return header["epoch"], header["wall_time"]

    def check_history(self, saved: dict[str, Any], header: dict[str, Any], path: Path) -> None:
        """The history holds one entry per completed epoch (train accuracy only when the run records it), losses
        finite, accuracies in [0, 1] (NaN for targets that are not labels); this epoch's losses one per minibatch."""
        history, epoch = saved["history"], header["epoch"]
        if not isinstance(history, dict) or sorted(history) != sorted(HISTORY):
            raise ModelFileError(f"{path}: checkpoint history is not {{{', '.join(HISTORY)}}}")
        for key in HISTORY:
            values = history[key]
            wanted = epoch if key != "train_accuracy" or self.settings.get("train_metrics") else 0
            if not isinstance(values, list) or len(values) != wanted:
                count = len(values) if isinstance(values, list) else type(values).__name__
                raise ModelFileError(
                    f"{path}: checkpoint history {key!r} has {count} entries, expected {wanted} (one per epoch done)"
                )
            for value in values:
                accuracy = key.endswith("accuracy")
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or (not math.isfinite(value) and not (accuracy and math.isnan(value)))
                    or (accuracy and not math.isnan(value) and not 0 <= value <= 1)
                ):
                    bound = "a number in [0, 1] or NaN" if accuracy else "a finite number"
                    raise ModelFileError(f"{path}: checkpoint history {key!r} holds {value!r}, expected {bound}")
        losses = saved["losses"]
        if not isinstance(losses, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in losses
        ):
            raise ModelFileError(f"{path}: checkpoint 'losses' is not a list of finite numbers")

    def start(self, resume: str | os.PathLike[str] | None, net: Network, state: dict[str, Any], result: Any) -> int:
        """Resume from ``resume`` (if given) into the live state and ``result``'s wall time, keep the first finite
        snapshot; returns the number of epochs already done."""
        done = 0
        if resume is not None:
            done, result.wall_time = self.resume(resume, net, state)
        self.snapshot(state)
        return done

    def epoch_order(self, state: dict[str, Any], count: int) -> tuple[np.ndarray, list[float]]:
        """This epoch's minibatch order and its losses so far: a fresh permutation from the run's RNG, unless a run
        resumed mid-epoch continues the order it was drawing from."""
        if state["order"] is None:
            state["order"], state["losses"] = state["rng"].permutation(count), []
        return state["order"], state["losses"]

    def end_epoch(self, net: Network, state: dict[str, Any], done: int, epochs: int, wall_time: float) -> None:
        """Close an epoch: forget its order, keep the finite snapshot, write the checkpoint when it is due."""
        state["order"], state["losses"] = None, []
        self.snapshot(state)
        if self.due(done, epochs):
            self.save(net, state, done, 0, wall_time)

    def check_finite(self, state: dict[str, Any], epoch: int, lr: float) -> None:
        """After an epoch: if a loss or a parameter is not finite, restore the last finite state and raise."""
        losses = state["losses"]
        bad = [i for i, value in enumerate(losses) if not np.isfinite(value)]
        if not bad and all(bool(np.isfinite(W).all() and np.isfinite(b).all()) for W, b in state["params"].values()):
            return
        what = f"minibatch {bad[0]} has loss {losses[bad[0]]}" if bad else "a parameter left the finite range"
        saved = self.rollback()
        assert saved is not None  # NOTE: start() keeps the first snapshot before any step
        _set_params(state["params"], saved["params"])
        for key in ("port", "method"):
            assign(state[key], saved[key])
        raise ConfigError(
            f"training diverged in epoch {epoch + 1}: {what}, expected a finite number; lower lr (got {lr}). The "
            f"network was restored to its last finite state (before epoch {epoch + 1}), so it can still be saved"
        )

    # NOTE: settings that may change on resume: the number of epochs (to extend a run) and where to checkpoint
    MUTABLE = ("epochs",)

    def check_resume(self, header: dict[str, Any], net: Network, checkpoint_net: Network, path: Path) -> None:
        saved = header["settings"]
        # NOTE: the hardware first: a run on other chips (or none) is named as such, not by a setting that follows
        for key in sorted(set(saved) | set(self.settings), key=lambda k: (k != "hardware", k)):
            if key in self.MUTABLE:
                continue
            if saved.get(key) != self.settings.get(key):
                raise ConfigError(
                    f"resume {path}: {key} is {self.settings.get(key)!r}, expected {saved.get(key)!r} as in the "
                    f"checkpoint (a resumed run must use the settings it started with)"
                )
        if header["data"] != self.data:
            raise ConfigError(f"resume {path}: the training data differ from the checkpoint's (sha256 mismatch)")
        if net.graph.to_dict() != checkpoint_net.graph.to_dict() or net.loss != checkpoint_net.loss:
            raise ConfigError(
                f"resume {path}: the network is {net.describe()} ({net.loss}), expected {checkpoint_net.describe()} "
                f"({checkpoint_net.loss}) with the same graph and activations as in the checkpoint"
            )
        if header["epoch"] > self.settings["epochs"] or (
            header["epoch"] == self.settings["epochs"] and header["position"] > 0
        ):
            raise ConfigError(
                f"resume {path}: epochs is {self.settings['epochs']}, expected at least the {header['epoch']} "
                f"epochs the checkpoint has done"
            )

    def snapshot(self, state: dict[str, Any]) -> None:
        """Keep the current (finite) state in memory, for :meth:`rollback`.

        With a checkpoint path the state must be savable: the first snapshot, before any training, says so if not.
        """
        arrays: dict[str, np.ndarray] = {}
        self.last_finite = (encode(state, arrays, strict=self.path is not None and self.last_finite is None), arrays)

    def rollback(self) -> dict[str, Any] | None:
        """The last finite state (fresh objects), or None if none was kept."""
        if self.last_finite is None:
            return None
        tree, arrays = self.last_finite
        return decode(tree, arrays)

    def save(self, net: Network, state: dict[str, Any], epoch: int, position: int, wall_time: float) -> Path | None:
        if self.path is None:
            return None
        header = {
            "settings": self.settings,
            "data": self.data,
            "epoch": epoch,
            "position": position,
            "wall_time": float(wall_time),
        }
        current = net.copy()  # NOTE: the network members hold the training parameters, whatever their dtype
        for n, (W, b) in state["params"].items():
            held = current.parameters(n)
            if np.ndim(W) > held.weight.ndim:  # NOTE: Monte-Carlo chips (W: (chips, ...)): the network holds chip 0
                W, b = W[0], b[0]
            held.weight, held.bias = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return write(self.path, current, header, state)

    def due(self, epoch_done: int, epochs: int) -> bool:
        return self.path is not None and self.every > 0 and (epoch_done % self.every == 0 or epoch_done == epochs)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Hold the checkpoint path as its only writer and defer SIGINT/SIGTERM/SIGHUP to minibatch boundaries.

        A second signal of the same kind during the wait is not deferred: the previous handler runs (Ctrl-C twice
        stops at once; the checkpoint is written atomically, so a file is never torn).
        """
        lock = writer_lock(self.path, "checkpoint") if self.path is not None else nullcontext()
        with lock:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

            def defer(signum: int, frame: Any) -> None:
                if self.pending is not None:
                    signal.signal(signum, previous[signum])
                    handler = previous[signum]
                    if callable(handler):
                        handler(signum, frame)
                    elif signum == signal.SIGINT:
                        raise KeyboardInterrupt
                    else:
                        raise SystemExit(128 + signum)
                    return
                self.pending = signum

            for sig in SIGNALS:
                try:
                    signal.signal(sig, defer)
                except (ValueError, OSError):  # NOTE: a signal this interpreter may not handle
                    previous.pop(sig, None)
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def interrupted(self, net: Network, state: dict[str, Any], epoch: int, position: int, wall_time: float) -> None:
        """If a signal arrived, write the checkpoint and raise TrainingInterrupted; otherwise return."""
        if self.pending is None:
            return
        signum, name = self.pending, signal.Signals(self.pending).name
        where = f"in epoch {epoch + 1} after minibatch {position}"
        path = self.save(net, state, epoch, position, wall_time)
        if path is None:
            raise TrainingInterrupted(
                f"training stopped by {name} {where}; no checkpoint was written (pass checkpoint=PATH, "
                f"CLI --checkpoint PATH, to be able to resume)",
                signum,
                None,
            )
        raise TrainingInterrupted(
            f"training stopped by {name} {where}; checkpoint written to {path}; resume with "
            f"train(..., resume={str(path)!r}) or `wavetrain train --resume {path}`",
            signum,
            path,
        )


Shapes = tuple[tuple[int, ...], tuple[int, ...]]


def _pair_fits(pair: Any, shapes: Shapes) -> bool:
    """``pair`` is a node's (W, b): two float arrays of the node's parameter shapes."""
    return (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in pair)
        and (pair[0].shape, pair[1].shape) == shapes
    )


def _check_per_node(owner: Any, shapes: dict[str, Shapes], what: str, path: Any) -> None:
    """A restored port's per-node state (a field keyed by the network's node ids, e.g. the heavy ball's velocity)
    holds one array pair per node shaped as that node's parameters, as the run that wrote it did."""
    if not dataclasses.is_dataclass(owner):
        return
    for field in dataclasses.fields(owner):
        value = getattr(owner, field.name)
        if not isinstance(value, dict) or not value or set(value) != set(shapes):
            continue
        for node, pair in value.items():
            if not _pair_fits(pair, shapes[node]):
                raise ModelFileError(
                    f"{path}: checkpoint {what} {field.name}[{node!r}] is not a pair of float arrays shaped "
                    f"{shapes[node]}, as the network's parameters are"
                )
