"""The compiler: the input graph (:class:`Network`), its lowering to a Circuit, and the passes over circuits.

``compile_network(net)`` = ``lower`` then the visible pipeline DEFAULT_PASSES.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from wavetrain.compiler.functions import ACTIVATIONS, LOSSES
from wavetrain.compiler.network import Dense, Network

Pass = Callable[[Any], Any]


def compile_network(network: Network, passes: Sequence[Pass] | None = None, **options: Any) -> Any:
    """Lower network (options go to :func:`lower`: x, y, courant, tick, learning, ...) and run the passes in order."""
    from wavetrain.compiler.lower import lower

    circuit = lower(network, **options)
    for step in DEFAULT_PASSES if passes is None else passes:
        circuit = step(circuit)
    return circuit


def _default_passes() -> tuple[Pass, ...]:
    from wavetrain.compiler.passes import match_impedances, terminate_ports, verify

    return (match_impedances, terminate_ports, verify)


DEFAULT_PASSES: tuple[Pass, ...] = _default_passes()

__all__ = ["ACTIVATIONS", "DEFAULT_PASSES", "LOSSES", "Dense", "Network", "Pass", "compile_network"]
