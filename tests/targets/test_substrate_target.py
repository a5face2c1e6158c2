"""The numpy circuit target runs the emulator's cells: a test substrate changes its waves exactly as the emulator's."""

from __future__ import annotations

import numpy as np

from tests.conftest import make_batch
from tests.reference import net_backprop
from tests.substrates import CrossbarGain, ReadNoise, WriteGain
from wavetrain import simulate
from wavetrain.circuits import Transient
from wavetrain.compiler import Network, compile_network
from wavetrain.emulator import relax
from wavetrain.targets import get_target


def test_numpy_target_on_read_noise_matches_the_emulator_every_tick() -> None:
    net = Network.mlp([4, 6, 5, 3], activation="tanh", output_activation="sigmoid", loss="cross_entropy", seed=5)
    x, y = make_batch(net, batch=3, seed=2)
    noise = ReadNoise(0.05, seed=3)
    ref = relax(net, x, y, history=True, substrate=noise)
    got = simulate(net, x, y, target="numpy", history=True, substrate=noise)
    for k in range(ref.ticks + 1):
        for a, b in zip(got.history.s[k] + got.history.lam[k], ref.history.s[k] + ref.history.lam[k]):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    dws, dbs, _ = net_backprop(noise.noisy(net), x, net.targets(y, 3))
    for (gW, gb), rW, rb in zip(got.grads, dws, dbs):
        np.testing.assert_allclose(gW, rW, rtol=0, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=0, atol=1e-12)
    ideal = simulate(net, x, y, target="numpy")
    assert max(float(np.abs(a - b).max()) for p, q in zip(got.grads, ideal.grads) for a, b in zip(p, q)) > 1e-4


def test_numpy_target_on_crossbar_gains_matches_the_emulator_every_tick() -> None:
    net = Network.mlp([4, 6, 5, 3], activation="tanh", output_activation="sigmoid", loss="mse", seed=5)
    x, y = make_batch(net, batch=3, seed=2)
    gain = CrossbarGain(1.1, 0.8)
    ref = relax(net, x, y, history=True, substrate=gain)
    got = simulate(net, x, y, target="numpy", history=True, substrate=gain)
    for k in range(ref.ticks + 1):
        for a, b in zip(got.history.s[k] + got.history.lam[k], ref.history.s[k] + ref.history.lam[k]):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    dws, dbs, _ = gain.reference(net, x, net.targets(y, 3))
    for (gW, gb), rW, rb in zip(got.grads, dws, dbs):
        np.testing.assert_allclose(gW, rW, rtol=0, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=0, atol=1e-12)


def test_numpy_learning_circuit_writes_through_the_substrate() -> None:
    net = Network.mlp([2, 4, 1], activation="tanh", output_activation="tanh", seed=0)
    x, y = make_batch(net, batch=4, seed=0)
    circuit = compile_network(net, x=x, y=y, learning="resistor", eta=5e7, tick=1e-9)
    analysis = Transient(stop=2e-8, step=2.5e-10)
    samples = np.array([19.5e-9])
    runs = {}
    for name, substrate in (("ideal", None), ("gain", WriteGain(1.5))):
        options = {} if substrate is None else {"substrate": substrate}
        trace = get_target("numpy", **options).run(circuit, analysis, samples, ["p1", "p2"])
        runs[name] = trace["p1.weight"][-1] - net.layers[0].weight
    # NOTE: the waves see the moved weights too, so the motion is not exactly 1.5x; it must differ and grow
    assert np.abs(runs["gain"]).sum() > 1.2 * np.abs(runs["ideal"]).sum()
