"""The junctions of network graphs: shared-weight convolutions, poolings, sums, wirings and the fan-out splitter.

A net of a node whose sample shape is (C, L) or (C, H, W) carries C x L (x W) wires in channels-first order (wire
``c * L + t``, torch's C order), so a Flatten is the identity wiring and a concatenation along channels joins whole
bundles. Every junction is built of unilateral cells (zero output impedance, high-impedance inputs), as the dense
:class:`~wavetrain.circuits.elements.Junction` is: its forward product drives the node's pre-activation, its
transpose drives one backward wave per input. ``back_out`` entries are None where the input is the clamp (the
backward wave is absorbed there). Index maps (which wire feeds which) are computed once per element
(:meth:`ConvJunction.windows`, :meth:`Pool.windows`) and shared by the SPICE writer and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from wavetrain.circuits.crossbar import Crossbar
from wavetrain.circuits.elements import (
    KIND_NAMES,
    Junction,
    Net,
    _names,
    check_choice,
    check_name,
    check_width,
    readonly,
)
from wavetrain.errors import CircuitError

Shape = tuple[int, ...]


def _shape(element: object, field: str, value: object, rank: int | None = None) -> Shape:
    name = getattr(element, "name", "?")
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value)
        or (rank is not None and len(value) != rank)
    ):
        want = f"{rank} positive integers" if rank is not None else "a tuple of positive integers"
        raise CircuitError(f"{type(element).__name__} {name!r}: {field} must be {want}, got {value!r}")
    return tuple(int(v) for v in value)


def _nets(element: object, field: str, value: object, optional: bool = False) -> tuple[Net | None, ...]:
    name = getattr(element, "name", "?")
    if not isinstance(value, tuple) or not value:
        raise CircuitError(
            f"{type(element).__name__} {name!r}: {field} must be a non-empty tuple of nets, got {value!r}"
        )
    for net in value:
        if net is not None or not optional:
            check_name(net, f"{type(element).__name__} {name!r}: net {field}")
    return value


def _sliding(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True, eq=False, kw_only=True)
class ConvJunction:
    r"""A convolution's crossbar: one kernel W (C_out, C_in, k...) shared by every output position, plus the bias.

    .. math:: v_b[o, t] = (1 - \mathrm{leak}) \Big(\sum_{c, j} W_{o,c,j}\, v_a[c, t s + j - p] + \beta_o\Big)

    .. math:: v_{\mathrm{back\_out}}[c, u] = \sum_{o,\,(t, j):\,t s + j - p = u} W_{o,c,j}\, v_{\mathrm{back\_in}}[o, t]

    (zero padding p, stride s, per spatial axis; cross-correlation as torch's ConvNd). The weights are stored once:
    the SPICE writer defines one function per output channel (and per input channel and stride phase backward) that
    every position calls, and the learning circuit holds one capacitor per shared weight, charged by the effort
    summed over positions and samples. Units: volts per volt.
    """

    name: str
    a: Net  # the input x, C_in x S wires (channels first)
    b: Net  # the pre-activation, C_out x O wires
    back_in: Net  # delta (C_out x O)
    back_out: Net | None  # the backward wave to the input (C_in x S); None at the clamp
    weight: np.ndarray  # W, shape (C_out, C_in, *kernel) [V/V]
    bias: np.ndarray  # beta, shape (C_out,) [V]
    in_shape: Shape  # (C_in, *spatial) of one sample
    stride: Shape  # per spatial axis
    padding: Shape  # zeros per side, per spatial axis
    leak: float = 0.0  # fraction of the held a lost per tick [1]
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "a", "b", "back_in", "back_out", optional=("back_out",))
        weight = np.asarray(self.weight)
        if weight.ndim not in (3, 4) or min(weight.shape) < 1:
            raise CircuitError(
                f"conv junction {self.name!r}: weight must be (C_out, C_in, k) or (C_out, C_in, kh, kw), got shape "
                f"{weight.shape}"
            )
        d = weight.ndim - 2
        object.__setattr__(self, "in_shape", _shape(self, "in_shape", self.in_shape, d + 1))
        object.__setattr__(self, "stride", _shape(self, "stride", self.stride, d))
        padding = self.padding
        if (
            not isinstance(padding, tuple)
            or len(padding) != d
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in padding)
        ):
            raise CircuitError(f"conv junction {self.name!r}: padding must be {d} integers >= 0, got {padding!r}")
        object.__setattr__(self, "padding", tuple(int(v) for v in padding))
        if weight.shape[1] != self.in_shape[0]:
            raise CircuitError(
                f"conv junction {self.name!r}: weight takes {weight.shape[1]} input channels, in_shape has "
                f"{self.in_shape[0]}"
            )
        for axis, (n, k, p) in enumerate(zip(self.in_shape[1:], self.kernel, self.padding)):
            if k > n + 2 * p:
                raise CircuitError(
                    f"conv junction {self.name!r}: kernel {k} exceeds axis {axis} of the input ({n} + 2 x {p})"
                )
        if not (isinstance(self.leak, (int, float)) and 0.0 <= self.leak < 1.0):
            raise CircuitError(f"conv junction {self.name!r}: leak must be a number in [0, 1), got {self.leak!r}")
        object.__setattr__(self, "weight", readonly(self, "weight", weight))
        object.__setattr__(self, "bias", readonly(self, "bias", self.bias, (weight.shape[0],)))

    @property
    def kernel(self) -> Shape:
        return tuple(self.weight.shape[2:])

    @property
    def out_shape(self) -> Shape:
        spatial = (_sliding(*g) for g in zip(self.in_shape[1:], self.kernel, self.stride, self.padding))
        return (self.weight.shape[0], *spatial)

    @property
    def in_width(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_width(self) -> int:
        return math.prod(self.out_shape)

    @cached_property
    def windows(self) -> np.ndarray:
        """(positions, C_in x prod(kernel)): the input wire each tap of each output position reads, -1 in the padding.

        Output wire (o, t) is ``o * positions + t``; its tap q multiplies weight ``W.reshape(C_out, -1)[o, q]``."""
        return _windows(self.in_shape, self.kernel, self.stride, self.padding)

    @cached_property
    def phases(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The transpose, grouped by stride phase: [(taps, inputs, wires)]. Every input wire of a group (``inputs``)
        sums the same kernel taps (``taps``: columns q of ``W.reshape(C_out, -1)``) of every output channel;
        ``wires[i, o * len(taps) + k]`` is the output wire that tap k of channel o reads for input i (-1: none, at an
        edge). Backward wave: ``back_out[inputs[i]] = sum_{o,k} W[o, taps[k]] back_in[wires[i, o T + k]]``."""
        return _phases(self.windows, self.in_width, self.in_shape[0], self.weight.shape[0])


def _windows(in_shape: Shape, kernel: Shape, stride: Shape, padding: Shape) -> np.ndarray:
    channels, spatial = in_shape[0], in_shape[1:]
    outs = tuple(_sliding(*g) for g in zip(spatial, kernel, stride, padding))
    grids = np.meshgrid(*(np.arange(n) for n in outs), *(np.arange(k) for k in kernel), indexing="ij")
    d = len(spatial)
    pos = [grids[i] * stride[i] + grids[d + i] - padding[i] for i in range(d)]  # (outs..., kernel...)
    valid = np.all([(p >= 0) & (p < n) for p, n in zip(pos, spatial)], axis=0)
    flat = np.ravel_multi_index([np.clip(p, 0, n - 1) for p, n in zip(pos, spatial)], spatial)
    flat = np.where(valid, flat, -1).reshape(math.prod(outs), math.prod(kernel))
    size = math.prod(spatial)
    per_channel = [np.where(flat >= 0, flat + c * size, -1) for c in range(channels)]
    return np.concatenate(per_channel, axis=1)  # columns (c, kernel offset), as W.reshape(C_out, C_in * k...)


def _phases(
    windows: np.ndarray, in_width: int, channels: int, c_out: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Group every input wire by the kernel taps that read it; an edge input read by fewer taps joins the group of
    its channel whose taps include its own (zeros stand in for the missing ones)."""
    positions = windows.shape[0]
    reads: list[dict[int, int]] = [{} for _ in range(in_width)]  # input wire -> {tap q: output position t}
    for t, q in zip(*np.nonzero(windows >= 0)):
        reads[windows[t, q]][int(q)] = int(t)
    groups: dict[tuple[int, ...], list[int]] = {}
    for u in range(in_width):
        groups.setdefault(tuple(sorted(reads[u])), []).append(u)
    merged: dict[tuple[int, ...], list[int]] = {}
    for taps in sorted(groups, key=lambda k: (groups[k][0] * channels // in_width, -len(k), k)):
        channel = groups[taps][0] * channels // in_width
        home = next((m for m in merged if merged[m][0] * channels // in_width == channel and set(taps) <= set(m)), None)
        merged.setdefault(home if home is not None else taps, []).extend(groups[taps])
    out = []
    for taps, inputs in merged.items():
        inputs = sorted(inputs)
        wires = np.full((len(inputs), c_out * len(taps)), -1, dtype=int)
        for row, u in enumerate(inputs):
            for k, q in enumerate(taps):
                t = reads[u].get(q)
                if t is not None:
                    wires[row, k :: len(taps)] = np.arange(c_out) * positions + t
        out.append((np.array(taps, dtype=int), np.array(inputs, dtype=int), wires))
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class Pool:
    r"""A pooling junction over windows of ``kernel`` (every spatial axis) every ``stride``: parameter-free.

    .. math:: \text{avg: } v_b[c, t] = \frac{1}{k^d}\sum_{j} v_a[c, t s + j], \qquad
              v_{\mathrm{back\_out}}[c, u] = \frac{1}{k^d}\sum_{t \ni u} v_{\mathrm{back\_in}}[c, t]

    .. math:: \text{max: } v_b[c, t] = \max_j v_a[c, t s + j], \qquad
              v_{\mathrm{back\_out}}[c, u] = \sum_{t \ni u} [u = \operatorname{argmax}_t]\, v_{\mathrm{back\_in}}[c, t]

    The max junction routes each window's delta to its first maximum (ties as torch), the way a nonlinearity's
    derivative gates a sensitivity: its backward cells compare the forward inputs.
    """

    name: str
    a: Net
    b: Net
    back_in: Net
    back_out: Net | None
    mode: str  # "avg" or "max"
    in_shape: Shape  # (C, *spatial)
    kernel: int
    stride: int
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "a", "b", "back_in", "back_out", optional=("back_out",))
        check_choice(self, "mode", self.mode, ("avg", "max"))
        shape = _shape(self, "in_shape", self.in_shape)
        if len(shape) not in (2, 3):
            raise CircuitError(f"pool {self.name!r}: in_shape must be (C, L) or (C, H, W), got {shape}")
        object.__setattr__(self, "in_shape", shape)
        check_width(self, "kernel", self.kernel)
        check_width(self, "stride", self.stride)
        if self.kernel > min(shape[1:]):
            raise CircuitError(f"pool {self.name!r}: kernel {self.kernel} exceeds the input {shape}")

    @property
    def out_shape(self) -> Shape:
        return (self.in_shape[0], *(_sliding(n, self.kernel, self.stride, 0) for n in self.in_shape[1:]))

    @property
    def in_width(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_width(self) -> int:
        return math.prod(self.out_shape)

    @cached_property
    def windows(self) -> np.ndarray:
        """(C x positions, k^d): the input wires of each output wire's window, in window order (row-major)."""
        d = len(self.in_shape) - 1
        per_channel = _windows((1, *self.in_shape[1:]), (self.kernel,) * d, (self.stride,) * d, (0,) * d)
        size = math.prod(self.in_shape[1:])
        return np.concatenate([per_channel + c * size for c in range(self.in_shape[0])], axis=0)


@dataclass(frozen=True, kw_only=True)
class Sum:
    r"""An addition: a junction of three (or more) lines. Forward the inputs add; backward every input line carries
    the whole delta (the transpose of [I I ...]).

    .. math:: v_b = \sum_k v_{a_k}, \qquad v_{\mathrm{back\_out}_k} = v_{\mathrm{back\_in}}
    """

    name: str
    a: tuple[Net, ...]
    b: Net
    back_in: Net
    back_out: tuple[Net | None, ...]
    width: int
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "b", "back_in")
        _nets(self, "a", self.a)
        _nets(self, "back_out", self.back_out, optional=True)
        check_width(self, "width", self.width)
        if len(self.a) < 2 or len(self.back_out) != len(self.a):
            raise CircuitError(
                f"sum {self.name!r}: expected at least 2 inputs and one back_out per input, got {len(self.a)} and "
                f"{len(self.back_out)}"
            )


@dataclass(frozen=True, kw_only=True)
class Wiring:
    r"""A wiring of lines (a concatenation, a flatten, the identity before a lone nonlinearity): the output's wires
    are the inputs' wires, joined in order; backward each input takes its slice of the delta.

    .. math:: v_b = [v_{a_1} \,|\, v_{a_2} \,|\, \dots], \qquad
              v_{\mathrm{back\_out}_k} = v_{\mathrm{back\_in}}[o_k : o_k + w_k]
    """

    name: str
    a: tuple[Net, ...]
    widths: tuple[int, ...]  # wires of each input
    b: Net
    back_in: Net
    back_out: tuple[Net | None, ...]
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "b", "back_in")
        _nets(self, "a", self.a)
        _nets(self, "back_out", self.back_out, optional=True)
        _shape(self, "widths", self.widths)
        if not len(self.a) == len(self.widths) == len(self.back_out):
            raise CircuitError(
                f"wiring {self.name!r}: expected one width and one back_out per input, got {len(self.a)} inputs, "
                f"{len(self.widths)} widths, {len(self.back_out)} back_out"
            )

    @property
    def width(self) -> int:
        return sum(self.widths)


