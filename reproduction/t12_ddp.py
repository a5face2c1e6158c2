"""T12: the full DDP recursion of OCNOpt (Liu, Chen & Theodorou; spec section 5.2), written out with explicit
Jacobians, so that "Theorem 1: backprop = first-order DP" is tested through the general formulas, not through a code
path that is written as -alpha g.

State x_t = the whole batch, flattened (B n_t); control u_t = (W_t, b_t) flattened; f_x, f_u as explicit matrices
(checked against torch.func.jacrev in tests/reproduce/test_t12.py). Per layer, from the output down (Gauss-Newton:
the V'_x . f_xx, f_ux, f_uu terms are dropped):

    Q_x = f_x^T V'_x,  Q_u = f_u^T V'_x,  Q_xx = f_x^T V'_xx f_x,  Q_ux = f_u^T V'_xx f_x,
    Q_uu = f_u^T V'_xx f_u + I / alpha,
    k = -Q_uu^-1 Q_u,  K = -Q_uu^-1 Q_ux,
    V_x = Q_x + K^T Q_uu k + K^T Q_u + Q_ux^T k,  V_xx = Q_xx + K^T Q_uu K + K^T Q_ux + Q_ux^T K,

then the forward pass with feedback x^_0 = x_0, u_t <- u_t + k_t + K_t (x^_t - x_t), x^_{t+1} = f_t(x^_t, u_t).
The reducing settings of the theorem are V_xx(T) = 0 (hence every V_xx = 0, Q_ux = 0, K = 0) with Q_uu = I / alpha;
with V_xx(T) = the loss Hessian instead, the same code is a Gauss-Newton DDP step that differs from SGD.
"""

from __future__ import annotations

import numpy as np

from wavetrain.compiler.network import Network


def jacobians(layer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x_next flat, f_x (B n_out, B n_in), f_u (B n_out, n_out n_in + n_out)) of one dense layer at batch x."""
    batch, n_in = x.shape
    n_out = layer.out_features
    a = x @ layer.weight.T + layer.bias
    out = layer.act.f(a)
    slope = layer.act.df(a, out)  # (B, n_out)
    eye_b, eye_o = np.eye(batch), np.eye(n_out)
    f_x = np.einsum("bc,bo,oi->boci", eye_b, slope, layer.weight).reshape(batch * n_out, batch * n_in)
    f_w = np.einsum("bo,op,bi->bopi", slope, eye_o, x).reshape(batch * n_out, n_out * n_in)
    f_b = np.einsum("bo,op->bop", slope, eye_o).reshape(batch * n_out, n_out)
    return out, f_x, np.hstack([f_w, f_b])


def loss_hessian(net: Network, out: np.ndarray) -> np.ndarray:
    """d^2 Phi / d x_L^2 of the mean batch loss (cross-entropy: softmax Jacobian; mse: identity), block-diagonal."""
    batch, n = out.shape
    if net.loss == "cross_entropy":
        p = np.exp(out - out.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        blocks = [np.diag(q) - np.outer(q, q) for q in p]
    else:
        blocks = [np.eye(n)] * batch
    h = np.zeros((batch * n, batch * n))
    for b, block in enumerate(blocks):
        h[b * n : (b + 1) * n, b * n : (b + 1) * n] = block
    return h / batch


def ddp_step(net: Network, x: np.ndarray, t: np.ndarray, alpha: float, terminal_hessian: bool) -> None:
    """One DDP iteration in place on ``net`` (see the module docstring)."""
    depth = net.depth
    states, jac = [x], []
    for layer in net.layers:
        out, f_x, f_u = jacobians(layer, states[-1])
        states.append(out)
        jac.append((f_x, f_u))
    v_x = (net.loss_fn.grad(states[-1], t) / len(x)).ravel()
    v_xx = loss_hessian(net, states[-1]) if terminal_hessian else np.zeros((len(v_x), len(v_x)))
    policies = [None] * depth
    for i in range(depth - 1, -1, -1):
        f_x, f_u = jac[i]
        q_x, q_u = f_x.T @ v_x, f_u.T @ v_x
        q_xx, q_ux = f_x.T @ v_xx @ f_x, f_u.T @ v_xx @ f_x
        q_uu = f_u.T @ v_xx @ f_u + np.eye(len(q_u)) / alpha
        k = -np.linalg.solve(q_uu, q_u)
        K = -np.linalg.solve(q_uu, q_ux)
        v_x = q_x + K.T @ q_uu @ k + K.T @ q_u + q_ux.T @ k
        v_xx = q_xx + K.T @ q_uu @ K + K.T @ q_ux + q_ux.T @ K
        policies[i] = (k, K)
    state = x
    for i, layer in enumerate(net.layers):
        k, K = policies[i]
        du = k + K @ (state - states[i]).ravel()
        n = layer.weight.size
        layer.weight = layer.weight + du[:n].reshape(layer.weight.shape)
        layer.bias = layer.bias + du[n:]
        state = layer.act.f(state @ layer.weight.T + layer.bias)


def sgd_step(net: Network, x: np.ndarray, t: np.ndarray, lr: float) -> None:
    """One SGD step with torch autograd gradients of the mean loss (the reference)."""
    import torch

    weights = [torch.tensor(layer.weight, requires_grad=True) for layer in net.layers]
    biases = [torch.tensor(layer.bias, requires_grad=True) for layer in net.layers]
    h = torch.tensor(x)
    acts = {"tanh": torch.tanh, "identity": lambda v: v, "relu": torch.relu, "sigmoid": torch.sigmoid}
    for layer, W, b in zip(net.layers, weights, biases):
        h = acts[layer.activation](h @ W.T + b)
    if net.loss == "cross_entropy":
        loss = torch.nn.functional.cross_entropy(h, torch.tensor(t.argmax(axis=1)))
    else:
        loss = 0.5 * ((h - torch.tensor(t)) ** 2).sum() / len(x)
    loss.backward()
    for layer, W, b in zip(net.layers, weights, biases):
        layer.weight = (W - lr * W.grad).detach().numpy()
        layer.bias = (b - lr * b.grad).detach().numpy()


def max_param_diff(a: Network, b: Network) -> float:
    return max(float(np.abs(p - q).max()) for pa, pb in zip(a.params(), b.params()) for p, q in zip(pa, pb))
