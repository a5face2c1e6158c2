"""The light cone and the heavy-ball port fused into BLAS calls: the NumPy fast path of ``Dyadic`` training.

Same cells, same order and same equations as :func:`wavetrain.emulator.kernel.light_cone` followed by
:meth:`wavetrain.emulator.train.HeavyBall.step`; only the arithmetic is arranged for a CPU:

* every matrix product is one ``?gemm`` call (SciPy's BLAS) writing into a preallocated buffer, no temporaries;
* the port update is folded into the gradient product: a C-ordered W (out, in) is the Fortran-ordered W^T, so
  ``W^T <- beta W^T + alpha s_{l-1}^T delta_l`` is one gemm with ``overwrite_c`` (SGD: alpha = -lr, beta = 1,
  straight into W; heavy ball: alpha = -lr, beta = momentum, into the velocity, then W += v); the gradient
  itself is never stored;
* each layer's delta = sigma'(a) * lam is formed in place in the lam buffer from s alone (tanh, sigmoid, relu and
  identity all have a derivative that s determines), so a = W s + b is never kept.

The backward wave lam_{l-1} = delta_l W_l is taken before W_l moves, as in the unfused order. The result equals the
unfused path up to rounding (BLAS may sum the batch in another order and applies alpha inside the kernel).

NumPy only, float32 or float64, C-ordered writable parameters and a plain :class:`HeavyBall` port: :func:`supports`
says whether a call qualifies; everything else takes the generic, array-library-agnostic path.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np
from scipy.linalg import blas

from wavetrain.compiler.functions import Activation, Loss
from wavetrain.emulator.kernel import Params

GEMM = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}
FUSED_ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
# NOTE: waves stored Fortran-ordered, (batch, n) with the batch index fastest: measured 1-4% faster than C order
# with SciPy's OpenBLAS 0.3.30 on 784-1024x4-10 (SkylakeX kernel, 2 threads), no slower on 784-512-512-10
ORDER = "F"

_local = threading.local()


def supports(params: Params, acts: Sequence[Activation], x: Any, t: Any, velocity: Any) -> bool:
    """Whether :func:`step` can run this call: NumPy arrays of one float dtype, C-ordered writable parameters."""
    if type(x) is not np.ndarray or type(t) is not np.ndarray or x.ndim != 2:
        return False
    dtype = x.dtype
    if dtype not in GEMM or t.dtype != dtype:
        return False
    if any(act.name not in FUSED_ACTIVATIONS for act in acts):
        return False
    arrays = [a for pair in params for a in pair]
    if velocity is not None:
        arrays += [a for pair in velocity for a in pair]
    return all(
        type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        for a in arrays
    )


def _buffers(batch: int, sizes: tuple[int, ...], dtype: np.dtype) -> tuple[list, list, list, np.ndarray]:
    key = (batch, sizes, dtype)
    cache = _local.__dict__.setdefault("cache", {})
    if key not in cache:
        if len(cache) >= 4:  # NOTE: a full batch and the epoch's last, short one are the usual pair
            cache.pop(next(iter(cache)))
        s = [np.empty((batch, n), dtype, order=ORDER) for n in sizes[1:]]
        lam = [np.empty((batch, n), dtype, order=ORDER) for n in sizes[1:]]
        scratch = [np.empty((batch, n), dtype, order=ORDER) for n in sizes[1:]]
        cache[key] = (s, lam, scratch, np.empty(max(sizes[1:]), dtype))
    return cache[key]


def _activate(name: str, s: np.ndarray) -> None:
    """s <- sigma(s) in place (s holds a = W x + b on entry)."""
    if name == "tanh":
        np.tanh(s, out=s)
    elif name == "sigmoid":
        # NOTE: the same tanh form as compiler.functions, so it never overflows
        s *= 0.5
        np.tanh(s, out=s)
        s += 1.0
        s *= 0.5
    elif name == "relu":
        np.maximum(s, 0, out=s)


def _delta(name: str, s: np.ndarray, lam: np.ndarray, scratch: np.ndarray) -> None:
    """lam <- sigma'(a) * lam in place, with sigma'(a) computed from s = sigma(a)."""
    if name == "tanh":
        np.multiply(s, s, out=scratch)
        np.subtract(1.0, scratch, out=scratch)
        lam *= scratch
    elif name == "sigmoid":
        np.subtract(1.0, s, out=scratch)
        scratch *= s
        lam *= scratch
    elif name == "relu":
        # NOTE: s = max(a, 0) > 0 exactly where a > 0, the generic derivative's test
        np.greater(s, 0, out=scratch)
        lam *= scratch


def _gemm(gemm: Any, alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray) -> None:
    """c <- alpha a b + beta c, in place; each of a, b, c C- or Fortran-ordered (BLAS sees a transpose as a flag)."""
    if not c.flags.f_contiguous:
        a, b, c = b.T, a.T, c.T  # c^T = b^T a^T, and a C-ordered c is a Fortran-ordered c^T
    fa, ta = (a, 0) if a.flags.f_contiguous else (a.T, 1)
    fb, tb = (b, 0) if b.flags.f_contiguous else (b.T, 1)
    gemm(alpha, fa, fb, beta, c, trans_a=ta, trans_b=tb, overwrite_c=1)


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
    s, lam, scratch, bias = _buffers(batch, sizes, x.dtype)
    gemm = GEMM[x.dtype]
    inputs = [x, *s[:-1]]
    for l, (W, b) in enumerate(params):
        s[l][...] = b
        _gemm(gemm, 1.0, inputs[l], W.T, 1.0, s[l])  # a_l = s_{l-1} W_l^T + b_l
        _activate(acts[l].name, s[l])
    per_sample = loss.value(s[-1], t)
    lam[-1][...] = loss.grad(s[-1], t)
    lam[-1] /= batch
    for l in range(depth - 1, -1, -1):
        W, b = params[l]
        _delta(acts[l].name, s[l], lam[l], scratch[l])
        if l > 0:
            _gemm(gemm, 1.0, lam[l], W, 0.0, lam[l - 1])  # lam_{l-1} = delta_l W_l, before W_l moves
        db = np.add.reduce(lam[l], axis=0, out=bias[: b.shape[0]])
        db *= lr
        if momentum == 0.0:
            _gemm(gemm, -lr, inputs[l].T, lam[l], 1.0, W.T)  # W^T <- W^T - lr s_{l-1}^T delta_l
            b -= db
        else:
            vW, vb = velocity[l]  # type: ignore[index]
            _gemm(gemm, -lr, inputs[l].T, lam[l], momentum, vW.T)  # v <- momentum v - lr g
            W += vW
            vb *= momentum
            vb -= db
            b += vb
    return per_sample
