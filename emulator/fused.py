"""The light cone and the heavy-ball port fused into BLAS calls: the NumPy fast path of ``Dyadic`` training.

Same cells, same order and same equations as :func:`wavetrain.emulator.kernel.light_cone` followed by
:meth:`wavetrain.emulator.train.HeavyBall.step`; only the arithmetic is arranged for a CPU:

* every matrix product is one ``?gemm`` call (SciPy's BLAS) writing into a preallocated buffer, no temporaries;
* the port update is folded into the gradient product: a C-ordered W (out, in) is the Fortran-ordered W^T, so
  ``W^T <- beta W^T + alpha s_{l-1}^T delta_l`` is one gemm with ``overwrite_c`` (SGD: alpha = -lr, beta = 1,
  straight into W; heavy ball: alpha = -lr, beta = momentum, into the velocity, then W += v), and the bias's
  likewise into one ``?gemv`` (delta^T 1); the gradient itself is never stored;
* each layer's delta = sigma'(a) * lam is formed in place in the lam buffer from s alone (the activation table's
  ``delta_inplace``: tanh, sigmoid, relu and identity all have a derivative that s determines), so a = W s + b is
  never kept, and s_l, dead once layer l+1's gradient is taken, holds sigma'(a_l): two buffers per layer in all.

It is a verified specialisation of the cells, not a second spec: taken only on the ideal substrate
(``substrate.ideal``), and tests/emulator/test_fused.py checks it against the cells' light cone + port.

The backward wave lam_{l-1} = delta_l W_l is taken before W_l moves, as in the unfused order. The result equals the
unfused path up to rounding (BLAS may sum the batch in another order and applies alpha inside the kernel).

NumPy only, float32 or float64, C-ordered writable parameters and a plain :class:`HeavyBall` port: :func:`supports`
says whether a call qualifies; everything else takes the generic, array-library-agnostic path.
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Sequence

import numpy as np
from scipy.linalg import blas

from wavetrain.compiler.functions import Activation, Loss
from wavetrain.emulator.cells import Pair

GEMM = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}
GEMV = {np.dtype(np.float32): blas.sgemv, np.dtype(np.float64): blas.dgemv}
# NOTE: waves stored Fortran-ordered, (batch, n) with the batch index fastest: measured 1-4% faster than C order
# with SciPy's OpenBLAS 0.3.30 on 784-1024x4-10 (SkylakeX kernel, 2 threads), no slower on 784-512-512-10
ORDER: Literal["F"] = "F"

_local = threading.local()

Params = Sequence[Pair]  # a dense chain's (W_l, b_l) in layer order (Machine.chain())


def supports(params: Params, acts: Sequence[Activation], x: Any, t: Any, velocity: Any) -> bool:
    """Whether :func:`step` can run this call: NumPy arrays of one float dtype, C-ordered writable parameters."""
    if type(x) is not np.ndarray or type(t) is not np.ndarray or x.ndim != 2:
        return False
    dtype = x.dtype
    if dtype not in GEMM or t.dtype != dtype:
        return False
    if any(act.f_inplace is None or act.delta_inplace is None for act in acts):
        return False
    arrays = [a for pair in params for a in pair]
    if velocity is not None:
        arrays += [a for pair in velocity for a in pair]
    return all(
        type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable for a in arrays
    )


def _buffers(batch: int, sizes: tuple[int, ...], dtype: np.dtype) -> tuple[list, list, np.ndarray]:
    """Per-thread wave buffers s_l, lam_l (batch, n_l) for this shape, and a ones vector (the batch sum)."""
    key = (batch, sizes, dtype)
    cache = _local.__dict__.setdefault("cache", {})
    if key not in cache:
        if len(cache) >= 4:  # NOTE: a full batch and the epoch's last, short one are the usual pair
            cache.pop(next(iter(cache)))
        s = [np.empty((batch, n), dtype, order=ORDER) for n in sizes[1:]]
        lam = [np.empty((batch, n), dtype, order=ORDER) for n in sizes[1:]]
        cache[key] = (s, lam, np.ones(batch, dtype))
    return cache[key]


def _gemm(gemm: Any, alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray) -> None:
    """c <- alpha a b + beta c, in place; each of a, b, c C- or Fortran-ordered (BLAS sees a transpose as a flag)."""
    if not c.flags.f_contiguous:
        a, b, c = b.T, a.T, c.T  # c^T = b^T a^T, and a C-ordered c is a Fortran-ordered c^T
    fa, ta = (a, 0) if a.flags.f_contiguous else (a.T, 1)
    fb, tb = (b, 0) if b.flags.f_contiguous else (b.T, 1)
    gemm(alpha, fa, fb, beta, c, trans_a=ta, trans_b=tb, overwrite_c=1)


def forward(params: Params, acts: Sequence[Activation], x: np.ndarray) -> np.ndarray:
    """The forward wave alone, s_L for the rows of x: the evaluation path of train(), the same products and
    nonlinearities as :func:`step`'s forward half, one buffer per layer (the unfused sweep makes three)."""
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)
    s = [np.empty((x.shape[0], W.shape[0]), x.dtype, order=ORDER) for W, _ in params]
    _forward_into(params, acts, x, s)
    return s[-1]


