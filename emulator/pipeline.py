"""The fully pipelined wave machine: a new minibatch enters every tick and the parameter ports move every tick.

Bookkeeping at Courant number 1 (kernel convention: the loss load takes one tick to reflect). With layers indexed
i = 0..L-1 (spec layer l = i + 1), at tick k
  the input s_i of layer i carries minibatch k - i,       the sensitivity lam_i carries minibatch k - 2L + i,
so a port that multiplies them mixes two minibatches 2(L - i) = 2(L - l) + 2 ticks apart (spec section 1.8 counts
2(L - l) + 1 because it treats the load as instantaneous). ``stash=True`` gives each layer a matched delay line of
2(L - i) ticks on its input, so activation and sensitivity belong to the same sample again (the physical analogue of
an activation stash), and the port reads delta_i^T s~_{i-1} from the delayed input s~. Where sigma'(a_i) comes from:

  recompute=True    the layer runs its delayed input through its junction again, a~ = W_i s~ + b_i with the weights
                    it has now: a second forward product every tick (four matrix products a layer, not three)
  recompute=False   the delay line also carries the layer's own output sigma(a_i) from the forward pass, and
                    sigma'(a_i) is taken from it: the activation stash of pipelined backprop (PipeDream without
                    weight stashing; Kosson et al. 2021), three products a layer. With moving weights the two differ:
                    here every forward quantity of a minibatch is the one its forward wave saw

What remains in both is weight staleness: the forward wave saw the weights of 2(L - i) ticks ago, and the backward
wave W_i^T delta_i the weights of now.

With frozen weights the stashed readout is the exact per-minibatch backprop gradient either way (tested); without the
stash it is not, which is why the unstashed machine fails to train (see the reproduction report, section T4).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array
from wavetrain.compiler.graph import Graph
from wavetrain.compiler.network import Network
from wavetrain.emulator import cells, pipeline_fused
from wavetrain.emulator.kernel import Grads, Machine, WaveState, advance, arrivals, backward_waves
from wavetrain.errors import ConfigError


def delays(depth: int) -> list[int]:
    """Delay-line length (ticks) of layer i = 0..L-1 that matches its input with its sensitivity: 2(L - i)."""
    return [2 * (depth - i) for i in range(depth)]


def node_delays(graph: Graph) -> dict[str, int]:
    """The stash line of every node: 2 (D - level(n) + 1) ticks (2(L - i) on a chain), with the graph's matched
    delays on the edges where unequal paths meet, so every node's input and sensitivity belong to one minibatch."""
    return {n: 2 * (graph.depth - graph.level[n] + 1) for n in graph.order}


