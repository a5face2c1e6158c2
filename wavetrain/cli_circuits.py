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
    click.option("--data", default=None, help="Dataset ('digits' or an .npz) whose first samples drive the circuit."),
    click.option(
        "--samples",
        type=click.IntRange(min=1, max=10**6),
        default=1,
        show_default=True,
        help="Batch size (one circuit copy per sample).",
    ),
    click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Seed of the random inputs when no --data.",
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
    "--ticks",
    type=click.IntRange(min=1, max=10**7),
    default=None,
    help="Simulated ticks (default 2L + 1, or 1000 with --learning).",
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
    if output is not None:
        from wavetrain.files import check_writable

        check_writable(output, "-o")
    net = Network.load(model)
    x, y = _batch(net, data, samples, seed)
    circuit = compile_network(net, x=x, y=y, courant=courant, learning=port if learning else None, eta=eta)
    ticks = ticks if ticks is not None else (1000 if learning else 2 * net.depth + 1)
    text = to_spice(circuit, Transient(stop=ticks * circuit.tick, step=circuit.tick / 20))
    if output is None:
        click.echo(text, nl=False)
        return
    from wavetrain.files import writer_lock

    with writer_lock(output, "-o"):
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
@click.option("--ticks", type=click.IntRange(min=0), default=None, help="Ticks to relax (default 2L).")
@click.option("--courant", type=float, default=1.0, show_default=True)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG of the forward and backward waves crossing the layers.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=1e6),
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
@_with(data_options)
@friendly
def simulate_command(
    source: Path,
    target: str,
    runner: str,
    ticks: int | None,
    courant: float,
    plot_path: Path | None,
    timeout: float,
    keep: bool,
    trust_netlist: bool,
    data: str | None,
    samples: int,
    seed: int,
) -> None:
    """Relax SOURCE (a network file; or a .cir netlist on the spice target) and print gradients or probes."""
    context = click.get_current_context()

    def given(*names: str) -> list[str]:
        return [name for name in names if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]

    if source.suffix.lower() in (".cir", ".sp", ".spice"):
        flags = given("runner", "ticks", "courant", "plot_path", "data", "samples", "seed")
        if flags:
            flags = ", ".join("--" + name.replace("_path", "").replace("_", "-") for name in flags)
            raise ConfigError(f"{source}: {flags} apply to a network file; a netlist runs as it is written")
        _simulate_netlist(source, target, timeout, keep, trust_netlist)
        return
    if trust_netlist:
        raise ConfigError(f"{source}: --trust-netlist applies to a .cir netlist, got a network file")
    if canonical(target) != "spice" and given("timeout", "keep"):
        raise ConfigError(f"--timeout and --keep apply to the spice target, got --target {target}")
    from wavetrain.compiler import Network
    from wavetrain.emulator import light_cone
    from wavetrain.files import check_writable
    from wavetrain.simulation import simulate

    if plot_path is not None:
        check_writable(plot_path, "--plot")
    net = Network.load(source)
    x, y = _batch(net, data, samples, seed)
    options = {"runner": runner, "timeout": timeout, "keep": keep} if canonical(target) == "spice" else {}
    result = simulate(net, x, y, ticks=ticks, target=target, courant=courant, history=True, **options)
    exact, _, _ = light_cone(net.machine(), net.check_input(x), net.targets(y, len(x)))
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


def _simulate_netlist(path: Path, target: str, timeout: float, keep: bool, trust: bool) -> None:
    if canonical(target) != "spice":
        raise ConfigError(f"{path}: a netlist runs only on the spice target (--target spice), got --target {target}")
    import shutil
    import tempfile

    from wavetrain.errors import SimulationError
    from wavetrain.targets.ngspice import check_netlist, run_netlist

    if not trust:
        check_netlist(path)
    # NOTE: the raw file and log go to a temp dir (kept only with --keep), never beside the netlist;
    # it is removed on every other exit path, and by the supervisor if wavetrain itself is killed
    work = tempfile.mkdtemp(prefix="wavetrain-spice-")
    empty = Path(work) / "cwd"  # NOTE: ngspice looks up an include in its working folder first: an empty one
    empty.mkdir()
    try:
        try:
            vectors = run_netlist(path, timeout=timeout, outdir=work, workdir=work, keep=keep, cwd=empty)
        finally:
            if keep and not any(empty.iterdir()):
                empty.rmdir()  # NOTE: --keep keeps what ngspice wrote; an empty working folder is not that
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
    time = vectors.pop("time")
    click.echo(f"{path}: {len(time)} time points up to {time[-1]:.4g} s; final values:")
    for name in sorted(vectors):
        click.echo(f"{name:24s} {vectors[name][-1]: .9g}")
    if keep:
        click.echo(f"work folder kept at {work}")


def register(group: click.Group) -> None:
    """Add the compile and simulate commands to the main CLI group."""
    group.add_command(compile_command)
    group.add_command(simulate_command)
