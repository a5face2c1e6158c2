"""The net and element names of a lowered network: one definition that lowering, the passes and the targets share.

Every name is a role prefix followed by the id of the network node it belongs to (a node id is a word,
``[A-Za-z0-9_]+``; the layers of a chain are "1".."L", so layer l's junction is ``j1``... ``jL``). ``x`` is the
input net; ``INPUT`` and ``LOSS`` are the clamp and the loss load elements.

  net      s(n)  s_n leaving node n                  s_far(n)    s_n at the far end of its forward line
           pre(n)  a_n at the junction output        lam(n)      lam_n arriving from downstream (driven into n's
           lam_far(n)  lam_n at node n               backward line)   delta(n)  sigma'(a_n) * lam_n
           drive(n) / back_drive(n)  the sample-and-hold inputs below Courant number 1
  element  junction(n) j{n}, nonlinearity(n) act{n}, forward_line(n) fl{n}, backward_line(n) bl{n},
           port(n) p{n}, hold_s(n) hs{n}, hold_lam(n) hl{n}, termination(line) t{line}
"""

from __future__ import annotations

INPUT = "input"  # the input clamp element; it drives the input net X
LOSS = "loss"  # the loss load element
X = "x"  # the input net (s_0)

Node = str | int  # a node id, or a chain layer's 1-based number (its id is str(l))


def s(n: Node) -> str:
    """s_n leaving node n (the integer 0 is the input: a chain's layer 0)."""
    return X if isinstance(n, int) and n == 0 else f"s{n}"


def s_far(n: Node) -> str:
    return X if isinstance(n, int) and n == 0 else f"s{n}r"


def pre(n: Node) -> str:
    return f"a{n}"


def lam(n: Node) -> str:
    return f"lam{n}"


def lam_far(n: Node) -> str:
    return f"lam{n}r"


def delta(n: Node) -> str:
    return f"d{n}"


def drive(n: Node) -> str:
    return f"f{n}"


def back_drive(n: Node) -> str:
    return f"k{n}"


def junction(n: Node) -> str:
    return f"j{n}"


def nonlinearity(n: Node) -> str:
    return f"act{n}"


def forward_line(n: Node) -> str:
    return f"fl{n}"


def backward_line(n: Node) -> str:
    return f"bl{n}"


def port(n: Node) -> str:
    return f"p{n}"


def hold_s(n: Node) -> str:
    return f"hs{n}"


def hold_lam(n: Node) -> str:
    return f"hl{n}"


def termination(line: str) -> str:
    """The matched load terminate_ports puts at the far end of ``line``."""
    return f"t{line}"