@dataclass
class Pipelined:
    """Method 'pipelined': one tick per minibatch, ports move every tick; ``stash`` adds the matched delay lines,
    ``recompute`` says where their sigma'(a) comes from (see the module docstring)."""

    stash: bool = True
    name: str = ""
    recompute: bool = True
    state: WaveState | None = field(default=None, repr=False)
    lines: dict[str, deque] = field(default_factory=dict, repr=False)
    targets: deque = field(default_factory=deque, repr=False)
    last_grads: Grads | None = field(default=None, repr=False)
    threads: int | None = None  # layer groups computed in parallel by the fused tick (None: 1, BLAS-parallel gemms)
    fused: pipeline_fused.FusedPipeline | None = field(default=None, repr=False)
    batch: int = 0

    def __post_init__(self) -> None:
        for key in ("stash", "recompute"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"Pipelined: {key} must be True or False, got {getattr(self, key)!r}")
        if not self.recompute and not self.stash:
            raise ConfigError(
                "Pipelined: recompute=False stores the forward pass in the delay lines, which "
                "stash=False does not have; expected stash=True with recompute=False"
            )
        if not self.name:
            self.name = (
                ("pipelined+stash" if self.recompute else "pipelined+stash-forward") if self.stash else "pipelined"
            )

    def stash_floats(self, net: Network, batch: int) -> int:
        """Numbers held by the delay lines: sum_n d_n * batch * (input size of n), plus the outputs d_n * batch *
        (size of n) with recompute=False (zero without the stash)."""
        if not self.stash:
            return 0
        g = net.graph
        total = 0
        for n, d in node_delays(g).items():
            held = sum(int(np.prod(g.shape[p])) for p in g.preds[n]) + (
                0 if self.recompute else int(np.prod(g.shape[n]))
            )
            total += d * batch * held
        return total

    def _reset(self, m: Machine, x: Array, t: Array, batch: int) -> None:
        self.state = WaveState.zeros(m.graph, batch, x, m.substrate.chips)
        self.lines = {n: deque(maxlen=d + 1) for n, d in node_delays(m.graph).items()}
        self.targets = deque([t] * m.depth)
        self.batch = batch

    def step(self, m: Machine, x: Array, t: Array, port: Any) -> Array:
        """One tick with x entering at the input; the ports step once; returns the loss the load sees now."""
        plain = getattr(port, "fused", None) if m.substrate.ideal and m.graph.is_dense_chain else None
        if plain is not None:
            velocity = port.velocity if plain[1] != 0.0 else None
            params, acts = m.chain()
            if pipeline_fused.supports(params, acts, x, t, list(velocity.values()) if velocity else None):
                return self._fused_step(m, x, t, port, plain)
        self.fused = None
        batch = x.shape[-1 - len(m.graph.input_shape)]
        if self.state is None or self.batch != batch:
            self._reset(m, x, t, batch)
        self.targets.append(t)
        delayed = self.targets.popleft()  # the label of the minibatch now at the output
        self.last_grads = self.tick(m, x, delayed)
        port.step(m, self.last_grads)
        assert self.state is not None  # NOTE: set by tick
        return cells.cost(m, cells.output(m, self.state.s[m.graph.output]), self.targets[0])

    def _fused_step(self, m: Machine, x: Any, t: Any, port: Any, plain: tuple[float, float]) -> Any:
        """The same tick and port step through pipeline_fused (verified against the cells in the tests)."""
        lr, momentum = plain
        sizes = m.network.sizes
        if self.fused is None or not self.fused.matches(sizes, x.shape[0], x.dtype, self.stash, self.recompute):
            threads = pipeline_fused.default_threads() if self.threads is None else self.threads
            self.fused = pipeline_fused.FusedPipeline(sizes, x.shape[0], x.dtype, self.stash, threads, self.recompute)
            self.targets = deque([t] * m.depth)
            self.state = None  # NOTE: the generic path's waves restart if it is taken again
        velocity = port.zero_velocity(m) if momentum != 0.0 else None
        self.targets.append(t)
        delayed = self.targets.popleft()
        params, acts = m.chain()
        self.fused.step(params, acts, m.loss, x, delayed, lr, momentum, list(velocity.values()) if velocity else None)
        self.last_grads = None
        return m.loss.value(self.fused.s_last, self.targets[0])

    def tick(self, m: Machine, x: Array, target: Array) -> Grads:
        """Advance the waves one tick (Jacobi, Courant 1) and return the readout the ports see during it."""
        g = m.graph
        if self.state is None:
            self._reset(m, x, target, x.shape[-1 - len(g.input_shape)])
        state = self.state
        assert state is not None
        wb = cells.read(m)
        waves = cells.sent(m, x, state.s)
        ins = arrivals(m, waves, state)
        pre = {n: cells.junction(m, n, ins[n], wb) for n in g.order}
        out = {n: cells.nonlinearity(m, n, pre[n]) for n in g.order}
        if self.stash:
            for n in g.order:
                self.lines[n].append((ins[n], pre[n], out[n]))
            # NOTE: until a line is full (the first 2(D - level + 1) ticks) the oldest entry, tick 0's, is used
            matched = {n: self.lines[n][0][0] for n in g.order}
            if self.recompute:
                m_pre = {n: cells.junction(m, n, matched[n], wb) for n in g.order}
                delta = {n: cells.sensitivity(m, n, m_pre[n], cells.nonlinearity(m, n, m_pre[n]), state.lam[n])
                         for n in g.order}  # fmt: skip
            else:
                delta = {n: cells.sensitivity(m, n, self.lines[n][0][1], self.lines[n][0][2], state.lam[n])
                         for n in g.order}  # fmt: skip
        else:
            matched = ins
            delta = {n: cells.sensitivity(m, n, pre[n], out[n], state.lam[n]) for n in g.order}
        arriving, behind = backward_waves(m, delta, wb, matched, state)
        arriving[g.output].append(cells.load(m, cells.output(m, state.s[g.output]), target))
        grads = {n: cells.readout(m, n, delta[n], matched[n]) for n in g.parametric}
        self.state = WaveState(
            {n: cells.carry(m, n, out[n], "forward") for n in g.order},
            {n: cells.carry(m, n, cells.gather(arriving, n), "backward") for n in g.order},
            advance(waves, state),
            behind,
        )
        return grads
