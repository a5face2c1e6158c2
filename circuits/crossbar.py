"""The physical level of a dense junction: a resistive crossbar of conductance pairs, its drivers and sense amplifiers.

:class:`Crossbar` computes what a :class:`~wavetrain.circuits.elements.Junction` computes, y = W x + b forward and
W^T delta backward, but as a circuit designer builds it (docs/circuits.md, "Crossbar level"): the weights are
conductances G (the mapping and the array topology of :mod:`wavetrain.circuits.irdrop`, so the netlist and the IR-drop
model can never disagree), row drivers (DACs) put v_read x on the rows, the column currents sum by Kirchhoff's law into
transimpedance amplifiers (TIAs), and the backward wave drives the same array from the columns and reads the rows.

:class:`Device` names the subcircuit every cell is an instance of (default: a linear resistor of the mapped
conductance); :class:`CrossbarOptions` is what a user picks for a whole network (``compile_network(net,
level="crossbar", crossbar=...)``). Every name and file name is checked when these are built, so nothing a user passes
reaches a netlist as text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from wavetrain.circuits import irdrop
from wavetrain.circuits.elements import KIND_NAMES, Net, _names, check_choice, check_name, readonly
from wavetrain.errors import CircuitError

__all__ = ["TIAS", "Crossbar", "CrossbarOptions", "Device"]

TIAS = ("ideal", "vcvs")  # the sense amplifier: a 0 V source read by a CCVS, or a finite-gain op-amp (VCVS) with Rf
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # how an included model file may be named in a netlist


def _number(owner: str, field: str, value: Any, low: float, open_low: bool, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CircuitError(f"{owner}: {field} must be a number [{unit}], got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < low or (open_low and number == low):
        bound = ">" if open_low else ">="
        raise CircuitError(f"{owner}: {field} must be a finite number {bound} {low:g} {unit}, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    r"""The two-terminal device at every cell: an ngspice ``.subckt`` with pins ``p`` (row side) and ``n`` (column
    side) and one parameter ``g``, the mapped conductance [S] of that cell.

    .. math:: i_{p \to n} = f(v_p - v_n;\ g), \qquad f(v; g) = g v \text{ for the default linear resistor}

    ``subckt``: its name (``[A-Za-z][A-Za-z0-9_]*``). ``include``: the file that defines it (a ``.subckt ... .ends``
    and the ``.model`` cards it uses), or None for a subcircuit the netlist already defines. The netlist includes the
    file by its bare file name (``.include mydev.lib``; keep the file beside the netlist), and the spice target copies
    it into its work folder and reads it under the rules of an untrusted netlist (targets/deck.py) before ngspice runs.
    """

    subckt: str
    include: str | Path | None = None

    def __post_init__(self) -> None:
        check_name(self.subckt, "device subckt")
        if self.include is not None:
            if not isinstance(self.include, (str, Path)):
                raise CircuitError(f"device {self.subckt!r}: include must be a file path, got {self.include!r}")
            path = Path(self.include)
            if not FILE_NAME.fullmatch(path.name) or len(path.name) > 64:
                raise CircuitError(
                    f"device {self.subckt!r}: include file name {path.name!r} is not a valid name: expected "
                    f"[A-Za-z0-9_][A-Za-z0-9_.-]* of at most 64 characters"
                )
            if not path.is_file():
                raise CircuitError(f"device {self.subckt!r}: include {str(path)!r} is not a regular file")
            object.__setattr__(self, "include", path.resolve())

    @property
    def file_name(self) -> str | None:
        """The name the netlist includes the model file by (None: no file)."""
        return None if self.include is None else Path(self.include).name


@dataclass(frozen=True, eq=False, kw_only=True)
class Crossbar:
    r"""One dense junction as a crossbar read in both directions (the topology of :mod:`~wavetrain.circuits.irdrop`).

    Conductances G = irdrop.conductances(W, b, g_min, g_max, w_max), shape (n_in + 1, 2 n_out): the bias row last,
    column 2j holds G+ and column 2j+1 holds G- of output j, gs = (g_max - g_min) / w_max. Forward: row i driven at
    v_read x_i (the bias row at v_read), every column sense end S_k held at 0 V by its TIA, I_k the current into S_k:

    .. math:: v_b = (I_{2j} - I_{2j+1}) / (g_s v_{\mathrm{read}}) = W x + b \quad (\text{ideal array})

    Backward (the same array read in transpose): S_2j at +v_read delta_j, S_2j+1 at -v_read delta_j, every row end at
    0 V, I_i the current into row i's end:

    .. math:: v_{\mathrm{back\_out}} = I_i / (g_s v_{\mathrm{read}}) = W^\top \delta \quad (\text{ideal array})

    Non-idealities, each a netlist option: ``r_row``/``r_col`` the wire resistance of one row/column segment [ohm]
    (IR drop; the array then computes W_eff, and by reciprocity its transpose read is exactly W_eff^T), ``r_driver``
    the output resistance of every driver [ohm] (a limited DAC), ``tia="vcvs"`` a finite-gain op-amp of open-loop gain
    ``tia_gain`` with feedback resistor 1/gs (its virtual ground sits at -v_out/A), ``device`` the cell subcircuit.
    ``back_out`` None: the first layer, no transpose read. Units: volts per volt at the ports.
    """

    name: str
    a: Net  # the row inputs x, width n_in
    b: Net  # y, width n_out
    back_in: Net  # delta, width n_out
    back_out: Net | None  # W^T delta, width n_in
    weight: np.ndarray  # W, shape (n_out, n_in) [V/V]
    bias: np.ndarray  # b, shape (n_out,) [V]
    g_min: float  # lowest device conductance [S]
    g_max: float  # highest device conductance [S]
    w_max: float  # the weight magnitude g_max - g_min holds [V/V]
    v_read: float = 0.2  # read voltage of x = 1 [V]
    r_row: float = 0.0  # wire resistance of one row segment [ohm]
    r_col: float = 0.0  # wire resistance of one column segment [ohm]
    r_driver: float = 0.0  # output resistance of every row and column driver [ohm]
    tia: str = "ideal"
    tia_gain: float = 1e6  # open-loop gain of a "vcvs" TIA [V/V]
    device: Device | None = None  # None: a linear resistor of the mapped conductance (R cards)
    node: str | None = None

    def __post_init__(self) -> None:
        _names(self, "a", "b", "back_in", "back_out", optional=("back_out",))
        weight = np.asarray(self.weight)
        if weight.ndim != 2 or min(weight.shape) < 1:
            raise CircuitError(
                f"crossbar {self.name!r}: weight must be a non-empty 2-D (out, in) array, got shape {weight.shape}"
            )
        object.__setattr__(self, "weight", readonly(self, "weight", weight))
        object.__setattr__(self, "bias", readonly(self, "bias", self.bias, (weight.shape[0],)))
        owner = f"crossbar {self.name!r}"
        for field, low, open_low, unit in (
            ("g_min", 0.0, False, "S"),
            ("g_max", 0.0, True, "S"),
            ("w_max", 0.0, True, "V/V"),
            ("v_read", 0.0, True, "V"),
            ("r_row", 0.0, False, "ohm"),
            ("r_col", 0.0, False, "ohm"),
            ("r_driver", 0.0, False, "ohm"),
            ("tia_gain", 1.0, True, "V/V"),
        ):
            object.__setattr__(self, field, _number(owner, field, getattr(self, field), low, open_low, unit))
        check_choice(self, "tia", self.tia, TIAS)
        if self.device is not None and not isinstance(self.device, Device):
            raise CircuitError(f"{owner}: device must be a Device or None, got {type(self.device).__name__}")
        try:
            self.conductances  # noqa: B018  (the mapping refuses |w| > w_max and g_max <= g_min)
        except CircuitError as err:
            raise CircuitError(f"{owner} (node {self.node!r}): {err}") from None

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape  # type: ignore[return-value]

    @property
    def gs(self) -> float:
        """Conductance per unit weight [S]."""
        return (self.g_max - self.g_min) / self.w_max

    @cached_property
    def conductances(self) -> np.ndarray:
        """G [S], shape (n_in + 1, 2 n_out), read-only (irdrop.conductances)."""
        G = irdrop.conductances(self.weight, self.bias, self.g_min, self.g_max, self.w_max)
        G.setflags(write=False)
        return G

    @property
    def ideal(self) -> bool:
        """True when the array computes W x + b and W^T delta exactly: no wire or driver resistance, ideal TIAs,
        linear devices."""
        return (self.r_row, self.r_col, self.r_driver, self.tia, self.device) == (0.0, 0.0, 0.0, "ideal", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossbarOptions:
    """How ``compile_network(net, level="crossbar", crossbar=...)`` builds every dense junction's array.

    ``g_min``/``g_max`` [S]: None takes the hardware model's device range (``hardware=``'s, else the default
    DeviceModel's, 0.1-25 uS). ``w_max``: None maps each junction's largest |w| (weights and bias) to the full range.
    The rest are :class:`Crossbar`'s fields.
    """

    g_min: float | None = None
    g_max: float | None = None
    w_max: float | None = None
    v_read: float = 0.2
    r_row: float = 0.0
    r_col: float = 0.0
    r_driver: float = 0.0
    tia: str = "ideal"
    tia_gain: float = 1e6
    device: Device | None = None

    def __post_init__(self) -> None:
        owner = "crossbar options"
        for field, low, open_low, unit in (
            ("g_min", 0.0, False, "S"),
            ("g_max", 0.0, True, "S"),
            ("w_max", 0.0, True, "V/V"),
        ):
            if getattr(self, field) is not None:
                object.__setattr__(self, field, _number(owner, field, getattr(self, field), low, open_low, unit))
        for field, low, open_low, unit in (
            ("v_read", 0.0, True, "V"),
            ("r_row", 0.0, False, "ohm"),
            ("r_col", 0.0, False, "ohm"),
            ("r_driver", 0.0, False, "ohm"),
            ("tia_gain", 1.0, True, "V/V"),
        ):
            object.__setattr__(self, field, _number(owner, field, getattr(self, field), low, open_low, unit))
        if self.tia not in TIAS:
            raise CircuitError(f"{owner}: tia must be one of {TIAS}, got {self.tia!r}")
        if self.device is not None and not isinstance(self.device, Device):
            raise CircuitError(f"{owner}: device must be a Device or None, got {type(self.device).__name__}")


KIND_NAMES[Crossbar] = "crossbar"
