"""The schedules of the wave machine: one tick, the port readout, the forward sweep and the light cone.

Each schedule composes the cells of :mod:`wavetrain.emulator.cells` on a :class:`~wavetrain.emulator.cells.Machine`
(graph, parameters, nonlinearities, loss load, substrate); none writes the wave math itself. Nothing here calls ``np.``
on data, so a GPU array library with NumPy's names (cupy) can stand in by passing its arrays.

State of node n, for a batch of rows:
  s_n    activation (the right-moving wave)        lam_n  sensitivity dC/ds_n (the left-moving wave)
One tick (docs/physics.md sections 1.8, 2.4 and 10), every cell from the previous tick's values (Jacobi), Courant
number nu:
  a_n     = A_n(s_p for p in preds(n)) + b_n
  s_n    <- s_n   + nu (sigma(a_n) - s_n)                                forward wave + residual source
  lam_out <- lam_out + nu (dC/ds_out(s_out) / batch - lam_out)           loss load reflects the error wave
  lam_n  <- lam_n + nu (sum_{c in succs(n)} A_c^T (sigma'(a_c) * lam_c) - lam_n)   backward waves, summed at a fan-out
and the parameter port of node n reads the gradient from delta_n = sigma'(a_n) * lam_n and its inputs, the same
delta_n that drives the backward waves one level down.

A matched delay line of ``graph.delay[(p, n)]`` extra ticks on an edge (where paths of unequal length meet) carries
both waves, so every input of a node arrives in step; with frozen weights it changes nothing at tick 2D (section 10).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.graph import INPUT, Graph, as_graph
from wavetrain.emulator import cells, ops
from wavetrain.emulator.cells import Grads, Machine, Params

__all__ = [
    "Grads", "Machine", "Params", "WaveState", "advance", "arrivals", "backward_waves", "forward_sweep", "light_cone",
    "readout", "tick",
]  # fmt: skip


@dataclass
class WaveState:
    """The waves on every node, ``s[n]`` and ``lam[n]`` (.., batch, *internal shape), and the delay lines' contents.

    ``ahead[(p, n)]`` holds the last ``delay`` values p sent to n (oldest first), ``behind[(p, n)]`` the last ``delay``
    backward waves n sent to p: the extra ticks of the matched lines where unequal paths meet.
    """

    s: dict[str, Array]
    lam: dict[str, Array]
    ahead: dict[tuple[str, str], deque] = field(default_factory=dict)
    behind: dict[tuple[str, str], deque] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # NOTE: lists are a chain's layers, nodes "1".."L"
        if isinstance(self.s, (list, tuple)):
            self.s = {str(k + 1): a for k, a in enumerate(self.s)}
        if isinstance(self.lam, (list, tuple)):
            self.lam = {str(k + 1): a for k, a in enumerate(self.lam)}

    @classmethod
    def zeros(cls, graph: Graph | Any, batch: int, like: Array, chips: int | None = None) -> WaveState:
        """Zero waves (and empty, i.e. zero, delay lines) for ``batch`` rows, dtype and library of ``like``.

        ``graph``: a Graph, a Network, or a chain's widths (input first)."""
        graph = as_graph(graph)
        xp = namespace(like)
        lead = () if chips is None else (chips,)
        shape = {n: (*lead, batch, *ops.internal_shape(graph.shape[n])) for n in (INPUT, *graph.order)}
        zero = lambda n: xp.zeros(shape[n], dtype=like.dtype)  # noqa: E731
        ahead = {e: deque(zero(e[0]) for _ in range(d)) for e, d in graph.delay.items() if d}
        behind = {e: deque(zero(e[0]) for _ in range(d)) for e, d in graph.delay.items() if d and e[0] != INPUT}
        return cls({n: zero(n) for n in graph.order}, {n: zero(n) for n in graph.order}, ahead, behind)

    def copy(self) -> WaveState:
        return WaveState(
            {n: a.copy() for n, a in self.s.items()},
            {n: a.copy() for n, a in self.lam.items()},
            {e: deque(a.copy() for a in line) for e, line in self.ahead.items()},
            {e: deque(a.copy() for a in line) for e, line in self.behind.items()},
        )


def arrivals(m: Machine, waves: Mapping[str, Array], state: WaveState) -> dict[str, list[Array]]:
    """Every node's inputs this tick: what its predecessors sent, or what they sent ``delay`` ticks ago."""
    ins: dict[str, list[Array]] = {}
    for n in m.graph.order:
        got = []
        for p in m.graph.preds[n]:
            line = state.ahead.get((p, n))
            got.append(waves[p] if line is None else line[0])
        ins[n] = got
    return ins


def advance(waves: Mapping[str, Array], state: WaveState) -> dict[tuple[str, str], deque]:
    """The delay lines one tick later: each takes what its source sends now and drops its oldest value."""
    moved = {}
    for edge, line in state.ahead.items():
        moved[edge] = deque([*list(line)[1:], waves[edge[0]]])
    return moved


