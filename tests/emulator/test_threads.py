"""The thread setting: BLAS, OpenMP and torch run on one thread by default while wavetrain trains (a second thread
spinning beside other busy processes collapsed the README's run from 0.64 s to 34.8 s), on N when asked."""

from __future__ import annotations

import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import wavetrain
from wavetrain.emulator import threads
from wavetrain.errors import ConfigError


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def _threads_during_training(monkeypatch=None, **options) -> set[int]:
    seen: set[int] = set()
    net = wavetrain.Network.mlp([8, 4, 2], seed=0)
    data = wavetrain.datasets.Dataset("tiny", *[__import__("numpy").zeros((4, 8)), [0, 1, 0, 1]] * 2, 2)
    wavetrain.train(net, data, epochs=1, callback=lambda epoch, result: seen.update(_blas_threads()), **options)
    return seen


def test_training_runs_blas_on_one_thread_by_default_and_restores_it(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    with threadpool_limits(limits=2):  # NOTE: a count train() must change and restore (a library may cap it)
        outer = _blas_threads()
        assert _threads_during_training() == {1}
        assert _threads_during_training(threads=2) == outer
        assert _threads_during_training(threads=0) == outer  # NOTE: 0 leaves the libraries' own setting
        monkeypatch.setenv(threads.ENV, "2")
        assert _threads_during_training() == outer
        assert _blas_threads() == outer


def test_torch_follows_the_setting():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with threads.limited(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_a_bad_thread_count_is_refused(bad):
    with pytest.raises(ConfigError, match="threads: expected a whole number >= 0"):
        threads.resolve(bad)


def test_a_bad_environment_value_is_refused(monkeypatch):
    monkeypatch.setenv(threads.ENV, "many")
    with pytest.raises(ConfigError, match=r"WAVETRAIN_THREADS: expected a whole number >= 0 .* got 'many'"):
        threads.resolve(None)


def test_the_command_line_sets_the_libraries_before_they_load():
    # NOTE: numpy loads after the group's option is read, so its OpenBLAS must read the count from the environment
    probe = (
        "import sys; from wavetrain.cli import main; from wavetrain.cli import train as t; "
        "t.train.callback = lambda **k: print(sorted({p['num_threads'] for p in "
        "__import__('threadpoolctl').threadpool_info() if p['user_api'] == 'blas'}), "
        "__import__('os').environ['OPENBLAS_NUM_THREADS']); main(sys.argv[1:])"
    )
    for given, expected in ((["train"], "[1] 1"), (["--threads", "2", "train"], "[2] 2")):
        done = subprocess.run([sys.executable, "-c", probe, *given], capture_output=True, text=True, env=_clean_env())
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in (threads.ENV, *threads.LIBRARY_ENV)}
