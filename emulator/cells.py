"""The cells of the wave machine, written once: every schedule, learning rule and the NumPy circuit target compose them.

A cell does its math through the hooks of the machine's :class:`~wavetrain.emulator.substrate.Substrate`, so the
arithmetic it runs on (ideal float, Loihi fixed point, an analog device) is a value, never a code path. Cells are
keyed by node id (:mod:`wavetrain.compiler.graph`): node n reads its inputs (the clamped input or the waves its
predecessors send), its junction's operator is the node type's entry in :data:`wavetrain.emulator.ops.OPS`. Every
cell broadcasts over leading axes: with a Monte-Carlo axis of chip instances waves are (chips, batch, ...) and
parameters (chips, *shape). With identity hooks (``IDEAL``) each cell is the plain equation, bit for bit.

  cell           equation                                        substrate hooks
  read           W~_n, b~_n = weight(W_n), bias(b_n)             weight, bias (once per tick; both waves see it)
  clamp          s_input = x                                     signal "input"
  send           s_n leaves n for its consumers                  signal "forward" (n: the sending node)
  junction       a_n = A_n(inputs) (+ b_n)                       crossbar "forward" (parametric nodes), accumulate
  nonlinearity   s_n = sigma(a_n)                                activate
  sensitivity    delta_n = sigma'(a_n) * lam_n                   derivative
  back           lam_p += A_n^T(delta_n) for each input p        crossbar "backward", signal "backward" (p: the
                                                                 receiving node); fan-out sums (Kirchhoff)
  readout        G_n = the port's correlation of delta_n with    gradient "W", "b"
                 its input, g_n = sum delta_n
  output         y = s_out at the loss load                      signal "output"
  load           lam_out = dC/ds_out (y, t) / batch              signal "error"
  line / carry   w <- w + nu (w_new - w)  (w_new at nu = 1)      line "forward" / "backward"
  update         theta_n <- theta_n + step_n                     write "W", "b" (write_scaled: step = scale g)

The three products of a junction with devices (forward A, backward A^T, port readout) are the OPS entry's, through
the ``crossbar`` hook; nothing else in library code multiplies by a node's weights (the textbook ``backprop``
reference is written apart on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping, Sequence

from wavetrain.compiler.functions import ACTIVATIONS, Activation, Array, Loss
from wavetrain.compiler.graph import INPUT, Graph
from wavetrain.emulator import ops
from wavetrain.emulator.ops import backward_product, forward_product, outer_product
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError

if TYPE_CHECKING:
    from wavetrain.compiler.network import Network

Pair = tuple[Array, Array]
Params = Mapping[str, Pair]  # (W_n, b_n) per parametric node id; W_n has shape (..., *weight shape)
Grads = dict[str, Pair]  # (dC/dW_n, dC/db_n) per parametric node id


@dataclass(frozen=True, eq=False)
class Machine:
    """One network as the kernel sees it: its graph, live parameters, nonlinearities, loss load and substrate.

    Build it with :meth:`wavetrain.compiler.network.Network.machine` (or :meth:`of`). ``params`` are the live arrays
    the ports write into, keyed by node id (views of the network's, unless a dtype cast asked for copies). Every
    schedule, learning rule and port takes the Machine: the substrate travels with it, never beside it. ``net`` is
    the network it runs (None for a bare stack of junctions, such as MPC's local heads).
    """

    graph: Graph
    params: Params
    loss: Loss
    substrate: Substrate = IDEAL
    net: Network | None = None
    acts: Mapping[str, Activation] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "acts", {n: ACTIVATIONS[self.graph.activation(n)] for n in self.graph.order})

    @classmethod
    def of(cls, net: Network, params: Params | Sequence[Pair] | None = None, substrate: Substrate = IDEAL) -> Machine:
        """The machine of a :class:`~wavetrain.compiler.network.Network` (its own live parameters by default;
        ``params`` keyed by node id, or a list in the order of ``net.graph.parametric``)."""
        keyed = net.param_dict() if params is None else keyed_params(net.graph, params)
        return cls(net.graph, keyed, net.loss_fn, substrate, net)

    @property
    def depth(self) -> int:
        """D, the longest path from the input to the loss in ticks (L for a chain of L layers)."""
        return self.graph.depth

    @property
    def order(self) -> tuple[str, ...]:
        return self.graph.order

    @property
    def network(self) -> Network:
        """The network this machine runs (refused for a bare stack of junctions)."""
        if self.net is None:
            raise ConfigError("this machine is a bare stack of junctions with no network; build it with Machine.of")
        return self.net

    def with_params(self, params: Params | Sequence[Pair]) -> Machine:
        return replace(self, params=keyed_params(self.graph, params))

    def on(self, substrate: Substrate) -> Machine:
        """The same network and parameters on another substrate."""
        return replace(self, substrate=substrate)

    def chain(self) -> tuple[list[Pair], list[Activation]]:
        """(params, activations) as lists, for the verified chain-only fast paths (a dense chain)."""
        return [self.params[n] for n in self.graph.parametric], [self.acts[n] for n in self.graph.order]


def chain_problem(g: Graph, what: str) -> str | None:
    """Why ``what`` (an algorithm defined on a chain of dense layers) cannot run on ``g``, naming the first node
    that is not a dense junction or that splits or joins waves; None on a dense chain."""
    from wavetrain.compiler.graph import Linear

    for n in g.order:
        if not isinstance(g.node(n), Linear):
            return f"{what} is defined on a chain of dense layers; node {n!r} is a {type(g.node(n)).__name__}"
        if len(g.preds[n]) != 1 or len(g.succs[n]) > 1:
            return (f"{what} is defined on a chain of dense layers; node {n!r} joins or splits waves (inputs "
                    f"{list(g.preds[n])}, consumers {list(g.succs[n])})")  # fmt: skip
    return None


def dense_chain(m: Machine, what: str) -> list[str]:
    """The node ids of a chain of dense junctions, for the algorithms defined on one (``what`` names the caller);
    any other graph is refused (ConfigError) naming the first node that is not (or a fan-out / fan-in)."""
    problem = chain_problem(m.graph, what)
    if problem:
        raise ConfigError(problem)
    return list(m.graph.order)


__all__ = ["backward_product", "forward_product", "outer_product"]


def keyed_params(graph: Graph, params: Params | Sequence[Pair]) -> dict[str, Pair]:
    """``params`` keyed by node id: a mapping as it is, or a list in the order of ``graph.parametric``."""
    ids = graph.parametric
    if isinstance(params, Mapping):
        if list(params) != list(ids):
            raise ConfigError(f"params: expected the nodes {list(ids)} in this order, got {list(params)}")
        return dict(params)
    if len(params) != len(ids):
        raise ConfigError(f"params: expected {len(ids)} (W, b) pairs (nodes {list(ids)}), got {len(params)}")
    return {n: (pair[0], pair[1]) for n, pair in zip(ids, params)}


def keyed_grads(m: Machine, grads: Mapping[str, Pair] | Sequence[Pair]) -> dict[str, Pair]:
    """Port readouts keyed by node id (a list is read in the order of the machine's parametric nodes)."""
    if isinstance(grads, Mapping):
        return grads  # type: ignore[return-value]
    return dict(zip(m.params, grads))


def bare(
    params: Sequence[Pair], acts: Sequence[Activation], loss: Loss | None, substrate: Substrate = IDEAL
) -> Machine:
    """A chain of dense junctions with no network behind it (MPC's local heads, a single layer of the energy
    ledger): node ids "1".."L", widths read off the weights."""
    from wavetrain.compiler.graph import Linear

    if not params:
        raise ConfigError("bare machine: expected at least one (W, b) pair")
    nodes = [Linear(id=str(k + 1), features=W.shape[-2], activation=act.name) for k, ((W, _), act) in
             enumerate(zip(params, acts))]  # fmt: skip
    graph = Graph.chain((params[0][0].shape[-1],), nodes)
    return Machine(graph, keyed_params(graph, params), loss, substrate)  # type: ignore[arg-type]


# --- the junction: reads, the products, the integrator ------------------------------------------------------------


def read(m: Machine) -> dict[str, Pair]:
    """Every junction with devices reads its parameters once (a tick's forward and backward waves see one read)."""
    return {n: read_node(m, n) for n in m.params}


def read_node(m: Machine, n: str) -> Pair:
    """Junction n reads (W_n, b_n) from its devices."""
    W, b = m.params[n]
    return m.substrate.weight(W, n), m.substrate.bias(b, n)


def _crossbar(m: Machine, n: str) -> ops.Crossbar:
    return lambda y, x, direction: m.substrate.crossbar(y, x, n, direction)


def junction(m: Machine, n: str, ins: Sequence[Array], wb: Mapping[str, Pair]) -> Array:
    """The integrator of node n: a_n = A_n(inputs) (+ b_n): its operator on this tick's inputs and read."""
    node = m.graph.node(n)
    op = ops.OPS[type(node)]
    if op is not None and op.parametric:
        W, b = wb[n]
        return m.substrate.accumulate(op.add_bias(op.forward(node, ins, W, _crossbar(m, n)), b), n)
    shapes = [m.graph.shape[p] for p in m.graph.preds[n]]
    return m.substrate.accumulate(ops.linear(node, ins, shapes), n)


def back(
    m: Machine, n: str, delta: Array, wb: Mapping[str, Pair], ins: Sequence[Array], to_input: bool = False
) -> dict[str, Array]:
    """The backward waves leaving node n's junction for each of its inputs p: A_n^T delta_n.

    None goes to the input unless ``to_input`` (a circuit whose first junction drives a back port: the wave the
    clamp absorbs, with no message boundary to cross)."""
    node = m.graph.node(n)
    preds = m.graph.preds[n]
    op = ops.OPS[type(node)]
    if op is not None and op.parametric:
        waves = op.backward(node, delta, wb[n][0], ins, _crossbar(m, n))
    else:
        waves = ops.transpose(node, delta, ins, [m.graph.shape[p] for p in preds])
    return {
        p: y if p == INPUT else m.substrate.signal(y, "backward", p)
        for p, y in zip(preds, waves)
        if to_input or p != INPUT
    }


def readout(m: Machine, n: str, delta: Array, ins: Sequence[Array]) -> Pair:
    """The port of node n reads (G_n, g_n): its input correlated with delta_n, and delta_n summed."""
    node = m.graph.node(n)
    gW, gb = ops.OPS[type(node)].readout(node, delta, ins)
    return m.substrate.gradient(gW, n, "W"), m.substrate.gradient(gb, n, "b")


# --- the nonlinearity ----------------------------------------------------------------------------------------------


def nonlinearity(m: Machine, n: str, a: Array) -> Array:
    """s_n = sigma(a_n)."""
    return m.substrate.activate(m.acts[n], a, n)


def slope(m: Machine, n: str, a: Array, s: Array) -> Array:
    """The small-signal gain sigma'(a_n) (s = sigma(a_n), for derivatives that s determines)."""
    return m.substrate.derivative(m.acts[n], a, s, n)


def sensitivity(m: Machine, n: str, a: Array, s: Array, lam: Array) -> Array:
    """delta_n = sigma'(a_n) * lam_n."""
    return slope(m, n, a, s) * lam


# --- boundaries, the loss load and the lines -----------------------------------------------------------------------


def clamp(m: Machine, x: Array) -> Array:
    """The input clamp drives x (channels first, as given) into the nodes that read the input."""
    return m.substrate.signal(ops.to_internal(x, m.graph.input_shape), "input", INPUT)


def send(m: Machine, n: str, s: Array) -> Array:
    """s_n leaving node n for its consumers."""
    return m.substrate.signal(s, "forward", n)


def sent(m: Machine, x: Array, s: Mapping[str, Array]) -> dict[str, Array]:
    """What every node sends this tick: the clamped input, and s_n of every node that feeds another."""
    out = {INPUT: clamp(m, x)}
    for n in m.graph.order:
        if m.graph.succs[n]:
            out[n] = send(m, n, s[n])
    return out


def inputs(m: Machine, n: str, waves: Mapping[str, Array]) -> list[Array]:
    """The inputs of node n's junction, in edge order, from what its predecessors sent."""
    return [waves[p] for p in m.graph.preds[n]]


def output(m: Machine, s_out: Array) -> Array:
    """s_out as the loss load sees it."""
    return m.substrate.signal(s_out, "output", m.graph.output)


def load(m: Machine, y: Array, t: Array) -> Array:
    """The loss load reflects the error wave lam_out = dC/ds_out(y, t) / batch (y: the :func:`output` signal)."""
    return m.substrate.signal(m.loss.grad(y, t) / y.shape[-2], "error", m.graph.output)


def cost(m: Machine, y: Array, t: Array) -> Array:
    """The per-sample loss at the load (y: the :func:`output` signal)."""
    return m.loss.value(y, t)


def blend(wave: Array, new: Array, nu: float) -> Array:
    """The sample-and-hold of a cell below Courant number 1: w + nu (new - w); exactly ``new`` at nu = 1."""
    # NOTE: at nu = 1 the update is a pure transport (no residual), kept exact in floating point
    return new if nu == 1.0 else wave + nu * (new - wave)


def line(m: Machine, n: str, wave: Array, new: Array, nu: float, direction: str) -> Array:
    """A line carries a wave over one tick: transport (nu = 1, exact) or nu-relaxation w + nu (new - w)."""
    return m.substrate.line(blend(wave, new, nu), n, direction)


def carry(m: Machine, n: str, new: Array, direction: str) -> Array:
    """A line at Courant number 1: pure transport of the value its source put on it this tick."""
    return m.substrate.line(new, n, direction)


def gather(contributions: Mapping[str, list[Array]], n: str) -> Array:
    """Kirchhoff at a fan-out: the backward waves arriving at n from its consumers add (one wave: as it is)."""
    waves = contributions[n]
    total = waves[0]
    for more in waves[1:]:
        total = total + more
    return total


# --- sweeps composed from the cells ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Sweep:
    """One forward pass, per node: a_n, sigma(a_n) as the node holds it, s_n on its line, its junction's inputs."""

    pre: dict[str, Array]
    out: dict[str, Array]
    s: dict[str, Array]
    ins: dict[str, list[Array]]


def forward_sweep(m: Machine, x: Array, wb: Mapping[str, Pair] | None = None) -> Sweep:
    """The forward wave once through every node in topological order, each junction reading ``wb``."""
    wb = read(m) if wb is None else wb
    waves = {INPUT: clamp(m, x)}
    pre, out, s, ins = {}, {}, {}, {}
    for n in m.graph.order:
        ins[n] = inputs(m, n, waves)
        pre[n] = junction(m, n, ins[n], wb)
        out[n] = nonlinearity(m, n, pre[n])
        s[n] = carry(m, n, out[n], "forward")
        if m.graph.succs[n]:
            waves[n] = send(m, n, s[n])
    return Sweep(pre, out, s, ins)


# --- the port update -------------------------------------------------------------------------------------------------


def update(m: Machine, steps: Mapping[str, Pair]) -> None:
    """Apply one step per parameter to the device, in place: theta_n <- theta_n + step_n (through ``write``)."""
    for n, step in steps.items():
        update_node(m, n, step)


def update_node(m: Machine, n: str, step: Pair) -> None:
    """Apply one step to node n's devices: W_n += step_W, b_n += step_b (through ``write``)."""
    W, b = m.params[n]
    m.substrate.write(W, step[0], n, "W")
    m.substrate.write(b, step[1], n, "b")


def update_scaled(m: Machine, grads: Mapping[str, Pair], scale: float) -> None:
    """theta_n <- theta_n + scale * g_n for every parameter (the resistor port: scale = -lr), via ``write_scaled``."""
    for n, (W, b) in m.params.items():
        gW, gb = grads[n]
        m.substrate.write_scaled(W, gW, scale, n, "W")
        m.substrate.write_scaled(b, gb, scale, n, "b")
