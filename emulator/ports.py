"""Parameter-port terminations (spec section 1.7): the optimizer is the load that terminates each layer's third port.

At port l the incident effort is the gradient g_l and the flow into the termination is q = -d theta / d tau. Minimal
Reflection picks the flow that a matched load of impedance Z_theta would draw, q = Z_theta^-1 g:

  ResistorPort   Z = 1/eta            theta <- theta - eta g                         gradient descent (SGD)
  InductorPort   Z(s) = m s + r       v <- beta v - lr g, theta <- theta + v         heavy ball, beta = 1 - r dt / m,
                                                                                     lr = dt^2 / m
  CurvaturePort  Z = H_l (KFAC block) theta <- theta - lr (H_l + damping)^-1 g        damped Newton, per layer

Every port keeps an energy ledger per step (``PortPower``): the power it absorbed from the waves, -g . d theta, split
into what its resistor dissipated and what its inductor stored. The split is exact in floating-point algebra, so the
passivity statement "absorbed = d(stored) + dissipated, dissipated >= 0" can be checked step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavetrain.compiler.functions import namespace
from wavetrain.compiler.network import Network
from wavetrain.emulator import cells
from wavetrain.emulator.curvature import Kronecker, kfac_blocks, newton_direction
from wavetrain.emulator.kernel import Grads, Machine, Params, light_cone
from wavetrain.emulator.substrate import IDEAL, Substrate
from wavetrain.errors import ConfigError


@dataclass(frozen=True)
class PortPower:
    """One step's energy balance at all parameter ports together (units of loss)."""

    absorbed: float  # -sum_l g_l . d theta_l, the work the waves delivered to the ports
    dissipated: float  # the resistive part; >= 0 for a passive port
    stored: float  # energy held in the inductors after the step (m/2 |d theta / d tau|^2)


def _positive(owner: str, name: str, value: Any, allow_zero: bool = False, unit: str = "") -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{owner}: {name} must be {bound}{unit}, got {value!r}")
    return float(value)


def _dot(grads: Grads, motion: Grads) -> float:
    return float(sum((dW * mW).sum() + (db * mb).sum() for (dW, db), (mW, mb) in zip(grads, motion)))


def heavy_ball(velocity: Grads, grads: Grads, lr: float, momentum: float) -> None:
    """The inductor's state update, in place: v <- momentum v - lr g (the step then applied is v)."""
    for (vW, vb), (dW, db) in zip(velocity, grads):
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

    def step(self, params: Params, grads: Grads, substrate: Substrate = IDEAL) -> None:
        """Move every parameter by -eta g in place."""
        cells.update(params, [(-self.eta * dW, -self.eta * db) for dW, db in grads], substrate)
        if self.record:
            power = self.eta * _dot(grads, grads)
            self.ledger.append(PortPower(power, power, 0.0))


