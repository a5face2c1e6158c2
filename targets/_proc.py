"""Child processes that never outlive wavetrain, and temp folders that never outlive their run.

For any backend that starts processes (ngspice here; Lava's runtime workers too):

- :func:`set_parent_death_signal` (Linux ``prctl(PR_SET_PDEATHSIG)`` through ctypes): call it in a child (e.g. as
  ``preexec_fn`` or a multiprocessing initializer) and the kernel sends it ``sig`` when its parent dies, even by
  SIGKILL. :func:`child_setup` does that plus ``setsid`` (own process group, so a terminal's Ctrl-C reaches only
  wavetrain, which then stops the child itself).
- :func:`signals_raise`: for the duration of a block, SIGTERM and SIGHUP raise :class:`Terminated` (SIGINT raises
  KeyboardInterrupt as usual, also in a process started with SIGINT ignored) in the main thread, so ``finally``
  clauses that kill children and remove temp folders run on every catchable exit path.
- :func:`run_supervised`: runs a command under a tiny supervisor (this file run as a script, stdlib only) that dies
  with wavetrain and then kills the command's process group and removes the run's work folder. That covers the one
  exit path Python cannot catch: SIGKILL of wavetrain itself.
- :func:`private_temp`: a temp folder for a run and every child it starts, removed when the run ends, however it
  ends (the same supervisor, with no command, removes it after SIGKILL).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

PR_SET_PDEATHSIG = 1
CATCH = ("SIGTERM", "SIGHUP")


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while children were running (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def child_setup(parent: int, sig: int = signal.SIGKILL) -> None:
    """``preexec_fn`` for a child that must die with ``parent``: own session, parent-death signal, race check."""
    os.setsid()
    set_parent_death_signal(sig)
    if os.getppid() != parent:  # NOTE: the parent died before prctl took effect
        os._exit(1)


@contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` inside the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = {}
    for name in CATCH:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # NOTE: a shell starts a background job (`cmd &` in a script) with SIGINT ignored, and Python then installs
        # no KeyboardInterrupt handler: `kill -INT` would be ignored until a timeout. SIGINT stops us as Ctrl-C does
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process group of ``process`` (started with :func:`child_setup`) and reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover -- NOTE: SIGKILL cannot be ignored
        pass


def run_supervised(
    command: Sequence[str],
    workdir: str | os.PathLike[str] | None,
    timeout: float,
    keep: bool = False,
    stderr_path: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[int, bool]:
    """Run ``command`` to completion under a supervisor; returns (exit code, timed out).

    The command runs in its own process group. If this process dies (any signal, SIGKILL included), the supervisor
    kills that group and removes ``workdir`` (unless ``keep``). A timeout or an exception here (KeyboardInterrupt,
    :class:`Terminated`) kills the group before returning or raising. stdin is /dev/null, stdout is discarded,
    stderr goes to ``stderr_path`` (or is discarded).
    """
    parent = os.getpid()
    args = [
        sys.executable,
        "-I",
        "-S",
        os.path.abspath(__file__),
        str(parent),
        "" if workdir is None or keep else os.fspath(workdir),
        "--",
        *command,
    ]
    err = open(stderr_path, "wb") if stderr_path is not None else subprocess.DEVNULL
    try:
        # NOTE: the supervisor gets SIGTERM (which it handles: kill the command, remove the folder) when we die
        supervisor = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=cwd,
            preexec_fn=lambda: child_setup(parent, signal.SIGTERM),
        )
    finally:
        if not isinstance(err, int):
            err.close()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                code = supervisor.wait(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
                return code, False
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    kill_group(supervisor)
                    return -signal.SIGKILL, True
    except BaseException:
        kill_group(supervisor)
        raise


_OUTER: list[str] = []  # the temp folder in effect outside each private_temp block, innermost last


def kept_temp() -> str:
    """The temp folder for what a run keeps on purpose (``--keep``): the one outside any :func:`private_temp`."""
    import tempfile

    return _OUTER[-1] if _OUTER else tempfile.gettempdir()


@contextmanager
def private_temp(prefix: str = "wavetrain-") -> Iterator[str]:
    """A fresh folder in the temp folder that this process and its children use as their temp folder (``TMPDIR`` and
    :data:`tempfile.tempdir`) inside the block, removed afterwards, also after SIGKILL: a janitor (this file run as a
    script) that dies with us removes it. What a backend's children leave there (Dask's scratch space and lock
    files, multiprocessing's ``pymp-*``, Lava's ``wavetrain-lava-*``) then goes with it.
    """
    import tempfile

    folder = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
    parent = os.getpid()
    janitor = subprocess.Popen(
        [sys.executable, "-I", "-S", os.path.abspath(__file__), str(parent), folder, "--"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: child_setup(parent, signal.SIGTERM),
    )
    old_env, old_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    _OUTER.append(tempfile.gettempdir())
    os.environ["TMPDIR"], tempfile.tempdir = folder, folder
    try:
        yield folder
    finally:
        _OUTER.pop()
        tempfile.tempdir = old_dir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
        shutil.rmtree(folder, ignore_errors=True)
        kill_group(janitor)


def _supervise(argv: list[str]) -> int:  # NOTE: runs in the supervisor process (stdlib only, no wavetrain imports)
    parent, workdir, command = int(argv[0]), argv[1], argv[3:]
    child: list[subprocess.Popen] = []

    def cleanup(signum: int, frame: object) -> None:
        # NOTE: no Popen.wait here: the main thread may hold its lock inside wait(); init reaps the killed child
        if child:
            try:
                os.kill(child[0].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, cleanup)
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:
        cleanup(signal.SIGTERM, None)
    if not command:  # NOTE: a janitor (private_temp): wait for the parent's death, then remove the folder
        while True:
            signal.pause()
    child.append(
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            preexec_fn=lambda: set_parent_death_signal(signal.SIGKILL),
        )
    )
    return child[0].wait()


if __name__ == "__main__":
    sys.exit(_supervise(sys.argv[1:]))
