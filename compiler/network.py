"""The network: a graph of nodes (:mod:`wavetrain.compiler.graph`), the parameters of its junctions, and a loss.

A :class:`Network` is the one thing every backend consumes. Its :attr:`~Network.graph` is the structure; its
parameters live here, one (weight, bias) pair per parametric node (dense and convolution junctions), keyed by node id
and assignable with their shapes checked. A chain of dense layers keeps the layer API it always had
(``Network.mlp``, ``net.layers[i].weight``, ``net.sizes``): its nodes are "1".."L". The loss load at the end reflects
the error wave (docs/physics.md section 1.6).

Saved networks use the format documented in :func:`Network.save` (npz + json, no pickle; version 2 holds the graph,
version 1 files load as chains).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from wavetrain.compiler.atomic import atomic_write
from wavetrain.compiler.budget import check_memory, network_bytes
from wavetrain.compiler.data import check_inputs, check_targets
from wavetrain.compiler.formats import regular_file
from wavetrain.compiler.functions import ACTIVATIONS, LOSSES, Activation, Loss
from wavetrain.compiler.graph import PARAMETRIC, Graph, Linear, check_id
from wavetrain.compiler.storage import NpyError, read_json_member, read_npy
from wavetrain.compiler.validate import number, real_array
from wavetrain.errors import MissingDependency, ModelFileError, NetworkError

FORMAT_NAME = "wavetrain.network"
FORMAT_VERSION = 2
META_LIMIT = 16 * 2**20  # bytes of meta.json read at most (it describes the graph, not data)
PARAM_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.]{0,127}"


def _float_array(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    array = np.array(real_array(value, what, NetworkError), dtype=np.float64, copy=True)
    if array.shape != shape:
        raise NetworkError(f"{what}: has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise NetworkError(f"{what}: expected finite values, got {array[bad]} at index {bad}")
    return array


class Parameters:
    """A junction's parameters: ``weight`` and ``bias``, float64, assignable with their shapes kept."""

    weight: np.ndarray
    bias: np.ndarray

    def __init__(self, weight: Any, bias: Any, what: str = "parameters") -> None:
        weight = np.asarray(weight)
        self.__dict__["weight"] = _float_array(weight, f"{what} weight", weight.shape)
        self.__dict__["bias"] = _float_array(bias, f"{what} bias", (weight.shape[0],))

    def __setattr__(self, name: str, value: Any) -> None:
        # NOTE: assignment keeps the shape, so a trained network can never silently change topology
        if name in ("weight", "bias"):
            value = _float_array(value, f"layer {name}", self.__dict__[name].shape)
        object.__setattr__(self, name, value)

    def copy(self) -> Parameters:
        return Parameters(self.weight.copy(), self.bias.copy())

    def __repr__(self) -> str:
        return f"Parameters(weight {self.weight.shape}, bias {self.bias.shape})"


class Dense(Parameters):
    r"""A dense layer :math:`s = \sigma(W x + b)`.

    ``weight`` has shape (out, in) and ``bias`` shape (out,), both float64 and assignable (shapes are checked).
    """

    activation: str

    def __init__(self, weight: Any, bias: Any, activation: str = "tanh") -> None:
        weight = np.asarray(weight)
        if weight.ndim != 2:
            raise NetworkError(f"dense layer: weight must be 2-D (out, in), got shape {weight.shape}")
        super().__init__(weight, bias, "dense layer")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise NetworkError(
                f"dense layer: unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}"
            )
        self.__dict__["activation"] = activation

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "activation":
            raise NetworkError("dense layer: the activation is part of the network's graph; build a new network")
        super().__setattr__(name, value)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def act(self) -> Activation:
        return ACTIVATIONS[self.activation]

    def copy(self) -> Dense:
        return Dense(self.weight.copy(), self.bias.copy(), self.activation)

    def __repr__(self) -> str:
        return f"Dense({self.in_features} -> {self.out_features}, {self.activation})"


