"""Training: dyadic = backprop trajectory, unlocked wave training (T4), digits acceptance, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from tests.reference import net_backprop, onehot
from wavetrain import Network, relax, train
from wavetrain.emulator import HeavyBall, Wave, WaveState, tick
from wavetrain.errors import ConfigError, DataError

DIGITS = [64, 128, 128, 10]


def digits_net(seed: int = 0) -> Network:
    return Network.mlp(DIGITS, activation="tanh", loss="cross_entropy", seed=seed)


@pytest.mark.parametrize("dtype, atol", [("float64", 1e-10), ("float32", 2e-5)])
def test_dyadic_follows_the_backprop_trajectory(digits, dtype: str, atol: float):
    runs = {}
    for method, schedule in [("backprop", "light_cone"), ("dyadic", "light_cone"), ("dyadic", "ticks")]:
        net = digits_net()
        result = train(net, digits, method=method, schedule=schedule, epochs=2, seed=4, dtype=dtype)
        assert result.dtype == dtype
        runs[(method, schedule)] = (net, result)
    ref_net, ref = runs[("backprop", "light_cone")]
    for net, result in runs.values():
        if dtype == "float64":
            assert result.test_accuracy == ref.test_accuracy
        else:  # NOTE: float32 rounding may move a borderline test sample, no more
            assert np.max(np.abs(np.subtract(result.test_accuracy, ref.test_accuracy))) <= 1 / 359 + 1e-12
        for layer, ref_layer in zip(net.layers, ref_net.layers):
            np.testing.assert_allclose(layer.weight, ref_layer.weight, rtol=0, atol=atol)


def test_sgd_step_matches_independent_reference():
    net = Network.mlp([5, 8, 3], activation="sigmoid", loss="mse", seed=2)
    x, y = make_batch(net, batch=7, seed=2)
    dws, dbs, _ = net_backprop(net, x, y)
    expected = [(l.weight - 0.1 * dw, l.bias - 0.1 * db) for l, dw, db in zip(net.layers, dws, dbs)]
    train(net, (x, y), method="dyadic", epochs=1, batch_size=7, lr=0.1, momentum=0.0, dtype="float64")
    for layer, (w, b) in zip(net.layers, expected):
        np.testing.assert_allclose(layer.weight, w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.bias, b, rtol=0, atol=1e-12)


def test_digits_acceptance(digits):
    """Issue 3: dyadic >= 96 % and within 0.3 points of backprop; wave (held input) >= 93 %."""
    scores = {}
    for method in ("backprop", "dyadic", "wave"):
        result = train(digits_net(), digits, method=method, epochs=30, batch_size=32, seed=0)
        scores[method] = result.final_test_accuracy
        assert result.loss[-1] < result.loss[0]
    assert scores["dyadic"] >= 0.96
    assert abs(scores["dyadic"] - scores["backprop"]) <= 0.003
    assert scores["wave"] >= 0.93


def test_t4_unlocked_with_frozen_ports_is_the_t1_relaxation(spec_net):
    x, y = make_batch(spec_net, batch=3)
    t = spec_net.targets(y, 3)
    frozen = HeavyBall(lr=0.0)
    state = WaveState.zeros(spec_net.sizes, 3, x)
    m = spec_net.machine()
    for _ in range(2 * spec_net.depth):
        state, grads = tick(m, x, t, state, 1.0)
        frozen.step(m, grads)
    reference = relax(spec_net, x, y)
    for a, b in zip([*state.s.values(), *state.lam.values()], reference.s + reference.lam, strict=True):
        np.testing.assert_array_equal(a, b)


def test_t4_unlocked_training_on_the_spec_toy():
    """Spec T4 toy: 3-16-16-16-2 tanh, 64 samples, ports moving every tick, 4000 ticks.

    The spec's eta = 0.5 diverges on this data (timescale separation, spec 1.9.3: eta * lambda_max * 2L must stay
    small); eta = 0.1 takes the loss from 0.28 to 7.6e-4.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = np.stack([np.tanh(x[:, 0] * x[:, 1]), np.sin(x[:, 2])], axis=1) * 0.8
    net = Network.mlp([3, 16, 16, 16, 2], activation="tanh", output_activation="identity", loss="mse", seed=0)
    first, _ = net.evaluate(x, y)
    hold = 4000
    method = Wave(hold=hold)
    method.step(net.machine(), x, net.targets(y), HeavyBall(lr=0.1 * hold))
    last, _ = net.evaluate(x, y)
    assert last < 0.01 * first, (first, last)


def test_reproducible_from_seed(digits):
    a = train(digits_net(), digits, method="wave", epochs=2, seed=7)
    b = train(digits_net(), digits, method="wave", epochs=2, seed=7)
    c = train(digits_net(), digits, method="wave", epochs=2, seed=8)
    assert a.loss == b.loss and a.test_accuracy == b.test_accuracy
    assert a.loss != c.loss


