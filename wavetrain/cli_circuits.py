"""CLI commands for circuits: ``wavetrain compile`` (a model to a SPICE netlist) and ``wavetrain simulate``.

Registered on the main group by :func:`register`; thin: parse arguments, call the public API, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from wavetrain import plots
from wavetrain.cli_support import friendly
from wavetrain.compiler.lower import LEARNING_KINDS
from wavetrain.errors import ConfigError
from wavetrain.targets import TARGETS, canonical


def _batch(net: Any, data: str | None, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``samples`` training rows of a dataset, or seeded random inputs with zero targets."""
    if samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {samples}")
    if data is None:
        x = np.random.default_rng(seed).normal(size=(samples, net.sizes[0]))
        return x, np.zeros((samples, net.sizes[-1]))
    from wavetrain import datasets

    dataset = datasets.load(data)
    return dataset.x_train[:samples], dataset.y_train[:samples]


data_options = [
    click.option(
        "--data", default=None, help="Dataset ('digits' or an .npz) whose first samples drive the circuit."
    ),
    click.option(
        "--samples", type=int, default=1, show_default=True, help="Batch size (one circuit copy per sample)."
    ),
    click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed of the random inputs when no --data."
    ),
]


def _with(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.command("compile")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Netlist path (default: stdout).",
)
@click.option("--learning", is_flag=True, help="The self-training circuit: weights are capacitor voltages.")
@click.option("--port", type=click.Choice(LEARNING_KINDS), default="resistor", show_default=True)
@click.option("--eta", type=float, default=5e7, show_default=True, help="Learning rate of the ports [1/s].")
@click.option(
    "--ticks", type=int, default=None, help="Simulated ticks (default 2L + 1, or 1000 with --learning)."
)
@click.option("--courant", type=float, default=1.0, show_default=True)
@_with(data_options)
@friendly
def compile_command(
    model: Path,
    output: Path | None,
    learning: bool,
    port: str,
    eta: float,
    ticks: int | None,
    courant: float,
    data: str | None,
    samples: int,
    seed: int,
) -> None:
    """Compile MODEL (a wavetrain network file) into a self-contained ngspice netlist."""
    from wavetrain.circuits import Transient, to_spice
    from wavetrain.compiler import Network, compile_network
    from wavetrain.files import atomic_write

    context = click.get_current_context()
    for option in ("port", "eta"):
        if not learning and context.get_parameter_source(option) != click.core.ParameterSource.DEFAULT:
            raise ConfigError(f"--{option} sets the learning circuit's parameter ports; it needs --learning")
    net = Network.load(model)
    x, y = _batch(net, data, samples, seed)
    circuit = compile_network(net, x=x, y=y, courant=courant, learning=port if learning else None, eta=eta)
    ticks = ticks if ticks is not None else (1000 if learning else 2 * net.depth + 1)
    text = to_spice(circuit, Transient(stop=ticks * circuit.tick, step=circuit.tick / 20))
    if output is None:
        click.echo(text, nl=False)
        return
    atomic_write(output, text)
    click.echo(
        f"wrote {output}: {len(circuit.elements)} elements, {text.count(chr(10))} lines, {ticks} ticks",
        err=True,
    )


@click.command("simulate")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", type=click.Choice(list(TARGETS)), default="numpy", show_default=True)
@click.option(
    "--runner",
    type=click.Choice(["batch", "shared"]),
    default="batch",
    show_default=True,
    help="spice runner.",
)
@click.option("--ticks", type=int, default=None, help="Ticks to relax (default 2L).")
@click.option("--courant", type=float, default=1.0, show_default=True)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG of the forward and backward waves crossing the layers.",
)
@_with(data_options)
@friendly
def simulate_command(
    source: Path,
    target: str,
    runner: str,
    ticks: int | None,
    courant: float,
    plot_path: Path | None,
    data: str | None,
    samples: int,
    seed: int,
) -> None:
    """Relax SOURCE (a network file; or a .cir netlist on the spice target) and print gradients or probes."""
    if source.suffix.lower() in (".cir", ".sp", ".spice"):
        context = click.get_current_context()
        given = [name for name in ("runner", "ticks", "courant", "plot_path", "data", "samples", "seed")
                 if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
        if given:
            flags = ", ".join("--" + name.replace("_path", "").replace("_", "-") for name in given)
            raise ConfigError(f"{source}: {flags} apply to a network file; a netlist runs as it is written")
        _simulate_netlist(source, target)
        return
    from wavetrain.compiler import Network
    from wavetrain.emulator import light_cone
    from wavetrain.simulation import simulate

    net = Network.load(source)
    x, y = _batch(net, data, samples, seed)
    options = {"runner": runner} if canonical(target) == "spice" else {}
    result = simulate(net, x, y, ticks=ticks, target=target, courant=courant, history=True, **options)
    exact, _, _ = light_cone(
        net.params(),
        [layer.act for layer in net.layers],
        net.loss_fn,
        net.check_input(x),
        net.targets(y, len(x)),
    )
    errors = result.error_by_tick(exact)
    click.echo(
        f"network {'-'.join(map(str, net.sizes))} (L = {net.depth}) on {target}, batch {len(x)}, courant {courant}"
    )
    click.echo("tick  max|G - G_bp|")
    for k, err in enumerate(errors):
        click.echo(f"{k:4d}  {err:12.3e}" + ("  <- 2L" if k == 2 * net.depth else ""))
    for l, (dw, db) in enumerate(result.grads, start=1):
        click.echo(f"layer {l}: |dW| = {np.linalg.norm(dw):.6e}  |db| = {np.linalg.norm(db):.6e}")
    if plot_path is not None:
        plots.waves(result, net.depth, plot_path, title=f"{'-'.join(map(str, net.sizes))} on {target}")
        click.echo(f"plot written to {plot_path}")


def _simulate_netlist(path: Path, target: str) -> None:
    if canonical(target) != "spice":
        raise ConfigError(
            f"{path}: a netlist runs only on the spice target (--target spice), got --target {target}"
        )
    import shutil
    import tempfile

    # NOTE: the raw file and log go to a temp dir (kept only when ngspice fails), never beside the user's netlist
    from wavetrain.errors import TargetUnavailable
    from wavetrain.targets.ngspice import run_netlist

    work = tempfile.mkdtemp(prefix="wavetrain-spice-")
    try:
        vectors = run_netlist(path, outdir=work)
    except TargetUnavailable:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    time = vectors.pop("time")
    click.echo(f"{path}: {len(time)} time points up to {time[-1]:.4g} s; final values:")
    for name in sorted(vectors):
        click.echo(f"{name:24s} {vectors[name][-1]: .9g}")


def register(group: click.Group) -> None:
    """Add the compile and simulate commands to the main CLI group."""
    group.add_command(compile_command)
    group.add_command(simulate_command)
