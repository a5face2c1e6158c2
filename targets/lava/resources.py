"""The resource and cost report of a network on the library-process machine (the ``loihi2`` target).

Counted from the process plan (targets/lava/library.py): processes, neurons, synapses (connections with a weight:
the structural nonzeros; a Dense stores every entry, so its memory counts the full matrix), neurocores at Loihi 2's
per-core limits, and timesteps per training sample. The energy and latency per sample are an **estimate**: the
operation counts of one training sample (synaptic operations from the activity measured on data, neuron updates,
messages) times published per-operation figures, in the units of Renner et al. (Nature Communications 15:9691,
2024, table 1: mJ and ms per training sample; their exact backprop on Loihi 1, 400-400-10 on MNIST: 0.59 mJ, 1.5 ms).

Per-operation figures (``COSTS``): Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip Learning",
IEEE Micro 38(1):82-99, 2018, table 2 (p. 96), "Loihi pre-silicon performance and energy measurements": figures
from pre-silicon SDF and SPICE simulations of Loihi 1 (14 nm), which the paper calls "consistent with early
post-silicon characterization" (p. 95), not measurements of a chip. The rows used: energy per synaptic spike op
(min) 23.6 pJ, time per synaptic spike op (max) 3.5 ns, energy / time per neuron update (active) 81 pJ / 8.4 ns
(inactive 52 pJ / 5.3 ns), within-tile spike energy 1.7 pJ (a tile hop adds 3.0 pJ east-west, 4.0 pJ north-south;
not counted), mesh-wide barrier sync time 113-465 ns for 1-32 tiles (the upper figure is used). Checked against a
verbatim transcription of the table's rows (a public research note on Loihi's published constants, found through
the code index; the paper itself was not at hand), which agree with every figure here; the voltage the rows hold at
was not checked. The synaptic figure is a minimum energy and the time a maximum, so the estimate bounds the
synaptic energy from below. Intel has not published Loihi 2's figures in that form; the estimate is dynamic energy
only (no static power, no host or I/O energy) and counts every neuron as active every timestep, so read it as an
estimate of scale from a Loihi 1 simulation, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from wavetrain.emulator.loihi2 import LIMITS, LOSS_LATENCY

# Davies et al. 2018 (IEEE Micro 38(1):82-99), table 2 (p. 96), Loihi 1 pre-silicon: energy [J], time [s]
COSTS = {
    "synop_energy": 23.6e-12,  # "energy per synaptic spike op (min)" (one weight applied to one message)
    "synop_time": 3.5e-9,  # "time per synaptic spike op (max)"
    "neuron_energy": 81e-12,  # "energy per neuron update (active / inactive)": 81 / 52 pJ; active used
    "neuron_time": 8.4e-9,  # "time per neuron update (active / inactive)": 8.4 / 5.3 ns
    "spike_energy": 1.7e-12,  # "within-tile spike energy" (a tile hop adds 3.0 / 4.0 pJ E-W / N-S; not counted)
    "host_message_energy": 0.0,  # messages to and from the host: not in the table (the x86 and I/O energy)
    "barrier_time": 465e-9,  # "mesh-wide barrier sync time (1-32 tiles)": 113-465 ns; the upper figure
}
SYNAPSE_BYTES = {"Dense": 1.0, "DelayDense": 1.75, "Sparse": 3.0}  # per stored weight: 8 bits (+ 6 delay bits,
# + a 16-bit index for a sparse entry): an assumption about Loihi 2's synapse encodings, not a published layout


def nonzeros(the_plan: Any, syn: Any) -> int:
    """Structural nonzeros of a synapse (its connections)."""
    from wavetrain.targets.lava.library import operator

    g = the_plan.graph
    if syn.role in ("forward", "backward"):
        if syn.kind == "Dense":
            return int(syn.shape[0] * syn.shape[1])
        return int(np.count_nonzero(operator(g, syn.node, syn.index)))
    return int(syn.shape[0])  # bias (one per neuron), derivative and loss synapses (identities)


def count(the_plan: Any) -> dict[str, Any]:
    """On-chip neurons and synapses of a plan, and the node holding the most of each."""
    per_node_neurons: dict[str, int] = {}
    per_node_synapses: dict[str, int] = {}
    neurons = synapses = 0
    for neuron in the_plan.neurons:
        if not neuron.host:
            neurons += neuron.size
            key = neuron.node or neuron.name
            per_node_neurons[key] = per_node_neurons.get(key, 0) + neuron.size
    for syn in the_plan.synapses:
        nnz = nonzeros(the_plan, syn)
        synapses += nnz
        per_node_synapses[syn.node] = per_node_synapses.get(syn.node, 0) + nnz
    largest = {"neurons": max(per_node_neurons, key=per_node_neurons.__getitem__),
               "synapses": max(per_node_synapses, key=per_node_synapses.__getitem__)}  # fmt: skip
    return {"neurons": neurons, "synapses": synapses, "largest": largest}


@dataclass
class Report:
    """Resources and the per-sample cost estimate of one network on the library-process machine."""

    network: str
    processes: int  # Lava processes on chip (neurons and synapses)
    host_processes: int  # RingBuffers (input, target) and, when training, one port per parametric node
    neurons: int
    synapses: int
    synapse_bytes: int
    cores: int  # neurocores at 8,192 neurons and 128 KiB of synapses each
    timesteps_per_sample: int  # pipelined: a new sample every timestep
    latency_timesteps: int  # one sample's forward and backward pass, input to the last port
    synops_per_sample: float  # graded messages times their fan-out, at the activity measured on the data
    neuron_updates_per_sample: int
    spikes_per_sample: float
    host_messages_per_sample: int  # values the host port receives per sample (inputs + sensitivities)
    host_writes_per_update: int  # weights and biases the ports write per learning epoch (both copies of W)
    energy_per_sample: float  # [J] estimate
    time_per_timestep: float  # [s] estimate: the busiest core's work plus the barrier
    latency_per_sample: float  # [s] estimate, one sample alone (latency_timesteps timesteps)
    activity: dict[str, float] = field(default_factory=dict)  # fraction of nonzero messages per node
    per_core: dict[str, int] = field(default_factory=dict)  # cores per neuron population
    costs: dict[str, float] = field(default_factory=lambda: dict(COSTS))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """The report as Markdown rows (quantity, value)."""
        rows = [
            ("processes on chip / on the host", f"{self.processes} / {self.host_processes}"),
            ("neurons", f"{self.neurons:,}"),
            ("synapses (connections)", f"{self.synapses:,} ({self.synapse_bytes / 1024:,.0f} KiB)"),
            ("neurocores (8,192 neurons, 128 KiB each)", f"{self.cores} of {LIMITS['cores']}"),
            ("timesteps per training sample (pipelined)", f"{self.timesteps_per_sample}"),
            ("latency of one sample [timesteps]", f"{self.latency_timesteps}"),
            ("synaptic operations per sample", f"{self.synops_per_sample:,.0f}"),
            ("neuron updates per sample", f"{self.neuron_updates_per_sample:,}"),
            ("host messages per sample / writes per update", f"{self.host_messages_per_sample:,} / "
             f"{self.host_writes_per_update:,}"),
            ("energy per sample (estimate)", f"{self.energy_per_sample * 1e3:.3g} mJ"),
            ("time per timestep (estimate)", f"{self.time_per_timestep * 1e6:.3g} us"),
            ("latency per sample (estimate)", f"{self.latency_per_sample * 1e3:.3g} ms"),
        ]  # fmt: skip
        return "\n".join(["| quantity | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def report(net: Any, activity: dict[str, float] | None = None, training: bool = True, batch: int = 32) -> Report:
    """The resource and cost report of ``net`` on the pipelined library machine (``activity``: the fraction of
    nonzero messages per node, default 1: every neuron sends every timestep; :func:`measure_activity` measures it)."""
    from wavetrain.targets.lava.library import plan

    g = net.graph
    the_plan = plan(g, stream=True)
    totals = count(the_plan)
    act = {n: 1.0 for n in g.order} | {"x": 1.0} | dict(activity or {})
    synops = 0.0
    spikes = 0.0
    synapse_bytes = 0.0
    incoming: dict[str, float] = {}
    for syn in the_plan.synapses:
        nnz = nonzeros(the_plan, syn)
        stored = syn.shape[0] * syn.shape[1] if syn.kind != "Sparse" else nnz
        synapse_bytes += stored * SYNAPSE_BYTES[syn.kind]
        incoming[syn.dst] = incoming.get(syn.dst, 0.0) + stored * SYNAPSE_BYTES[syn.kind]
        source = syn.src[2:] if syn.src.startswith(("F_", "S_")) else syn.src
        rate = act.get(source, 1.0) if syn.role in ("forward", "derivative") else 1.0
        synops += nnz * rate
    for neuron in the_plan.neurons:
        if not neuron.host:
            spikes += neuron.size * act.get(neuron.node or "", 1.0)
    per_core = {}
    busiest = 0.0
    for neuron in the_plan.neurons:
        if neuron.host:
            continue
        cores = max(math.ceil(neuron.size / LIMITS["neurons_per_core"]),
                    math.ceil(incoming.get(neuron.name, 0.0) / LIMITS["synapse_bytes_per_core"]), 1)  # fmt: skip
        per_core[neuron.name] = cores
        work = sum(nonzeros(the_plan, s) for s in the_plan.synapses if s.dst == neuron.name) / cores
        busiest = max(busiest, work * COSTS["synop_time"] + neuron.size / cores * COSTS["neuron_time"])
    host = sum(math.prod(g.shape[g.preds[q][0]]) + math.prod(g.shape[q]) for q in g.parametric) if training else 0
    writes = sum(2 * math.prod(net.param_dict()[q][0].shape) + net.param_dict()[q][1].size for q in g.parametric)
    step = busiest + COSTS["barrier_time"]
    latency = 2 * g.depth + LOSS_LATENCY + 1
    energy = synops * COSTS["synop_energy"] + totals["neurons"] * COSTS["neuron_energy"] + spikes * COSTS[
        "spike_energy"] + host * COSTS["host_message_energy"]  # fmt: skip
    chip = [n for n in the_plan.neurons if not n.host]
    return Report(
        network=net.describe(),
        processes=len(chip) + len(the_plan.synapses),
        host_processes=2 + (len(g.parametric) if training else 0),
        neurons=totals["neurons"],
        synapses=totals["synapses"],
        synapse_bytes=int(synapse_bytes),
        cores=sum(per_core.values()),
        timesteps_per_sample=1,
        latency_timesteps=latency,
        synops_per_sample=synops,
        neuron_updates_per_sample=totals["neurons"],
        spikes_per_sample=spikes,
        host_messages_per_sample=host,
        host_writes_per_update=writes if training else 0,
        energy_per_sample=energy,
        time_per_timestep=step,
        latency_per_sample=latency * step,
        activity={k: float(v) for k, v in act.items()},
        per_core=per_core,
    )


def measure_activity(net: Any, sub: Any, x: Any) -> dict[str, float]:
    """The fraction of nonzero graded messages each node sends, on the samples x (the forward wave on ``sub``):
    a graded neuron sends only where its value is nonzero, so this sets the synaptic operations."""
    from wavetrain.emulator import cells
    from wavetrain.emulator.ops import to_internal

    m = net.machine(sub)
    xs = net.check_input(x).astype(np.float64)
    sweep = cells.forward_sweep(m, xs)
    out = {n: float(np.mean(sweep.s[n] != 0)) for n in net.graph.order}
    out["x"] = float(np.mean(to_internal(xs, net.graph.input_shape) != 0))
    return out
