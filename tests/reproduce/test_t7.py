"""T7's report against the energy tests' references (tests/emulator/test_energy.py: torch curvature, backprop)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.emulator.test_energy import curvature, reference
from wavetrain import Network
from wavetrain.reproduction.t7_energy import curvature as report_curvature


@pytest.fixture
def problem():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 3))
    y = np.stack([np.sin(x[:, 0] + x[:, 1]), np.cos(x[:, 2]) * x[:, 0]], axis=1) * 0.8
    return Network.mlp([3, 8, 8, 2], output_activation="tanh", seed=5), x, y


def test_the_reports_finite_difference_curvature_matches_torch(problem) -> None:
    """T7's report predicts the Taylor remainder with a second difference of Network.forward: torch agrees."""
    net, x, y = problem
    Ws, bs = [layer.weight for layer in net.layers], [layer.bias for layer in net.layers]
    _, g = reference(Ws, bs, x, y)
    grads, at = [], 0
    for W, b in zip(Ws, bs):
        grads.append((g[at : at + W.size].reshape(W.shape), g[at + W.size : at + W.size + b.size]))
        at += W.size + b.size
    before = [W.copy() for W in Ws]
    got = report_curvature(net, x, y, grads)
    assert got == pytest.approx(curvature(Ws, bs, x, y, g), rel=1e-6)
    assert all(np.array_equal(W, W0) for W, W0 in zip(Ws, before))  # the network is restored
