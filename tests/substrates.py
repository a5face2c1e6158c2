"""Test-only substrates that prove the seam: each changes what a cell computes, so a rule that bypasses it is caught."""

from __future__ import annotations

import zlib

import numpy as np

from wavetrain.emulator.substrate import Substrate


class ReadNoise(Substrate):
    """A fixed additive read noise on every weight and bias read: W~ = W + scale * N_l (N_l fixed per layer and kind).

    With ``chips`` set, chip c reads W + scale * N_l[c], so waves and gradients gain a leading chip axis. The noise is
    drawn once per (layer, kind) from ``seed``, so a run is reproducible and the independent reference (backprop at the
    noisy weights) can be rebuilt with :meth:`noisy`.
    """

    name = "read_noise"

    def __init__(self, scale: float = 0.05, seed: int = 0, chips: int | None = None) -> None:
        self.scale, self.seed, self.chips = scale, seed, chips
        self._noise: dict[tuple[str, str, tuple[int, ...]], np.ndarray] = {}

    def noise(self, shape: tuple[int, ...], node: str, kind: str) -> np.ndarray:
        key = (node, kind, shape)
        if key not in self._noise:
            rng = np.random.default_rng([self.seed, zlib.crc32(node.encode()), 0 if kind == "W" else 1])
            lead = () if self.chips is None else (self.chips,)
            self._noise[key] = self.scale * rng.normal(size=(*lead, *shape))
        return self._noise[key]

    def weight(self, W, layer):  # noqa: ANN001, ANN201 - the Substrate hook signature
        return W + self.noise(W.shape[-2:], layer, "W").astype(W.dtype)

    def bias(self, b, layer):  # noqa: ANN001, ANN201
        return b + self.noise(b.shape[-1:], layer, "b").astype(b.dtype)

    def noisy(self, net, chip: int | None = None):  # noqa: ANN001, ANN201
        """A copy of ``net`` holding the weights this substrate reads (chip ``chip`` of the Monte-Carlo axis)."""
        copy = net.copy()
        for l, layer in zip(copy.ids, copy.layers):
            nW = self.noise(layer.weight.shape, l, "W")
            nb = self.noise(layer.bias.shape, l, "b")
            layer.weight = layer.weight + (nW if chip is None else nW[chip])
            layer.bias = layer.bias + (nb if chip is None else nb[chip])
        return copy

    def describe(self) -> dict:
        return {"name": self.name, "scale": self.scale, "seed": self.seed, "chips": self.chips}


class WriteGain(Substrate):
    """Every port update lands with a fixed gain: theta <- theta + gain * step (a mis-calibrated write pulse)."""

    name = "write_gain"

    def __init__(self, gain: float = 1.25) -> None:
        self.gain = gain

    def write(self, p, step, layer, kind):  # noqa: ANN001, ANN201 - the Substrate hook signature
        p += self.gain * step


class CrossbarGain(Substrate):
    """Every crossbar product lands with a fixed gain per direction: W s -> g_f W s, W^T delta -> g_b W^T delta (a
    mis-calibrated read). Backprop at g_f W with each backward step scaled by g_b / g_f is the closed form."""

    name = "crossbar_gain"

    def __init__(self, forward: float = 1.1, backward: float = 0.8) -> None:
        self.gains = {"forward": forward, "backward": backward}

    def crossbar(self, y, x, layer, direction):  # noqa: ANN001, ANN201 - the Substrate hook signature
        return self.gains[direction] * y

    def reference(self, net, x, t):  # noqa: ANN001, ANN201
        """(dW, db) per layer from tests/reference.py's backprop at g_f W, layer l scaled by (g_b / g_f)^(L-1-l)."""
        from tests.reference import net_backprop

        scaled = net.copy()
        for layer in scaled.layers:
            layer.weight = self.gains["forward"] * layer.weight
        dws, dbs, mean = net_backprop(scaled, x, t)
        ratio, depth = self.gains["backward"] / self.gains["forward"], net.depth
        return (
            [dw * ratio ** (depth - 1 - l) for l, dw in enumerate(dws)],
            [db * ratio ** (depth - 1 - l) for l, db in enumerate(dbs)],
            mean,
        )