def _forward_into(params: Params, acts: Sequence[Activation], x: np.ndarray, s: list[np.ndarray]) -> None:
    """s_l = sigma(s_{l-1} W_l^T + b_l) for every layer, into the buffers s (one gemm each, bias and sigma in place)."""
    gemm = GEMM[x.dtype]
    inputs = [x, *s[:-1]]
    for l, (W, b) in enumerate(params):
        s[l][...] = b
        _gemm(gemm, 1.0, inputs[l], W.T, 1.0, s[l])  # a_l = s_{l-1} W_l^T + b_l
        acts[l].f_inplace(s[l])  # type: ignore[misc]


def step(
    params: Params,
    acts: Sequence[Activation],
    loss: Loss,
    x: np.ndarray,
    t: np.ndarray,
    lr: float,
    momentum: float,
    velocity: list[tuple[np.ndarray, np.ndarray]] | None,
) -> np.ndarray:
    """One light-cone relaxation and heavy-ball port step, in place on ``params`` (and ``velocity`` if momentum).

    Returns the per-sample loss before the step. Call only where :func:`supports` is true.
    """
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)
    batch, depth = x.shape[0], len(params)
    sizes = (x.shape[1], *(W.shape[0] for W, _ in params))
    s, lam, ones = _buffers(batch, sizes, x.dtype)
    gemm, gemv = GEMM[x.dtype], GEMV[x.dtype]
    inputs = [x, *s[:-1]]
    _forward_into(params, acts, x, s)
    per_sample = loss.value(s[-1], t)
    lam[-1][...] = loss.grad(s[-1], t)
    lam[-1] /= batch
    for l in range(depth - 1, -1, -1):
        W, b = params[l]
        # NOTE: s_l was last read by layer l+1's gradient product (the previous iteration), so it may be clobbered
        acts[l].delta_inplace(s[l], lam[l])  # type: ignore[misc]
        if l > 0:
            _gemm(gemm, 1.0, lam[l], W, 0.0, lam[l - 1])  # lam_{l-1} = delta_l W_l, before W_l moves
        if momentum == 0.0:
            _gemm(gemm, -lr, inputs[l].T, lam[l], 1.0, W.T)  # W^T <- W^T - lr s_{l-1}^T delta_l
            gemv(-lr, lam[l], ones, 1.0, b, trans=1, overwrite_y=1)  # b <- b - lr delta_l^T 1
        else:
            vW, vb = velocity[l]  # type: ignore[index]
            _gemm(gemm, -lr, inputs[l].T, lam[l], momentum, vW.T)  # v <- momentum v - lr g
            gemv(-lr, lam[l], ones, momentum, vb, trans=1, overwrite_y=1)
            W += vW
            b += vb
    return per_sample
