"""Parameter-port terminations (spec section 1.7): the optimizer is the load that terminates each layer's third port.

At port l the incident effort is the gradient g_l and the flow into the termination is q = -d theta / d tau. Minimal
Reflection picks the flow that a matched load of impedance Z_theta would draw, q = Z_theta^-1 g:

  ResistorPort   Z = 1/eta            theta <- theta - eta g                         gradient descent (SGD)
  HeavyBall      Z(s) = m s + r       v <- beta v - lr g, theta <- theta + v         heavy ball, beta = 1 - r dt / m,
  (InductorPort)                                                                     lr = dt^2 / m (momentum 0: SGD)
  CurvaturePort  Z = H_l (KFAC block) theta <- theta - lr (H_l + damping)^-1 g        damped Newton, per layer

Every port keeps an energy ledger per step (``PortPower``): the power it absorbed from the waves, -g . d theta, split
into what its resistor dissipated and what its inductor stored. The split is exact in floating-point algebra, so the
passivity statement "absorbed = d(stored) + dissipated, dissipated >= 0" can be checked step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array, namespace
from wavetrain.compiler.validate import number
from wavetrain.emulator import cells
from wavetrain.emulator.cells import Grads, Machine
from wavetrain.emulator.curvature import Kronecker, kfac_blocks, newton_direction
from wavetrain.emulator.kernel import light_cone
from wavetrain.errors import ConfigError


@dataclass(frozen=True)
class PortPower:
    """One step's energy balance at all parameter ports together (units of loss)."""

    absorbed: float  # -sum_l g_l . d theta_l, the work the waves delivered to the ports
    dissipated: float  # the resistive part; >= 0 for a passive port
    stored: float  # energy held in the inductors after the step (m/2 |d theta / d tau|^2)


def _positive(owner: str, name: str, value: Any, allow_zero: bool = False, unit: str = "") -> float:
    """``value`` checked by :func:`~wavetrain.compiler.validate.number`, refused in the ports' own words."""
    try:
        return number(value, name, low=0, low_open=not allow_zero)
    except ConfigError:
        raise ConfigError(f"{owner}: {name} must be {'>= 0' if allow_zero else '> 0'}{unit}, got {value!r}") from None


def _dot(grads: Grads, motion: Grads) -> float:
    return float(sum((dW * motion[n][0]).sum() + (db * motion[n][1]).sum() for n, (dW, db) in grads.items()))


def heavy_ball(velocity: Grads, grads: Grads, lr: float, momentum: float) -> None:
    """The inductor's state update, in place: v <- momentum v - lr g (the step then applied is v)."""
    for n, (vW, vb) in velocity.items():
        dW, db = grads[n]
        vW *= momentum
        vW -= lr * dW
        vb *= momentum
        vb -= lr * db


@dataclass
class ResistorPort:
    """A resistor R = 1/eta on every parameter port: theta <- theta - eta g (plain SGD), power eta |g|^2."""

    eta: float
    record: bool = False
    ledger: list[PortPower] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.eta = _positive("ResistorPort", "eta (1/R)", self.eta, unit=" (a negative or zero resistance is active)")

    @property
    def impedance(self) -> float:
        return 1.0 / self.eta

    @property
    def fused(self) -> tuple[float, float] | None:
        """None: this port applies its step through the substrate's ``write`` (no fused schedule takes it)."""
        return None

    def step(self, m: Machine, grads: Grads) -> None:
        """Move every parameter by -eta g in place."""
        grads = cells.keyed_grads(m, grads)
        cells.update(m, {n: (-self.eta * dW, -self.eta * db) for n, (dW, db) in grads.items()})
        if self.record:
            power = self.eta * _dot(grads, grads)
            self.ledger.append(PortPower(power, power, 0.0))


