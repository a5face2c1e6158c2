"""The command line, as a user runs it: JSON results, files written, one-line errors with exit code 1."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from wavetrain import Network
from wavetrain.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_train_json_save_and_plot(tmp_path):
    result = run(
        "train",
        "--layers",
        "64,32,10",
        "--epochs",
        "3",
        "--json",
        "--save",
        tmp_path / "m.npz",
        "--plot",
        tmp_path / "curves.png",
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["method"] == "dyadic" and line["epochs"] == 3 and line["test_accuracy_final"] > 0.8
    assert Network.load(tmp_path / "m.npz").sizes == [64, 32, 10]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_train_summary_for_a_user_dataset(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    np.savez(tmp_path / "blobs.npz", x=x, y=(x[:, 0] > 0).astype(int))
    result = run("train", "--dataset", tmp_path / "blobs.npz", "--layers", "3,8,2", "--epochs", "5", "--method", "wave")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output and "wave on Dataset('blobs'" in result.output


def test_gradients_table_shows_exactness_at_2L(tmp_path):
    result = run("gradients", "--json", "--plot", tmp_path / "g.png")
    data = json.loads(result.output)
    errors = data["max_abs_error"]
    assert data["depth"] == 5 and errors[10] <= 1e-12 < errors[9]
    text = run("gradients", "--layers", "3,4,2").output
    assert "<- 2L" in text and (tmp_path / "g.png").exists()


def test_errors_are_one_line_with_exit_code_1(tmp_path):
    result = CliRunner().invoke(main, ["train", "--layers", "3,4", "--epochs", "1"])
    assert result.exit_code == 1
    assert "DataError: --dataset digits: samples of shape (64,) (64 values) do not fit the network" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["gradients", "--courant", "2"])
    assert result.exit_code == 1 and "StabilityError: courant: expected 0 < courant < 2, got 2.0" in result.output
    (tmp_path / "bad.npz").write_text("junk")
    result = CliRunner().invoke(main, ["gradients", "--model", str(tmp_path / "bad.npz")])
    assert result.exit_code == 1 and "ModelFileError" in result.output
    result = CliRunner().invoke(main, ["train", "--layers", "64,x,10"])
    assert result.exit_code == 2 and "expected comma-separated widths" in result.output
