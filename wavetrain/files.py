"""Atomic file output for networks, netlists, plots and reports (the writer lives in :mod:`wavetrain.compiler.atomic`,
below the API, so that Network.save can use it)."""

from __future__ import annotations

from wavetrain.compiler.atomic import atomic_path, atomic_write

__all__ = ["atomic_path", "atomic_write"]
