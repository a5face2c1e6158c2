"""wavetrain.runs: the steps of `wavetrain train`, each on its own (the CLI tests run them end to end)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from wavetrain import runs
from wavetrain.compiler import Network
from wavetrain.errors import CircuitError, ConfigError

DATA = SimpleNamespace(name="my-data.npz", n_features=3, n_outputs=2, n_classes=2)
SETTINGS = dict(
    dataset="digits",
    layers=None,
    network=None,
    model=None,
    method="dyadic",
    epochs=1,
    batch_size=8,
    lr=0.05,
    momentum=0.9,
    activation="tanh",
    loss="auto",
    hold=None,
    seed=0,
    name=None,
    dtype="float32",
    standardize=False,
    hardware=None,
    chips=None,
)


@pytest.mark.parametrize(
    ("text", "name"), [("my-data.npz_mlp", "my_data_npz_mlp"), ("1x", "m_1x"), ("", "m_"), ("a" * 70, "a" * 64)]
)
def test_any_text_becomes_a_valid_model_name(text: str, name: str) -> None:
    assert runs.valid_name(text) == name


def test_the_model_is_named_after_the_data_unless_named() -> None:
    assert runs.model_name(None, DATA) == "my_data_npz_mlp"
    assert runs.model_name("mine", DATA) == "mine"
    with pytest.raises(CircuitError, match=r"--name '1bad' is not a valid name"):
        runs.model_name("1bad", DATA)


def test_the_network_has_the_default_sizes_the_resolved_loss_and_the_settings() -> None:
    assert runs.default_sizes(DATA) == [3, 128, 128, 2]
    net = runs.network(SETTINGS, DATA, [3, 4, 2], "m")
    assert (net.sizes, net.loss, net.name) == ([3, 4, 2], "cross_entropy", "m")
    assert net.meta["cli"] == SETTINGS and list(net.meta["cli"]) == list(runs.SETTINGS)
    regression = SimpleNamespace(**{**vars(DATA), "n_classes": 0})
    assert runs.network(SETTINGS, regression, [3, 2], "m").loss == "mse"


def test_outputs_are_checked_and_the_checkpoint_defaults(tmp_path: Path) -> None:
    save = tmp_path / "net.npz"
    out = runs.outputs(save, None, None, None, epochs=1)
    assert out == runs.Outputs(save, None, tmp_path / "net.ckpt.npz", 0)
    assert runs.outputs(None, None, None, None, epochs=1).checkpoint == Path(f"wavetrain-train-{os.getpid()}.ckpt.npz")
    assert runs.outputs(save, None, None, None, epochs=1, implicit=False).checkpoint is None
    assert runs.outputs(None, None, tmp_path / "c.npz", None, epochs=1).every == 1
    with pytest.raises(ConfigError, match="--plot: expected --epochs >= 1"):
        runs.outputs(None, tmp_path / "p.png", None, None, epochs=0)
    with pytest.raises(ConfigError, match=r"--save .*: is a folder"):
        runs.outputs(tmp_path, None, None, None, epochs=1)


def test_a_checkpoint_without_cli_settings_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    Network.mlp([2, 2], seed=0).save(path)
    with pytest.raises(ConfigError, match="not written by `wavetrain train`"):
        runs.saved_settings(path)


def test_the_summary_of_a_run_of_no_epochs(tmp_path: Path) -> None:
    net = runs.network(SETTINGS, DATA, [3, 2], "m")
    result = SimpleNamespace(loss=[], hardware=None)
    out = runs.Outputs(tmp_path / "n.npz", None, None, 0)
    lines = runs.summary(result, DATA, net, SETTINGS, out).splitlines()
    assert lines == [
        f"dyadic on {DATA!r}, layers 3-2, cross_entropy:",
        "  0 epochs: nothing trained",
        f"  network written to {tmp_path / 'n.npz'}",
    ]
