"""The ``loihi2`` target: the wave machine built only from Lava's library processes, one sample per timestep.

:func:`plan` maps a network (chain or graph) onto processes, as data (no Lava needed: the resource report reads it):

  per node n      F_n   GradedReluVec (relu) or GradedVec (identity), vth 0: s_n = a_n, the forward wave
                  S_n   ProdNeuron (relu: delta = sigma' lam) or GradedVec (identity: delta = lam), vth 0
                  W_n_j the forward junction from input j: Dense (Linear), Sparse (conv, pool, flatten, concat, add,
                        act), DelayDense where the graph's matched delay lines are (unequal paths that meet)
                  B_n   the bias: a binary Dense from the bias unit (parametric nodes)
                  D_n   sigma'(a_n): a binary Dense (the spike event of F_n is sigma' of relu) into S_n's a_in1; in
                        the pipelined machine a DelayDense holding it 2 (D - level) + 2 timesteps (the stash)
                  T_n_j the backward junction M^T: a second Dense / Sparse holding the transposed weights, into the
                        sensitivity of input j (fan-out: Lava sums every synapse at an InPort)
  shared          bias  a LIF firing every timestep (du = dv = 4095, vth 0, bias 1)
                  E     GradedVec: E = y - t from Dense Y (identity) and Dense Tt (-identity), then C, a DelayDense
                        of delay 1 shifting E onto lam_out's grid, into S_out: the mse loss load (latency 3)
  host side       x, t  RingBuffers sending the input's and the target's mantissas (the clamp and the target: data
                        come from the host, on a Loihi 2 system through its embedded I/O)
                  ports one per parametric node, only when training (targets/lava/host): Lava's learning engine
                        cannot express dW = -eta delta s^T (docs/lava.md: 7-bit unsigned traces, one product per
                        epoch, the pre-trace is the current sample's), so the smallest host process does it
                  sinks RingBuffers recording waves (the relaxation's history, the outputs)

Every synapse takes one timestep (a DelayDense 1 + delay), every neuron none, so a relaxation from zero waves with
one sample clamped holds the emulator's tick k (:func:`wavetrain.emulator.relax` on the LoihiLibrary substrate) at
timestep k + 1 in the forward neurons and at k + 3 in the sensitivities and the waves into them (the fill of the
derivative synapse and the loss path). :func:`relax_library` runs it; :func:`stream_library` runs the pipelined
machine (:mod:`wavetrain.emulator.stream`): samples in flight, the host port updating every ``batch`` timesteps.
Both run the ``fixed_pt`` models of Lava's CPU simulator (Loihi2SimCfg) and stop every worker however they end.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from wavetrain.compiler.graph import INPUT, AvgPool, Graph, Linear
from wavetrain.emulator import ops
from wavetrain.emulator.loihi2 import (
    LIMITS,
    LOSS_LATENCY,
    LoihiLibrary,
    calibrate_library,
    check_library,
    mantissas,
    quantize_targets,
    stash_delay,
)
from wavetrain.emulator.relax import History, Relaxation, check_ticks
from wavetrain.emulator.stream import epoch_length, epoch_orders
from wavetrain.errors import ChipError, ConfigError, SimulationError

TIMEOUT = 600.0  # [s] default limit of one Lava run


@dataclass(frozen=True)
class Neuron:
    """One population of library neurons (or a host-side process): ``kind`` is the Lava process class."""

    name: str
    kind: str
    size: int
    role: str  # forward, sensitivity, bias, error, input, target
    node: str | None = None
    host: bool = False


@dataclass(frozen=True)
class Synapse:
    """One synapse process from neuron ``src`` into the InPort ``port`` of neuron ``dst``; ``shape`` (out, in)."""

    name: str
    node: str
    role: str  # forward, bias, derivative, backward, loss
    src: str
    dst: str
    port: str
    shape: tuple[int, int]
    delay: int = 0
    binary: bool = False
    index: int = 0  # which input of the node (forward, backward)
    kind: str = "Dense"  # Dense, Sparse or DelayDense


@dataclass(frozen=True)
class Plan:
    """The process graph of one network: neurons and synapses; ``stream`` the pipelined machine's stash."""

    graph: Graph
    neurons: tuple[Neuron, ...]
    synapses: tuple[Synapse, ...]
    stream: bool


def _size(graph: Graph, n: str) -> int:
    return math.prod(graph.shape[n])


