"""Budgets before work and the validation layer: each case of issue 13's classes is refused with the estimate or
the expected value, before anything is allocated or run."""

from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest

import wavetrain
from wavetrain import Network
from wavetrain.errors import BudgetError, ConfigError, DataError, ModelFileError, NetworkError


@pytest.fixture(autouse=True)
def one_gigabyte(monkeypatch):
    monkeypatch.setenv("WAVETRAIN_MEMORY_LIMIT", "1G")


def test_a_network_too_large_is_refused_with_its_estimate_before_allocating():
    started = time.perf_counter()
    with pytest.raises(
        BudgetError,
        match=r"mlp\(\[1000, 1000000, 3\]\): needs about 7.5 GiB, expected at most the "
        r"memory limit 1.0 GiB",
    ):
        Network.mlp([1000, 1000000, 3])
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ticks": 10**12}, r"ticks: expected at most 10,000,000, got 1,000,000,000,000"),
        ({"courant": 1e-300}, r"courant: 1e-300 needs about 2L / courant = 4e\+300 ticks"),
        ({"courant": 5e-324}, r"courant: 5e-324 needs about 2L / courant = inf ticks"),
        ({"ticks": 10**6, "history": True}, r"history=True over 1000000 ticks .* needs about .* GiB, expected at most"),
        ({"ticks": 2.0}, r"ticks: expected an integer >= 0, got float 2.0"),
        ({"ticks": True}, r"ticks: expected an integer >= 0, got bool True"),
        ({"courant": "0.5"}, r"courant: expected a number in \(0, 2\), got str '0.5'"),
        ({"history": 1}, r"history: expected True or False, got int 1"),
    ],
)
def test_relax_caps_and_types(kwargs, message):
    net = Network.mlp([20, 200, 3], seed=0)
    with pytest.raises(ConfigError, match=message):
        wavetrain.relax(net, np.ones((50, 20)), np.zeros((50, 3)), **kwargs)


def test_hold_is_capped_and_complex_or_string_arrays_are_refused_not_cast():
    net = Network.mlp([2, 3, 2], seed=0, loss="cross_entropy")
    x, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(BudgetError, match=r"hold: expected at most 1,000,000, got 1,000,000,000"):
        wavetrain.train(net, (x, y), method="wave", hold=10**9)
    with pytest.raises(DataError, match=r"expected real numbers \(bool, int or float\), got dtype complex128"):
        wavetrain.train(net, (x + 1j, y))
    with pytest.raises(DataError, match=r"got dtype <U3"):
        net.forward(np.array([["1.0", "2.0"]]))
    with pytest.raises(NetworkError, match=r"got dtype complex128"):
        net.layers[0].weight = net.layers[0].weight + 1j
    with pytest.raises(
        NetworkError,
        match=r"sizes must be >= 2 positive widths \(input first, integers\), got "
        r"\[2.5, 3\]",
    ):
        Network.mlp([2.5, 3])
    with pytest.raises(ConfigError, match=r"seed: expected an integer >= 0, got -1"):
        wavetrain.train(net, (x, y), seed=-1)


def huge_member(path, names):
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000000,), }"
    header += b" " * (127 - len(header)) + b"\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, header)
    return path


def test_npz_members_are_checked_by_their_headers_before_loading(tmp_path):
    started = time.perf_counter()
    with pytest.raises(
        DataError,
        match=r"x: its header declares shape \(4000000000000,\) of float64 = 29.1 TiB, "
        r"expected at most the memory limit 1.0 GiB",
    ):
        wavetrain.datasets.load(huge_member(tmp_path / "d.npz", ["x.npy", "y.npy"]))
    net_file = Network.mlp([2, 2], seed=0).save(tmp_path / "n.npz")
    with zipfile.ZipFile(net_file) as archive:
        meta = archive.read("meta.json")
    path = huge_member(tmp_path / "m.npz", ["node/1.weight.npy", "node/1.bias.npy"])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("meta.json", meta)
    with pytest.raises(ModelFileError, match=r"node/1.weight.*header declares shape \(4000000000000,\)"):
        Network.load(path)
    assert time.perf_counter() - started < 2.0
    good = np.ones((3, 2))
    with zipfile.ZipFile(tmp_path / "trunc.npz", "w") as archive:
        member = __import__("io").BytesIO()
        np.save(member, good)
        archive.writestr("x.npy", member.getvalue()[:-8])
        archive.writestr("y.npy", member.getvalue())
    with pytest.raises(DataError, match=r"inflates to \d+ bytes, expected \d+ from its header"):
        wavetrain.datasets.load(tmp_path / "trunc.npz")
