"""Lowering: Network -> Circuit, one bundle element per layer-sized group (spec 1.4-1.6, 1.10, 6).

Layer l (1..L) becomes, at Courant number 1 (tick = one line delay):
  junction j{l}  reads s{l-1}r, drives a{l} = W_l s_{l-1} + b_l     and drives lam{l-1} = W_l^T d{l} (l > 1)
  act{l}         drives s{l} = sigma(a{l})                          and d{l} = sigma'(a{l}) * lam{l}r
  line fl{l}     s{l} -> s{l}r (forward wave)     line bl{l}   lam{l} -> lam{l}r (backward wave)
  port p{l}      reads the gradient g_l = d{l}^T s{l-1}r; in the learning circuit it integrates it into the weights
The input clamp drives x (= s0), and the loss load reads s{L}r and drives lam{L} = dC/ds_L / batch.
Below Courant number 1 each cell drives its line through a sample-and-hold integrator (hs{l}, hl{l}) whose held value
is its own line's far end, one tick old. Terminations are added by the terminate_ports pass.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from wavetrain.circuits import (
    Circuit,
    Element,
    InductivePort,
    Junction,
    LossLoad,
    Nonlinearity,
    ParameterPort,
    ProbePort,
    ResistivePort,
    SampleHold,
    Source,
    TransmissionLine,
)
from wavetrain.compiler import names
from wavetrain.compiler.network import Dense, Network
from wavetrain.errors import ConfigError, LoweringError

LEARNING_KINDS = ("resistor", "momentum")
PORT_CAPACITANCE = 1e-9  # [F]; the learning rate sets the port resistance R = 1 / (eta C)


def _lower_dense(layer: Dense, n: str, before: str | None, nu: float, z0: float, tick: float) -> list[Element]:
    """Node ``n`` (its input node ``before``, None for the first layer): junction, cell, holds, the two lines."""
    n_out = layer.out_features
    forward_out = names.s(n) if nu == 1.0 else names.drive(n)
    back_out = None if before is None else (names.lam(before) if nu == 1.0 else names.back_drive(before))
    elements: list[Element] = [
        Junction(
            name=names.junction(n),
            a=names.X if before is None else names.s_far(before),
            b=names.pre(n),
            back_in=names.delta(n),
            back_out=back_out,
            weight=layer.weight,
            bias=layer.bias,
            node=n,
        ),
        Nonlinearity(
            name=names.nonlinearity(n),
            a=names.pre(n),
            b=forward_out,
            lam=names.lam_far(n),
            delta=names.delta(n),
            width=n_out,
            activation=layer.activation,
            node=n,
        ),
    ]
    if nu != 1.0:
        elements.append(
            SampleHold(
                name=names.hold_s(n), a=names.drive(n), b=names.s(n), held=names.s_far(n), width=n_out, gain=nu, node=n
            )
        )
        elements.append(
            SampleHold(
                name=names.hold_lam(n),
                a=names.back_drive(n),
                b=names.lam(n),
                held=names.lam_far(n),
                width=n_out,
                gain=nu,
                node=n,
            )
        )
    for line, a, b, wave in (
        (names.forward_line(n), names.s(n), names.s_far(n), "forward"),
        (names.backward_line(n), names.lam(n), names.lam_far(n), "backward"),
    ):
        elements.append(TransmissionLine(name=line, a=a, b=b, width=n_out, z0=z0, delay=tick, node=n, wave=wave))
    return elements


LOWERINGS: dict[type, Callable[..., list[Element]]] = {Dense: _lower_dense}  # per layer type of a chain


def _port(n: str, learning: str | None, eta: float, tau_m: float) -> ParameterPort:
    ids = {"name": names.port(n), "junction": names.junction(n), "node": n}
    if learning is None:
        return ProbePort(**ids)
    resistance = 1.0 / (eta * PORT_CAPACITANCE)
    if learning == "momentum":
        return InductivePort(**ids, resistance=resistance, capacitance=PORT_CAPACITANCE, inductance=tau_m * resistance)
    return ResistivePort(**ids, resistance=resistance, capacitance=PORT_CAPACITANCE)


def lower(
    network: Network,
    x: Any = None,
    y: Any = None,
    *,
    courant: float = 1.0,
    tick: float = 1e-9,
    z0: float = 50.0,
    gradients: bool = True,
    learning: str | None = None,
    eta: float = 1e8,
    tau_m: float = 1e-8,
) -> Circuit:
    """Map each layer to a junction, an activation cell and two line bundles; clamp the input, load the output.

    x, y: the batch the circuit is driven with (default: one zero sample). learning: None (frozen weights; ports only
    probe the gradient when ``gradients``), "resistor" (gradient flow, d theta/dt = -eta g [eta in 1/s]) or
    "momentum" (tau_m theta'' + theta' = -eta g).
    """
    if not isinstance(network, Network):
        raise LoweringError(f"lower: expected a Network, got {type(network).__name__}")
    if not network.is_chain:
        g = network.graph
        odd = next(n for n in g.order if type(g.node(n)).__name__ != "Linear" or len(g.preds[n]) != 1
                   or len(g.succs[n]) > 1)  # fmt: skip
        raise LoweringError(
            f"lower: node {odd!r} ({type(g.node(odd)).__name__}, inputs {list(g.preds[odd])}) has no circuit lowering "
            f"yet: circuits are built for chains of dense layers (graphs run on the emulator)"
        )
    if learning is not None and learning not in LEARNING_KINDS:
        raise ConfigError(f"lower: learning must be None or one of {LEARNING_KINDS}, got {learning!r}")
    if isinstance(courant, bool) or not (isinstance(courant, (int, float)) and 0.0 < courant <= 1.0):
        raise ConfigError(f"lower: courant must be in (0, 1] for a circuit, got {courant!r}")
    for what, value in (("eta", eta), ("tau_m", tau_m), ("tick", tick), ("z0", z0)):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ConfigError(f"lower: {what} must be a positive number, got {value!r}")
    x = np.zeros((1, network.sizes[0])) if x is None else network.check_input(x)
    t = np.zeros((len(x), network.sizes[-1])) if y is None else network.targets(y, len(x))
    nu, ids = float(courant), network.ids
    elements: list[Element] = [Source(name=names.INPUT, b=names.X, values=x, rise=tick * 1e-2)]
    for k, (n, layer) in enumerate(zip(ids, network.layers)):
        elements += LOWERINGS[type(layer)](layer, n, ids[k - 1] if k else None, nu, z0, tick)
    last = ids[-1]
    loss_out = names.lam(last) if nu == 1.0 else names.back_drive(last)
    elements.append(LossLoad(name=names.LOSS, a=names.s_far(last), b=loss_out, target=t, loss=network.loss))
    if gradients or learning is not None:
        elements += [_port(n, learning, eta, tau_m) for n in ids]
    # NOTE: "nodes" is the network's node order: a target maps an element's node id to its place in the machine
    meta = {"sizes": network.sizes, "nodes": ids, "loss": network.loss, "courant": nu, "depth": network.depth,
            "learning": learning}  # fmt: skip
    return Circuit(
        name=_circuit_name(network.name),
        elements=tuple(elements),
        batch=len(x),
        tick=tick,
        inputs=(names.X,),
        outputs=(names.s_far(last),),
        meta=meta,
    )


def _circuit_name(name: str) -> str:
    from wavetrain.circuits import check_name
    from wavetrain.errors import CircuitError

    try:
        return check_name(name, "network name")
    except CircuitError as err:
        raise LoweringError(f"network {name!r} cannot name a circuit: {err}") from err
