"""What ``wavetrain train`` does, as small API steps: its settings, output paths, network, run and summary.

The command parses its options, calls these in order and prints; each step raises a WavetrainError naming the option
at fault before any training starts.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavetrain.errors import ConfigError, DataError, WavetrainError

# the settings a `wavetrain train` checkpoint keeps (Network.meta["cli"]) and `--resume` restores
SETTINGS = (
    "dataset",
    "layers",
    "network",
    "model",
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
    "standardize",
    "hardware",
    "chips",
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


def check_dtype(dtype: str, given: bool, target: str, substrate: str) -> None:
    """``--dtype`` given with a target or substrate that computes in float64 (Lava's models; the Loihi fixed-point
    integers, exact only in float64): refused unless it says float64, never dropped silently."""
    where = f"--target {target}" if target != "emulator" else f"--substrate {substrate}" if substrate != "ideal" else ""
    if given and where and dtype != "float64":
        raise ConfigError(
            f"--dtype {dtype}: {where} computes in float64, expected --dtype float64 or no --dtype "
            f"(the emulator's ideal substrate trains in float32)"
        )


def default_sizes(data: Any) -> list[int]:
    """The widths of the default MLP for a data set: in, 128, 128, out."""
    return [data.n_features, 128, 128, data.n_outputs]


def valid_name(text: str) -> str:
    """A model name every backend accepts ([A-Za-z][A-Za-z0-9_]*, at most 64 characters) made from any text."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not name or not name[0].isalpha():
        name = "m_" + name
    return name[:64]


def model_name(name: str | None, data: Any, model: str | None = None) -> str:
    """``name``, checked, or the preset's name (``cnn1d-mnist1d``: ``cnn1d_mnist1d``), or the data set's name +
    ``_mlp``, made a valid name (``my-data.npz``: ``my_data_mlp``)."""
    from wavetrain.circuits import check_name

    default = valid_name(model) if model else valid_name(f"{data.name}_mlp")
    return check_name(name if name is not None else default, "--name")


def network(settings: dict[str, Any], data: Any, sizes: list[int] | None, name: str) -> Any:
    """The network a run trains, settings kept in its meta: the saved network ``settings["network"]`` (its own
    weights), a fresh preset ``settings["model"]`` (:mod:`wavetrain.compiler.models`), or a fresh MLP of ``sizes``
    (loss "auto": cross_entropy for labels, mse for 2-D targets)."""
    from wavetrain.compiler.network import Network

    loss = settings["loss"]
    if loss == "auto":
        loss = "cross_entropy" if data.n_classes else "mse"
    if settings.get("network"):
        net = Network.load(settings["network"])
        net.name = name if settings.get("name") else net.name
        if settings["loss"] != "auto" and settings["loss"] != net.loss:
            raise ConfigError(f"--loss {settings['loss']}: the network {settings['network']} was saved with loss "
                              f"{net.loss!r}; leave --loss unset to train it as saved")  # fmt: skip
    elif settings.get("model"):
        from wavetrain.compiler.models import preset

        chosen = preset(settings["model"])
        net = chosen.network(settings["seed"], loss=None if settings["loss"] == "auto" else loss, name=name)
    else:
        assert sizes is not None
        net = Network.mlp(sizes, activation=settings["activation"], loss=loss, seed=settings["seed"], name=name)
    net.meta["cli"] = dict(settings)
    return net


def check_fits(net: Any, data: Any, settings: dict[str, Any]) -> None:
    """Refuse (DataError, naming --dataset) data whose samples or outputs do not fit the network, before training;
    flat samples of as many values as the input are read in its shape, as train() reads them."""
    from wavetrain.compiler.data import check_inputs

    sample = data.x_train[:1]
    if sample.ndim == 2 and len(net.input_shape) > 1 and sample.shape[1] == math.prod(net.input_shape):
        sample = sample.reshape(1, *net.input_shape)  # NOTE: flat samples read in the input's shape, as train() does
    where = f"--dataset {settings['dataset']}"
    values, want = math.prod(data.sample_shape), math.prod(net.input_shape)
    if values != want:
        raise DataError(
            f"{where}: samples of shape {data.sample_shape} ({values} values) do not fit the network "
            f"{net.name} ({net.describe()}), expected samples of shape {net.input_shape} ({want} values)"
        )
    check_inputs(sample, net.input_shape, f"{where} (samples for network {net.describe()})")
    if net.n_outputs != data.n_outputs:
        raise DataError(f"{where}: the data have {data.n_outputs} {'classes' if data.n_classes else 'outputs'}, "
                        f"expected {net.n_outputs} (the network's outputs)")  # fmt: skip


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
        if target == "emulator" and substrate == "ideal":
            result = train(
                net,
                data,
                checkpoint=out.checkpoint,
                checkpoint_every=out.every,
                resume=resume,
                hardware=hardware,
                chips=chips,
                **common,
                **dtype_option,
            )
        else:
            from wavetrain.deploy import train_on

            result, _ = train_on(net, data, target=target, substrate=substrate, **common)
        if out.save:
            net.save(out.save)
        if out.plot:
            from wavetrain import plots

            title = f"{data.name} {net.describe()}"
            plots.training_curves({settings["method"]: result}, out.plot, title=title)
    return result


def summary(result: Any, data: Any, net: Any, settings: dict[str, Any], out: Outputs) -> str:
    """The lines ``wavetrain train`` prints after a run: losses, accuracy, speed, chips, what it wrote."""
    shape = f"layers {net.describe()}" if net.is_chain else f"network {net.name} ({net.describe()})"
    lines = [f"{settings['method']} on {data!r}, {shape}, {net.loss}:"]
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
