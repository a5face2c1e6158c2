"""Atomic file output: a crash or an error leaves either the old file or the new one, never a torn file.

The code lives in :mod:`wavetrain.compiler.storage` (below the API, so the emulator and targets may use it too);
this module re-exports it for the API, the CLI and the scripts.
"""

from __future__ import annotations

from wavetrain.compiler.storage import (
    atomic_path,
    atomic_write,
    check_writable,
    lock_path,
    writer_lock,
    writer_locks,
)

__all__ = ["atomic_path", "atomic_write", "check_writable", "lock_path", "writer_lock", "writer_locks"]
