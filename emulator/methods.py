"""The learning rules as training methods: what one minibatch does to the parameters, accepted by name in ``train``.

A :class:`Method` takes the :class:`~wavetrain.emulator.cells.Machine` (parameters, nonlinearities, loss load and the
substrate they run on), a minibatch and the :class:`Port` that terminates the parameter ports; it moves the
parameters through the port and returns the per-sample loss. The core three:

  backprop  textbook backprop (stored activations, delta recursion): the reference, ideal substrate only.
  dyadic    relax the waves for 2L ticks at Courant number 1 per minibatch, then update (T1): the same trajectory
            as backprop up to rounding. ``schedule="light_cone"`` (default) evaluates only the cells on the light
            cone; ``schedule="ticks"`` runs every tick of the relaxation.
  wave      unlocked (spec section 1.8, T4): the parameter ports move every tick while the waves are in flight.
            Each minibatch is held at the input for ``hold`` ticks (default 2L) and the waves are never reset, so
            early ticks of a minibatch read a stale mix of the previous one; that mismatch is part of the physics.
            The per-tick learning rate is lr / hold, so lr means the same displacement per minibatch as in backprop.

and the papers' rules, by name (``EXTRA_METHODS``; pass a configured object to ``train`` for other settings):

  pipelined         a new minibatch every tick, no activation stash (spec section 1.8 streaming caveat)
  pipelined+stash   the same with matched delay lines of 2(L - i) ticks (emulator.pipeline); sigma'(a) recomputed
  pipelined+stash-forward   the same lines also carry the forward pass's outputs: sigma'(a) as the forward wave saw
                    it, three matrix products a layer instead of four (emulator.pipeline, recompute=False)
  mpc               horizon h = ceil(L / 2) truncated sensitivities with local heads (emulator.mpc)
  forward           forward-gradient W-perp guesses, k = 10 (emulator.forward_gradient)
  ocnopt            DDP with Q_uu = I / alpha: SGD on backprop, the Theorem-1 limit (emulator.ocnopt)
  curvature         exact gradients into a damped Kronecker Newton port (emulator.ports)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

from wavetrain.compiler.budget import MAX_HOLD, check_count
from wavetrain.compiler.functions import Array
from wavetrain.compiler.graph import INPUT
from wavetrain.compiler.network import Network
from wavetrain.emulator import cells, fused, ops
from wavetrain.emulator.cells import Grads, Machine
from wavetrain.emulator.forward_gradient import ForwardGradient
from wavetrain.emulator.kernel import WaveState, light_cone, tick
from wavetrain.emulator.mpc import Mpc
from wavetrain.emulator.ocnopt import OCNOpt
from wavetrain.emulator.pipeline import Pipelined
from wavetrain.emulator.ports import CurvatureMatched
from wavetrain.emulator.relax import run_ticks
from wavetrain.errors import ConfigError

SCHEDULES = ("light_cone", "ticks")


class Port(Protocol):
    """A parameter-port termination: turns the gradient read at the port into a parameter motion, in place.

    It applies the motion through the cells' update (``cells.update(m, steps)``: the substrate's ``write``). A port
    may also declare ``fused``: ``(lr, momentum)`` when it is a plain heavy-ball step that a fused schedule can fold
    into its BLAS calls (then it keeps ``velocity`` and offers ``zero_velocity(m)``, as HeavyBall does), else None.
    """

    def step(self, m: Machine, grads: Grads) -> None: ...


class Method(Protocol):
    """One training method: consumes a minibatch, moves the parameters through the port, returns per-sample loss."""

    name: str

    def step(self, m: Machine, x: Array, t: Array, port: Port) -> Array: ...


def backprop(m: Machine, x: Array, t: Array) -> tuple[Grads, Array]:
    """Textbook backprop of the mean batch loss: (grads keyed by node id, per-sample loss). Written apart from the
    wave kernel: a chain's delta recursion by hand, a graph's reverse pass over its operators (emulator/ops.py)."""
    if not m.graph.is_dense_chain:
        return _graph_backprop(m, x, t)
    params, acts = m.chain()
    activations = [x]
    pre = []
    for (W, b), act in zip(params, acts):
        pre.append(activations[-1] @ W.T + b)
        activations.append(act.f(pre[-1]))
    out = activations[-1]
    delta = acts[-1].df(pre[-1], out) * (m.loss.grad(out, t) / len(x))
    grads = []
    for index in range(m.depth - 1, -1, -1):
        grads.append((delta.T @ activations[index], delta.sum(axis=0)))
        if index > 0:
            delta = acts[index - 1].df(pre[index - 1], activations[index]) * (delta @ params[index][0])
    return dict(zip(m.graph.parametric, grads[::-1])), m.loss.value(out, t)


def _graph_backprop(m: Machine, x: Array, t: Array) -> tuple[Grads, Array]:
    """Backprop on a DAG: a forward pass in topological order, deltas summed over consumers in reverse."""
    g = m.graph
    plain: ops.Crossbar = lambda y, x_, direction: y  # noqa: E731 -- NOTE: no devices: the exact products
    values = {INPUT: ops.to_internal(x, g.input_shape)}
    pre, ins = {}, {}
    for n in g.order:
        node, op = g.node(n), ops.OPS[type(g.node(n))]
        ins[n] = [values[p] for p in g.preds[n]]
        if n in m.params:
            W, b = m.params[n]
            pre[n] = op.add_bias(op.forward(node, ins[n], W, plain), b)
        else:
            pre[n] = ops.linear(node, ins[n], [g.shape[p] for p in g.preds[n]])
        values[n] = m.acts[n].f(pre[n])
    out = values[g.output]
    upstream: dict[str, Array] = {g.output: m.loss.grad(out, t) / out.shape[-2]}
    grads: Grads = {}
    for n in reversed(g.order):
        node, op = g.node(n), ops.OPS[type(g.node(n))]
        delta = m.acts[n].df(pre[n], values[n]) * upstream[n]
        if n in m.params:
            grads[n] = op.readout(node, delta, ins[n])
            down = op.backward(node, delta, m.params[n][0], ins[n], plain)
        else:
            down = ops.transpose(node, delta, ins[n], [g.shape[p] for p in g.preds[n]])
        for p, wave in zip(g.preds[n], down):
            if p != INPUT:
                upstream[p] = wave if p not in upstream else upstream[p] + wave
    return {n: grads[n] for n in g.parametric}, m.loss.value(out, t)


@dataclass
class Backprop:
    """The reference: textbook backprop, then one port step."""

    name: str = "backprop"

    def step(self, m: Machine, x: Array, t: Array, port: Port) -> Array:
        if not m.substrate.ideal:
            raise ConfigError(
                f"backprop is the ideal reference and runs on no substrate, got substrate={m.substrate!r}; "
                f"train with method='dyadic' (or another wave method) on a physical substrate"
            )
        grads, loss = backprop(m, x, t)
        port.step(m, grads)
        return loss


@dataclass
class Dyadic:
    """Relax 2L ticks at Courant number 1 (light-cone cells only, or every tick), read the ports, step."""

    schedule: str = "light_cone"
    name: str = "dyadic"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")

    def step(self, m: Machine, x: Array, t: Array, port: Port) -> Array:
        plain = getattr(port, "fused", None) if self.schedule == "light_cone" and m.substrate.ideal else None
        if plain is not None:
            lr, momentum = plain
            velocity = getattr(port, "velocity") if momentum != 0.0 else None
            if m.graph.is_dense_chain:
                params, acts = m.chain()
                listed = list(velocity.values()) if velocity is not None else None
                if fused.supports(params, acts, x, t, listed):
                    # NOTE: NumPy on a CPU: the same cells and port update, fused into BLAS calls (emulator/fused.py)
                    velocity = getattr(port, "zero_velocity")(m) if momentum != 0.0 else None
                    listed = list(velocity.values()) if velocity is not None else None
                    return fused.step(params, acts, m.loss, x, t, lr, momentum, listed)
        if self.schedule == "light_cone":
            grads, _, loss = light_cone(m, x, t)
        else:
            relaxation = run_ticks(m, x, t, 2 * m.depth, 1.0)
            grads = dict(zip(relaxation.params, relaxation.grads))
            # NOTE: the output wave of the last tick, in the layout the cells keep (a vector: as it is)
            loss = cells.cost(m, cells.output(m, relaxation.s[relaxation.nodes.index(m.graph.output)]), t)
        port.step(m, grads)
        return loss


@dataclass
class Wave:
    """Unlocked: hold each minibatch ``hold`` ticks; the ports move every tick with the readout scaled by 1/hold.

    The waves are never reset between minibatches (only when the batch size changes). The target source at the
    loss load is delayed by L ticks, the forward wave's travel time, so the load always compares the output with the
    label of the sample that produced it. Inside the network the mismatch stays: for a few ticks after a switch a
    port reads the new sample's activation against the old sample's sensitivity (spec section 1.8). ``hold`` >= 2L
    leaves most ticks exact; ``hold`` = 1 is the fully pipelined machine (a new minibatch every tick).
    """

    hold: int
    name: str = "wave"
    state: WaveState | None = field(default=None, repr=False)
    targets: deque = field(default_factory=deque, repr=False)
    batch: int = field(default=0, metadata={"state": True})  # the batch size the waves were made for (a new size
    # restarts them); state, not a setting

    def __post_init__(self) -> None:
        check_count(self.hold, "hold", MAX_HOLD, minimum=1)

    def step(self, m: Machine, x: Array, t: Array, port: Port) -> Array:
        batch = x.shape[-1 - len(m.graph.input_shape)]
        if self.state is None or self.batch != batch:
            self.state = WaveState.zeros(m.graph, batch, x, m.substrate.chips)
            self.targets = deque([t] * m.depth)
            self.batch = batch
        scale = 1.0 / self.hold
        for _ in range(self.hold):
            self.targets.append(t)
            delayed = self.targets.popleft()  # the label of the sample now at the output
            self.state, grads = tick(m, x, delayed, self.state, 1.0)
            assert grads is not None  # NOTE: want_grads defaults to True
            port.step(m, {n: (dW * scale, db * scale) for n, (dW, db) in grads.items()})
        # NOTE: the loss reported is what the loss load sees at the end of the hold
        return cells.cost(m, cells.output(m, self.state.s[m.graph.output]), self.targets[0])


# NOTE: each factory gets (net, lr). Methods that step through train()'s port use lr and momentum there; ocnopt
# steps itself (alpha = lr is its Q_uu = I / alpha, the SGD limit, and it has no momentum); curvature's Newton port
# keeps its own step length 0.5, a different quantity from an SGD rate, so train() refuses a momentum it would drop
EXTRA_METHODS: dict[str, Callable[[Network, float], Method]] = {
    "pipelined": lambda net, lr: Pipelined(stash=False),
    "pipelined+stash": lambda net, lr: Pipelined(stash=True),
    "pipelined+stash-forward": lambda net, lr: Pipelined(stash=True, recompute=False),
    "mpc": lambda net, lr: Mpc(h=(len(net.graph.cuts) + 1) // 2),
    "forward": lambda net, lr: ForwardGradient("wperp", 10),
    "ocnopt": lambda net, lr: OCNOpt(alpha=lr),
    "curvature": lambda net, lr: CurvatureMatched(),  # NOTE: its own Newton port, lr 0.5, damping 0.1
}
SELF_STEPPING = ("ocnopt", "curvature")  # methods that move the parameters without train()'s heavy-ball port
CORE_METHODS = ("backprop", "dyadic", "wave")
METHODS = (*CORE_METHODS, *EXTRA_METHODS)  # every name train() accepts

# NOTE: train()'s lr and momentum when the caller gives none, by the method's name (a Method object's .name too).
# Measured on digits 64-128-128-10, batch 32, 30 epochs, seed 0 (tests/emulator/test_method_defaults.py): SGD with
# momentum 0.9 at lr 0.05 trains backprop to 98.3 %. The pipelined machines update every tick from a gradient up to
# 2L ticks stale; momentum 0.9 multiplies that stale step tenfold and they diverge (loss 3 -> 84, 8-11 % accuracy),
# while momentum 0 trains them to 97.8 %. The forward-gradient guess is noisy: momentum 0.9 accumulates its noise
# (93.9 %, 86.9 % after 10 epochs), 0.5 reaches 96.9 % (96.7 % at seed 1). ocnopt and curvature step the parameters
# themselves (no momentum).
MOMENTUM_DEFAULTS: dict[str, float] = {
    "pipelined": 0.0, "pipelined+stash": 0.0, "pipelined+stash-forward": 0.0, "forward": 0.5, "ocnopt": 0.0,
    "curvature": 0.0,
}  # fmt: skip
DEFAULT_LR = 0.05
DEFAULT_MOMENTUM = 0.9
# NOTE: the control experiment of T4, kept by name: without delay lines the ports multiply activations and
# sensitivities of different minibatches, and the machine barely learns (digits, defaults: 14 % after 10 epochs,
# 30 % after 30; no lr or momentum in a grid from 0.005 to 0.1 and 0 to 0.9 passed 20 % in 10 epochs)
NOT_LEARNING = {"pipelined": "use 'pipelined+stash', whose delay lines match each input with its sensitivity"}


def method_defaults(name: str) -> tuple[float, float]:
    """The (lr, momentum) train() uses for the method called ``name`` (a Method's name: ``forward:wperp(k=10)``
    counts as ``forward``) when the caller gives none."""
    family = name.split(":", 1)[0].split("(", 1)[0]
    return DEFAULT_LR, MOMENTUM_DEFAULTS.get(family, DEFAULT_MOMENTUM)


def make_method(method: str | Method, net: Network, hold: int | None, schedule: str, lr: float = 0.05) -> Method:
    """A Method object from its name (``METHODS``) or the object itself; options it would ignore are refused."""
    if not isinstance(method, str):
        if not callable(getattr(method, "step", None)) or not isinstance(getattr(method, "name", None), str):
            raise ConfigError(
                f"method: expected one of {', '.join(METHODS)} or a Method object (a name and a step), got {method!r}"
            )
        if hold is not None:
            raise ConfigError("hold: pass it to the Method object, not to train(), when method is an object")
        return method
    if method not in METHODS:
        raise ConfigError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if hold is not None and method != "wave":
        raise ConfigError(f"hold: only the 'wave' method holds inputs for ticks, got hold={hold} with {method!r}")
    if schedule != "light_cone" and method != "dyadic":
        raise ConfigError(f"schedule: only the 'dyadic' method has a schedule, got {schedule!r} with {method!r}")
    if method in EXTRA_METHODS:
        return EXTRA_METHODS[method](net, lr)
    if method == "wave":
        return Wave(2 * net.depth if hold is None else hold)
    if method == "dyadic":
        return Dyadic(schedule)
    return Backprop()
