"""``wavetrain simulate``: relax a saved network on a target, or run a netlist on ngspice, and print the result."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import numpy as np

from wavetrain import plots
from wavetrain.cli.support import (
    DATA_OPTIONS,
    Finite,
    drive_batch,
    friendly,
    load_model,
    model_option,
    private_temp,
    with_options,
)
from wavetrain.errors import ConfigError
from wavetrain.targets import TARGETS, canonical


@click.command("simulate")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@model_option()
@click.option("--target", type=click.Choice(list(TARGETS)), default="numpy", show_default=True)
@click.option(
    "--runner",
    type=click.Choice(["batch", "shared"]),
    default="batch",
    show_default=True,
    help="spice runner.",
)
@click.option("--ticks", type=click.IntRange(min=0), default=None, help="Ticks to relax (default 2L).")
@click.option(
    "--courant",
    type=float,
    default=1.0,
    show_default=True,
    help="Courant number of the relaxation: 1 is exact at tick 2L; below 1 converges geometrically; (0, 2).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG of the forward and backward waves crossing the layers.",
)
@click.option(
    "--timeout",
    type=Finite(min=0, min_open=True, max=1e6),
    default=300.0,
    show_default=True,
    help="spice target: seconds before ngspice is stopped.",
)
@click.option("--keep", is_flag=True, help="spice target: keep ngspice's work folder (netlist, raw file, log).")
@click.option(
    "--trust-netlist",
    is_flag=True,
    help="Run a .cir netlist as written even if it has .control blocks, shell commands or includes outside "
    "its folder (refused by default: a netlist can run commands).",
)
@click.option("--all", "show_all", is_flag=True, help="Netlist: print every vector's final value (default: a summary).")
@click.option("--json", "as_json", is_flag=True, help="Netlist: one JSON object with every vector's final value.")
@with_options(DATA_OPTIONS)
@friendly
@private_temp
def simulate_command(
    source: Path | None,
    preset: str | None,
    target: str,
    runner: str,
    ticks: int | None,
    courant: float,
    plot_path: Path | None,
    timeout: float,
    keep: bool,
    trust_netlist: bool,
    show_all: bool,
    as_json: bool,
    data: str | None,
    samples: int,
    seed: int,
) -> None:
    """Relax SOURCE (a network file, or --model PRESET; or a .cir netlist on the spice target) and print gradients or
    probes."""
    context = click.get_current_context()

    def given(*names: str) -> list[str]:
        return [name for name in names if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]

    if source is not None and source.suffix.lower() in (".cir", ".sp", ".spice"):
        flags = given("preset", "runner", "ticks", "courant", "plot_path", "data", "samples", "seed")
        if flags:
            flags = ", ".join(
                "--" + name.replace("_path", "").replace("preset", "model").replace("_", "-") for name in flags
            )
            raise ConfigError(f"{source}: {flags} apply to a network file; a netlist runs as it is written")
        _netlist(source, target, timeout, keep, trust_netlist, show_all, as_json)
        return
    if trust_netlist:
        raise ConfigError(f"{source or preset}: --trust-netlist applies to a .cir netlist, got a network")
    if show_all or as_json:
        raise ConfigError(f"{source or preset}: --all and --json apply to a .cir netlist, got a network")
    if canonical(target) != "spice" and given("timeout", "keep"):
        raise ConfigError(f"--timeout and --keep apply to the spice target, got --target {target}")
    from wavetrain.emulator import light_cone
    from wavetrain.files import check_writable
    from wavetrain.simulation import simulate

    if plot_path is not None:
        check_writable(plot_path, "--plot")
    net = load_model(source, preset, seed)
    x, y = drive_batch(net, data, samples, seed)
    options = {"runner": runner, "timeout": timeout, "keep": keep} if canonical(target) == "spice" else {}
    result = simulate(net, x, y, ticks=ticks, target=target, courant=courant, history=True, **options)
    exact, _, _ = light_cone(net.machine(), net.check_input(x), net.targets(y, len(x)))
    errors = result.error_by_tick(exact)
    chain, bound = net.is_chain, "2L" if net.is_chain else "2D"
    shape = f"{net.describe()} (L = {net.depth})" if chain else net.describe()  # NOTE: a graph's names its depth
    click.echo(f"network {shape} on {target}, batch {len(x)}, courant {courant}")
    click.echo("tick  max|G - G_bp|")
    for k, err in enumerate(errors):
        click.echo(f"{k:4d}  {err:12.3e}" + (f"  <- {bound}" if k == 2 * net.depth else ""))
    for l, (n, (dw, db)) in enumerate(zip(result.params, result.grads), start=1):
        label = f"layer {l}" if chain else f"node {n}"
        click.echo(f"{label}: |dW| = {np.linalg.norm(dw):.6e}  |db| = {np.linalg.norm(db):.6e}")
    if plot_path is not None:
        levels = None if chain else [net.graph.level[n] for n in net.graph.order]
        plots.waves(result, net.depth, plot_path, title=f"{net.name} ({net.describe()}) on {target}", levels=levels,
                    labels=None if chain else list(net.graph.order))  # fmt: skip
        click.echo(f"plot written to {plot_path}")


SUMMARY_VECTORS = 24  # NOTE: up to this many vectors are listed by name; more are summarised by name pattern


def _netlist(path: Path, target: str, timeout: float, keep: bool, trust: bool, show_all: bool, as_json: bool) -> None:
    if canonical(target) != "spice":
        raise ConfigError(f"{path}: a netlist runs only on the spice target (--target spice), got --target {target}")
    from wavetrain.simulation import simulate_netlist

    vectors, work = simulate_netlist(path, timeout=timeout, keep=keep, trust=trust)
    time = vectors.pop("time")
    if as_json:
        final = {name: float(vectors[name][-1]) for name in sorted(vectors)}
        click.echo(json.dumps({"netlist": str(path), "time_points": len(time), "stop": float(time[-1]),
                               "final": final, "work": work if keep else None}))  # fmt: skip
        return
    for line in netlist_summary(path, time, vectors, show_all):
        click.echo(line)
    if keep:
        click.echo(f"work folder kept at {work} (ngspice's raw file holds every waveform)")


def netlist_summary(path: Path, time: np.ndarray, vectors: dict[str, np.ndarray], show_all: bool = False) -> list[str]:
    """What ``simulate NETLIST`` prints: every vector's final value when they are few (or with ``show_all``), else
    per name pattern (digits read as ``#``) the count and the range of the final values, so a netlist with
    thousands of probes prints a screenful."""
    head = f"{path}: {len(time)} time points up to {time[-1]:.4g} s; {len(vectors)} vectors"
    if show_all or len(vectors) <= SUMMARY_VECTORS:
        return [head + "; final values:"] + [f"{name:24s} {vectors[name][-1]: .9g}" for name in sorted(vectors)]
    groups: dict[str, list[float]] = {}
    for name, values in vectors.items():
        groups.setdefault(re.sub(r"\d+", "#", name), []).append(float(values[-1]))
    lines = [head + "; final values by name pattern (# stands for an index):"]
    lines.append(f"{'pattern':24s} {'vectors':>8s} {'min':>16s} {'max':>16s}")
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    for pattern, finals in ranked[:SUMMARY_VECTORS]:
        lines.append(f"{pattern:24s} {len(finals):8d} {min(finals): 16.9g} {max(finals): 16.9g}")
    if len(ranked) > SUMMARY_VECTORS:
        lines.append(f"... and {len(ranked) - SUMMARY_VECTORS} more patterns")
    lines.append("every vector's final value: --all or --json; every waveform: --keep (ngspice's raw file)")
    return lines
