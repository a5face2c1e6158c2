"""The ``wavetrain`` command line: parses arguments and calls the public API, nothing more."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click
import numpy as np

from wavetrain import cli_circuits, cli_hardware, cli_lava, cli_reproduce, cli_sweep
from wavetrain.cli_support import friendly, parse_layers
from wavetrain.compiler.functions import ACTIVATIONS, LOSSES
from wavetrain.emulator.train import METHODS
from wavetrain.errors import ConfigError, TrainingInterrupted, WavetrainError

DEFAULT_LR = 0.05  # SGD + momentum 0.9 on digits: 98 % test accuracy in 30 epochs (README)


@click.group()
@click.version_option(package_name="wavetrain")
def main() -> None:
    """Train networks as wave circuits; compile them to SPICE; run them on every backend."""


@main.command()
@click.option("--dataset", default="digits", show_default=True, help="'digits', 'mnist1d' or a path to an .npz (x, y).")
@click.option("--layers", default=None, help="Widths, input first, e.g. 64,128,10 (default: in,128,128,out).")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="dyadic",
    show_default=True,
    help="backprop (reference), dyadic (exact relaxation), wave (unlocked), or a learning rule of the papers "
    "(ocnopt and curvature step themselves: use --momentum 0).",
)
@click.option("--epochs", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=float, default=DEFAULT_LR, show_default=True)
@click.option("--momentum", type=float, default=0.9, show_default=True)
@click.option(
    "--activation",
    type=click.Choice(list(ACTIVATIONS)),
    default="tanh",
    show_default=True,
    help="Hidden-layer activation.",
)
@click.option(
    "--loss",
    type=click.Choice(["auto", *LOSSES]),
    default="auto",
    show_default=True,
    help="auto: cross_entropy for labels, mse for 2-D targets.",
)
@click.option(
    "--hold", type=click.IntRange(min=1), default=None, help="wave method: ticks each minibatch is held (default 2L)."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--name", default=None, help="Model name (default: the data set's name + '_mlp', made a valid name).")
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    default="float32",
    show_default=True,
    help="Training arithmetic: float32 (fast) or float64 (dyadic equals backprop to rounding).",
)
@click.option(
    "--hardware",
    default=None,
    help="Train on emulated analog hardware: a preset (wavetrain hardware list) or a .json model.",
)
@click.option(
    "--chips",
    type=click.IntRange(min=1),
    default=None,
    help="With --hardware: Monte-Carlo chip instances trained at once.",
)
@click.option("--save", "save_path", type=click.Path(dir_okay=False, path_type=Path), help="Save the trained network.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="PNG of loss/accuracy.")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Training-state checkpoint, written every --checkpoint-every epochs and on Ctrl-C/SIGTERM/SIGHUP "
    "(default: SAVE.ckpt.npz beside --save, else wavetrain-train-PID.ckpt.npz, on interruption only).",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=0),
    default=None,
    help="Epochs between checkpoints (default 1 with --checkpoint, else 0: only on interruption).",
)
@click.option(
    "--resume",
    "resume_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Continue the run a checkpoint holds, with its settings (--epochs may grow; it keeps writing there).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result line instead of the summary.")
@click.option(
    "--target",
    type=click.Choice(["emulator", "lava"]),
    default="emulator",
    show_default=True,
    help="lava: train on Lava's processes (methods dyadic and wave).",
)
@click.option(
    "--substrate",
    type=click.Choice(["ideal", "loihi"]),
    default="ideal",
    show_default=True,
    help="loihi: the Loihi fixed-point formats (calibrated on the training data; on Lava: fixed_pt).",
)
@friendly
def train(
    dataset: str,
    layers: str | None,
    method: str,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float,
    activation: str,
    loss: str,
    hold: int | None,
    seed: int,
    name: str | None,
    dtype: str,
    hardware: str | None,
    chips: int | None,
    save_path: Path | None,
    plot_path: Path | None,
    checkpoint_path: Path | None,
    checkpoint_every: int | None,
    resume_path: Path | None,
    as_json: bool,
    target: str,
    substrate: str,
) -> None:
    """Train a network on a data set with the emulator (or on Lava, --target lava); resumable: see --checkpoint
    and --resume."""
    import os

    import wavetrain
    from wavetrain.files import check_writable, writer_locks

    options = dict(
        dataset=dataset,
        layers=layers,
        method=method,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        activation=activation,
        loss=loss,
        hold=hold,
        seed=seed,
        name=name,
        dtype=dtype,
    )
    elsewhere = target != "emulator" or substrate != "ideal" or hardware is not None
    if elsewhere and (checkpoint_path or checkpoint_every is not None or resume_path):
        raise click.UsageError(
            "--checkpoint, --checkpoint-every and --resume: only for the emulator's ideal "
            "substrate without --hardware (other runs save the network at the end)"
        )
    if resume_path is not None:
        options = resumed_options(resume_path, options, click.get_current_context())
        checkpoint_path = resume_path if checkpoint_path is None else checkpoint_path
    every = checkpoint_every if checkpoint_every is not None else (1 if checkpoint_path is not None else 0)
    if checkpoint_path is None and not elsewhere:
        implicit = (
            save_path.with_name(save_path.stem + ".ckpt.npz")
            if save_path
            else Path(f"wavetrain-train-{os.getpid()}.ckpt.npz")
        )
        try:
            checkpoint_path = check_writable(implicit, "checkpoint")
        except WavetrainError:
            checkpoint_path = None  # NOTE: an implicit checkpoint is a courtesy, not a reason to refuse the run
    for path, what in ((save_path, "--save"), (plot_path, "--plot"), (checkpoint_path, "--checkpoint")):
        if path is not None:
            check_writable(path, what)
    if plot_path is not None and options["epochs"] == 0:
        raise ConfigError("--plot: expected --epochs >= 1 (there is nothing to plot), got --epochs 0")
    data = wavetrain.datasets.load(options["dataset"])
    sizes = parse_layers(options["layers"]) if options["layers"] else [data.n_features, 128, 128, data.n_outputs]
    loss = options["loss"]
    if loss == "auto":
        loss = "cross_entropy" if data.n_classes else "mse"
    model_name = options["name"] if options["name"] is not None else valid_name(f"{data.name}_mlp")
    check_model_name(model_name)
    net = wavetrain.Network.mlp(
        sizes, activation=options["activation"], loss=loss, seed=options["seed"], name=model_name
    )
    net.meta["cli"] = dict(options)
    common = dict(
        method=options["method"],
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        lr=options["lr"],
        momentum=options["momentum"],
        hold=options["hold"],
        seed=options["seed"],
        progress=not as_json,
    )
    dtype_option = {"dtype": options["dtype"]}
    with writer_locks([(save_path, "--save"), (plot_path, "--plot")]):
        try:
            if target == "emulator" and substrate == "ideal" and hardware is None:
                result = wavetrain.train(
                    net,
                    data,
                    checkpoint=checkpoint_path,
                    checkpoint_every=every,
                    resume=resume_path,
                    chips=chips,
                    **common,
                    **dtype_option,
                )
            elif target == "emulator" and substrate == "ideal":
                result = wavetrain.train(net, data, hardware=hardware, chips=chips, **common, **dtype_option)
            else:
                if hardware is not None or chips is not None:
                    raise click.UsageError(
                        f"--hardware/--chips train on emulated analog chips; they do not combine "
                        f"with --target {target} --substrate {substrate}"
                    )
                result = cli_lava.train_elsewhere(net, data, target, substrate, **common)
        except TrainingInterrupted as err:
            click.echo(f"wavetrain train: {err}", err=True)
            sys.exit(128 + err.signal)
        if save_path:
            net.save(save_path)
        if plot_path:
            from wavetrain import plots

            plots.training_curves(
                {options["method"]: result}, plot_path, title=f"{data.name} {'-'.join(map(str, sizes))}"
            )
    if as_json:
        click.echo(result.to_json())
        return
    click.echo(f"{options['method']} on {data!r}, layers {'-'.join(map(str, sizes))}, {loss}:")
    if not result.loss:
        click.echo("  0 epochs: nothing trained")
    else:
        click.echo(f"  final running train loss {result.loss[-1]:.4f} ({result.dtype})")
        click.echo(f"  test loss {result.test_loss[-1]:.4f}  test accuracy {result.final_test_accuracy:.4f}")
        click.echo(f"  {result.wall_time:.2f} s training, {result.samples_per_s:,.0f} samples/s")
    if result.hardware is not None and result.loss:
        click.echo(
            f"  on {result.hardware['name']} hardware: gradient cosine {result.fidelity.mean_cosine:.4f} "
            f"(mean over epochs), relative error {result.fidelity.relative_error[-1]:.4f} (last epoch)"
            if result.fidelity is not None
            else f"  on {result.hardware['name']} hardware"
        )
        if result.chips:
            chips_acc = " ".join(f"{a:.3f}" for a in result.chip_test_accuracy[-1])
            click.echo(f"  test accuracy per chip: {chips_acc}")
    for path, what in ((save_path, "network"), (plot_path, "plot")):
        if path:
            click.echo(f"  {what} written to {path}")
    if checkpoint_path is not None and checkpoint_path.exists() and every:
        click.echo(f"  checkpoint written to {checkpoint_path}")


def valid_name(text: str) -> str:
    """A model name every backend accepts ([A-Za-z][A-Za-z0-9_]*, at most 64 characters) made from any text."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not name or not name[0].isalpha():
        name = "m_" + name
    return name[:64]


