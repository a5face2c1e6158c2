"""Atomic file output for networks, netlists, plots and reports, writability checks and one-writer locks.

The code lives below the API (:mod:`wavetrain.compiler.atomic`, :mod:`wavetrain.compiler.storage`) so that
Network.save and the emulator's checkpoints can use it; this module re-exports it for the API, the CLI and scripts.
"""

from __future__ import annotations

from wavetrain.compiler.atomic import atomic_path, atomic_write
from wavetrain.compiler.storage import check_writable, lock_path, writer_lock, writer_locks

__all__ = ["atomic_path", "atomic_write", "check_writable", "lock_path", "writer_lock", "writer_locks"]
