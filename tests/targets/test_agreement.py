"""Cross-target agreement: ngspice and the numpy target reproduce the emulator tick by tick (T1, T2, T6)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import make_batch
from wavetrain import simulate
from wavetrain.circuits import Source, Transient
from wavetrain.compiler import Network, compile_network
from wavetrain.emulator import light_cone, relax
from wavetrain.targets import get_target, target_names

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
# NOTE: every registered circuit target (spice needs ngspice); lava and loihi2 run the network itself, not the circuit's
# elements, and each has its own tests (tests/targets/test_lava.py, test_loihi2_lava.py)
TARGETS = [
    pytest.param(name, marks=needs_ngspice) if name == "spice" else name
    for name in target_names()
    if name not in ("lava", "loihi2")
]
RTOL = 1e-5  # relative to the largest entry of each reference array; ngspice runs with reltol 1e-6

CASES = [
    ((4, 6, 3), "tanh", "mse"),
    ((4, 6, 3), "sigmoid", "cross_entropy"),
    ((8, 16, 16, 4), "tanh", "cross_entropy"),
    ((8, 16, 16, 4), "sigmoid", "mse"),
]


def close(got: np.ndarray, want: np.ndarray) -> float:
    """Largest error relative to the largest reference entry."""
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-12))


def exact(net: Network, x, y):
    return list(light_cone(net.machine(), net.check_input(x), net.targets(y, len(x)))[0].values())


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    "sizes, activation, loss", CASES, ids=["-".join(map(str, c[0])) + f"-{c[1]}-{c[2]}" for c in CASES]
)
def test_every_tick_matches_the_emulator(target: str, sizes, activation: str, loss: str) -> None:
    net = Network.mlp(sizes, activation=activation, output_activation=activation, loss=loss, seed=len(sizes))
    x, y = make_batch(net, batch=3, seed=1)
    ref = relax(net, x, y, history=True)
    got = simulate(net, x, y, target=target, history=True)
    assert got.target == target and got.ticks == ref.ticks == 2 * net.depth
    worst = 0.0
    for k in range(ref.ticks + 1):
        for l in range(net.depth):
            worst = max(worst, close(got.history.s[k][l], ref.history.s[k][l]) if np.any(ref.history.s[k][l]) else 0.0)
            if np.any(ref.history.lam[k][l]):
                worst = max(worst, close(got.history.lam[k][l], ref.history.lam[k][l]))
            for a, b in zip(got.history.grads[k][l], ref.history.grads[k][l]):
                if np.any(b):
                    worst = max(worst, close(a, b))
    assert worst < RTOL, f"{target}: worst relative error {worst:.2e}"
    # T1: the exact backprop gradient appears at tick 2L, and not one tick earlier
    truth = exact(net, x, y)
    errors = got.error_by_tick(truth)
    scale = max(float(np.max(np.abs(g))) for pair in truth for g in pair)
    assert errors[2 * net.depth] < RTOL * scale
    assert errors[2 * net.depth - 1] > 1e-3 * scale


@pytest.mark.parametrize("target", TARGETS)
def test_courant_half_matches_the_emulator(target: str) -> None:
    net = Network.mlp([4, 6, 3], activation="tanh", output_activation="tanh", seed=2)
    x, y = make_batch(net, batch=2, seed=3)
    ref = relax(net, x, y, courant=0.5)
    got = simulate(net, x, y, target=target, courant=0.5)
    assert got.ticks == ref.ticks == 8
    for (a, b), (c, d) in zip(got.grads, ref.grads):
        assert close(a, c) < RTOL and close(b, d) < RTOL


@pytest.mark.parametrize("target", TARGETS)
def test_light_cone_of_an_input_step(target: str) -> None:
    """T6, input side: x switched on at tick n0 reaches s_l first at tick n0 + l, and lam_l at n0 + l + 1
    (one tick on to junction l+1, whose Jacobian J_{l+1}(s_l) sends it one tick back), never sooner."""
    net = Network.mlp([3, 5, 4, 2], activation="tanh", output_activation="tanh", seed=5)
    net.layers[1].bias = np.full(4, 0.3)
    x, y = make_batch(net, batch=1, seed=4)
    n0, depth, tick = 2, net.depth, 1e-9
    base = compile_network(net, x=x, y=y, tick=tick)

    def run(values: np.ndarray):
        elements = tuple(
            replace(e, values=values, start=n0 * tick) if isinstance(e, Source) else e for e in base.elements
        )
        samples = (np.arange(n0 + 2 * depth + 3) + 0.5) * tick
        return get_target(target).run(replace(base, elements=elements), Transient(stop=samples[-1] + tick), samples)

    on, off = run(np.asarray(x, dtype=float)), run(np.zeros_like(x, dtype=float))
    for l in range(1, depth + 1):
        for name, first in ((f"s{l}r", n0 + l), (f"lam{l}r", n0 + l + 1)):
            changed = np.max(np.abs(on[name] - off[name]), axis=(1, 2)) > 1e-9
            assert np.argmax(changed) == first and changed[first:].all(), (
                f"{name} first changes at {np.argmax(changed)}"
            )


@needs_ngspice
def test_cross_entropy_load_takes_logits_beyond_exp_range() -> None:
    """The loss load's softmax subtracts the max: ngspice's exp saturates at 1e99 above 228, the emulator does not."""
    net = Network.mlp([4, 6, 3], output_activation="identity", loss="cross_entropy", seed=2)
    net.layers[-1].bias = np.array([300.0, 299.0, 0.0])
    x, y = make_batch(net, batch=2, seed=3)
    got, ref = simulate(net, x, y, target="spice"), relax(net, x, y)
    for pair_got, pair_ref in zip(got.grads, ref.grads):
        for a, b in zip(pair_got, pair_ref):
            assert close(a, b) < RTOL
