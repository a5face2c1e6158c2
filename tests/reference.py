"""An independent backprop, written sample by sample with explicit chain rules, sharing no code with wavetrain.

It is the trusted reference every exactness claim is checked against (micrograd vs torch, in miniature).
"""

from __future__ import annotations

import math

import numpy as np


def _act(name: str, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigma(a), sigma'(a)) from first principles."""
    if name == "tanh":
        s = np.tanh(a)
        return s, 1.0 - s**2
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return s, s * (1.0 - s)
    if name == "relu":
        return np.where(a > 0, a, 0.0), np.where(a > 0, 1.0, 0.0)
    if name == "identity":
        return a.copy(), np.ones_like(a)
    raise ValueError(name)


def _loss_and_grad(loss: str, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    if loss == "mse":
        diff = out - target
        return 0.5 * float(diff @ diff), diff
    z = out - out.max()
    p = np.exp(z) / np.exp(z).sum()
    return -float(target @ (z - math.log(np.exp(z).sum()))), p - target


def backprop(weights, biases, activations, loss, x, targets):
    """Gradients of the mean loss over the batch: (list of dW, list of db, mean loss)."""
    dws = [np.zeros_like(w) for w in weights]
    dbs = [np.zeros_like(b) for b in biases]
    total = 0.0
    batch = len(x)
    for xi, ti in zip(x, targets):
        states, slopes = [np.asarray(xi, dtype=float)], []
        for w, b, name in zip(weights, biases, activations):
            s, slope = _act(name, w @ states[-1] + b)
            states.append(s)
            slopes.append(slope)
        value, sens = _loss_and_grad(loss, states[-1], ti)
        total += value
        for layer in reversed(range(len(weights))):
            local = slopes[layer] * sens  # dC/da_layer
            dws[layer] += np.outer(local, states[layer]) / batch
            dbs[layer] += local / batch
            sens = weights[layer].T @ local
    return dws, dbs, total / batch


def net_backprop(net, x, targets):
    """The reference applied to a wavetrain Network (reads only its arrays and names)."""
    return backprop(
        [layer.weight for layer in net.layers],
        [layer.bias for layer in net.layers],
        [layer.activation for layer in net.layers],
        net.loss,
        np.asarray(x, dtype=float),
        np.asarray(targets, dtype=float),
    )


def onehot(labels, n):
    out = np.zeros((len(labels), n))
    out[np.arange(len(labels)), labels] = 1.0
    return out
