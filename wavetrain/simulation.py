"""One call for every backend: compile a network, run it on a target, read the waves back as a Relaxation.

Tick k of the emulator is read from a circuit at mid-tick, t = (k + 1/2) tick, where every wave is flat: s_l(k) at
the far end of forward line l, lam_l(k) at the far end of backward line l, G_l(k) at parameter port l.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from wavetrain.circuits import Transient
from wavetrain.compiler import compile_network, names
from wavetrain.compiler.network import Network
from wavetrain.emulator.relax import History, Relaxation, check_courant, check_ticks
from wavetrain.errors import ConfigError
from wavetrain.targets import MachineTarget, Target, Trace, get_target


def simulate(
    net: Network,
    x: Any,
    y: Any,
    ticks: int | None = None,
    target: str = "numpy",
    courant: float = 1.0,
    history: bool = False,
    tick: float = 1e-9,
    hardware: Any = None,
    hardware_seed: int = 0,
    **target_options: Any,
) -> Relaxation:
    """Relax net on x, y with frozen weights on a target ("numpy", "spice" or "lava"); same result type as
    emulator.relax. ``target_options`` go to the target (e.g. ``fixed_point=True`` for "lava").

    ``hardware`` compiles the circuit of chip 0 of ``hardware_seed`` on that hardware (compiler.with_hardware).
    """
    nu = check_courant(courant)
    if nu > 1.0:
        raise ConfigError(
            f"simulate: courant must be <= 1 for a circuit (a sample-and-hold gain above 1), got {courant}"
        )
    ticks = check_ticks(ticks, net.depth, nu)
    runner = get_target(target, **target_options)
    if runner.kind == "machine":
        # NOTE: a machine target (Lava) runs the network itself, not a netlist; the circuit options do not apply
        if hardware is not None:
            raise ConfigError(f"simulate: hardware= puts a chip into a circuit; target {target!r} runs the network")
        xs = net.check_input(x)
        machine = cast(MachineTarget, runner)
        return machine.relax(net, xs, net.targets(y, len(xs)), ticks, nu, history)
    circuit = compile_network(net, x=x, y=y, courant=nu, tick=tick, hardware=hardware, hardware_seed=hardware_seed)
    samples = (np.arange(ticks + 1) + 0.5) * tick if history else np.array([ticks + 0.5]) * tick
    analysis = Transient(stop=(ticks + 1) * tick, step=tick / 20)
    trace = cast(Target, runner).run(circuit, analysis, samples)
    return relaxation_from_trace(trace, net, ticks, nu, history, target)


def relaxation_from_trace(
    trace: Trace, net: Network, ticks: int, courant: float, history: bool, target: str
) -> Relaxation:
    """Read waves and port gradients out of a trace of a lowered network (sample k = tick k, or only the last)."""
    depth = net.depth

    def at(k: int) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
        s = [trace[names.s_far(l)][k] for l in range(1, depth + 1)]
        lam = [trace[names.lam_far(l)][k] for l in range(1, depth + 1)]
        ports = [names.port(l) for l in range(1, depth + 1)]
        grads = [(trace[f"{p}.grad_w"][k], trace[f"{p}.grad_b"][k]) for p in ports]
        return s, lam, grads

    log = None
    if history:
        log = History()
        for k in range(len(trace.t)):
            s, lam, grads = at(k)
            log.s.append(s)
            log.lam.append(lam)
            log.grads.append(grads)
    s, lam, grads = at(len(trace.t) - 1)
    return Relaxation(grads, s, lam, ticks, courant, log, target=target)
