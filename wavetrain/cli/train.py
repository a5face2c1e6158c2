"""``wavetrain train``: parse the options, call :mod:`wavetrain.runs` step by step, print the summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from wavetrain import runs
from wavetrain.cli.support import FILE, friendly, parse_layers, private_temp, resumed
from wavetrain.compiler.functions import ACTIVATIONS, LOSSES
from wavetrain.compiler.models import PRESETS
from wavetrain.emulator.train import METHODS
from wavetrain.errors import TrainingInterrupted, WavetrainError


@click.command("train")
@click.option(
    "--dataset",
    default="digits",
    show_default=True,
    help="'digits', 'mnist1d' or a path to an .npz (x, y); with --model, the preset's data set by default.",
)
@click.option(
    "--standardize",
    is_flag=True,
    help="Centre and scale every input feature by the training set's mean and spread (for raw measurements).",
)
@click.option("--layers", default=None, help="Widths, input first, e.g. 64,128,10 (default: in,128,128,out).")
@click.option(
    "--network",
    type=FILE,
    help="Train a saved network (any graph: wavetrain Network.save, or imported from PyTorch) from its weights.",
)
@click.option(
    "--model",
    type=click.Choice(list(PRESETS)),
    help="A named network, fresh from --seed: "
    + "; ".join(f"{name}: {p.description} on {p.data}" for name, p in PRESETS.items())
    + ".",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="dyadic",
    show_default=True,
    help="backprop (reference), dyadic (exact relaxation), wave (unlocked), or a learning rule of the papers "
    "('pipelined', without delay lines, is the control experiment that barely learns).",
)
@click.option("--epochs", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=float, default=None, help="Learning rate (default: the method's, 0.05).")
@click.option(
    "--momentum",
    type=float,
    default=None,
    help="Heavy-ball momentum (default: the method's, 0.9; 0.5 for forward; 0 for the pipelined methods, ocnopt "
    "and curvature).",
)
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
@click.option("--hold", type=click.IntRange(min=1), help="wave method: ticks each minibatch is held (default 2L).")
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
    "--hardware", help="Train on emulated analog hardware: a preset (wavetrain hardware list) or a .json model."
)
@click.option(
    "--chips", type=click.IntRange(min=1), help="With --hardware: Monte-Carlo chip instances trained at once."
)
@click.option("--save", "save_path", type=FILE, help="Save the trained network.")
@click.option("--plot", "plot_path", type=FILE, help="PNG of loss/accuracy.")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=FILE,
    help="Training-state checkpoint, written every --checkpoint-every epochs and on Ctrl-C/SIGTERM/SIGHUP "
    "(default: SAVE.ckpt.npz beside --save, else wavetrain-train-PID.ckpt.npz, on interruption only).",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=0),
    help="Epochs between checkpoints (default 1 with --checkpoint, else 0: only on interruption).",
)
@click.option(
    "--resume",
    "resume_path",
    type=FILE,
    help="Continue the run a checkpoint holds, with its settings (--epochs may grow; it keeps writing there).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result line instead of the summary.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="The epoch progress bar on stderr (default: only when stderr is a terminal, and never with --json).",
)
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
@private_temp
def train(
    save_path: Path | None,
    plot_path: Path | None,
    checkpoint_path: Path | None,
    checkpoint_every: int | None,
    resume_path: Path | None,
    as_json: bool,
    progress: bool | None,
    target: str,
    substrate: str,
    **given: Any,
) -> None:
    """Train a network on a data set with the emulator (or on Lava, --target lava); resumable: see --checkpoint
    and --resume."""
    from wavetrain import datasets

    settings = {key: given[key] for key in runs.SETTINGS}
    if settings["network"] is not None:
        settings["network"] = str(settings["network"])  # NOTE: kept in the checkpoint's JSON meta
    elsewhere = target != "emulator" or substrate != "ideal"
    if elsewhere and (checkpoint_path or checkpoint_every is not None or resume_path):
        raise click.UsageError(
            "--checkpoint, --checkpoint-every and --resume: only for the emulator (its ideal substrate or "
            "--hardware chips; other runs save the network at the end)"
        )
    source = click.get_current_context().get_parameter_source("dtype")
    runs.check_dtype(settings["dtype"], source != click.core.ParameterSource.DEFAULT, target, substrate)
    if resume_path is not None:
        settings = resumed(settings, runs.saved_settings(resume_path))
        checkpoint_path = resume_path if checkpoint_path is None else checkpoint_path
    hardware, chips = settings["hardware"], settings["chips"]
    out = runs.outputs(
        save_path, plot_path, checkpoint_path, checkpoint_every, settings["epochs"], implicit=not elsewhere
    )
    context = click.get_current_context()
    if settings["network"] and settings["model"]:
        raise click.UsageError("--network and --model both name the network to train; give one")
    if settings["network"] or settings["model"]:
        given_shape = [
            o for o in ("layers", "activation") if context.get_parameter_source(o) != ParameterSource.DEFAULT
        ]
        if given_shape:
            raise click.UsageError(f"--{given_shape[0]} shapes an MLP; --network and --model bring their own graph")
        if settings["model"] and context.get_parameter_source("dataset") == ParameterSource.DEFAULT:
            settings["dataset"] = PRESETS[settings["model"]].data
    data = datasets.load(settings["dataset"], standardize=settings["standardize"])
    structured = settings["network"] or settings["model"]
    sizes = (
        None if structured else (parse_layers(settings["layers"]) if settings["layers"] else runs.default_sizes(data))
    )
    try:
        name = runs.model_name(settings["name"], data, settings["model"])
    except WavetrainError as err:
        raise click.BadParameter(str(err), param_hint="--name") from err
    net = runs.network(settings, data, sizes, name)
    runs.check_fits(net, data, settings)
    if (target != "emulator" or substrate != "ideal") and (hardware is not None or chips is not None):
        raise click.UsageError(
            f"--hardware/--chips train on emulated analog chips; they do not combine "
            f"with --target {target} --substrate {substrate}"
        )
    try:
        result = runs.run(
            net,
            data,
            settings,
            out,
            target,
            substrate,
            hardware,
            chips,
            resume=resume_path,
            progress=(not as_json and sys.stderr.isatty()) if progress is None else progress,
        )
    except TrainingInterrupted as err:
        click.echo(f"wavetrain train: {err}", err=True)
        sys.exit(128 + err.signal)
    click.echo(result.to_json() if as_json else runs.summary(result, data, net, settings, out))
