"""The SPICE target: ngspice through PySpice's shared library, or ``ngspice -b`` in a subprocess (one per run).

Both runners simulate the netlist :func:`wavetrain.circuits.to_spice` writes and return the same Trace (sampled at
the requested times by linear interpolation of ngspice's adaptive time points). A failed run raises SimulationError
with ngspice's own message and the kept netlist and log; a run past ``timeout`` seconds is stopped.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from wavetrain.circuits import Circuit, Transient, to_spice
from wavetrain.circuits.spice import probe_vectors
from wavetrain.errors import (
    ConfigError,
    MissingDependency,
    SimulationError,
    TargetUnavailable,
)

__all__ = ["SpiceTarget", "assemble", "check_netlist", "run_netlist"]
from wavetrain.targets import Trace, default_samples, ports_from_signals, split_ports
from wavetrain.targets._proc import run_supervised, signals_raise
from wavetrain.targets.deck import check_netlist
from wavetrain.targets.rawfile import read_raw

INSTALL = "install it with `sudo apt-get install ngspice libngspice0 libngspice0-dev`"
_ERROR_LINE = re.compile(r"error|abort|too small|singular matrix|failed|cannot|unknown", re.IGNORECASE)
_HARMLESS = re.compile(r"^(note:|warning:|using spice|stdout|\s*$)", re.IGNORECASE)
_SHARED_LOCK = threading.Lock()


class SpiceTarget:
    """ngspice (39+). ``runner``: "batch" (``ngspice -b``, streams to disk) or "shared" (libngspice via PySpice).
    ``kernels``: how a convolution's shared weights are written (:func:`wavetrain.circuits.to_spice`)."""

    name: ClassVar[str] = "spice"
    kind: ClassVar[str] = "circuit"

    def __init__(
        self,
        runner: str = "batch",
        timeout: float = 300.0,
        keep: bool = False,
        workdir: str | Path | None = None,
        kernels: str = "shared",
    ) -> None:
        from wavetrain.circuits.netlist import KERNELS

        if runner not in ("batch", "shared"):
            raise ConfigError(f"spice target: runner must be 'batch' or 'shared', got {runner!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
            raise ConfigError(f"spice target: timeout must be > 0 s (finite), got {timeout!r}")
        if kernels not in KERNELS:
            raise ConfigError(f"spice target: kernels must be one of {KERNELS}, got {kernels!r}")
        self.kernels = kernels
        self.runner, self.timeout, self.keep = runner, float(timeout), keep
        self.workdir = Path(workdir) if workdir is not None else None

    def run(
        self,
        circuit: Circuit,
        analysis: Transient,
        samples: np.ndarray | None = None,
        probes: Sequence[str] | None = None,
    ) -> Trace:
        """Write the netlist, simulate it in ngspice, and sample every probe at ``samples`` [s]."""
        table = probe_vectors(circuit, probes)
        models = device_files(circuit)
        if models and self.runner != "batch":
            raise ConfigError(
                f"spice target: crossbar device model files ({', '.join(sorted(models))}) need runner 'batch' (the "
                "shared runner has no work folder to include them from)"
            )
        text = to_spice(circuit, analysis, probes, kernels=self.kernels)
        samples = default_samples(circuit, analysis) if samples is None else np.asarray(samples, dtype=np.float64)
        vectors = self._batch(text, analysis, models) if self.runner == "batch" else self._shared(text, analysis)
        return assemble(circuit, table, vectors, samples, f"spice-{self.runner}")

    def _workdir(self) -> Path:
        if self.workdir is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="run-", dir=self.workdir))
        from wavetrain.targets._proc import kept_temp

        # NOTE: what keep keeps lives outside a command's private temp folder, which goes when the command ends
        return Path(tempfile.mkdtemp(prefix="wavetrain-spice-", dir=kept_temp() if self.keep else None))

    def _batch(self, text: str, analysis: Transient, models: dict[str, Path] | None = None) -> dict[str, np.ndarray]:
        work = self._workdir()
        netlist = work / "net.cir"
        netlist.write_text(text)
        try:
            _stage_models(models or {}, work)
            vectors = run_netlist(netlist, self.timeout, workdir=work, keep=self.keep)
        except TargetUnavailable:
            shutil.rmtree(work, ignore_errors=True)  # NOTE: nothing ran, so there is nothing to keep
            raise
        except BaseException as err:
            if not isinstance(err, SimulationError) and not self.keep:  # NOTE: a signal: nothing to keep
                shutil.rmtree(work, ignore_errors=True)
            raise
        _check_complete(vectors, analysis, netlist, work / "net.log")
        if not self.keep:
            shutil.rmtree(work, ignore_errors=True)
        return vectors

    def _shared(self, text: str, analysis: Transient) -> dict[str, np.ndarray]:
        ngspice = _shared_ngspice()
        from PySpice.Spice.NgSpice.Shared import ffi

        with _SHARED_LOCK:
            ngspice.destroy()
            if ngspice.plot_names != ["const"]:
                ngspice.remove_circuit()
            ngspice.clear_output()
            lines = [line for line in text.splitlines() if line] + [""]
            keep = [ffi.new("char[]", line.encode()) for line in lines] + [ffi.NULL]
            ngspice._ngspice_shared.ngSpice_Circ(ffi.new("char *[]", keep))
            if any("error" in line.lower() for line in ngspice._stdout + ngspice._stderr):
                raise self._shared_error(ngspice, text, "ngspice rejected the netlist")
            ngspice.wavetrain_events = 0
            ngspice._ngspice_shared.ngSpice_Command(b"bg_run")
            self._wait(ngspice, text)
            errors = [line for line in ngspice._stderr if _ERROR_LINE.search(line) and not _HARMLESS.match(line)]
            if errors:
                raise self._shared_error(ngspice, text, "ngspice failed: " + "; ".join(errors[:5]))
            vectors = _read_plot(ngspice, ffi)
            try:
                _check_complete(vectors, analysis, None, None)
            except SimulationError as err:
                # NOTE: the netlist and ngspice's output are kept only for a failed run, as the batch runner does
                raise self._shared_error(ngspice, text, str(err)) from err
        return vectors

    def _wait(self, ngspice: Any, text: str) -> None:
        deadline = time.monotonic() + self.timeout
        # NOTE: ngspice reports the background thread's start and end through the callback; wait for both
        try:
            while ngspice.wavetrain_events < 2 or ngspice._ngspice_shared.ngSpice_running():
                if time.monotonic() > deadline:
                    _halt(ngspice)
                    raise self._shared_error(
                        ngspice, text, f"ngspice did not finish within {self.timeout:g} s and was stopped"
                    )
                time.sleep(0.002)
        except BaseException:
            # NOTE: why a signal cannot tear libngspice down: Python runs signal handlers only in this (main) thread,
            # between bytecodes, never inside ngspice's simulation thread; whatever a handler raises here
            # (KeyboardInterrupt, Terminated) first halts that thread and waits until it has stopped, so no C code
            # of libngspice is running when the exception unwinds or the interpreter exits
            _halt(ngspice)
            raise

    def _shared_error(self, ngspice: Any, text: str, message: str) -> SimulationError:
        work = self._workdir()
        (work / "net.cir").write_text(text)
        (work / "net.log").write_text("\n".join(ngspice._stdout + ngspice._stderr))
        return SimulationError(f"{message}; netlist kept at {work / 'net.cir'}, log at {work / 'net.log'}")


