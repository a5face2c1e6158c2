"""T7: parameter-port terminations against independent optimizer loops; hostile port settings (energy: test_energy)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from wavetrain import Network
from wavetrain.emulator.ports import CurvatureMatched, CurvaturePort, HeavyBall, InductorPort, ResistorPort
from wavetrain.emulator.train import train
from wavetrain.errors import ConfigError


def reference_grads(net: Network, x: np.ndarray, t: np.ndarray) -> list:
    """An independent torch gradient of the mean batch loss (tanh hidden, identity out, mse)."""
    import torch

    s = torch.tensor(x)
    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in net.params()]
    for index, (W, b) in enumerate(params):
        s = s @ W.T + b
        s = torch.tanh(s) if index < len(params) - 1 else s
    (0.5 * ((s - torch.tensor(t)) ** 2).sum(dim=1)).mean().backward()
    return [(W.grad.numpy(), b.grad.numpy()) for W, b in params]


@pytest.fixture
def problem():
    net = Network.mlp([3, 6, 5, 2], loss="mse", seed=4)
    x, y = make_batch(net, 12, seed=4)
    return net, x, net.targets(y)


def test_resistor_port_is_sgd_bit_for_bit(problem) -> None:
    net, x, t = problem
    ported, plain = net.copy(), [(W.copy(), b.copy()) for W, b in net.params()]
    port = ResistorPort(0.1)
    for _ in range(15):
        grads = reference_grads(ported, x, t)
        port.step(ported.machine(), grads)
        plain = [(W - 0.1 * dW, b - 0.1 * db) for (W, b), (dW, db) in zip(plain, grads)]
    for (W, b), (W0, b0) in zip(ported.params(), plain):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)


@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_inductor_resistor_port_is_heavy_ball(problem, dt: float) -> None:
    net, x, t = problem
    lr, beta = 0.05, 0.8
    port = InductorPort(m=dt**2 / lr, r=(1 - beta) * (dt**2 / lr) / dt, dt=dt)
    assert port.beta == pytest.approx(beta, abs=1e-15) and port.lr == pytest.approx(lr, abs=1e-15)
    ported, theta = net.copy(), [(W.copy(), b.copy()) for W, b in net.params()]
    velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in theta]
    for _ in range(15):
        port.step(ported.machine(), reference_grads(ported, x, t))
        grads = reference_grads(
            Network([type(l)(W, b, l.activation) for (W, b), l in zip(theta, net.layers)], loss="mse"), x, t
        )
        velocity = [(beta * vW - lr * dW, beta * vb - lr * db) for (vW, vb), (dW, db) in zip(velocity, grads)]
        theta = [(W + vW, b + vb) for (W, b), (vW, vb) in zip(theta, velocity)]
    for (W, b), (W0, b0) in zip(ported.params(), theta):
        np.testing.assert_allclose(W, W0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b, b0, rtol=0, atol=1e-12)


def test_curvature_port_solves_a_quadratic_in_one_step() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    net = Network.mlp([4, 2], output_activation="identity", seed=0)
    port = CurvaturePort(lr=1.0, damping=0.0)
    port.observe(net.machine(), x)
    port.step(net.machine(), reference_grads(net, x, y))
    solution = np.linalg.lstsq(np.hstack([x, np.ones((30, 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(net.layers[0].weight, solution[:-1].T, atol=1e-12)
    np.testing.assert_allclose(net.layers[0].bias, solution[-1], atol=1e-12)


def test_inductor_ledger_is_passive_and_balanced(problem) -> None:
    net, x, t = problem
    port = HeavyBall(0.05, 0.9, record=True)
    for _ in range(30):
        port.step(net.machine(), reference_grads(net, x, t))
    stored = [0.0] + [row.stored for row in port.ledger]
    for before, row in zip(stored, port.ledger):
        assert row.dissipated >= 0
        assert row.absorbed == pytest.approx(row.stored - before + row.dissipated, abs=1e-14)


def test_curvature_method_trains(digits) -> None:
    net = Network.mlp([64, 16, 10], loss="cross_entropy", seed=0)
    result = train(net, digits, method=CurvatureMatched(), epochs=2)
    assert result.test_accuracy[-1] > 0.8


@pytest.mark.parametrize("m", [-1.0, 0.0])
def test_non_positive_inductance_is_refused(m: float) -> None:
    with pytest.raises(ConfigError, match=r"inductance m must be > 0 .* got -?[01]\.0"):
        InductorPort(m=m, r=0.1)


def test_active_ports_are_refused() -> None:
    with pytest.raises(ConfigError, match="resistance r must be >= 0"):
        InductorPort(m=1.0, r=-0.5)
    with pytest.raises(ConfigError, match="eta"):
        ResistorPort(-0.1)
    with pytest.raises(ConfigError, match="no curvature observed"):
        CurvaturePort().step([], [])
