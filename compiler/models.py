"""Named networks: the standard small models of this field's benchmarks, built with :class:`GraphBuilder`.

``wavetrain train --model NAME`` and :func:`model` build them; each names the data set it is made for and the shape
it reads a sample in (``datasets.load(preset.data, shape=preset.shape)``).

  mlp-digits      64-128-128-10 tanh MLP on digits (the README's network)
  cnn1d-mnist1d   the MNIST-1D paper's small CNN (Greydanus 2020, mnist1d's ConvBase): Conv1d 1->25 k5 s2 p1, two
                  Conv1d 25->25 k3 s2 p1, ReLU after each, flatten 125, Linear 10 (the paper reports 94 % test)
  resmlp-mnist1d  a residual MLP on MNIST-1D: Linear 40->128 ReLU, three blocks x + W2 relu(W1 x) (ReLU after the
                  add), Linear 10; its block outputs are the cuts of MPC's block-wise horizons
  lenet-digits    a LeNet-like CNN on 8x8 digits: Conv2d 1->8 k3 p1 ReLU, MaxPool 2, Conv2d 8->16 k3 p1 ReLU,
                  MaxPool 2, flatten 64, Linear 64 ReLU, Linear 10
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from wavetrain.compiler.builder import GraphBuilder
from wavetrain.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    data: str  # the built-in data set it is made for
    shape: tuple[int, ...]  # how it reads one sample
    build: Callable[[GraphBuilder], str]  # adds the nodes, returns the output id
    loss: str = "cross_entropy"

    def network(self, seed: int = 0, loss: str | None = None, name: str | None = None) -> Any:
        """A fresh network of this preset (parameters from ``seed``; its own loss and name unless given)."""
        g = GraphBuilder(self.shape)
        out = self.build(g)
        return g.network(out, loss=loss or self.loss, seed=seed, name=name or self.name.replace("-", "_"))


def _mlp_digits(g: GraphBuilder) -> str:
    h = g.linear(g.input, 128, "tanh", id="1")
    h = g.linear(h, 128, "tanh", id="2")
    return g.linear(h, 10, id="3")


def _cnn1d(g: GraphBuilder) -> str:
    h = g.conv1d(g.input, 25, kernel=5, stride=2, padding=1, activation="relu", id="conv1")
    h = g.conv1d(h, 25, kernel=3, stride=2, padding=1, activation="relu", id="conv2")
    h = g.conv1d(h, 25, kernel=3, stride=2, padding=1, activation="relu", id="conv3")
    return g.linear(g.flatten(h, id="flat"), 10, id="linear")


def _resmlp(g: GraphBuilder) -> str:
    h = g.linear(g.input, 128, "relu", id="stem")
    for k in range(1, 4):
        inner = g.linear(h, 128, "relu", id=f"b{k}_1")
        inner = g.linear(inner, 128, id=f"b{k}_2")
        h = g.add(inner, h, activation="relu", id=f"b{k}_add")
    return g.linear(h, 10, id="head")


def _lenet(g: GraphBuilder) -> str:
    h = g.conv2d(g.input, 8, kernel=3, padding=1, activation="relu", id="conv1")
    h = g.maxpool(h, 2, id="pool1")
    h = g.conv2d(h, 16, kernel=3, padding=1, activation="relu", id="conv2")
    h = g.maxpool(h, 2, id="pool2")
    h = g.linear(g.flatten(h, id="flat"), 64, "relu", id="fc1")
    return g.linear(h, 10, id="fc2")


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("mlp-digits", "64-128-128-10 tanh MLP", "digits", (64,), _mlp_digits),
        Preset("cnn1d-mnist1d", "the MNIST-1D paper's CNN (3 Conv1d, 25 channels)", "mnist1d", (1, 40), _cnn1d),
        Preset("resmlp-mnist1d", "residual MLP, 3 blocks of width 128", "mnist1d", (40,), _resmlp),
        Preset("lenet-digits", "LeNet-like CNN (1x8x8 images)", "digits", (1, 8, 8), _lenet),
    )
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (ConfigError listing them otherwise)."""
    if name not in PRESETS:
        raise ConfigError(f"model: unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def model(preset_name: str, seed: int = 0, loss: str | None = None, name: str | None = None) -> Any:
    """A fresh network of the preset ``preset_name``, initialised from ``seed`` (its own loss and name unless given)."""
    return preset(preset_name).network(seed, loss=loss, name=name)


__all__ = ["PRESETS", "Preset", "model", "preset"]
