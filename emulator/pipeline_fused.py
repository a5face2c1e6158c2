"""The pipelined machine's tick fused into BLAS calls, optionally its layers in parallel: the NumPy fast path of
:class:`wavetrain.emulator.pipeline.Pipelined`.

Same cells, same order and same equations as ``Pipelined.tick`` followed by :meth:`HeavyBall.step`; only the
arithmetic is arranged for a CPU. Within a tick every layer reads only the previous tick's waves and its own
parameters (Jacobi), so the layers are independent: with ``threads`` > 1 they are split into groups of about equal
weight count, each group on its own thread with single-threaded BLAS (the gemm calls release the GIL). The default
is one thread, the layers in turn, each gemm on all of BLAS's threads: on 2 cores that measured 1.8x faster than two
layer groups (784-512-512-10: 3.9 vs 7.0 ms a tick; 784-1024x4-10: 23 vs 44 ms), whose Python between the gemm calls
serialises on the GIL and whose BLAS thread-count switches cost as much again. Per layer i:

  s_i'   = sigma(W_i s_{i-1} + b_i)                          into this tick's slot of layer i's output ring
  m      = sigma(W_i s~_{i-1} + b_i)                         s~: the delay line's oldest input (the stash), or s_{i-1}
           (recompute=False: m is the delay line's oldest output, sigma(a) of the forward pass; no product)
  delta  = sigma'(m) * lam_i                                 in place, from m alone (the activation table)
  lam'_{i-1} = delta W_i                                     before W_i moves
  W_i   <- W_i - lr delta^T s~_{i-1} (or heavy ball)         one gemm with the update folded in, as in fused.py

and the loss load reflects lam'_L from the previous s_L. The waves and the delay lines are one set of rings of
preallocated buffers (see FusedPipeline), so the lines cost no copies. The result
equals the unfused ``Pipelined`` up to rounding (tests/emulator/test_pipeline.py). Taken only on the ideal substrate
with a plain HeavyBall port, NumPy float32/float64 C-ordered parameters and activations with in-place forms.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from wavetrain.compiler.functions import Activation, Loss
from wavetrain.emulator import fused
from wavetrain.emulator.cells import Pair

_POOL: dict[int, ThreadPoolExecutor] = {}
_CONTROLLER: list[Any] = []  # threadpoolctl's controller, found once: finding the BLAS libraries costs ~1 ms a call

Params = Sequence[Pair]  # a dense chain's (W_l, b_l) in layer order (Machine.chain())


def default_threads() -> int:
    """Threads for the tick's layer groups: 1 (BLAS parallelises each gemm instead; see the module docstring)."""
    return 1


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads not in _POOL:
        _POOL[threads] = ThreadPoolExecutor(threads - 1, thread_name_prefix="wavetrain-pipeline")
    return _POOL[threads]


def groups(sizes: Sequence[int], threads: int) -> list[list[int]]:
    """Layers split into ``threads`` groups of about equal weight count (largest first, greedy)."""
    cost = {i: sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)}
    out: list[list[int]] = [[] for _ in range(max(1, min(threads, len(cost))))]
    load = [0] * len(out)
    for i in sorted(cost, key=cost.__getitem__, reverse=True):
        k = load.index(min(load))
        out[k].append(i)
        load[k] += cost[i]
    return [sorted(g) for g in out if g]


