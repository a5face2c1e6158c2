"""CLI commands for emulated analog hardware: ``wavetrain hardware list|show|save``.

Registered on the main group by :func:`register`; thin: parse arguments, call the public API, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from wavetrain.cli_support import friendly


@click.group("hardware")
def hardware() -> None:
    """Analog hardware models: presets and their parameters (train on one with `wavetrain train --hardware`)."""


@hardware.command("list")
def list_presets() -> None:
    """Print every preset with its description."""
    from wavetrain.emulator.hardware import PRESETS

    for name, model in PRESETS.items():
        click.echo(f"{name:12s} {model.description}")


@hardware.command("show")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the model as JSON (the file format of --hardware).")
@friendly
def show(model: str, as_json: bool) -> None:
    """Print every parameter of MODEL (a preset or a .json file) with its unit and meaning."""
    from wavetrain.emulator.hardware import load_hardware

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
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a field, e.g. --set device.read_noise=0.05 (repeatable; values are JSON).")
@friendly
def save(model: str, output: Path, overrides: tuple[str, ...]) -> None:
    """Write MODEL (a preset or a .json file), with overrides, as a JSON file to edit and pass to --hardware."""
    import json

    from wavetrain.emulator.hardware import load_hardware
    from wavetrain.errors import ConfigError
    from wavetrain.files import atomic_write

    values = {}
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set: expected PATH=VALUE (e.g. device.read_noise=0.05), got {item!r}")
        try:
            values[path.strip()] = json.loads(text)
        except ValueError:
            values[path.strip()] = text
    hw = load_hardware(model).with_overrides(values)
    atomic_write(output, hw.to_json())
    click.echo(f"hardware model written to {output}")


def register(main: click.Group) -> None:
    main.add_command(hardware)
