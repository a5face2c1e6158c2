"""Device and circuit physics: every effect against its closed form (circuits/devices.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavetrain.circuits import devices

RNG_SAMPLES = 200_000


@given(bits=st.integers(2, 12), full_scale=st.floats(0.1, 10.0), seed=st.integers(0, 2**16))
def test_quantization_error_is_at_most_half_a_step_and_levels_are_counted(bits, full_scale, seed):
    v = np.random.default_rng(seed).uniform(-full_scale, full_scale, size=1000)
    q = devices.quantize(v, bits, full_scale)
    step = devices.quantization_step(bits, full_scale)
    assert np.max(np.abs(q - v)) <= step / 2 * (1 + 1e-12)
    sweep = devices.quantize(np.linspace(-full_scale, full_scale, 20 * 2**bits), bits, full_scale)
    assert len(np.unique(np.round(sweep / step))) == 2**bits - 1
    assert np.all(
        devices.quantize(np.array([-3 * full_scale, 3 * full_scale]), bits, full_scale) == [-full_scale, full_scale]
    )


def test_one_bit_is_the_sign_and_none_only_clips():
    v = np.array([-2.0, -0.1, 0.0, 0.3, 5.0])
    np.testing.assert_array_equal(devices.quantize(v, 1, 1.5), [-1.5, -1.5, 1.5, 1.5, 1.5])
    np.testing.assert_array_equal(devices.quantize(v, None, 1.0), [-1.0, -0.1, 0.0, 0.3, 1.0])


def test_noise_managed_converter_error_scales_with_each_rows_magnitude():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4, 300)) * np.array([[1e-4], [1.0], [30.0], [0.0]])
    out = devices.convert(v, 8, 12.0, 0.0, True, None)
    bound = devices.quantization_step(8, 1.0) / 2 * np.max(np.abs(v), axis=1, keepdims=True)
    assert np.all(np.abs(out - v) <= bound * (1 + 1e-12))
    np.testing.assert_array_equal(out[3], 0.0)
    # without management the absolute full scale clips
    np.testing.assert_array_equal(
        devices.convert(np.array([[20.0, -20.0]]), 8, 12.0, 0.0, False, None), [[12.0, -12.0]]
    )


def test_converter_noise_has_the_given_std():
    rng = np.random.default_rng(1)
    v = np.zeros((1, RNG_SAMPLES))
    out = devices.convert(v, None, 100.0, 0.06, False, rng)
    assert abs(np.std(out) - 0.06) < 0.06 * 0.01
    assert abs(np.mean(out)) < 4 * 0.06 / np.sqrt(RNG_SAMPLES)


@pytest.mark.parametrize("target", [0.3, 2.75, -1.6])
def test_stochastic_pulse_count_is_unbiased_with_bernoulli_variance(target):
    rng = np.random.default_rng(2)
    n = devices.pulse_count(np.full(RNG_SAMPLES, target * 0.01), 0.01, "stochastic", rng)
    frac = target - np.floor(target)
    assert set(np.unique(n)) <= {np.floor(target), np.floor(target) + 1}
    assert abs(n.mean() - target) < 5 * np.sqrt(frac * (1 - frac) / RNG_SAMPLES)
    assert abs(n.var() - frac * (1 - frac)) < 0.01


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", [0.3, 2.75, -1.6, 0.004])
def test_sparse_pulses_are_the_dense_counts_unbiased(dtype, target):
    """devices.pulses (what the analog substrate writes with) against the closed form: E[n] = dw / dw_min, Bernoulli
    variance of the fraction; pulse_count is its dense form from the same draws."""
    dw = np.full(RNG_SAMPLES, target * 0.01, dtype=dtype)
    where, counts = devices.pulses(dw, 0.01, "stochastic", np.random.default_rng(2))
    n = np.zeros(RNG_SAMPLES)
    n[where] = counts
    frac = target - np.floor(target)
    assert set(np.unique(n)) <= {np.floor(target), np.floor(target) + 1} and np.all(counts != 0)
    assert abs(n.mean() - target) < 5 * np.sqrt(frac * (1 - frac) / RNG_SAMPLES) + 1e-6
    assert abs(n.var() - frac * (1 - frac)) < 0.01
    dense = devices.pulse_count(dw, 0.01, "stochastic", np.random.default_rng(2))
    assert np.mean(dense != n) <= (1e-5 if dtype == np.float32 else 0.0)
    where, counts = devices.pulses(
        np.array([0.014, 0.016, -0.026, 1.0, -1.0, 0.0], dtype),
        0.01,
        "deterministic",
        np.random.default_rng(0),
        max_pulses=31,
    )
    np.testing.assert_array_equal(where, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(counts, [1, 2, -3, 31, -31])


def test_deterministic_pulse_count_rounds_and_max_pulses_clips():
    dw = np.array([0.014, 0.016, -0.026, 1.0, -1.0])
    n = devices.pulse_count(dw, 0.01, "deterministic", np.random.default_rng(0), max_pulses=31)
    np.testing.assert_array_equal(n, [1, 2, -3, 31, -31])


@pytest.mark.parametrize("gamma", [0.0, 0.1153, 1.0, 1.5])
def test_n_pulses_in_closed_form_equal_n_single_pulses(gamma):
    rng = np.random.default_rng(3)
    w0, bound = rng.uniform(-0.9, 0.9, size=50), rng.uniform(1.0, 1.3, size=50)
    dw = rng.uniform(0.001, 0.01, size=50)
    for count in (1, 7, 40):
        w = w0.copy()
        for _ in range(count):
            w = np.clip(w + dw * (1 - gamma * w / bound), -bound, bound)
        closed = devices.apply_pulses(w0, np.full(50, float(count)), dw, dw, gamma, 0.0, bound, 0.0, None)
        np.testing.assert_allclose(closed, w, rtol=0, atol=1e-12)
        w = w0.copy()
        for _ in range(count):
            w = np.clip(w - dw * (1 + gamma * w / bound), -bound, bound)
        closed = devices.apply_pulses(w0, np.full(50, -float(count)), dw, dw, 0.0, gamma, bound, 0.0, None)
        np.testing.assert_allclose(closed, w, rtol=0, atol=1e-12)


def test_soft_bound_step_shrinks_linearly_with_the_weight():
    w = np.linspace(-1.0, 1.0, 21)
    up = devices.apply_pulses(w, np.ones(21), 0.002, 0.002, 1.0, 1.0, 1.0, 0.0, None) - w
    down = devices.apply_pulses(w, -np.ones(21), 0.002, 0.002, 1.0, 1.0, 1.0, 0.0, None) - w
    np.testing.assert_allclose(up, 0.002 * (1 - w), rtol=0, atol=1e-15)
    np.testing.assert_allclose(down, -0.002 * (1 + w), rtol=0, atol=1e-15)
    assert up[-1] == 0 and down[0] == 0  # no step at all at the bound it approaches


def test_asymmetric_steps_and_hard_bounds():
    w = np.zeros(3)
    out = devices.apply_pulses(w, np.array([5.0, -5.0, 1000.0]), 0.012, 0.008, 0.0, 0.0, 1.0, 0.0, None)
    np.testing.assert_allclose(out, [0.06, -0.04, 1.0], rtol=0, atol=1e-15)


def test_update_noise_variance_grows_with_the_pulse_count():
    rng = np.random.default_rng(4)
    n = np.full(RNG_SAMPLES, 9.0)
    out = devices.apply_pulses(np.zeros(RNG_SAMPLES), n, 0.001, 0.001, 0.0, 0.0, 10.0, 0.3, rng)
    assert abs(out.mean() - 0.009) < 5 * 0.3 * 0.001 * 3 / np.sqrt(RNG_SAMPLES)
    assert abs(out.std() / (0.3 * 0.001 * 3) - 1) < 0.01


@pytest.mark.parametrize("gamma_up, gamma_down", [(1.0, 1.0), (0.5, 0.2)])
def test_noisy_pulses_in_closed_form_match_noisy_pulses_one_by_one(gamma_up, gamma_down):
    # each pulse adds its own noise and the later pulses shrink it: 30 pulses of a soft-bounds device have ~13 % less
    # spread than sqrt(30) independent steps (what aihwkit's one-by-one update gives, benchmarks/aihwkit_check.py)
    rng = np.random.default_rng(5)
    dw, std, count, w0 = 0.01, 0.3, 30, 0.2
    for sign, gamma in ((1.0, gamma_up), (-1.0, gamma_down)):
        w = np.full(RNG_SAMPLES, w0)
        for _ in range(count):
            w = w + sign * dw * (1 - sign * gamma * w) + std * dw * rng.standard_normal(RNG_SAMPLES)
        closed = devices.apply_pulses(
            np.full(RNG_SAMPLES, w0), np.full(RNG_SAMPLES, sign * count), dw, dw, gamma_up, gamma_down, 1.0, std, rng
        )
        assert abs(closed.mean() - w.mean()) < 5 * std * dw * np.sqrt(count) * np.sqrt(2 / RNG_SAMPLES)
        assert abs(closed.std() / w.std() - 1) < 0.01


def test_drift_recovers_its_exponent_from_a_log_log_fit():
    t = np.array([20.0, 200.0, 2000.0, 2e4, 2e5])
    g = np.array([devices.drift_factor(ti, 20.0, 0.05) for ti in t])
    slope = np.polyfit(np.log(t / 20.0), np.log(g), 1)[0]
    assert abs(slope + 0.05) < 1e-12
    assert devices.drift_factor(5.0, 20.0, 0.05) == 1.0  # before t0 nothing has drifted


def test_reflection_coefficient_of_a_mismatch():
    assert devices.reflection(1.0) == pytest.approx(1 / 3, abs=1e-15)  # Z_L = 2 Z0 (ngspice gives 1/3 too)
    assert devices.reflection(0.0) == 0.0
    assert devices.reflection(-0.5) == pytest.approx(-1 / 3, abs=1e-15)  # Z_L = Z0 / 2


@pytest.mark.parametrize("mismatch,loss", [(0.1, 0.0), (1.0, 0.0), (0.1, 0.02), (-0.5, 0.1)])
def test_echo_arrives_two_ticks_later_inverted_by_the_driver(mismatch, loss):
    gamma, keep = devices.reflection(mismatch), np.exp(-loss)
    history: list = [None, None]
    received = []
    for v in [1.0] + [0.0] * 6:
        out, incident = devices.line_echo(np.array(v), history[0], gamma, loss)
        history = [history[1], incident]
        received.append(float(out))
    expected = [(1 + gamma) * keep * (-gamma * keep**2) ** (k // 2) if k % 2 == 0 else 0.0 for k in range(7)]
    np.testing.assert_allclose(received, expected, rtol=1e-14, atol=1e-300)
    assert received[1] == 0.0 and received[2] != 0.0  # the first echo arrives at tick 2, not 1


def test_a_held_wave_settles_to_the_driven_value_on_a_lossless_mismatched_line():
    gamma, history, out = devices.reflection(1.0), [None, None], None
    for _ in range(200):
        out, incident = devices.line_echo(np.array(0.7), history[0], gamma, 0.0)
        history = [history[1], incident]
    assert float(out) == pytest.approx(0.7, abs=1e-12)


def test_local_courant_number_lags_geometrically():
    nu, y, out = 0.8, None, []
    for _ in range(6):
        y = devices.courant_lag(y, np.array(1.0), nu)
        out.append(float(y))
    np.testing.assert_allclose(out, [1 - (1 - nu) ** k for k in range(1, 7)], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gauss_draws_are_standard_normal(dtype):
    from scipy import stats

    z = devices.gauss(np.random.default_rng(6), (RNG_SAMPLES // 2, 2), dtype)
    assert z.shape == (RNG_SAMPLES // 2, 2) and z.dtype == dtype
    flat = z.astype(np.float64).ravel()
    assert stats.kstest(flat, "norm").pvalue > 1e-3  # scipy's normal CDF, an independent reference
    assert abs(flat.mean()) < 5 / np.sqrt(flat.size) and abs(flat.var() - 1) < 5 * np.sqrt(2 / flat.size)
    assert abs(np.mean(flat**4) - 3) < 0.1  # the kurtosis of a normal, not of a uniform or a cut-off sum
    # the cosine and sine halves of each pair are uncorrelated, odd sizes work
    half = flat.size // 2
    assert abs(np.corrcoef(flat[:half], flat[half:])[0, 1]) < 5 / np.sqrt(half)
    assert devices.gauss(np.random.default_rng(0), 7, dtype).shape == (7,)


def test_update_noise_only_moves_pulsed_devices_with_the_pulse_count_std():
    rng = np.random.default_rng(7)
    n = np.where(np.arange(RNG_SAMPLES) % 3 == 0, 4.0, 0.0)
    w = np.full(RNG_SAMPLES, 0.1)
    out = devices.apply_pulses(w, n, 0.001, 0.001, 0.0, 0.0, 10.0, 0.3, rng)
    still = n == 0
    np.testing.assert_array_equal(out[still], w[still])  # no pulse, no step and no noise
    moved = out[~still] - (0.1 + 0.004)
    assert abs(moved.std() / (0.3 * 0.001 * 2) - 1) < 0.02  # sqrt(4 pulses) x 0.3 dw
    assert abs(moved.mean()) < 5 * 0.3 * 0.001 * 2 / np.sqrt(moved.size)
