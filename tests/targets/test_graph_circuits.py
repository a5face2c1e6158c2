"""Graph circuits: every node type lowered to circuit elements, run on the numpy circuit target (the emulator's
cells, equal to the emulator tick by tick to 1e-12) and in ngspice (its own raw file: the exact gradient at tick 2D,
checked against PyTorch autograd to 1e-6, and every tick within the chain tests' 1e-5 of the emulator)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.emulator.test_graphs import named_at, problem, relative_error, torch_grads
from tests.graphs import graphs
from tests.targets.test_agreement import RTOL, close
from wavetrain import relax, simulate
from wavetrain.compiler.builder import GraphBuilder

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
pytest.importorskip("torch")
EXACT = 1e-12  # the numpy circuit target against the emulator
SPICE_GRADIENT = 1e-6  # ngspice's gradient at tick 2D against autograd, relative (the bound)


def _skip(g: GraphBuilder) -> str:
    h = g.linear(g.input, 5, "tanh", id="h")
    i = g.linear(h, 5, "sigmoid", id="i")
    return g.linear(g.add(i, h, activation="tanh", id="a"), 3, id="o")  # h -> a waits one tick on a delay line


def _fanout(g: GraphBuilder) -> str:
    h = g.linear(g.input, 4, "tanh", id="h")  # the input and h each feed two consumers of equal depth
    u, v = g.linear(h, 3, id="u"), g.linear(h, 3, "tanh", id="v")
    w = g.linear(g.input, 3, "sigmoid", id="w")
    return g.linear(g.add(u, v, g.act(w, "tanh", id="t"), id="a"), 2, id="o")


def _concat(g: GraphBuilder) -> str:
    c1 = g.conv1d(g.input, 2, kernel=3, padding=1, activation="tanh", id="c1")
    c2 = g.conv1d(g.input, 3, kernel=1, id="c2")
    return g.linear(g.flatten(g.concat(c1, c2, activation="tanh", id="cat"), id="f"), 3, id="o")


def _conv1d(g: GraphBuilder) -> str:
    c = g.conv1d(g.input, 3, kernel=3, stride=2, padding=1, activation="tanh", id="c1")
    c = g.conv1d(c, 2, kernel=2, id="c2")
    return g.linear(g.flatten(c, activation="tanh", id="f"), 3, id="o")


def _conv2d(g: GraphBuilder) -> str:
    c = g.conv2d(g.input, 2, kernel=3, stride=2, padding=1, activation="tanh", id="c")
    return g.linear(g.flatten(c, id="f"), 2, id="o")


def _avgpool(g: GraphBuilder) -> str:
    c = g.conv1d(g.input, 2, kernel=3, padding=1, activation="tanh", id="c")
    return g.linear(g.flatten(g.avgpool(c, 2, id="p"), id="f"), 3, id="o")


def _maxpool(g: GraphBuilder) -> str:
    c = g.conv2d(g.input, 2, kernel=3, padding=1, activation="tanh", id="c")
    return g.linear(g.flatten(g.maxpool(c, 2, stride=1, id="p"), id="f"), 2, id="o")


# name -> (input shape, builder, loss): one graph per node type (Linear, Add with a skip, fan-out, Act, Concat,
# Conv1d with stride and padding, Conv2d, AvgPool, MaxPool, Flatten)
CASES = {
    "skip": ((4,), _skip, "mse"),
    "fanout": ((4,), _fanout, "cross_entropy"),
    "concat": ((2, 6), _concat, "mse"),
    "conv1d": ((2, 9), _conv1d, "cross_entropy"),
    "conv2d": ((1, 5, 5), _conv2d, "mse"),
    "avgpool": ((2, 8), _avgpool, "mse"),
    "maxpool": ((1, 4, 4), _maxpool, "cross_entropy"),
}


def case(name: str, batch: int = 2, seed: int = 0):
    shape, build, loss = CASES[name]
    g = GraphBuilder(shape)
    return problem(g.graph(build(g)), loss, batch, seed)


def worst_tick_error(got, ref, relative: bool) -> float:
    """The largest error over every tick's waves and port readouts (relative to each reference array's largest
    entry, or absolute)."""
    worst = 0.0
    for k in range(ref.ticks + 1):
        pairs = [*zip(got.history.s[k], ref.history.s[k]), *zip(got.history.lam[k], ref.history.lam[k])]
        pairs += [(a, b) for ga, gb in zip(got.history.grads[k], ref.history.grads[k]) for a, b in zip(ga, gb)]
        for a, b in pairs:
            assert a.shape == b.shape
            if relative and np.any(b):
                worst = max(worst, close(a, b))
            elif not relative:
                worst = max(worst, float(np.max(np.abs(a - b))))
    return worst


@pytest.mark.parametrize("name", CASES)
def test_numpy_circuit_target_is_the_emulator_tick_by_tick(name: str) -> None:
    net, x, y = case(name)
    ref = relax(net, x, y, history=True)
    got = simulate(net, x, y, target="numpy", history=True)
    assert got.ticks == ref.ticks == 2 * net.depth and got.params == ref.params
    assert worst_tick_error(got, ref, relative=False) <= EXACT


@needs_ngspice
@pytest.mark.parametrize("name", CASES)
def test_ngspice_reads_autograds_gradient_at_tick_2d(name: str) -> None:
    net, x, y = case(name)
    ref = relax(net, x, y, history=True)
    got = simulate(net, x, y, target="spice", history=True)
    reference = torch_grads(net.to_torch(), x, y, net.loss)
    assert relative_error(named_at(got, net, 2 * net.depth), reference) <= SPICE_GRADIENT
    assert worst_tick_error(got, ref, relative=True) < RTOL


@pytest.mark.parametrize("target", ["numpy", pytest.param("spice", marks=needs_ngspice)])
@pytest.mark.parametrize("name", ["skip", "fanout"])
def test_courant_half_on_a_graph_matches_the_emulator(name: str, target: str) -> None:
    # NOTE: every node's lines get sample-and-hold drivers; a skip's delay lines and the splitters carry the held waves
    net, x, y = case(name)
    ref = relax(net, x, y, courant=0.5, history=True)
    got = simulate(net, x, y, target=target, courant=0.5, history=True)
    assert got.ticks == ref.ticks == 4 * net.depth
    assert worst_tick_error(got, ref, relative=target == "spice") <= (RTOL if target == "spice" else EXACT)


@needs_ngspice
@pytest.mark.parametrize("name", ["conv1d", "skip"])
def test_the_shared_library_runner_reads_the_same_graph_circuit(name: str) -> None:
    pytest.importorskip("PySpice")
    net, x, y = case(name)
    got = simulate(net, x, y, target="spice", runner="shared")
    assert got.target == "spice"
    assert relative_error(named_at_end(got, net), torch_grads(net.to_torch(), x, y, net.loss)) <= SPICE_GRADIENT


def named_at_end(run, net) -> dict[str, np.ndarray]:
    out = {}
    for n, (dw, db) in zip(run.params, run.grads):
        out[f"{net.param_names.get(n, n)}.weight"], out[f"{net.param_names.get(n, n)}.bias"] = dw, db
    return out


@needs_ngspice
def test_shared_and_inline_kernels_run_the_same_circuit() -> None:
    net, x, y = case("conv1d", batch=1)
    shared = simulate(net, x, y, target="spice")
    inline = simulate(net, x, y, target="spice", kernels="inline")
    for (a, b), (c, d) in zip(shared.grads, inline.grads):
        assert close(a, c) < RTOL and close(b, d) < RTOL


def test_a_relu_at_exactly_zero_stays_zero_across_a_matched_line() -> None:
    """Found by hypothesis: a line's matched end rounded a relu's exact 0 to 5.6e-17, which the next relu passed and
    its derivative turned into 1, so lam of the conv differed from the emulator's by 0.44 at ticks 4 and 5."""
    b = GraphBuilder((1, 5))
    h = b.avgpool("input", 2, stride=1, activation="tanh", id="n0")
    h = b.avgpool(h, 2, stride=1, activation="tanh", id="n1")
    h = b.conv1d(h, 1, 2, activation="relu", id="n2")
    h = b.flatten(h, activation="relu", id="n3")
    net, x, y = problem(b.graph(b.linear(h, 2, activation="tanh", id="out")), "mse", 2, 2422)
    ref = relax(net, x, y, history=True)
    assert any(np.any(s == 0) for s in ref.history.s[3]), "the case needs a relu output of exactly 0"
    assert worst_tick_error(simulate(net, x, y, target="numpy", history=True), ref, relative=False) <= EXACT


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graph=graphs(max_body=5), loss=st.sampled_from(["mse", "cross_entropy"]), seed=st.integers(0, 2**31 - 1))
def test_random_dags_on_the_numpy_circuit_target_are_the_emulator(graph, loss, seed) -> None:
    net, x, y = problem(graph, loss, 2, seed)
    ref = relax(net, x, y, history=True)
    got = simulate(net, x, y, target="numpy", history=True)
    assert worst_tick_error(got, ref, relative=False) <= EXACT
