"""The fully pipelined wave machine: a new minibatch enters every tick and the parameter ports move every tick.

Bookkeeping at Courant number 1 (kernel convention: the loss load takes one tick to reflect). With layers indexed
i = 0..L-1 (spec layer l = i + 1), at tick k
  the input s_i of layer i carries minibatch k - i,       the sensitivity lam_i carries minibatch k - 2L + i,
so a port that multiplies them mixes two minibatches 2(L - i) = 2(L - l) + 2 ticks apart (spec section 1.8 counts
2(L - l) + 1 because it treats the load as instantaneous). ``stash=True`` gives each layer a matched delay line of
2(L - i) ticks on its input: the layer recomputes sigma'(a_i) and its port gradient from the delayed input, so
activation and sensitivity belong to the same sample again (the physical analogue of an activation stash). What
remains is weight staleness: the forward wave saw the weights of 2(L - i) ticks ago.

With frozen weights the stashed readout is the exact per-minibatch backprop gradient (tested); without the stash it
is not, which is why the unstashed machine fails to train (see the reproduction report, section T4).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.network import Network
from wavetrain.emulator.kernel import Grads, Params
from wavetrain.errors import ConfigError


def delays(depth: int) -> list[int]:
    """Delay-line length (ticks) of layer i = 0..L-1 that matches its input with its sensitivity: 2(L - i)."""
    return [2 * (depth - i) for i in range(depth)]


@dataclass
class Pipelined:
    """Method 'pipelined': one tick per minibatch, ports move every tick; ``stash`` adds the matched delay lines."""

    stash: bool = True
    name: str = ""
    s: list[Array] | None = field(default=None, repr=False)
    lam: list[Array] | None = field(default=None, repr=False)
    lines: list[deque] = field(default_factory=list, repr=False)
    targets: deque = field(default_factory=deque, repr=False)
    last_grads: Grads | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.stash, bool):
            raise ConfigError(f"Pipelined: stash must be True or False, got {self.stash!r}")
        if not self.name:
            self.name = "pipelined+stash" if self.stash else "pipelined"

    def stash_floats(self, net: Network, batch: int) -> int:
        """Numbers held by the delay lines: sum_i 2(L - i) * batch * n_i (zero without the stash)."""
        if not self.stash:
            return 0
        return sum(d * batch * n for d, n in zip(delays(net.depth), net.sizes[:-1]))

    def _reset(self, net: Network, x: Array, t: Array) -> None:
        xp = namespace(x)
        batch = x.shape[0]
        self.s = [xp.zeros((batch, n), dtype=x.dtype) for n in net.sizes[1:]]
        self.lam = [xp.zeros((batch, n), dtype=x.dtype) for n in net.sizes[1:]]
        self.lines = [deque(maxlen=d + 1) for d in delays(net.depth)]
        self.targets = deque([t] * net.depth)

    def step(self, params: Params, net: Network, x: Array, t: Array, port: Any) -> Array:
        """One tick with x entering at the input; the ports step once; returns the loss the load sees now."""
        if self.s is None or self.s[0].shape[0] != x.shape[0]:
            self._reset(net, x, t)
        self.targets.append(t)
        delayed = self.targets.popleft()  # the label of the minibatch now at the output
        self.last_grads = self.tick(params, net, x, delayed)
        port.step(params, self.last_grads)
        return net.loss_fn.value(self.s[-1], self.targets[0])

    def tick(self, params: Params, net: Network, x: Array, target: Array) -> Grads:
        """Advance the waves one tick (Jacobi, Courant 1) and return the readout the ports see during it."""
        depth, batch = net.depth, x.shape[0]
        inputs = [x, *self.s[:-1]]
        pre = [inputs[i] @ W.T + b for i, (W, b) in enumerate(params)]
        out = [net.layers[i].act.f(pre[i]) for i in range(depth)]
        if self.stash:
            for line, now in zip(self.lines, inputs):
                line.append(now)
            # NOTE: until a line is full (the first 2(L - i) ticks) the oldest entry is used; lam is still zero then
            matched = [line[0] for line in self.lines]
            m_pre = [matched[i] @ W.T + b for i, (W, b) in enumerate(params)]
            slope = [net.layers[i].act.df(m_pre[i], net.layers[i].act.f(m_pre[i])) for i in range(depth)]
        else:
            matched = inputs
            slope = [net.layers[i].act.df(pre[i], out[i]) for i in range(depth)]
        delta = [slope[i] * self.lam[i] for i in range(depth)]
        drive = [delta[i + 1] @ params[i + 1][0] for i in range(depth - 1)]
        drive.append(net.loss_fn.grad(self.s[-1], target) / batch)
        grads = [(delta[i].T @ matched[i], delta[i].sum(axis=0)) for i in range(depth)]
        self.s, self.lam = out, drive
        return grads
