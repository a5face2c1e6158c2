"""One call for every backend: compile a network, run it on a target, read the waves back as a Relaxation.

Tick k of the emulator is read from a circuit at mid-tick, t = (k + 1/2) tick, where every wave is flat: s_n(k) at
the far end of node n's forward line, lam_n(k) at the far end of its backward line, G_n(k) at its parameter port
(nodes with weights). A graph's waves come back in each node's shape, channels first, as the emulator reports them.
"""

from __future__ import annotations

import os
from pathlib import Path
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
    level: str = "behavioural",
    crossbar: Any = None,
    **target_options: Any,
) -> Relaxation:
    """Relax net on x, y with frozen weights on a target ("numpy", "spice" or "lava"); same result type as
    emulator.relax. ``target_options`` go to the target (e.g. ``fixed_point=True`` for "lava").

    ``hardware`` compiles the circuit of chip 0 of ``hardware_seed`` on that hardware (compiler.with_hardware).
    ``level="crossbar"`` builds every dense junction as a conductance array (``crossbar``: its options,
    compiler.to_crossbars; docs/circuits.md).
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
        if level != "behavioural":
            raise ConfigError(f"simulate: level= says how a circuit is built; target {target!r} runs the network")
        xs = net.check_input(x)
        machine = cast(MachineTarget, runner)
        return machine.relax(net, xs, net.targets(y, len(xs)), ticks, nu, history)
    circuit = compile_network(net, x=x, y=y, courant=nu, tick=tick, hardware=hardware, hardware_seed=hardware_seed,
                              level=level, crossbar=crossbar)  # fmt: skip
    samples = (np.arange(ticks + 1) + 0.5) * tick if history else np.array([ticks + 0.5]) * tick
    analysis = Transient(stop=(ticks + 1) * tick, step=tick / 20)
    trace = cast(Target, runner).run(circuit, analysis, samples, probes(net))
    return relaxation_from_trace(trace, net, ticks, nu, history, target)


def probes(net: Network) -> list[str]:
    """What a relaxation reads from a circuit: every node's two line far ends and every parameter port."""
    g = net.graph
    return [*(names.s_far(n) for n in g.order), *(names.lam_far(n) for n in g.order),
            *(names.port(n) for n in g.parametric)]  # fmt: skip


def relaxation_from_trace(
    trace: Trace, net: Network, ticks: int, courant: float, history: bool, target: str
) -> Relaxation:
    """Read waves and port gradients out of a trace of a lowered network (sample k = tick k, or only the last)."""
    g = net.graph

    def at(k: int) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
        s = [trace[names.s_far(n)][k].reshape(-1, *g.shape[n]) for n in g.order]
        lam = [trace[names.lam_far(n)][k].reshape(-1, *g.shape[n]) for n in g.order]
        ports = [names.port(n) for n in g.parametric]
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
    return Relaxation(grads, s, lam, ticks, courant, log, target, g.order, g.parametric, net.param_names)


def simulate_netlist(
    path: str | os.PathLike[str], timeout: float = 300.0, keep: bool = False, trust: bool = False
) -> tuple[dict[str, np.ndarray], str]:
    """Run a netlist file on ngspice: its vectors (``time`` among them) and the work folder, removed unless ``keep``.

    An untrusted netlist is read first and refused unless every card is inert (targets.deck); ngspice runs in an
    empty folder of its own, and nothing is left behind on any exit path without ``keep``.
    """
    import shutil
    import tempfile

    from wavetrain.errors import SimulationError
    from wavetrain.targets.ngspice import check_netlist, run_netlist

    path = Path(path)
    if not trust:
        check_netlist(path)
    # NOTE: the raw file and log go to a temp dir (kept only with keep), never beside the netlist;
    # it is removed on every other exit path, and by the supervisor if wavetrain itself is killed
    from wavetrain.targets._proc import kept_temp

    # NOTE: what --keep keeps lives outside the command's private temp folder, which goes when the command ends
    work = tempfile.mkdtemp(prefix="wavetrain-spice-", dir=kept_temp() if keep else None)
    empty = Path(work) / "cwd"  # NOTE: ngspice looks up an include in its working folder first: an empty one
    empty.mkdir()
    try:
        try:
            vectors = run_netlist(path, timeout=timeout, outdir=work, workdir=work, keep=keep, cwd=empty)
        finally:
            if keep and not any(empty.iterdir()):
                empty.rmdir()  # NOTE: keep keeps what ngspice wrote; an empty working folder is not that
    except SimulationError as err:
        if keep:
            raise
        shutil.rmtree(work, ignore_errors=True)
        message = str(err).split("; netlist kept at")[0]
        raise SimulationError(f"{message} (rerun with --keep to keep ngspice's log and raw file)") from None
    except BaseException:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return vectors, work
