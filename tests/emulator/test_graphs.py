"""Graphs: the relaxation from zero waves reads PyTorch autograd's gradient on random DAGs (docs/physics.md section
10), through to_torch and back through from_torch; bad graphs are refused naming the node."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graphs import exactness_tick, graphs
from wavetrain import Network, relax

torch = pytest.importorskip("torch")
EXACT = 1e-12


def torch_grads(module, x, y, loss: str) -> dict[str, np.ndarray]:
    """Autograd's gradient of the mean batch loss, keyed by torch's parameter names."""
    out = module(torch.from_numpy(x))
    if loss == "mse":
        value = 0.5 * ((out - torch.from_numpy(y)) ** 2).sum(dim=1).mean()
    else:
        value = torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
    module.zero_grad()
    value.backward()
    return {name: p.grad.numpy().copy() for name, p in module.named_parameters()}


def relative_error(grads: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    assert sorted(grads) == sorted(reference)
    return max(float(np.abs(grads[k] - reference[k]).max() / max(np.abs(reference[k]).max(), 1e-300)) for k in grads)


def named_at(run, net: Network, tick: int) -> dict[str, np.ndarray]:
    out = {}
    for n, (dW, db) in zip(run.params, run.history.grads[tick]):
        out[f"{net.param_names.get(n, n)}.weight"], out[f"{net.param_names.get(n, n)}.bias"] = dW, db
    return out


def problem(graph, loss: str, batch: int, seed: int):
    net = Network.from_graph(graph, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    for n in net.graph.parametric:  # NOTE: nonzero biases so no cell is trivially exact by symmetry
        net.parameters(n).bias = rng.normal(size=net.parameters(n).bias.shape)
    x = rng.normal(size=(batch, *net.input_shape))
    y = rng.integers(0, net.n_outputs, batch) if loss == "cross_entropy" else rng.normal(size=(batch, net.n_outputs))
    return net, x, y


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    graph=graphs(),
    loss=st.sampled_from(["mse", "cross_entropy"]),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_dags_read_autograds_gradient_at_their_exactness_tick(graph, loss, batch, seed):
    net, x, y = problem(graph, loss, batch, seed)
    depth, first = net.depth, exactness_tick(net.graph)
    assert first <= 2 * depth
    run = relax(net, x, y, ticks=2 * depth + 1, history=True)
    reference = torch_grads(net.to_torch(), x, y, loss)
    for tick in (first, 2 * depth, 2 * depth + 1):
        assert relative_error(named_at(run, net, tick), reference) <= EXACT, f"tick {tick} (D = {depth})"
    assert relative_error(run.named_grads(), reference) <= EXACT
    if not any(net.graph.node(n).activation == "relu" for n in net.graph.order):
        # NOTE: a dead relu can zero the longest path's contribution; elsewhere one tick early is never exact
        assert relative_error(named_at(run, net, first - 1), reference) > 1e-9, f"exact already at {first - 1}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graph=graphs(first_parametric=True), loss=st.sampled_from(["mse", "cross_entropy"]), seed=st.integers(0, 2**31))
def test_a_longest_path_from_a_junction_is_exact_at_2D_and_not_at_2D_minus_1(graph, loss, seed):
    net, x, y = problem(graph, loss, 3, seed)
    if exactness_tick(net.graph) != 2 * net.depth:
        return  # NOTE: the first junction is not on a longest path of this draw
    module = net.to_torch()
    imported = Network.from_torch(module, torch.from_numpy(x), loss=loss)
    reference = torch_grads(module, x, y, loss)
    assert imported.depth <= net.depth  # NOTE: an activation node whose producer has no other reader folds into it
    for model in (net, imported):
        assert exactness_tick(model.graph) == 2 * model.depth
        run = relax(model, x, y, ticks=2 * model.depth, history=True)
        assert relative_error(named_at(run, model, 2 * model.depth), reference) <= EXACT
        assert relative_error(named_at(run, model, 2 * model.depth - 1), reference) > 1e-9 or any(
            model.graph.node(n).activation == "relu" for n in model.graph.order
        )
    np.testing.assert_allclose(imported.forward(x), net.forward(x), rtol=0, atol=1e-12)


class Frozen:
    def step(self, m, grads) -> None:  # noqa: ANN001 - a port that never moves
        return None


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graph=graphs(max_body=4), recompute=st.booleans(), seed=st.integers(0, 2**31))
def test_pipelined_stash_reads_each_minibatchs_own_gradient_on_graphs(graph, recompute, seed):
    """A new minibatch every tick: with the stash and the skips' matched delays, node n's port at tick k reads the
    autograd gradient of minibatch k - 2D + level(n) - 1 (frozen weights)."""
    from wavetrain.emulator.pipeline import Pipelined

    net, _, _ = problem(graph, "mse", 2, seed)
    rng = np.random.default_rng(seed)
    depth, ticks = net.depth, 2 * net.depth + 4
    xs = rng.normal(size=(ticks, 2, *net.input_shape))
    ts = rng.normal(size=(ticks, 2, net.n_outputs))
    method, module = Pipelined(stash=True, recompute=recompute), net.to_torch()
    level = net.graph.level
    for k in range(ticks):
        method.step(net.machine(), xs[k], ts[k], Frozen())
        for n, (gW, gb) in method.last_grads.items():
            j = k - 2 * depth + level[n] - 1
            if j < 0:
                continue
            name = net.param_names.get(n, n)
            reference = torch_grads(module, xs[j], ts[j], "mse")
            got = {f"{name}.weight": gW, f"{name}.bias": gb}
            assert relative_error(got, {key: reference[key] for key in got}) <= 1e-11, (k, n)


def residual_net(seed: int = 0) -> Network:
    from wavetrain import GraphBuilder

    g = GraphBuilder((6,))
    h = g.linear(g.input, 5, "tanh", id="stem")
    for k in (1, 2, 3):
        inner = g.linear(h, 5, "tanh", id=f"b{k}_1")
        h = g.add(g.linear(inner, 5, id=f"b{k}_2"), h, activation="tanh", id=f"b{k}")
    return g.network(g.linear(h, 3, id="head"), loss="cross_entropy", seed=seed)


def test_mpc_horizons_count_blocks_on_a_residual_graph():
    """Cuts are the block outputs; h = all segments is autograd's gradient; h = 1 trains each block on the head
    at its own output, checked against autograd on that block alone (its input detached)."""
    from wavetrain.emulator.mpc import mpc_gradients, random_heads

    net = residual_net(3)
    assert net.graph.cuts == ("stem", "b1", "b2", "b3", "head")
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 6)), rng.integers(0, 3, 4)
    t = net.targets(y)
    heads = random_heads(net, 1)
    full, _, _ = mpc_gradients(net.machine(), heads, x, t, 5)
    module = net.to_torch()
    reference = torch_grads(module, x, y, "cross_entropy")
    named = {f"{n}.{k}": g for n, pair in full.items() for k, g in zip(("weight", "bias"), pair)}
    assert relative_error(named, reference) <= EXACT
    local, head_grads, _ = mpc_gradients(net.machine(), heads, x, t, 1)
    F = torch.nn.functional
    values = {"input": torch.from_numpy(x)}
    blocks = [("stem",), ("b1_1", "b1_2", "b1"), ("b2_1", "b2_2", "b2"), ("b3_1", "b3_2", "b3"), ("head",)]
    start = values["input"]
    for block in blocks:
        start = start.detach()
        h = start
        for n in block:
            if n.startswith("b") and "_" not in n:  # the add: block output = tanh(inner + skip)
                h = torch.tanh(h + start)
            else:
                layer = module.get_submodule(n)
                h = layer(h)
                if not n.endswith("_2") and n != "head":
                    h = torch.tanh(h)
        cut = block[-1]
        if cut == "head":
            loss = F.cross_entropy(h, torch.from_numpy(y))
        else:
            V, c = (torch.from_numpy(a) for a in heads[cut])
            loss = F.cross_entropy(h @ V.T + c, torch.from_numpy(y))
        module.zero_grad()
        loss.backward()
        for n in block:
            if n in local:
                for kind, g in zip(("weight", "bias"), local[n]):
                    want = getattr(module.get_submodule(n), kind).grad.numpy()
                    assert np.abs(g - want).max() <= EXACT * max(1.0, np.abs(want).max()), (n, kind)
        start = h
    assert set(head_grads) == {"stem", "b1", "b2", "b3"}


@pytest.mark.parametrize("method", ["forward", "ocnopt", "curvature"])
def test_chain_only_rules_refuse_a_graph_before_any_work(method):
    from wavetrain import train
    from wavetrain.errors import ConfigError

    net = residual_net()
    x = np.random.default_rng(0).normal(size=(8, 6))
    with pytest.raises(ConfigError, match=r"defined on a chain of dense layers; node 'stem' joins or splits waves"):
        train(net, (x, np.zeros(8, dtype=int)), method=method, epochs=1, progress=False)


@pytest.mark.parametrize("method", ["backprop", "dyadic", "wave", "pipelined+stash", "mpc"])
def test_every_graph_rule_trains_a_residual_graph(method):
    from wavetrain import train

    net = residual_net(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(96, 6))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    options = {"lr": 0.01, "momentum": 0.0} if method.startswith("pipelined") else {}
    result = train(net, (x, y), method=method, epochs=12, batch_size=16, seed=0, progress=False, **options)
    assert result.loss[-1] < 0.8 * result.loss[0], result.loss


def test_dyadic_ticks_schedule_equals_the_light_cone_on_a_graph():
    from wavetrain import train

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    runs = []
    for schedule in ("light_cone", "ticks"):
        net = residual_net(2)
        runs.append(train(net, (x, y), method="dyadic", schedule=schedule, epochs=3, batch_size=8, seed=0,
                          dtype="float64", progress=False))  # fmt: skip
    np.testing.assert_allclose(runs[0].loss, runs[1].loss, rtol=1e-12)
