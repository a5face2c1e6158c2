"""CLI command ``wavetrain deploy``: run a saved network on Lava (floating or Loihi fixed point) against the emulator.

Listed in :data:`wavetrain.cli.COMMANDS`; thin: parse arguments, call wavetrain.deploy, print.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from wavetrain.cli.support import friendly
from wavetrain.errors import ConfigError


@click.command("deploy")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", type=click.Choice(["lava"]), default="lava", show_default=True)
@click.option(
    "--fixed-point",
    is_flag=True,
    help="Loihi fixed point (fixed_pt models; exponents calibrated on the samples that run, clipping reported).",
)
@click.option("--data", default="digits", show_default=True, help="'digits' or an .npz; its test split is run.")
@click.option("--samples", type=int, default=32, show_default=True, help="Test samples (one batch).")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds before the run is stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line instead of the summary.")
@friendly
def deploy_command(
    model: Path, target: str, fixed_point: bool, data: str, samples: int, timeout: float, as_json: bool
) -> None:
    """Run MODEL on Lava for 2L timesteps: outputs, accuracy, gradient error against the emulator per tick, timing."""
    import numpy as np

    from wavetrain import datasets
    from wavetrain.compiler.network import Network
    from wavetrain.deploy import deploy

    if samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {samples}")
    net = Network.load(model)
    dataset = datasets.load(data)
    x, y = dataset.x_test[:samples], dataset.y_test[:samples]
    report = deploy(net, x, y, fixed_point=fixed_point, timeout=timeout)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    mode = "fixed point (fixed_pt)" if fixed_point else "floating point (floating_pt)"
    click.echo(f"{model.name} on Lava, {mode}: {len(x)} samples of {dataset.name}, {report.ticks} timesteps")
    predictions = np.argmax(np.asarray(report.outputs), axis=1)
    click.echo(f"  predictions {' '.join(map(str, predictions[:20]))}{' ...' if len(predictions) > 20 else ''}")
    click.echo(f"  accuracy {report.accuracy:.4f} on Lava, {report.float_accuracy:.4f} in the float emulator")
    if fixed_point:
        clipped = max((row["clipped"] for row in report.calibration), default=0.0)
        click.echo(f"  calibration: exponents from these samples, {clipped:.2%} of the values clipped")
        saturated = ", ".join(f"{what} {count}" for what, count in report.saturated.items()) or "none"
        click.echo(f"  values saturated during the run (by format): {saturated}")
    click.echo("  tick  max|G_lava - G_emulator|  max|G_lava - G_backprop|")
    for k, (a, b) in enumerate(zip(report.error_vs_emulator, report.error_vs_exact)):
        mark = "  <- 2L" if k == report.ticks else ""
        click.echo(f"  {k:4d}  {a:24.3e}  {b:24.3e}{mark}")
    click.echo(f"  {report.lava_seconds:.2f} s on Lava (startup included), {report.timesteps_per_s:.1f} timesteps/s")
