"""Pointwise math every backend shares: activations with their derivatives, and losses with their gradients.

Convention (docs/physics.md section 2.2): a_l = W_l s_{l-1} + b_l, s_l = sigma(a_l). Batches are rows.
Each function works on any array library with NumPy's names (numpy, cupy): nothing here calls ``np.`` on data.

Losses are per sample; a batch loss is the mean over samples, so the wave a loss load reflects is
``grad(s_L, t) / batch`` (section 1.6: for mse it is s_L - t, for softmax cross-entropy softmax(s_L) - onehot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

Array = Any  # an ndarray of numpy or of a library with numpy's names


def namespace(a: Array) -> Any:
    """The array library of ``a``: numpy unless it exposes another through ``__array_namespace__``."""
    get = getattr(a, "__array_namespace__", None)
    if get is None or type(a).__module__.startswith("numpy"):
        import numpy

        return numpy
    return get()


@dataclass(frozen=True)
class Activation:
    r"""A pointwise nonlinearity :math:`\sigma` and its derivative: the one table every backend reads.

    ``df(a, s)`` gets the pre-activation a and the output s = f(a), so each derivative uses whichever is cheaper.
    ``spice_f`` / ``spice_df`` are the same functions as SPICE B-source expressions of a node voltage ``{a}``.
    ``f_inplace(s)`` (s holds a on entry, sigma(a) on exit) and ``delta_inplace(s, lam)`` (lam <- sigma'(a) * lam
    computed from s = sigma(a) alone; s is clobbered) are the in-place forms of the fused BLAS path, None where
    the derivative needs a (no fused path then).
    """

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array, Array], Array]
    spice_f: str = ""
    spice_df: str = ""
    f_inplace: Callable[[Array], None] | None = None
    delta_inplace: Callable[[Array, Array], None] | None = None


def _tanh(a: Array) -> Array:
    return namespace(a).tanh(a)


def _sigmoid(a: Array) -> Array:
    # NOTE: written through tanh so it never overflows, in float32 as in float64
    return 0.5 * (1.0 + namespace(a).tanh(0.5 * a))


def _relu(a: Array) -> Array:
    return namespace(a).maximum(a, 0)


def _tanh_inplace(s: Array) -> None:
    namespace(s).tanh(s, out=s)


def _tanh_delta(s: Array, lam: Array) -> None:
    xp = namespace(s)
    xp.multiply(s, s, out=s)
    xp.subtract(1.0, s, out=s)
    lam *= s


def _sigmoid_inplace(s: Array) -> None:
    # NOTE: the same tanh form as _sigmoid, so it never overflows
    s *= 0.5
    namespace(s).tanh(s, out=s)
    s += 1.0
    s *= 0.5


def _sigmoid_delta(s: Array, lam: Array) -> None:
    lam *= s  # NOTE: (lam s)(1 - s) rather than lam (s (1 - s)): one rounding apart, no scratch array
    namespace(s).subtract(1.0, s, out=s)
    lam *= s


def _relu_inplace(s: Array) -> None:
    namespace(s).maximum(s, 0, out=s)


def _relu_delta(s: Array, lam: Array) -> None:
    # NOTE: s = max(a, 0) > 0 exactly where a > 0, the generic derivative's test
    namespace(s).greater(s, 0, out=s)
    lam *= s


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(
        "tanh", _tanh, lambda a, s: 1.0 - s * s, "tanh({a})", "(1 - tanh({a})^2)", _tanh_inplace, _tanh_delta
    ),
    "sigmoid": Activation(
        "sigmoid",
        _sigmoid,
        lambda a, s: s * (1.0 - s),
        "0.5*(1 + tanh(0.5*{a}))",
        "0.25*(1 - tanh(0.5*{a})^2)",
        _sigmoid_inplace,
        _sigmoid_delta,
    ),
    "relu": Activation(
        "relu", _relu, lambda a, s: (a > 0).astype(a.dtype), "({a})*u({a})", "u({a})", _relu_inplace, _relu_delta
    ),
    "identity": Activation(
        "identity",
        lambda a: a,
        lambda a, s: namespace(a).ones_like(a),
        "({a})",
        "1",
        lambda s: None,
        lambda s, lam: None,
    ),
}


@dataclass(frozen=True)
class Loss:
    r"""A per-sample loss C(s_L, t) and its gradient with respect to the last layer's output s_L.

    t is always a 2-D float target (one-hot for labels); see :func:`wavetrain.compiler.network.Network.targets`.
    """

    name: str
    value: Callable[[Array, Array], Array]  # (batch, n), (batch, n) -> (batch,)
    grad: Callable[[Array, Array], Array]  # (batch, n), (batch, n) -> (batch, n)


def _mse_value(s: Array, t: Array) -> Array:
    d = s - t
    return 0.5 * (d * d).sum(axis=-1)


def _log_softmax(z: Array) -> Array:
    xp = namespace(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z: Array) -> Array:
    xp = namespace(z)
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", _mse_value, lambda s, t: s - t),
    "cross_entropy": Loss(
        "cross_entropy", lambda s, t: -(t * _log_softmax(s)).sum(axis=-1), lambda s, t: softmax(s) - t
    ),
}
