"""Passes: pure functions Circuit -> Circuit, run in the visible order of DEFAULT_PASSES.

Cells are unilateral controlled sources (zero output impedance, infinite input impedance), so a junction isolates the
lines on its two sides and is reflectionless as soon as every line end it touches is matched (spec 1.5: the condition
Z_{l-1} = J^T Z_l J is met by construction of the buffered junction). Matching therefore reduces to line ends.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from wavetrain.circuits import Circuit, ConvJunction, Junction, Source, Termination, TransmissionLine, verify
from wavetrain.circuits.circuit import impedance_problems, structural_problems
from wavetrain.compiler import names
from wavetrain.compiler.graph import Graph, Linear
from wavetrain.errors import CircuitError, LoweringError

__all__ = ["impedance_problems", "match_impedances", "terminate_ports", "to_crossbars", "verify", "with_hardware"]


def match_impedances(circuit: Circuit) -> Circuit:
    """Set every termination and Thevenin source on a line end to that line's z0, so no line end reflects."""
    z0_at: dict[str, float] = {}
    for line in circuit.of_type(TransmissionLine):
        z0_at.setdefault(line.a, line.z0)
        z0_at.setdefault(line.b, line.z0)
    elements = []
    for e in circuit.elements:
        if isinstance(e, Termination) and e.a in z0_at and e.resistance != z0_at[e.a]:
            e = replace(e, resistance=z0_at[e.a])
        elif isinstance(e, Source) and e.resistance > 0 and e.b in z0_at and e.resistance != z0_at[e.b]:
            e = replace(e, resistance=z0_at[e.b])
        elements.append(e)
    return replace(circuit, elements=tuple(elements))


def terminate_ports(circuit: Circuit) -> Circuit:
    """Load every line far end that nothing loads or drives with a matched resistor t{line} (absorbs the wave)."""
    terminals = circuit.terminals()
    added = []
    for line in circuit.of_type(TransmissionLine):
        roles = [role for _, role in terminals[line.b]]
        if "load" not in roles and "drive" not in roles:
            added.append(Termination(name=names.termination(line.name), a=line.b, width=line.width, resistance=line.z0))
    return replace(circuit, elements=circuit.elements + tuple(added)) if added else circuit


def with_hardware(hardware: Any, seed: int = 0, chip: int = 0) -> Callable[[Circuit], Circuit]:
    """A pass putting an emulated analog chip into a lowered circuit, where SPICE can express it.

    ``hardware``: a preset name, a .json file or a HardwareModel; ``chip``: which Monte-Carlo instance of ``seed``
    (the devices, drift exponents and line mismatches ``train(..., hardware=, seed=)`` draws for that chip; the
    programming noise is drawn anew). It writes the weights as that chip
    stores them (programming noise, device bounds, stuck devices, conductance levels, drift at t_inference) into
    every junction with weights (dense or convolution), gives every node's lines their loss, loads every terminated
    end of a node's line with z0 (1 + m) for that line's mismatch m, and gives every junction with weights its
    integrator leak. A skip's delay lines stay ideal, as the emulator's schedule holds them (docs/circuits.md).
    Read noise, converters, pulsed updates and timing
    jitter have no SPICE element here: they stay in the emulator. Run it after the impedance-matching passes (it
    mismatches on purpose, so it replaces their ``verify`` by a structural check).
    """
    from wavetrain.circuits.chip import Chip
    from wavetrain.circuits.devices import drift_factor
    from wavetrain.circuits.hardware import load_hardware

    model = load_hardware(hardware)

    def apply(circuit: Circuit) -> Circuit:
        graph = _graph_of(circuit)
        # NOTE: the chip of the network's own node ids (the devices a train(hardware=) run draws for it)
        devices = Chip(model, graph, chips=chip + 1, seed=seed)
        order = devices.index  # node id -> its row of the line arrays
        sides = {"forward": 0, "backward": 1}
        # NOTE: a node's own one-tick lines carry the chip's loss and mismatch; a skip's delay line (edge set) is
        # ideal, as the emulator's schedule holds it
        mismatch = {
            names.termination(line.name): _mismatch(devices.gamma[chip, order[line.node], sides[line.wave]])
            for line in circuit.of_type(TransmissionLine)
            if line.node in order and line.wave is not None and line.edge is None
        }
        elements = []
        for e in circuit.elements:
            if isinstance(e, (Junction, ConvJunction)) and e.node in devices.bound:
                stored = np.broadcast_to(e.weight, (chip + 1, *e.weight.shape)).copy()
                devices.program(stored, e.node)
                dev = model.device
                if dev.drift_nu and dev.t_inference > dev.drift_t0:
                    stored = stored * drift_factor(dev.t_inference, dev.drift_t0, devices.nu_drift[e.node])
                e = replace(e, weight=np.array(stored[chip]), leak=model.circuit.leak)
            elif isinstance(e, TransmissionLine) and model.circuit.line_loss and e.edge is None:
                e = replace(e, loss=model.circuit.line_loss)
            elif isinstance(e, Termination) and e.name in mismatch:
                e = replace(e, resistance=e.resistance * (1.0 + mismatch[e.name]))
            elements.append(e)
        out = replace(circuit, elements=tuple(elements), meta={**circuit.meta, "hardware": model.name})
        problems = structural_problems(out)
        if problems:
            raise CircuitError(f"circuit {out.name!r} failed verify:\n  " + "\n  ".join(problems))
        return out

    apply.__name__ = f"with_hardware({model.name!r})"
    return apply


