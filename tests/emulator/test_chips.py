"""Training on emulated analog chips: the ideal preset is the ideal machine bit for bit, chips are reproducible and
vectorised correctly, gradient fidelity is measured against the exact gradient."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from wavetrain import Network, train
from wavetrain.circuits.hardware import PRESETS
from wavetrain.emulator.analog import AnalogSubstrate
from wavetrain.emulator.cells import Machine
from wavetrain.emulator.chips import _compare, fidelity_by_tick
from wavetrain.emulator.kernel import WaveState, light_cone, tick
from wavetrain.emulator.substrate import IDEAL
from wavetrain.errors import ConfigError

SIZES = [64, 32, 16, 10]


def small_net(seed: int = 0) -> Network:
    return Network.mlp(SIZES, activation="tanh", loss="cross_entropy", seed=seed)


def small_data(digits, n: int = 320):
    return (digits.x_train[:n], digits.y_train[:n], digits.x_test[:120], digits.y_test[:120])


@pytest.mark.parametrize(
    "kw", [{}, {"dtype": "float64"}, {"schedule": "ticks"}, {"method": "wave"}, {"train_metrics": True}]
)
def test_ideal_preset_trains_bit_for_bit_like_the_ideal_substrate(digits, kw):
    """The default light cone too (issue 23: it took the cells, the plain run the fused step: 1e-8 apart)."""
    plain, hw = small_net(), small_net()
    ref = train(plain, small_data(digits), epochs=2, seed=3, **kw)
    got = train(hw, small_data(digits), epochs=2, seed=3, hardware="ideal", **kw)
    for a, b in zip(plain.layers, hw.layers):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    assert got.test_accuracy == ref.test_accuracy and got.loss == ref.loss and got.test_loss == ref.test_loss
    if kw.get("train_metrics"):
        assert got.train_accuracy == ref.train_accuracy
    if kw.get("method") == "wave":  # unlocked: the ports move while the waves are in flight, never exact
        assert 0.3 < got.fidelity.mean_cosine < 0.9999
    else:
        assert got.fidelity.cosine == pytest.approx([1.0, 1.0], abs=1e-12)
        assert max(got.fidelity.relative_error) < 1e-12


def test_ideal_preset_light_cone_and_tick_are_the_ideal_cells_bit_for_bit():
    net = small_net(1)
    x, y = make_batch(net, batch=6, seed=1)
    t = net.targets(y, 6)
    sub = AnalogSubstrate("ideal", net.sizes, seed=0)
    g_hw, state_hw, loss_hw = light_cone(Machine.of(net, None, sub), x, t)
    g, state, loss = light_cone(Machine.of(net, None, IDEAL), x, t)
    assert all(np.array_equal(a, b) for pa, pb in zip(g_hw.values(), g.values()) for a, b in zip(pa, pb))
    assert np.array_equal(loss_hw, loss)
    zero = WaveState.zeros(net.sizes, 6, x)
    new_hw, _ = tick(Machine.of(net, None, sub), x, t, zero)
    new, _ = tick(Machine.of(net, None, IDEAL), x, t, zero)
    assert all(
        np.array_equal(a, b)
        for a, b in zip([*new_hw.s.values(), *new_hw.lam.values()], [*new.s.values(), *new.lam.values()])
    )


def test_a_run_is_reproducible_from_its_seed(digits):
    runs = [train(small_net(), small_data(digits), epochs=1, seed=s, hardware="reram", chips=2) for s in (5, 5, 6)]
    assert runs[0].chip_test_accuracy == runs[1].chip_test_accuracy and runs[0].loss == runs[1].loss
    assert runs[0].loss != runs[2].loss


def test_chip_axis_equals_running_each_chip_alone(digits):
    # every random effect drawn per chip, none per read: the chip axis must compute chip c exactly as chip c alone
    model = PRESETS["reram"].with_overrides(
        {
            "device.read_noise": 0.0,
            "device.prog_noise": 0.0,
            "device.dw_min_std": 0.0,
            "device.rounding": "deterministic",
            "io.forward_noise": 0.0,
            "io.backward_noise": 0.0,
            "device.stuck_on": 0.01,
        }
    )
    together, alone = small_net(), small_net()
    both = train(together, small_data(digits), epochs=1, seed=2, lr=0.2, hardware=model, chips=3)
    one = train(alone, small_data(digits), epochs=1, seed=2, lr=0.2, hardware=model)
    for a, b in zip(together.layers, alone.layers):  # the network holds chip 0
        np.testing.assert_allclose(a.weight, b.weight, rtol=0, atol=1e-12)
    assert both.chip_test_accuracy[0][0] == one.chip_test_accuracy[0][0]
    assert len(both.chip_test_accuracy[0]) == 3 and both.chips == 3
    assert len(set(both.chip_test_accuracy[0])) > 1 or not np.array_equal(together.layers[0].weight, 0)


def test_fidelity_of_a_noisy_chip_is_below_one_per_layer_and_overall(digits):
    result = train(small_net(), small_data(digits), epochs=2, seed=0, hardware="pcm", fidelity_every=2)
    fid = result.fidelity
    assert len(fid.cosine) == 2 and len(fid.layer_cosine[0]) == 3
    assert 0.5 < fid.mean_cosine < 0.9999
    assert all(0 < e < 1 for e in fid.relative_error)
    assert result.to_dict()["fidelity"]["mean_cosine"] == fid.mean_cosine


def test_compare_is_cosine_and_relative_error_per_chip():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[1.0, 1.0], [1.0, 1.0]])
    cos, err = _compare([a], [b], chip=True)
    assert cos == pytest.approx((1 / np.sqrt(2) + 1.0) / 2, abs=1e-15)
    assert err == pytest.approx((1 / np.sqrt(2) + 0.0) / 2, abs=1e-15)


def test_fidelity_by_tick_reaches_one_at_2L_on_the_ideal_chip_only():
    net = small_net(2)
    x, y = make_batch(net, batch=4, seed=2)
    ideal = fidelity_by_tick(net, x, y, "ideal", ticks=8)
    assert ideal["cosine"][6] == pytest.approx(1.0, abs=1e-12) and ideal["relative_error"][6] < 1e-12
    assert ideal["relative_error"][5] > 1e-3  # not one tick earlier
    board = fidelity_by_tick(net, x, y, "lossy-board", ticks=8, chips=2)
    assert board["relative_error"][6] > 1e-3 and len(board["layer_cosine"][6]) == 3


def test_bad_hardware_runs_are_refused(digits):
    data = small_data(digits)
    with pytest.raises(ConfigError, match="chips: Monte-Carlo chips need hardware="):
        train(small_net(), data, epochs=1, chips=4)
    with pytest.raises(ConfigError, match="light-cone schedule does not keep"):
        train(small_net(), data, epochs=1, hardware="lossy-board")
    with pytest.raises(ConfigError, match="expected method 'dyadic' or 'wave'"):
        train(small_net(), data, epochs=1, hardware="reram", method="backprop")
    with pytest.raises(ConfigError, match="expected a preset"):
        train(small_net(), data, epochs=1, hardware="flash")
    with pytest.raises(ConfigError, match="pass either hardware= or substrate="):
        train(small_net(), data, epochs=1, hardware="reram", substrate=AnalogSubstrate("reram", SIZES))


def test_wave_training_on_a_lossy_board_of_chips(digits):
    result = train(small_net(), small_data(digits), epochs=1, seed=1, hardware="lossy-board", chips=2, method="wave")
    assert len(result.chip_test_accuracy[0]) == 2 and result.chips == 2
    assert 0.0 < result.fidelity.cosine[0] < 1.0 and len(result.fidelity.layer_cosine[0]) == 3


def test_a_convolution_on_a_chip_axis_computes_each_chip_as_that_chip_alone():
    # NOTE: the clamped input has no chip axis; every chip reads it with its own kernel. Each chip's gradient and
    # loss through the whole CNN (3 Conv1d, a Linear) equal those of its own weights without a chip axis
    import wavetrain

    net = wavetrain.model("cnn1d-mnist1d", seed=0)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, *net.input_shape))
    t = net.targets(rng.integers(0, 10, 5), 5)
    own = [
        {n: (W * (1 + 0.2 * rng.normal(size=W.shape)), b + 0.1 * rng.normal(size=b.shape)) for n, (W, b) in
         net.param_dict().items()}
        for _ in range(3)
    ]  # fmt: skip
    stacked = {n: tuple(np.stack([p[n][i] for p in own]) for i in range(2)) for n in own[0]}
    sub = AnalogSubstrate("ideal", net.graph, chips=3, seed=0)
    grads, _, loss = light_cone(Machine.of(net, stacked, sub), x, t)
    for chip in range(3):
        g_alone, _, loss_alone = light_cone(Machine.of(net, own[chip], IDEAL), x, t)
        np.testing.assert_allclose(loss[chip], loss_alone, rtol=1e-12)
        for n, (gW, gb) in g_alone.items():
            np.testing.assert_allclose(grads[n][0][chip], gW, rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(grads[n][1][chip], gb, rtol=1e-10, atol=1e-13)