def test_checkpoint_and_callback(tmp_path, digits):
    seen = []
    net = digits_net()
    train(net, digits, epochs=2, checkpoint=tmp_path / "ckpt.npz", callback=lambda e, r: seen.append(e))
    assert seen == [0, 1]
    restored = Network.load(tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(restored.layers[0].weight, net.layers[0].weight)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"method": "adam"},
            r"method: expected one of backprop, dyadic, wave, pipelined, pipelined\+stash, "
            r"pipelined\+stash-forward, mpc, forward, ocnopt, curvature, got 'adam'",
        ),
        ({"lr": -0.1}, r"lr: expected a number > 0, got -0.1"),
        ({"momentum": 1.0}, r"momentum: expected 0 <= momentum < 1 \(a passive port\), got 1.0"),
        ({"batch_size": 0}, r"batch_size: expected an integer > 0, got 0"),
        ({"method": "dyadic", "hold": 3}, r"hold: only the 'wave' method holds inputs"),
        ({"method": "wave", "hold": 0}, r"hold: expected an integer > 0, got 0"),
        ({"schedule": "random"}, r"schedule: expected one of light_cone, ticks, got 'random'"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    net = Network.mlp([2, 3, 2], loss="cross_entropy")
    data = (np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ConfigError, match=message):
        train(net, data, **kwargs)


def test_bad_data_is_refused():
    net = Network.mlp([2, 3, 2], loss="cross_entropy")
    with pytest.raises(DataError, match=r"training inputs: samples have 3 features, expected 2"):
        train(net, (np.zeros((4, 3)), np.array([0, 1, 0, 1])))
    with pytest.raises(DataError, match=r"training targets: sample 2 has label 5, expected 0..1"):
        train(net, (np.zeros((4, 2)), np.array([0, 1, 5, 1])))
    x = np.zeros((4, 2))
    x[3, 1] = np.nan
    with pytest.raises(DataError, match=r"training inputs: sample 3 has nan at feature 1"):
        train(net, (x, np.array([0, 1, 0, 1])))


def test_mse_on_labels_uses_one_hot_targets():
    net = Network.mlp([3, 4, 2], loss="mse", seed=1)
    x = np.random.default_rng(0).normal(size=(5, 3))
    labels = np.array([0, 1, 1, 0, 1])
    a = relax(net, x, labels).grads
    b = relax(net, x, onehot(labels, 2)).grads
    for (wa, ba), (wb, bb) in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)


def test_options_a_method_would_ignore_are_refused():
    net = Network.mlp([2, 3, 2], loss="cross_entropy")
    data = (np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    expected = r"schedule: only the 'dyadic' method has a schedule, got 'ticks' with 'wave'"
    with pytest.raises(ConfigError, match=expected):
        train(net, data, method="wave", schedule="ticks")
    with pytest.raises(ConfigError, match=r"method 'ocnopt' steps the parameters itself and would ignore momentum=0.9"):
        train(net, data, method="ocnopt", momentum=0.9)
    result = train(net, data, method="ocnopt", momentum=0.0, lr=0.2, epochs=1)
    assert result.loss and np.isfinite(result.loss[0])


def test_divergence_names_the_minibatch():
    net = Network.mlp([2, 8, 2], activation="identity", loss="mse", seed=0)
    x = np.random.default_rng(0).normal(size=(64, 2)) * 100
    with pytest.raises(ConfigError, match=r"training diverged in epoch 1: minibatch \d+ has loss (nan|inf)"):
        with np.errstate(all="ignore"):
            train(net, (x, x), method="backprop", lr=10.0, momentum=0.0, batch_size=8, epochs=1)


def test_float32_training_writes_back_and_reports_cheap_metrics(digits):
    net = digits_net()
    result = train(net, digits, epochs=2, batch_size=64, seed=1)
    assert result.dtype == "float32" and net.layers[0].weight.dtype == np.float64
    assert result.train_accuracy == [] and len(result.test_accuracy) == 2
    # the recorded test metrics are the network's own (float64) evaluation of the written-back weights
    loss, accuracy = net.evaluate(digits.x_test, digits.y_test)
    assert abs(accuracy - result.test_accuracy[-1]) <= 1 / 359 + 1e-12
    assert abs(loss - result.test_loss[-1]) < 1e-4 * max(1.0, loss)
    full = train(digits_net(), digits, epochs=1, batch_size=64, seed=1, train_metrics=True)
    assert len(full.train_accuracy) == 1 and 0.0 < full.train_accuracy[0] <= 1.0
    with pytest.raises(ConfigError, match="dtype"):
        train(digits_net(), digits, epochs=1, dtype="int8")
