"""`wavetrain train` killed (SIGKILL) or interrupted (SIGINT, SIGTERM) at random points, then resumed with
`--resume`, ends with the same weights as the uninterrupted run, bit for bit, and leaves no temp or lock file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from wavetrain.cli import main

ARGS = [
    "train",
    "--layers",
    "64,24,10",
    "--method",
    "wave",
    "--hold",
    "3",
    "--epochs",
    "16",
    "--seed",
    "4",
    "--batch-size",
    "16",
    "--json",
]


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files if key.startswith("layer")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    result = CliRunner().invoke(main, [*ARGS, "--save", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return arrays(out)


def start(folder: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wavetrain",
            *ARGS,
            "--save",
            "out.npz",
            "--checkpoint",
            "ck.npz",
            "--checkpoint-every",
            "1",
            *extra,
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


# NOTE: derandomized: the kill points come from a fixed seed; each case kills after the first checkpoint exists
# (so there is something to resume) plus a random delay, which lands mid-epoch or mid-write
@pytest.mark.parametrize(
    "sig, seed", [(signal.SIGKILL, 0), (signal.SIGINT, 2), (signal.SIGINT, 3), (signal.SIGTERM, 4)]
)
def test_killed_or_interrupted_train_resumes_bit_for_bit(tmp_path, reference, sig, seed):
    delay = random.Random(seed).uniform(0.0, 0.3)
    process = start(tmp_path)
    wait_for(tmp_path / "ck.npz", process)
    time.sleep(delay)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    # NOTE: a run that printed its result had finished; a signal during interpreter shutdown (SIG_DFL again) may
    # still kill it, but the saved network is complete and must match
    finished = '"test_accuracy_final"' in out
    if not finished:
        if sig == signal.SIGKILL:
            assert process.returncode == -signal.SIGKILL
        else:
            assert process.returncode == 128 + sig, err
            assert "checkpoint written to ck.npz" in err and "wavetrain train --resume ck.npz" in err, err
            assert "Traceback" not in err
        result = subprocess.run(
            [sys.executable, "-m", "wavetrain", "train", "--resume", "ck.npz", "--save", "out.npz", "--json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    got = arrays(tmp_path / "out.npz")
    assert got.keys() == reference.keys()
    assert all(np.array_equal(got[key], reference[key]) for key in reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz", "out.npz"], "no temp or lock file is left"


def test_resume_refuses_a_changed_setting_and_train_checks_outputs_first(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, [*ARGS[:-1], "--epochs", "1", "--checkpoint", str(tmp_path / "ck.npz")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["train", "--resume", str(tmp_path / "ck.npz"), "--lr", "0.1"])
    assert result.exit_code == 1 and "lr is 0.1, expected 0.05 as in the checkpoint" in result.output
    started = time.monotonic()
    result = runner.invoke(
        main, ["train", "--epochs", "50", "--save", str(tmp_path / "no" / "such" / "x.npz"), "--plot", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--plot" in result.output and "is a directory" in result.output
    assert time.monotonic() - started < 10, "refused before training"
    (tmp_path / "x.npz").write_text("a file, not a folder")
    result = runner.invoke(main, ["train", "--epochs", "50", "--save", str(tmp_path / "x.npz" / "y.npz")])
    assert result.exit_code == 1 and "--save" in result.output and "is not a folder" in result.output
    assert time.monotonic() - started < 10, "refused before training"
    result = runner.invoke(main, ["train", "--epochs", "0", "--layers", "64,8,10"])
    assert result.exit_code == 0 and "0 epochs: nothing trained" in result.output


def test_dataset_file_names_become_valid_model_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    np.savez(tmp_path / "my-data.npz", x=x, y=(x[:, 0] > 0).astype(int))
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "train",
            "--dataset",
            str(tmp_path / "my-data.npz"),
            "--layers",
            "3,4,2",
            "--epochs",
            "1",
            "--save",
            str(tmp_path / "m.npz"),
        ],
    )
    assert result.exit_code == 0, result.output
    from wavetrain import Network

    assert Network.load(tmp_path / "m.npz").name == "my_data_mlp"
    result = runner.invoke(main, ["compile", str(tmp_path / "m.npz"), "-o", str(tmp_path / "m.cir")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main,
        ["train", "--dataset", str(tmp_path / "my-data.npz"), "--layers", "3,4,2", "--epochs", "1", "--name", "1 bad"],
    )
    assert result.exit_code == 2 and "--name" in result.output
    result = runner.invoke(
        main,
        [
            "train",
            "--dataset",
            str(tmp_path / "my-data.npz"),
            "--layers",
            "3,4,2",
            "--epochs",
            "1",
            "--name",
            "mine",
            "--save",
            str(tmp_path / "n.npz"),
        ],
    )
    assert result.exit_code == 0 and Network.load(tmp_path / "n.npz").name == "mine"
    assert not list(Path.cwd().glob(f"wavetrain-train-{os.getpid()}*")), "no implicit checkpoint unless interrupted"