def device_files(circuit: Circuit) -> dict[str, Path]:
    """The model files the circuit's crossbar devices include: {name in the netlist: the user's file}."""
    from wavetrain.circuits.crossbar import Crossbar

    files: dict[str, Path] = {}
    for e in circuit.of_type(Crossbar):
        device = e.device
        if device is None or device.include is None or device.file_name is None:
            continue
        path = Path(device.include)
        if files.setdefault(device.file_name, path) != path:
            raise ConfigError(
                f"spice target: two device model files share the name {device.file_name!r} ({files[device.file_name]} "
                f"and {path}); the netlist includes them by name, so rename one"
            )
    return files


def _stage_models(models: dict[str, Path], work: Path) -> None:
    """Copy each user model file beside the netlist and read it under the untrusted-netlist rules (targets/deck.py)
    before ngspice sees it: a model file is a user's text, and ngspice runs commands from some of its lines."""
    if not models:
        return
    from wavetrain.errors import UntrustedNetlist

    for name, source in models.items():
        if not source.is_file():
            raise UntrustedNetlist(f"device model {str(source)!r} is not a regular file")
        shutil.copyfile(source, work / name)
    wrapper = work / "models.cir"
    wrapper.write_text("* device models\n" + "".join(f".include {name}\n" for name in models) + ".end\n")
    try:
        check_netlist(wrapper)
    finally:
        wrapper.unlink(missing_ok=True)


def _halt(ngspice: Any, limit: float = 10.0) -> None:
    """Stop libngspice's background simulation thread and wait (up to ``limit`` s) until it no longer runs."""
    ngspice._ngspice_shared.ngSpice_Command(b"bg_halt")
    deadline = time.monotonic() + limit
    while ngspice._ngspice_shared.ngSpice_running() and time.monotonic() < deadline:
        time.sleep(0.002)


