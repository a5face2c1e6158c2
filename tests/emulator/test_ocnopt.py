"""T12 and T13: OCNOpt reduces to SGD with the backprop costate, and to Newton on linear least squares."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from tests.emulator.test_ports import reference_grads
from wavetrain import Network
from wavetrain.emulator.ocnopt import OCNOpt, backward_sweep
from wavetrain.emulator.train import train
from wavetrain.errors import ConfigError

torch = pytest.importorskip("torch")  # NOTE: torch is an optional extra; it is the independent reference here


def test_identity_quu_is_sgd_bit_for_bit() -> None:
    net = Network.mlp([4, 7, 5, 3], loss="mse", seed=5)
    x, y = make_batch(net, 9, seed=5)
    t = net.targets(y)
    plain = [(W.copy(), b.copy()) for W, b in net.params()]
    for _ in range(8):
        # NOTE: reference gradients of the *plain* trajectory, so any drift between the two would compound
        grads = reference_grads(
            Network([type(l)(W, b, l.activation) for (W, b), l in zip(plain, net.layers)], loss="mse"), x, t
        )
        OCNOpt(alpha=0.1).step(net.machine(), x, t)
        plain = [(W - 0.1 * dW, b - 0.1 * db) for (W, b), (dW, db) in zip(plain, grads)]
    for (W, b), (W0, b0) in zip(net.params(), plain):
        np.testing.assert_allclose(W, W0, rtol=0, atol=1e-15)
        np.testing.assert_allclose(b, b0, rtol=0, atol=1e-15)


def test_identity_quu_step_equals_train_sgd_exactly(digits) -> None:
    a, b = (Network.mlp([64, 12, 10], loss="cross_entropy", seed=0) for _ in range(2))
    train(a, digits, method=OCNOpt(alpha=0.05), epochs=1, lr=0.05, momentum=0.0)
    train(b, digits, method="backprop", epochs=1, lr=0.05, momentum=0.0)
    for (W, bias), (W0, bias0) in zip(a.params(), b.params()):
        assert np.array_equal(W, W0) and np.array_equal(bias, bias0)


def test_value_gradient_is_the_backprop_costate() -> None:
    net = Network.mlp([4, 6, 5, 3], loss="cross_entropy", seed=6)
    x, y = make_batch(net, 8, seed=6)
    sweep = backward_sweep(net.machine(), x, net.targets(y), "identity", 0.1, 0.0)
    states = [torch.tensor(x, requires_grad=True)]
    for index, layer in enumerate(net.layers):
        a = states[-1] @ torch.tensor(layer.weight).T + torch.tensor(layer.bias)
        states.append(torch.tanh(a) if index < net.depth - 1 else a)
        states[-1].retain_grad()
    torch.nn.functional.cross_entropy(states[-1], torch.tensor(y)).backward()
    for mine, ref in zip(sweep.costate, states):
        np.testing.assert_allclose(mine, ref.grad.numpy(), rtol=0, atol=1e-14)


def test_kfac_quu_is_newton_on_linear_least_squares() -> None:
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    net = Network.mlp([5, 3], output_activation="identity", seed=13)
    W0, b0 = net.layers[0].weight.copy(), net.layers[0].bias.copy()
    OCNOpt(alpha=1.0, quu="kfac", damping=0.0).step(net.machine(), x, y)
    design = np.hstack([x, np.ones((40, 1))])
    grad = (design @ np.hstack([W0, b0[:, None]]).T - y).T @ design / 40
    hessian = np.kron(design.T @ design / 40, np.eye(3))  # the exact Hessian of the mean mse in column-major vec
    newton = -np.linalg.solve(hessian, grad.reshape(-1, order="F")).reshape(3, 6, order="F")
    np.testing.assert_allclose(
        np.hstack([net.layers[0].weight - W0, (net.layers[0].bias - b0)[:, None]]), newton, atol=1e-12
    )
    best = np.linalg.lstsq(design, y, rcond=None)[0]
    minimum = np.mean(0.5 * ((design @ best - y) ** 2).sum(axis=1))
    assert np.mean(net.loss_fn.value(net.forward(x), y)) == pytest.approx(minimum, abs=1e-12)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="quu must be one of identity, kfac, got 'full'"):
        OCNOpt(quu="full")
    with pytest.raises(ConfigError, match="alpha must be > 0"):
        OCNOpt(alpha=-1.0)
