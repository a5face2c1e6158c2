"""Safe file output and input below the API, so every layer may use them.

``atomic_path`` / ``atomic_write`` (from :mod:`wavetrain.compiler.atomic`): a crash or an error leaves either
the old file or the new one, never a torn file (a SIGKILLed writer's temp file is removed by the next
``writer_lock`` owner). ``writer_lock``: one process at a time may own an output path for the duration of a run; a
second one is refused (never silently last-writer-wins). ``check_writable``: an output path is checked before any
work starts. ``wavetrain.files`` re-exports these for the API.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import re
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from wavetrain.compiler.atomic import _umask, atomic_path, atomic_write
from wavetrain.errors import ConfigError, ModelFileError, OutputError

__all__ = ["atomic_path", "atomic_write", "check_writable", "lock_path", "read_npy", "writer_lock", "writer_locks"]

_HELD: dict[str, int] = {}  # lock path -> fd of the locks this process holds (re-entrant within the process)


def check_writable(path: str | os.PathLike[str], what: str = "output") -> Path:
    """``path`` as a Path if a file can be written there (its folder exists and is writable, and the path is not a
    folder, a device or a FIFO); otherwise an OutputError (a ConfigError) naming it. A missing folder is refused rather
    than made behind the user's back (a typo in a folder name would otherwise scatter outputs). Nothing is left
    behind by the check."""
    from wavetrain.compiler.atomic import reason
    from wavetrain.compiler.formats import check_output

    path = Path(path)
    check_output(path, what, OutputError)  # NOTE: a device or FIFO there would be replaced by the written file
    folder = path.parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{what} {path}: {existing} is not a folder, expected a folder to write into")
    if existing != folder:
        raise OutputError(
            f"{what} {path}: folder {folder} does not exist, expected an existing folder (create it first: "
            f"mkdir -p {folder})"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: folder {existing} is not writable")
    if path.exists() and not os.access(path, os.W_OK) and not os.access(folder, os.W_OK):
        raise OutputError(f"{what} {path}: exists and cannot be replaced (not writable)")
    # NOTE: access() says yes to root everywhere, /proc and read-only mounts included: make (and remove) a file there
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".wavetrain-probe-")
    except OSError as err:
        raise OutputError(f"{what} {path}: cannot create a file in {existing}: {reason(err)}") from err
    os.close(handle)
    os.unlink(probe)
    return path


def lock_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextmanager
def writer_lock(path: str | os.PathLike[str], what: str = "output") -> Iterator[Path]:
    """Own ``path`` as its only writer for the block: a lock file beside it, held with flock (released by the kernel
    if the process dies, so a crash never leaves the path locked). A second process is refused with ConfigError."""
    lock = lock_path(path)
    key = str(lock.resolve())
    if key in _HELD:  # NOTE: the same process may nest (the CLI locks, then train() locks its checkpoint)
        yield lock
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666 & ~_umask())
    except OSError as err:
        from wavetrain.compiler.atomic import reason

        raise OutputError(f"{what} {path}: cannot write its lock file {lock}: {reason(err)}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        try:
            owner = lock.read_text().strip() or "?"
        except OSError:
            owner = "?"
        raise ConfigError(
            f"{what} {path}: another wavetrain process (pid {owner}) is writing it; expected one writer per path "
            f"(wait for it, or choose another path)"
        ) from None
    try:
        same = os.fstat(fd).st_ino == os.stat(lock).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # NOTE: the previous owner removed the file between our open and flock: take the new one
        os.close(fd)
        with writer_lock(path, what) as again:
            yield again
        return
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    # NOTE: we are the only writer now, so a temp file of an atomic write to this path is a killed writer's leftover
    leftover = re.compile(rf"\.{re.escape(Path(path).name)}\.[A-Za-z0-9_]{{8}}\.(tmp|png)")
    for stale in Path(path).parent.glob(f".{glob.escape(Path(path).name)}.*"):
        if leftover.fullmatch(stale.name):
            stale.unlink(missing_ok=True)
    _HELD[key] = fd
    try:
        yield lock
    finally:
        _HELD.pop(key, None)
        try:
            os.unlink(lock)  # NOTE: unlink while still holding the lock, so no other writer holds a deleted inode
        except FileNotFoundError:
            pass
        os.close(fd)


@contextmanager
def writer_locks(paths: list[tuple[str | os.PathLike[str], str]]) -> Iterator[None]:
    """:func:`writer_lock` on several (path, what) pairs at once, released in reverse order."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        seen = set()
        for path, what in paths:
            if path is None or str(Path(path).resolve()) in seen:
                continue
            seen.add(str(Path(path).resolve()))
            stack.enter_context(writer_lock(path, what))
        yield


def read_npy(archive: Any, member: str, what: str, max_bytes: int | None = None) -> np.ndarray:
    """One ``.npy`` member of an open zip archive, checked by its header before any data is read.

    Refused with :class:`NpyError` (callers turn it into their own WavetrainError): object dtypes, a header that does
    not parse, a declared size above ``max_bytes`` (default: the memory limit), a member whose inflated size
    disagrees with its header (truncated or padded). Only the bytes the header declares are ever inflated.
    """
    from numpy.lib import format as npformat

    from wavetrain.compiler.budget import human, memory_limit

    limit = memory_limit() if max_bytes is None else max_bytes
    info = archive.getinfo(member)
    with archive.open(member) as handle:
        try:
            version = npformat.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(handle)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npformat.read_array_header_2_0(handle)
            else:
                raise ValueError(f"npy format version {version} is not supported")
        except (ValueError, OSError, EOFError) as err:
            raise NpyError(f"{what}: not a NumPy array ({err})") from err
        if dtype.hasobject or dtype.kind not in "biuf":
            raise NpyError(f"{what}: has dtype {dtype}, expected a numeric (bool, int or float) array")
        count = int(np.prod(shape, dtype=object)) if shape else 1
        nbytes = count * dtype.itemsize
        if nbytes > limit:
            raise NpyError(
                f"{what}: its header declares shape {shape} of {dtype} = {human(nbytes)}, expected at most the "
                f"memory limit {human(limit)} (WAVETRAIN_MEMORY_LIMIT)"
            )
        header = handle.tell()
        if info.file_size != header + nbytes:
            raise NpyError(
                f"{what}: inflates to {info.file_size} bytes, expected {header + nbytes} from its header "
                f"(shape {shape}, {dtype}); the member is truncated or padded"
            )
        data = handle.read(nbytes)
        if len(data) != nbytes:
            raise NpyError(f"{what}: holds {len(data)} data bytes, expected {nbytes} from its header")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C").copy(order="K")  # NOTE: a Fortran-ordered array stays so


class NpyError(ValueError):
    """A malformed or over-budget .npy member (callers turn it into their own WavetrainError)."""


def read_json_member(archive: Any, path: Any, member: str, limit: int) -> Any:
    """The JSON member of a zip archive, refused (ModelFileError) if it inflates past ``limit`` bytes or is corrupt."""
    from wavetrain.compiler.formats import loads_json

    size = archive.getinfo(member).file_size
    if size > limit:
        raise ModelFileError(f"{path}: {member} inflates to {size} bytes, expected at most {limit}")
    try:
        data = archive.read(member)
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as err:
        raise ModelFileError(f"{path}: {member} is corrupt: {err}") from err
    return loads_json(data, f"{path}: {member}", ModelFileError)  # NOTE: no duplicate key, NaN or deep nesting
