"""SPICE cards of the graph junctions (circuits/junctions.py): convolutions, poolings, sums, wirings, splitters.

Every cell is a B-source multiplied by the enable node V(en), as the chain's cards are (circuits/spice.py).
Device names are a role prefix, then the sample and wire numbers, then the validated element name (which starts with
a letter), so no two generated names can collide.

  ConvJunction  kernels="shared": ``.func fk{o}_{name}(x0, ...)`` holds output channel o's weights once; each
                output position is one B-source calling it on its window (0 in the padding). Backward, one
                ``.func fb{h}_{name}`` per stride phase h (the kernel taps that reach an input wire) and one
                B-source per input wire. In the learning circuit the function bodies read the weight capacitors
                V(w{o}_{c}_{j}_{port}) instead of numbers. kernels="inline": every position spells out its weights.
  Pool          avg: (1/k^d) times the window sum, backward the delta spread evenly; max: nested max() forward,
                backward each input takes the delta of every window whose first maximum it is (comparisons)
  Sum           V(a1) + V(a2) + ... forward; every input's backward wave is a buffer of the delta
  Wiring        buffers: each output wire copies its input wire, each input's backward wave its slice of the delta
  Splitter      buffers onto the delay lines' taps; backward the sum of the branches' waves
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from wavetrain.circuits.junctions import ConvJunction, Pool, Splitter, Sum, Wiring
from wavetrain.circuits.netlist import Context, linear, node, num, voltage, wrap


def weight_tag(e: ConvJunction, o: int, q: int) -> str:
    """The tag of the shared weight W[o, c, j...] (q: its column in W.reshape(C_out, -1)): ``w{o}_{c}_{j...}``."""
    index = np.unravel_index(o * int(np.prod(e.weight.shape[1:])) + q, e.weight.shape)
    return "w" + "_".join(str(int(i)) for i in index)


def _gain(leak: float) -> str:
    return f"{num(1.0 - leak)}*" if leak else ""


def _cell(prefix: str, b: int, i: int, name: str, net: str, expr: str) -> str:
    return wrap(f"{prefix}{b}_{i}_{name} {node(net, b, i)} 0 V=V(en)*({expr})")


def _conv(e: ConvJunction, ctx: Context) -> list[str]:
    port = ctx.ports.get(e.name)
    flat = e.weight.reshape(e.weight.shape[0], -1)
    c_out, taps = flat.shape

    def weight(o: int, q: int) -> float | str:
        return float(flat[o, q]) if port is None else f"V({weight_tag(e, o, q)}_{port.name})"

    def bias(o: int) -> str:
        return num(float(e.bias[o])) if port is None else f"V(c{o}_{port.name})"

    windows, positions, gain = e.windows, e.windows.shape[0], _gain(e.leak)
    shared = ctx.kernels == "shared"
    cards = []
    if shared:
        args = ", ".join(f"x{q}" for q in range(taps))
        for o in range(c_out):
            body = linear([weight(o, q) for q in range(taps)], [f"x{q}" for q in range(taps)])
            cards.append(wrap(f".func fk{o}_{e.name}({args}) {{{body}}}"))
    for b in range(ctx.batch):
        for o in range(c_out):
            for t in range(positions):
                row = windows[t]
                if shared:
                    call = ", ".join(voltage(e.a, b, int(u)) if u >= 0 else "0" for u in row)
                    expr = f"{bias(o)} + fk{o}_{e.name}({call})"
                else:
                    valid = [q for q in range(taps) if row[q] >= 0]
                    expr = linear([weight(o, q) for q in valid], [voltage(e.a, b, int(row[q])) for q in valid], bias(o))
                cards.append(wrap(f"B{b}_{o * positions + t}_{e.name} {node(e.b, b, o * positions + t)} 0 "
                                  f"V=V(en)*{gain}({expr})"))  # fmt: skip
    if e.back_out is not None:
        cards += _conv_back(e, ctx, weight)
    return cards


def _conv_back(e: ConvJunction, ctx: Context, weight: Callable[[int, int], float | str]) -> list[str]:
    assert e.back_out is not None
    c_out = e.weight.shape[0]
    cards = []
    shared = ctx.kernels == "shared"
    for h, (taps, _, _) in enumerate(e.phases):
        if shared and len(taps):
            args = [f"y{k}" for k in range(c_out * len(taps))]
            coefficients = [weight(o, int(q)) for o in range(c_out) for q in taps]
            cards.append(wrap(f".func fb{h}_{e.name}({', '.join(args)}) {{{linear(coefficients, args)}}}"))
    for b in range(ctx.batch):
        for h, (taps, inputs, wires) in enumerate(e.phases):
            for row, u in zip(wires, inputs):
                terms = [(o, int(q), int(row[o * len(taps) + k])) for o in range(c_out) for k, q in enumerate(taps)]
                if not any(w >= 0 for _, _, w in terms):
                    expr = "0"
                elif shared:
                    call = ", ".join(voltage(e.back_in, b, w) if w >= 0 else "0" for _, _, w in terms)
                    expr = f"fb{h}_{e.name}({call})"
                else:
                    valid = [(o, q, w) for o, q, w in terms if w >= 0]
                    expr = linear([weight(o, q) for o, q, _ in valid], [voltage(e.back_in, b, w) for _, _, w in valid])
                cards.append(_cell("Bb", b, int(u), e.name, e.back_out, expr))
    return cards


def _readers(windows: np.ndarray, width: int) -> list[list[tuple[int, int]]]:
    """For every input wire, the (output wire, place in its window) pairs that read it."""
    readers: list[list[tuple[int, int]]] = [[] for _ in range(width)]
    for r, row in enumerate(windows):
        for q, u in enumerate(row):
            readers[int(u)].append((r, q))
    return readers


def _pool(e: Pool, ctx: Context) -> list[str]:
    windows = e.windows
    scale = num(1.0 / windows.shape[1])
    readers = _readers(windows, e.in_width)
    cards = []
    for b in range(ctx.batch):
        for r, row in enumerate(windows):
            values = [voltage(e.a, b, int(u)) for u in row]
            if e.mode == "avg":
                expr = f"{scale}*({' + '.join(values)})"
            else:
                expr = values[0]
                for more in values[1:]:
                    expr = f"max({expr}, {more})"
            cards.append(_cell("B", b, r, e.name, e.b, expr))
        if e.back_out is None:
            continue
        for u in range(e.in_width):
            if e.mode == "avg":
                terms = [voltage(e.back_in, b, r) for r, _ in readers[u]]
                expr = f"{scale}*({' + '.join(terms)})" if terms else "0"
            else:
                expr = " + ".join(_routed(e, b, u, r, q, windows[r]) for r, q in readers[u]) or "0"
            cards.append(_cell("Bb", b, u, e.name, e.back_out, expr))
    return cards


def _routed(e: Pool, b: int, u: int, r: int, q: int, window: np.ndarray) -> str:
    """delta of window r if input u (place q in it) is the window's first maximum, else 0 (ties go to the first)."""
    me = voltage(e.a, b, u)
    tests = [f"({me} {'>' if k < q else '>='} {voltage(e.a, b, int(v))})" for k, v in enumerate(window) if k != q]
    delta = voltage(e.back_in, b, r)
    return f"(({' && '.join(tests)}) ? {delta} : 0)" if tests else delta