class FusedPipeline:
    """Buffers and the fused tick for one (batch, sizes, dtype, stash, recompute); see the module docstring.

    The waves and the delay lines are one set of rings, so nothing is copied from one to the other: ``out[i]`` holds
    the outputs of layer i over the last delays[i] + 1 ticks (at least 2: the double buffer of the waves), the
    output of tick t in slot t mod length. Layer i+1's input at tick k is layer i's output of tick k - 1, its
    delayed input that of tick k - 1 - delays[i+1] = k + 1 - delays[i], and with recompute=False layer i's own
    stored output is that of tick k - delays[i]: all within the ring. The input x is copied into a ring of its own.
    Tick -1's slot holds the zero wave the machine starts from.
    """

    def __init__(
        self, sizes: Sequence[int], batch: int, dtype: np.dtype, stash: bool, threads: int, recompute: bool = True
    ) -> None:
        self.sizes, self.batch, self.dtype, self.stash = tuple(sizes), batch, np.dtype(dtype), stash
        self.recompute = recompute or not stash
        depth = len(sizes) - 1
        order = fused.ORDER
        self.delays = [2 * (depth - i) for i in range(depth)] if stash else [0] * depth
        # NOTE: C-ordered like the x a caller passes (a C-to-Fortran copy is a transpose, 4x slower here)
        self.inputs = [np.zeros((batch, sizes[0]), dtype) for _ in range(self.delays[0] + 1)]
        self.out = [
            [np.zeros((batch, n), dtype, order=order) for _ in range(max(2, d + 1))]
            for n, d in zip(sizes[1:], self.delays)
        ]
        self.lam = [[np.zeros((batch, n), dtype, order=order) for n in sizes[1:]] for _ in range(2)]
        self.m = [np.empty((batch, n), dtype, order=order) for n in sizes[1:]]
        self.ticks = 0
        self.ones = np.ones(batch, dtype)
        self.groups = groups(sizes, threads)
        self.threads = threads

    def matches(self, sizes: Sequence[int], batch: int, dtype: np.dtype, stash: bool, recompute: bool = True) -> bool:
        return (tuple(sizes), batch, np.dtype(dtype), stash, recompute or not stash) == (
            self.sizes,
            self.batch,
            self.dtype,
            self.stash,
            self.recompute,
        )

    def _output(self, i: int, tick: int) -> np.ndarray:
        """Layer i's output of ``tick`` (tick -1: the zero wave it starts from)."""
        ring = self.out[i]
        return ring[tick % len(ring)]

    def _input(self, i: int, tick: int) -> np.ndarray:
        """What layer i's junction saw at ``tick``: the clamped x, or layer i-1's output of the tick before."""
        return self.inputs[tick % len(self.inputs)] if i == 0 else self._output(i - 1, tick - 1)

    def step(
        self,
        params: Params,
        acts: Sequence[Activation],
        loss: Loss,
        x: np.ndarray,
        target: np.ndarray,
        lr: float,
        momentum: float,
        velocity: Any,
    ) -> None:
        """One tick with x at the input and the port step folded in; the waves advance to the new buffers."""
        k = self.ticks
        old, new = k % 2, (k + 1) % 2
        lam_old, lam_new = self.lam[old], self.lam[new]
        self.inputs[k % len(self.inputs)][...] = x
        gemm, gemv = fused.GEMM[self.dtype], fused.GEMV[self.dtype]
        lam_new[-1][...] = loss.grad(self._output(len(self.sizes) - 2, k - 1), target)
        lam_new[-1] /= self.batch

        def layers(group: list[int]) -> None:
            for i in group:
                W, b = params[i]
                # NOTE: until a line is full (its first 2(L - i) ticks) the oldest entry is tick 0's, as in Pipelined
                then = max(k - self.delays[i], 0)
                now_in = self._input(i, k)
                matched = self._input(i, then) if self.stash else now_in
                out, m = self._output(i, k), self.m[i]
                out[...] = b
                fused._gemm(gemm, 1.0, now_in, W.T, 1.0, out)
                acts[i].f_inplace(out)  # type: ignore[misc]
                if not self.recompute:
                    m[...] = self._output(i, then)  # NOTE: a copy: delta_inplace clobbers m
                elif self.stash:
                    m[...] = b
                    fused._gemm(gemm, 1.0, matched, W.T, 1.0, m)
                    acts[i].f_inplace(m)  # type: ignore[misc]
                else:
                    m[...] = out
                delta = lam_old[i]  # NOTE: read by this layer only, so delta may overwrite it
                acts[i].delta_inplace(m, delta)  # type: ignore[misc]
                if i > 0:
                    fused._gemm(gemm, 1.0, delta, W, 0.0, lam_new[i - 1])
                if momentum == 0.0:
                    fused._gemm(gemm, -lr, matched.T, delta, 1.0, W.T)
                    gemv(-lr, delta, self.ones, 1.0, b, trans=1, overwrite_y=1)
                else:
                    vW, vb = velocity[i]
                    fused._gemm(gemm, -lr, matched.T, delta, momentum, vW.T)
                    gemv(-lr, delta, self.ones, momentum, vb, trans=1, overwrite_y=1)
                    W += vW
                    b += vb

        with _blas_controller().limit(limits=1, user_api="blas") if len(self.groups) > 1 else _nothing():
            pending = [_pool(self.threads).submit(layers, g) for g in self.groups[1:]]
            layers(self.groups[0])
            for job in pending:
                job.result()
        self.ticks += 1

    @property
    def s_last(self) -> np.ndarray:
        return self._output(len(self.sizes) - 2, self.ticks - 1)


def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, built on first use (NumPy's and SciPy's are loaded)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


def supports(params: Params, acts: Sequence[Activation], x: Any, t: Any, velocity: Any) -> bool:
    """The same conditions as the fused light cone (fused.supports)."""
    return fused.supports(params, acts, x, t, velocity)
