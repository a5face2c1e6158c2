"""T5: junction power conservation and the three-port balance, flows checked against torch's forward-mode JVP."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavetrain import Network
from wavetrain.emulator.energy import junction_effort, junction_flow

torch = pytest.importorskip("torch")  # NOTE: torch is an optional extra; it is the independent reference here


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 7),
    m=st.integers(1, 7),
    act=st.sampled_from(["tanh", "sigmoid", "identity"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_junction_conserves_power_and_balances_three_ports(n: int, m: int, act: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layer = Network.mlp([n, m], output_activation=act, seed=seed % 1000).layers[0]
    x, dx, p = rng.normal(size=(4, n)), rng.normal(size=(4, n)), rng.normal(size=(4, m))
    dW, db = rng.normal(size=(m, n)), rng.normal(size=m)
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda v: v}[act]

    def forward(xx, W, b):
        return f(xx @ W.T + b)

    W, b = torch.tensor(layer.weight), torch.tensor(layer.bias)
    _, lossless = torch.func.jvp(forward, (torch.tensor(x), W, b), (torch.tensor(dx), 0 * W, 0 * b))
    _, full = torch.func.jvp(forward, (torch.tensor(x), W, b), (torch.tensor(dx), torch.tensor(dW), torch.tensor(db)))
    np.testing.assert_allclose(junction_flow(layer, x, dx, dW, db), full.numpy(), atol=1e-12)
    p_prev, gW, gb = junction_effort(layer, x, p)
    inflow, outflow = (p_prev * dx).sum(), (p * lossless.numpy()).sum()
    assert abs(inflow - outflow) <= 1e-12 * max(1.0, abs(inflow))
    three = inflow + (gW * dW).sum() + (gb * db).sum()
    assert abs(three - (p * full.numpy()).sum()) <= 1e-12 * max(1.0, abs(three))
