"""Atomic file output: a crash or an error leaves either the old file or the new one, never a torn file.

Below the API (Network.save writes through it); :mod:`wavetrain.files` re-exports it for everything above.
"""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wavetrain.errors import OutputError


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp", what: str = "output") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` only if the block succeeds.

    An existing ``path`` that is not a regular file (a device, a FIFO) is refused, never replaced; an OSError of the
    folder, of the write in the block (a full disk) or of the rename becomes :class:`OutputError`, the old file kept.
    """
    from wavetrain.compiler.formats import check_output

    path = Path(path)
    check_output(path, what, OutputError)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as err:
        raise OutputError(f"{what} {path}: cannot write a file there: {reason(err)}") from err
    os.close(handle)
    try:
        # NOTE: mkstemp creates the file 0600; give it the mode a plain open() would (0666 less the umask)
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except OSError as err:
            raise OutputError(
                f"{what} {path}: cannot write it: {reason(err)}; "
                f"{'the previous file is kept' if path.exists() else 'nothing was written'}"
            ) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def reason(err: OSError) -> str:
    """An OSError in words, a full disk said plainly."""
    if err.errno == errno.ENOSPC:
        return "the disk is full (ENOSPC: no space left on device)"
    if err.errno == errno.EDQUOT:
        return "the disk quota is exhausted (EDQUOT)"
    return err.strerror or str(err)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes | str, what: str = "output") -> Path:
    """Write bytes or text (UTF-8) to ``path`` atomically, flushed to disk before the rename."""
    with atomic_path(path, what=what) as tmp:
        with open(tmp, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
    return Path(path)
