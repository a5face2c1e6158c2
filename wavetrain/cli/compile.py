"""``wavetrain compile``: a saved network to a self-contained ngspice netlist (or its self-training circuit)."""

from __future__ import annotations

from pathlib import Path

import click

from wavetrain.cli.support import DATA_OPTIONS, drive_batch, friendly, load_model, model_option, with_options
from wavetrain.compiler.lower import LEARNING_KINDS
from wavetrain.errors import ConfigError


@click.command("compile")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path), required=False)
@model_option()
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
    help="Simulated ticks (default 2D + 1, D the depth, or 1000 with --learning).",
)
@click.option("--courant", type=float, default=1.0, show_default=True)
@click.option(
    "--kernels",
    type=click.Choice(["shared", "inline"]),
    default="shared",
    show_default=True,
    help="How a convolution's weights are written: once per output channel (a .func every position calls) or "
    "spelled out in every position's source.",
)
@click.option(
    "--level",
    type=click.Choice(["behavioural", "crossbar"]),
    default="behavioural",
    show_default=True,
    help="Junctions as controlled sources, or as conductance arrays read forward and in transpose.",
)
@click.option(
    "--r-wire",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Crossbar wire resistance per row and column segment [ohm] (needs --level crossbar).",
)
@with_options(DATA_OPTIONS)
@friendly
def compile_command(
    model: Path | None,
    preset: str | None,
    output: Path | None,
    learning: bool,
    port: str,
    eta: float,
    ticks: int | None,
    courant: float,
    kernels: str,
    level: str,
    r_wire: float,
    data: str | None,
    samples: int,
    seed: int,
) -> None:
    """Compile MODEL (a wavetrain network file, any graph; or --model PRESET) into a self-contained ngspice netlist."""
    from wavetrain.circuits import Transient, to_spice
    from wavetrain.compiler import compile_network
    from wavetrain.files import atomic_write

    context = click.get_current_context()
    for option in ("port", "eta"):
        if not learning and context.get_parameter_source(option) != click.core.ParameterSource.DEFAULT:
            raise ConfigError(f"--{option} sets the learning circuit's parameter ports; it needs --learning")
    if output is not None:
        from wavetrain.files import check_writable

        check_writable(output, "-o")
    if r_wire and level != "crossbar":
        raise ConfigError(f"--r-wire sets the crossbar's wires; it needs --level crossbar, got --level {level}")
    net = load_model(model, preset, seed)
    x, y = drive_batch(net, data, samples, seed)
    wires = {"r_row": r_wire, "r_col": r_wire} if level == "crossbar" else None
    circuit = compile_network(net, x=x, y=y, courant=courant, learning=port if learning else None, eta=eta,
                              level=level, crossbar=wires)  # fmt: skip
    ticks = ticks if ticks is not None else (1000 if learning else 2 * net.depth + 1)
    text = to_spice(circuit, Transient(stop=ticks * circuit.tick, step=circuit.tick / 20), kernels=kernels)
    if output is None:
        click.echo(text, nl=False)
        return
    from wavetrain.files import writer_lock

    with writer_lock(output, "-o"):
        atomic_write(output, text, "-o")
    click.echo(
        f"wrote {output}: {len(circuit.elements)} elements, {text.count(chr(10))} lines, {ticks} ticks",
        err=True,
    )
