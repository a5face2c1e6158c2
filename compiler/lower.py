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
    Integrator,
    Junction,
    LossLoad,
    Nonlinearity,
    ParameterPort,
    Source,
    TransmissionLine,
)
from wavetrain.compiler import names
from wavetrain.compiler.network import Dense, Network
from wavetrain.errors import ConfigError, LoweringError

LEARNING_KINDS = ("resistor", "momentum")
PORT_CAPACITANCE = 1e-9  # [F]; the learning rate sets the port resistance R = 1 / (eta C)


def _lower_dense(layer: Dense, l: int, depth: int, nu: float, z0: float, tick: float) -> list[Element]:
    n_out = layer.out_features
    forward_out = names.s(l) if nu == 1.0 else names.drive(l)
    back_out = None if l == 1 else (names.lam(l - 1) if nu == 1.0 else names.back_drive(l - 1))
    elements: list[Element] = [
        Junction(
            name=names.junction(l),
            a=names.s_far(l - 1),
            b=names.pre(l),
            back_in=names.delta(l),
            back_out=back_out,
            weight=layer.weight,
            bias=layer.bias,
        ),
        Nonlinearity(
            name=names.nonlinearity(l),
            a=names.pre(l),
            b=forward_out,
            lam=names.lam_far(l),
            delta=names.delta(l),
            width=n_out,
            activation=layer.activation,
        ),
    ]
    if nu != 1.0:
        elements.append(
            Integrator(name=names.hold_s(l), a=names.drive(l), b=names.s(l), held=names.s_far(l), width=n_out, gain=nu)
        )
        elements.append(
            Integrator(
                name=names.hold_lam(l),
                a=names.back_drive(l),
                b=names.lam(l),
                held=names.lam_far(l),
                width=n_out,
                gain=nu,
            )
        )
    elements.append(
        TransmissionLine(name=names.forward_line(l), a=names.s(l), b=names.s_far(l), width=n_out, z0=z0, delay=tick)
    )
    elements.append(
        TransmissionLine(
            name=names.backward_line(l), a=names.lam(l), b=names.lam_far(l), width=n_out, z0=z0, delay=tick
        )
    )
    return elements


LOWERINGS: dict[type, Callable[..., list[Element]]] = {Dense: _lower_dense}


def _port(l: int, learning: str | None, eta: float, tau_m: float) -> ParameterPort:
    if learning is None:
        return ParameterPort(name=names.port(l), junction=names.junction(l), kind="probe")
    resistance = 1.0 / (eta * PORT_CAPACITANCE)
    inductance = tau_m * resistance if learning == "momentum" else None
    return ParameterPort(
        name=names.port(l),
        junction=names.junction(l),
        kind=learning,
        resistance=resistance,
        capacitance=PORT_CAPACITANCE,
        inductance=inductance,
    )


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
    for index, layer in enumerate(network.layers):
        if type(layer) not in LOWERINGS:
            supported = ", ".join(sorted(k.__name__ for k in LOWERINGS))
            raise LoweringError(f"layer {index} ({type(layer).__name__}) has no lowering; supported: {supported}")
    if learning is not None and learning not in LEARNING_KINDS:
        raise ConfigError(f"lower: learning must be None or one of {LEARNING_KINDS}, got {learning!r}")
    if not (isinstance(courant, (int, float)) and 0.0 < courant <= 1.0):
        raise ConfigError(f"lower: courant must be in (0, 1] for a circuit, got {courant!r}")
    for what, value in (("eta", eta), ("tau_m", tau_m), ("tick", tick), ("z0", z0)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ConfigError(f"lower: {what} must be a positive number, got {value!r}")
    x = np.zeros((1, network.sizes[0])) if x is None else network.check_input(x)
    t = np.zeros((len(x), network.sizes[-1])) if y is None else network.targets(y, len(x))
    nu, depth = float(courant), network.depth
    elements: list[Element] = [Source(name=names.INPUT, b=names.s(0), values=x, rise=tick * 1e-2)]
    for l, layer in enumerate(network.layers, start=1):
        elements += LOWERINGS[type(layer)](layer, l, depth, nu, z0, tick)
    loss_out = names.lam(depth) if nu == 1.0 else names.back_drive(depth)
    elements.append(LossLoad(name=names.LOSS, a=names.s_far(depth), b=loss_out, target=t, loss=network.loss))
    if gradients or learning is not None:
        elements += [_port(l, learning, eta, tau_m) for l in range(1, depth + 1)]
    meta = {"sizes": network.sizes, "loss": network.loss, "courant": nu, "depth": depth, "learning": learning}
    return Circuit(
        name=_circuit_name(network.name),
        elements=tuple(elements),
        batch=len(x),
        tick=tick,
        inputs=(names.s(0),),
        outputs=(names.s_far(depth),),
        meta=meta,
    )


def _circuit_name(name: str) -> str:
    from wavetrain.circuits import check_name
    from wavetrain.errors import CircuitError

    try:
        return check_name(name, "network name")
    except CircuitError as err:
        raise LoweringError(f"network {name!r} cannot name a circuit: {err}") from err