def lam_port(graph: Graph, n: str) -> str:
    """The InPort of node n's sensitivity neuron that sums its backward waves."""
    return "a_in2" if graph.activation(n) == "relu" else "a_in"


def plan(graph: Graph, stream: bool = False) -> Plan:
    """The library processes of ``graph`` (see the module docstring); structure only, no weights."""
    neurons = [Neuron("x", "RingBuffer", _size(graph, INPUT), "input", host=True), Neuron("bias", "LIF", 1, "bias")]
    synapses = []
    for n in graph.order:
        relu = graph.activation(n) == "relu"
        size = _size(graph, n)
        neurons.append(Neuron(f"F_{n}", "GradedReluVec" if relu else "GradedVec", size, "forward", n))
        neurons.append(Neuron(f"S_{n}", "ProdNeuron" if relu else "GradedVec", size, "sensitivity", n))
        sparse = not isinstance(graph.node(n), Linear)
        for j, p in enumerate(graph.preds[n]):
            delay = graph.delay[(p, n)]
            kind = "DelayDense" if delay else ("Sparse" if sparse else "Dense")
            src = "x" if p == INPUT else f"F_{p}"
            synapses.append(Synapse(f"W_{n}_{j}", n, "forward", src, f"F_{n}", "a_in", (size, _size(graph, p)),
                                    delay, index=j, kind=kind))  # fmt: skip
            if p != INPUT:
                synapses.append(Synapse(f"T_{n}_{j}", n, "backward", f"S_{n}", f"S_{p}", lam_port(graph, p),
                                        (_size(graph, p), size), delay, index=j, kind=kind))  # fmt: skip
        if n in graph.parametric:
            synapses.append(Synapse(f"B_{n}", n, "bias", "bias", f"F_{n}", "a_in", (size, 1), binary=True))
        if relu:
            delay = stash_delay(graph, n) if stream else 0
            synapses.append(Synapse(f"D_{n}", n, "derivative", f"F_{n}", f"S_{n}", "a_in1", (size, size), delay,
                                    binary=True, kind="DelayDense" if delay else "Dense"))  # fmt: skip
    out, k = graph.output, _size(graph, graph.output)
    neurons += [Neuron("t", "RingBuffer", k, "target", host=True), Neuron("E", "GradedVec", k, "error", out)]
    synapses += [
        Synapse("Y", out, "loss", f"F_{out}", "E", "a_in", (k, k)),
        Synapse("Tt", out, "loss", "t", "E", "a_in", (k, k)),
        Synapse("C", out, "loss", "E", f"S_{out}", lam_port(graph, out), (k, k), LOSS_LATENCY - 2, kind="DelayDense"),
    ]
    return Plan(graph, tuple(neurons), tuple(synapses), stream)


# --- the integer weights of every synapse ----------------------------------------------------------------------


def operator(graph: Graph, n: str, j: int, W: np.ndarray | None = None) -> np.ndarray:
    """The matrix (size of n, size of input j) of node n's junction from its input j, in the flat channels-last
    layout the processes use; parametric nodes with weights W (default ones: the structure)."""
    node = graph.node(n)
    preds = graph.preds[n]
    shapes = [ops.internal_shape(graph.shape[p]) for p in preds]
    width = math.prod(shapes[j])
    basis = np.eye(width).reshape(width, *shapes[j])
    op = ops.OPS[type(node)]
    if op is not None and op.parametric:
        weights = np.ones(graph.param_shapes()[n][0]) if W is None else np.asarray(W, dtype=np.float64)
        y = op.forward(node, [basis], weights, lambda v, x, d: v)
    else:
        ins = [basis if i == j else np.zeros((width, *s)) for i, s in enumerate(shapes)]
        y = ops.linear(node, ins, [graph.shape[p] for p in preds])
    return np.asarray(y).reshape(width, -1).T


def _pool_shift(graph: Graph, n: str) -> int:
    node = graph.node(n)
    if isinstance(node, AvgPool):
        return int(math.log2(node.kernel ** (len(graph.shape[graph.preds[n][0]]) - 1)))
    return 0


