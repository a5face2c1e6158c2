"""The network graph: construction, assignment checks, the saved format, torch import, networkx export."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from wavetrain import Dense, Network
from wavetrain.compiler.functions import ACTIVATIONS
from wavetrain.errors import ModelFileError, NetworkError


def test_mlp_contract():
    net = Network.mlp([64, 128, 128, 10], activation="tanh", output_activation="identity", loss="cross_entropy", seed=0)
    assert net.depth == 3 and net.sizes == [64, 128, 128, 10]
    assert net.layers[0].weight.shape == (128, 64) and net.layers[0].weight.dtype == np.float64
    assert net.layers[2].bias.shape == (10,)
    assert [layer.activation for layer in net.layers] == ["tanh", "tanh", "identity"]
    same = Network.mlp([64, 128, 128, 10], loss="cross_entropy", seed=0)
    np.testing.assert_array_equal(net.layers[1].weight, same.layers[1].weight)
    assert not np.array_equal(net.layers[1].weight, Network.mlp([64, 128, 128, 10], seed=1).layers[1].weight)


def test_weights_are_assignable_but_keep_their_shape():
    net = Network.mlp([3, 4, 2])
    net.layers[0].weight = np.ones((4, 3))
    net.layers[1].bias = [1.0, 2.0]
    assert net.layers[1].bias.dtype == np.float64
    np.testing.assert_array_equal(net.forward(np.zeros((1, 3)))[0], np.array([1.0, 2.0]))
    with pytest.raises(NetworkError, match=r"layer weight: has shape \(3, 4\), expected \(4, 3\)"):
        net.layers[0].weight = np.ones((3, 4))
    with pytest.raises(NetworkError, match=r"expected finite values, got nan"):
        net.layers[0].bias = [0.0, np.nan, 0.0, 0.0]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Network([]), r"expected at least 1 layer, got 0"),
        (
            lambda: Network([Dense(np.ones((3, 2)), np.zeros(3)), Dense(np.ones((2, 4)), np.zeros(2))]),
            r"layer 1 takes 4 inputs, expected 3 \(outputs of layer 0\)",
        ),
        (lambda: Network([Dense(np.ones((3, 2)), np.zeros(3))], loss="hinge"), r"unknown loss 'hinge'"),
        (lambda: Dense(np.ones((3, 2)), np.zeros(3), "gelu"), r"unknown activation 'gelu'; expected one of tanh"),
        (lambda: Dense(np.ones((3, 2)), np.zeros(2)), r"bias: has shape \(2,\), expected \(3,\)"),
        (lambda: Dense(np.ones(3), np.zeros(3)), r"weight must be 2-D \(out, in\), got shape \(3,\)"),
        (lambda: Network.mlp([3]), r"sizes must be >= 2 positive widths"),
        (lambda: Network([np.ones((2, 2))]), r"layer 0 is ndarray, expected Dense"),
    ],
)
def test_malformed_networks_are_refused(build, message):
    with pytest.raises(NetworkError, match=message):
        build()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name):
    act = ACTIVATIONS[name]
    a = np.linspace(-3, 3, 61) + 0.013  # NOTE: offset keeps relu's kink off the grid
    h = 1e-6
    numeric = (act.f(a + h) - act.f(a - h)) / (2 * h)
    np.testing.assert_allclose(act.df(a, act.f(a)), numeric, atol=1e-8)


def test_save_load_round_trip(tmp_path):
    net = Network.mlp([5, 7, 3], activation="relu", output_activation="sigmoid", loss="mse", seed=4, name="demo")
    net.meta["note"] = "trained"
    path = net.save(tmp_path / "model.npz")
    again = Network.load(path)
    assert (again.name, again.loss, again.meta) == ("demo", "mse", {"note": "trained"})
    for a, b in zip(net.layers, again.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
        assert a.activation == b.activation
    assert not list(tmp_path.glob(".*.tmp")), "atomic write leaves no temp file"


def _version_1_file(net, path):
    """The file format 1 wrote (before graphs): layer{i}.weight / layer{i}.bias and a "layers" list."""
    header = {"format": "wavetrain.network", "version": 1, "name": net.name, "loss": net.loss, "meta": {},
              "layers": [{"type": "dense", "in_features": l.in_features, "out_features": l.out_features,
                          "activation": l.activation} for l in net.layers]}  # fmt: skip
    np.savez(path, **{f"layer{i}.{k}": getattr(l, k) for i, l in enumerate(net.layers) for k in ("weight", "bias")})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("meta.json", json.dumps(header))
    return path


def test_version_1_files_load_as_the_same_chain(tmp_path):
    net = Network.mlp([5, 7, 3], activation="relu", loss="cross_entropy", seed=2, name="old")
    again = Network.load(_version_1_file(net, tmp_path / "v1.npz"))
    assert again.ids == ("1", "2") and again.sizes == [5, 7, 3] and again.graph == net.graph
    x = np.random.default_rng(0).normal(size=(4, 5))
    np.testing.assert_array_equal(again.forward(x), net.forward(x))


def test_graph_networks_round_trip_with_their_parameter_names(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    module = nn.Sequential(nn.Conv1d(1, 3, 3, padding=1), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(12, 2))
    net = Network.from_torch(module, example_input=(1, 8), loss="cross_entropy")
    again = Network.load(net.save(tmp_path / "cnn.npz"))
    assert again.graph == net.graph and again.param_names == net.param_names
    x = np.random.default_rng(0).normal(size=(2, 1, 8))
    np.testing.assert_array_equal(again.forward(x), net.forward(x))
    with zipfile.ZipFile(tmp_path / "cnn.npz") as archive:
        assert "layers" not in json.loads(archive.read("meta.json")), "a graph file does not pretend to be a chain"


def _rewrite(path, header=None, drop=None):
    with zipfile.ZipFile(path) as src:
        members = {name: src.read(name) for name in src.namelist() if name != drop}
    if header is not None:
        members["meta.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    good = Network.mlp([2, 3, 1])
    path = good.save(tmp_path / "m.npz")
    header = json.loads(zipfile.ZipFile(path).read("meta.json"))
    with pytest.raises(ModelFileError, match=r"no such file"):
        Network.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match=r"text.npz: not a wavetrain network file"):
        Network.load(tmp_path / "text.npz")
    np.savez(tmp_path / "foreign.npz", w=np.ones(3))
    with pytest.raises(ModelFileError, match=r"foreign.npz: not a wavetrain network file \(no meta.json"):
        Network.load(tmp_path / "foreign.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelFileError, match=r"truncated.npz"):
        Network.load(truncated)
    _rewrite(path, {**header, "version": 99})
    with pytest.raises(ModelFileError, match=r"format version 99 is not supported, expected 1..2"):
        Network.load(path)
    _rewrite(path, {**header, "format": "keras"})
    with pytest.raises(ModelFileError, match=r"format is 'keras', expected 'wavetrain.network'"):
        Network.load(path)
    path = good.save(tmp_path / "m2.npz")
    _rewrite(path, drop="node/1.bias.npy")
    with pytest.raises(ModelFileError, match=r"array 'node/1.bias' is missing"):
        Network.load(path)
    path = good.save(tmp_path / "m3.npz")
    graph = header["graph"]
    _rewrite(path, {**header, "graph": {**graph, "nodes": [{**graph["nodes"][0], "activation": "swish"}]}})
    with pytest.raises(ModelFileError, match=r"m3.npz: node '1': unknown activation 'swish'"):
        Network.load(path)
    _rewrite(path, {**header, "graph": {**graph, "output": "9"}})
    with pytest.raises(ModelFileError, match=r"m3.npz: .*'9'"):
        Network.load(path)
    for layers in ([1, 2], 5):  # a version-1 file describes its chain as "layers"
        path = good.save(tmp_path / "m4.npz")
        _rewrite(path, {**header, "version": 1, "layers": layers})
        with pytest.raises(ModelFileError, match=r"m4.npz: meta.json 'layers' must be a list of objects"):
            Network.load(path)


def test_from_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    net = Network.from_torch(module, loss="cross_entropy")
    assert [l.activation for l in net.layers] == ["tanh", "relu", "identity"]
    x = np.random.default_rng(0).normal(size=(3, 4))
    expected = module(torch.from_numpy(x).float()).detach().double().numpy()
    np.testing.assert_allclose(net.forward(x), expected, atol=1e-5)
    assert net.ids == ("0", "2", "4") and list(net.named_params()) == [n for n, _ in module.named_parameters()]
    with pytest.raises(NetworkError, match=r"module '1' \(GRU\) is not supported"):
        Network.from_torch(nn.Sequential(nn.Linear(4, 4), nn.GRU(4, 4)))
    with pytest.raises(
        NetworkError, match=r"node '1' \(Conv1d\): expected an input \(channels, length\), got shape \(4,\)"
    ):
        Network.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 1)))


def test_to_networkx():
    graph = Network.mlp([3, 5, 2], loss="cross_entropy").to_networkx()
    assert list(graph.nodes) == ["input", "1", "2", "loss"]
    assert graph.nodes["1"]["out_features"] == 5 and graph.nodes["loss"]["loss"] == "cross_entropy"
    assert list(graph.edges) == [("input", "1"), ("1", "2"), ("2", "loss")]