@dataclass
class InductorPort:
    """An inductor m in series with a resistor r: m theta'' + r theta' = -g, stepped with dt (heavy ball).

    The velocity is kept in heavy-ball units v = dt theta' so that the update is literally v <- beta v - lr g,
    theta <- theta + v with beta = 1 - r dt / m and lr = dt^2 / m. Stored energy m/2 |theta'|^2 = |v|^2 / (2 lr); the
    discrete dissipation (|v' - beta v|^2 + (1 - beta^2) |v|^2) / (2 lr) is >= 0 whenever |beta| <= 1.
    """

    m: float  # inductance (parameter inertia)
    r: float  # series resistance (friction)
    dt: float = 1.0  # port time step
    record: bool = False
    velocity: list[tuple[Any, Any]] | None = field(default=None, repr=False)
    ledger: list[PortPower] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.m, (int, float, np.integer, np.floating)) or not np.isfinite(self.m) or self.m <= 0:
            raise ConfigError(
                f"InductorPort: inductance m must be > 0 (a negative or zero inductance has no inertia "
                f"and is not a physical heavy-ball port), got {self.m!r}"
            )
        self.r = _positive(
            "InductorPort",
            "resistance r",
            self.r,
            allow_zero=True,
            unit=" (a negative resistance pumps energy into the parameters)",
        )
        self.dt = _positive("InductorPort", "dt", self.dt)
        if self.r * self.dt / self.m > 2.0:
            raise ConfigError(
                f"InductorPort: r dt / m must be <= 2 so that |beta| <= 1 (passive), got {self.r * self.dt / self.m}"
            )

    @property
    def beta(self) -> float:
        return 1.0 - self.r * self.dt / self.m

    @property
    def lr(self) -> float:
        return self.dt**2 / self.m

    @classmethod
    def from_heavy_ball(cls, lr: float, momentum: float, dt: float = 1.0, record: bool = False) -> InductorPort:
        """The L-R port equal to heavy ball (lr, momentum): m = dt^2 / lr, r = (1 - momentum) m / dt."""
        lr = _positive("InductorPort.from_heavy_ball", "lr", lr)
        m = dt**2 / lr
        return cls(m, (1.0 - momentum) * m / dt, dt, record)

    def step(self, params: Params, grads: Grads, substrate: Substrate = IDEAL) -> None:
        """One heavy-ball step of every parameter in place."""
        if self.velocity is None:
            self.velocity = [(namespace(W).zeros_like(W), namespace(b).zeros_like(b)) for W, b in params]
        beta, lr = self.beta, self.lr
        before = _dot(self.velocity, self.velocity) if self.record else 0.0
        cross = 0.0
        heavy_ball(self.velocity, grads, lr, beta)
        cells.update(params, self.velocity, substrate)
        if self.record:
            after = _dot(self.velocity, self.velocity)
            absorbed = -_dot(grads, self.velocity)
            # NOTE: v' - beta v = -lr g, so |v' - beta v|^2 = lr^2 |g|^2 and the split needs no stored copy of v
            cross = lr * lr * _dot(grads, grads)
            dissipated = (cross + (1.0 - beta * beta) * before) / (2.0 * lr)
            self.ledger.append(PortPower(absorbed, dissipated, after / (2.0 * lr)))


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
    blocks: list[Kronecker] | None = field(default=None, repr=False)
    ledger: list[PortPower] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.lr = _positive("CurvaturePort", "lr", self.lr)
        self.damping = _positive("CurvaturePort", "damping", self.damping, allow_zero=True)
        if not 0.0 <= self.decay < 1.0:
            raise ConfigError(f"CurvaturePort: decay must be in [0, 1), got {self.decay!r}")

    def observe(self, params: Params, net: Network, x: Any, substrate: Substrate = IDEAL) -> None:
        """Measure the local curvature model on the batch x (call before :meth:`step`)."""
        fresh = kfac_blocks(params, net, x, substrate)
        if self.blocks is None or self.decay == 0.0:
            self.blocks = fresh
            return
        d = self.decay
        self.blocks = [Kronecker(d * o.a + (1 - d) * n.a, d * o.g + (1 - d) * n.g) for o, n in zip(self.blocks, fresh)]

    def step(self, params: Params, grads: Grads, substrate: Substrate = IDEAL) -> None:
        """One damped Newton step per layer in place."""
        if self.blocks is None:
            raise ConfigError(
                "CurvaturePort: no curvature observed yet; call port.observe(params, net, x) first or train with "
                "method='curvature', which feeds the port every minibatch"
            )
        steps = newton_direction(self.blocks, grads, self.damping)
        cells.update(params, [(self.lr * sW, self.lr * sb) for sW, sb in steps], substrate)
        if self.record:
            absorbed = -self.lr * _dot(grads, steps)
            self.ledger.append(PortPower(absorbed, absorbed, 0.0))


@dataclass
class CurvatureMatched:
    """Method 'curvature': exact gradients (light cone, tick 2L) into a port that observes the batch's curvature.

    A port passed by ``train`` is used when it can observe (a CurvaturePort); otherwise the method's own ``port``
    terminates the layers, since a resistor or inductor has no curvature to match.
    """

    port: CurvaturePort = field(default_factory=lambda: CurvaturePort(lr=0.5, damping=1e-2, decay=0.9))
    name: str = "curvature"

    def step(self, params: Params, net: Network, x: Any, t: Any, port: Any, substrate: Substrate = IDEAL) -> Any:
        """Read the tick-2L gradient, let the port observe the curvature, step it; return the per-sample loss."""
        grads, _, loss = light_cone(Machine.of(net, params, substrate), x, t)
        load = port if hasattr(port, "observe") else self.port
        if substrate.ideal:
            load.observe(params, net, x)
        else:
            load.observe(params, net, x, substrate=substrate)
        cells.port_step(load, params, grads, substrate)
        return loss
