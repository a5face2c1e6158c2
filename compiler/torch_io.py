"""PyTorch both ways: a traced ``nn.Module`` becomes a Network graph, and a Network becomes an ``nn.Module``.

:func:`from_torch` traces the module with ``torch.fx`` and maps every operation onto a node type of
:mod:`wavetrain.compiler.graph`: ``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d``, ``nn.AvgPool1d/2d``, ``nn.MaxPool1d/2d``,
``nn.Flatten`` and ``torch.flatten(x, 1)``, the activations (``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid``, ``nn.Identity``
and their functional forms), ``+`` / ``torch.add`` and ``torch.cat(..., dim=1)``; ``nn.Dropout`` in eval mode is the
identity. An activation right after a node that has no other consumer becomes that node's nonlinearity (the wave
machine's cell is a junction and its nonlinearity). Anything else (BatchNorm, dropout in training mode, in-place ops,
data-dependent control flow, strided views) is refused, naming the operation and the module path. The network keeps
torch's parameter names: ``net.named_params()`` is keyed exactly like ``dict(module.named_parameters())``.

:func:`to_torch` builds an ``nn.Module`` that computes the same graph with torch's own operators (its parameters
named as the network names them), so a user checks the emulator against torch in one line.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import numpy as np

from wavetrain.compiler.graph import (
    INPUT,
    Act,
    Add,
    AvgPool,
    Concat,
    Conv1d,
    Conv2d,
    Flatten,
    Graph,
    Linear,
    MaxPool,
    Node,
)
from wavetrain.errors import NetworkError

ACTIVATION_MODULES = ("ReLU", "Tanh", "Sigmoid", "Identity")
FUNCTIONS = ("relu", "tanh", "sigmoid")


def from_torch(cls: Any, module: Any, example_input: Any, loss: str, name: str) -> Any:
    """See :meth:`wavetrain.compiler.network.Network.from_torch`."""
    import torch
    import torch.fx as fx
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise NetworkError(f"from_torch: expected a torch nn.Module, got {type(module).__name__}")
    shape = _input_shape(module, example_input)
    try:
        traced = fx.symbolic_trace(module)
    except Exception as err:  # noqa: BLE001 -- NOTE: fx raises TraceError, TypeError, ... for code it cannot follow
        raise NetworkError(
            f"from_torch: torch.fx cannot trace {type(module).__name__} ({type(err).__name__}: {err}); data-dependent "
            f"control flow is not a network graph"
        ) from None
    builder = _Builder(module)
    builder.root = traced
    output = None
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            if builder.inputs:
                raise NetworkError(f"from_torch: the module takes a second input {node.name!r}; expected one")
            builder.inputs.append(node.name)
            builder.alias[node.name] = INPUT
        elif node.op == "output":
            output = node.args[0]
        elif node.op == "call_module":
            builder.call_module(node, traced.get_submodule(node.target))
        elif node.op == "call_function":
            builder.call_function(node)
        elif node.op == "call_method":
            builder.call_method(node)
        else:
            raise NetworkError(f"from_torch: operation {node.op} {node.target} is not supported")
    if not isinstance(output, fx.Node):
        raise NetworkError("from_torch: the module must return one tensor")
    out = builder.alias[output.name]
    if out == INPUT:
        raise NetworkError("from_torch: the module returns its input unchanged; expected at least one layer")
    graph = Graph(shape, tuple(builder.nodes.values()), tuple(builder.edges), out)
    with torch.no_grad():
        net = cls(loss=loss, name=name, graph=graph, params=builder.params, param_names=builder.names)
    return net


def _input_shape(module: Any, example_input: Any) -> tuple[int, ...]:
    import torch
    import torch.nn as nn

    if example_input is None:
        first = next(iter(module.children()), None) if isinstance(module, nn.Sequential) else None
        if isinstance(module, nn.Sequential) and isinstance(first, nn.Linear):
            return (first.in_features,)
        raise NetworkError(
            f"from_torch: pass example_input (a tensor of one batch, or the input shape per sample) to trace "
            f"{type(module).__name__}; only a Sequential that starts with a Linear layer needs none"
        )
    if isinstance(example_input, torch.Tensor):
        shape = tuple(int(n) for n in example_input.shape[1:])
    elif isinstance(example_input, (tuple, list)) and all(isinstance(n, int) for n in example_input):
        shape = tuple(example_input)
    else:
        raise NetworkError(
            f"from_torch: example_input must be a tensor (batch, ...) or a shape tuple, got "
            f"{type(example_input).__name__}"
        )
    if not 1 <= len(shape) <= 3:
        raise NetworkError(f"from_torch: the input per sample must be (n,), (C, L) or (C, H, W), got {shape}")
    return shape


def _word(text: str) -> str:
    word = re.sub(r"[^A-Za-z0-9_]", "_", text)[:32] or "n"
    return word


class _Builder:
    """The graph being built from fx nodes: each fx value is an alias of a wavetrain node (or of the input)."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.inputs: list[str] = []
        self.alias: dict[str, str] = {}  # fx node name -> wavetrain node id (or INPUT)
        self.nodes: dict[str, Node] = {}
        self.edges: list[tuple[str, str]] = []
        self.params: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.names: dict[str, str] = {}
        self.users: dict[str, int] = {}
        self.root: Any = module  # the traced GraphModule (normalises functional calls' arguments)

    def _id(self, fx_node: Any) -> str:
        """A node id: the module path for a module call (``features.0`` -> ``features_0``), else fx's own name."""
        base = _word(str(fx_node.target) if fx_node.op == "call_module" else fx_node.name)
        candidate, k = base, 1
        while candidate in self.nodes or candidate in ("input", "loss"):
            k += 1
            candidate = f"{base[:28]}_{k}"
        return candidate

    def _source(self, value: Any, where: str) -> str:
        import torch.fx as fx

        if not isinstance(value, fx.Node) or value.name not in self.alias:
            raise NetworkError(f"from_torch: {where} takes {value!r}, expected a tensor computed by the module")
        return self.alias[value.name]

    def _add(self, fx_node: Any, node: Node, sources: list[str]) -> None:
        self.nodes[node.id] = node
        self.edges += [(s, node.id) for s in sources]
        self.alias[fx_node.name] = node.id

    def _fold(self, fx_node: Any, activation: str, where: str) -> None:
        """An activation: folded into its producer when that node has no other consumer, else a node of its own."""
        source = self._source(fx_node.args[0], where)
        producer = self.nodes.get(source)
        consumers = len(fx_node.args[0].users)
        if activation == "identity":
            self.alias[fx_node.name] = source
            return
        if producer is not None and producer.activation == "identity" and consumers == 1:
            from dataclasses import replace

            self.nodes[source] = replace(producer, activation=activation)
            self.alias[fx_node.name] = source
            return
        self._add(fx_node, Act(id=self._id(fx_node), activation=activation), [source])

    def call_module(self, fx_node: Any, sub: Any) -> None:
        import torch.nn as nn

        path = str(fx_node.target)
        where = f"module {path!r} ({type(sub).__name__})"
        kind = type(sub).__name__
        if kind in ACTIVATION_MODULES:
            self._fold(fx_node, kind.lower() if kind != "Identity" else "identity", where)
            return
        if isinstance(sub, nn.Dropout):
            if sub.training:
                raise NetworkError(f"from_torch: {where} in training mode is random, not a network graph; call "
                                   f"module.eval() first (dropout is then the identity)")  # fmt: skip
            self.alias[fx_node.name] = self._source(fx_node.args[0], where)
            return
        source = self._source(fx_node.args[0], where)
        node_id = self._id(fx_node)
        if isinstance(sub, nn.Linear):
            self._parametric(fx_node, Linear(id=node_id, features=sub.out_features), sub, path, where, [source])
        elif isinstance(sub, (nn.Conv1d, nn.Conv2d)):
            two = isinstance(sub, nn.Conv2d)
            if sub.groups != 1 or any(d != 1 for d in sub.dilation) or sub.padding_mode != "zeros" or isinstance(
                    sub.padding, str):  # fmt: skip
                raise NetworkError(f"from_torch: {where}: only groups=1, dilation=1 and numeric zero padding are "
                                   f"supported, got groups={sub.groups}, dilation={sub.dilation}, padding="
                                   f"{sub.padding!r}, padding_mode={sub.padding_mode!r}")  # fmt: skip
            if two:
                pair = lambda v: (int(v[0]), int(v[1]))  # noqa: E731
                node: Node = Conv2d(id=node_id, channels=sub.out_channels, kernel=pair(sub.kernel_size),
                                    stride=pair(sub.stride), padding=pair(sub.padding))  # fmt: skip
            else:
                node = Conv1d(id=node_id, channels=sub.out_channels, kernel=sub.kernel_size[0],
                              stride=sub.stride[0], padding=sub.padding[0])  # fmt: skip
            self._parametric(fx_node, node, sub, path, where, [source])
        elif isinstance(sub, (nn.AvgPool1d, nn.AvgPool2d, nn.MaxPool1d, nn.MaxPool2d)):
            self._add(fx_node, self._pool(sub, node_id, where), [source])
        elif isinstance(sub, nn.Flatten):
            if sub.start_dim != 1 or sub.end_dim != -1:
                raise NetworkError(f"from_torch: {where}: only start_dim=1, end_dim=-1 is supported")
            self._add(fx_node, Flatten(id=node_id), [source])
        else:
            raise NetworkError(
                f"from_torch: {where} is not supported; expected Linear, Conv1d, Conv2d, AvgPool1d/2d, MaxPool1d/2d, "
                f"Flatten, ReLU, Tanh, Sigmoid, Identity, Dropout (eval)"
            )

    def _pool(self, sub: Any, node_id: str, where: str) -> Node:
        import torch.nn as nn

        def single(value: Any, name: str) -> int:
            values = value if isinstance(value, (tuple, list)) else (value,)
            if len(set(values)) != 1:
                raise NetworkError(f"from_torch: {where}: {name} must be the same on every axis, got {value!r}")
            return int(values[0])

        padding = single(sub.padding, "padding")
        if padding or sub.ceil_mode:
            raise NetworkError(f"from_torch: {where}: only padding=0 and ceil_mode=False are supported")
        if isinstance(sub, (nn.MaxPool1d, nn.MaxPool2d)) and (single(sub.dilation, "dilation") != 1
                                                               or sub.return_indices):  # fmt: skip
            raise NetworkError(f"from_torch: {where}: only dilation=1 without return_indices is supported")
        kernel = single(sub.kernel_size, "kernel_size")
        stride = single(sub.stride, "stride") if sub.stride is not None else kernel
        kind = MaxPool if isinstance(sub, (nn.MaxPool1d, nn.MaxPool2d)) else AvgPool
        return kind(id=node_id, kernel=kernel, stride=stride)

    def _parametric(self, fx_node: Any, node: Node, sub: Any, path: str, where: str, sources: list[str]) -> None:
        if sub.bias is None:
            raise NetworkError(f"from_torch: {where} has bias=False; wavetrain's junctions carry a bias, so build "
                               f"it with bias=True (a zero bias that trains)")  # fmt: skip
        weight = sub.weight.detach().cpu().double().numpy().copy()
        bias = sub.bias.detach().cpu().double().numpy().copy()
        self._add(fx_node, node, sources)
        self.params[node.id] = (weight, bias)
        self.names[node.id] = path

    def call_function(self, fx_node: Any) -> None:
        import torch
        import torch.nn.functional as F

        target = fx_node.target
        where = f"operation {getattr(target, '__name__', target)!r} ({fx_node.name})"
        if target in (operator.iadd, operator.imul, operator.isub) or getattr(target, "__name__", "").endswith("_"):
            raise NetworkError(f"from_torch: {where} is in place; write it out of place (x = x + y)")
        if target in (operator.add, torch.add):
            if len(fx_node.args) != 2 or fx_node.kwargs:
                raise NetworkError(f"from_torch: {where}: expected the sum of two tensors (no alpha, no out)")
            sources = [self._source(a, where) for a in fx_node.args]
            self._add(fx_node, Add(id=self._id(fx_node)), sources)
        elif target is torch.cat:
            tensors = fx_node.args[0]
            dim = fx_node.args[1] if len(fx_node.args) > 1 else fx_node.kwargs.get("dim", 0)
            if dim != 1:
                raise NetworkError(f"from_torch: {where}: only dim=1 (features / channels) is supported, got {dim}")
            self._add(fx_node, Concat(id=self._id(fx_node)), [self._source(t, where) for t in tensors])
        elif target in (F.avg_pool1d, F.avg_pool2d, F.max_pool1d, F.max_pool2d):
            self._add(fx_node, self._functional_pool(fx_node, target, where), [self._source(fx_node.args[0], where)])
        elif target is torch.flatten:
            start = fx_node.args[1] if len(fx_node.args) > 1 else fx_node.kwargs.get("start_dim", 0)
            end = fx_node.args[2] if len(fx_node.args) > 2 else fx_node.kwargs.get("end_dim", -1)
            if start != 1 or end != -1:
                raise NetworkError(f"from_torch: {where}: only torch.flatten(x, 1) is supported")
            self._add(fx_node, Flatten(id=self._id(fx_node)), [self._source(fx_node.args[0], where)])
        elif target in (torch.relu, F.relu, torch.tanh, F.tanh, torch.sigmoid, F.sigmoid):
            if fx_node.kwargs.get("inplace"):
                raise NetworkError(f"from_torch: {where} is in place; use inplace=False")
            self._fold(fx_node, target.__name__.replace("_", ""), where)
        else:
            raise NetworkError(
                f"from_torch: {where} is not supported; expected +, torch.add, torch.cat(dim=1), torch.flatten(x, 1), "
                f"F.avg_pool1d/2d, F.max_pool1d/2d, relu, tanh, sigmoid"
            )

    def _functional_pool(self, fx_node: Any, target: Any, where: str) -> Node:
        """F.avg_pool1d/2d and F.max_pool1d/2d as the pooling modules are read (the same settings refused)."""
        import torch.nn as nn
        import torch.nn.functional as F

        normal = fx_node.normalized_arguments(self.root, normalize_to_only_use_kwargs=True)
        if normal is None:
            raise NetworkError(f"from_torch: {where}: cannot read its arguments")
        kw = dict(normal.kwargs)
        stride = kw.get("stride")
        if stride in ([], (), None):
            kw["stride"] = None
        if not kw.get("count_include_pad", True):
            raise NetworkError(f"from_torch: {where}: only count_include_pad=True is supported")
        two = target in (F.avg_pool2d, F.max_pool2d)
        if target in (F.avg_pool1d, F.avg_pool2d):
            module: Any = (nn.AvgPool2d if two else nn.AvgPool1d)(kw["kernel_size"], kw["stride"], kw.get("padding", 0),
                                                                  kw.get("ceil_mode", False))  # fmt: skip
        else:
            module = (nn.MaxPool2d if two else nn.MaxPool1d)(kw["kernel_size"], kw["stride"], kw.get("padding", 0),
                                                             kw.get("dilation", 1), kw.get("return_indices", False),
                                                             kw.get("ceil_mode", False))  # fmt: skip
        return self._pool(module, self._id(fx_node), where)

    def call_method(self, fx_node: Any) -> None:
        where = f"method {fx_node.target!r} ({fx_node.name})"
        if fx_node.target in FUNCTIONS:
            self._fold(fx_node, str(fx_node.target), where)
        elif fx_node.target == "flatten" and tuple(fx_node.args[1:]) in ((1,), (1, -1)):
            self._add(fx_node, Flatten(id=self._id(fx_node)), [self._source(fx_node.args[0], where)])
        elif fx_node.target == "add" and len(fx_node.args) == 2 and not fx_node.kwargs:
            self._add(fx_node, Add(id=self._id(fx_node)), [self._source(a, where) for a in fx_node.args])
        else:
            raise NetworkError(
                f"from_torch: {where} is not supported (views, in-place methods and reshapes other than "
                f"flatten(1) are not network nodes); use nn.Flatten or torch.flatten(x, 1)"
            )


