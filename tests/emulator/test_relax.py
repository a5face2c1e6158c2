"""T1-T3 of the spec: exact gradients at tick 2L, exactness times of every cell, Courant regimes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_batch
from tests.reference import net_backprop
from wavetrain import Network, relax
from wavetrain.emulator import light_cone, run_ticks
from wavetrain.errors import ConfigError, StabilityError, StabilityWarning

EXACT = 1e-12


def reference_grads(net, x, y):
    dws, dbs, _ = net_backprop(net, x, net.targets(y, len(x)))
    return list(zip(dws, dbs))


def test_t1_exact_at_2L_and_not_one_tick_earlier(spec_net):
    x, y = make_batch(spec_net, batch=6)
    reference = reference_grads(spec_net, x, y)
    depth = spec_net.depth
    assert relax(spec_net, x, y).ticks == 2 * depth
    assert relax(spec_net, x, y).gradient_error(reference) <= EXACT
    early = relax(spec_net, x, y, ticks=2 * depth - 1)
    assert early.gradient_error(reference) > 1e-3  # spec T1: 1.4e-1 on this net


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    widths=st.lists(st.integers(1, 9), min_size=2, max_size=7),
    activation=st.sampled_from(["tanh", "sigmoid", "relu", "identity"]),
    output=st.sampled_from(["tanh", "sigmoid", "identity"]),
    loss=st.sampled_from(["mse", "cross_entropy"]),
    batch=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_t1_property_exact_at_2L_for_random_networks(widths, activation, output, loss, batch, seed):
    if loss == "cross_entropy":  # NOTE: a softmax over one output is refused (its loss is 0 whatever the weights)
        widths = [*widths[:-1], max(2, widths[-1])]
    net = Network.mlp(widths, activation=activation, output_activation=output, loss=loss, seed=seed)
    for layer in net.layers:  # NOTE: nonzero biases so no cell is trivially exact by symmetry
        layer.bias = np.random.default_rng(seed).normal(size=layer.out_features)
    x, y = make_batch(net, batch=batch, seed=seed)
    reference = reference_grads(net, x, y)
    result = relax(net, x, y, history=True)
    errors = result.error_by_tick(reference)
    assert errors[2 * net.depth] <= EXACT
    assert np.all(errors[2 * net.depth :] <= EXACT)
    # the light-cone schedule computes the same tick-2L state
    grads, state, _ = light_cone(net.machine(), x, net.targets(y, batch))
    assert result.gradient_error(grads) == 0.0
    for a, b in zip([*state.s.values(), *state.lam.values()], result.s + result.lam, strict=True):
        np.testing.assert_array_equal(a, b)


def test_t1_generic_networks_are_inexact_one_tick_early():
    misses = []
    for seed in range(20):
        net = Network.mlp([5, 6, 7, 4], activation="tanh", loss="mse", seed=seed)
        x, y = make_batch(net, batch=3, seed=seed)
        reference = reference_grads(net, x, y)
        misses.append(relax(net, x, y, ticks=2 * net.depth - 1).gradient_error(reference))
    assert min(misses) > 1e-3


def test_t2_exactness_time_of_every_cell(spec_net):
    x, y = make_batch(spec_net, batch=4)
    depth = spec_net.depth
    _, exact, _ = light_cone(spec_net.machine(), x, spec_net.targets(y, 4))
    history = relax(spec_net, x, y, ticks=2 * depth + 3, history=True).history
    for l in range(1, depth + 1):
        s_err = [np.max(np.abs(h[l - 1] - exact.s[str(l)])) for h in history.s]
        lam_err = [np.max(np.abs(h[l - 1] - exact.lam[str(l)])) for h in history.lam]
        assert max(s_err[l:]) <= EXACT and s_err[l - 1] > 1e-6, f"s_{l} must be exact from tick {l}"
        first = 2 * depth + 1 - l
        assert max(lam_err[first:]) <= EXACT and lam_err[first - 1] > 1e-9, f"lam_{l} exact from tick {first}"


def _errors(net, x, y, nu, ticks):
    reference = reference_grads(net, x, y)
    run = run_ticks(net.machine(), x, net.targets(y, len(x)), ticks, nu, history=True)
    return run.error_by_tick(reference)


def test_t3_regimes(spec_net):
    x, y = make_batch(spec_net, batch=4)
    slow = _errors(spec_net, x, y, 0.5, 80)
    assert slow[20] > slow[40] > slow[60] > slow[80]  # geometric convergence, no finite-time exactness
    assert slow[60] < 1e-6 < slow[20]
    assert np.all(np.diff(np.log10(slow[40:] + 1e-300)) < 0)
    fast = _errors(spec_net, x, y, 1.9, 4000)
    assert fast.max() > 100 * fast[0]  # large non-normal transient growth ...
    assert fast[-1] < 1e-2 * fast.max()  # ... that still decays
    unstable = _errors(spec_net, x, y, 2.1, 200)
    assert unstable[-1] > 1e6 * unstable[0]  # diverges


def test_courant_validation():
    net = Network.mlp([2, 3, 1], seed=0)
    x, y = make_batch(net)
    for bad in (0.0, -1.0, 2.0, 2.5):
        with pytest.raises(StabilityError, match=rf"expected 0 < courant < 2, got {bad}"):
            relax(net, x, y, courant=bad)
    with pytest.raises(ConfigError, match="courant: expected a number"):
        relax(net, x, y, courant="fast")
    with pytest.warns(StabilityWarning, match="courant = 1.5 > 1"):
        relax(net, x, y, courant=1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        relax(net, x, y, courant=0.7)
    with pytest.raises(ConfigError, match=r"ticks: expected an integer >= 0, got -1"):
        relax(net, x, y, ticks=-1)


def test_relax_is_deterministic_and_leaves_weights_alone(spec_net):
    x, y = make_batch(spec_net)
    before = [layer.weight.copy() for layer in spec_net.layers]
    a, b = relax(spec_net, x, y, history=True), relax(spec_net, x, y, history=True)
    for ga, gb in zip(a.grads, b.grads):
        np.testing.assert_array_equal(ga[0], gb[0])
    for w, layer in zip(before, spec_net.layers):
        np.testing.assert_array_equal(w, layer.weight)
    assert len(a.history.s) == a.ticks + 1


def test_against_torch_autograd():
    torch = pytest.importorskip("torch")
    net = Network.mlp([6, 9, 7, 4], activation="sigmoid", loss="cross_entropy", seed=3)
    x, y = make_batch(net, batch=8, seed=3)
    module = torch.nn.Sequential(
        torch.nn.Linear(6, 9), torch.nn.Sigmoid(), torch.nn.Linear(9, 7), torch.nn.Sigmoid(), torch.nn.Linear(7, 4)
    ).double()
    with torch.no_grad():
        for linear, layer in zip([module[0], module[2], module[4]], net.layers):
            linear.weight.copy_(torch.from_numpy(layer.weight))
            linear.bias.copy_(torch.from_numpy(layer.bias))
    loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    grads = relax(net, x, y).grads
    for (dW, db), linear in zip(grads, [module[0], module[2], module[4]]):
        np.testing.assert_allclose(dW, linear.weight.grad.numpy(), rtol=0, atol=EXACT)
        np.testing.assert_allclose(db, linear.bias.grad.numpy(), rtol=0, atol=EXACT)
