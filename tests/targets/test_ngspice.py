"""The spice target's runners, its failures (kept netlist and log, time limit, missing tool) and the raw reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_batch
from wavetrain import simulate
from wavetrain.circuits import Transient
from wavetrain.compiler import Network, compile_network
from wavetrain.errors import ConfigError, SimulationError, TargetUnavailable, UnknownTargetError
from wavetrain.targets import TARGETS, Trace, get_target
from wavetrain.targets.rawfile import read_raw

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")


@pytest.fixture
def net() -> Network:
    return Network.mlp([4, 6, 3], activation="tanh", output_activation="tanh", seed=11)


@needs_ngspice
def test_batch_and_shared_runners_agree(net: Network) -> None:
    pytest.importorskip("PySpice")
    x, y = make_batch(net, batch=2, seed=0)
    batch = simulate(net, x, y, target="spice", runner="batch", history=True)
    shared = simulate(net, x, y, target="spice", runner="shared", history=True)
    for k in range(batch.ticks + 1):
        for a, b in zip(batch.history.s[k] + batch.history.lam[k], shared.history.s[k] + shared.history.lam[k]):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    for (a, b), (c, d) in zip(batch.grads, shared.grads, strict=True):
        np.testing.assert_allclose(a, c, atol=1e-12)
        np.testing.assert_allclose(b, d, atol=1e-12)


def test_registry_is_lazy_and_names_the_choices() -> None:
    assert {"numpy", "spice"} <= set(TARGETS)
    with pytest.raises(
        UnknownTargetError, match=r"unknown target 'lava2'; choose one of: lava, loihi2, ngspice, numpy, spice"
    ):
        get_target("lava2")
    with pytest.raises(ConfigError, match=r"runner must be 'batch' or 'shared', got 'gpu'"):
        get_target("spice", runner="gpu")


def test_missing_ngspice_says_how_to_install(monkeypatch, net: Network) -> None:
    import wavetrain.targets.ngspice as module

    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(TargetUnavailable, match=r"apt-get install ngspice"):
        simulate(net, np.ones((1, 4)), np.zeros((1, 3)), target="spice")


@needs_ngspice
def test_a_hung_run_is_stopped_and_its_netlist_kept(net: Network, tmp_path: Path) -> None:
    circuit = compile_network(net)
    target = get_target("spice", timeout=0.3, workdir=tmp_path)
    with pytest.raises(
        SimulationError, match=r"did not finish within 0.3 s and was stopped; netlist kept at (\S+)"
    ) as info:
        target.run(circuit, Transient(stop=1e-3, step=1e-12))
    kept = Path(str(info.value).split("netlist kept at ")[1].split(",")[0])
    assert kept.is_file() and ".tran" in kept.read_text()


@needs_ngspice
@pytest.mark.parametrize("runner", ["batch", "shared"])
def test_a_run_that_stops_early_keeps_its_netlist(runner: str, net: Network, tmp_path: Path, monkeypatch) -> None:
    if runner == "shared":
        pytest.importorskip("PySpice")
    import wavetrain.targets.ngspice as module

    real = module._check_complete

    def cut_short(vectors, analysis, netlist, log):  # as if ngspice gave up half way (no convergence)
        real({"time": vectors["time"][: len(vectors["time"]) // 2]}, analysis, netlist, log)

    monkeypatch.setattr(module, "_check_complete", cut_short)
    target = get_target("spice", runner=runner, workdir=tmp_path)
    with pytest.raises(SimulationError, match=r"stopped at t = .* before the end .*; netlist kept at (\S+)") as info:
        target.run(compile_network(net), Transient(stop=4e-9, step=1e-10))
    kept = Path(str(info.value).split("netlist kept at ")[1].split(",")[0])
    assert kept.is_file() and ".tran" in kept.read_text()


@needs_ngspice
def test_ngspice_errors_carry_its_message_and_the_kept_files(tmp_path: Path) -> None:
    from wavetrain.targets.ngspice import run_netlist

    bad = tmp_path / "bad.cir"
    bad.write_text(".title bad\nB1 a 0 V=nosuchfunction(V(a))\nR1 a 0 1k\n.tran 1n 10n\n.end\n")
    with pytest.raises(SimulationError, match=r"ngspice failed: .*netlist kept at .*bad.cir, log at .*bad.log"):
        run_netlist(bad)
    assert (tmp_path / "bad.log").is_file()


def test_ascii_raw_files_are_read(tmp_path: Path) -> None:
    raw = tmp_path / "a.raw"
    raw.write_text(
        "Title: t\nPlotname: Transient Analysis\nFlags: real\nNo. Variables: 2\nNo. Points: 2\n"
        "Variables:\n\t0\ttime\ttime\n\t1\tv(n0_0_x)\tvoltage\nValues:\n 0\t0.0\n\t1.5\n 1\t1e-9\n\t-2.5\n"
    )
    vectors = read_raw(raw)
    np.testing.assert_array_equal(vectors["time"], [0.0, 1e-9])
    np.testing.assert_array_equal(vectors["v(n0_0_x)"], [1.5, -2.5])


def test_trace_is_one_shared_type(net: Network) -> None:
    circuit = compile_network(net, x=np.ones((2, 4)), y=np.zeros((2, 3)))
    trace = get_target("numpy").run(circuit, Transient(stop=5e-9))
    assert isinstance(trace, Trace) and trace.t.shape == (5,)
    assert (
        trace["s2r"].shape == (5, 2, 3) and trace["p1.grad_w"].shape == (5, 6, 4) and trace["p2.grad_b"].shape == (5, 3)
    )


def time_points(net: Network, x, y, work: Path) -> int:
    """Accepted ngspice time points (rows of the raw file) of one relaxation over 2L ticks, as simulate runs it."""
    from wavetrain.circuits import to_spice
    from wavetrain.targets.ngspice import run_netlist

    circuit = compile_network(net, x=x, y=y)
    work.mkdir()
    netlist = work / "net.cir"
    analysis = Transient(stop=(2 * net.depth + 1) * circuit.tick, step=circuit.tick / 20)
    netlist.write_text(to_spice(circuit, analysis))
    return len(run_netlist(netlist)["time"])


@needs_ngspice
@pytest.mark.parametrize("scale", [5, 10])
def test_trained_weights_do_not_multiply_time_points(scale: int, tmp_path: Path) -> None:
    """Larger weights with nonzero biases (as after training) cost no more than 1.5x the time points.

    Each edge bends (en * (W x + b) ramps as r^2 W x + r b) and ngspice's T-lines set a breakpoint one delay after
    every slope turn; with its default minbreak (5e-21 s) these cascaded tick by tick: 488 -> 1043 points at x5.
    """
    net = Network.mlp([8, 16, 16, 4], loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    for layer in net.layers:
        layer.bias = rng.normal(scale=0.2, size=layer.bias.shape)
    x, y = make_batch(net, batch=1, seed=0)
    unscaled = time_points(net, x, y, tmp_path / "unscaled")
    for layer in net.layers:
        layer.weight = scale * layer.weight
    scaled = time_points(net, x, y, tmp_path / "scaled")
    assert scaled <= 1.5 * unscaled, f"x{scale} weights: {scaled} time points, unscaled {unscaled}"