def backward_waves(
    m: Machine, delta: Mapping[str, Array], wb: Mapping[str, Any], ins: Mapping[str, list[Array]], state: WaveState
) -> tuple[dict[str, list[Array]], dict[tuple[str, str], deque]]:
    """The backward waves every junction sends this tick (in topological order), each arriving at its input now or,
    on an edge with a delay line, ``delay`` ticks later; returns (waves arriving per node, the backward lines)."""
    g = m.graph
    arriving: dict[str, list[Array]] = {n: [] for n in g.order}
    behind = {}
    for n in g.order:
        if any(p != INPUT for p in g.preds[n]):
            for p, wave in cells.back(m, n, delta[n], wb, ins[n]).items():
                line = state.behind.get((p, n))
                if line is None:
                    arriving[p].append(wave)
                else:
                    arriving[p].append(line[0])
                    behind[(p, n)] = deque([*list(line)[1:], wave])
    return arriving, behind


def tick(
    m: Machine, x: Array, t: Array, state: WaveState, nu: float = 1.0, want_grads: bool = True
) -> tuple[WaveState, Grads | None]:
    """Advance every node one tick; also return the gradient read out from the *incoming* state (tick k).

    Returns (state at tick k+1, G(k)). G(k) is what the parameter ports see during tick k.
    """
    g = m.graph
    wb = cells.read(m)
    waves = cells.sent(m, x, state.s)
    ins = arrivals(m, waves, state)
    pre = {n: cells.junction(m, n, ins[n], wb) for n in g.order}
    out = {n: cells.nonlinearity(m, n, pre[n]) for n in g.order}
    delta = {n: cells.sensitivity(m, n, pre[n], out[n], state.lam[n]) for n in g.order}
    arriving, behind = backward_waves(m, delta, wb, ins, state)
    arriving[g.output].append(cells.load(m, cells.output(m, state.s[g.output]), t))
    new = WaveState(
        {n: cells.line(m, n, state.s[n], out[n], nu, "forward") for n in g.order},
        {n: cells.line(m, n, state.lam[n], cells.gather(arriving, n), nu, "backward") for n in g.order},
        advance(waves, state),
        behind,
    )
    grads = {n: cells.readout(m, n, delta[n], ins[n]) for n in g.parametric} if want_grads else None
    return new, grads


def readout(m: Machine, x: Array, state: WaveState) -> Grads:
    """The gradient the parameter ports see at the current tick, from delta_n = sigma'(a_n) * lam_n."""
    wb = cells.read(m)
    waves = cells.sent(m, x, state.s)
    ins = arrivals(m, waves, state)
    grads = {}
    for n in m.graph.order:
        a = cells.junction(m, n, ins[n], wb)
        if n in m.params:
            delta = cells.sensitivity(m, n, a, cells.nonlinearity(m, n, a), state.lam[n])
            grads[n] = cells.readout(m, n, delta, ins[n])
    return grads


def forward_sweep(m: Machine, x: Array) -> tuple[dict[str, Array], dict[str, Array]]:
    """The forward wave once through every node: (pre-activations a_n, states s_n as each node holds it)."""
    sweep = cells.forward_sweep(m, x)
    return sweep.pre, sweep.s


def light_cone(m: Machine, x: Array, t: Array) -> tuple[Grads, WaveState, Array]:
    """The tick-2D readout at Courant number 1, computing only the cells on the light cone.

    From any start, s_n stops changing at tick level(n) and lam_n at tick 2D+1-level(n) (T2, on balanced delays), so
    the state the ports read at tick 2D is reached by evaluating each cell once, in the order its last input arrives:
    forward in topological order, backward in reverse, each fan-out summing its consumers' waves. Same cells as
    :func:`tick`, so the result equals the relaxation. Returns (grads, the tick-2D wave state, the per-sample loss).
    """
    g = m.graph
    wb = cells.read(m)
    sweep = cells.forward_sweep(m, x, wb)
    y = cells.output(m, sweep.s[g.output])
    arriving: dict[str, list[Array]] = {n: [] for n in g.order}
    arriving[g.output].append(cells.load(m, y, t))
    lam: dict[str, Array] = {}
    grads: Grads = {}
    for n in reversed(g.order):
        lam[n] = cells.carry(m, n, cells.gather(arriving, n), "backward")
        delta = cells.sensitivity(m, n, sweep.pre[n], sweep.out[n], lam[n])
        if n in m.params:
            grads[n] = cells.readout(m, n, delta, sweep.ins[n])
        if any(p != INPUT for p in g.preds[n]):
            for p, wave in cells.back(m, n, delta, wb, sweep.ins[n]).items():
                arriving[p].append(wave)
    ordered = {n: grads[n] for n in g.parametric}
    return ordered, WaveState(sweep.s, {n: lam[n] for n in g.order}), cells.cost(m, y, t)
