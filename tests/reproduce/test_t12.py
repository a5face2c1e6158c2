"""The explicit Jacobians and loss Hessian of T12's full DDP recursion against torch.func (independent autograd)."""

from __future__ import annotations

import numpy as np
import pytest

from wavetrain.compiler.network import Network
from wavetrain.reproduction import t12_ddp

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_layer_jacobians_equal_torch_jacrev(activation: str) -> None:
    net = Network.mlp([3, 4, 2], activation=activation, seed=1)
    layer = net.layers[0]
    x = np.random.default_rng(2).normal(size=(5, 3))
    _, f_x, f_u = t12_ddp.jacobians(layer, x)
    acts = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda v: v}

    def f(x_flat, u_flat):
        W, b = u_flat[:12].reshape(4, 3), u_flat[12:]
        return acts[activation](x_flat.reshape(5, 3) @ W.T + b).reshape(-1)

    u = torch.tensor(np.concatenate([layer.weight.ravel(), layer.bias]))
    ref_x, ref_u = torch.func.jacrev(f, argnums=(0, 1))(torch.tensor(x).reshape(-1), u)
    assert np.max(np.abs(f_x - ref_x.numpy())) <= 1e-15
    assert np.max(np.abs(f_u - ref_u.numpy())) <= 1e-15


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_loss_hessian_equals_torch_hessian(loss: str) -> None:
    net = Network.mlp([3, 4], loss=loss, output_activation="identity", seed=0)
    out = np.random.default_rng(3).normal(size=(6, 4))
    labels = np.random.default_rng(4).integers(0, 4, 6)
    target = torch.tensor(labels) if loss == "cross_entropy" else torch.tensor(np.eye(4)[labels])

    def phi(flat):
        s = flat.reshape(6, 4)
        if loss == "cross_entropy":
            return torch.nn.functional.cross_entropy(s, target)
        return 0.5 * ((s - target) ** 2).sum() / 6

    ref = torch.func.hessian(phi)(torch.tensor(out).reshape(-1)).numpy()
    assert np.max(np.abs(t12_ddp.loss_hessian(net, out) - ref)) <= 1e-15


def test_full_recursion_is_sgd_at_the_reducing_settings_and_differs_otherwise() -> None:
    net = Network.mlp([4, 5, 3], loss="cross_entropy", seed=5)
    rng = np.random.default_rng(5)
    x, t = rng.normal(size=(6, 4)), net.targets(rng.integers(0, 3, 6))
    ddp, sgd, gn = net.copy(), net.copy(), net.copy()
    t12_ddp.ddp_step(ddp, x, t, 0.3, terminal_hessian=False)
    t12_ddp.sgd_step(sgd, x, t, 0.3)
    t12_ddp.ddp_step(gn, x, t, 0.3, terminal_hessian=True)
    assert t12_ddp.max_param_diff(ddp, sgd) <= 1e-14
    assert t12_ddp.max_param_diff(gn, sgd) > 1e-4
