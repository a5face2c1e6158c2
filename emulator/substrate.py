"""The substrate: the arithmetic the wave cells run on, passed in as a value, never chosen by a code path.

A cell (junction, nonlinearity, line, loss load, clamp, port; :mod:`wavetrain.emulator.cells`) does its math through
the hooks of a :class:`Substrate`. The base class is the ideal machine: every hook is the identity on exact floating
point, so ``IDEAL`` reproduces the plain equations bit for bit. A physical substrate overrides only the hooks its
physics changes:

  hook                                   ideal           where it enters (who calls it)
  weight(W, l) / bias(b, l)              W, b            the junction reads a parameter (once per tick: the forward
                                                         and backward waves of that tick see the same read)
  crossbar(y, x, l, direction)           y               a product through layer l's devices, y = W x ("forward", x =
                                                         s_{l-1}) or y = W^T x ("backward", x = delta_l), for the
                                                         drive x: per-read effects referred to the output
  accumulate(a, l)                       a               the junction's integrator holds a = W s + b (neuron state)
  activate(act, a, l)                    act.f(a)        the nonlinearity sigma(a)
  derivative(act, a, s, l)               act.df(a, s)    the nonlinearity's small-signal gain sigma'(a)
  signal(v, where, l)                    v               a signal crossing a boundary; ``where`` in BOUNDARIES
  line(wave, l, direction)               wave            a line carrying a wave over one tick ("forward"/"backward")
  gradient(g, l, kind)                   g               the port reads its gradient (kind "W" or "b")
  write(p, step, l, kind)                p += step       the port's continuous update applied to the device, in place
  write_scaled(p, g, scale, l, kind)     p += scale g    the same for a step the port gives as scale x an array it
                                                         does not own (its gradient): write(p, scale * g) unless a
                                                         substrate can apply it without the whole temporary
  rest()                                 nothing         the waves start from rest (a relaxation from zero state):
                                                         a substrate with line history (echoes) forgets it

Layers ``l`` are 0-based (layer l+1 of the spec). Every hook must broadcast over leading axes: with a Monte-Carlo axis
of chip instances (``chips`` not None) waves are (chips, batch, n) and parameters (chips, out, in), and cells
transpose with ``swapaxes(-1, -2)`` and sum the batch over axis -2.

A substrate may hold state (a seeded random generator, device conductances, an exponent per layer); make one per run
from a seed (numpy's SeedSequence) so that a run is reproducible. Hooks must not change their inputs except ``write``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from wavetrain.compiler.functions import Activation, Array

# Where a signal crosses from one physical domain into another:
#   input     the clamp drives x into layer 1 (a DAC on hardware)
#   forward   s_l leaves layer l for the junction of layer l+1 (a message between layers / cores)
#   backward  lam_l leaves layer l+1's junction for layer l (the left-moving message)
#   output    s_L reaches the loss load (an ADC on hardware)
#   error     the loss load's reflected error wave dC/ds_L enters the backward line
BOUNDARIES = ("input", "forward", "backward", "output", "error")
DIRECTIONS = ("forward", "backward")
PARAM_KINDS = ("W", "b")


class Substrate:
    """Ideal floating-point arithmetic (float64 or float32, whatever the arrays carry): every hook is the identity.

    Subclass it and override the hooks a physical substrate changes; see the module docstring for the table.
    """

    name: str = "ideal"
    chips: int | None = None  # size of the Monte-Carlo axis of chip instances; None: no chip axis
    # the float dtype this substrate's arithmetic needs (e.g. float64 where integers must stay exact); None: any.
    # train() uses it when no dtype is asked for, and refuses another one.
    needs_dtype: ClassVar[str | None] = None

    @property
    def ideal(self) -> bool:
        """True when every hook is the identity, so a schedule may take a verified fast path (the fused BLAS step)."""
        return type(self) is Substrate

    def weight(self, W: Array, layer: str) -> Array:
        return W

    def bias(self, b: Array, layer: str) -> Array:
        return b

    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        return y

    def accumulate(self, a: Array, layer: str) -> Array:
        return a

    def activate(self, act: Activation, a: Array, layer: str) -> Array:
        return act.f(a)

    def derivative(self, act: Activation, a: Array, s: Array, layer: str) -> Array:
        return act.df(a, s)

    def signal(self, v: Array, where: str, layer: str) -> Array:
        return v

    def line(self, wave: Array, layer: str, direction: str) -> Array:
        return wave

    def gradient(self, g: Array, layer: str, kind: str) -> Array:
        return g

    def write(self, p: Array, step: Array, layer: str, kind: str) -> None:
        p += step

    def write_scaled(self, p: Array, g: Array, scale: float, layer: str, kind: str) -> None:
        self.write(p, scale * g, layer, kind)

    def rest(self) -> None:
        """A relaxation starts from zero waves: forget any history the lines keep (echoes in flight)."""

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (name and settings) for results, checkpoints and reports."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


Ideal = Substrate
IDEAL = Substrate()


class Delegate(Substrate):
    """A substrate that hands every hook to ``inner``: the base of views that change one or two hooks of another
    substrate while sharing its state (its devices, generators, line history), e.g. a recording or an inference view.
    """

    def __init__(self, inner: Substrate) -> None:
        self.inner = inner
        self.name = inner.name
        self.chips = inner.chips

    @property
    def ideal(self) -> bool:
        return False  # NOTE: a view always runs the cells through its hooks

    def weight(self, W: Array, layer: str) -> Array:
        return self.inner.weight(W, layer)

    def bias(self, b: Array, layer: str) -> Array:
        return self.inner.bias(b, layer)

    def crossbar(self, y: Array, x: Array, layer: str, direction: str) -> Array:
        return self.inner.crossbar(y, x, layer, direction)

    def accumulate(self, a: Array, layer: str) -> Array:
        return self.inner.accumulate(a, layer)

    def activate(self, act: Activation, a: Array, layer: str) -> Array:
        return self.inner.activate(act, a, layer)

    def derivative(self, act: Activation, a: Array, s: Array, layer: str) -> Array:
        return self.inner.derivative(act, a, s, layer)

    def signal(self, v: Array, where: str, layer: str) -> Array:
        return self.inner.signal(v, where, layer)

    def line(self, wave: Array, layer: str, direction: str) -> Array:
        return self.inner.line(wave, layer, direction)

    def gradient(self, g: Array, layer: str, kind: str) -> Array:
        return self.inner.gradient(g, layer, kind)

    def write(self, p: Array, step: Array, layer: str, kind: str) -> None:
        self.inner.write(p, step, layer, kind)

    def write_scaled(self, p: Array, g: Array, scale: float, layer: str, kind: str) -> None:
        self.inner.write_scaled(p, g, scale, layer, kind)

    def rest(self) -> None:
        self.inner.rest()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
