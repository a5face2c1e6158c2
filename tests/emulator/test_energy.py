"""The energy identity of unlocked training (emulator/energy.py) against a hand-written wave loop and torch curvature.

References that share no code with the ledger: the unlocked relaxation written out from spec sections 1.8 / 7
(Jacobi, Courant 1) with a plain SGD step, tests/reference.py's backprop for the loss and its exact gradient, and
torch autograd's Hessian-vector product for the second-order remainder eta^2/2 g^T H g.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.reference import backprop
from wavetrain import Network
from wavetrain.emulator.energy import identity_ratio, locked_energy, unlocked_energy
from wavetrain.emulator.ports import HeavyBall, ResistorPort
from wavetrain.errors import ConfigError


@pytest.fixture
def problem():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 3))
    y = np.stack([np.sin(x[:, 0] + x[:, 1]), np.cos(x[:, 2]) * x[:, 0]], axis=1) * 0.8
    return Network.mlp([3, 8, 8, 2], output_activation="tanh", seed=5), x, y


def _tanh(a):
    s = np.tanh(a)
    return s, 1.0 - s * s


def hand_unlocked(net: Network, x: np.ndarray, y: np.ndarray, eta: float, ticks: int):
    """Spec 1.8 at Courant 1 with tanh layers and mse, written out: per tick (theta_k, readout g_k)."""
    Ws = [layer.weight.copy() for layer in net.layers]
    bs = [layer.bias.copy() for layer in net.layers]
    depth, batch = len(Ws), len(x)
    s = [np.zeros((batch, W.shape[0])) for W in Ws]
    lam = [np.zeros((batch, W.shape[0])) for W in Ws]
    history = []
    for _ in range(ticks):
        ins = [x] + s[:-1]
        pairs = [_tanh(ins[l] @ Ws[l].T + bs[l]) for l in range(depth)]
        delta = [pairs[l][1] * lam[l] for l in range(depth)]
        grads = [(delta[l].T @ ins[l], delta[l].sum(axis=0)) for l in range(depth)]
        history.append(([W.copy() for W in Ws], [b.copy() for b in bs], grads))
        lam = [delta[l + 1] @ Ws[l + 1] for l in range(depth - 1)] + [(s[-1] - y) / batch]
        s = [out for out, _ in pairs]
        for l in range(depth):
            Ws[l] -= eta * grads[l][0]
            bs[l] -= eta * grads[l][1]
    return history


def reference(Ws, bs, x, y):
    """(mean loss, flat exact gradient) from tests/reference.py."""
    dws, dbs, loss = backprop(Ws, bs, ["tanh"] * len(Ws), "mse", x, y)
    return loss, np.concatenate([np.concatenate([dw.ravel(), db]) for dw, db in zip(dws, dbs)])


def curvature(Ws, bs, x, y, direction):
    """direction^T H direction of the mean mse loss, by torch autograd (Hessian-vector product)."""
    import torch

    shapes = [(W.shape, b.shape) for W, b in zip(Ws, bs)]
    theta = torch.tensor(np.concatenate([np.concatenate([W.ravel(), b]) for W, b in zip(Ws, bs)]))

    def loss(flat):
        out, at = torch.tensor(x), 0
        for ws, bsh in shapes:
            n, m = ws[0] * ws[1], bsh[0]
            W, b = flat[at : at + n].reshape(ws), flat[at + n : at + n + m]
            at += n + m
            out = torch.tanh(out @ W.T + b)
        return (0.5 * ((out - torch.tensor(y)) ** 2).sum(dim=1)).mean()

    v = torch.tensor(direction)
    return float(torch.autograd.functional.hvp(loss, theta, v)[1] @ v)


def flat(grads):
    return np.concatenate([np.concatenate([gW.ravel(), gb]) for gW, gb in grads])


def test_unlocked_ledger_matches_a_hand_written_wave_loop(problem) -> None:
    net, x, y = problem
    eta, ticks = 0.05, 30
    trace = unlocked_energy(net.copy(), x, y, ticks, ResistorPort(eta, record=True))
    history = hand_unlocked(net, x, y, eta, ticks)
    for k, (Ws, bs, grads) in enumerate(history):
        loss, exact = reference(Ws, bs, x, y)
        g = flat(grads)
        assert trace.loss[k] == pytest.approx(loss, rel=0, abs=1e-12)
        assert trace.dissipated[k] == pytest.approx(eta * g @ g, rel=0, abs=1e-12)
        assert trace.stale[k] == pytest.approx(-eta * (exact - g) @ g, rel=0, abs=1e-12)
    assert trace.stored.max() == 0.0


@pytest.mark.parametrize("eta", [3e-2, 3e-3])
def test_locked_residual_is_the_second_order_taylor_remainder(problem, eta: float) -> None:
    """Locked: each step's residual is eta^2/2 g^T H g (torch) up to O(eta^3), so its relative error is O(eta)."""
    net, x, y = problem
    trace = locked_energy(net.copy(), x, y, 6, ResistorPort(eta, record=True))
    assert np.all(trace.stale == 0.0)
    steps = np.diff(trace.residual())
    copy = net.copy()
    for k, step in enumerate(steps):
        Ws, bs = [layer.weight for layer in copy.layers], [layer.bias for layer in copy.layers]
        _, g = reference(Ws, bs, x, y)
        predicted = 0.5 * eta**2 * curvature(Ws, bs, x, y, g)
        assert abs(step / predicted - 1.0) < eta, (k, step, predicted)
        at = 0
        for layer in copy.layers:
            n, m = layer.weight.size, layer.bias.size
            layer.weight -= eta * g[at : at + n].reshape(layer.weight.shape)
            layer.bias -= eta * g[at + n : at + n + m]
            at += n + m


