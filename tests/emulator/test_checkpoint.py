"""Training checkpoints: resuming equals the uninterrupted run bit for bit; state of ports and methods round-trips;
interruption writes a checkpoint; divergence restores the last finite state; bad checkpoints are refused."""

from __future__ import annotations

import io
import json
import os
import signal
import zipfile

import numpy as np
import pytest

from wavetrain import Network, train
from wavetrain.emulator import HeavyBall, InductorPort, Mpc
from wavetrain.emulator import checkpoint as ckpt
from wavetrain.emulator.train import Wave
from wavetrain.errors import ConfigError, ModelFileError, NetworkError, TrainingInterrupted


@pytest.fixture(scope="module")
def small(digits):
    return digits.x_train[:160], digits.y_train[:160], digits.x_test[:40], digits.y_test[:40]


def fresh() -> Network:
    return Network.mlp([64, 12, 10], loss="cross_entropy", seed=0)


def same_weights(a: Network, b: Network) -> bool:
    pairs = zip(a.layers, b.layers)
    return all(np.array_equal(x.weight, y.weight) and np.array_equal(x.bias, y.bias) for x, y in pairs)


CASES = [
    ("dyadic", {}),
    ("dyadic", {"schedule": "ticks"}),
    ("backprop", {"momentum": 0.5}),
    ("wave", {"hold": 3}),
    ("pipelined+stash", {}),
    ("pipelined", {}),
    ("mpc", {}),
    ("forward", {}),
    ("ocnopt", {"momentum": 0}),
    ("curvature", {"momentum": 0}),
]


@pytest.mark.parametrize("method, options", CASES, ids=[f"{m}{o}" for m, o in CASES])
def test_two_plus_two_epochs_equal_four_bit_for_bit(tmp_path, small, method, options):
    whole = fresh()
    reference = train(whole, small, method=method, epochs=4, seed=3, **options)
    path = tmp_path / "run.ckpt.npz"
    train(fresh(), small, method=method, epochs=2, seed=3, checkpoint=path, **options)
    resumed_net = fresh()
    resumed = train(resumed_net, small, method=method, epochs=4, seed=3, resume=path, **options)
    assert same_weights(whole, resumed_net)
    assert resumed.loss == reference.loss and resumed.test_accuracy == reference.test_accuracy
    assert Network.load(path).sizes == [64, 12, 10], "a checkpoint is also a network file"


def test_port_velocity_round_trips_and_matters(tmp_path, small):
    path = tmp_path / "c.npz"
    net = fresh()
    train(net, small, method=Mpc(h=1), port=InductorPort(m=20.0, r=2.0), epochs=2, seed=1, checkpoint=path)
    _, header, arrays = ckpt.read(path)
    port = ckpt.decode(header["state"]["$dict"]["port"], arrays)
    assert isinstance(port, HeavyBall) and port.m == 20.0
    assert all(np.any(vW != 0) for vW, _ in port.velocity.values()), "the inductor carries momentum at the checkpoint"
    whole = fresh()
    train(whole, small, method=Mpc(h=1), port=InductorPort(m=20.0, r=2.0), epochs=3, seed=1)
    resumed = fresh()
    train(resumed, small, method=Mpc(h=1), port=InductorPort(m=20.0, r=2.0), epochs=3, seed=1, resume=path)
    assert same_weights(whole, resumed)
    # the same resume with the velocity dropped lands elsewhere: the round trip is what makes the runs equal
    port.velocity = None
    state = ckpt.decode(header["state"], arrays)
    state["port"] = port
    ckpt.write(
        tmp_path / "novel.npz",
        Network.load(path),
        {k: header[k] for k in ("settings", "data", "epoch", "position", "wall_time")},
        state,
    )
    dropped = fresh()
    train(
        dropped,
        small,
        method=Mpc(h=1),
        port=InductorPort(m=20.0, r=2.0),
        epochs=3,
        seed=1,
        resume=tmp_path / "novel.npz",
    )
    assert not same_weights(whole, dropped)