@dataclass
class HeavyBall:
    """The parameter-port termination of train(): an inductor m in series with a resistor r, stepped with dt.

    m theta'' + r theta' = -g becomes v <- beta v - lr g, theta <- theta + v with ``momentum`` beta = 1 - r dt / m and
    ``lr`` = dt^2 / m (the velocity is kept in heavy-ball units v = dt theta'). momentum 0 is the resistor alone (SGD).
    Stored energy m/2 |theta'|^2 = |v|^2 / (2 lr); the discrete dissipation (|v' - beta v|^2 + (1 - beta^2) |v|^2) /
    (2 lr) is >= 0 whenever |beta| <= 1. :func:`InductorPort` builds one from its physical values (m, r, dt).
    """

    lr: float
    momentum: float = 0.0
    dt: float = 1.0  # port time step (only the physical view m, r depends on it)
    record: bool = False
    velocity: dict[str, tuple[Any, Any]] | None = field(default=None, repr=False)  # per node id
    ledger: list[PortPower] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.lr = number(self.lr, "HeavyBall: lr", low=0)
        self.momentum = number(self.momentum, "HeavyBall: momentum (|beta| <= 1 is passive)", low=-1, high=1)
        self.dt = number(self.dt, "HeavyBall: dt", low=0, low_open=True)

    @property
    def beta(self) -> float:
        return self.momentum

    @property
    def m(self) -> float:
        """The inductance dt^2 / lr (parameter inertia)."""
        return self.dt**2 / self.lr

    @property
    def r(self) -> float:
        """The series resistance (1 - beta) m / dt (friction)."""
        return (1.0 - self.momentum) * self.m / self.dt

    @property
    def fused(self) -> tuple[float, float] | None:
        """(lr, momentum) when this port is a plain heavy-ball step that a fused schedule may fold into its BLAS calls
        (emulator/fused.py, pipeline_fused.py); None when it keeps an energy ledger."""
        return None if self.record else (self.lr, self.momentum)

    def zero_velocity(self, m: Machine) -> dict[str, tuple[Any, Any]]:
        """The velocity, created at rest (zeros like the parameters) on first use."""
        if self.velocity is None:
            self.velocity = {n: (namespace(W).zeros_like(W), namespace(b).zeros_like(b)) for n, (W, b) in
                             m.params.items()}  # fmt: skip
        return self.velocity

    def step(self, m: Machine, grads: Grads) -> None:
        """One heavy-ball step of every parameter in place (momentum 0: theta <- theta - lr g)."""
        grads = cells.keyed_grads(m, grads)
        if self.momentum == 0.0 and not self.record:
            cells.update_scaled(m, grads, -self.lr)
            return
        velocity = self.zero_velocity(m)
        before = _dot(velocity, velocity) if self.record else 0.0
        heavy_ball(velocity, grads, self.lr, self.momentum)
        cells.update(m, velocity)
        if self.record:
            beta, lr = self.momentum, self.lr
            after = _dot(velocity, velocity)
            absorbed = -_dot(grads, velocity)
            # NOTE: v' - beta v = -lr g, so |v' - beta v|^2 = lr^2 |g|^2 and the split needs no stored copy of v
            cross = lr * lr * _dot(grads, grads)
            dissipated = (cross + (1.0 - beta * beta) * before) / (2.0 * lr)
            self.ledger.append(PortPower(absorbed, dissipated, after / (2.0 * lr)))


def InductorPort(m: float, r: float, dt: float = 1.0, record: bool = False) -> HeavyBall:  # noqa: N802
    """The heavy-ball port from its physical values: inductance m, series resistance r, time step dt.

    beta = 1 - r dt / m and lr = dt^2 / m; refused unless m > 0, r >= 0 and r dt / m <= 2 (|beta| <= 1, passive).
    """
    if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or not 0 < m < np.inf:
        raise ConfigError(
            f"InductorPort: inductance m must be > 0 (a negative or zero inductance has no inertia "
            f"and is not a physical heavy-ball port), got {m!r}"
        )
    unit = " (a negative resistance pumps energy into the parameters)"
    r = _positive("InductorPort", "resistance r", r, allow_zero=True, unit=unit)
    dt = _positive("InductorPort", "dt", dt)
    if r * dt / m > 2.0:
        raise ConfigError(f"InductorPort: r dt / m must be <= 2 so that |beta| <= 1 (passive), got {r * dt / m}")
    return HeavyBall(dt**2 / m, 1.0 - r * dt / m, dt, record)


