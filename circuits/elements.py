"""Circuit IR elements. Quantities are SI (ohm, second, farad, henry, volt); nets are bundle names.

One element stands for a layer-sized group (a bundle), never a single wire: a net of width n carries n wires, and the
circuit replicates every signal net once per sample of its batch (weights are shared). Elements are immutable
values; passes build new ones with :func:`dataclasses.replace`. Every name is checked against ``[A-Za-z][A-Za-z0-9_]*``
when the element is built, so no text from a name can ever reach a netlist unvalidated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from wavetrain.errors import CircuitError

Net = str
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME = 64


def check_name(name: Any, what: str = "name") -> str:
    """Return name if it is a safe identifier ``[A-Za-z][A-Za-z0-9_]*`` (at most 64 characters), else raise."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME:
        raise CircuitError(
            f"{what} {name!r} is not a valid name: expected [A-Za-z][A-Za-z0-9_]* of at most {MAX_NAME} characters"
        )
    return name


def check_positive(element: Any, field: str, value: Any, unit: str) -> None:
    """Raise CircuitError unless value is a finite number > 0."""
    if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value) or value <= 0:
        raise CircuitError(f"{_kind(element)} {element.name!r}: {field} must be > 0 {unit}, got {value!r}")


def check_width(element: Any, field: str, value: Any) -> None:
    """Raise CircuitError unless value is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise CircuitError(f"{_kind(element)} {element.name!r}: {field} must be an integer >= 1, got {value!r}")


def check_choice(element: Any, field: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise CircuitError unless value is one of choices."""
    if value not in choices:
        raise CircuitError(f"{_kind(element)} {element.name!r}: {field} must be one of {choices}, got {value!r}")


