"""The Lava target against the emulator: floating_pt tick by tick (exact at 2L, not at 2L-1), fixed_pt bit for bit
against the Loihi fixed-point substrate (relaxation and training), and the runtime never outliving a call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_batch
from tests.procs import alive, live_children
from wavetrain import Network, simulate
from wavetrain.emulator import relax, train
from wavetrain.emulator.loihi import LoihiFixedPoint, calibrate
from wavetrain.errors import ConfigError, SimulationError, TargetUnavailable
from wavetrain.targets import get_target
from wavetrain.targets.lava import _compat

pytestmark = pytest.mark.skipif(not _compat.available(), reason="lava-nc is not installed")
ROOT = Path(__file__).resolve().parents[2]

# depth 1..5: random widths, every activation, both losses
NETS = [
    ((5, 3), "tanh", "identity", "mse"),
    ((4, 6, 3), "sigmoid", "tanh", "cross_entropy"),
    ((3, 5, 4, 2), "relu", "identity", "mse"),
    ((6, 4, 7, 5, 3), "tanh", "identity", "cross_entropy"),
    ((4, 7, 6, 5, 8, 3), "tanh", "tanh", "mse"),
]
IDS = [f"L{len(c[0]) - 1}-{c[1]}-{c[3]}" for c in NETS]


def make(case, seed: int = 0) -> Network:
    sizes, act, out, loss = case
    return Network.mlp(sizes, activation=act, output_activation=out, loss=loss, seed=seed + len(sizes))


def worst(a, b) -> float:
    """Largest |a - b| over nested lists/tuples of arrays."""
    if isinstance(a, (list, tuple)):
        return max((worst(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def backprop(net: Network, x, y):
    from wavetrain.emulator.train import backprop as reference

    return list(reference(net.machine(), net.check_input(x), net.targets(y, len(x)))[0].values())


@pytest.mark.parametrize("case", NETS, ids=IDS)
def test_floating_pt_equals_the_emulator_every_tick_and_is_exact_at_2L(case) -> None:
    net = make(case)
    x, y = make_batch(net, batch=4, seed=len(case[0]))
    got = simulate(net, x, y, target="lava", history=True)
    ref = relax(net, x, y, history=True)
    assert got.target == "lava" and got.ticks == ref.ticks == 2 * net.depth
    for k in range(ref.ticks + 1):
        assert worst(got.history.s[k], ref.history.s[k]) <= 1e-12, f"s at tick {k}"
        assert worst(got.history.lam[k], ref.history.lam[k]) <= 1e-12, f"lam at tick {k}"
        assert worst(got.history.grads[k], ref.history.grads[k]) <= 1e-12, f"grads at tick {k}"
    exact = backprop(net, x, y)
    errors = [worst(g, exact) for g in got.history.grads]
    assert errors[2 * net.depth] <= 1e-12
    assert errors[2 * net.depth - 1] > 1e-6, "the readout must not be exact one timestep before 2L"


def test_floating_pt_below_courant_one_equals_the_emulator() -> None:
    net = make(NETS[2])
    x, y = make_batch(net, batch=3, seed=2)
    got = simulate(net, x, y, target="lava", courant=0.5, history=True)
    ref = relax(net, x, y, courant=0.5, history=True)
    assert got.ticks == ref.ticks == 12
    for k in range(ref.ticks + 1):
        assert worst(got.history.grads[k], ref.history.grads[k]) <= 1e-12, f"grads at tick {k}"
        assert worst(got.history.lam[k], ref.history.lam[k]) <= 1e-12, f"lam at tick {k}"


@pytest.mark.parametrize("case", NETS, ids=IDS)
def test_fixed_pt_equals_the_fixed_point_substrate_bit_for_bit_every_tick(case) -> None:
    net = make(case, seed=1)
    x, y = make_batch(net, batch=4, seed=7)
    overflow = "wrap" if case[1] == "relu" else "saturate"
    sub, report = calibrate(net, x, y, overflow=overflow)
    assert report.clipped() == 0.0
    got = simulate(net, x, y, target="lava", history=True, fixed_point=sub)
    ref = relax(net, x, y, history=True, substrate=sub)
    for k in range(ref.ticks + 1):
        assert worst(got.history.s[k], ref.history.s[k]) == 0.0, f"s at tick {k}"
        assert worst(got.history.lam[k], ref.history.lam[k]) == 0.0, f"lam at tick {k}"
        assert worst(got.history.grads[k], ref.history.grads[k]) == 0.0, f"grads at tick {k}"
    # the fixed-point gradient is close to the exact one, not equal: the substrate is really quantizing
    error = worst(got.grads, backprop(net, x, y))
    assert 0.0 < error < 0.05 * max(float(np.max(np.abs(g))) for pair in backprop(net, x, y) for g in pair)


@pytest.mark.parametrize("method, fixed", [("dyadic", False), ("dyadic", True), ("wave", False), ("wave", True)])
def test_training_on_lava_follows_the_emulator(method: str, fixed: bool) -> None:
    from wavetrain.targets.lava.training import train_on_lava

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(18, 4)), rng.integers(0, 3, size=18)
    data = (x, y, x[:6], y[:6])
    base = Network.mlp([4, 6, 5, 3], activation="tanh", loss="cross_entropy", seed=2)

    def substrate():
        return calibrate(base, x[:6], y[:6], rounding="stochastic", seed=5)[0] if fixed else None

    options = dict(method=method, epochs=2, batch_size=6, lr=0.2, momentum=0.5, seed=4)
    if method == "wave":
        options["hold"] = 4
    on_lava, on_emulator = base.copy(), base.copy()
    result = train_on_lava(on_lava, data, fixed=substrate(), **options)
    extra = {"schedule": "ticks", "dtype": "float64"} if method == "dyadic" else {"dtype": "float64"}
    sub = substrate()
    train(on_emulator, data, **options, **extra, **({"substrate": sub} if fixed else {}))
    assert len(result.test_accuracy) == 2
    moved = worst([l.weight for l in on_lava.layers], [l.weight for l in base.layers])
    assert moved > 1e-3
    tolerance = 0.0 if fixed else 1e-12
    assert worst([l.weight for l in on_lava.layers], [l.weight for l in on_emulator.layers]) <= tolerance
    assert worst([l.bias for l in on_lava.layers], [l.bias for l in on_emulator.layers]) <= tolerance


def test_a_crashing_process_raises_and_leaves_no_worker() -> None:
    import multiprocessing

    net = make(NETS[1])
    x, y = make_batch(net, batch=3)
    sub, _ = calibrate(net, x, y, overflow="raise")
    first = sub.formats["1"]  # the state format of layer 1 made far too fine: a = W s + b overflows 24 bits
    sub.formats["1"] = replace(first, a=first.a - 12, b=max(first.b, first.a - 12))
    before = set(multiprocessing.active_children())
    with pytest.raises(SimulationError, match=r"layer 1 state .* overflow the 24-bit range"):
        simulate(net, x, y, target="lava", fixed_point=sub)
    assert set(multiprocessing.active_children()) <= before


def test_a_timeout_stops_the_runtime() -> None:
    import multiprocessing

    from wavetrain.targets.lava.runner import relax_on_lava

    net = make(NETS[3])
    x, y = make_batch(net, batch=3)
    with pytest.raises(SimulationError, match="did not finish within"):
        relax_on_lava(net, x, y, ticks=200_000, timeout=0.5)
    assert not multiprocessing.active_children()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_killing_a_run_midway_leaves_no_child(how: int, tmp_path: Path) -> None:
    script = tmp_path / "long_run.py"
    script.write_text(
        textwrap.dedent("""
        import numpy as np
        from wavetrain import Network
        from wavetrain.targets.lava.training import train_on_lava
        net = Network.mlp([4, 5, 3], loss="cross_entropy", seed=0)
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(64, 4)), rng.integers(0, 3, size=64)
        def started(epoch, result):
            print("epoch", epoch, flush=True)
        if __name__ == "__main__":
            train_on_lava(net, (x, y), method="wave", epochs=100000, batch_size=8, callback=started)
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("epoch"), "the run did not start"
        children = live_children(proc.pid)
        assert children, "a running Lava network has worker processes"
        os.kill(proc.pid, how)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(children), f"Lava workers outlived the run: {sorted(alive(children))}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_lava_names_the_install_command(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("lava") else real(name, *a)
    )
    with pytest.raises(TargetUnavailable, match=r"pip install --no-deps --ignore-requires-python lava-nc==0\.10\.0"):
        get_target("lava")