def test_sigint_mid_epoch_writes_a_checkpoint_and_resume_is_exact(tmp_path, small, monkeypatch):
    whole = fresh()
    reference = train(whole, small, method="wave", hold=3, epochs=3, seed=5)
    calls = []
    original = Wave.step

    def step(self, *args):
        calls.append(1)
        if len(calls) == 7:  # minibatch 2 of epoch 2 (5 minibatches per epoch)
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(Wave, "step", step)
    path = tmp_path / "c.npz"
    with pytest.raises(
        TrainingInterrupted,
        match=r"SIGINT in epoch 2 after minibatch 2; checkpoint written to .*"
        r"resume with train\(\.\.\., resume=",
    ):
        train(fresh(), small, method="wave", hold=3, epochs=3, seed=5, checkpoint=path, checkpoint_every=10)
    monkeypatch.setattr(Wave, "step", original)
    _, header, _ = ckpt.read(path)
    assert (header["epoch"], header["position"]) == (1, 2)
    resumed_net = fresh()
    resumed = train(resumed_net, small, method="wave", hold=3, epochs=3, seed=5, resume=path)
    assert same_weights(whole, resumed_net) and resumed.loss == reference.loss
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"], "no temp or lock file left"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler is restored"


def test_resume_refuses_other_settings_data_or_network(tmp_path, small):
    path = tmp_path / "c.npz"
    train(fresh(), small, method="dyadic", epochs=2, seed=3, checkpoint=path)
    with pytest.raises(ConfigError, match=r"resume .*: lr is 0.1, expected 0.05 as in the checkpoint"):
        train(fresh(), small, epochs=4, seed=3, lr=0.1, resume=path)
    with pytest.raises(ConfigError, match=r"training data differ"):
        train(fresh(), (small[0][::-1], small[1][::-1]), epochs=4, seed=3, resume=path)
    with pytest.raises(ConfigError, match=r"the network is 64-13-10 \(cross_entropy\), expected 64-12-10"):
        train(Network.mlp([64, 13, 10], loss="cross_entropy"), small, epochs=4, seed=3, resume=path)
    with pytest.raises(ConfigError, match=r"epochs is 1, expected at least the 2 epochs"):
        train(fresh(), small, epochs=1, seed=3, resume=path)


def test_hostile_checkpoints_are_refused(tmp_path, small):
    path = tmp_path / "c.npz"
    train(fresh(), small, epochs=1, seed=3, checkpoint=path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    body = json.loads(members["checkpoint.json"])

    def variant(name, **changes):
        out = tmp_path / name
        with zipfile.ZipFile(out, "w") as archive:
            for key, data in {**members, **changes}.items():
                archive.writestr(key, data)
        return out

    evil = dict(body, state={"$dict": dict(body["state"]["$dict"], port={"$dataclass": "os:system", "fields": {}})})
    with pytest.raises(ModelFileError, match=r"class 'os:system', expected a dataclass of wavetrain"):
        train(fresh(), small, epochs=2, seed=3, resume=variant("evil.npz", **{"checkpoint.json": json.dumps(evil)}))
    with pytest.raises(ModelFileError, match=r"checkpoint version 9 is not supported"):
        train(
            fresh(),
            small,
            epochs=2,
            seed=3,
            resume=variant("v9.npz", **{"checkpoint.json": json.dumps(dict(body, version=9))}),
        )
    with pytest.raises(ModelFileError, match=r"not a training checkpoint"):
        train(fresh(), small, epochs=2, seed=3, resume=fresh().save(tmp_path / "plain.npz"))
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2000000000000,), }"
    header += b" " * (127 - len(header)) + b"\n"
    with pytest.raises(ModelFileError, match=r"header declares shape \(2000000000000,\).*expected at most"):
        train(fresh(), small, epochs=2, seed=3, resume=variant("huge.npz", **{"state/0.npy": header}))


