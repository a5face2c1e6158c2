"""The pipelined machine: matched delay lines restore the per-sample gradient exactly with frozen weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.emulator.test_ports import reference_grads
from wavetrain import Network
from wavetrain.emulator.pipeline import Pipelined, delays


class Frozen:
    def step(self, params, grads) -> None:  # noqa: ANN001 - a port that never moves
        return None


def stream(stash: bool) -> list[float]:
    net = Network.mlp([3, 5, 4, 2], loss="mse", seed=9)
    rng = np.random.default_rng(9)
    xs, ts = rng.normal(size=(24, 4, 3)), rng.normal(size=(24, 4, 2))
    method, L, errors = Pipelined(stash), net.depth, []
    for k in range(24):
        method.step(net.params(), net, xs[k], ts[k], Frozen())
        if k > 2 * L:
            for i, (gW, gb) in enumerate(method.last_grads):
                rW, rb = reference_grads(net, xs[k - 2 * L + i], ts[k - 2 * L + i])[i]
                errors.append(max(np.abs(gW - rW).max(), np.abs(gb - rb).max()))
    return errors


def test_delay_lines_match_each_sensitivity_with_its_own_activation() -> None:
    assert max(stream(True)) < 1e-14


def test_without_delay_lines_the_ports_mix_samples() -> None:
    assert max(stream(False)) > 1e-2


def test_delay_lengths_and_stash_size() -> None:
    net = Network.mlp([3, 5, 4, 2], seed=0)
    assert delays(3) == [6, 4, 2]
    assert Pipelined(True).stash_floats(net, 10) == (6 * 3 + 4 * 5 + 2 * 4) * 10
    assert Pipelined(False).stash_floats(net, 10) == 0


@pytest.mark.parametrize("stash", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_pipelined_tick_matches_the_cells(stash: bool, momentum: float, threads: int) -> None:
    """The BLAS-fused, layer-parallel tick (pipeline_fused) against the cells' tick + HeavyBall, 20 ticks."""
    from wavetrain.emulator.train import HeavyBall

    class PlainPort(HeavyBall):  # NOTE: a HeavyBall subclass, so Pipelined takes the generic cells path
        pass

    net = Network.mlp([6, 9, 7, 4], activation="tanh", output_activation="identity", loss="cross_entropy", seed=1)
    fast, slow = net.copy(), net.copy()
    rng = np.random.default_rng(0)
    xs, ts = rng.normal(size=(20, 5, 6)), np.eye(4)[rng.integers(0, 4, (20, 5))]
    fused_machine, cells_machine = Pipelined(stash=stash, threads=threads), Pipelined(stash=stash)
    fused_port, cells_port = HeavyBall(0.1, momentum), PlainPort(0.1, momentum)
    for k in range(20):
        a = fused_machine.step(fast.params(), fast, xs[k], ts[k], fused_port)
        b = cells_machine.step(slow.params(), slow, xs[k], ts[k], cells_port)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert fused_machine.fused is not None and cells_machine.fused is None
    for p, q in zip(fast.layers, slow.layers):
        np.testing.assert_allclose(p.weight, q.weight, rtol=0, atol=1e-12)
        np.testing.assert_allclose(p.bias, q.bias, rtol=0, atol=1e-12)
