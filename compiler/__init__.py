"""The compiler: the input graph (:class:`Network`), its lowering to a Circuit, and the passes over circuits.

``compile_network(net)`` = :func:`lower`, then the visible pipeline DEFAULT_PASSES, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from wavetrain.circuits import Circuit

if TYPE_CHECKING:
    from pathlib import Path

    from wavetrain.emulator.hardware import HardwareModel

from wavetrain.compiler.functions import ACTIVATIONS, LOSSES
from wavetrain.compiler.lower import lower  # noqa: I001  (needs network imported first)
from wavetrain.compiler.network import Dense, Network
from wavetrain.compiler.passes import match_impedances, terminate_ports, verify, with_hardware

Pass = Callable[[Circuit], Circuit]  # a pass: a valid circuit in, a valid circuit out
DEFAULT_PASSES: tuple[Pass, ...] = (match_impedances, terminate_ports, verify)


def compile_network(
    network: Network,
    passes: Sequence[Pass] = DEFAULT_PASSES,
    hardware: HardwareModel | str | Path | None = None,
    hardware_seed: int = 0,
    chip: int = 0,
    **options: Any,
) -> Circuit:
    """Lower network (options go to :func:`lower`: x, y, courant, tick, learning, ...) and run the passes in order.

    ``hardware`` (a preset, .json file or HardwareModel) appends :func:`with_hardware` (chip ``chip`` of
    ``hardware_seed``): the circuit then carries that chip's stored weights, line loss and mismatch, and leak.
    """
    if hardware is not None:
        passes = (*passes, with_hardware(hardware, hardware_seed, chip))
    circuit = lower(network, **options)
    for step in passes:
        circuit = step(circuit)
    return circuit


__all__ = [
    "ACTIVATIONS",
    "DEFAULT_PASSES",
    "LOSSES",
    "Dense",
    "Network",
    "Pass",
    "compile_network",
    "lower",
    "match_impedances",
    "terminate_ports",
    "verify",
    "with_hardware",
]