def run_netlist(
    netlist: str | Path,
    timeout: float = 300.0,
    outdir: str | Path | None = None,
    workdir: str | Path | None = None,
    keep: bool = False,
    cwd: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Run ``ngspice -b`` on a netlist file; return its vectors or raise.

    The raw file and log are written beside the netlist, or into ``outdir`` (so a user's folder is left alone).
    ngspice runs in ``cwd`` (default that folder; for a user's netlist an empty folder, since ngspice looks up an
    included file in its working folder first) with ``-n`` (no .spiceinit of the user's folders), in its own process
    group, under a supervisor that kills it and removes ``workdir`` (a temp folder of this run, unless ``keep``) if
    wavetrain dies, SIGKILL included. On a timeout, an error or a signal the partial raw file is removed at once.
    """
    binary = shutil.which("ngspice")
    if binary is None:
        raise TargetUnavailable(f"target 'spice' needs the ngspice program on PATH; {INSTALL}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ConfigError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    netlist = Path(netlist).resolve()
    where = netlist.parent if outdir is None else Path(outdir).resolve()
    raw, log = where / f"{netlist.stem}.raw", where / f"{netlist.stem}.log"
    err = where / f".{netlist.stem}.stderr"
    raw.unlink(missing_ok=True)
    try:
        with signals_raise():
            code, timed_out = run_supervised(
                [binary, "-b", "-n", "-r", str(raw), "-o", str(log), str(netlist)],
                workdir,
                timeout,
                keep=keep,
                stderr_path=err,
                cwd=where if cwd is None else Path(cwd),
            )
        stderr = err.read_text(errors="replace") if err.exists() else ""
    except BaseException:
        raw.unlink(missing_ok=True)
        raise
    finally:
        err.unlink(missing_ok=True)
    if timed_out:
        raw.unlink(missing_ok=True)
        raise SimulationError(
            f"ngspice did not finish within {timeout:g} s and was stopped; netlist kept at {netlist}, log at {log} "
            f"(the partial raw file was removed)"
        )
    output = (log.read_text(errors="replace") if log.exists() else "") + stderr
    errors = [line.strip() for line in output.splitlines() if _ERROR_LINE.search(line) and not _HARMLESS.match(line)]
    if code != 0 or errors or not raw.exists():
        raw.unlink(missing_ok=True)
        message = "; ".join(errors[:5]) or f"exit code {code}, no raw file"
        raise SimulationError(f"ngspice failed: {message}; netlist kept at {netlist}, log at {log}")
    return read_raw(raw)


def _shared_ngspice() -> Any:
    try:
        logging.getLogger("PySpice").setLevel(logging.CRITICAL)  # NOTE: 'Unsupported Ngspice version 39' on every load
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except ImportError as err:
        raise MissingDependency(
            "the shared runner needs PySpice; install it with `pip install 'wavetrain[spice]'`"
        ) from err

    class QuietNgSpiceShared(NgSpiceShared):
        @staticmethod
        def _background_thread_running(is_running: bool, ngspice_id: int, user_data: Any) -> int:
            # NOTE: PySpice 1.5 returns None here, where cffi wants an int, and prints a traceback per run
            self = ffi.from_handle(user_data)
            self._is_running = is_running
            self.wavetrain_events = getattr(self, "wavetrain_events", 0) + 1
            return 0

    try:
        return QuietNgSpiceShared.new_instance()
    except OSError as err:
        raise TargetUnavailable(f"target 'spice' (shared runner) cannot load libngspice.so: {err}; {INSTALL}") from err


def _read_plot(ngspice: Any, ffi: Any) -> dict[str, np.ndarray]:
    plot = ngspice.last_plot
    lib = ngspice._ngspice_shared
    names = lib.ngSpice_AllVecs(plot.encode())
    vectors: dict[str, np.ndarray] = {}
    k = 0
    while names[k] != ffi.NULL:
        name = ffi.string(names[k]).decode()
        info = lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
        if info != ffi.NULL and info.v_realdata != ffi.NULL:
            values = np.frombuffer(ffi.buffer(info.v_realdata, info.v_length * 8), dtype=np.float64).copy()
            key = name.lower()
            vectors[key if key == "time" or key.startswith("v(") else f"v({key})"] = values
        k += 1
    return vectors


def _check_complete(
    vectors: dict[str, np.ndarray], analysis: Transient, netlist: Path | None, log: Path | None
) -> None:
    time_axis = vectors.get("time")
    if time_axis is None or len(time_axis) == 0 or time_axis[-1] < analysis.stop * (1 - 1e-6):
        reached = time_axis[-1] if time_axis is not None and len(time_axis) else 0.0
        where = f"; netlist kept at {netlist}, log at {log}" if netlist else ""
        raise SimulationError(
            f"ngspice stopped at t = {reached:g} s before the end {analysis.stop:g} s (did not converge){where}"
        )


def assemble(
    circuit: Circuit,
    table: dict[str, list[str]],
    vectors: dict[str, np.ndarray],
    samples: np.ndarray,
    target: str,
) -> Trace:
    """Sample ngspice vectors at the sample times and shape them per probe into a Trace."""
    t = vectors["time"]
    signals: dict[str, np.ndarray] = {}
    for name, columns in table.items():
        missing = [c for c in columns if c not in vectors]
        if missing:
            raise SimulationError(f"ngspice returned no vector {missing[0]!r} for probe {name!r}")
        values = np.stack([np.interp(samples, t, vectors[c]) for c in columns], axis=1)
        if name.endswith(".signals"):
            signals.update(ports_from_signals(circuit, name.rpartition(".")[0], values))
        elif name.endswith((".grad", ".param")):
            base, _, suffix = name.rpartition(".")
            signals.update(split_ports(circuit, base, values, suffix))
        else:
            signals[name] = values.reshape(len(samples), circuit.batch, -1)
    return Trace(t=samples, signals=signals, target=target)