def weights(net: Any, sub: LoihiLibrary, syn: Synapse) -> tuple[np.ndarray, int, str]:
    """(the integer weights W_int, weight_exp, sign mode) of a synapse: a = shift(W_int s, weight_exp)."""
    g = net.graph
    n = syn.node
    f = sub.formats[n]
    size = syn.shape[0]
    if syn.role in ("forward", "backward") and n in g.parametric:
        W, _ = net.param_dict()[n]
        M = 2 * operator(g, n, 0, mantissas(W, f.w))
        if syn.role == "forward":
            return M, f.w + sub.in_exp[n] - f.a - 1, "mixed"
        p = g.preds[n][0]
        return M.T, f.w + f.lam - sub.formats[p].lam - 1, "mixed"
    if syn.role in ("forward", "backward"):
        p = g.preds[n][syn.index]
        shift = _pool_shift(g, n)
        M = np.rint(operator(g, n, syn.index) * 2**shift)
        if syn.role == "forward":
            src = sub.x_exp if p == INPUT else sub.formats[p].s
            return M, src - f.a - shift, "excitatory"
        return M.T, f.lam - sub.formats[p].lam - shift, "excitatory"
    if syn.role == "bias":
        _, b = net.param_dict()[n]
        node = g.node(n)
        full = ops.OPS[type(node)].add_bias(np.zeros((1, *ops.internal_shape(g.shape[n]))), mantissas(b, f.b))
        return 2 * np.asarray(full).reshape(-1, 1), f.b - f.a - 1, "mixed"
    if syn.name == "Tt":
        return -np.eye(size), 0, "inhibitory"
    if syn.name == "C":
        return np.eye(size), f.s - f.lam, "excitatory"
    return np.eye(size), 0, "excitatory"  # Y, and the derivative synapses


# --- checks ------------------------------------------------------------------------------------------------------


def check(net: Any, sub: LoihiLibrary | None = None, stream: bool = False, learn: bool = False) -> Plan:
    """Everything refused before work: the node-level checks (check_library), the chip-wide totals, and training
    on Lava beyond dense nodes. Returns the plan."""
    check_library(net, sub, stream=stream)
    if sub is not None and sub.bias_synapses != 1:
        raise ConfigError(
            f"LoihiLibrary: bias_synapses is {sub.bias_synapses}; the library machine plans one 8-bit bias Dense "
            f"per node (bias_synapses 2 is the emulator's diagnosis of a 16-bit bias, benchmarks/loihi2_diagnosis.py)"
        )
    rounded = {site: mode for site, mode in (sub.shifts if sub is not None else {}).items() if mode != "floor"}
    if rounded:
        site, mode = next(iter(rounded.items()))
        raise ConfigError(
            f"LoihiLibrary: shifts {site!r} is {mode!r}; Lava's Dense and Sparse floor every shift (a right "
            f"shift), so the library machine runs shifts 'floor' only (the other modes are the emulator's "
            f"diagnosis of what a different shift would do, benchmarks/loihi2_diagnosis.py)"
        )
    from wavetrain.targets.lava.resources import count

    the_plan = plan(net.graph, stream)
    totals = count(the_plan)
    for key in ("neurons", "synapses"):
        if totals[key] > LIMITS[key]:
            raise ChipError(f"network: {totals[key]:,} {key} on chip (the largest node {totals['largest'][key]!r}), "
                            f"expected at most {LIMITS[key]:,} on one Loihi 2 chip")  # fmt: skip
    if learn:
        other = [n for n in net.graph.parametric if not isinstance(net.graph.node(n), Linear)]
        if other:
            raise ChipError(
                f"node {other[0]!r} ({type(net.graph.node(other[0])).__name__}): training on Lava writes "
                f"dense synapses only (the host port's RefPorts); its Sparse weights would need the "
                f"convolution rebuilt per update; train it in the emulator (wavetrain.emulator.stream)"
            )
    return the_plan


# --- building and running on Lava -------------------------------------------------------------------------------


@dataclass
class Built:
    """The Lava processes of a plan, by name, and the host-side sinks and ports."""

    procs: dict[str, Any]
    sinks: dict[str, Any] = field(default_factory=dict)
    ports: dict[str, Any] = field(default_factory=dict)


