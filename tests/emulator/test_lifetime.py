"""A chip over its lifetime: drift of a population with per-device exponents and drift compensation against their
closed forms, in-situ chips evaluated as training left them, bad settings refused before any work."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wavetrain import Network, train
from wavetrain.circuits.hardware import PRESETS
from wavetrain.emulator import lifetime as lt
from wavetrain.emulator.analog import AnalogSubstrate
from wavetrain.errors import ConfigError, DataError

T0 = 20.0
YEAR = 3.15e7


def drifting(nu: float = 0.05, nu_std: float = 0.0, **more) -> object:
    """A chip that only drifts (no other effect, so every read is exact)."""
    over = {"device.w_max": 1.0, "device.drift_nu": nu, "device.drift_nu_dtod": nu_std, "device.drift_t0": T0}
    return PRESETS["ideal"].with_overrides({**over, **more})


def test_mean_drift_factor_of_a_population_matches_the_log_normal_mean():
    # NOTE: 4 chips x 400 x 400 devices, nu_i ~ N(0.05, 0.01^2): E[(t/t0)^-nu] = exp(-mu L + s^2 L^2 / 2) and
    # Var = (exp(s^2 L^2) - 1) E^2, L = ln(t / t0); the sample mean of 640,000 factors is within 5 standard errors
    sub = AnalogSubstrate(drifting(0.05, 0.01), [400, 400], chips=4, seed=3)
    for t in (3600.0, YEAR):
        factors = np.asarray(sub.drift_factor("1", t)).ravel()
        L = math.log(t / T0)
        mean = lt.mean_drift_factor(t, T0, 0.05, 0.01)
        std = math.sqrt(math.expm1((0.01 * L) ** 2)) * mean
        assert mean == pytest.approx(math.exp(-0.05 * L + 0.5 * (0.01 * L) ** 2), rel=1e-15)
        assert abs(factors.mean() - mean) < 5 * std / math.sqrt(factors.size)
        assert factors.std() == pytest.approx(std, rel=0.01)
    assert np.all(np.asarray(sub.drift_factor("1", T0)) == 1.0)  # nothing drifts before t0
    assert lt.mean_drift_factor(10.0, T0, 0.05, 0.01) == 1.0


def _programmed(model, sizes, chips=2, seed=0):
    net = Network.mlp(sizes, activation="tanh", loss="cross_entropy", seed=seed)
    sub, params = lt.program(net, model, chips, seed)
    return net, sub, params


@pytest.mark.parametrize("scheme", ["global", "column"])
def test_compensation_undoes_a_uniform_drift_exactly(scheme):
    # NOTE: one exponent for every device: W(t) = W (t/t0)^-nu, so alpha = (t/t0)^nu and the compensated outputs
    # are the programmed ones to float64 rounding
    net, sub, params = _programmed(drifting(0.05), [30, 20, 10])
    W = params["1"][0]
    now = lt.aged(sub, W, "1", YEAR)
    np.testing.assert_allclose(now, W * (YEAR / T0) ** -0.05, rtol=1e-14)
    base = {"1": lt.readout(sub, W, "1", scheme == "column")}
    alpha = lt._scales(sub, base, {"1": now}, scheme)["1"]
    assert alpha.shape == ((2, 1, 1) if scheme == "global" else (2, 1, 20))
    np.testing.assert_allclose(alpha, (YEAR / T0) ** 0.05, rtol=1e-12)
    x = np.random.default_rng(0).normal(size=(50, 30))
    y = np.random.default_rng(0).integers(0, 10, 50)
    out = lt.lifetime(net, (x, y), drifting(0.05), times=[1.0, 3600.0, YEAR], chips=2, compensation=("none", scheme))
    np.testing.assert_allclose(out.loss[scheme], [out.loss["none"][0]] * 3, rtol=1e-12)
    assert not np.allclose(out.loss["none"][2], out.loss["none"][0], rtol=1e-6)  # uncompensated, it drifted


def test_global_compensation_of_a_wide_layer_tends_to_the_inverse_mean_factor():
    # NOTE: alpha = mean|W| / mean|W f| with W independent of f: 1 / E[f] as the layer widens; 500 x 500 devices
    # per chip give a relative standard error of about std(f) / E[f] / 500 = 3e-4
    model = drifting(0.05, 0.01)
    net, sub, params = _programmed(model, [500, 500], chips=3)
    W = params["1"][0]
    base = {"1": lt.readout(sub, W, "1", False)}
    alpha = lt._scales(sub, base, {"1": lt.aged(sub, W, "1", YEAR)}, "global")["1"]
    expected = 1.0 / lt.mean_drift_factor(YEAR, T0, 0.05, 0.01)
    np.testing.assert_allclose(alpha.ravel(), expected, rtol=2e-3)
    column = lt._scales(sub, {"1": lt.readout(sub, W, "1", True)}, {"1": lt.aged(sub, W, "1", YEAR)}, "column")["1"]
    np.testing.assert_allclose(column.mean(axis=-1).ravel(), expected, rtol=2e-3)  # per column: 500 devices each
    assert column.std() > alpha.std()


def test_calibration_read_carries_read_noise_of_the_closed_form_size():
    # NOTE: the identity read of a zero crossbar is the read noise alone: E|N(0, s^2)| = s sqrt(2 / pi), s =
    # read_noise sqrt(2) for a differential pair
    model = PRESETS["ideal"].with_overrides({"device.w_max": 1.0, "device.read_noise": 0.03})
    sub = AnalogSubstrate(model, [300, 300], chips=2, seed=0)
    got = lt.readout(sub, np.zeros((2, 300, 300)), "1", False).ravel()
    np.testing.assert_allclose(got, 0.03 * math.sqrt(2) * math.sqrt(2 / math.pi), rtol=0.01)


def test_flicker_noise_has_aihwkits_size():
    model = drifting(0.0)
    sub = AnalogSubstrate(model, [400, 400], chips=1, seed=0)
    W = np.full((1, 400, 400), 0.5)
    got = (lt.aged(sub, W, "1", 3600.0, flicker=1.0) - W) / W
    q_s = min(0.0088 / 0.5**0.65, 0.2)
    np.testing.assert_allclose(got.std(), q_s * math.sqrt(math.log((3600.0 + 250e-9) / 500e-9)), rtol=0.01)


def test_in_situ_chips_are_read_as_training_left_them(digits):
    # NOTE: without read or converter noise the on-chip evaluation at t_inference and the lifetime at that time read
    # the same weights the same way: equal accuracies per chip (a re-programmed copy would carry new programming noise)
    model = PRESETS["pcm"].with_overrides({"device.read_noise": 0.0, "io.forward_noise": 0.0})
    net = Network.mlp([64, 16, 10], activation="tanh", loss="cross_entropy", seed=0)
    data = (digits.x_train[:256], digits.y_train[:256], digits.x_test[:100], digits.y_test[:100])
    result = train(net, data, epochs=1, batch_size=32, lr=0.05, hardware=model, chips=2, fidelity_every=0)
    out = lt.lifetime(net, data, times=[3600.0], compensation="none", chip_run=result.chip_run)
    assert out.origin == "in situ" and out.chips == 2
    assert out.accuracy["none"][0] == result.chip_test_accuracy[-1]
    other = Network.mlp([64, 12, 10], loss="cross_entropy")
    with pytest.raises(ConfigError, match="chip_run: its chips hold the network 64-16-10"):
        lt.lifetime(other, data, times=[1.0], chip_run=result.chip_run)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"times": [60.0, 1.0]}, r"times\[1\]: expected a strictly increasing grid, got 1.0 after 60.0"),
        ({"times": [-1.0, 5.0]}, r"times\[0\]: expected a finite time > 0 \[s\] since programming, got -1.0"),
        ({"times": []}, "times: expected at least one time"),
        ({"compensation": "drift"}, "compensation: expected one of none, global, column, got 'drift'"),
        ({"chips": 0}, "chips: expected an integer >= 1, got 0"),
        ({"flicker": -1.0}, "flicker: expected a number >= 0"),
        ({"hardware": None}, "expected hardware="),
        ({"refresh": 0}, r"refresh: expected a finite period > 0 \[s\] between re-programmings, got 0"),
        ({"refresh": "daily"}, "refresh: expected a period in seconds"),
    ],
)
def test_bad_settings_are_refused_before_any_work(kw, match, monkeypatch):
    net = Network.mlp([8, 4], loss="cross_entropy")
    x, y = np.zeros((4, 8)), np.array([0, 1, 2, 3])
    monkeypatch.setattr(lt, "program", lambda *a: pytest.fail("programmed chips before checking the settings"))
    with pytest.raises(ConfigError, match=match):
        lt.lifetime(net, (x, y), **{"hardware": "pcm", **kw})
    with pytest.raises(DataError):  # a network trained for other data
        lt.lifetime(net, (np.zeros((4, 9)), y), "pcm")


def test_hardware_aware_noise_model_keeps_the_reads_and_drops_the_device_physics():
    hwa = lt.hwa_model("pcm")
    pcm = PRESETS["pcm"]
    assert hwa.name == "hwa-pcm" and hwa.io == pcm.io
    assert hwa.device.read_noise == pcm.device.read_noise and hwa.device.w_max == pcm.device.w_max
    assert not hwa.device.pulsed and hwa.device.prog_noise == hwa.device.drift_nu == hwa.device.stuck_off == 0.0
    sub = AnalogSubstrate(hwa, [8, 4], seed=0)
    W = np.full((4, 8), 0.3)
    sub.write(W, np.full_like(W, 0.01), "1", "W")
    np.testing.assert_array_equal(W, np.full((4, 8), 0.3) + 0.01)  # written exactly


def test_a_refreshed_chip_is_read_as_a_chip_programmed_at_its_last_refresh():
    # NOTE: exact reads and writes (a chip that only drifts): re-programmed every P = 1000 s, the chip read at
    # k P + 500 s holds the weights of the chip read 500 s after its first programming, whatever k
    net = Network.mlp([30, 20, 10], activation="tanh", loss="cross_entropy", seed=1)
    x = np.random.default_rng(1).normal(size=(40, 30))
    y = np.random.default_rng(1).integers(0, 10, 40)
    model = drifting(0.05, 0.01)
    plain = lt.lifetime(net, (x, y), model, times=[500.0, 3500.0], chips=2, compensation="none")
    fresh = lt.lifetime(net, (x, y), model, times=[500.0, 1500.0, 3500.0], chips=2, compensation="none", refresh=1e3)
    assert fresh.refresh == 1e3 and fresh.to_dict()["refresh"] == 1e3
    np.testing.assert_allclose(fresh.loss["none"], [plain.loss["none"][0]] * 3, rtol=1e-12)
    assert not np.allclose(plain.loss["none"][1], plain.loss["none"][0], rtol=1e-6)  # without refresh it drifted


def test_refresh_changes_nothing_before_the_first_refresh_and_redraws_the_programming_noise():
    net = Network.mlp([30, 16, 10], activation="tanh", loss="cross_entropy", seed=2)
    x = np.random.default_rng(2).normal(size=(40, 30))
    y = np.random.default_rng(2).integers(0, 10, 40)
    times = [1.0, 3600.0, 86400.0 + 3600.0]
    plain = lt.lifetime(net, (x, y), "pcm", times, chips=2)
    fresh = lt.lifetime(net, (x, y), "pcm", times, chips=2, refresh=86400.0)
    for scheme in ("none", "global"):
        assert fresh.loss[scheme][:2] == plain.loss[scheme][:2]  # bit for bit: its own generator per refresh
        # NOTE: 1 h after a refresh is not 1 h after the first programming: new programming noise
        assert fresh.loss[scheme][2] != plain.loss[scheme][1]
    sub, params = lt.program(net, "pcm", 2, 0)
    W = params["1"][0]
    target = np.broadcast_to(net.param_dict()["1"][0], W.shape)
    again = lt.reprogram(sub, target, "1", np.random.default_rng(9))
    # NOTE: both writes are the target plus N(0, (prog_noise w_max)^2) noise, clipped: independent draws
    noise = PRESETS["pcm"].device.prog_noise * PRESETS["pcm"].device.scale
    inside = (np.abs(again) < 0.9 * np.asarray(sub.bound["1"])) & (np.abs(W) < 0.9 * np.asarray(sub.bound["1"]))
    assert (again - target)[inside].std() == pytest.approx(noise, rel=0.05)
    assert (again - W)[inside].std() == pytest.approx(noise * math.sqrt(2), rel=0.05)
