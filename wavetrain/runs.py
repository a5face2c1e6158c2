"""What ``wavetrain train`` does, as small API steps: its settings, output paths, network, run and summary.

The command parses its options, calls these in order and prints; each step raises a WavetrainError naming the option
at fault before any training starts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavetrain.errors import ConfigError, WavetrainError

# the settings a `wavetrain train` checkpoint keeps (Network.meta["cli"]) and `--resume` restores
SETTINGS = (
    "dataset",
    "layers",
    "method",
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "activation",
    "loss",
    "hold",
    "seed",
    "name",
    "dtype",
)


@dataclass(frozen=True)
class Outputs:
    """Where a run writes, each path checked writable: the network, the plot, the checkpoint (every ``every``
    epochs; 0: on interruption only)."""

    save: Path | None
    plot: Path | None
    checkpoint: Path | None
    every: int


def saved_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings of the ``wavetrain train`` run whose checkpoint is at ``path``."""
    from wavetrain.compiler.network import Network

    saved = Network.load(path).meta.get("cli")
    if not isinstance(saved, dict):
        raise ConfigError(f"--resume {path}: the checkpoint was not written by `wavetrain train` (no CLI settings)")
    return saved


def outputs(
    save: Path | None,
    plot: Path | None,
    checkpoint: Path | None,
    every: int | None,
    epochs: int,
    implicit: bool = True,
) -> Outputs:
    """Check every output path before training; without ``checkpoint`` (and with ``implicit``) one is still written on
    interruption, beside ``save`` or as wavetrain-train-PID.ckpt.npz, where that path is writable."""
    from wavetrain.files import check_writable

    every = every if every is not None else (1 if checkpoint is not None else 0)
    if checkpoint is None and implicit:
        default = save.with_name(save.stem + ".ckpt.npz") if save else Path(f"wavetrain-train-{os.getpid()}.ckpt.npz")
        try:
            checkpoint = check_writable(default, "checkpoint")
        except WavetrainError:
            checkpoint = None  # NOTE: an implicit checkpoint is a courtesy, not a reason to refuse the run
    for path, what in ((save, "--save"), (plot, "--plot"), (checkpoint, "--checkpoint")):
        if path is not None:
            check_writable(path, what)
    if plot is not None and epochs == 0:
        raise ConfigError("--plot: expected --epochs >= 1 (there is nothing to plot), got --epochs 0")
    return Outputs(save, plot, checkpoint, every)


def default_sizes(data: Any) -> list[int]:
    """The widths of the default MLP for a data set: in, 128, 128, out."""
    return [data.n_features, 128, 128, data.n_outputs]


def valid_name(text: str) -> str:
    """A model name every backend accepts ([A-Za-z][A-Za-z0-9_]*, at most 64 characters) made from any text."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not name or not name[0].isalpha():
        name = "m_" + name
    return name[:64]


def model_name(name: str | None, data: Any) -> str:
    """``name``, checked, or the data set's name + ``_mlp`` made a valid name (``my-data.npz``: ``my_data_mlp``)."""
    from wavetrain.circuits import check_name

    return check_name(name if name is not None else valid_name(f"{data.name}_mlp"), "--name")


def network(settings: dict[str, Any], data: Any, sizes: list[int], name: str) -> Any:
    """The fresh MLP a run trains (loss "auto": cross_entropy for labels, mse for 2-D targets), settings kept."""
    from wavetrain.compiler.network import Network

    loss = settings["loss"]
    if loss == "auto":
        loss = "cross_entropy" if data.n_classes else "mse"
    net = Network.mlp(sizes, activation=settings["activation"], loss=loss, seed=settings["seed"], name=name)
    net.meta["cli"] = dict(settings)
    return net


def run(
    net: Any,
    data: Any,
    settings: dict[str, Any],
    out: Outputs,
    target: str = "emulator",
    substrate: str = "ideal",
    hardware: str | None = None,
    chips: int | None = None,
    resume: Path | None = None,
    progress: bool = True,
) -> Any:
    """Train ``net`` in place (on the emulator, its analog chips, Lava or the Loihi substrate) while holding the
    writer locks of ``out``, then save the network and the plot; returns the TrainResult."""
    from wavetrain.emulator.train import train
    from wavetrain.files import writer_locks

    common = {key: settings[key] for key in ("method", "epochs", "batch_size", "lr", "momentum", "hold", "seed")}
    common["progress"] = progress
    dtype_option = {"dtype": settings["dtype"]}
    locked: list[tuple[str | os.PathLike[str], str]] = [
        (path, what) for path, what in ((out.save, "--save"), (out.plot, "--plot")) if path is not None
    ]
    with writer_locks(locked):
        if target == "emulator" and substrate == "ideal" and hardware is None:
            result = train(
                net,
                data,
                checkpoint=out.checkpoint,
                checkpoint_every=out.every,
                resume=resume,
                chips=chips,
                **common,
                **dtype_option,
            )
        elif target == "emulator" and substrate == "ideal":
            result = train(net, data, hardware=hardware, chips=chips, **common, **dtype_option)
        else:
            from wavetrain.deploy import train_on

            result, _ = train_on(net, data, target=target, substrate=substrate, **common)
        if out.save:
            net.save(out.save)
        if out.plot:
            from wavetrain import plots

            title = f"{data.name} {'-'.join(map(str, net.sizes))}"
            plots.training_curves({settings["method"]: result}, out.plot, title=title)
    return result


def summary(result: Any, data: Any, net: Any, settings: dict[str, Any], out: Outputs) -> str:
    """The lines ``wavetrain train`` prints after a run: losses, accuracy, speed, chips, what it wrote."""
    lines = [f"{settings['method']} on {data!r}, layers {'-'.join(map(str, net.sizes))}, {net.loss}:"]
    if not result.loss:
        lines.append("  0 epochs: nothing trained")
    else:
        lines.append(f"  final running train loss {result.loss[-1]:.4f} ({result.dtype})")
        lines.append(f"  test loss {result.test_loss[-1]:.4f}  test accuracy {result.final_test_accuracy:.4f}")
        lines.append(f"  {result.wall_time:.2f} s training, {result.samples_per_s:,.0f} samples/s")
    if result.hardware is not None and result.loss:
        lines.append(
            f"  on {result.hardware['name']} hardware: gradient cosine {result.fidelity.mean_cosine:.4f} "
            f"(mean over epochs), relative error {result.fidelity.relative_error[-1]:.4f} (last epoch)"
            if result.fidelity is not None
            else f"  on {result.hardware['name']} hardware"
        )
        if result.chips:
            lines.append(f"  test accuracy per chip: {' '.join(f'{a:.3f}' for a in result.chip_test_accuracy[-1])}")
    lines += [f"  {what} written to {path}" for path, what in ((out.save, "network"), (out.plot, "plot")) if path]
    if out.checkpoint is not None and out.checkpoint.exists() and out.every:
        lines.append(f"  checkpoint written to {out.checkpoint}")
    return "\n".join(lines)