def build(net: Any, sub: LoihiLibrary, the_plan: Plan, x_data: np.ndarray, t_data: np.ndarray) -> Built:
    """Lava processes for ``the_plan`` with the x and t RingBuffers' data (mantissas, one column per timestep)."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.graded.process import GradedReluVec, GradedVec
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.prodneuron.process import ProdNeuron
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    modes = {"mixed": SignMode.MIXED, "excitatory": SignMode.EXCITATORY, "inhibitory": SignMode.INHIBITORY}
    procs: dict[str, Any] = {}
    for neuron in the_plan.neurons:
        shape = (neuron.size,)
        if neuron.name == "x":
            procs["x"] = RingBuffer(data=x_data.astype(np.int32))
        elif neuron.name == "t":
            procs["t"] = RingBuffer(data=t_data.astype(np.int32))
        elif neuron.kind == "LIF":
            procs[neuron.name] = LIF(shape=shape, du=4095, dv=4095, vth=0, bias_mant=1, bias_exp=0, name="bias")
        elif neuron.kind == "GradedReluVec":
            procs[neuron.name] = GradedReluVec(shape=shape, vth=0)
        elif neuron.kind == "ProdNeuron":
            procs[neuron.name] = ProdNeuron(shape=shape, vth=0, exp=0)
        else:
            procs[neuron.name] = GradedVec(shape=shape, vth=0)
    for syn in the_plan.synapses:
        M, exp, mode = weights(net, sub, syn)
        common = {"num_message_bits": 0 if syn.binary else 24, "weight_exp": int(exp), "num_weight_bits": 8,
                  "sign_mode": modes[mode], "name": syn.name}  # fmt: skip
        M = M.astype(np.int64)
        if syn.kind == "DelayDense":
            proc = DelayDense(weights=M, delays=int(syn.delay), **common)
        elif syn.kind == "Sparse":
            proc = Sparse(weights=csr_matrix(M), **common)
        else:
            proc = Dense(weights=M, **common)
        procs[syn.name] = proc
        procs[syn.src].s_out.connect(proc.s_in)
        proc.a_out.connect(getattr(procs[syn.dst], syn.port))
    return Built(procs)


def _sink(built: Built, key: str, source: Any, size: int, steps: int) -> None:
    from lava.proc.io.sink import RingBuffer as Sink

    sink = Sink(shape=(size,), buffer=steps)
    source.connect(sink.a_in)
    built.sinks[key] = sink


def _data(sink: Any) -> np.ndarray:
    return np.asarray(sink.data.get(), dtype=np.float64)


def relax_library(
    net: Any,
    x: Any,
    y: Any,
    sub: LoihiLibrary | None = None,
    ticks: int | None = None,
    timeout: float = TIMEOUT,
) -> Relaxation:
    """The relaxation of one clamped sample from zero waves on Lava's library processes (fixed_pt), tick by tick
    (``ticks`` default 2D; the run takes ticks + 3 timesteps): the Relaxation ``relax(net, x, y, history=True,
    substrate=sub)`` returns, which it equals bit for bit. ``sub`` defaults to calibrate_library on (x, y)."""
    from wavetrain.targets.lava._compat import require_lava
    from wavetrain.targets.lava.runner import session

    require_lava()
    x = net.check_input(x).astype(np.float64)
    if len(x) != 1:
        raise ConfigError(f"target 'loihi2': the library machine holds one sample per timestep; relax one sample "
                          f"(x of one row), got {len(x)}; stream a batch with stream_library")  # fmt: skip
    sub = calibrate_library(net, x, y) if sub is None else sub
    g = net.graph
    the_plan = check(net, sub)
    ticks = check_ticks(ticks, g.depth, 1.0)
    steps = ticks + LOSS_LATENCY
    xm = mantissas(sub.signal(ops.to_internal(x, g.input_shape), "input", INPUT), sub.x_exp).reshape(-1)
    t = quantize_targets(sub, net, net.targets(y, 1))
    tm = mantissas(t, sub.formats[g.output].s).reshape(-1)
    built = build(net, sub, the_plan, np.repeat(xm[:, None], steps, axis=1), np.repeat(tm[:, None], steps, axis=1))
    for n in g.order:
        size = _size(g, n)
        _sink(built, f"s_{n}", built.procs[f"F_{n}"].s_out, size, steps)
        _sink(built, f"delta_{n}", built.procs[f"S_{n}"].s_out, size, steps)
        if g.activation(n) == "relu":
            from lava.proc.io.sink import RingBuffer as Sink

            sink = Sink(shape=(size,), buffer=steps)
            for syn in the_plan.synapses:
                if syn.dst == f"S_{n}" and syn.port == "a_in2":
                    built.procs[syn.name].a_out.connect(sink.a_in)
            built.sinks[f"lam_{n}"] = sink
    with session(built.procs["x"], [], None, "fixed_pt", timeout) as run:
        run.run(steps)
        data = {key: _data(sink) for key, sink in built.sinks.items()}
    return _relaxation(net, sub, xm, data, ticks)


def _relaxation(net: Any, sub: LoihiLibrary, xm: np.ndarray, data: dict[str, np.ndarray], ticks: int) -> Relaxation:
    g = net.graph
    inner = {p: ops.internal_shape(g.shape[p]) for p in (INPUT, *g.order)}

    def wave(key: str, n: str, column: int, exp: int) -> np.ndarray:
        values = data[key][:, column] if column >= 0 else np.zeros(data[key].shape[0])
        return np.ldexp(values, exp).reshape(1, *inner[n])

    log = History()
    x_wave = np.ldexp(xm.astype(np.float64), sub.x_exp).reshape(1, *inner[INPUT])
    for k in range(ticks + 1):
        s = {n: wave(f"s_{n}", n, k, sub.formats[n].s) for n in g.order}
        delta = {n: wave(f"delta_{n}", n, k + LOSS_LATENCY - 1, sub.formats[n].lam) for n in g.order}
        lam = {n: wave(f"lam_{n}" if g.activation(n) == "relu" else f"delta_{n}", n, k + LOSS_LATENCY - 1,
                       sub.formats[n].lam) for n in g.order}  # fmt: skip
        grads = []
        for n in g.parametric:
            p = g.preds[n][0]
            node = g.node(n)
            ins = x_wave if p == INPUT else s[p]
            grads.append(ops.OPS[type(node)].readout(node, delta[n], [ins]))
        log.s.append([ops.to_external(s[n], g.shape[n]) for n in g.order])
        log.lam.append([ops.to_external(lam[n], g.shape[n]) for n in g.order])
        log.grads.append(grads)
    return Relaxation(log.grads[-1], log.s[-1], log.lam[-1], ticks, 1.0, log, "loihi2", g.order, g.parametric,
                      net.param_names)  # fmt: skip


@dataclass
class StreamRun:
    """What :func:`stream_library` measured: per epoch the outputs (that epoch's sample order), the parameters after
    it and the port readout of its last learning epoch; timesteps and seconds on Lava."""

    outputs: list[np.ndarray] = field(default_factory=list)
    params: list[dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)
    grads: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    timesteps: int = 0
    seconds: float = 0.0
    startup: float = 0.0


def stream_library(
    net: Any,
    x: Any,
    y: Any,
    sub: LoihiLibrary,
    epochs: int = 1,
    batch: int | None = None,
    lr: float = 0.0,
    momentum: float = 0.0,
    seed: int | None = None,
    timeout: float = TIMEOUT,
    callback: Callable[[int, StreamRun], None] | None = None,
) -> StreamRun:
    """The pipelined machine on Lava's library processes (fixed_pt): ``epochs`` passes of (x, y), one sample per
    timestep (shuffled per epoch with ``seed``, or in order), each followed by its drain; with lr > 0 the host ports
    update ``net``'s weights every ``batch`` timesteps (the parameters come back into ``net`` after every epoch).
    :func:`wavetrain.emulator.stream.run_stream` with the same arguments gives the same numbers bit for bit."""
    from wavetrain.targets.lava._compat import require_lava

    require_lava()
    from wavetrain.targets.lava.host.process import HostPort
    from wavetrain.targets.lava.runner import session

    learn = lr > 0 and batch is not None
    g = net.graph
    the_plan = check(net, sub, stream=True, learn=learn)
    x = net.check_input(x).astype(np.float64)
    t = quantize_targets(sub, net, net.targets(y, len(x)))
    n, D = len(x), g.depth
    length = epoch_length(D, n)
    xm = mantissas(sub.signal(ops.to_internal(x, g.input_shape), "input", INPUT), sub.x_exp).reshape(n, -1)
    tm = mantissas(t, sub.formats[g.output].s).reshape(n, -1)
    x_data = np.zeros((xm.shape[1], epochs * length), np.int64)
    t_data = np.zeros((tm.shape[1], epochs * length), np.int64)
    for e, order in enumerate(epoch_orders(n, epochs, seed)):
        x_data[:, e * length : e * length + n] = xm[order].T  # NOTE: sample i enters at timestep i + 1
        t_data[:, e * length + D : e * length + D + n] = tm[order].T  # and meets E with its output, D later
    built = build(net, sub, the_plan, x_data, t_data)
    steps = epochs * length
    _sink(built, "y", built.procs[f"F_{g.output}"].s_out, _size(g, g.output), steps)
    settings = sub.describe()
    settings.pop("name")
    out = StreamRun()
    with tempfile.TemporaryDirectory(prefix="wavetrain-loihi2-") as box:
        for q in g.parametric:
            p = g.preds[q][0]
            f = sub.formats[q]
            W, b = net.param_dict()[q]
            port = HostPort(n_in=_size(g, p), n_out=_size(g, q), name=f"port_{q}", node=q, graph=g.to_dict(),
                            settings=settings, in_level=0 if p == INPUT else g.level[p], level=g.level[q], depth=D,
                            samples=n, length=length, batch=batch if learn else None, lr=float(lr),
                            momentum=float(momentum), k=mantissas(W, f.w), kb=mantissas(b, f.b),
                            transpose=p != INPUT, outbox=box)  # fmt: skip
            built.procs["x" if p == INPUT else f"F_{p}"].s_out.connect(port.s_in)
            built.procs[f"S_{q}"].s_out.connect(port.delta_in)
            if learn:
                port.w_ref.connect_var(built.procs[f"W_{q}_0"].weights)
                port.b_ref.connect_var(built.procs[f"B_{q}"].weights)
                if p != INPUT:
                    port.wt_ref.connect_var(built.procs[f"T_{q}_0"].weights)
            built.ports[q] = port
        began = time.perf_counter()
        with session(built.procs["x"], [], None, "fixed_pt", timeout) as run:
            for e in range(epochs):
                start = time.perf_counter()
                run.run(length)
                out.seconds += time.perf_counter() - start
                if e == 0:
                    out.startup = time.perf_counter() - began - out.seconds
                out.timesteps += length
                _collect(net, sub, box, out)
                if callback is not None:
                    callback(e, out)
            ys = _data(built.sinks["y"])
    exp = sub.formats[g.output].s
    for e in range(epochs):
        rows = ys[:, e * length + D : e * length + D + n].T  # NOTE: sample i's output at timestep i + 1 + D
        out.outputs.append(ops.to_external(np.ldexp(rows, exp).reshape(n, *ops.internal_shape(g.shape[g.output])),
                                           g.shape[g.output]))  # fmt: skip
    return out


def _collect(net: Any, sub: LoihiLibrary, box: str, out: StreamRun) -> None:
    """The ports' outboxes after an epoch: the parameters (into ``net``) and the readout."""
    params = {}
    for q, (W, b) in net.param_dict().items():
        path = os.path.join(box, f"port_{q}.npz")
        try:
            with np.load(path) as saved:
                k, kb, G, gb = saved["k"], saved["kb"], saved["G"], saved["gb"]
        except OSError as err:
            raise SimulationError(f"target 'loihi2': the port of node {q!r} left no results: {err}") from err
        f = sub.formats[q]
        W[...] = np.ldexp(k.astype(np.float64), f.w)
        b[...] = np.ldexp(kb.astype(np.float64), f.b)
        params[q] = (W.copy(), b.copy())
        out.grads[q] = (np.ldexp(G.astype(np.float64), f.lam + sub.in_exp[q]), np.ldexp(gb.astype(np.float64), f.lam))
    out.params.append(params)


class Loihi2Target:
    """The ``loihi2`` machine target: relaxations of one sample on Lava's library processes (fixed_pt)."""

    name = "loihi2"
    kind = "machine"

    def __init__(self, substrate: LoihiLibrary | None = None, timeout: float = TIMEOUT) -> None:
        from wavetrain.targets.lava._compat import require_lava

        if substrate is not None and not isinstance(substrate, LoihiLibrary):
            raise ConfigError(f"target 'loihi2': substrate must be a LoihiLibrary, got {type(substrate).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"target 'loihi2': timeout must be a number of seconds > 0, got {timeout!r}")
        require_lava()
        self.substrate, self.timeout = substrate, float(timeout)

    def relax(self, net: Any, x: np.ndarray, t: np.ndarray, ticks: int, courant: float = 1.0,
              history: bool = False) -> Relaxation:  # fmt: skip
        if courant != 1.0:
            raise ConfigError(f"target 'loihi2': courant must be 1 (one synapse per tick), got {courant}")
        return relax_library(net, x, t, self.substrate, ticks, self.timeout)
