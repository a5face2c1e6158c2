"""The net and element names of a lowered network: one definition that lowering, the passes and the targets share.

Every name is a role prefix followed by the id of the network node it belongs to (a node id is a word,
``[A-Za-z0-9_]+``; the layers of a chain are "1".."L", so layer l's junction is ``j1``... ``jL``), or, for what belongs
to an edge of a graph (a fan-out branch, a skip's delay line), a prefix followed by the edge's index in
``graph.edges``. ``x`` is the input net; ``INPUT`` and ``LOSS`` are the clamp and the loss load elements.

  net      s(n)  s_n leaving node n                  s_far(n)    s_n at the far end of its forward line
           pre(n)  a_n at the junction output        lam(n)      lam_n arriving from downstream (driven into n's
           lam_far(n)  lam_n at node n               backward line)   delta(n)  sigma'(a_n) * lam_n
           drive(n) / back_drive(n)  the sample-and-hold inputs below Courant number 1
           tap(k) / tap_far(k)  edge k's forward wave on its delay line (near end, far end)
           branch(k) / branch_far(k)  the backward wave edge k's consumer sends its source (on its delay line)
  element  junction(n) j{n}, nonlinearity(n) act{n}, forward_line(n) fl{n}, backward_line(n) bl{n},
           port(n) p{n}, hold_s(n) hs{n}, hold_lam(n) hl{n}, splitter(n) sp{n} (the input's: spinput),
           delay_line(k) fd{k}, back_delay_line(k) bd{k}, termination(line) t{line}

Two node ids can give one name (``s1r`` is both s_far("1") and s("1r"); SPICE also folds case): :func:`clash` finds
such a pair, and the lowering refuses the graph naming both nodes.
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


def tap(k: int) -> str:
    """Edge k's forward wave where the splitter drives it onto the edge's delay line."""
    return f"u{k}"


def tap_far(k: int) -> str:
    return f"u{k}r"


def branch(k: int) -> str:
    """The backward wave the consumer of edge k sends towards its source (into the splitter or its delay line)."""
    return f"v{k}"


def branch_far(k: int) -> str:
    return f"v{k}r"


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


def splitter(n: Node) -> str:
    """The fan-out junction of node n (``spinput`` for the input clamp: "input" is no node id)."""
    return f"sp{n}"


def delay_line(k: int) -> str:
    return f"fd{k}"


def back_delay_line(k: int) -> str:
    return f"bd{k}"


def termination(line: str) -> str:
    """The matched load terminate_ports puts at the far end of ``line``."""
    return f"t{line}"


NODE_NETS = (s, s_far, pre, lam, lam_far, delta, drive, back_drive)
NODE_ELEMENTS = (junction, nonlinearity, forward_line, backward_line, port, hold_s, hold_lam, splitter)


def clash(ids: tuple[str, ...] | list[str]) -> tuple[str, str, str] | None:
    """(name, id, other id) for the first two nodes whose nets or elements would share a name (case-insensitively,
    as SPICE compares names), or None when every name is its node's own."""
    # NOTE: nets and elements are apart in SPICE; the clamp's names ("Input" is a valid node id) are owned first
    owners: tuple[dict[str, str], dict[str, str]] = ({X: INPUT}, {INPUT: INPUT, LOSS: INPUT, splitter(INPUT): INPUT})
    for n in ids:
        nets = [f(n) for f in NODE_NETS]
        elements = [f(n) for f in NODE_ELEMENTS] + [termination(forward_line(n)), termination(backward_line(n))]
        for owner, made in zip(owners, (nets, elements)):
            for name in made:
                other = owner.setdefault(name.lower(), n)
                if other != n:
                    return name, other, n
    return None