def _sum(e: Sum, ctx: Context) -> list[str]:
    cards = []
    for b in range(ctx.batch):
        for i in range(e.width):
            cards.append(_cell("B", b, i, e.name, e.b, " + ".join(voltage(a, b, i) for a in e.a)))
        for k, out in enumerate(e.back_out):
            if out is not None:
                cards += [_cell(f"Bb{k}_", b, i, e.name, out, voltage(e.back_in, b, i)) for i in range(e.width)]
    return cards


def _wiring(e: Wiring, ctx: Context) -> list[str]:
    sources = [(a, j) for a, w in zip(e.a, e.widths) for j in range(w)]
    offsets = np.cumsum((0, *e.widths))
    cards = []
    for b in range(ctx.batch):
        for i, (a, j) in enumerate(sources):
            cards.append(_cell("B", b, i, e.name, e.b, voltage(a, b, j)))
        for k, (out, w) in enumerate(zip(e.back_out, e.widths)):
            if out is not None:
                cards += [_cell(f"Bb{k}_", b, j, e.name, out, voltage(e.back_in, b, int(offsets[k]) + j))
                          for j in range(w)]  # fmt: skip
    return cards


def _splitter(e: Splitter, ctx: Context) -> list[str]:
    cards = []
    for b in range(ctx.batch):
        for k, tap in enumerate(e.taps):
            cards += [_cell(f"Bu{k}_", b, i, e.name, tap, voltage(e.a, b, i)) for i in range(e.width)]
        if e.back_out is not None:
            for i in range(e.width):
                cards.append(_cell("Bs", b, i, e.name, e.back_out, " + ".join(voltage(n, b, i) for n in e.back_in)))
    return cards


GRAPH_CARDS: dict[type, Callable[[Any, Context], list[str]]] = {
    ConvJunction: _conv,
    Pool: _pool,
    Sum: _sum,
    Wiring: _wiring,
    Splitter: _splitter,
}