def _graph_of(circuit: Circuit) -> Graph:
    """The graph a circuit was lowered from (a hand-made chain of junctions: that chain, nodes "1".."L")."""
    graph = circuit.meta.get("graph")
    if isinstance(graph, Graph):
        return graph
    junctions = circuit.of_type(Junction)
    if not junctions:
        raise CircuitError(f"with_hardware: circuit {circuit.name!r} has no junctions to put on a chip")
    ids = [j.node if j.node is not None else str(k + 1) for k, j in enumerate(junctions)]
    return Graph.chain((junctions[0].shape[1],), [Linear(id=n, features=j.shape[0]) for n, j in zip(ids, junctions)])


def _mismatch(gamma: float) -> float:
    """The relative mismatch m of a load whose reflection coefficient is gamma = m / (2 + m)."""
    return float(2.0 * gamma / (1.0 - gamma))


def to_crossbars(options: Any = None, hardware: Any = None) -> Callable[[Circuit], Circuit]:
    """A pass rewriting every dense junction into a :class:`~wavetrain.circuits.crossbar.Crossbar` (same nets, same
    node, the weights it holds then), the way :func:`with_hardware` rewrites junctions; run it last.

    ``options``: a CrossbarOptions, a dict of its fields, or None (an ideal array). Its unset conductance range comes
    from ``hardware``'s device model (a preset, .json or HardwareModel) or the default DeviceModel's. A convolution
    has no crossbar lowering yet (the im2col mapping, one array read per position): it is refused naming the node.
    In the learning circuit every cell is a conductance set by its weight's state capacitor (circuits/spice_crossbar).
    """
    from wavetrain.circuits.crossbar import Crossbar, CrossbarOptions
    from wavetrain.circuits.hardware import DeviceModel, load_hardware

    if options is None:
        options = CrossbarOptions()
    elif isinstance(options, dict):
        fields = set(CrossbarOptions.__dataclass_fields__)
        unknown = sorted(set(options) - fields)
        if unknown:
            raise CircuitError(f"crossbar options: unknown field {unknown[0]!r}; expected some of {sorted(fields)}")
        options = CrossbarOptions(**options)
    elif not isinstance(options, CrossbarOptions):
        raise CircuitError(
            f"crossbar options: expected a CrossbarOptions, a dict or None, got {type(options).__name__}"
        )
    device = load_hardware(hardware).device if hardware is not None else DeviceModel()
    # NOTE: the hardware model keeps its conductance range in uS
    g_min = options.g_min if options.g_min is not None else device.g_min * 1e-6
    g_max = options.g_max if options.g_max is not None else device.g_max * 1e-6
    opts = options

    def apply(circuit: Circuit) -> Circuit:
        if circuit.meta.get("learning") is not None and opts.device is not None:
            raise LoweringError(
                f"level='crossbar': circuit {circuit.name!r} is a learning circuit ({circuit.meta['learning']!r}); "
                f"its cells are state-controlled conductances, so a device subcircuit ({opts.device.subckt!r}, a "
                "fixed g) cannot be one"
            )
        for e in circuit.of_type(ConvJunction):
            raise LoweringError(
                f"level='crossbar': node {e.node!r} is a convolution ({e.name!r}); only dense junctions map onto a "
                "crossbar so far (the im2col mapping, one array read per position, is not built)"
            )
        elements = []
        for e in circuit.elements:
            if isinstance(e, Junction):
                if e.leak:
                    raise LoweringError(
                        f"level='crossbar': junction {e.name!r} (node {e.node!r}) has an integrator leak "
                        f"{e.leak:g}, which the crossbar's TIAs do not model"
                    )
                largest = max(float(np.max(np.abs(e.weight))), float(np.max(np.abs(e.bias))) if e.bias.size else 0.0)
                w_max = opts.w_max if opts.w_max is not None else (largest if largest > 0 else 1.0)
                e = Crossbar(name=e.name, a=e.a, b=e.b, back_in=e.back_in, back_out=e.back_out, weight=e.weight,
                             bias=e.bias, node=e.node, g_min=g_min, g_max=g_max, w_max=w_max, v_read=opts.v_read,
                             r_row=opts.r_row, r_col=opts.r_col, r_driver=opts.r_driver, tia=opts.tia,
                             tia_gain=opts.tia_gain, device=opts.device)  # fmt: skip
            elements.append(e)
        return replace(circuit, elements=tuple(elements), meta={**circuit.meta, "level": "crossbar"})

    apply.__name__ = "to_crossbars"
    return apply
