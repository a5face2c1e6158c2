"""T10: MPC horizons: h = L is backprop exactly, h = 1 is local learning; memory; horizon selection; refusals."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from tests.emulator.test_ports import reference_grads
from wavetrain import Network
from wavetrain.emulator.mpc import Mpc, fit_horizon_model, measure_memory, mpc_gradients, random_heads, select_horizon
from wavetrain.errors import ConfigError


@pytest.fixture
def setup():
    net = Network.mlp([3, 6, 5, 4, 2], loss="mse", seed=2)
    x, y = make_batch(net, 7, seed=2)
    return net, random_heads(net, 2), x, net.targets(y)


def test_full_horizon_is_backprop(setup) -> None:
    net, heads, x, t = setup
    grads, _, _ = mpc_gradients(net.machine(), heads, x, t, net.depth)
    for (gW, gb), (rW, rb) in zip(grads.values(), reference_grads(net, x, t), strict=True):
        np.testing.assert_allclose(gW, rW, rtol=0, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=0, atol=1e-12)


def test_horizon_one_trains_each_layer_on_its_own_head(setup) -> None:
    net, heads, x, t = setup
    grads, _, _ = mpc_gradients(net.machine(), heads, x, t, 1)
    first = Network([net.layers[0], type(net.layers[0])(*heads["1"], "identity")], loss="mse")
    # NOTE: layer 1 + its linear head as a 2-layer net: the layer-1 gradient of that net is the local gradient
    np.testing.assert_allclose(grads["1"][0], reference_grads(first, x, t)[0][0], atol=1e-12)


def test_intermediate_horizon_differs_from_backprop(setup) -> None:
    net, heads, x, t = setup
    grads, _, _ = mpc_gradients(net.machine(), heads, x, t, 2)
    assert np.abs(grads["1"][0] - reference_grads(net, x, t)[0][0]).max() > 1e-6


def test_memory_grows_with_the_horizon() -> None:
    net = Network.mlp([32] + [64] * 6, loss="mse", seed=0)
    x, y = make_batch(net, 128)
    heads = random_heads(net)
    memory = [measure_memory(net, heads, x, net.targets(y), h) for h in (1, 3, 6)]
    assert memory[0] < memory[1] < memory[2]


def test_horizon_selection_objectives() -> None:
    model = fit_horizon_model(10, {1: 110.0, 10: 200.0}, (5, 0.125))
    assert (model.a, model.b, model.c) == pytest.approx((10.0, 100.0, 1.0))
    assert select_horizon(model, budget=160.5) == 6
    assert select_horizon(model, tolerance=0.0011) == 9  # (1 - 9/10)^3 = 1e-3, (1 - 8/10)^3 = 8e-3
    assert select_horizon(model, weight=1e-9) == 10
    assert select_horizon(model, weight=1.0) == 1
    with pytest.raises(ConfigError, match="exactly one of"):
        select_horizon(model, budget=1.0, weight=1.0)


def test_horizon_longer_than_the_network_is_refused(setup) -> None:
    net, heads, x, t = setup
    with pytest.raises(ConfigError, match=r"1 <= h <= L = 4 .* got 5"):
        mpc_gradients(net.machine(), heads, x, t, 5)
    with pytest.raises(ConfigError, match=r"1 <= h <= L = 4 .* got 5"):
        Mpc(5).step(net.machine(), x, t, None)
