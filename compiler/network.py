"""The input graph: a layered network of dense layers and a loss.

A :class:`Network` is the one thing every backend consumes. Layer l (1-based in the spec, ``layers[l-1]`` here) maps
s_{l-1} to s_l = sigma_l(W_l s_{l-1} + b_l); the loss load at the end reflects the error wave (spec section 1.6).

Saved networks use the format documented in :func:`Network.save` (npz + json, no pickle).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from wavetrain.compiler.atomic import atomic_write
from wavetrain.compiler.budget import check_memory, network_bytes
from wavetrain.compiler.data import check_features, check_targets
from wavetrain.compiler.functions import ACTIVATIONS, LOSSES, Activation, Loss
from wavetrain.compiler.storage import NpyError, read_json_member, read_npy
from wavetrain.compiler.validate import number, real_array
from wavetrain.errors import MissingDependency, ModelFileError, NetworkError

FORMAT_NAME = "wavetrain.network"
FORMAT_VERSION = 1
META_LIMIT = 16 * 2**20  # bytes of meta.json read at most (it describes layers, not data)


def _float_matrix(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    array = np.array(real_array(value, what, NetworkError), dtype=np.float64, copy=True)
    if array.shape != shape:
        raise NetworkError(f"{what}: has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise NetworkError(f"{what}: expected finite values, got {array[bad]} at index {bad}")
    return array


@dataclass(eq=False)
class Dense:
    r"""A dense layer :math:`s = \sigma(W x + b)`.

    ``weight`` has shape (out, in) and ``bias`` shape (out,), both float64 and assignable (shapes are checked).
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "tanh"

    def __post_init__(self) -> None:
        weight = np.asarray(self.weight)
        if weight.ndim != 2:
            raise NetworkError(f"dense layer: weight must be 2-D (out, in), got shape {weight.shape}")
        object.__setattr__(self, "weight", _float_matrix(weight, "dense layer weight", weight.shape))
        object.__setattr__(self, "bias", _float_matrix(self.bias, "dense layer bias", (weight.shape[0],)))
        if self.activation not in ACTIVATIONS:
            raise NetworkError(
                f"dense layer: unknown activation {self.activation!r}; expected one of {', '.join(ACTIVATIONS)}"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        # NOTE: assignment keeps the layer's shape, so a trained network can never silently change topology
        if name in ("weight", "bias") and name in self.__dict__:
            value = _float_matrix(value, f"layer {name}", self.__dict__[name].shape)
        object.__setattr__(self, name, value)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def act(self) -> Activation:
        return ACTIVATIONS[self.activation]


@dataclass(eq=False)
class Network:
    """A feed-forward chain of :class:`Dense` layers ending in a loss ("mse" or "cross_entropy")."""

    layers: list[Dense]
    loss: str = "mse"
    name: str = "net"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layers = list(self.layers)
        if not self.layers:
            raise NetworkError("network: expected at least 1 layer, got 0")
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Dense):
                raise NetworkError(f"network: layer {index} is {type(layer).__name__}, expected Dense")
        for index in range(1, len(self.layers)):
            got, want = self.layers[index].in_features, self.layers[index - 1].out_features
            if got != want:
                raise NetworkError(
                    f"network: layer {index} takes {got} inputs, expected {want} (outputs of layer {index - 1})"
                )
        if self.loss not in LOSSES:
            raise NetworkError(f"network: unknown loss {self.loss!r}; expected one of {', '.join(LOSSES)}")
        if not isinstance(self.name, str) or not self.name:
            raise NetworkError(f"network: name must be a non-empty string, got {self.name!r}")

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
            if act not in ACTIVATIONS:
                raise NetworkError(f"mlp: unknown activation {act!r}; expected one of {', '.join(ACTIVATIONS)}")
            scale = np.sqrt(2.0 / n_in) if act == "relu" else np.sqrt(2.0 / (n_in + n_out))
            layers.append(Dense(rng.normal(0.0, scale, size=(n_out, n_in)), np.zeros(n_out), act))
        return cls(layers, loss=loss, name=name)

    @property
    def depth(self) -> int:
        """The number of layers L (the wave needs 2L ticks to bring back the exact gradient)."""
        return len(self.layers)

    @property
    def ids(self) -> tuple[str, ...]:
        """The node id of every layer, in order: "1".."L" (every net and element name ends in its node's id)."""
        return tuple(str(l) for l in range(1, self.depth + 1))

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].in_features] + [layer.out_features for layer in self.layers]

    @property
    def loss_fn(self) -> Loss:
        return LOSSES[self.loss]

    @property
    def n_params(self) -> int:
        return sum(layer.weight.size + layer.bias.size for layer in self.layers)

    def copy(self) -> Network:
        layers = [Dense(layer.weight.copy(), layer.bias.copy(), layer.activation) for layer in self.layers]
        return Network(layers, loss=self.loss, name=self.name, meta=dict(self.meta))

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The live (weight, bias) arrays of every layer (views, not copies)."""
        return [(layer.weight, layer.bias) for layer in self.layers]

    def machine(self, substrate: Any = None, params: Any = None) -> Any:
        """This network as the wave kernel runs it: a :class:`wavetrain.emulator.cells.Machine` of its live
        parameters (or ``params``), activations and loss on ``substrate`` (default: the ideal machine)."""
        from wavetrain.emulator.cells import Machine
        from wavetrain.emulator.substrate import IDEAL

        return Machine.of(self, params, IDEAL if substrate is None else substrate)

    def check_input(self, x: Any, what: str = "x") -> np.ndarray:
        """x as a 2-D float array with the network's input width, or a DataError naming the bad sample."""
        return check_features(x, self.sizes[0], what)

    def targets(self, y: Any, batch: int | None = None) -> np.ndarray:
        """The 2-D float target the loss load compares with: one-hot for integer labels, y itself otherwise."""
        return check_targets(y, self.sizes[-1], batch)

    def forward(self, x: Any) -> np.ndarray:
        """The output s_L for a batch of inputs (rows): the forward wave of the ideal machine."""
        from wavetrain.emulator import cells  # NOTE: lazily, as in machine(): the emulator imports the compiler

        return cells.forward_sweep(self.machine(), self.check_input(x)).s[-1]

    def predict(self, x: Any) -> np.ndarray:
        """Class labels: the argmax of the output."""
        return np.argmax(self.forward(x), axis=1)

    def evaluate(self, x: Any, y: Any) -> tuple[float, float]:
        """(mean loss, accuracy) on a batch; accuracy is NaN for non-label targets."""
        from wavetrain.emulator.evaluation import evaluate  # NOTE: lazily, as in machine()

        scores = evaluate(self.machine(), self.check_input(x), y, fast=False)
        return scores.loss, scores.accuracy

    def to_networkx(self) -> Any:
        """A networkx DiGraph: input -> layer1 -> ... -> layerL -> loss, with sizes and activations as attributes."""
        import networkx as nx

        graph = nx.DiGraph(name=self.name, loss=self.loss)
        graph.add_node("input", kind="input", size=self.sizes[0])
        previous = "input"
        for index, layer in enumerate(self.layers, start=1):
            node = f"layer{index}"
            graph.add_node(
                node,
                kind="dense",
                in_features=layer.in_features,
                out_features=layer.out_features,
                activation=layer.activation,
            )
            graph.add_edge(previous, node)
            previous = node
        graph.add_node("loss", kind="loss", loss=self.loss)
        graph.add_edge(previous, "loss")
        return graph

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the network atomically as a wavetrain network file (format version 1).

        The file is a zip (NumPy .npz) holding ``meta.json`` and one ``.npy`` array per parameter:
        ``layer{i}.weight`` (out, in) and ``layer{i}.bias`` (out,), float64, i = 0..L-1.
        ``meta.json`` is ``{"format": "wavetrain.network", "version": 1, "name": str, "loss": str,
        "layers": [{"type": "dense", "in_features": int, "out_features": int, "activation": str}, ...],
        "meta": {...}}``. Nothing is pickled; readers must refuse unknown formats and newer versions.
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
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "loss": self.loss,
            "layers": [
                {
                    "type": "dense",
                    "in_features": layer.in_features,
                    "out_features": layer.out_features,
                    "activation": layer.activation,
                }
                for layer in self.layers
            ],
            "meta": self.meta,
        }
        try:
            members = {"meta.json": json.dumps(header, indent=1, sort_keys=True).encode()}
        except (TypeError, ValueError) as err:
            raise NetworkError(f"save: meta must hold JSON values (str keys), got {err}") from err
        for index, layer in enumerate(self.layers):
            for kind in ("weight", "bias"):
                array = np.asarray(getattr(layer, kind))
                finite = np.isfinite(array)
                if not finite.all():
                    bad = tuple(int(i) for i in np.argwhere(~finite)[0])
                    raise NetworkError(
                        f"save: layer {index} {kind} has {array[bad]} at index {bad}, expected finite values "
                        f"(a diverged network cannot be saved; Network.load would refuse the file)"
                    )
                member = io.BytesIO()
                np.save(member, np.ascontiguousarray(array, dtype=np.float64), allow_pickle=False)
                members[f"layer{index}.{kind}.npy"] = member.getvalue()
        return members

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """Read a file written by :meth:`save`; a missing, corrupt or foreign file raises ModelFileError."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such file (expected a wavetrain network file)")
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
            if not isinstance(version, int) or version < 1 or version > FORMAT_VERSION:
                raise ModelFileError(
                    f"{path}: format version {version!r} is not supported, expected 1..{FORMAT_VERSION}"
                )
            try:
                specs = header["layers"]
                if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
                    raise ModelFileError(
                        f"{path}: meta.json 'layers' must be a list of objects, got {json.dumps(specs)[:80]}"
                    )
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
                return cls(layers, loss=header["loss"], name=header["name"], meta=header.get("meta", {}))
            except KeyError as err:
                raise ModelFileError(f"{path}: meta.json lacks the field {err}") from err
            except NetworkError as err:
                raise ModelFileError(f"{path}: {err}") from err

    @classmethod
    def from_torch(cls, module: Any, loss: str = "mse", name: str = "torch") -> Network:
        """Convert an ``nn.Sequential`` of Linear layers, each optionally followed by Tanh, Sigmoid, ReLU, Identity."""
        try:
            import torch.nn as nn
        except ImportError as err:
            raise MissingDependency(
                "Network.from_torch needs PyTorch; install it with `pip install 'wavetrain[torch]'`"
            ) from err
        activations = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.ReLU: "relu", nn.Identity: "identity"}
        children = list(module.children()) if isinstance(module, nn.Sequential) else [module]
        layers: list[Dense] = []
        pending: nn.Linear | None = None
        for index, child in enumerate(children):
            if isinstance(child, nn.Linear):
                if pending is not None:
                    layers.append(_dense_from_linear(pending, "identity"))
                pending = child
            elif type(child) in activations and pending is not None:
                layers.append(_dense_from_linear(pending, activations[type(child)]))
                pending = None
            else:
                supported = "Linear, " + ", ".join(t.__name__ for t in activations)
                where = "before any Linear" if pending is None and type(child) in activations else ""
                raise NetworkError(
                    f"from_torch: module {index} ({type(child).__name__}) is not supported {where}; "
                    f"expected a Sequential of {supported} (an activation after each Linear)".replace("  ", " ")
                )
        if pending is not None:
            layers.append(_dense_from_linear(pending, "identity"))
        return cls(layers, loss=loss, name=name)


def _dense_from_linear(linear: Any, activation: str) -> Dense:
    weight = linear.weight.detach().cpu().double().numpy()
    bias = linear.bias.detach().cpu().double().numpy() if linear.bias is not None else np.zeros(weight.shape[0])
    return Dense(weight, bias, activation)


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