def to_torch(net: Any) -> Any:
    """An ``nn.Module`` computing ``net``'s graph with torch's own layers and operators (float64).

    Every parametric node is a real ``nn.Linear`` / ``nn.Conv1d`` / ``nn.Conv2d`` holding a copy of the node's
    weights, registered at the node's parameter name (``net.param_names``: torch's names for an imported module, the
    node id otherwise), so ``dict(module.named_parameters())`` is keyed like ``net.named_params()``. Pooling,
    flatten, add, concatenation and the activations are torch functions. The module traces with ``torch.fx``:
    :func:`from_torch` reads it back as the same network.
    """
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as err:
        from wavetrain.errors import MissingDependency

        raise MissingDependency(
            "Network.to_torch needs PyTorch; install it with `pip install 'wavetrain[torch]'`"
        ) from err

    graph = net.graph
    activations = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
    params = net.param_dict()

    def layer(n: str) -> Any:
        node, (W, b) = graph.node(n), params[n]
        if isinstance(node, Linear):
            module: Any = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        elif isinstance(node, Conv1d):
            module = nn.Conv1d(W.shape[1], W.shape[0], node.kernel, node.stride, node.padding, dtype=torch.float64)
        else:
            module = nn.Conv2d(W.shape[1], W.shape[0], node.kernel, node.stride, node.padding, dtype=torch.float64)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(W))
            module.bias.copy_(torch.from_numpy(b))
        return module

    class WavetrainModule(nn.Module):
        """A wavetrain Network as torch computes it (autograd gives its gradients)."""

        def __init__(self) -> None:
            super().__init__()
            self.paths: dict[str, str] = {}
            for n in graph.parametric:
                path = net.param_names.get(n, n)
                parent: nn.Module = self
                *parts, leaf = path.split(".")
                for part in parts:
                    if not hasattr(parent, part):
                        parent.add_module(part, nn.Module())
                    parent = getattr(parent, part)
                parent.add_module(leaf, layer(n))
                self.paths[n] = path

        def forward(self, x: Any) -> Any:
            values = {INPUT: x}
            for n in graph.order:
                node = graph.node(n)
                ins = [values[p] for p in graph.preds[n]]
                if n in self.paths:
                    a = self.get_submodule(self.paths[n])(ins[0])
                elif isinstance(node, (AvgPool, MaxPool)):
                    two = len(graph.shape[graph.preds[n][0]]) == 3
                    pools: Any = {(AvgPool, False): F.avg_pool1d, (AvgPool, True): F.avg_pool2d,
                                  (MaxPool, False): F.max_pool1d, (MaxPool, True): F.max_pool2d}  # fmt: skip
                    pool = pools[(type(node), two)]
                    a = pool(ins[0], node.kernel, node.step)
                elif isinstance(node, Flatten):
                    a = torch.flatten(ins[0], 1)
                elif isinstance(node, Add):
                    a = ins[0]
                    for more in ins[1:]:
                        a = a + more
                elif isinstance(node, Concat):
                    a = torch.cat(ins, dim=1)
                else:
                    a = ins[0]
                values[n] = activations[node.activation](a) if node.activation != "identity" else a
            return values[graph.output]

    return WavetrainModule()
