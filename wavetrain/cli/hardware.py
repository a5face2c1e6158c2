"""CLI commands for emulated analog hardware: ``wavetrain hardware list|show|save|fidelity|lifetime``.

Listed in :data:`wavetrain.cli.COMMANDS`; thin: parse arguments, call the public API, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from wavetrain.cli.support import friendly


@click.group("hardware")
def hardware() -> None:
    """Analog hardware models: presets and their parameters (train on one with `wavetrain train --hardware`)."""


@hardware.command("list")
def list_presets() -> None:
    """Print every preset with its description."""
    from wavetrain.circuits.hardware import PRESETS

    for name, model in PRESETS.items():
        click.echo(f"{name:12s} {model.description}")


@hardware.command("show")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the model as JSON (the file format of --hardware).")
@friendly
def show(model: str, as_json: bool) -> None:
    """Print every parameter of MODEL (a preset or a .json file) with its unit and meaning."""
    from wavetrain.circuits.hardware import load_hardware

    hw = load_hardware(model)
    if as_json:
        click.echo(hw.to_json(), nl=False)
        return
    click.echo(f"{hw.name}: {hw.description}")
    for path, value, unit, doc in hw.table():
        click.echo(f"  {path:24s} {value!s:>10s} {('[' + unit + ']'):12s} {doc}")


@hardware.command("save")
@click.argument("model")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field, e.g. --set device.read_noise=0.05 (repeatable; values are JSON).",
)
@friendly
def save(model: str, output: Path, overrides: tuple[str, ...]) -> None:
    """Write MODEL (a preset or a .json file), with overrides, as a JSON file to edit and pass to --hardware."""
    import json

    from wavetrain.circuits.hardware import load_hardware
    from wavetrain.errors import ConfigError
    from wavetrain.files import atomic_write, check_writable, writer_lock

    check_writable(output, "-o")

    values = {}
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set: expected PATH=VALUE (e.g. device.read_noise=0.05), got {item!r}")
        try:
            values[path.strip()] = json.loads(text)
        except ValueError:
            values[path.strip()] = text
    hw = load_hardware(model)
    if values:  # NOTE: a changed model is no longer the preset: it takes the file's name
        hw = hw.with_overrides({"name": output.stem, "description": f"{hw.name} with {', '.join(overrides)}", **values})
    with writer_lock(output, "-o"):
        atomic_write(output, hw.to_json(), "-o")
    click.echo(f"hardware model written to {output}")


@hardware.command("fidelity")
@click.argument("model", metavar="HARDWARE")
@click.option("--layers", default="64,128,128,10", show_default=True, help="Widths of a fresh MLP, input first.")
@click.option("--dataset", default="digits", show_default=True, help="Whose first --batch samples relax.")
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--ticks", type=click.IntRange(min=0, max=10**7), default=None, help="Default: 2L + 2.")
@click.option("--chips", type=click.IntRange(min=1), default=None, help="Monte-Carlo chips (chip-averaged).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="PNG of error vs tick.")
@friendly
def fidelity(
    model: str,
    layers: str,
    dataset: str,
    batch: int,
    ticks: int | None,
    chips: int | None,
    seed: int,
    plot_path: Path | None,
) -> None:
    """Gradient fidelity tick by tick: one relaxation on HARDWARE (a preset, see `hardware list`, or a .json hardware
    model) against the exact gradient of the same weights."""
    import wavetrain
    from wavetrain import plots
    from wavetrain.cli.support import parse_layers, rows
    from wavetrain.emulator.chips import fidelity_by_tick
    from wavetrain.files import check_writable

    if plot_path is not None:
        check_writable(plot_path, "--plot")
    data = wavetrain.datasets.load(dataset)
    x, y = rows(data, batch, "--batch")
    net = wavetrain.Network.mlp(parse_layers(layers), loss="cross_entropy" if data.n_classes else "mse", seed=seed)
    ticks = 2 * net.depth + 2 if ticks is None else ticks
    out = fidelity_by_tick(net, x, y, model, ticks=ticks, chips=chips, seed=seed)
    click.echo(f"{model} hardware, network {'-'.join(map(str, net.sizes))} (L = {net.depth}), batch {batch}")
    click.echo("tick  cosine   rel. error  " + "  ".join(f"cos layer{l + 1}" for l in range(net.depth)))
    for k, (cos, err, per_layer) in enumerate(zip(out["cosine"], out["relative_error"], out["layer_cosine"])):
        mark = "  <- 2L" if k == 2 * net.depth else ""
        click.echo(f"{k:4d}  {cos:7.4f}  {err:10.3e}  " + "  ".join(f"{c:10.4f}" for c in per_layer) + mark)
    if plot_path:
        plots.fidelity_curves(
            {}, plot_path, title=f"{model}: gradient fidelity", by_tick={model: out["relative_error"]}, depth=net.depth
        )
        click.echo(f"plot written to {plot_path}")


@hardware.command("lifetime")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hardware", "hardware_name", default="pcm", show_default=True, help="A preset or a .json model.")
@click.option(
    "--times", default="1,60,3600,86400,2.6e6,3.15e7", show_default=True, help="Seconds since programming, increasing."
)
@click.option("--chips", type=int, default=16, show_default=True, help="Chips the weights are programmed onto.")
@click.option(
    "--compensation", default="none,global", show_default=True, help="Drift compensation: none, global, column."
)
@click.option(
    "--dataset", default=None, help="Test data (default: the data set the model was trained on, else digits)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the chips and their reads.")
@click.option("--flicker", type=float, default=0.0, show_default=True, help="1/f read noise (1: aihwkit's PCM model).")
@click.option(
    "--refresh", type=float, default=None, help="Re-program the chips every this many seconds (default: never)."
)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="PNG of accuracy vs time.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON line instead of the table.")
@friendly
def lifetime(
    model_path: Path,
    hardware_name: str,
    times: str,
    chips: int,
    compensation: str,
    dataset: str | None,
    seed: int,
    flicker: float,
    refresh: float | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Test accuracy of MODEL (a network file) programmed onto --chips chips, at each of --times after programming:
    drift (each device its own exponent), read noise at every read, optional drift compensation and --refresh
    (re-programming from the model's weights every so many seconds)."""
    import json

    import wavetrain
    from wavetrain import plots
    from wavetrain.circuits.hardware import load_hardware
    from wavetrain.emulator.lifetime import check_compensation, check_refresh, check_times
    from wavetrain.emulator.lifetime import lifetime as run_lifetime
    from wavetrain.errors import ConfigError
    from wavetrain.files import check_writable
    from wavetrain.runs import check_fits

    grid = []
    for item in times.split(","):
        try:
            grid.append(float(item))
        except ValueError:
            raise ConfigError(
                f"--times: expected numbers of seconds separated by commas, got {item.strip()!r}"
            ) from None
    check_times(grid)
    schemes = check_compensation([c.strip() for c in compensation.split(",")])
    check_refresh(refresh)
    model = load_hardware(hardware_name)
    if chips < 1:
        raise ConfigError(f"--chips: expected an integer >= 1, got {chips}")
    if plot_path is not None:
        check_writable(plot_path, "--plot")
    net = wavetrain.Network.load(model_path)
    name = dataset or (net.meta.get("cli") or {}).get("dataset") or "digits"
    data = wavetrain.datasets.load(name)
    check_fits(net, data, {"dataset": name})
    out = run_lifetime(net, data, model, grid, chips, seed, schemes, flicker=flicker, refresh=refresh)
    if plot_path is not None:
        curves = {f"{model.name}, {c}": (out.times, out.mean(c), out.std(c)) for c in schemes}
        plots.lifetime_curves(curves, plot_path, title=f"{net.name} on {model.name}: {chips} chips")
    if as_json:
        click.echo(json.dumps(out.to_dict()))
    else:
        every = "" if refresh is None else f", re-programmed every {refresh:g} s"
        click.echo(
            f"{net.name} ({net.describe()}) on {model.name}, {chips} chips, seed {seed}{every}, test set of {name}"
        )
        click.echo("test accuracy, mean +- std over the chips")
        click.echo(out.table())
    if plot_path is not None and not as_json:
        click.echo(f"plot written to {plot_path}")
