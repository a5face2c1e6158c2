"""The cells of the wave machine, written once: every schedule, learning rule and the NumPy circuit target compose them.

A cell does its math through the hooks of the machine's :class:`~wavetrain.emulator.substrate.Substrate`, so the
arithmetic it runs on (ideal float, Loihi fixed point, an analog device) is a value, never a code path. Layers ``l``
are 0-based (layer l+1 of the spec). Every cell broadcasts over leading axes: with a Monte-Carlo axis of chip instances
waves are (chips, batch, n) and parameters (chips, out, in), so transposes are ``swapaxes(-1, -2)`` and batch sums run
over axis -2. With identity hooks (``IDEAL``) each cell is the plain equation, bit for bit.

  cell           equation                                        substrate hooks
  read           W~_l, b~_l = weight(W_l), bias(b_l)             weight, bias (once per tick; both waves see it)
  clamp          s_0 = x                                         signal "input"
  send           s_l leaves layer l for layer l+1                signal "forward" (l: the sending layer)
  junction       a_l = W_l s_{l-1} + b_l                         crossbar "forward", accumulate
  nonlinearity   s_l = sigma(a_l)                                activate
  sensitivity    delta_l = sigma'(a_l) * lam_l                   derivative
  back           lam_{l-1} = W_l^T delta_l                       crossbar "backward", signal "backward" (l-1: the
                                                                 receiving layer)
  readout        G_l = delta_l^T s_{l-1}, g_l = sum_batch delta  gradient "W", "b"
  output         y = s_L at the loss load                        signal "output"
  load           lam_L = dC/dy (y, t) / batch                    signal "error"
  line / carry   w <- w + nu (w_new - w)  (w_new at nu = 1)      line "forward" / "backward"
  update         theta_l <- theta_l + step_l                     write "W", "b" (write_scaled: step = scale g)

The three products of the junction (forward W s, backward W^T delta, port readout delta^T s) are
:func:`forward_product`, :func:`backward_product` and :func:`outer_product`; nothing else in library code multiplies
by a layer's weights (the textbook ``backprop`` reference is written apart on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from wavetrain.compiler.functions import Activation, Array, Loss
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError

if TYPE_CHECKING:
    from wavetrain.compiler.network import Network

Params = Sequence[tuple[Array, Array]]  # (W_l, b_l) per layer; W_l has shape (..., out, in)
Grads = list[tuple[Array, Array]]  # (dC/dW_l, dC/db_l) per layer


@dataclass(frozen=True, eq=False)
class Machine:
    """One network as the kernel sees it: live parameters, nonlinearities, loss load and the substrate it runs on.

    Build it with :meth:`wavetrain.compiler.network.Network.machine` (or :meth:`of`). ``params`` are the live arrays
    the ports write into (views of the network's, unless a dtype cast asked for copies). Every schedule, learning
    rule and port takes the Machine: the substrate travels with it, never beside it. ``net`` is the network whose
    topology it runs (None for a bare stack of junctions, such as MPC's local heads).
    """

    params: Params
    acts: tuple[Activation, ...]
    loss: Loss
    substrate: Substrate = IDEAL
    net: Network | None = None

    @classmethod
    def of(cls, net: Network, params: Params | None = None, substrate: Substrate = IDEAL) -> Machine:
        """The machine of a :class:`~wavetrain.compiler.network.Network` (its own live parameters by default)."""
        return cls(
            net.params() if params is None else params,
            tuple(layer.act for layer in net.layers),
            net.loss_fn,
            substrate,
            net,
        )

    @property
    def depth(self) -> int:
        return len(self.params)

    @property
    def network(self) -> Network:
        """The network this machine runs (refused for a bare stack of junctions)."""
        if self.net is None:
            raise ConfigError("this machine is a bare stack of junctions with no network; build it with Machine.of")
        return self.net

    def with_params(self, params: Params) -> Machine:
        return replace(self, params=params)

    def on(self, substrate: Substrate) -> Machine:
        """The same network and parameters on another substrate."""
        return replace(self, substrate=substrate)


# --- the junction: reads, the three products, the integrator ------------------------------------------------------


def read(m: Machine) -> list[tuple[Array, Array]]:
    """Every junction reads its parameters once (a tick's forward and backward waves see the same read)."""
    return [read_layer(m, l) for l in range(m.depth)]


def read_layer(m: Machine, l: int) -> tuple[Array, Array]:
    """Junction l reads (W_l, b_l) from its devices."""
    W, b = m.params[l]
    return m.substrate.weight(W, l), m.substrate.bias(b, l)


def forward_product(W: Array, s: Array) -> Array:
    """W s for batch rows: s (.., batch, in) @ W^T (.., in, out)."""
    return s @ W.swapaxes(-1, -2)


def backward_product(W: Array, delta: Array) -> Array:
    """W^T delta for batch rows: delta (.., batch, out) @ W (.., out, in)."""
    return delta @ W


def outer_product(delta: Array, s: Array) -> Array:
    """delta^T s summed over the batch: (.., out, batch) @ (.., batch, in)."""
    return delta.swapaxes(-1, -2) @ s


def junction(m: Machine, l: int, s: Array, wb: tuple[Array, Array]) -> Array:
    """The integrator of layer l: a_l = W_l s_{l-1} + b_l (wb: this tick's read of (W_l, b_l))."""
    W, b = wb
    return m.substrate.accumulate(m.substrate.crossbar(forward_product(W, s), s, l, "forward") + b[..., None, :], l)


def back(m: Machine, l: int, delta: Array, W: Array) -> Array:
    """The backward wave leaving layer l's junction for layer l-1: lam_{l-1} = W_l^T delta_l."""
    y = m.substrate.crossbar(backward_product(W, delta), delta, l, "backward")
    return m.substrate.signal(y, "backward", l - 1)


def readout(m: Machine, l: int, delta: Array, s: Array) -> tuple[Array, Array]:
    """The port of layer l reads (G_l, g_l) = (delta_l^T s_{l-1}, delta_l summed over the batch)."""
    sub = m.substrate
    return sub.gradient(outer_product(delta, s), l, "W"), sub.gradient(delta.sum(axis=-2), l, "b")


# --- the nonlinearity ----------------------------------------------------------------------------------------------


def nonlinearity(m: Machine, l: int, a: Array) -> Array:
    """s_l = sigma(a_l)."""
    return m.substrate.activate(m.acts[l], a, l)


def slope(m: Machine, l: int, a: Array, s: Array) -> Array:
    """The small-signal gain sigma'(a_l) (s = sigma(a_l), for derivatives that s determines)."""
    return m.substrate.derivative(m.acts[l], a, s, l)


def sensitivity(m: Machine, l: int, a: Array, s: Array, lam: Array) -> Array:
    """delta_l = sigma'(a_l) * lam_l."""
    return slope(m, l, a, s) * lam


# --- boundaries, the loss load and the lines -----------------------------------------------------------------------


def clamp(m: Machine, x: Array) -> Array:
    """The input clamp drives x into layer 1."""
    return m.substrate.signal(x, "input", 0)


def send(m: Machine, l: int, s: Array) -> Array:
    """s_l leaving layer l for the junction of layer l+1."""
    return m.substrate.signal(s, "forward", l)


def inputs(m: Machine, x: Array, s: Sequence[Array]) -> list[Array]:
    """What each junction sees: [clamp(x), send(s_1), ..., send(s_{L-1})]."""
    return [clamp(m, x), *(send(m, l, s[l]) for l in range(m.depth - 1))]


def output(m: Machine, s_last: Array) -> Array:
    """s_L as the loss load sees it."""
    return m.substrate.signal(s_last, "output", m.depth - 1)


def load(m: Machine, y: Array, t: Array) -> Array:
    """The loss load reflects the error wave lam_L = dC/ds_L(y, t) / batch (y: the :func:`output` signal)."""
    return m.substrate.signal(m.loss.grad(y, t) / y.shape[-2], "error", m.depth - 1)


def cost(m: Machine, y: Array, t: Array) -> Array:
    """The per-sample loss at the load (y: the :func:`output` signal)."""
    return m.loss.value(y, t)


def blend(wave: Array, new: Array, nu: float) -> Array:
    """The sample-and-hold of a cell below Courant number 1: w + nu (new - w); exactly ``new`` at nu = 1."""
    # NOTE: at nu = 1 the update is a pure transport (no residual), kept exact in floating point
    return new if nu == 1.0 else wave + nu * (new - wave)


def line(m: Machine, l: int, wave: Array, new: Array, nu: float, direction: str) -> Array:
    """A line carries a wave over one tick: transport (nu = 1, exact) or nu-relaxation w + nu (new - w)."""
    return m.substrate.line(blend(wave, new, nu), l, direction)


# --- sweeps composed from the cells ----------------------------------------------------------------------------------


def carry(m: Machine, l: int, new: Array, direction: str) -> Array:
    """A line at Courant number 1: pure transport of the value its source put on it this tick."""
    return m.substrate.line(new, l, direction)


@dataclass(frozen=True, eq=False)
class Sweep:
    """One forward pass: a_l, sigma(a_l) as the layer holds it, the wave s_l on its line, and each junction's input."""

    pre: list[Array]  # a_1..a_L
    out: list[Array]  # sigma(a_l), l = 1..L (what the layer's own derivative reads)
    s: list[Array]  # s_1..s_L on the forward lines (carry(out))
    ins: list[Array]  # the input of junction l: [clamp(x), send(s_1), ..., send(s_{L-1})]


def forward_sweep(m: Machine, x: Array, wb: Sequence[tuple[Array, Array]] | None = None) -> Sweep:
    """The forward wave once through every layer, each junction reading ``wb`` (default: a fresh :func:`read`)."""
    wb = read(m) if wb is None else wb
    ins, pre, out, s = [clamp(m, x)], [], [], []
    for l in range(m.depth):
        pre.append(junction(m, l, ins[-1], wb[l]))
        out.append(nonlinearity(m, l, pre[-1]))
        s.append(carry(m, l, out[-1], "forward"))
        if l < m.depth - 1:
            ins.append(send(m, l, s[-1]))
    return Sweep(pre, out, s, ins)


# --- the port update -------------------------------------------------------------------------------------------------


def update(m: Machine, steps: Sequence[tuple[Array, Array]]) -> None:
    """Apply one step per parameter to the device, in place: theta_l <- theta_l + step_l (through ``write``)."""
    for l, step in enumerate(steps):
        update_layer(m, l, step)


def update_layer(m: Machine, l: int, step: tuple[Array, Array]) -> None:
    """Apply one step to layer l's devices: W_l += step_W, b_l += step_b (through ``write``)."""
    W, b = m.params[l]
    m.substrate.write(W, step[0], l, "W")
    m.substrate.write(b, step[1], l, "b")


def update_scaled(m: Machine, grads: Sequence[tuple[Array, Array]], scale: float) -> None:
    """theta_l <- theta_l + scale * g_l for every parameter (the resistor port: scale = -lr), via ``write_scaled``."""
    for l, ((W, b), (gW, gb)) in enumerate(zip(m.params, grads)):
        m.substrate.write_scaled(W, gW, scale, l, "W")
        m.substrate.write_scaled(b, gb, scale, l, "b")
