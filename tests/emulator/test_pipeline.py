"""The pipelined machine: matched delay lines restore the per-sample gradient exactly with frozen weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.emulator.test_ports import reference_grads
from wavetrain import Network
from wavetrain.emulator.pipeline import Pipelined, delays
from wavetrain.emulator.train import HeavyBall


class _Plain(HeavyBall):
    """A HeavyBall that declares no fused form, so Pipelined takes the generic cells path (and keeps last_grads)."""

    @property
    def fused(self) -> None:
        return None


class Frozen:
    def step(self, m, grads) -> None:  # noqa: ANN001 - a port that never moves
        return None


def stream(stash: bool, recompute: bool = True) -> list[float]:
    net = Network.mlp([3, 5, 4, 2], loss="mse", seed=9)
    rng = np.random.default_rng(9)
    xs, ts = rng.normal(size=(24, 4, 3)), rng.normal(size=(24, 4, 2))
    method, L, errors = Pipelined(stash, recompute=recompute), net.depth, []
    for k in range(24):
        method.step(net.machine(), xs[k], ts[k], Frozen())
        if k > 2 * L:
            for i, (gW, gb) in enumerate(method.last_grads.values()):
                rW, rb = reference_grads(net, xs[k - 2 * L + i], ts[k - 2 * L + i])[i]
                errors.append(max(np.abs(gW - rW).max(), np.abs(gb - rb).max()))
    return errors


@pytest.mark.parametrize("recompute", [True, False])
def test_delay_lines_match_each_sensitivity_with_its_own_activation(recompute: bool) -> None:
    assert max(stream(True, recompute)) < 1e-14


def _forward_stash_reference(history, net, xs, ts, k: int, i: int):
    """Layer i's port readout at tick k of the forward-stash machine, rebuilt from the weight history alone.

    history[t] holds (W, b) per layer during tick t. Minibatch j = k - 2L + i entered at tick j, layer l ran it
    forward at tick j + l with the weights of that tick, and layer l sent its sensitivity down at tick j + 2L - l
    with the weights of then (written here with explicit loops, apart from the library's cells)."""
    L = net.depth
    j = k - 2 * L + i
    acts = [layer.activation for layer in net.layers]
    s, pre, out = [xs[j]], [], []
    for l in range(L):
        W, b = history[j + l][l]
        a = s[-1] @ W.T + b
        pre.append(a)
        out.append(np.tanh(a) if acts[l] == "tanh" else a)
        s.append(out[-1])
    lam = (out[-1] - ts[j]) / len(xs[j])  # mse, identity output
    for l in range(L - 1, i - 1, -1):
        slope = 1.0 - out[l] ** 2 if acts[l] == "tanh" else np.ones_like(out[l])
        delta = slope * lam
        if l == i:
            return delta.T @ s[i], delta.sum(axis=0)
        lam = delta @ history[j + 2 * L - l][l][0]


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_forward_stash_reads_out_what_the_forward_wave_saw(momentum: float) -> None:
    """With moving weights, recompute=False reads sigma'(a) as the forward wave of the same minibatch computed it,
    which recompute=True does not; checked against a reference rebuilt from the recorded weights."""
    net = Network.mlp([3, 6, 5, 2], activation="tanh", output_activation="identity", loss="mse", seed=4)
    rng = np.random.default_rng(4)
    ticks = 16
    xs, ts = rng.normal(size=(ticks, 4, 3)), rng.normal(size=(ticks, 4, 2))
    gaps = {}
    for recompute in (False, True):
        live = net.copy()
        method, port = Pipelined(True, recompute=recompute), _Plain(0.2, momentum)
        history, worst = [], 0.0
        for k in range(ticks):
            history.append([(W.copy(), b.copy()) for W, b in live.params()])
            method.step(live.machine(), xs[k], ts[k], port)
            if k >= 2 * live.depth:
                for i, (gW, gb) in enumerate(method.last_grads.values()):
                    rW, rb = _forward_stash_reference(history, live, xs, ts, k, i)
                    worst = max(worst, float(np.abs(gW - rW).max()), float(np.abs(gb - rb).max()))
        gaps[recompute] = worst
    assert gaps[False] < 1e-12
    assert gaps[True] > 1e-6  # the recomputed sigma'(a) saw newer weights


def test_without_delay_lines_the_ports_mix_samples() -> None:
    assert max(stream(False)) > 1e-2


def test_delay_lengths_and_stash_size() -> None:
    net = Network.mlp([3, 5, 4, 2], seed=0)
    assert delays(3) == [6, 4, 2]
    assert Pipelined(True).stash_floats(net, 10) == (6 * 3 + 4 * 5 + 2 * 4) * 10
    assert Pipelined(True, recompute=False).stash_floats(net, 10) == (6 * (3 + 5) + 4 * (5 + 4) + 2 * (4 + 2)) * 10
    assert Pipelined(False).stash_floats(net, 10) == 0
    assert Pipelined(True, recompute=False).name == "pipelined+stash-forward"


def test_forward_stash_needs_the_delay_lines() -> None:
    from wavetrain.errors import ConfigError

    with pytest.raises(ConfigError, match="recompute=False"):
        Pipelined(False, recompute=False)
    with pytest.raises(ConfigError, match="recompute must be True or False"):
        Pipelined(True, recompute="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("stash,recompute", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_pipelined_tick_matches_the_cells(stash: bool, recompute: bool, momentum: float, threads: int) -> None:
    """The BLAS-fused, layer-parallel tick (pipeline_fused) against the cells' tick + HeavyBall, 20 ticks."""
    net = Network.mlp([6, 9, 7, 4], activation="tanh", output_activation="identity", loss="cross_entropy", seed=1)
    fast, slow = net.copy(), net.copy()
    rng = np.random.default_rng(0)
    xs, ts = rng.normal(size=(20, 5, 6)), np.eye(4)[rng.integers(0, 4, (20, 5))]
    fused_machine = Pipelined(stash=stash, threads=threads, recompute=recompute)
    cells_machine = Pipelined(stash=stash, recompute=recompute)
    fused_port, cells_port = HeavyBall(0.1, momentum), _Plain(0.1, momentum)
    for k in range(20):
        a = fused_machine.step(fast.machine(), xs[k], ts[k], fused_port)
        b = cells_machine.step(slow.machine(), xs[k], ts[k], cells_port)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert fused_machine.fused is not None and cells_machine.fused is None
    for p, q in zip(fast.layers, slow.layers):
        np.testing.assert_allclose(p.weight, q.weight, rtol=0, atol=1e-12)
        np.testing.assert_allclose(p.bias, q.bias, rtol=0, atol=1e-12)
