"""The compiler: the input graph (:class:`Network`), its lowering to a Circuit, and the passes over circuits.

``compile_network(net)`` = :func:`lower`, then the visible pipeline DEFAULT_PASSES, in order. The names from the
other modules load on first use (:mod:`wavetrain._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from wavetrain import _lazy
from wavetrain.compiler.passes import match_impedances, terminate_ports, verify

if TYPE_CHECKING:
    from pathlib import Path

    from wavetrain.circuits.circuit import Circuit
    from wavetrain.circuits.hardware import HardwareModel
    from wavetrain.compiler.network import Network

__getattr__, __dir__, _exported = _lazy.exports(
    __name__,
    {
        "wavetrain.compiler.builder": ["GraphBuilder"],
        "wavetrain.compiler.functions": ["ACTIVATIONS", "LOSSES"],
        "wavetrain.compiler.graph": ["Graph"],
        "wavetrain.compiler.models": ["PRESETS", "model"],
        "wavetrain.compiler.lower": ["lower"],
        "wavetrain.compiler.network": ["Dense", "Network"],
        "wavetrain.compiler.passes": ["to_crossbars", "with_hardware"],
    },
)

Pass = Callable[["Circuit"], "Circuit"]  # a pass: a valid circuit in, a valid circuit out
DEFAULT_PASSES: tuple[Pass, ...] = (match_impedances, terminate_ports, verify)
LEVELS = ("behavioural", "crossbar")  # how a junction is built: controlled sources, or a conductance array


def compile_network(
    network: Network,
    passes: Sequence[Pass] = DEFAULT_PASSES,
    hardware: HardwareModel | str | Path | None = None,
    hardware_seed: int = 0,
    chip: int = 0,
    level: str = "behavioural",
    crossbar: Any = None,
    **options: Any,
) -> Circuit:
    """Lower network (options go to :func:`lower`: x, y, courant, tick, learning, ...) and run the passes in order.

    ``hardware`` (a preset, .json file or HardwareModel) appends :func:`with_hardware` (chip ``chip`` of
    ``hardware_seed``): the circuit then carries that chip's stored weights, line loss and mismatch, and leak.
    ``level``: "behavioural" (every junction a set of controlled sources) or "crossbar" (appends
    :func:`to_crossbars`: every dense junction a conductance array read forward and in transpose; ``crossbar`` a
    CrossbarOptions or a dict of its fields: conductance range, wire and driver resistance, TIA, device).
    """
    from wavetrain.compiler.lower import lower
    from wavetrain.compiler.passes import to_crossbars, with_hardware
    from wavetrain.errors import ConfigError

    if level not in LEVELS:
        raise ConfigError(f"compile_network: level must be one of {LEVELS}, got {level!r}")
    if crossbar is not None and level != "crossbar":
        raise ConfigError(f"compile_network: crossbar= options need level='crossbar', got level {level!r}")
    if hardware is not None:
        passes = (*passes, with_hardware(hardware, hardware_seed, chip))
    if level == "crossbar":
        passes = (*passes, to_crossbars(crossbar, hardware))
    circuit = lower(network, **options)
    for step in passes:
        circuit = step(circuit)
    return circuit


__all__ = sorted(
    [*_exported, "DEFAULT_PASSES", "LEVELS", "Pass", "compile_network", "match_impedances", "terminate_ports", "verify"]
)
