"""The loihi2 target on Lava's own runtime (Loihi2SimCfg, fixed_pt models of Lava's library processes) against the
emulator's LoihiLibrary substrate: bit for bit at every timestep (relaxations of ReLU chains and small graphs, the
frozen stream, training on digits), exact at 2D and not before, refusals before Lava starts, no worker left."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from tests.targets.test_loihi2_emulator import GRAPHS, data, worst
from wavetrain import Network, datasets, simulate
from wavetrain.emulator.kernel import light_cone
from wavetrain.emulator.loihi2 import calibrate_library
from wavetrain.emulator.relax import relax
from wavetrain.emulator.stream import run_stream
from wavetrain.errors import ChipError, ConfigError, SimulationError
from wavetrain.targets.lava import _compat

pytestmark = pytest.mark.skipif(not _compat.available(), reason="lava-nc is not installed")

# random ReLU chains, depth 1..4: (sizes, seed); seeds where no ReLU layer is dead on the first sample (a dead layer
# reads a zero gradient at every tick)
CHAINS = [((5, 3), 11), ((4, 6, 3), 11), ((3, 5, 4, 2), 11), ((6, 4, 7, 5, 3), 11)]  # every layer live


def relax_both(net: Network, x: np.ndarray, y: np.ndarray):
    from wavetrain.targets.lava.library import relax_library

    sub = calibrate_library(net, x, y)
    got = relax_library(net, x[:1], y[:1], sub)
    ref = relax(net, x[:1], y[:1], history=True, substrate=sub)
    exact = list(light_cone(net.machine(sub), net.check_input(x[:1]), net.targets(y[:1], 1))[0].values())
    return got, ref, exact


def check_ticks(got, ref, exact, depth: int) -> None:
    assert len(got.history.grads) == len(ref.history.grads) == 2 * depth + 1
    for k in range(2 * depth + 1):  # NOTE: every timestep, every wave, to the last bit
        assert worst(got.history.grads[k], ref.history.grads[k]) == 0.0, k
        assert worst(got.history.s[k], ref.history.s[k]) == 0.0, k
        assert worst(got.history.lam[k], ref.history.lam[k]) == 0.0, k
    assert worst(got.grads, exact) == 0.0
    assert worst(got.history.grads[2 * depth - 1], exact) > 0.0
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("sizes, seed", CHAINS, ids=[f"D{len(c[0]) - 1}" for c in CHAINS])
def test_relu_chains_on_lava_equal_the_library_substrate_every_timestep_and_are_exact_at_2D(sizes, seed) -> None:
    net = Network.mlp(list(sizes), activation="relu", output_activation="identity", loss="mse", seed=seed)
    x, y = data(net, 6, seed)
    check_ticks(*relax_both(net, x, y), net.depth)


@pytest.mark.parametrize("name", GRAPHS)
def test_graphs_on_lava_equal_the_library_substrate_every_timestep_and_are_exact_at_2D(name) -> None:
    net = GRAPHS[name]()  # a skip (DelayDense delay line), a fan-out into a Concat, a strided conv1d with a pool
    x, y = data(net, 6, 1)
    check_ticks(*relax_both(net, x, y), net.depth)


@pytest.mark.parametrize("name", ["chain", "skip", "conv1d"])
def test_the_frozen_stream_on_lava_equals_the_emulator(name) -> None:
    from wavetrain.targets.lava.library import stream_library

    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1) if name == "chain" else GRAPHS[name]()
    x, y = data(net, 7, 2)
    sub = calibrate_library(net, x, y)
    got = stream_library(net.copy(), x, y, sub)
    ref = run_stream(net.copy(), sub, x, y)
    assert worst(got.outputs, ref.outputs) == 0.0 and worst(got.grads, ref.grads) == 0.0
    assert got.timesteps == ref.timesteps == len(x) + 2 * net.depth + 2


@pytest.mark.parametrize("name", ["digits", "skip"])
def test_training_on_lava_follows_the_emulator_bit_for_bit(name) -> None:
    from wavetrain.targets.lava.library import stream_library

    if name == "digits":
        d = datasets.load("digits")
        net = Network.mlp([64, 16, 10], activation="relu", loss="mse", seed=0)
        x, y = d.x_train[:96], d.y_train[:96]
    else:
        net = GRAPHS["skip"]()
        x, y = data(net, 24, 3)
    sub = calibrate_library(net, x, y)
    on_lava, on_emulator = net.copy(), net.copy()
    options = {"epochs": 2, "batch": 16, "lr": 0.1, "momentum": 0.9, "seed": 0}
    got = stream_library(on_lava, x, y, sub, **options)
    ref = run_stream(on_emulator, sub, x, y, **options)
    assert len(got.params) == len(ref.params) == 2
    for a, b in zip(got.params, ref.params):  # NOTE: after every epoch, stochastic rounding included
        assert worst(a, b) == 0.0
    assert worst(got.outputs, ref.outputs) == 0.0
    assert worst(on_lava.param_dict(), on_emulator.param_dict()) == 0.0
    assert worst(on_lava.param_dict(), net.param_dict()) > 0.0
    assert not multiprocessing.active_children()


def test_what_the_chip_cannot_hold_is_refused_before_lava_starts() -> None:
    from wavetrain.targets.lava.library import relax_library, stream_library

    x = np.zeros((1, 4))
    tanh = Network.mlp([4, 3, 2], activation="tanh", loss="mse")
    with pytest.raises(ChipError, match=r"node '1': activation 'tanh' has no graded neuron"):
        relax_library(tanh, x, [0])
    conv = GRAPHS["conv1d"]()
    xc, yc = data(conv, 4, 0)
    sub = calibrate_library(conv, xc, yc)
    with pytest.raises(ChipError, match=r"node 'c1' \(Conv1d\): training on Lava writes dense synapses only"):
        stream_library(conv, xc, yc, sub, batch=2, lr=0.1)
    chain = Network.mlp([4, 3, 2], activation="relu", loss="mse", seed=0)
    with pytest.raises(ConfigError, match="relax one sample"):
        relax_library(chain, np.zeros((2, 4)), [0, 1])
    with pytest.raises(ConfigError, match="no format for node"):
        relax_library(chain, x, [0], calibrate_library(conv, xc, yc))
    assert not multiprocessing.active_children()


def test_a_timeout_stops_the_runtime_and_leaves_no_worker() -> None:
    from wavetrain.targets.lava.library import relax_library

    net = Network.mlp([4, 5, 3], activation="relu", loss="mse", seed=0)
    x, y = data(net, 2, 0)
    with pytest.raises(SimulationError, match="did not finish within"):
        relax_library(net, x[:1], y[:1], ticks=200_000, timeout=0.5)
    assert not multiprocessing.active_children()


def test_simulate_with_target_loihi2_is_the_library_relaxation() -> None:
    net = Network.mlp([4, 5, 3], activation="relu", loss="mse", seed=2)
    x, y = data(net, 3, 2)
    sub = calibrate_library(net, x, y)
    got = simulate(net, x[:1], y[:1], target="loihi2", substrate=sub, history=True)
    assert worst(got.grads, relax(net, x[:1], y[:1], substrate=sub).grads) == 0.0


def test_cli_deploy_target_loihi2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wavetrain.cli import main

    model = tmp_path / "model.npz"
    Network.mlp([64, 12, 10], activation="relu", loss="mse", seed=0).save(model)
    runner = CliRunner()
    args = ["deploy", str(model), "--target", "loihi2", "--samples", "8", "--train", "--epochs", "1"]
    out = runner.invoke(main, [*args, "--train-samples", "32", "--batch-size", "8", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output.strip().splitlines()[-1])
    assert report["outputs_match"] and report["samples"] == 8 and report["depth"] == 2
    assert max(report["error_vs_emulator"]) == 0.0 and report["stream_vs_emulator"] == 0.0
    assert report["error_vs_fixed_exact"][4] == 0.0 and report["error_vs_fixed_exact"][3] > 0.0
    assert report["resources"]["neurons"] == 2 * 12 + 2 * 10 + 10 + 1  # F, S per node, E, the bias unit
    assert report["training"]["weight_gap"] == [0.0]
    text = runner.invoke(main, ["deploy", str(model), "--target", "loihi2", "--samples", "4"])
    assert text.exit_code == 0, text.output
    assert "bit for bit" in text.output and "<- 2D" in text.output and "neurocores" in text.output
    refused = runner.invoke(main, ["deploy", str(model), "--target", "loihi2", "--fixed-point"])
    assert refused.exit_code == 1 and "always runs Lava's fixed_pt library models" in refused.output
    ce = tmp_path / "ce.npz"
    Network.mlp([64, 12, 10], activation="relu", loss="cross_entropy", seed=0).save(ce)
    refused = runner.invoke(main, ["deploy", str(ce), "--target", "loihi2"])
    assert refused.exit_code == 1 and "loss 'cross_entropy': no Lava library process computes it" in refused.output
