"""T11's closed-form horizon gradients against the emulator's streaming MPC (a residual layer is a dense layer with
weight I + W_t and an identity activation; the same loss at every depth is an identity head)."""

from __future__ import annotations

import numpy as np
import pytest

from wavetrain.compiler.network import Network
from wavetrain.emulator.mpc import deviation, mpc_gradients
from wavetrain.reproduction import t11_residual as t11


@pytest.mark.parametrize("statistics", t11.STATISTICS)
def test_closed_form_equals_the_emulators_mpc_gradients(statistics: str) -> None:
    depth, width = 7, 5
    W, x0, y = t11.residual_net(depth, 3, statistics, width=width, batch=4)
    net = Network.mlp([width] * (depth + 1), activation="identity", output_activation="identity", loss="mse")
    for layer, Wt in zip(net.layers, W):
        layer.weight = np.eye(width) + Wt
    heads = {str(k + 1): (np.eye(width), np.zeros(width)) for k in range(depth - 1)}
    ours = t11.horizon_grads(W, x0, y, [1, 3, depth])
    for h in (1, 3, depth):
        grads, _, _ = mpc_gradients(net.machine(), heads, x0, y, h)
        for t, (gW, _) in enumerate(grads.values()):
            assert np.max(np.abs(ours[h][t] - gW)) <= 1e-12 * max(1.0, np.abs(gW).max())
    ref, _, _ = mpc_gradients(net.machine(), heads, x0, y, depth)
    h3, _, _ = mpc_gradients(net.machine(), heads, x0, y, 3)
    d3 = deviation([(g, np.zeros(width)) for g, _ in h3.values()], [(g, np.zeros(width)) for g, _ in ref.values()])
    assert t11.deviations(W, x0, y, [3])[0] == pytest.approx(d3, rel=1e-9)


def test_discrete_exponents_tend_to_the_limits() -> None:
    assert t11.discrete_exponent(32, "smooth") < t11.discrete_exponent(4096, "smooth") < 3.0
    assert 2.85 < t11.discrete_exponent(4096, "smooth") < 3.0 and 1.9 < t11.discrete_exponent(4096, "iid") < 2.0
    with pytest.raises(ValueError, match="statistics"):
        t11.residual_net(8, 0, "rough")