def check_model_name(name: str) -> None:
    from wavetrain.circuits import check_name

    try:
        check_name(name, "--name")
    except WavetrainError as err:
        raise click.BadParameter(str(err), param_hint="--name") from err


def resumed_options(path: Path, given: dict, context: click.Context) -> dict:
    """The options of the run a checkpoint holds; options given on this command line override them (train() then
    refuses any that would change the trajectory, except --epochs)."""
    from wavetrain.compiler import Network

    saved = Network.load(path).meta.get("cli")
    if not isinstance(saved, dict):
        raise ConfigError(f"--resume {path}: the checkpoint was not written by `wavetrain train` (no CLI settings)")
    options = dict(given)
    for key, value in saved.items():
        if key in options and context.get_parameter_source(key) == click.core.ParameterSource.DEFAULT:
            options[key] = value
    return options


@main.command()
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A saved network (default: a fresh MLP of --layers).",
)
@click.option("--layers", default="4,7,6,5,8,3", show_default=True)
@click.option("--activation", type=click.Choice(list(ACTIVATIONS)), default="tanh", show_default=True)
@click.option("--loss", type=click.Choice(list(LOSSES)), default="mse", show_default=True)
@click.option("--batch", type=click.IntRange(min=1, max=10**6), default=4, show_default=True)
@click.option("--courant", type=float, default=1.0, show_default=True)
@click.option("--ticks", type=click.IntRange(min=0, max=10**7), default=None, help="Default: 2L + 2.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="PNG of error vs tick.")
@click.option("--json", "as_json", is_flag=True)
@friendly
def gradients(
    model: Path | None,
    layers: str,
    activation: str,
    loss: str,
    batch: int,
    courant: float,
    ticks: int | None,
    seed: int,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Print the per-tick gradient error of the wave relaxation against backprop (the light cone)."""
    import wavetrain
    from wavetrain import plots
    from wavetrain.emulator import backprop

    if plot_path is not None:
        from wavetrain.files import check_writable

        check_writable(plot_path, "--plot")
    net = (
        wavetrain.Network.load(model)
        if model
        else wavetrain.Network.mlp(parse_layers(layers), activation=activation, loss=loss, seed=seed)
    )
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, net.sizes[0]))
    y = (
        rng.integers(0, net.sizes[-1], size=batch)
        if net.loss == "cross_entropy"
        else rng.normal(size=(batch, net.sizes[-1]))
    )
    ticks = 2 * net.depth + 2 if ticks is None else ticks
    relaxation = wavetrain.relax(net, x, y, ticks=ticks, courant=courant, history=True)
    reference, _ = backprop(net.machine(), x, net.targets(y))
    errors = relaxation.error_by_tick(reference)
    per_layer = np.array(
        [[np.max(np.abs(g[0] - r[0])) for g, r in zip(step, reference)] for step in relaxation.history.grads]
    )
    if plot_path:
        plots.gradient_error(per_layer, net.depth, plot_path, courant=courant)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "depth": net.depth,
                    "courant": courant,
                    "max_abs_error": errors.tolist(),
                    "per_layer": per_layer.tolist(),
                }
            )
        )
        return
    click.echo(f"network {'-'.join(map(str, net.sizes))} (L = {net.depth}), courant {courant}, batch {batch}")
    click.echo("tick  max|G - G_bp|  " + "  ".join(f"layer{l + 1:<4}" for l in range(net.depth)))
    for k, (err, row) in enumerate(zip(errors, per_layer)):
        mark = "  <- 2L" if k == 2 * net.depth else ""
        click.echo(f"{k:4d}  {err:12.3e}  " + "  ".join(f"{v:9.2e}" for v in row) + mark)
    if plot_path:
        click.echo(f"plot written to {plot_path}")


# compile, simulate; hardware; deploy; reproduce; sweep
for _module in (cli_circuits, cli_hardware, cli_lava, cli_reproduce, cli_sweep):
    _module.register(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog_name="wavetrain"))
