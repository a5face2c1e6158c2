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

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.network import Network
from wavetrain.emulator import cells, pipeline_fused
from wavetrain.emulator.kernel import Grads, Machine
from wavetrain.errors import ConfigError


def delays(depth: int) -> list[int]:
    """Delay-line length (ticks) of layer i = 0..L-1 that matches its input with its sensitivity: 2(L - i)."""
    return [2 * (depth - i) for i in range(depth)]


@dataclass
class Pipelined:
    """Method 'pipelined': one tick per minibatch, ports move every tick; ``stash`` adds the matched delay lines,
    ``recompute`` says where their sigma'(a) comes from (see the module docstring)."""

    stash: bool = True
    name: str = ""
    recompute: bool = True
    s: list[Array] | None = field(default=None, repr=False)
    lam: list[Array] | None = field(default=None, repr=False)
    lines: list[deque] = field(default_factory=list, repr=False)
    targets: deque = field(default_factory=deque, repr=False)
    last_grads: Grads | None = field(default=None, repr=False)
    threads: int | None = None  # layer groups computed in parallel by the fused tick (None: 1, BLAS-parallel gemms)
    fused: pipeline_fused.FusedPipeline | None = field(default=None, repr=False)

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
        """Numbers held by the delay lines: sum_i 2(L - i) * batch * n_i, plus the outputs sum_i 2(L - i) * batch *
        n_{i+1} with recompute=False (zero without the stash)."""
        if not self.stash:
            return 0
        held = [n_in + (0 if self.recompute else n_out) for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:])]
        return sum(d * batch * n for d, n in zip(delays(net.depth), held))

    def _reset(self, m: Machine, x: Array, t: Array) -> None:
        xp = namespace(x)
        shape = (x.shape[-2],) if m.substrate.chips is None else (m.substrate.chips, x.shape[-2])
        sizes = m.network.sizes
        self.s = [xp.zeros((*shape, n), dtype=x.dtype) for n in sizes[1:]]
        self.lam = [xp.zeros((*shape, n), dtype=x.dtype) for n in sizes[1:]]
        self.lines = [deque(maxlen=d + 1) for d in delays(m.depth)]
        self.targets = deque([t] * m.depth)

    def step(self, m: Machine, x: Array, t: Array, port: Any) -> Array:
        """One tick with x entering at the input; the ports step once; returns the loss the load sees now."""
        plain = getattr(port, "fused", None) if m.substrate.ideal else None
        if plain is not None:
            velocity = port.velocity if plain[1] != 0.0 else None
            if pipeline_fused.supports(m.params, list(m.acts), x, t, velocity):
                return self._fused_step(m, x, t, port, plain)
        self.fused = None
        if self.s is None or self.s[0].shape[-2] != x.shape[-2]:
            self._reset(m, x, t)
        self.targets.append(t)
        delayed = self.targets.popleft()  # the label of the minibatch now at the output
        self.last_grads = self.tick(m, x, delayed)
        port.step(m, self.last_grads)
        assert self.s is not None  # NOTE: set by tick
        return cells.cost(m, cells.output(m, self.s[-1]), self.targets[0])

    def _fused_step(self, m: Machine, x: Any, t: Any, port: Any, plain: tuple[float, float]) -> Any:
        """The same tick and port step through pipeline_fused (verified against the cells in the tests)."""
        lr, momentum = plain
        sizes = m.network.sizes
        if self.fused is None or not self.fused.matches(sizes, x.shape[0], x.dtype, self.stash, self.recompute):
            threads = pipeline_fused.default_threads() if self.threads is None else self.threads
            self.fused = pipeline_fused.FusedPipeline(sizes, x.shape[0], x.dtype, self.stash, threads, self.recompute)
            self.targets = deque([t] * m.depth)
            self.s = None  # NOTE: the generic path's waves restart if it is taken again
        velocity = port.zero_velocity(m) if momentum != 0.0 else None
        self.targets.append(t)
        delayed = self.targets.popleft()
        self.fused.step(m.params, list(m.acts), m.loss, x, delayed, lr, momentum, velocity)
        self.last_grads = None
        return m.loss.value(self.fused.s_last, self.targets[0])

    def tick(self, m: Machine, x: Array, target: Array) -> Grads:
        """Advance the waves one tick (Jacobi, Courant 1) and return the readout the ports see during it."""
        if self.s is None or self.lam is None:
            self._reset(m, x, target)
        assert self.s is not None and self.lam is not None
        depth = m.depth
        wb = cells.read(m)
        ins = cells.inputs(m, x, self.s)
        pre = [cells.junction(m, i, ins[i], wb[i]) for i in range(depth)]
        out = [cells.nonlinearity(m, i, pre[i]) for i in range(depth)]
        if self.stash:
            for line, now, a, s in zip(self.lines, ins, pre, out):
                line.append((now, a, s))
            # NOTE: until a line is full (the first 2(L - i) ticks) the oldest entry, tick 0's, is used
            matched = [line[0][0] for line in self.lines]
            if self.recompute:
                m_pre = [cells.junction(m, i, matched[i], wb[i]) for i in range(depth)]
                delta = [
                    cells.sensitivity(m, i, m_pre[i], cells.nonlinearity(m, i, m_pre[i]), self.lam[i])
                    for i in range(depth)
                ]
            else:
                delta = [
                    cells.sensitivity(m, i, line[0][1], line[0][2], self.lam[i]) for i, line in enumerate(self.lines)
                ]
        else:
            matched = ins
            delta = [cells.sensitivity(m, i, pre[i], out[i], self.lam[i]) for i in range(depth)]
        drive = [cells.back(m, i + 1, delta[i + 1], wb[i + 1][0]) for i in range(depth - 1)]
        drive.append(cells.load(m, cells.output(m, self.s[-1]), target))
        grads = [cells.readout(m, i, delta[i], matched[i]) for i in range(depth)]
        self.s = [cells.carry(m, i, out[i], "forward") for i in range(depth)]
        self.lam = [cells.carry(m, i, drive[i], "backward") for i in range(depth)]
        return grads