def readonly(element: Any, field: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A read-only float64 copy of value, checked for finiteness and (optionally) shape."""
    array = np.array(value, dtype=np.float64)
    if shape is not None and array.shape != shape:
        raise CircuitError(f"{_kind(element)} {element.name!r}: {field} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise CircuitError(
            f"{_kind(element)} {element.name!r}: {field} must be finite, got {array[~np.isfinite(array)][0]}"
        )
    array.setflags(write=False)
    return array


def _kind(element: Any) -> str:
    return KIND_NAMES.get(type(element), type(element).__name__)


def _names(element: Any, *fields: str, optional: tuple[str, ...] = ()) -> None:
    check_name(element.name, _kind(element))
    for field in fields:
        value = getattr(element, field)
        if value is not None or field not in optional:
            check_name(value, f"{_kind(element)} {element.name!r}: net {field}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransmissionLine:
    r"""A bundle of ``width`` lines carrying one wave (activations forward or sensitivities backward).

    .. math:: v^{+}_{b}(t) = e^{-\alpha} v^{+}_{a}(t - \mathrm{delay}), \qquad
              v^{-}_{a}(t) = e^{-\alpha} v^{-}_{b}(t - \mathrm{delay})

    Ports: ``a`` (driven end) and ``b`` (far end), both referenced to ground. A far end loaded by z0 reflects nothing.
    ``loss`` alpha (0: lossless) attenuates each traversal; in SPICE it is a matched resistive pad at the far end.
    """

    name: str
    a: Net
    b: Net
    width: int
    z0: float  # characteristic impedance [ohm]
    delay: float  # one-way propagation delay [s]
    loss: float = 0.0  # attenuation per traversal alpha [Np]
    node: str | None = None  # the network node whose wave this line carries
    wave: str | None = None  # which wave: "forward" (s) or "backward" (lam)
    edge: tuple[str, str] | None = None  # a skip's delay line: the graph edge (source, consumer) it lengthens

    def __post_init__(self) -> None:
        _names(self, "a", "b")
        check_width(self, "width", self.width)
        check_positive(self, "z0", self.z0, "ohm")
        check_positive(self, "delay", self.delay, "s")
        if not (isinstance(self.loss, (int, float)) and 0.0 <= self.loss < np.inf):
            raise CircuitError(f"line {self.name!r}: loss must be a number >= 0 Np, got {self.loss!r}")
        if self.wave is not None:
            check_choice(self, "wave", self.wave, ("forward", "backward"))
        if self.edge is not None and (
            not isinstance(self.edge, tuple) or len(self.edge) != 2 or not all(isinstance(v, str) for v in self.edge)
        ):
            raise CircuitError(f"line {self.name!r}: edge must be a pair of node ids, got {self.edge!r}")


@dataclass(frozen=True, eq=False, kw_only=True)
class Junction:
    r"""One layer's crossbar: an ideal multiport transformer with turns matrix W, plus the bias source.

    .. math:: v_b = (1 - \mathrm{leak}) (W v_a + \beta), \qquad v_{\mathrm{back\_out}} = W^{\top} v_{\mathrm{back\_in}}

    ``leak`` (0 for an ideal junction) is the fraction of a_l its integrator loses over the tick it holds it.
    Forward flows go through W, backward efforts through its transpose, so with the bias held the junction conserves
    power: :math:`v_{\mathrm{back\_out}} \cdot \delta v_a = v_{\mathrm{back\_in}} \cdot \delta v_b` (spec 1.5, T5).
    ``back_out`` is None at the first layer, where the backward wave is absorbed. Units: volts per volt.
    """

    name: str
    a: Net  # presynaptic activations s_{l-1}, width = in
    b: Net  # pre-activation a_l, width = out
    back_in: Net  # delta_l = sigma'(a_l) * lam_l, width = out
    back_out: Net | None  # lam_{l-1} sent back, width = in
    weight: np.ndarray  # W, shape (out, in) [V/V]
    bias: np.ndarray  # beta, shape (out,) [V]
    leak: float = 0.0  # fraction of the held a_l lost per tick [1]
    node: str | None = None  # the network node this junction computes

    def __post_init__(self) -> None:
        _names(self, "a", "b", "back_in", "back_out", optional=("back_out",))
        if not (isinstance(self.leak, (int, float)) and 0.0 <= self.leak < 1.0):
            raise CircuitError(f"junction {self.name!r}: leak must be a number in [0, 1), got {self.leak!r}")
        weight = np.asarray(self.weight)
        if weight.ndim != 2 or min(weight.shape) < 1:
            raise CircuitError(
                f"junction {self.name!r}: weight must be a non-empty 2-D (out, in) array, got shape {weight.shape}"
            )
        object.__setattr__(self, "weight", readonly(self, "weight", weight))
        object.__setattr__(self, "bias", readonly(self, "bias", self.bias, (weight.shape[0],)))

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, kw_only=True)
class Nonlinearity:
    r"""The activation and its derivative, side by side (forward cell and backward gate of one layer).

    .. math:: v_b = \sigma(v_a), \qquad v_{\mathrm{delta}} = \sigma'(v_a) \odot v_{\mathrm{lam}}
    """

    name: str
    a: Net  # pre-activation in
    b: Net  # activation out
    lam: Net  # sensitivity lam_l in
    delta: Net  # gated sensitivity out
    width: int
    activation: str
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "a", "b", "lam", "delta")
        check_width(self, "width", self.width)
        from wavetrain.compiler.functions import ACTIVATIONS  # NOTE: lazily; the compiler package imports circuits

        check_choice(self, "activation", self.activation, tuple(ACTIVATIONS))


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleHold:
    r"""A wave cell's memory below Courant number 1: a clocked sample-and-hold with gain nu.

    ``held`` is the far end of the line this cell drives, one tick old:

    .. math:: v_b(t) = (1 - \nu) v_{\mathrm{held}}(t) + \nu v_a(t)
    """

    name: str
    a: Net
    b: Net
    width: int
    held: Net | None = None  # one-tick-old copy of b
    gain: float = 1.0  # Courant number nu [1]
    node: str | None = None  # the network node whose cell this is

    def __post_init__(self) -> None:
        _names(self, "a", "b", "held", optional=("held",))
        check_width(self, "width", self.width)
        check_positive(self, "gain", self.gain, "(Courant number)")
        if self.held is None:
            raise CircuitError(f"sample-hold {self.name!r}: needs the net 'held' (its line's far end), got None")


@dataclass(frozen=True, slots=True, kw_only=True)
class LeakyIntegrator:
    r"""A continuous-time RC integrator (tau = RC) buffered onto its output net.

    .. math:: \tau \dot v_b = v_a - v_b
    """

    name: str
    a: Net
    b: Net
    width: int
    tau: float = 1e-9  # time constant RC [s]
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "a", "b")
        check_width(self, "width", self.width)
        check_positive(self, "tau", self.tau, "s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Termination:
    r"""A resistive load at a line end: matched (resistance = z0) it absorbs the arriving wave.

    .. math:: v_a = R\, i_a, \qquad \Gamma = (R - z_0) / (R + z_0)
    """

    name: str
    a: Net
    width: int
    resistance: float  # [ohm]

    def __post_init__(self) -> None:
        _names(self, "a")
        check_width(self, "width", self.width)
        check_positive(self, "resistance", self.resistance, "ohm")


@dataclass(frozen=True, eq=False, kw_only=True)
class Source:
    r"""The input clamp: per-sample voltages switched on at ``start`` over ``rise``, optionally for ``duration``.

    .. math:: v_b(t) = x \cdot \mathrm{ramp}(t) - R_s i_b

    ``resistance`` 0 is an ideal clamp; a positive one is a Thevenin source (a matched source when it equals z0).
    """

    name: str
    b: Net
    values: np.ndarray  # x, shape (batch, width) [V]
    resistance: float = 0.0  # series source resistance [ohm]
    start: float = 0.0  # [s]
    rise: float = 1e-11  # ramp time [s]
    duration: float | None = None  # pulse length after the ramp [s]; None holds forever

    def __post_init__(self) -> None:
        _names(self, "b")
        values = np.asarray(self.values)
        if values.ndim != 2 or min(values.shape) < 1:
            raise CircuitError(f"source {self.name!r}: values must be 2-D (batch, width), got shape {values.shape}")
        object.__setattr__(self, "values", readonly(self, "values", values))
        check_positive(self, "rise", self.rise, "s")
        if not math.isfinite(self.resistance) or self.resistance < 0:
            raise CircuitError(f"source {self.name!r}: resistance must be >= 0 ohm, got {self.resistance!r}")
        if not math.isfinite(self.start) or self.start < 0:
            raise CircuitError(f"source {self.name!r}: start must be >= 0 s, got {self.start!r}")
        if self.duration is not None:
            check_positive(self, "duration", self.duration, "s")

    @property
    def width(self) -> int:
        return self.values.shape[1]


@dataclass(frozen=True, eq=False, kw_only=True)
class LossLoad:
    r"""The output termination that reflects the error wave (spec 1.6).

    Zero reflection iff the output equals the target.

    .. math:: v_b = \nabla_s C(v_a, y) / B
        \quad (\text{mse: } (v_a - y)/B; \ \text{cross-entropy: } (\mathrm{softmax}(v_a) - y)/B)
    """

    name: str
    a: Net  # s_L, width n
    b: Net  # lam_L, width n
    target: np.ndarray  # y, shape (batch, n) [V]
    loss: str

    def __post_init__(self) -> None:
        _names(self, "a", "b")
        target = np.asarray(self.target)
        if target.ndim != 2 or min(target.shape) < 1:
            raise CircuitError(f"loss load {self.name!r}: target must be 2-D (batch, width), got shape {target.shape}")
        object.__setattr__(self, "target", readonly(self, "target", target))
        from wavetrain.compiler.functions import LOSSES  # NOTE: lazily; the compiler package imports circuits

        check_choice(self, "loss", self.loss, tuple(LOSSES))

    @property
    def width(self) -> int:
        return self.target.shape[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbePort:
    r"""The third port of a junction with its weights frozen: the effort g = delta^T s (summed over the batch) is only
    measured.

    .. math:: g_W = \sum_b \delta_b s_b^{\top}, \qquad g_\beta = \sum_b \delta_b
    """

    name: str
    junction: str  # the Junction whose gradient this port reads
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "junction")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResistivePort:
    r"""A junction's parameter port terminated by a resistor R into the weight capacitors C (gradient flow).

    .. math:: R\, i = g, \qquad C \dot\theta = -i \quad\Rightarrow\quad \dot\theta = -\eta g,\ \eta = 1/(RC)
    """

    name: str
    junction: str  # the Junction whose weight and bias this port holds
    resistance: float = 1.0  # R [ohm]; learning rate eta = 1 / (R C) [1/s]
    capacitance: float = 1e-9  # C [F]
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "junction")
        check_positive(self, "resistance", self.resistance, "ohm")
        check_positive(self, "capacitance", self.capacitance, "F")

    @property
    def eta(self) -> float:
        """Learning rate of the resistor port [1/s]."""
        return 1.0 / (self.resistance * self.capacitance)


@dataclass(frozen=True, slots=True, kw_only=True)
class InductivePort:
    r"""A junction's parameter port terminated by an inductor L in series with R into the weight capacitors C
    (heavy ball: the inductor's current is the parameters' momentum).

    .. math:: L \dot i + R i = g, \qquad C \dot\theta = -i
    """

    name: str
    junction: str
    resistance: float = 1.0  # R [ohm]
    capacitance: float = 1e-9  # C [F]
    inductance: float | None = None  # L [H]
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "junction")
        check_positive(self, "resistance", self.resistance, "ohm")
        check_positive(self, "capacitance", self.capacitance, "F")
        check_positive(self, "inductance", self.inductance, "H")


Integrator = SampleHold | LeakyIntegrator  # a wave cell's memory
ParameterPort = ProbePort | ResistivePort | InductivePort  # a junction's third port
LearningPort = ResistivePort | InductivePort  # a port whose current moves the weights


KIND_NAMES: dict[type, str] = {
    TransmissionLine: "line",
    Junction: "junction",
    Nonlinearity: "nonlinearity",
    SampleHold: "sample-hold",
    LeakyIntegrator: "leaky integrator",
    Termination: "termination",
    Source: "source",
    LossLoad: "loss load",
    ProbePort: "parameter port",
    ResistivePort: "parameter port",
    InductivePort: "parameter port",
}
