"""CLI command ``wavetrain deploy``: run a saved network on Lava against the emulator.

``--target loihi2``: Lava's library processes, one sample per timestep (the machine a Loihi 2 system runs), with the
resource and cost report and, with ``--train``, a few epochs trained on Lava against the emulator. ``--target lava``:
the custom processes (floating or Loihi fixed point; tanh, sigmoid and cross-entropy too). Listed in
:data:`wavetrain.cli.COMMANDS`; thin: parse arguments, call wavetrain.deploy, print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from wavetrain.cli.support import Finite, friendly, private_temp, rows
from wavetrain.errors import ConfigError


@click.command("deploy")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", type=click.Choice(["lava", "loihi2"]), default="lava", show_default=True,
              help="loihi2: Lava's library processes only; lava: the custom processes.")  # fmt: skip
@click.option(
    "--fixed-point",
    is_flag=True,
    help="lava: Loihi fixed point (fixed_pt models; exponents calibrated on the samples that run, clipping reported).",
)
@click.option("--train", "train_too", is_flag=True, help="loihi2: also train on Lava against the emulator.")
@click.option("--epochs", type=int, default=2, show_default=True, help="loihi2 --train: epochs on Lava.")
@click.option("--train-samples", type=int, default=128, show_default=True, help="loihi2 --train: training rows.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="loihi2 --train: timesteps per update.")
@click.option("--lr", type=Finite(min=0, min_open=True), default=0.05, show_default=True,
              help="loihi2 --train: the port's step.")  # fmt: skip
@click.option("--data", default="digits", show_default=True, help="'digits' or an .npz; its test split is run.")
@click.option("--samples", type=click.IntRange(min=1), default=32, show_default=True, help="Test samples (one batch).")
@click.option(
    "--timeout",
    type=Finite(min=0, min_open=True, max=1e6),
    default=600.0,
    show_default=True,
    help="Seconds before the run is stopped.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line instead of the summary.")
@friendly
@private_temp
def deploy_command(
    model: Path, target: str, fixed_point: bool, train_too: bool, epochs: int, train_samples: int, batch_size: int,
    lr: float, data: str, samples: int, timeout: float, as_json: bool,
) -> None:  # fmt: skip
    """Run MODEL on Lava: accuracy, gradient error against the emulator per timestep, (loihi2) resources, timing."""
    from wavetrain import datasets
    from wavetrain.compiler.network import Network

    if target == "lava" and train_too:
        raise ConfigError("--train: deploy trains on the loihi2 target; train the custom processes with "
                          "`wavetrain train --target lava`")  # fmt: skip
    if target == "loihi2" and fixed_point:
        raise ConfigError("--fixed-point: the loihi2 target always runs Lava's fixed_pt library models")
    net = Network.load(model)
    dataset = datasets.load(data)
    x, y = rows(dataset, samples, "--samples", "test")
    x = x.reshape(len(x), *net.input_shape)
    if target == "loihi2":
        _library(model, net, dataset, x, y, train_too, epochs, train_samples, batch_size, lr, timeout, as_json)
        return
    _custom(model, net, dataset, x, y, fixed_point, timeout, as_json)


def _custom(model: Path, net: Any, dataset: Any, x: Any, y: Any, fixed_point: bool, timeout: float,
            as_json: bool) -> None:  # fmt: skip
    import numpy as np

    from wavetrain.deploy import deploy

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
        click.echo(
            f"  calibration: exponents chosen from these samples' exact values (the float light cone, i.e. tick 2L); "
            f"{clipped:.2%} of those fall outside their format"
        )
        saturated = ", ".join(f"{what} {count}" for what, count in report.saturated.items()) or "none"
        click.echo(
            f"  values saturated in the Lava run, counted per format over every timestep and sample (the waves "
            f"before tick 2L included, which the calibration does not see): {saturated}"
        )
    click.echo("  tick  max|G_lava - G_emulator|  max|G_lava - G_backprop|")
    for k, (a, b) in enumerate(zip(report.error_vs_emulator, report.error_vs_exact)):
        mark = "  <- 2L" if k == report.ticks else ""
        click.echo(f"  {k:4d}  {a:24.3e}  {b:24.3e}{mark}")
    click.echo(f"  {report.lava_seconds:.2f} s on Lava (startup included), {report.timesteps_per_s:.1f} timesteps/s")


def _library(model: Path, net: Any, dataset: Any, x: Any, y: Any, train_too: bool, epochs: int, train_samples: int,
             batch_size: int, lr: float, timeout: float, as_json: bool) -> None:  # fmt: skip
    from wavetrain.deploy import deploy_library
    from wavetrain.targets.lava.resources import Report

    if train_too and (epochs < 1 or train_samples < 1 or batch_size < 1):
        raise ConfigError(f"--epochs, --train-samples and --batch-size must be >= 1, got {epochs}, {train_samples}, "
                          f"{batch_size}")  # fmt: skip
    xt = dataset.x_train.reshape(len(dataset.x_train), *net.input_shape)
    if train_too:
        rows(dataset, train_samples, "--train-samples")  # NOTE: more rows than the data are refused, not clamped
    train_rows = (xt[:train_samples], dataset.y_train[:train_samples])
    report = deploy_library(net, x, y, calibration=(xt, dataset.y_train), train=train_rows if train_too else None,
                            epochs=epochs, batch_size=batch_size, lr=lr, timeout=timeout)  # fmt: skip
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    click.echo(f"{model.name} on Lava's library processes (fixed_pt), {len(x)} samples of {dataset.name}, one per "
               f"timestep")  # fmt: skip
    same = "bit for bit" if report.outputs_match else "NOT bit for bit"
    click.echo(f"  accuracy {report.accuracy:.4f} on Lava ({same} the emulator's library arithmetic, "
               f"{report.emulator_accuracy:.4f}), {report.float_accuracy:.4f} in float")  # fmt: skip
    click.echo(f"  port readout summed over the stream: {report.stream_vs_emulator:.1e} from the emulator, "
               f"{report.stream_vs_float:.2%} from float backprop (relative)")  # fmt: skip
    click.echo("  one sample relaxing; tick k = Lava timestep k + 3 at the sensitivities")
    click.echo("  tick  max|G - G_emulator|  max|G - G_fixed-point exact|  max|G - G_float backprop|")
    for k, (a, b, c) in enumerate(zip(report.error_vs_emulator, report.error_vs_fixed_exact, report.error_vs_float)):
        mark = "  <- 2D" if k == 2 * report.depth else ""
        click.echo(f"  {k:4d}  {a:19.3e}  {b:29.3e}  {c:25.3e}{mark}")
    resources = Report(**report.resources)
    click.echo("  resources and the cost estimate per training sample (Loihi 1 per-operation figures, docs/lava.md):")
    for line in resources.table().splitlines()[2:]:
        click.echo("    " + line.strip("| ").replace(" | ", ": "))
    click.echo(f"  {report.relax_seconds:.1f} s relaxing, {report.stream_seconds:.1f} s streaming on Lava (startup "
               f"included), {report.timesteps_per_s:.0f} timesteps/s")  # fmt: skip
    if report.training is not None:
        tr = report.training
        gaps = ", ".join(f"{g:.1e}" for g in tr["weight_gap"])
        click.echo(f"  trained on Lava: {tr['epochs']} epochs of {tr['samples']} samples, batch {tr['batch_size']}, "
                   f"lr {tr['lr']}: loss {tr['loss'][-1]:.4f}, test accuracy {tr['accuracy']:.4f}; weights against "
                   f"the emulator after each epoch: {gaps}; {tr['seconds']:.1f} s, "
                   f"{tr['timesteps_per_s']:.0f} timesteps/s")  # fmt: skip