def test_divergence_restores_the_last_finite_state_and_save_refuses_nan(small, tmp_path):
    """float64 trains the network's own arrays: the restored state is the initial one exactly (float32 would
    restore the float32 copy of it)."""
    net = Network.mlp([64, 12, 10], activation="identity", loss="mse", seed=0)
    before = net.copy()
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(
            ConfigError, match=r"diverged in epoch 1: minibatch \d+ has loss (inf|nan).*restored to its last finite"
        ),
    ):
        train(net, small, method="backprop", epochs=3, lr=1e5, momentum=0.9, dtype="float64")
    assert same_weights(net, before)
    net.save(tmp_path / "ok.npz")
    net.layers[0].weight[0, 0] = np.nan  # in-place, past the assignment check
    with pytest.raises(NetworkError, match=r"save: layer 0 weight has nan at index \(0, 0\), expected finite"):
        net.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_a_second_writer_of_one_checkpoint_is_refused(tmp_path, small):
    from wavetrain.files import writer_lock

    path = tmp_path / "c.npz"
    script = (
        f"from wavetrain.files import writer_lock\nimport time\nwith writer_lock({str(path)!r}):\n"
        "    print('locked', flush=True)\n    time.sleep(30)\n"
    )
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=r"checkpoint .*c.npz: another wavetrain process \(pid \d+\) is writing"):
            train(fresh(), small, epochs=1, checkpoint=path)
    finally:
        holder.kill()
        holder.wait()
    train(fresh(), small, epochs=1, checkpoint=path)  # the dead holder's lock is released by the kernel
    with writer_lock(path):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


def test_a_loihi_substrate_run_resumes_bit_for_bit(tmp_path, small):
    import copy

    from wavetrain.emulator.loihi import calibrate

    substrate, _ = calibrate(fresh(), small[0][:32], small[1][:32])
    whole = fresh()
    train(whole, small, epochs=3, seed=3, substrate=copy.deepcopy(substrate))
    path = tmp_path / "c.npz"
    train(fresh(), small, epochs=1, seed=3, substrate=copy.deepcopy(substrate), checkpoint=path)
    resumed = fresh()
    train(resumed, small, epochs=3, seed=3, substrate=copy.deepcopy(substrate), resume=path)
    assert same_weights(whole, resumed)
    with pytest.raises(ConfigError, match=r"substrate is 'Substrate', expected 'LoihiFixedPoint'"):
        train(fresh(), small, epochs=3, seed=3, resume=path, dtype=_checkpoint_dtype(path))


def _checkpoint_dtype(path):
    _, header, _ = ckpt.read(path)
    return header["settings"]["dtype"]


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _variant(tmp_path, members, name, **changes):
    out = tmp_path / name
    with zipfile.ZipFile(out, "w") as archive:
        for key, data in {**members, **changes}.items():
            archive.writestr(key, data)
    return out


def test_checkpoint_fields_are_validated_against_the_run_before_any_work(tmp_path, small):
    """Issue 23 point 9: an epoch of -1 was accepted (a 4-epoch run then ended with 7 history entries), and a
    history that does not match the epochs done was carried into the result."""
    path = tmp_path / "c.npz"
    train(fresh(), small, epochs=2, seed=3, checkpoint=path)
    members = _members(path)
    body = json.loads(members["checkpoint.json"])
    minus = _variant(tmp_path, members, "minus.npz", **{"checkpoint.json": json.dumps(dict(body, epoch=-1))})
    with pytest.raises(ModelFileError, match=r"checkpoint\.json field 'epoch' is -1, expected >= 0"):
        train(fresh(), small, epochs=4, seed=3, resume=minus)
    fewer = _variant(tmp_path, members, "fewer.npz", **{"checkpoint.json": json.dumps(dict(body, epoch=1))})
    with pytest.raises(ModelFileError, match=r"checkpoint history 'loss' has 2 entries, expected 1 \(one per epoch"):
        train(fresh(), small, epochs=4, seed=3, resume=fewer)


