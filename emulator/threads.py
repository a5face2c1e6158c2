"""How many threads the numerical libraries use while wavetrain computes: one, unless asked.

NumPy's and SciPy's OpenBLAS (and any OpenMP pool) start a thread per core and, between calls, keep them spinning
for work. Beside other busy processes on the same cores those spinning threads steal the time they wait for: on a
2-core machine with two other busy processes the digits run of the README took 34.8 s with OpenBLAS's default of two
threads and 0.64 s with one. The small matrices of a training step gain little from a second thread even on an idle
machine (BENCHMARKS.md, "Threads": measured idle and under load for backprop, dyadic and the PyTorch loop), so
wavetrain runs its work on one thread unless told otherwise, the same as each Dask worker of a sweep
(``threads_per_worker=1``, whose tasks call train() and so also run on one thread).

``threads``: a count >= 1, or 0 for the libraries' own setting (a thread per core). ``None`` reads the environment
variable ``WAVETRAIN_THREADS`` (same values) and defaults to :data:`DEFAULT_THREADS`. :func:`limited` applies it to
every BLAS and OpenMP pool threadpoolctl finds and to torch (when torch is loaded) for the duration of a block;
a library loaded later reads its own environment variables, which :func:`set_environment` sets (the CLI does).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from wavetrain.errors import ConfigError

DEFAULT_THREADS = 1
ENV = "WAVETRAIN_THREADS"


def resolve(threads: Any = None, name: str = "threads") -> int:
    """The thread count ``threads`` asks for (None: ``$WAVETRAIN_THREADS``, else 1), checked; 0 means the libraries'
    own setting."""
    if threads is None:
        text = os.environ.get(ENV, "").strip()
        if not text:
            return DEFAULT_THREADS
        try:
            threads = int(text)
        except ValueError:
            raise ConfigError(f"{ENV}: expected a whole number >= 0 (0: the libraries' own), got {text!r}") from None
        name = ENV
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ConfigError(f"{name}: expected a whole number >= 0 (0: the libraries' own), got {threads!r}")
    return threads


LIBRARY_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")  # read when a library loads


def set_environment(count: int) -> None:
    """For a process that has not loaded NumPy or torch yet (the CLI), and its children: the libraries' own
    thread variables and ``$WAVETRAIN_THREADS`` set to ``count`` (0: left as they are)."""
    if count == 0:
        os.environ[ENV] = "0"
        return
    for name in (ENV, *LIBRARY_ENV):
        os.environ[name] = str(count)


@contextmanager
def limited(threads: Any = None) -> Iterator[int]:
    """Run the block with BLAS, OpenMP and torch (if loaded) on ``threads`` threads; restore them afterwards."""
    count = resolve(threads)
    if count == 0:
        yield 0
        return
    from threadpoolctl import threadpool_limits

    torch: Any = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=count):
        if torch is not None:
            torch.set_num_threads(count)
        try:
            yield count
        finally:
            if torch is not None and before is not None:
                torch.set_num_threads(before)
