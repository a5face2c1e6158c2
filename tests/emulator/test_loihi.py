"""The Loihi fixed-point substrate: formats against Lava's weight utilities, overflow rules, rounding, calibration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import make_batch
from wavetrain import Network
from wavetrain.emulator import relax, train
from wavetrain.emulator.loihi import (
    LayerFormat,
    LoihiFixedPoint,
    calibrate,
    overflow,
    quantize,
    shift_floor,
    update_int,
    zero_exponents,
)
from wavetrain.errors import ConfigError, FixedPointOverflow
from wavetrain.targets.lava import _compat


def substrate(depth: int = 2, **settings) -> LoihiFixedPoint:
    return zero_exponents(depth, **settings)


@pytest.mark.skipif(not _compat.available(), reason="lava-nc is not installed")
@given(seed=st.integers(0, 2**32 - 1), bits=st.integers(2, 8))
def test_weight_grid_is_lava_dense_bit_accurate_grid(seed: int, bits: int) -> None:
    from lava.utils.weightutils import SignMode, clip_weights, truncate_weights

    rng = np.random.default_rng(seed)
    W_int = rng.integers(-300, 300, size=(5, 7))
    W_int[0, :2] = -(10**6), 10**6
    lava = truncate_weights(clip_weights(W_int, SignMode.MIXED, num_bits=8), SignMode.MIXED, bits)
    # a mantissa k of `bits` bits at exponent 9 - bits is Lava's weight W_int = k 2^(9 - bits): the same grid and range
    sub = substrate(1, weight_bits=bits)
    sub.formats["1"] = replace(sub.formats["1"], w=9 - bits)
    np.testing.assert_array_equal(sub.weight(lava.astype(np.float64), "1"), lava)
    np.testing.assert_array_equal(sub.weight(np.array([-1e6, 1e6]), "1"), lava[0, :2])
    if bits == 8:
        assert lava.min() == -256 and lava.max() == 254 and np.all(lava % 2 == 0)


@given(m=st.integers(-(2**40), 2**40), shift=st.integers(-30, 10))
def test_shift_floor_is_floor_of_the_scaled_value(m: int, shift: int) -> None:
    assert int(shift_floor(np.array([m]), shift)[0]) == (m * 2**shift if shift >= 0 else m // 2 ** (-shift))


def test_overflow_rules() -> None:
    m = np.array([2**23 + 5, -(2**23) - 3, 17])
    np.testing.assert_array_equal(overflow(m, 24, "saturate", "x"), [2**23 - 1, -(2**23), 17])
    np.testing.assert_array_equal(overflow(m, 24, "wrap", "x"), [-(2**23) + 5, 2**23 - 3, 17])
    with pytest.raises(
        FixedPointOverflow,
        match=r"layer 2 state: 2 of 3 values overflow the 24-bit range "
        r"\[-8388608, 8388607\], the largest \|value\| is 8388613",
    ):
        overflow(m, 24, "raise", "layer 2 state")


def test_rounding_nearest_and_stochastic() -> None:
    rng = np.random.default_rng(0)
    m = np.zeros(20000, dtype=np.int64)
    step = np.full(20000, 0.3 * 2.0**-4)  # 0.3 of a mantissa step at exponent -4
    assert np.all(update_int(m, step, -4, 8, "nearest", rng) == 0)
    moved = update_int(m, step, -4, 8, "stochastic", np.random.default_rng(1))
    assert set(np.unique(moved)) == {0, 1}
    assert abs(moved.mean() - 0.3) < 0.02  # unbiased: E[round(u)] = u
    again = update_int(m, step, -4, 8, "stochastic", np.random.default_rng(1))
    np.testing.assert_array_equal(moved, again)  # seeded
    assert update_int(np.array([127]), np.array([5.0]), 0, 8, "nearest", rng)[0] == 127  # saturates


def test_hooks_keep_values_on_their_grids() -> None:
    sub = substrate()
    sub.formats["1"] = replace(sub.formats["1"], w=-6, a=-18, b=-12)
    W = np.array([[0.51, -0.2], [3.0, -5.0]])
    Wq = sub.weight(W, "1")
    np.testing.assert_array_equal(Wq, np.array([[33 / 64, -13 / 64], [127 / 64, -2.0]]))
    assert sub.stats["layer 1 weight"] == 2
    a = sub.accumulate(np.array([[1.0 + 2.0**-20, -(2.0**-19) / 3]]), "1")
    np.testing.assert_array_equal(a, [[1.0, -(2.0**-18)]])  # floor, as Lava Dense's right shift


def test_fixed_point_relaxation_is_close_to_exact_but_not_equal() -> None:
    net = Network.mlp([8, 16, 12, 4], activation="tanh", loss="cross_entropy", seed=3)
    x, y = make_batch(net, batch=16, seed=2)
    sub, report = calibrate(net, x, y)
    assert report.clipped() == 0.0 and "grad W" in report.table()
    fixed, ideal = relax(net, x, y, substrate=sub), relax(net, x, y)
    g = np.concatenate([a.ravel() for pair in fixed.grads for a in pair])
    r = np.concatenate([a.ravel() for pair in ideal.grads for a in pair])
    cosine = g @ r / np.linalg.norm(g) / np.linalg.norm(r)
    assert 0.99 < cosine < 1.0 - 1e-9


def test_calibration_reports_clipping_below_the_peak() -> None:
    net = Network.mlp([8, 16, 4], activation="relu", loss="mse", seed=0)
    x, y = make_batch(net, batch=32, seed=0)
    _, report = calibrate(net, x, y, percentile=50.0, headroom=0)
    assert 0.0 < report.clipped() <= 0.5
    with pytest.raises(ConfigError, match=r"percentile must be in \(0, 100\], got 0"):
        calibrate(net, x, y, percentile=0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"weight_bits must be an integer in \[2, 16\], got 1"):
        substrate(weight_bits=1)
    with pytest.raises(ConfigError, match="overflow must be one of saturate, wrap, raise, got 'clip'"):
        substrate(overflow="clip")
    with pytest.raises(ConfigError, match="layer 2: expected a LayerFormat or a dict of its exponents"):
        LoihiFixedPoint([LayerFormat(0, 0, 0, 0, 0, 0, 0), {"w": 0}], 0)
    with pytest.raises(ConfigError, match="bias exponent must be >= the state exponent"):
        LoihiFixedPoint([LayerFormat(w=0, b=-1, a=0, s=0, lam=0, g=0, gb=0)], 0)
    assert quantize(np.array([1e9]), 0, 8, "nearest")[0] == 127


def test_var_model_patch_rewrites_only_the_mutable_defaults() -> None:
    source = (
        "from __future__ import annotations\nfrom dataclasses import dataclass, InitVar\n"
        "@dataclass\nclass CoreEncoder:\n    x: ByteEncoder = ByteEncoder()\n    n: int = 0\n"
    )
    fixed = _compat.patch_source(source)
    assert "    x: ByteEncoder = field(default_factory=ByteEncoder)" in fixed
    assert "from dataclasses import field, dataclass, InitVar" in fixed and "    n: int = 0" in fixed
    assert fixed.count("\n") == source.count("\n")
    assert _compat.patch_source(fixed) == fixed


def test_train_on_the_loihi_substrate_takes_the_float64_it_needs() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 4)), rng.integers(0, 3, size=12)
    net = Network.mlp([4, 5, 3], activation="tanh", loss="cross_entropy", seed=1)
    sub = calibrate(net, x, y)[0]
    assert train(net.copy(), (x, y), epochs=1, batch_size=6, substrate=sub).dtype == "float64"
    assert train(net.copy(), (x, y), epochs=1, batch_size=6).dtype == "float32"
    with pytest.raises(ConfigError, match=r"dtype: the .* substrate computes in float64, got dtype='float32'"):
        train(net.copy(), (x, y), epochs=1, batch_size=6, substrate=sub, dtype="float32")