def test_bad_input_is_refused_before_lava_starts() -> None:
    from wavetrain.targets.lava.training import train_on_lava

    net = make(NETS[1])
    x, y = make_batch(net, batch=3)
    sub, _ = calibrate(net, x, y)
    with pytest.raises(ConfigError, match="exponents for 2 layers, expected 4"):
        other = make(NETS[3])
        simulate(other, *make_batch(other, batch=3), target="lava", fixed_point=sub)
    with pytest.raises(ConfigError, match=r"port readout delta\^T s needs \d+ bits"):
        LoihiFixedPoint(**{**sub.describe(), "name": "loihi", "message_bits": 24}).check_exact(net.sizes, 2**12)
    with pytest.raises(ConfigError, match="method must be one of dyadic, wave"):
        train_on_lava(net, (x, y), method="backprop")
    with pytest.raises(ConfigError, match="fixed_point must be True, False or a LoihiFixedPoint"):
        get_target("lava", fixed_point="yes")
    # NOTE: Lava runs the network itself (a machine target), so circuit-only options are refused, naming why
    assert get_target("lava").kind == "machine"
    with pytest.raises(ConfigError, match="hardware= puts a chip into a circuit"):
        simulate(net, x, y, target="lava", hardware="reram")


def test_cli_deploy_and_train_on_lava(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from wavetrain.cli import main

    runner = CliRunner()
    model = tmp_path / "model.npz"
    trained = runner.invoke(
        main,
        [
            "train",
            "--layers",
            "64,12,10",
            "--epochs",
            "1",
            "--target",
            "lava",
            "--substrate",
            "loihi",
            "--save",
            str(model),
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.output.strip().splitlines()[-1])["test_accuracy_final"] > 0.5
    out = runner.invoke(main, ["deploy", str(model), "--target", "lava", "--fixed-point", "--samples", "8", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output.strip().splitlines()[-1])
    assert report["fixed_point"] and report["ticks"] == 4 and len(report["outputs"]) == 8
    assert max(report["error_vs_emulator"]) == 0.0
    assert report["saturated"] == {}
    simulated = runner.invoke(main, ["simulate", str(model), "--target", "lava", "--data", "digits", "--samples", "2"])
    assert simulated.exit_code == 0, simulated.output
    assert "on lava" in simulated.output and "<- 2L" in simulated.output
    bad = runner.invoke(main, ["deploy", str(model), "--samples", "0"])
    assert bad.exit_code == 2 and "'--samples': 0 is not in the range x>=1" in bad.output


def test_lava_imports_after_the_multiprocessing_context_is_set() -> None:
    # NOTE: a tqdm bar (any train(progress=True)) creates a multiprocessing lock, which fixes the default context;
    # lava's runtime then called set_start_method('fork') and raised "context has already been set" (seen in the demo)
    code = (
        "import multiprocessing as mp; mp.RLock()\n"
        "from wavetrain.targets.lava._compat import require_lava; require_lava()\n"
        "from wavetrain.targets.lava.procs.process import WaveLayer\n"
        "print(mp.get_start_method())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "fork"
