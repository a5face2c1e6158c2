"""A user's own data: standardisation on request, and a warning when raw inputs are far from the scale the
initialisation assumes (UCI wine, bundled with scikit-learn: 36-47 % raw, 92-94 % standardised)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import wavetrain
from wavetrain.cli import main
from wavetrain.errors import DataError, DataScaleWarning


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> Path:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    path = tmp_path_factory.mktemp("wine") / "wine.npz"
    np.savez(path, x=bunch.data, y=bunch.target)
    return path


def _train(data):
    net = wavetrain.Network.mlp([13, 128, 128, 3], loss="cross_entropy", seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = wavetrain.train(net, data, epochs=30, seed=0)
    return result.final_test_accuracy, [w for w in caught if issubclass(w.category, DataScaleWarning)]


def test_raw_measurements_warn_and_standardised_ones_train(wine):
    raw, warned = _train(wavetrain.datasets.load(wine))
    assert raw < 0.6 and len(warned) == 1
    message = str(warned[0].message)
    assert "feature 12" in message and "standardize=True" in message and "--standardize" in message
    standardised, warned = _train(wavetrain.datasets.load(wine, standardize=True))
    assert standardised > 0.9 and not warned


def test_standardisation_uses_the_training_statistics_only(wine):
    raw = wavetrain.datasets.load(wine)
    done = raw.standardized()
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    np.testing.assert_allclose(done.x_train, (raw.x_train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(done.x_test, (raw.x_test - mean) / std, rtol=1e-12)  # NOTE: not the test set's own
    np.testing.assert_allclose(done.x_train.mean(axis=0), 0, atol=1e-12)
    assert np.array_equal(done.y_train, raw.y_train) and done.sample_shape == raw.sample_shape


def test_a_constant_feature_is_centred_not_divided_by_zero():
    digits = wavetrain.datasets.load("digits", standardize=True)  # NOTE: corner pixels are 0 in every digit
    assert np.isfinite(digits.x_train).all() and np.isfinite(digits.x_test).all()
    with pytest.raises(DataError, match="standardize: expected True or False"):
        wavetrain.datasets.load("digits", standardize="yes")


def test_data_on_the_expected_scale_does_not_warn():
    for name in ("digits", "mnist1d"):
        assert wavetrain.datasets.load(name).input_scale()[0] < 10


def test_the_command_line_standardises_on_request(wine):
    done = CliRunner().invoke(main, ["train", "--dataset", str(wine), "--standardize", "--epochs", "30", "--json"])
    assert done.exit_code == 0, done.output
    assert '"test_accuracy_final": 0.9' in done.output


def test_the_readme_names_every_built_in_data_set_and_standardisation():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    data = readme[readme.index("- Data: ") :].split("\n\n", 1)[0]
    assert 'datasets.load("mnist1d")' in data and "standardize=True" in data and "--standardize" in data