def test_a_checkpoint_holding_nan_is_refused_not_restored(tmp_path, small):
    """Issue 23 point 9: NaN in the saved state was accepted; the run then said it restored the last finite state
    while the network held NaN."""
    path = tmp_path / "c.npz"
    train(fresh(), small, epochs=1, seed=3, checkpoint=path)
    members = _members(path)
    floats = [key for key in sorted(members) if key.startswith("state/")]
    name = next(key for key in floats if np.load(io.BytesIO(members[key])).dtype.kind == "f")
    array = np.load(io.BytesIO(members[name]))
    array.flat[0] = np.nan
    buffer = io.BytesIO()
    np.save(buffer, array)
    bad = _variant(tmp_path, members, "nan.npz", **{name: buffer.getvalue()})
    net = fresh()
    with pytest.raises(ModelFileError, match=r"holds nan at \(0(, 0)?,?\), expected finite numbers"):
        train(net, small, epochs=2, seed=3, resume=bad)
    assert same_weights(net, fresh()), "nothing was restored into the network"


def _chips_equal(a, b) -> None:
    """Two chip runs hold the same chips: weights, devices, lines, generator, fidelity, per-chip accuracies."""
    for (Wa, ba), (Wb, bb) in zip(a.chip.params.values(), b.chip.params.values()):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb) and Wa.dtype == Wb.dtype
    for key in ("bound", "dw_scale", "stuck", "nu_drift"):
        for n, value in getattr(a.substrate, key).items():
            other = getattr(b.substrate, key)[n]
            assert (value is None and other is None) or np.array_equal(value, other), (key, n)
    assert a.substrate.rng.bit_generator.state == b.substrate.rng.bit_generator.state
    assert a.state.step == b.state.step and a.chip_test_accuracy == b.chip_test_accuracy
    assert a.fidelity.cosine == b.fidelity.cosine


@pytest.mark.parametrize("hardware, chips", [("pcm", 3), ("reram", None)])
def test_chips_resume_bit_for_bit(tmp_path, small, hardware, chips, monkeypatch):
    from wavetrain.emulator.train import Dyadic

    options = {"hardware": hardware, "chips": chips, "seed": 4, "fidelity_every": 3, "lr": 0.05}
    whole = fresh()
    reference = train(whole, small, epochs=3, **options)
    path = tmp_path / "chips.npz"
    train(fresh(), small, epochs=1, checkpoint=path, **options)
    _, header, _ = ckpt.read(path)
    assert header["settings"]["hardware"]["name"] == hardware and header["settings"]["chips"] == chips
    calls, original = [], Dyadic.step

    def step(self, *args):  # NOTE: stop mid-epoch 2 after its 2nd of 5 minibatches (the resume's probe is call 1)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(Dyadic, "step", step)
    with pytest.raises(TrainingInterrupted, match="SIGINT in epoch 2 after minibatch 2"):
        train(fresh(), small, epochs=3, resume=path, checkpoint=path, checkpoint_every=10, **options)
    monkeypatch.setattr(Dyadic, "step", original)
    resumed_net = fresh()
    resumed = train(resumed_net, small, epochs=3, resume=path, **options)
    assert same_weights(whole, resumed_net)
    assert resumed.loss == reference.loss and resumed.test_accuracy == reference.test_accuracy
    assert resumed.train_accuracy == reference.train_accuracy
    assert resumed.chip_test_accuracy == reference.chip_test_accuracy
    assert resumed.fidelity.to_dict() == reference.fidelity.to_dict()
    _chips_equal(reference.chip_run, resumed.chip_run)
    assert Network.load(path).sizes == [64, 12, 10], "the network members hold chip 0"
    with pytest.raises(ConfigError, match=r"resume .*: hardware is .*, expected .*'name': '" + hardware):
        train(fresh(), small, epochs=3, resume=path, **{**options, "hardware": "ecram"})
    with pytest.raises(ConfigError, match=r"resume .*: chips is 2, expected"):
        train(fresh(), small, epochs=3, resume=path, **{**options, "chips": 2})
    with pytest.raises(ConfigError, match=r"resume .*: hardware is None"):
        train(fresh(), small, epochs=3, resume=path, seed=4, lr=0.05)