class Network:
    """A graph of junctions and the parameters of those with devices, ending in a loss ("mse" or "cross_entropy").

    ``Network(layers, loss)`` builds a chain of :class:`Dense` layers; ``Network.from_graph(graph, params, loss)`` (or
    :class:`~wavetrain.compiler.builder.GraphBuilder`) any DAG. ``param_names`` maps a node id to the prefix of its
    parameters' names (``"<prefix>.weight"``), torch's module path for an imported module.
    """

    def __init__(
        self,
        layers: Sequence[Dense] | None = None,
        loss: str = "mse",
        name: str = "net",
        meta: dict[str, Any] | None = None,
        *,
        graph: Graph | None = None,
        params: Mapping[str, Any] | None = None,
        param_names: Mapping[str, str] | None = None,
    ) -> None:
        if graph is None:
            layers = self._chain_layers(layers)
            nodes = [Linear(id=str(k + 1), features=l.out_features, activation=l.activation) for k, l in
                     enumerate(layers)]  # fmt: skip
            graph = Graph.chain((layers[0].in_features,), nodes)
            params = {str(k + 1): layer for k, layer in enumerate(layers)}
        elif layers is not None:
            raise NetworkError("network: pass either layers (a chain) or graph=, got both")
        if not isinstance(graph, Graph):
            raise NetworkError(f"network: graph must be a wavetrain Graph, got {type(graph).__name__}")
        self.graph = graph
        self._params = self._check_params(graph, params or {})
        if not isinstance(loss, str) or loss not in LOSSES:
            raise NetworkError(f"network: unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
        if len(graph.shape[graph.output]) != 1:
            raise NetworkError(
                f"network: the loss reads a vector, got the output {graph.output!r} of shape "
                f"{graph.shape[graph.output]}; end the graph with a Flatten or a Linear node"
            )
        if loss == "cross_entropy" and graph.shape[graph.output][0] < 2:
            raise NetworkError(
                f"network: cross_entropy over {graph.shape[graph.output][0]} output is 0 whatever the weights (a "
                f"softmax of one value is 1), expected at least 2 outputs, or loss='mse'"
            )
        if not isinstance(name, str) or not name:
            raise NetworkError(f"network: name must be a non-empty string, got {name!r}")
        self.loss, self.name = loss, name
        self.meta: dict[str, Any] = dict(meta or {})
        self.param_names = self._check_names(graph, param_names or {})

    @staticmethod
    def _chain_layers(layers: Any) -> list[Dense]:
        layers = list(layers or [])
        if not layers:
            raise NetworkError("network: expected at least 1 layer, got 0")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise NetworkError(f"network: layer {index} is {type(layer).__name__}, expected Dense")
        for index in range(1, len(layers)):
            got, want = layers[index].in_features, layers[index - 1].out_features
            if got != want:
                raise NetworkError(
                    f"network: layer {index} takes {got} inputs, expected {want} (outputs of layer {index - 1})"
                )
        return layers

    @staticmethod
    def _check_params(graph: Graph, params: Mapping[str, Any]) -> dict[str, Parameters]:
        shapes = graph.param_shapes()
        extra = sorted(set(params) - set(shapes))
        if extra:
            raise NetworkError(f"network: parameters for {extra[0]!r}, which is not a node with parameters "
                               f"(those are {list(shapes)})")  # fmt: skip
        out: dict[str, Parameters] = {}
        for n, (w_shape, b_shape) in shapes.items():
            if n not in params:
                raise NetworkError(f"network: node {n!r} has no parameters (expected weight {w_shape}, bias {b_shape})")
            value = params[n]
            if isinstance(value, Parameters):
                held = value
            elif isinstance(value, (tuple, list)) and len(value) == 2:
                node = graph.node(n)
                held = (Dense(value[0], value[1], node.activation) if isinstance(node, Linear)
                        else Parameters(value[0], value[1], f"node {n!r}"))  # fmt: skip
            else:
                raise NetworkError(f"network: node {n!r}: expected (weight, bias), got {type(value).__name__}")
            if held.weight.shape != w_shape or held.bias.shape != b_shape:
                raise NetworkError(
                    f"network: node {n!r} has weight {held.weight.shape} and bias {held.bias.shape}, expected "
                    f"{w_shape} and {b_shape} from the graph"
                )
            if isinstance(held, Dense) and held.activation != graph.activation(n):
                held = Dense(held.weight, held.bias, graph.activation(n))
            out[n] = held
        return out

    @staticmethod
    def _check_names(graph: Graph, names: Mapping[str, str]) -> dict[str, str]:
        import re

        out = {n: n for n in graph.parametric}
        for n, prefix in names.items():
            if n not in out or not isinstance(prefix, str) or not re.fullmatch(PARAM_NAME, prefix):
                raise NetworkError(f"network: parameter name {prefix!r} for {n!r} is not valid (a node with "
                                   f"parameters, and a dotted word like 'features.0')")  # fmt: skip
            out[n] = prefix
        if len(set(out.values())) != len(out):
            raise NetworkError(f"network: two nodes share a parameter name in {out}")
        return out

    @classmethod
    def from_graph(cls, graph: Graph, params: Mapping[str, Any] | None = None, loss: str = "mse", name: str = "net",
                   seed: int = 0, param_names: Mapping[str, str] | None = None) -> Network:  # fmt: skip
        """A network on ``graph`` with ``params`` (node id -> (weight, bias)), or initialised from ``seed`` (Glorot,
        He for relu, zero biases, as :meth:`mlp`) where none are given."""
        number(seed, "from_graph: seed", low=0, integer=True, error=NetworkError)
        rng = np.random.default_rng(seed)
        given = dict(params or {})
        for n, (w_shape, b_shape) in graph.param_shapes().items():
            if n not in given:
                given[n] = (_init(rng, w_shape, graph.activation(n)), np.zeros(b_shape))
        return cls(loss=loss, name=name, graph=graph, params=given, param_names=param_names)

    @classmethod
    def mlp(
        cls,
        sizes: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "identity",
        loss: str = "mse",
        seed: int = 0,
        name: str = "mlp",
    ) -> Network:
        """An MLP with the given layer widths (input first), Glorot-initialised (He for relu), zero biases."""
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise NetworkError(f"mlp: sizes must be a sequence of >= 2 positive integer widths, got {sizes!r}")
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
            raise NetworkError(f"mlp: sizes must be >= 2 positive widths (input first, integers), got {list(sizes)}")
        sizes = [int(n) for n in sizes]
        if min(sizes) < 1:
            raise NetworkError(f"mlp: sizes must be >= 2 positive widths (input first), got {list(sizes)}")
        check_memory(network_bytes(sizes), f"mlp({sizes})", "use smaller widths")
        number(seed, "mlp: seed", low=0, integer=True, error=NetworkError)
        rng = np.random.default_rng(seed)
        layers = []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            act = output_activation if index == len(sizes) - 2 else activation
            if not isinstance(act, str) or act not in ACTIVATIONS:
                raise NetworkError(f"mlp: unknown activation {act!r}; expected one of {', '.join(ACTIVATIONS)}")
            scale = np.sqrt(2.0 / n_in) if act == "relu" else np.sqrt(2.0 / (n_in + n_out))
            layers.append(Dense(rng.normal(0.0, scale, size=(n_out, n_in)), np.zeros(n_out), act))
        return cls(layers, loss=loss, name=name)

    # --- structure --------------------------------------------------------------------------------------------------

    @property
    def is_chain(self) -> bool:
        """A chain of dense layers (the layer API, ``sizes`` and the chain-only algorithms apply)."""
        return self.graph.is_dense_chain

    @property
    def layers(self) -> list[Dense]:
        """The dense layers of a chain, in order (live: their weights are the network's)."""
        if not self.is_chain:
            raise NetworkError(
                f"network {self.name!r} is a graph ({self.describe()}), not a chain of dense layers; use net.graph, "
                f"net.param_dict() or net.named_params()"
            )
        return [self._params[n] for n in self.graph.order]  # type: ignore[misc]

    @property
    def depth(self) -> int:
        """D, the longest input-to-loss path in ticks (L for a chain: the wave needs 2D ticks to bring back the
        exact gradient)."""
        return self.graph.depth

    @property
    def ids(self) -> tuple[str, ...]:
        """The node ids in topological order ("1".."L" for a chain; every circuit name ends in its node's id)."""
        return self.graph.order

    @property
    def sizes(self) -> list[int]:
        """The widths of a dense chain, input first."""
        if not self.is_chain:
            raise NetworkError(f"network {self.name!r} is a graph ({self.describe()}): it has no list of widths; "
                               f"read net.graph.shape")  # fmt: skip
        return [self.graph.input_shape[0]] + [self.graph.shape[n][0] for n in self.graph.order]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.input_shape

    @property
    def n_outputs(self) -> int:
        return self.graph.shape[self.graph.output][0]

    @property
    def loss_fn(self) -> Loss:
        return LOSSES[self.loss]

    @property
    def n_params(self) -> int:
        return sum(p.weight.size + p.bias.size for p in self._params.values())

    def describe(self) -> str:
        """A one-line summary: the widths of a chain (64-128-10), else the node types and the depth."""
        if self.is_chain:
            return "-".join(map(str, self.sizes))
        kinds: dict[str, int] = {}
        for n in self.graph.order:
            kind = type(self.graph.node(n)).__name__
            kinds[kind] = kinds.get(kind, 0) + 1
        body = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        return f"input {list(self.input_shape)}, {body}, depth {self.depth}"

    def __repr__(self) -> str:
        return f"Network({self.name!r}: {self.describe()}, {self.n_params:,} parameters, loss {self.loss})"

    # --- parameters -------------------------------------------------------------------------------------------------

    def parameters(self, node_id: str) -> Parameters:
        """The (assignable) parameters of one node."""
        try:
            return self._params[node_id]
        except KeyError:
            raise NetworkError(
                f"network: node {node_id!r} has no parameters (those are {list(self._params)})"
            ) from None

    def param_dict(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The live (weight, bias) arrays of every parametric node, keyed by node id (views, not copies)."""
        return {n: (p.weight, p.bias) for n, p in self._params.items()}

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The live (weight, bias) arrays of every parametric node, in topological order (views, not copies)."""
        return list(self.param_dict().values())

    def named_params(self) -> dict[str, np.ndarray]:
        """{"<name>.weight": W, "<name>.bias": b}: keyed like ``dict(module.named_parameters())`` of the torch module
        it was imported from (node ids otherwise)."""
        out = {}
        for n, p in self._params.items():
            prefix = self.param_names[n]
            out[f"{prefix}.weight"], out[f"{prefix}.bias"] = p.weight, p.bias
        return out

    def copy(self) -> Network:
        params = {n: p.copy() for n, p in self._params.items()}
        return Network(loss=self.loss, name=self.name, meta=dict(self.meta), graph=self.graph, params=params,
                       param_names=self.param_names)  # fmt: skip

    def machine(self, substrate: Any = None, params: Any = None) -> Any:
        """This network as the wave kernel runs it: a :class:`wavetrain.emulator.cells.Machine` of its live
        parameters (or ``params``), activations and loss on ``substrate`` (default: the ideal machine)."""
        from wavetrain.emulator.cells import Machine
        from wavetrain.emulator.substrate import IDEAL

        return Machine.of(self, params, IDEAL if substrate is None else substrate)

    # --- data -------------------------------------------------------------------------------------------------------

    def check_input(self, x: Any, what: str = "x") -> np.ndarray:
        """x as a float array (samples, *input shape), or a DataError naming the bad sample or the shape."""
        return check_inputs(x, self.graph.input_shape, what)

    def targets(self, y: Any, batch: int | None = None) -> np.ndarray:
        """The 2-D float target the loss load compares with: one-hot for integer labels, y itself otherwise."""
        return check_targets(y, self.n_outputs, batch)

    def forward(self, x: Any) -> np.ndarray:
        """The output s_out for a batch of inputs (rows): the forward wave of the ideal machine."""
        from wavetrain.emulator import cells  # NOTE: lazily, as in machine(): the emulator imports the compiler

        return cells.forward_sweep(self.machine(), self.check_input(x)).s[self.graph.output]

    def predict(self, x: Any) -> np.ndarray:
        """Class labels: the argmax of the output."""
        return np.argmax(self.forward(x), axis=1)

    def evaluate(self, x: Any, y: Any) -> tuple[float, float]:
        """(mean loss, accuracy) on a batch; accuracy is NaN for non-label targets."""
        from wavetrain.emulator.evaluation import evaluate  # NOTE: lazily, as in machine()

        scores = evaluate(self.machine(), self.check_input(x), y, fast=False)
        return scores.loss, scores.accuracy

    def to_networkx(self) -> Any:
        """A networkx DiGraph: input -> nodes -> loss, with each node's type, shape and activation as attributes."""
        import networkx as nx

        from wavetrain.compiler.graph import INPUT, TYPE_NAMES

        graph = nx.DiGraph(name=self.name, loss=self.loss)
        graph.add_node(INPUT, kind="input", shape=self.input_shape, size=int(np.prod(self.input_shape)))
        for n in self.graph.order:
            node = self.graph.node(n)
            attrs: dict[str, Any] = {"kind": TYPE_NAMES[type(node)], "shape": self.graph.shape[n],
                                     "activation": node.activation}  # fmt: skip
            if n in self._params and isinstance(node, Linear):
                attrs.update(in_features=self._params[n].weight.shape[1], out_features=node.features)
            graph.add_node(n, **attrs)
        graph.add_edges_from(self.graph.edges)
        graph.add_node("loss", kind="loss", loss=self.loss)
        graph.add_edge(self.graph.output, "loss")
        return graph

    # --- files ------------------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the network atomically as a wavetrain network file (format version 2).

        The file is a zip (NumPy .npz) holding ``meta.json`` and one ``.npy`` array per parameter:
        ``node/<id>.weight`` and ``node/<id>.bias``, float64. ``meta.json`` is ``{"format": "wavetrain.network",
        "version": 2, "name": str, "loss": str, "graph": Graph.to_dict(), "param_names": {id: str}, "meta": {...}}``;
        a dense chain also lists ``"layers"`` as version 1 did. Version 1 files (``layer{i}.weight``, a chain) load
        too. Nothing is pickled; readers must refuse unknown formats and newer versions.
        """
        path = Path(path)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.archive_members().items():
                archive.writestr(name, data)
        atomic_write(path, buffer.getvalue())
        return path

    def archive_members(self) -> dict[str, bytes]:
        """The members of the file :meth:`save` writes (meta.json and one .npy per array), by name.

        Refuses (NetworkError) a network holding a non-finite weight or bias: such a file could not be loaded back.
        """
        header: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "loss": self.loss,
            "graph": self.graph.to_dict(),
            "param_names": self.param_names,
            "meta": self.meta,
        }
        if self.is_chain:
            header["layers"] = [
                {"type": "dense", "in_features": l.in_features, "out_features": l.out_features,
                 "activation": l.activation} for l in self.layers
            ]  # fmt: skip
        try:
            members = {"meta.json": json.dumps(header, indent=1, sort_keys=True, allow_nan=False).encode()}
        except (TypeError, ValueError, RecursionError) as err:
            raise NetworkError(f"save: meta must hold JSON values (str keys), got {err}") from err
        for index, (n, p) in enumerate(self._params.items()):
            for kind in ("weight", "bias"):
                array = np.asarray(getattr(p, kind))
                finite = np.isfinite(array)
                if not finite.all():
                    bad = tuple(int(i) for i in np.argwhere(~finite)[0])
                    where = f"layer {index}" if self.is_chain else f"node {n!r}"
                    raise NetworkError(
                        f"save: {where} {kind} has {array[bad]} at index {bad}, expected finite values "
                        f"(a diverged network cannot be saved; Network.load would refuse the file)"
                    )
                member = io.BytesIO()
                np.save(member, np.ascontiguousarray(array, dtype=np.float64), allow_pickle=False)
                members[f"node/{n}.{kind}.npy"] = member.getvalue()
        return members

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """Read a file written by :meth:`save`; a missing, corrupt or foreign file raises ModelFileError."""
        path = Path(path)
        if not path.exists():
            raise ModelFileError(f"{path}: no such file (expected a wavetrain network file)")
        regular_file(path, "network file", ModelFileError)  # NOTE: a FIFO or a device would hang the zip reader
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise ModelFileError(f"{path}: not a wavetrain network file (expected an npz/zip archive): {err}") from err
        with archive:
            names = set(archive.namelist())
            if "meta.json" not in names:
                raise ModelFileError(f"{path}: not a wavetrain network file (no meta.json; has {sorted(names)[:5]})")
            header = read_json_member(archive, path, "meta.json", META_LIMIT)
            if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                got = header.get("format") if isinstance(header, dict) else type(header).__name__
                raise ModelFileError(f"{path}: format is {got!r}, expected {FORMAT_NAME!r}")
            version = header.get("version")
            if isinstance(version, bool) or not isinstance(version, int) or version < 1 or version > FORMAT_VERSION:
                raise ModelFileError(
                    f"{path}: format version {version!r} is not supported, expected 1..{FORMAT_VERSION}"
                )
            try:
                if version == 1:
                    return cls._load_chain(archive, path, header)
                graph = Graph.from_dict(header["graph"])
                params = {n: (_read_array(archive, path, f"node/{n}.weight"), _read_array(archive, path,
                                                                                        f"node/{n}.bias"))
                          for n in graph.parametric}  # fmt: skip
                names_ = header.get("param_names", {})
                if not isinstance(names_, dict):
                    raise ModelFileError(f"{path}: meta.json 'param_names' must be an object, got {names_!r}")
                return cls(loss=header["loss"], name=header["name"], meta=_meta(header, path), graph=graph,
                           params=params, param_names=names_)  # fmt: skip
            except KeyError as err:
                raise ModelFileError(f"{path}: meta.json lacks the field {err}") from err
            except NetworkError as err:
                raise ModelFileError(f"{path}: {err}") from err

    @classmethod
    def _load_chain(cls, archive: zipfile.ZipFile, path: Path, header: dict[str, Any]) -> Network:
        """A version-1 file: a chain of dense layers, ``layer{i}.weight`` / ``layer{i}.bias``."""
        specs = header["layers"]
        if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
            raise ModelFileError(f"{path}: meta.json 'layers' must be a list of objects, got {json.dumps(specs)[:80]}")
        layers = []
        for index, spec in enumerate(specs):
            if spec.get("type") != "dense":
                raise ModelFileError(f"{path}: layer {index} has type {spec.get('type')!r}, expected 'dense'")
            weight = _read_array(archive, path, f"layer{index}.weight")
            bias = _read_array(archive, path, f"layer{index}.bias")
            shape = (spec["out_features"], spec["in_features"])
            if weight.shape != shape:
                raise ModelFileError(
                    f"{path}: layer{index}.weight has shape {weight.shape}, expected {shape} from meta.json"
                )
            layers.append(Dense(weight, bias, spec["activation"]))
        return cls(layers, loss=header["loss"], name=header["name"], meta=_meta(header, path))

    # --- torch ------------------------------------------------------------------------------------------------------

    @classmethod
    def from_torch(cls, module: Any, example_input: Any = None, loss: str = "mse", name: str = "torch") -> Network:
        """A network from a torch ``nn.Module`` (see :mod:`wavetrain.compiler.torch_io`): an ``nn.Sequential`` of
        Linear layers and activations as before, or any module torch.fx traces into supported operations."""
        try:
            import torch  # noqa: F401
        except ImportError as err:
            raise MissingDependency(
                "Network.from_torch needs PyTorch; install it with `pip install 'wavetrain[torch]'`"
            ) from err
        from wavetrain.compiler.torch_io import from_torch

        return from_torch(cls, module, example_input, loss, name)

    def to_torch(self) -> Any:
        """A torch ``nn.Module`` with this network's weights whose forward equals the emulator's to rounding."""
        from wavetrain.compiler.torch_io import to_torch

        return to_torch(self)


def _meta(header: dict[str, Any], path: Path) -> dict[str, Any]:
    """meta.json's "meta" object (absent: empty); any other type is refused, not dropped."""
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: meta.json 'meta' is {type(meta).__name__} {str(meta)[:60]}, expected an object")
    return meta


def _init(rng: np.random.Generator, shape: tuple[int, ...], activation: str) -> np.ndarray:
    """Glorot for a junction's weight (He for relu): fan-in and fan-out count the kernel."""
    fan_out, fan_in = shape[0] * int(np.prod(shape[2:])), int(np.prod(shape[1:]))
    scale = np.sqrt(2.0 / fan_in) if activation == "relu" else np.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, scale, size=shape)


def _read_array(archive: zipfile.ZipFile, path: Path, key: str) -> np.ndarray:
    """One array member, checked by its npy header (dtype, shape, size vs the memory limit) before it is inflated."""
    try:
        array = read_npy(archive, f"{key}.npy", f"{path}: array {key!r}")
    except KeyError as err:
        raise ModelFileError(f"{path}: array {key!r} is missing") from err
    except NpyError as err:
        raise ModelFileError(str(err)) from err
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ModelFileError(f"{path}: array {key!r} is corrupt: {err}") from err
    if array.dtype.kind != "f":
        raise ModelFileError(f"{path}: array {key!r} has dtype {array.dtype}, expected float64")
    return array


__all__ = ["PARAMETRIC", "Dense", "Network", "Parameters", "check_id"]
