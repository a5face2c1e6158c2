"""Budgets checked before any work starts: memory estimates against a limit, and caps on loop counts.

The memory limit is ``WAVETRAIN_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix) if set, else 80 % of the memory
the kernel reports available (``MemAvailable`` in /proc/meminfo; 8 GiB where that cannot be read). A refusal names
the estimate and the limit, so a user can size the run down or raise the limit knowingly.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from wavetrain.errors import BudgetError, ConfigError

MAX_TICKS = 10**7  # a relaxation or a simulation past this many ticks is refused (the exact answer needs 2L)
MAX_HOLD = 10**6  # ticks one minibatch may be held in wave training
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_limit() -> int:
    """The number of bytes one wavetrain call may plan to allocate."""
    text = os.environ.get("WAVETRAIN_MEMORY_LIMIT")
    if text:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
        if not match:
            raise ConfigError(f"WAVETRAIN_MEMORY_LIMIT: expected bytes like 4G or 500M, got {text!r}")
        return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * 0.8)
    except OSError:
        pass
    return 8 * 2**30


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(estimate: float, what: str, hint: str = "") -> None:
    """Refuse (BudgetError) a plan whose estimated allocation exceeds :func:`memory_limit`."""
    limit = memory_limit()
    if estimate > limit:
        raise BudgetError(
            f"{what}: needs about {human(estimate)}, expected at most the memory limit {human(limit)} "
            f"(WAVETRAIN_MEMORY_LIMIT or 80 % of available memory){'; ' + hint if hint else ''}"
        )


def network_bytes(sizes: list[int], itemsize: int = 8) -> int:
    """Weights and biases of an MLP with these widths."""
    return itemsize * sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def waves_bytes(sizes: list[int], batch: int, itemsize: int = 8) -> int:
    """One snapshot of every layer's forward and backward wave for a batch."""
    return itemsize * 2 * batch * sum(sizes[1:])


def check_count(value: Any, name: str, cap: int, minimum: int = 0) -> int:
    """value as an int in [minimum, cap] (bool, float and other types refused), else ConfigError/BudgetError."""
    bound = "> 0" if minimum == 1 else f">= {minimum}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name}: expected an integer {bound}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ConfigError(f"{name}: expected an integer {bound}, got {value}")
    if value > cap:
        raise BudgetError(f"{name}: expected at most {cap:,}, got {int(value):,}")
    return int(value)


def graph_params_bytes(graph: Any, itemsize: int = 8) -> int:
    """Weights and biases of every parametric node of a graph."""
    shapes = graph.param_shapes().values()
    return itemsize * sum(int(np.prod(w)) + int(np.prod(b)) for w, b in shapes)


def graph_waves_bytes(graph: Any, batch: int, itemsize: int = 8) -> int:
    """One snapshot of every node's forward and backward wave for a batch (the delay lines' contents too)."""
    nodes = sum(int(np.prod(graph.shape[n])) for n in graph.order)
    lines = sum(d * int(np.prod(graph.shape[u])) for (u, _), d in graph.delay.items())
    return itemsize * 2 * batch * (nodes + lines)
