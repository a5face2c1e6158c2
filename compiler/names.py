"""The net and element names of a lowered network: one definition that lowering, the targets and the readers share.

Layer l is 1-based (spec numbering); l = 0 is the input.

  net      s(l)  s_l leaving layer l (x at l = 0)       s_far(l)    s_l at the far end of its forward line
           pre(l)  a_l at the junction output           lam(l)      lam_l leaving layer l+1 for layer l
           lam_far(l)  lam_l at layer l                 delta(l)    sigma'(a_l) * lam_l
           drive(l) / back_drive(l)  the sample-and-hold inputs below Courant number 1
  element  junction(l) j{l}, nonlinearity(l) act{l}, forward_line(l) fl{l}, backward_line(l) bl{l},
           port(l) p{l}, hold_s(l) hs{l}, hold_lam(l) hl{l}; INPUT and LOSS are the clamp and the loss load
"""

from __future__ import annotations

import re

INPUT = "input"  # the input clamp element; it drives the net s(0) = "x"
LOSS = "loss"  # the loss load element


def s(l: int) -> str:
    return "x" if l == 0 else f"s{l}"


def s_far(l: int) -> str:
    return "x" if l == 0 else f"s{l}r"


def pre(l: int) -> str:
    return f"a{l}"


def lam(l: int) -> str:
    return f"lam{l}"


def lam_far(l: int) -> str:
    return f"lam{l}r"


def delta(l: int) -> str:
    return f"d{l}"


def drive(l: int) -> str:
    return f"f{l}"


def back_drive(l: int) -> str:
    return f"k{l}"


def junction(l: int) -> str:
    return f"j{l}"


def nonlinearity(l: int) -> str:
    return f"act{l}"


def forward_line(l: int) -> str:
    return f"fl{l}"


def backward_line(l: int) -> str:
    return f"bl{l}"


def port(l: int) -> str:
    return f"p{l}"


def hold_s(l: int) -> str:
    return f"hs{l}"


def hold_lam(l: int) -> str:
    return f"hl{l}"


_LINE = re.compile(r"^(fl|bl)([1-9][0-9]*)$")


def line_layer(name: str) -> tuple[int, str] | None:
    """(0-based layer, "forward" | "backward") of a line named by :func:`forward_line` / :func:`backward_line`."""
    match = _LINE.match(name)
    if match is None:
        return None
    return int(match.group(2)) - 1, "forward" if match.group(1) == "fl" else "backward"