def test_unlocked_residual_less_the_stale_work_is_the_taylor_remainder(problem) -> None:
    """Unlocked: what the stale readout does not explain is eta^2/2 g_k^T H(theta_k) g_k to O(eta) relative."""
    net, x, y = problem
    eta, ticks, start = 0.01, 40, 8
    trace = unlocked_energy(net.copy(), x, y, ticks, ResistorPort(eta, record=True))
    history = hand_unlocked(net, x, y, eta, ticks)
    predicted = sum(0.5 * eta**2 * curvature(Ws, bs, x, y, flat(grads)) for Ws, bs, grads in history[start:-1])
    remainder, residual = trace.remainder(start)[-1], trace.residual(start)[-1]
    assert abs(remainder / predicted - 1.0) < eta
    # the stale work is most of the residual: the latency, not the step, is what the identity misses
    assert abs(residual - remainder) > 3 * abs(remainder)


def test_residual_over_dissipated_is_first_order_in_eta_at_equal_flow_time(problem) -> None:
    """T7's protocol: at equal flow time the ratio is c eta (order 1), unlocked c well above the locked (Taylor) c.

    The earlier row compared runs of equal tick counts (400 ticks at eta 0.02 and 0.1: different flow times) and
    measured an order of 0.70 on the T7 toy.
    """
    net, x, y = problem
    weight = net.layers[0].weight.copy()
    etas = np.array([0.005, 0.01, 0.02])
    unlocked = np.array([identity_ratio(net, x, y, eta, (0.5, 2.5))[0] for eta in etas])
    locked = np.array([identity_ratio(net, x, y, eta, (0.5, 2.5), locked=True)[0] for eta in etas])
    order = np.polyfit(np.log(etas), np.log(unlocked), 1)[0]
    assert 0.9 < order < 1.1, order
    assert 0.9 < np.polyfit(np.log(etas), np.log(locked), 1)[0] < 1.1
    assert np.all(unlocked > 3 * locked)
    assert np.array_equal(net.layers[0].weight, weight)  # identity_ratio runs on a copy


def test_inductor_ledger_keeps_the_energy_a_reused_port_already_holds(problem) -> None:
    """A port that already moved holds kinetic energy: stored(0) of the next trace is that energy, not 0."""
    net, x, y = problem
    port = HeavyBall(0.02, 0.9, record=True)
    first = unlocked_energy(net.copy(), x, y, 20, port)
    again = unlocked_energy(net.copy(), x, y, 5, port)
    velocity = sum(float((vW * vW).sum() + (vb * vb).sum()) for vW, vb in port.velocity.values())
    assert first.stored[0] == 0.0
    assert again.stored[0] == pytest.approx(port.ledger[19].stored, rel=1e-15) and again.stored[0] > 0
    assert port.ledger[-1].stored == pytest.approx(velocity / (2 * port.lr), rel=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda n, x, y: unlocked_energy(n, x, y, 0, ResistorPort(0.1, record=True)), r"ticks must be .* got 0"),
        (lambda n, x, y: locked_energy(n, x, y, 2.5, ResistorPort(0.1, record=True)), r"ticks must be .* got 2\.5"),
        (lambda n, x, y: unlocked_energy(n, x, y, 3, ResistorPort(0.1)), r"got ResistorPort with record=False"),
        (lambda n, x, y: identity_ratio(n, x, y, 0.1, (2.0, 1.0)), r"0 <= t0 < t1, got \(2\.0, 1\.0\)"),
        (lambda n, x, y: identity_ratio(n, x, y, 0.1, (0.1, 1.0)), r"tick >= 2L = 6\), got tick 1"),
        (lambda n, x, y: identity_ratio(n, x, y, -0.1), r"eta"),
    ],
)
def test_bad_settings_are_refused(problem, call, match: str) -> None:
    net, x, y = problem
    with pytest.raises(ConfigError, match=match):
        call(net, x, y)


def test_locked_inductor_residual_is_the_taylor_remainder_of_its_step(problem) -> None:
    """Heavy ball, locked: loss + stored + dissipated moves by (1/2) dtheta^T H dtheta per step (dtheta = v_{k+1})."""
    net, x, y = problem
    lr, beta = 0.02, 0.9
    trace = locked_energy(net.copy(), x, y, 12, HeavyBall(lr, beta, record=True))
    steps = np.diff(trace.residual())
    Ws, bs = [layer.weight.copy() for layer in net.layers], [layer.bias.copy() for layer in net.layers]
    velocity = None
    for k, step in enumerate(steps):
        _, g = reference(Ws, bs, x, y)
        velocity = -lr * g if velocity is None else beta * velocity - lr * g
        predicted = 0.5 * curvature(Ws, bs, x, y, velocity)
        assert abs(step / predicted - 1.0) < 0.05, (k, step, predicted)
        at = 0
        for i, (W, b) in enumerate(zip(Ws, bs)):
            Ws[i] = W + velocity[at : at + W.size].reshape(W.shape)
            bs[i] = b + velocity[at + W.size : at + W.size + b.size]
            at += W.size + b.size
    assert trace.stored[-1] > 0 and np.all(trace.stale == 0.0)
