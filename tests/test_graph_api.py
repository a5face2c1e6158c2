"""Graphs as a user builds, imports, saves, trains, resumes and sweeps them; bad graphs and data refused up front."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from click.testing import CliRunner

import wavetrain
from wavetrain import GraphBuilder, Network, datasets, train
from wavetrain.cli import main
from wavetrain.compiler.graph import Add, Concat, Conv1d, Graph, Linear
from wavetrain.compiler.models import PRESETS
from wavetrain.errors import ConfigError, DataError, NetworkError

torch = pytest.importorskip("torch")
nn = torch.nn


def small_cnn(seed: int = 0) -> Network:
    g = GraphBuilder((1, 12))
    h = g.conv1d(g.input, 3, kernel=3, padding=1, activation="relu", id="c1")
    skip = h
    h = g.conv1d(h, 3, kernel=3, padding=1, activation="tanh")
    h = g.add(h, skip, id="res")
    h = g.maxpool(h, 2)
    return g.network(g.linear(g.flatten(h), 4), loss="cross_entropy", seed=seed, name="cnn")


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 1, 12))
    y = (x[:, 0, :6].sum(axis=1) > 0).astype(int) + 2 * (x[:, 0, 6:].mean(axis=1) > 0.2).astype(int)
    return x, y


def test_the_builder_names_nodes_infers_shapes_and_refuses_mistakes_where_they_are_made():
    net = small_cnn()
    assert net.graph.order == ("c1", "conv1d_1", "res", "maxpool_1", "flatten_1", "linear_1")
    assert net.graph.shape["maxpool_1"] == (3, 6) and net.graph.delay[("c1", "res")] == 1
    assert net.param_names == {n: n for n in ("c1", "conv1d_1", "linear_1")}
    g = GraphBuilder((1, 12))
    h = g.conv1d(g.input, 2, kernel=3)
    with pytest.raises(
        NetworkError, match=r"node 'add_1' \(Add\): inputs must have one shape, got \[\(2, 10\), \(1, 12\)\]"
    ):
        g.add(h, g.input)
    with pytest.raises(NetworkError, match=r"linear 'linear_1' reads 'nowhere', which is not a node of this builder"):
        g.linear("nowhere", 3)
    with pytest.raises(NetworkError, match=r"node id 'conv1d_1' is already used"):
        g.conv1d(h, 2, kernel=1, id="conv1d_1")
    with pytest.raises(NetworkError, match=r"node 'big': kernel 30 is larger than its input's length 10"):
        g.conv1d(h, 2, kernel=30, id="big")
    with pytest.raises(
        NetworkError, match=r"node 'l' \(Linear\): expected a vector input \(n,\), got shape \(2, 10\); put a Flatten"
    ):
        g.linear(h, 3, id="l")


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: Graph(
                (4,),
                (Linear(id="a", features=3), Linear(id="b", features=3), Linear(id="c", features=2)),
                (("input", "a"), ("a", "b"), ("b", "a"), ("b", "c")),
                "c",
            ),  # fmt: skip
            r"the edges form a cycle through node 'a'",
        ),
        (
            lambda: Graph(
                (4,),
                (Linear(id="a", features=3), Linear(id="b", features=2), Add(id="s")),
                (("input", "a"), ("input", "b"), ("a", "s"), ("b", "s")),
                "s",
            ),  # fmt: skip
            r"node 's' \(Add\): inputs must have one shape, got \[\(3,\), \(2,\)\]",
        ),
        (
            lambda: Graph(
                (2, 4),
                (Conv1d(id="a", channels=3, kernel=1), Conv1d(id="b", channels=2, kernel=3), Concat(id="s")),
                (("input", "a"), ("input", "b"), ("a", "s"), ("b", "s")),
                "s",
            ),  # fmt: skip
            r"node 's' \(Concat\): inputs must agree on every axis but the first, got \[\(3, 4\), \(2, 2\)\]",
        ),
        (
            lambda: Graph(
                (4,), (Linear(id="a", features=3), Linear(id="b", features=3)), (("input", "a"), ("input", "b")), "b"
            ),  # fmt: skip
            r"node 'a' does not lead to the output 'b' \(a dangling node",
        ),
        (
            lambda: Graph((2, 4), (Conv1d(id="a", channels=3, kernel=7),), (("input", "a"),), "a"),
            r"node 'a': kernel 7 is larger than its input's length 4 \+ 2 x padding 0 = 4 \(input shape \(2, 4\)\)",
        ),
    ],
)
def test_bad_graphs_are_refused_naming_the_node_and_the_shapes(build, message):
    with pytest.raises(NetworkError, match=message):
        build()


class _DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else -self.fc(x)


class _InPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        h.add_(x)
        return torch.relu_(h)


@pytest.mark.parametrize(
    "module, message",
    [
        (nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)), r"module '1' \(BatchNorm1d\) is not supported"),
        (nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), r"module '1' \(Dropout\) in training mode is random"),
        (_DataDependent(), r"torch.fx cannot trace _DataDependent"),
        (_InPlace(), r"method 'add_' \(add_\) is not supported \(views, in-place methods"),
        (nn.Sequential(nn.Linear(4, 4, bias=False)), r"module '0' \(Linear\) has bias=False"),
    ],
)
def test_unsupported_torch_modules_are_refused_naming_the_op_and_the_module_path(module, message):
    shape = (1, 8) if isinstance(module, nn.Sequential) and isinstance(module[0], nn.Conv1d) else (4,)
    with pytest.raises(NetworkError, match=message):
        Network.from_torch(module, shape)


def test_from_torch_keeps_torchs_names_and_functional_ops_and_to_torch_reads_back():
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.conv(x) + x)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 2, 3, stride=1, padding=1)
            self.blocks = nn.Sequential(Block(), Block())
            self.head = nn.Linear(2 * 3 * 3 + 2 * 6 * 6, 5)

        def forward(self, x):
            h = self.blocks(torch.tanh(self.stem(x)))
            pooled = torch.flatten(torch.nn.functional.avg_pool2d(h, 2), 1)
            return self.head(torch.cat([pooled, h.flatten(1)], dim=1))

    torch.manual_seed(0)
    module = Model().double()
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    net = Network.from_torch(module, x, loss="cross_entropy")
    assert sorted(net.named_params()) == sorted(name for name, _ in module.named_parameters())
    np.testing.assert_allclose(net.forward(x.numpy()), module(x).detach().numpy(), rtol=0, atol=1e-12)
    back = net.to_torch()
    assert sorted(dict(back.named_parameters())) == sorted(dict(module.named_parameters()))
    np.testing.assert_allclose(back(x).detach().numpy(), module(x).detach().numpy(), rtol=0, atol=1e-12)
    again = Network.from_torch(back, x, loss="cross_entropy")
    np.testing.assert_allclose(again.forward(x.numpy()), net.forward(x.numpy()), rtol=0, atol=1e-12)
    y = np.array([0, 3, 1])
    grads = wavetrain.relax(net, x.numpy(), y, ticks=2 * net.depth).named_grads()
    loss = torch.nn.functional.cross_entropy(module(x), torch.from_numpy(y))
    loss.backward()
    for name, p in module.named_parameters():
        assert np.abs(grads[name] - p.grad.numpy()).max() <= 1e-12 * max(1.0, p.grad.abs().max().item()), name


def test_a_sequential_imports_without_an_example_input_as_before():
    net = Network.from_torch(nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)), loss="mse")
    assert net.is_chain and net.sizes == [4, 6, 2]
    with pytest.raises(NetworkError, match=r"pass example_input"):
        Network.from_torch(nn.Sequential(nn.Conv1d(1, 2, 3)))


def test_data_that_does_not_fit_the_input_is_refused_before_any_work():
    net = small_cnn()
    started = time.perf_counter()
    with pytest.raises(
        DataError, match=r"training inputs: got samples of shape \(1, 13\), expected samples of shape \(1, 12\)"
    ):
        train(net, (np.zeros((100000, 1, 13)), np.zeros(100000, dtype=int)), epochs=1, progress=False)
    with pytest.raises(DataError, match=r"got shape \(5, 11\), expected samples of shape \(1, 12\)"):
        train(net, (np.zeros((5, 11)), np.zeros(5, dtype=int)), epochs=1, progress=False)
    assert time.perf_counter() - started < 1.0


def test_flat_samples_are_read_in_the_inputs_shape_and_datasets_reshape_on_request(tmp_path):
    x, y = problem()
    net_a, net_b = small_cnn(), small_cnn()
    flat = train(net_a, (x.reshape(64, 12), y), epochs=2, seed=0, dtype="float64", progress=False)
    shaped = train(net_b, (x, y), epochs=2, seed=0, dtype="float64", progress=False)
    assert flat.loss == shaped.loss
    digits = datasets.load("digits", shape=(1, 8, 8))
    assert digits.sample_shape == (1, 8, 8) and digits.n_features == 64
    assert datasets.load("mnist1d", shape=(1, 40)).x_train.shape == (4000, 1, 40)
    with pytest.raises(
        DataError, match=r"digits: samples of shape \(64,\) \(64 values\) cannot be read as \(1, 9, 9\)"
    ):
        datasets.load("digits", shape=(1, 9, 9))
    np.savez(tmp_path / "signals.npz", x=x, y=y)
    data = datasets.load(tmp_path / "signals.npz")
    assert data.sample_shape == (1, 12) and len(data.x_train) + len(data.x_test) == 64
    np.savez(tmp_path / "odd.npz", x=x, y=y, x_test=x[:4, :, :6], y_test=y[:4])
    with pytest.raises(
        DataError, match=r"odd.npz: x_test: got samples of shape \(1, 6\), expected samples of shape \(1, 12\)"
    ):
        datasets.load(tmp_path / "odd.npz")


def test_a_graph_saves_loads_and_resumes_bit_for_bit(tmp_path):
    x, y = problem()
    whole = small_cnn()
    reference = train(whole, (x, y), epochs=4, seed=3, dtype="float64", progress=False)
    path = tmp_path / "cnn.ckpt.npz"
    train(small_cnn(), (x, y), epochs=2, seed=3, dtype="float64", checkpoint=path, progress=False)
    resumed_net = small_cnn()
    resumed = train(resumed_net, (x, y), epochs=4, seed=3, dtype="float64", resume=path, progress=False)
    assert resumed.loss == reference.loss
    for n in whole.graph.parametric:
        assert np.array_equal(whole.parameters(n).weight, resumed_net.parameters(n).weight)
    loaded = Network.load(path)
    assert loaded.graph == whole.graph
    other = GraphBuilder((1, 12))
    other_net = other.network(other.linear(other.flatten(other.input), 4), loss="cross_entropy")
    with pytest.raises(ConfigError, match=r"the network is input \[1, 12\], 1 Flatten, 1 Linear, depth 2"):
        train(other_net, (x, y), epochs=4, seed=3, dtype="float64", resume=path, progress=False)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_trains_a_preset_and_a_saved_graph_and_refuses_data_that_do_not_fit(tmp_path):
    saved = small_cnn().save(tmp_path / "cnn.npz")
    x, y = problem()
    np.savez(tmp_path / "signals.npz", x=x, y=y)
    result = cli("train", "--network", saved, "--dataset", tmp_path / "signals.npz", "--epochs", "2", "--json",
                 "--save", tmp_path / "trained.npz")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["epochs"] == 2
    assert Network.load(tmp_path / "trained.npz").graph == small_cnn().graph
    result = cli("train", "--model", "lenet-digits", "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["test_accuracy"][-1] > 0.5
    result = cli("train", "--network", saved, "--epochs", "1")
    assert result.exit_code == 1
    assert "--dataset digits: samples of shape (64,) (64 values) do not fit the network cnn" in result.output
    result = cli("train", "--model", "cnn1d-mnist1d", "--layers", "40,10")
    assert result.exit_code == 2 and "--layers shapes an MLP" in result.output
    assert all(name in cli("train", "--help").output.replace("\n", " ") for name in PRESETS)


def test_a_graph_trains_in_loihi_fixed_point_from_flat_samples_as_the_cli_gives_them(tmp_path):
    from wavetrain.deploy import train_on

    x, y = problem()
    flat = datasets.Dataset("signals", x.reshape(64, 12)[:48], y[:48], x.reshape(64, 12)[48:], y[48:], 4)
    net = small_cnn()
    result, sub = train_on(net, flat, substrate="loihi", method="dyadic", epochs=2, lr=0.05, seed=0, progress=False)
    assert sub is not None and set(sub.formats) == set(net.graph.order)  # one format record per node
    assert len(result.loss) == 2 and np.isfinite(result.loss).all()
    np.savez(tmp_path / "signals.npz", x=x.reshape(64, 12), y=y)
    out = cli("train", "--network", small_cnn().save(tmp_path / "cnn.npz"), "--dataset", tmp_path / "signals.npz",
              "--substrate", "loihi", "--epochs", "1", "--json")  # fmt: skip
    assert out.exit_code == 0, out.output


def test_sweeps_take_saved_networks_and_presets_by_content(tmp_path):
    from wavetrain.sweep import run as sweep
    from wavetrain.sweep.spec import load_spec, tasks

    saved = small_cnn().save(tmp_path / "cnn.npz")
    x, y = problem()
    np.savez(tmp_path / "signals.npz", x=x, y=y)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(
        f"base: {{dataset: {tmp_path / 'signals.npz'}, epochs: 1}}\ngrid:\n  network: [{saved}]\n"
        f"  method: [backprop, dyadic]\nseeds: 1\nmetrics: [test_accuracy]\n"
    )
    spec = load_spec(spec_path)
    first = [t.task_id for t in tasks(spec)]
    rows = [sweep.run_task(task) for task in sweep.plan(spec)]
    assert [row["status"] for row in rows] == ["ok", "ok"], rows
    small_cnn(seed=1).save(saved)  # the same path, other weights: other tasks
    assert not set(first) & {t.task_id for t in tasks(load_spec(spec_path))}
    spec_path.write_text("base: {epochs: 1}\ngrid:\n  model: [lenet-digits, resnet-9000]\n")
    with pytest.raises(Exception, match=r"grid.model\[1\]: expected a model preset"):
        load_spec(spec_path)
