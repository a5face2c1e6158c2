"""The substrate seam: a test-only read-noise substrate reaches every schedule, checked against backprop at the
weights the substrate reads (tests/reference.py, written apart); IDEAL keeps today's arithmetic bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from tests.reference import net_backprop
from tests.substrates import CrossbarGain, ReadNoise
from wavetrain import Network, relax, train
from wavetrain.emulator import WaveState, light_cone, tick
from wavetrain.emulator.relax import run_ticks
from wavetrain.emulator.substrate import IDEAL
from wavetrain.errors import ConfigError


def _net(loss: str = "mse", sizes=(4, 6, 5, 3)) -> Network:
    return Network.mlp(list(sizes), activation="tanh", output_activation="sigmoid", loss=loss, seed=3)


def _listed(grads):
    return list(grads.values()) if isinstance(grads, dict) else grads


def _assert_grads(got, dws, dbs, atol=1e-12) -> None:
    for (gW, gb), rW, rb in zip(_listed(got), dws, dbs, strict=True):
        np.testing.assert_allclose(gW, rW, rtol=0, atol=atol)
        np.testing.assert_allclose(gb, rb, rtol=0, atol=atol)


def _gap(a, b) -> float:
    return max(
        float(np.abs(x - y).max()) for pa, pb in zip(_listed(a), _listed(b), strict=True) for x, y in zip(pa, pb)
    )


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_light_cone_on_read_noise_is_backprop_at_the_noisy_weights(loss: str) -> None:
    net = _net(loss)
    x, y = make_batch(net, batch=6, seed=1)
    t = net.targets(y, 6)
    noise = ReadNoise(0.05)
    grads, _, per_sample = light_cone(net.machine(noise), x, t)
    dws, dbs, mean = net_backprop(noise.noisy(net), x, t)
    _assert_grads(grads, dws, dbs)
    assert abs(float(np.mean(per_sample)) - mean) < 1e-12
    ideal, _, _ = light_cone(net.machine(), x, t)
    assert _gap(grads, ideal) > 1e-4  # the substrate changed the result


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_light_cone_and_relaxation_on_crossbar_gains_match_their_closed_form(loss: str) -> None:
    net = _net(loss)
    x, y = make_batch(net, batch=5, seed=2)
    t = net.targets(y, 5)
    gain = CrossbarGain(1.1, 0.8)
    dws, dbs, mean = gain.reference(net, x, t)
    grads, _, per_sample = light_cone(net.machine(gain), x, t)
    _assert_grads(grads, dws, dbs)
    assert abs(float(np.mean(per_sample)) - mean) < 1e-12
    _assert_grads(relax(net, x, y, substrate=gain).grads, dws, dbs)
    assert _gap(grads, light_cone(net.machine(), x, t)[0]) > 1e-4


def test_relaxation_on_read_noise_reaches_the_noisy_gradient_at_tick_2l(spec_net) -> None:
    x, y = make_batch(spec_net, batch=3)
    noise = ReadNoise(0.05, seed=7)
    got = relax(spec_net, x, y, substrate=noise)
    dws, dbs, _ = net_backprop(noise.noisy(spec_net), x, spec_net.targets(y, 3))
    _assert_grads(got.grads, dws, dbs)
    assert _gap(got.grads, relax(spec_net, x, y).grads) > 1e-4
    early = run_ticks(spec_net.machine(noise), x, spec_net.targets(y, 3), 2 * spec_net.depth - 1, 1.0)
    assert _gap(early.grads, got.grads) > 1e-8  # T1 on the substrate: not one tick earlier


def test_one_tick_reads_the_substrate(spec_net) -> None:
    x, y = make_batch(spec_net, batch=3)
    t = spec_net.targets(y, 3)
    rng = np.random.default_rng(0)
    state = WaveState(
        [rng.normal(size=(3, n)) for n in spec_net.sizes[1:]], [rng.normal(size=(3, n)) for n in spec_net.sizes[1:]]
    )
    noise = ReadNoise(0.05)
    noisy_net = noise.noisy(spec_net)
    got_state, got = tick(spec_net.machine(noise), x, t, state, 0.5)
    ref_state, ref = tick(noisy_net.machine(), x, t, state, 0.5)  # ideal cells at the weights the substrate reads
    for a, b in zip([*got_state.s.values(), *got_state.lam.values()], [*ref_state.s.values(), *ref_state.lam.values()]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert _gap(got, ref) < 1e-12
    _, ideal = tick(spec_net.machine(), x, t, state, 0.5)
    assert _gap(got, ideal) > 1e-4


def test_the_machine_carries_its_substrate(spec_net) -> None:
    x, y = make_batch(spec_net, batch=3)
    t = spec_net.targets(y, 3)
    a = light_cone(spec_net.machine(IDEAL), x, t)
    c = light_cone(spec_net.machine(ReadNoise()), x, t)
    assert _gap(a[0], c[0]) > 1e-4


def test_chip_axis_broadcasts_through_every_cell() -> None:
    net = _net("cross_entropy")
    x, y = make_batch(net, batch=5, seed=2)
    t = net.targets(y, 5)
    noise = ReadNoise(0.1, chips=3)
    grads, state, _ = light_cone(net.machine(noise), x, t)
    grads = _listed(grads)
    assert grads[0][0].shape == (3, 6, 4) and state.s[net.graph.output].shape == (3, 5, 3)
    relaxed = relax(net, x, y, substrate=noise)
    for chip in range(3):
        dws, dbs, _ = net_backprop(noise.noisy(net, chip), x, t)
        _assert_grads([(gW[chip], gb[chip]) for gW, gb in grads], dws, dbs)
        _assert_grads([(gW[chip], gb[chip]) for gW, gb in relaxed.grads], dws, dbs)
    assert _gap([(grads[0][0][0], grads[0][1][0])], [(grads[0][0][1], grads[0][1][1])]) > 1e-4


@pytest.mark.parametrize("method,schedule", [("dyadic", "light_cone"), ("dyadic", "ticks")])
def test_training_on_read_noise_steps_with_the_noisy_gradient(method: str, schedule: str) -> None:
    net = _net()
    x, y = make_batch(net, batch=7, seed=4)
    noise = ReadNoise(0.05, seed=2)
    dws, dbs, _ = net_backprop(noise.noisy(net), x, y)
    expected = [(layer.weight - 0.1 * dw, layer.bias - 0.1 * db) for layer, dw, db in zip(net.layers, dws, dbs)]
    ideal = net.copy()
    train(
        net,
        (x, y),
        method=method,
        schedule=schedule,
        epochs=1,
        batch_size=7,
        lr=0.1,
        momentum=0.0,
        substrate=noise,
        dtype="float64",
    )
    train(
        ideal, (x, y), method=method, schedule=schedule, epochs=1, batch_size=7, lr=0.1, momentum=0.0, dtype="float64"
    )
    for layer, (W, b) in zip(net.layers, expected):
        np.testing.assert_allclose(layer.weight, W, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.bias, b, rtol=0, atol=1e-12)
    assert max(float(np.abs(a.weight - b.weight).max()) for a, b in zip(net.layers, ideal.layers)) > 1e-5


@pytest.mark.parametrize("substrate", [ReadNoise(0.05), CrossbarGain(1.1, 0.8)], ids=["weight", "crossbar"])
def test_every_training_method_changes_on_the_substrate(substrate) -> None:
    from wavetrain.emulator.train import METHODS

    wide = (4, 12, 12, 3)  # NOTE: the forward-gradient default guesses k = 10 directions per hidden layer
    x, y = make_batch(_net(sizes=wide), batch=8, seed=5)
    for method in METHODS:
        if method == "backprop":
            with pytest.raises(ConfigError, match="reference"):
                train(_net(sizes=wide), (x, y), method=method, epochs=1, batch_size=4, substrate=ReadNoise())
            continue
        momentum = 0.0 if method in ("ocnopt", "curvature") else 0.9
        a, b = _net(sizes=wide), _net(sizes=wide)
        train(a, (x, y), method=method, epochs=2, batch_size=4, momentum=momentum, substrate=substrate)
        train(b, (x, y), method=method, epochs=2, batch_size=4, momentum=momentum)
        gap = max(float(np.abs(p.weight - q.weight).max()) for p, q in zip(a.layers, b.layers))
        assert gap > 1e-6, method


def test_train_refuses_a_substrate_that_is_not_one() -> None:
    x, y = make_batch(_net(), batch=4)
    with pytest.raises(ConfigError, match="substrate"):
        train(_net(), (x, y), epochs=1, substrate="ideal")


def test_port_updates_go_through_the_substrate_write() -> None:
    from tests.substrates import WriteGain

    net = _net()
    x, y = make_batch(net, batch=7, seed=4)
    dws, dbs, _ = net_backprop(net, x, y)
    expected = [
        (layer.weight - 1.25 * 0.1 * dw, layer.bias - 1.25 * 0.1 * db) for layer, dw, db in zip(net.layers, dws, dbs)
    ]
    train(
        net,
        (x, y),
        method="dyadic",
        epochs=1,
        batch_size=7,
        lr=0.1,
        momentum=0.0,
        substrate=WriteGain(1.25),
        dtype="float64",
    )
    for layer, (W, b) in zip(net.layers, expected):
        np.testing.assert_allclose(layer.weight, W, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.bias, b, rtol=0, atol=1e-12)


def test_energy_ledger_and_junction_run_on_the_substrate(spec_net) -> None:
    from wavetrain.emulator.energy import junction_effort, unlocked_energy
    from wavetrain.emulator.ports import ResistorPort

    x, y = make_batch(spec_net, batch=3)
    noise = ReadNoise(0.05)
    ideal = unlocked_energy(spec_net.copy(), x, y, 6, ResistorPort(0.05, record=True))
    noisy = unlocked_energy(spec_net.copy(), x, y, 6, ResistorPort(0.05, record=True), substrate=noise)
    assert np.max(np.abs(noisy.loss - ideal.loss)) > 1e-6
    layer = spec_net.layers[0]
    p = np.random.default_rng(1).normal(size=(3, layer.out_features))
    got = junction_effort(layer, x, p, substrate=noise)
    want = junction_effort(noise.noisy(spec_net).layers[0], x, p)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