@dataclass
class CurvaturePort:
    """A load matched to the local curvature: theta <- theta - lr (A (x) G + damping)^-1 g per layer (damped Newton).

    The port needs the curvature of the batch it is about to serve: :meth:`observe` builds the per-layer Kronecker
    Gauss-Newton blocks (optionally averaged with ``decay``), and the ``curvature`` method feeds it every minibatch.
    """

    lr: float = 1.0
    damping: float = 1e-3
    decay: float = 0.0  # weight of the previous blocks in a running average (0: this batch only)
    record: bool = False
    blocks: dict[str, Kronecker] | None = field(default=None, repr=False)
    ledger: list[PortPower] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.lr = _positive("CurvaturePort", "lr", self.lr)
        self.damping = _positive("CurvaturePort", "damping", self.damping, allow_zero=True)
        if not 0.0 <= self.decay < 1.0:
            raise ConfigError(f"CurvaturePort: decay must be in [0, 1), got {self.decay!r}")

    @property
    def fused(self) -> tuple[float, float] | None:
        return None

    def observe(self, m: Machine, x: Array) -> None:
        """Measure the local curvature model on the batch x (call before :meth:`step`)."""
        fresh = kfac_blocks(m, x)
        if self.blocks is None or self.decay == 0.0:
            self.blocks = fresh
            return
        d = self.decay
        self.blocks = {k: Kronecker(d * o.a + (1 - d) * fresh[k].a, d * o.g + (1 - d) * fresh[k].g)
                       for k, o in self.blocks.items()}  # fmt: skip

    def step(self, m: Machine, grads: Grads) -> None:
        """One damped Newton step per layer in place."""
        if self.blocks is None:
            raise ConfigError(
                "CurvaturePort: no curvature observed yet; call port.observe(machine, x) first or train with "
                "method='curvature', which feeds the port every minibatch"
            )
        grads = cells.keyed_grads(m, grads)
        steps = newton_direction(self.blocks, grads, self.damping)
        cells.update(m, {n: (self.lr * sW, self.lr * sb) for n, (sW, sb) in steps.items()})
        if self.record:
            absorbed = -self.lr * _dot(grads, steps)
            self.ledger.append(PortPower(absorbed, absorbed, 0.0))


@dataclass
class CurvatureMatched:
    """Method 'curvature': exact gradients (light cone, tick 2L) into a port that observes the batch's curvature.

    A port passed by ``train`` is used when it can observe (a CurvaturePort); otherwise the method's own ``port``
    terminates the layers, since a resistor or inductor has no curvature to match.
    """

    # NOTE: damping 0.1: at 1e-2 the Newton step overshoots on digits (87 % after 30 epochs, loss oscillating
    # 0.9-1.2); at 0.1 it trains to 98.9 % in 10 epochs (64-128-128-10, batch 32, seed 0)
    port: CurvaturePort = field(default_factory=lambda: CurvaturePort(lr=0.5, damping=0.1, decay=0.9))
    name: str = "curvature"

    def check(self, graph: Any) -> None:
        """Refuse a graph this rule is not defined on, before any work (Kronecker factors per dense layer)."""
        from wavetrain.emulator import cells

        problem = cells.chain_problem(graph, "the curvature port (Kronecker factors per dense layer)")
        if problem:
            raise ConfigError(problem)

    def step(self, m: Machine, x: Array, t: Array, port: Any) -> Array:
        """Read the tick-2L gradient, let the port observe the curvature, step it; return the per-sample loss."""
        grads, _, loss = light_cone(m, x, t)
        load = port if isinstance(port, CurvaturePort) else self.port
        load.observe(m, x)
        load.step(m, grads)
        return loss
