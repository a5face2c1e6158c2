"""Data sets: the digits split, user .npz files, and bad data named by sample index."""

from __future__ import annotations

import numpy as np
import pytest

from wavetrain import datasets
from wavetrain.errors import DataError


def test_digits_split_is_fixed_and_scaled(digits):
    assert (len(digits.x_train), len(digits.x_test), digits.n_features, digits.n_classes) == (1438, 359, 64, 10)
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    again = datasets.load("digits")
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    assert set(np.unique(digits.y_train)) == set(range(10))


def test_user_npz_with_and_without_test_split(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), rng.integers(0, 4, size=50)
    np.savez(tmp_path / "plain.npz", x=x, y=y)
    plain = datasets.load(tmp_path / "plain.npz")
    assert (len(plain.x_train), len(plain.x_test), plain.n_classes) == (40, 10, 4)
    np.savez(tmp_path / "split.npz", x=x, y=y, x_test=x[:5], y_test=y[:5])
    split = datasets.load(str(tmp_path / "split.npz"))
    assert (len(split.x_train), len(split.x_test)) == (50, 5)
    np.savez(tmp_path / "reg.npz", x=x, y=rng.normal(size=(50, 2)))
    reg = datasets.load(tmp_path / "reg.npz")
    assert reg.n_classes == 0 and reg.n_outputs == 2


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.ones((4, 2))}, r"missing array\(s\) \['y'\]"),
        ({"x": np.ones((4, 2)), "y": np.array([0, 1, 2])}, r"y has 3 samples, expected 4"),
        ({"x": np.array([[1.0, 2.0], [np.nan, 0.0]]), "y": np.array([0, 1])}, r"sample 1 has nan at feature 0"),
        ({"x": np.ones((3, 2)), "y": np.array([0, -1, 1])}, r"sample 1 has label -1, expected 0..1"),
        ({"x": np.ones((3, 2)), "y": np.array([0, 1.5, 1])}, r"sample 1 has label 1.5, expected an integer"),
        (
            {"x": np.ones((3, 2)), "y": np.array([0, 1, 1]), "x_test": np.ones((2, 3)), "y_test": np.array([0, 1])},
            r"x_test: samples have 3 features, expected 2",
        ),
        (
            {"x": np.ones((3, 2)), "y": np.array([0, 1, 1]), "x_test": np.ones((2, 2))},
            r"x_test and y_test must come together",
        ),
    ],
)
def test_bad_files_name_the_culprit(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        datasets.load(tmp_path / "bad.npz")


def test_unknown_name_and_unreadable_file(tmp_path):
    with pytest.raises(DataError, match=r"unknown data set 'mnist'; expected one of digits, mnist1d or a .npz path"):
        datasets.load("mnist")
    (tmp_path / "x.npz").write_text("not a zip")
    with pytest.raises(DataError, match=r"x.npz: not a readable .npz file"):
        datasets.load(tmp_path / "x.npz")


def test_mnist1d_is_built_in_and_generated_offline():
    pytest.importorskip("mnist1d")  # NOTE: the main venv has it (make setup); the numpy-2 core venv does not
    data = datasets.load("mnist1d")
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40) and data.n_classes == 10
    assert set(np.unique(data.y_train)) == set(range(10))
    again = datasets.load("mnist1d")  # NOTE: the second load reads the cache and gives the same arrays
    assert np.array_equal(again.x_train, data.x_train) and np.array_equal(again.y_test, data.y_test)
