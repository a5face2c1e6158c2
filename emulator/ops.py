"""The junction of every node type as three products: forward, its transpose (the backward wave), the port readout.

One table entry per node type of :mod:`wavetrain.compiler.graph` (``OPS``), so the cells (emulator/cells.py) stay the
wave math written once. Every product through a node's devices goes through the substrate's ``crossbar`` hook in
matrix form (rows of drives times the weight matrix), so a convolution is read as aihwkit maps it: one crossbar of
out_channels x (in_channels x kernel) read at every position (im2col), each read a row.

Layout. A wave of a node whose sample shape is (n,) is (.., batch, n); one of shape (C, L) or (C, H, W) (channels
first, as torch and the graph report it) is held channels-last, (.., batch, L, C) or (.., batch, H, W, C), so every
read is a contiguous row and a concatenation is always along the last axis. :func:`to_internal` and
:func:`to_external` convert at the input clamp and where waves are shown to a user. ``..`` is any leading axes (the
chip axis); parameters carry the same leading axes.

  node      forward a (before the bias)          backward (one wave per input)          readout (G, g)
  Linear    x W^T                                 delta W                                delta^T x, sum delta
  Conv1d/2d patches(x) W^T (per position)         col2im(delta W)                        delta^T patches, sum delta
  AvgPool   window mean                           delta / k^d spread over each window    -
  MaxPool   window max                            delta routed to each window's argmax   -
  Flatten   reshape to torch's C order            the inverse reshape                    -
  Add       x_1 + x_2 + ...                       delta to every input                   -
  Concat    [x_1 | x_2 | ...] (last axis)         each input's slice of delta            -
  Act       x                                     delta                                  -
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.graph import Act, Add, AvgPool, Concat, Conv1d, Conv2d, Flatten, Linear, MaxPool, Shape

Crossbar = Callable[[Array, Array, str], Array]  # (product rows, drive rows, direction) -> the read product


def to_internal(x: Array, shape: Shape) -> Array:
    """A wave given channels-first (.., batch, C, ...) in the channels-last layout the cells compute in."""
    if len(shape) == 1:
        return x
    return namespace(x).moveaxis(x, -len(shape), -1)


def to_external(v: Array, shape: Shape) -> Array:
    """A channels-last wave back in the channels-first layout of ``shape`` (what torch and the graph report)."""
    if len(shape) == 1:
        return v
    return namespace(v).moveaxis(v, -1, -len(shape))


def internal_shape(shape: Shape) -> Shape:
    return shape if len(shape) == 1 else (*shape[1:], shape[0])


def forward_product(W: Array, s: Array) -> Array:
    """W s for batch rows: s (.., batch, in) @ W^T (.., in, out)."""
    return s @ W.swapaxes(-1, -2)


def backward_product(W: Array, delta: Array) -> Array:
    """W^T delta for batch rows: delta (.., batch, out) @ W (.., out, in)."""
    return delta @ W


def outer_product(delta: Array, s: Array) -> Array:
    """delta^T s summed over the batch: (.., out, batch) @ (.., batch, in)."""
    return delta.swapaxes(-1, -2) @ s


class DenseOp:
    """W (.., out, in) on vector waves (.., batch, in)."""

    parametric = True

    def forward(self, node: Any, ins: Sequence[Array], W: Array, read: Crossbar) -> Array:
        x = ins[0]
        return read(forward_product(W, x), x, "forward")

    def backward(self, node: Any, delta: Array, W: Array, ins: Sequence[Array], read: Crossbar) -> list[Array]:
        return [read(backward_product(W, delta), delta, "backward")]

    def readout(self, node: Any, delta: Array, ins: Sequence[Array]) -> tuple[Array, Array]:
        return outer_product(delta, ins[0]), delta.sum(axis=-2)

    def add_bias(self, y: Array, b: Array) -> Array:
        return y + b[..., None, :]


class ConvOp:
    """A d-dimensional convolution (d = 1, 2) by im2col: each output position is one read of the (C_out, C_in k^d)
    crossbar. W is stored as torch's (.., C_out, C_in, k...); the crossbar holds it as (.., C_out, k... C_in)."""

    parametric = True

    def __init__(self, dims: int) -> None:
        self.dims = dims

    def _geometry(self, node: Any) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        k, s, p = node.kernel, node.stride, node.padding
        as_tuple = (lambda v: tuple(v)) if self.dims == 2 else (lambda v: (v,))
        return as_tuple(k), as_tuple(s), as_tuple(p)

    def matrix(self, W: Array) -> Array:
        """The crossbar of W: (.., C_out, C_in, k...) -> (.., C_out, k... x C_in), rows ordered as the patches."""
        xp = namespace(W)
        lead = W.ndim - 2 - self.dims
        moved = xp.moveaxis(W, lead + 1, -1)  # (.., C_out, k..., C_in)
        return moved.reshape(*moved.shape[: lead + 1], -1)

    def patches(self, node: Any, x: Array) -> Array:
        """(.., B, spatial..., C) -> (.., B, out positions..., k... x C), one row per read (a copy)."""
        xp = namespace(x)
        k, s, p = self._geometry(node)
        d = self.dims
        if any(p):
            pad = [(0, 0)] * (x.ndim - d - 1) + [(q, q) for q in p] + [(0, 0)]
            x = xp.pad(x, pad)
        outs = tuple((x.shape[-1 - d + i] - k[i]) // s[i] + 1 for i in range(d))
        strides = x.strides
        spatial = strides[-1 - d : -1]
        shape = (*x.shape[: -1 - d], *outs, *k, x.shape[-1])
        view = np.lib.stride_tricks.as_strided(
            x, shape=shape, strides=(*strides[: -1 - d], *(spatial[i] * s[i] for i in range(d)), *spatial, strides[-1]),
            writeable=False,
        )  # fmt: skip
        return view.reshape(*shape[: x.ndim - 1], -1)

    def _lift(self, cols: Array, lead: int) -> Array:
        """Patches with the parameters' ``lead`` leading axes: an input without the chip axis (the clamped data,
        shared by every chip) gets length-1 axes in front, so its reads broadcast against every chip's kernel."""
        missing = lead - (cols.ndim - 2 - self.dims)
        return cols.reshape((1,) * missing + cols.shape) if missing > 0 else cols

    def forward(self, node: Any, ins: Sequence[Array], W: Array, read: Crossbar) -> Array:
        Wm = self.matrix(W)
        lead = W.ndim - 2 - self.dims
        cols = self._lift(self.patches(node, ins[0]), lead)
        flat = cols.reshape(*cols.shape[:lead], -1, cols.shape[-1])  # (.., rows, k C): every read a row
        y = read(flat @ Wm.swapaxes(-1, -2), flat, "forward")
        return y.reshape(*y.shape[:lead], *cols.shape[lead:-1], y.shape[-1])

    def backward(self, node: Any, delta: Array, W: Array, ins: Sequence[Array], read: Crossbar) -> list[Array]:
        xp = namespace(delta)
        x = ins[0]
        k, s, p = self._geometry(node)
        d = self.dims
        lead = W.ndim - 2 - d
        rows = delta.reshape(*delta.shape[:lead], -1, delta.shape[-1])
        dcols = read(rows @ self.matrix(W), rows, "backward")
        dcols = dcols.reshape(*delta.shape[:-1], *k, x.shape[-1])  # (.., B, out..., k..., C)
        padded = [x.shape[-1 - d + i] + 2 * p[i] for i in range(d)]
        out = xp.zeros((*delta.shape[: -1 - d], *padded, x.shape[-1]), dtype=dcols.dtype)  # NOTE: delta's chips
        outs = delta.shape[-1 - d : -1]
        for offset in np.ndindex(*k):
            window = tuple(slice(offset[i], offset[i] + s[i] * (outs[i] - 1) + 1, s[i]) for i in range(d))
            take = (Ellipsis, *([slice(None)] * d), *offset, slice(None))
            out[(Ellipsis, *window, slice(None))] += dcols[take]
        crop = tuple(slice(p[i], p[i] + x.shape[-1 - d + i]) for i in range(d))
        return [out[(Ellipsis, *crop, slice(None))]]

    def readout(self, node: Any, delta: Array, ins: Sequence[Array]) -> tuple[Array, Array]:
        xp = namespace(delta)
        d = self.dims
        lead = delta.ndim - 2 - d
        cols = self._lift(self.patches(node, ins[0]), lead)
        flat_cols = cols.reshape(*cols.shape[:lead], -1, cols.shape[-1])
        flat_delta = delta.reshape(*delta.shape[:lead], -1, delta.shape[-1])
        G = flat_delta.swapaxes(-1, -2) @ flat_cols  # (.., C_out, k... x C_in)
        k, _, _ = self._geometry(node)
        c_in = ins[0].shape[-1]
        G = G.reshape(*G.shape[:-1], *k, c_in)
        return xp.moveaxis(G, -1, lead + 1), flat_delta.sum(axis=-2)

    def add_bias(self, y: Array, b: Array) -> Array:
        return y + b.reshape(*b.shape[:-1], *([1] * (self.dims + 1)), b.shape[-1])


class PoolOp:
    """Average or max pooling over windows of k (every spatial axis), stride s, channels-last."""

    parametric = False

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def _view(self, node: Any, x: Array, d: int) -> tuple[Array, tuple[int, ...]]:
        k, s = node.kernel, node.step
        outs = tuple((x.shape[-1 - d + i] - k) // s + 1 for i in range(d))
        st = x.strides
        spatial = st[-1 - d : -1]
        shape = (*x.shape[: -1 - d], *outs, *([k] * d), x.shape[-1])
        strides = (*st[: -1 - d], *(q * s for q in spatial), *spatial, st[-1])
        return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False), outs

    def forward(self, node: Any, ins: Sequence[Array], d: int) -> Array:
        view, _ = self._view(node, ins[0], d)
        axes = tuple(range(-1 - d, -1))
        return view.mean(axis=axes) if self.mode == "avg" else view.max(axis=axes)

    def backward(self, node: Any, delta: Array, ins: Sequence[Array], d: int) -> list[Array]:
        xp = namespace(delta)
        x = ins[0]
        k, s = node.kernel, node.step
        outs = delta.shape[-1 - d : -1]
        out = xp.zeros(x.shape, dtype=delta.dtype)
        if self.mode == "avg":
            share = delta / (k**d)
            for offset in np.ndindex(*([k] * d)):
                window = tuple(slice(offset[i], offset[i] + s * (outs[i] - 1) + 1, s) for i in range(d))
                out[(Ellipsis, *window, slice(None))] += share
            return [out]
        view, _ = self._view(node, x, d)
        flat = view.reshape(*view.shape[: -1 - d], k**d, view.shape[-1])
        first = flat.argmax(axis=-2)  # NOTE: the first maximum of each window, as torch routes ties
        for index, offset in enumerate(np.ndindex(*([k] * d))):
            window = tuple(slice(offset[i], offset[i] + s * (outs[i] - 1) + 1, s) for i in range(d))
            out[(Ellipsis, *window, slice(None))] += xp.where(first == index, delta, 0)
        return [out]


def flatten_forward(x: Array, shape: Shape) -> Array:
    """(.., B, spatial..., C) -> (.., B, C x spatial...) in torch's C order."""
    if len(shape) == 1:
        return x
    ext = to_external(x, shape)
    return ext.reshape(*ext.shape[: -len(shape)], math.prod(shape))


def flatten_backward(delta: Array, shape: Shape) -> Array:
    if len(shape) == 1:
        return delta
    return to_internal(delta.reshape(*delta.shape[:-1], *shape), shape)


OPS: dict[type, Any] = {
    Linear: DenseOp(),
    Conv1d: ConvOp(1),
    Conv2d: ConvOp(2),
    AvgPool: PoolOp("avg"),
    MaxPool: PoolOp("max"),
    Flatten: None,
    Add: None,
    Concat: None,
    Act: None,
}  # NOTE: parameter-free junctions without an op object are written out in :func:`linear` and :func:`transpose`


def linear(node: Any, ins: Sequence[Array], in_shapes: Sequence[Shape]) -> Array:
    """The junction of a parameter-free node (no devices: no crossbar read)."""
    kind = type(node)
    if kind is Add:
        total = ins[0] + ins[1]
        for more in ins[2:]:
            total = total + more
        return total
    if kind is Concat:
        return namespace(ins[0]).concatenate(list(ins), axis=-1)
    if kind is Flatten:
        return flatten_forward(ins[0], in_shapes[0])
    if kind is Act:
        return ins[0]
    return OPS[kind].forward(node, ins, len(in_shapes[0]) - 1)


def transpose(node: Any, delta: Array, ins: Sequence[Array], in_shapes: Sequence[Shape]) -> list[Array]:
    """The backward wave a parameter-free node sends to each of its inputs."""
    kind = type(node)
    if kind is Add:
        return [delta] * len(ins)
    if kind is Concat:
        widths = [x.shape[-1] for x in ins]
        edges = np.cumsum(widths)[:-1]
        return namespace(delta).split(delta, [int(e) for e in edges], axis=-1)
    if kind is Flatten:
        return [flatten_backward(delta, in_shapes[0])]
    if kind is Act:
        return [delta]
    return OPS[kind].backward(node, delta, ins, len(in_shapes[0]) - 1)
