"""Relaxation with frozen weights: the waves settle and the parameter ports read the gradient.

At Courant number 1 the readout equals exact backprop at tick 2L and not one tick earlier (T1); s_l is exact from tick
l and lam_l from tick 2L+1-l (T2). Below 1 the error decays geometrically; between 1 and 2 it decays after a large
non-normal transient; at 2 and above it grows (T3), so :func:`relax` refuses it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from wavetrain.compiler.budget import MAX_TICKS, check_count, check_memory, graph_params_bytes, graph_waves_bytes
from wavetrain.compiler.functions import Array
from wavetrain.compiler.network import Network
from wavetrain.emulator import ops
from wavetrain.emulator.kernel import Machine, WaveState, readout, tick
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import BudgetError, ConfigError, StabilityError, StabilityWarning


def waves(m: Machine, state: WaveState) -> tuple[list[Array], list[Array]]:
    """The waves of a state as lists in the graph's node order, each in the channels-first layout of its node."""
    g = m.graph
    return ([ops.to_external(state.s[n], g.shape[n]) for n in g.order],
            [ops.to_external(state.lam[n], g.shape[n]) for n in g.order])  # fmt: skip


def pairs(m: Machine, grads: Mapping[str, tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Port readouts keyed by node id as a list in the order of the graph's parametric nodes."""
    return [grads[n] for n in m.graph.parametric]


@dataclass
class History:
    """Per-tick snapshots k = 0..ticks: ``s[k][i]``, ``lam[k][i]`` (batch, *shape of node i, in the order of
    ``Relaxation.nodes``) and the port readout ``grads[k][j]`` (j: the parametric nodes, ``Relaxation.params``)."""

    s: list[list[np.ndarray]] = field(default_factory=list)
    lam: list[list[np.ndarray]] = field(default_factory=list)
    grads: list[list[tuple[Any, Any]]] = field(default_factory=list)

    def record(self, m: Machine, state: WaveState, grads: Mapping[str, tuple[Any, Any]]) -> None:
        s, lam = waves(m, state)
        self.s.append([a.copy() for a in s])
        self.lam.append([a.copy() for a in lam])
        self.grads.append(pairs(m, grads))


@dataclass
class Relaxation:
    """What a relaxation (on any backend) returns.

    ``grads[j] = (dW, db)``: the gradient the parameter ports read at the last tick, for the parametric nodes in
    order (``params``; :meth:`named_grads` keys them as the network names its parameters, torch's names for an
    imported module). ``s``, ``lam``: the waves at the last tick, per node (``nodes``). ``history``: per-tick
    snapshots when requested.
    """

    grads: list[tuple[Any, Any]]
    s: list[np.ndarray]
    lam: list[np.ndarray]
    ticks: int
    courant: float
    history: History | None = None
    target: str = "numpy"
    nodes: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # node id -> the prefix of its parameters' names

    def __repr__(self) -> str:
        """One line: target, ticks, Courant number and the parameter count read (the arrays are its fields)."""
        shapes = "-".join(str(np.shape(dW)[0]) for dW, _ in self.grads) if self.grads else "none"
        kept = f", history of {len(self.history.s)} ticks" if self.history is not None else ""
        return (f"Relaxation({self.target}: {self.ticks} ticks at courant {self.courant:g}, gradients of "
                f"{len(self.grads)} parametric nodes (outputs {shapes}){kept})")  # fmt: skip

    def named_grads(self) -> dict[str, Any]:
        """{"<name>.weight": dW, "<name>.bias": db} per parametric node, keyed like ``net.named_params()``."""
        out = {}
        for n, (dW, db) in zip(self.params, self.grads):
            prefix = self.names.get(n, n)
            out[f"{prefix}.weight"], out[f"{prefix}.bias"] = dW, db
        return out

    def gradient_error(self, reference: Sequence[tuple[Any, Any]]) -> float:
        """Largest absolute difference between these gradients and a reference list of (dW, db)."""
        return max_abs_error(self.grads, reference)

    def error_by_tick(self, reference: Sequence[tuple[Any, Any]]) -> np.ndarray:
        """Gradient error against a reference at every recorded tick (needs ``history=True``)."""
        if self.history is None:
            raise ConfigError("error_by_tick: this relaxation kept no history; run it with history=True")
        return np.array([max_abs_error(g, reference) for g in self.history.grads])


def result(m: Machine, state: WaveState, grads: Mapping[str, tuple[Any, Any]], ticks: int, nu: float,
           history: History | None = None, target: str = "numpy") -> Relaxation:  # fmt: skip
    """The Relaxation of a machine's state at the last tick."""
    s, lam = waves(m, state)
    names = m.net.param_names if m.net is not None else {}
    return Relaxation(pairs(m, grads), s, lam, ticks, nu, history, target, m.graph.order, m.graph.parametric, names)


def max_abs_error(grads: Sequence[tuple[Any, Any]], reference: Sequence[tuple[Any, Any]]) -> float:
    """Largest |a - b| over every (dW, db) pair; the two lists must cover the same layers (or both be keyed alike)."""
    if isinstance(grads, Mapping):
        grads = list(grads.values())
    if isinstance(reference, Mapping):
        reference = list(reference.values())
    if len(grads) != len(reference):
        raise ConfigError(f"gradient comparison: reference has {len(reference)} layers, expected {len(grads)}")
    return max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for pair, ref in zip(grads, reference)
        for a, b in zip(pair, ref)
    )


def check_courant(courant: float) -> float:
    """Courant number nu in (0, 2), with a StabilityWarning above 1; otherwise a StabilityError saying why."""
    if isinstance(courant, bool) or not isinstance(courant, (int, float, np.integer, np.floating)):
        raise ConfigError(f"courant: expected a number in (0, 2), got {type(courant).__name__} {courant!r}")
    nu = float(courant)
    if not 0.0 < nu < 2.0:
        raise StabilityError(
            f"courant: expected 0 < courant < 2, got {courant}; the linearised wave error is multiplied by 1 - courant "
            f"every tick, so |1 - courant| >= 1 never converges (courant = 1 is exact in 2L ticks)"
        )
    if nu > 1.0:
        warnings.warn(
            f"courant = {nu} > 1: relaxation oscillates with large transient growth before it converges "
            f"(spec section 1.9); use courant <= 1 for monotone relaxation",
            StabilityWarning,
            stacklevel=3,
        )
    return nu


def relax(
    net: Network,
    x: Any,
    y: Any,
    ticks: int | None = None,
    courant: float = 1.0,
    history: bool = False,
    state: WaveState | None = None,
    substrate: Substrate = IDEAL,
) -> Relaxation:
    """Run the wave relaxation tick by tick with frozen weights and read out the gradient at the last tick.

    ``ticks`` defaults to 2L at courant 1 (exact) and ceil(2L / courant) otherwise. The waves start from zero unless a
    ``state`` is given. With ``history=True`` every tick's waves and readout are kept (k = 0..ticks). The cells run on
    ``substrate`` (default the ideal machine).
    """
    nu = check_courant(courant)
    ticks = check_ticks(ticks, net.depth, nu)
    if not isinstance(history, bool):
        raise ConfigError(f"history: expected True or False, got {type(history).__name__} {history!r}")
    x = net.check_input(x)
    t = net.targets(y, len(x))
    if history:
        check_history_memory(net, len(x), ticks)
    return run_ticks(Machine.of(net, substrate=substrate), x, t, ticks, nu, history, state)


def check_history_memory(net: Network, batch: int, ticks: int) -> None:
    """Refuse (BudgetError) a history of ``ticks + 1`` snapshots (waves and port readouts) beyond the memory limit."""
    per_tick = graph_waves_bytes(net.graph, batch) + graph_params_bytes(net.graph)
    check_memory((ticks + 1) * per_tick, f"history=True over {ticks} ticks (batch {batch}, network {net.describe()})",
                 "keep fewer ticks or pass history=False")  # fmt: skip


def check_ticks(ticks: Any, depth: int, nu: float) -> int:
    """ticks as an int in [0, MAX_TICKS]; None is the default, 2L at courant 1 (exact) and ceil(2L / courant)
    otherwise (a courant so small that the default passes MAX_TICKS is refused: it would never finish)."""
    if ticks is None:
        default = 2 * depth if nu == 1.0 else 2 * depth / nu
        if default > MAX_TICKS:
            raise BudgetError(
                f"courant: {nu!r} needs about 2L / courant = {default:.3g} ticks to relax, expected at most "
                f"{MAX_TICKS:,}; use a courant number closer to 1"
            )
        return math.ceil(default)
    return check_count(ticks, "ticks", MAX_TICKS)


def run_ticks(
    m: Machine,
    x: Array,
    t: Array,
    ticks: int,
    nu: float,
    history: bool = False,
    state: WaveState | None = None,
) -> Relaxation:
    """The unchecked loop under :func:`relax` (any nu, for stability studies); inputs already validated."""
    batch = x.shape[-1 - len(m.graph.input_shape)]
    if state is None:
        m.substrate.rest()  # NOTE: zero waves everywhere, so no echo of an earlier relaxation is still on a line
        state = WaveState.zeros(m.graph, batch, x, m.substrate.chips)
    else:
        state = state.copy()
    log = History() if history else None
    for _ in range(ticks):
        new, grads = tick(m, x, t, state, nu, want_grads=history)
        if log is not None and grads is not None:
            log.record(m, state, grads)
        state = new
    final = readout(m, x, state)
    if log is not None:
        log.record(m, state, final)
    return result(m, state, final, ticks, nu, log)
