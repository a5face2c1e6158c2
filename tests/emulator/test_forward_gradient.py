"""T8: the projected forward-gradient estimator against its closed forms, by seeded Monte Carlo."""

from __future__ import annotations

from math import sqrt

import numpy as np
import pytest

from tests.conftest import make_batch
from wavetrain import Network
from wavetrain.emulator.forward_gradient import ForwardGradient, estimate, expected_abs_cos, guess_basis
from wavetrain.emulator.train import backprop
from wavetrain.errors import ConfigError

N, K, DRAWS = 128, 10, 20000


@pytest.fixture(scope="module")
def draws():
    rng = np.random.default_rng(2024)
    W, g = rng.normal(size=(40, N)), rng.normal(size=N)
    basis, _ = guess_basis(W, "wperp", K, rng)
    _, _, vt = np.linalg.svd(W)
    projector = vt[:K].T @ vt[:K]  # independent: the projector from numpy's full SVD
    u = rng.standard_normal((DRAWS, K)) @ basis.T
    return g, projector @ g, (u @ g)[:, None] * u


def test_mean_is_the_projected_gradient(draws) -> None:
    g, pg, ghat = draws
    # NOTE: |mean - P g|^2 has expectation (k + 1) |P g|^2 / N; 3 standard errors fail with probability < 1e-3
    assert np.linalg.norm(ghat.mean(axis=0) - pg) < 3 * sqrt((K + 1) / DRAWS) * np.linalg.norm(pg)


def test_second_moment_is_k_plus_2(draws) -> None:
    _, pg, ghat = draws
    ratio = (ghat * ghat).sum(axis=1) / (pg @ pg)
    assert abs(ratio.mean() - (K + 2)) < 4 * ratio.std() / sqrt(DRAWS)


def test_expected_abs_cos_matches_closed_form(draws) -> None:
    g, pg, ghat = draws
    cos = np.abs(ghat @ g) / (np.linalg.norm(ghat, axis=1) * np.linalg.norm(g))
    predicted = expected_abs_cos(K, np.linalg.norm(pg) / np.linalg.norm(g))
    assert abs(cos.mean() - predicted) < 4 * cos.std() / sqrt(DRAWS)


def test_isotropic_cos_is_sqrt_2_over_pi_n() -> None:
    rng = np.random.default_rng(7)
    g, u = rng.normal(size=256), rng.standard_normal((DRAWS, 256))
    cos = np.abs(u @ g) / (np.linalg.norm(u, axis=1) * np.linalg.norm(g))
    assert abs(cos.mean() - sqrt(2 / (np.pi * 256))) < 4 * cos.std() / sqrt(DRAWS) + 1e-3


def test_estimate_is_unbiased_for_isotropic_guesses() -> None:
    net = Network.mlp([4, 5, 3], loss="mse", seed=1)
    x, y = make_batch(net, 3, seed=1)
    t = net.targets(y)
    rng = np.random.default_rng(0)
    mean = sum(estimate(net.machine(), x, t, "isotropic", None, rng)[0]["1"][0] for _ in range(20000)) / 20000
    exact = backprop(net.machine(), x, t)[0]["1"][0]
    assert np.abs(mean - exact).max() < 0.05 * np.abs(exact).max()


def test_newton_schulz_basis_is_orthonormal() -> None:
    rng = np.random.default_rng(3)
    basis, _ = guess_basis(rng.normal(size=(30, 50)), "wperp_ns", 5, rng)
    np.testing.assert_allclose(basis.T @ basis, np.eye(5), atol=1e-6)


def test_k_larger_than_the_width_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"1 <= k <= width = 8, got k = 9"):
        guess_basis(np.ones((4, 8)), "wperp", 9, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="family must be one of"):
        ForwardGradient("gaussian")