@dataclass(frozen=True, kw_only=True)
class Splitter:
    r"""A fan-out: the wave at one line's far end feeds several consumers (or one through a delay line).

    Forward, the far end keeps its matched load z0 and every branch taps it through a high-impedance input: a
    consumer's junction directly, a branch with a delay line through a unity buffer that drives that line (``taps``),
    so the line sees z0 and reflects nothing. Backward, each branch's wave arrives on its own net (``back_in``, in
    the consumers' topological order) and the splitter's summing cell adds them (Kirchhoff at the node):

    .. math:: v_{\mathrm{tap}_k} = v_a, \qquad v_{\mathrm{back\_out}} = \sum_k v_{\mathrm{back\_in}_k}

    The input clamp's splitter has taps only (the input absorbs the backward wave).
    """

    name: str
    a: Net
    width: int
    taps: tuple[Net, ...] = ()
    back_in: tuple[Net, ...] = ()
    back_out: Net | None = None
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "a", "back_out", optional=("back_out",))
        check_width(self, "width", self.width)
        for field in ("taps", "back_in"):
            value = getattr(self, field)
            if not isinstance(value, tuple):
                raise CircuitError(f"splitter {self.name!r}: {field} must be a tuple of nets, got {value!r}")
            for net in value:
                check_name(net, f"splitter {self.name!r}: net {field}")
        if bool(self.back_in) != (self.back_out is not None):
            raise CircuitError(
                f"splitter {self.name!r}: back_in and back_out come together (a summing cell needs both)"
            )
        if not self.taps and not self.back_in:
            raise CircuitError(f"splitter {self.name!r}: needs taps or backward branches, got neither")


GraphJunction = ConvJunction | Pool | Sum | Wiring  # the junctions of graph nodes beyond the dense one
ParametricJunction = Junction | ConvJunction | Crossbar  # the junctions with weights: what a parameter port holds
KIND_NAMES.update({ConvJunction: "conv junction", Pool: "pool", Sum: "sum", Wiring: "wiring", Splitter: "splitter"})
