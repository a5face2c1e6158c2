"""``wavetrain gradients``: the per-tick gradient error of the wave relaxation against backprop (the light cone)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wavetrain.cli.support import friendly, parse_layers
from wavetrain.compiler.functions import ACTIVATIONS, LOSSES


@click.command("gradients")
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A saved network (default: a fresh MLP of --layers).",
)
@click.option("--layers", default="4,7,6,5,8,3", show_default=True)
@click.option("--activation", type=click.Choice(list(ACTIVATIONS)), default="tanh", show_default=True)
@click.option("--loss", type=click.Choice(list(LOSSES)), default="mse", show_default=True)
@click.option("--batch", type=click.IntRange(min=1, max=10**6), default=4, show_default=True)
@click.option(
    "--courant",
    type=float,
    default=1.0,
    show_default=True,
    help="Courant number of the relaxation: 1 is exact at tick 2L; below 1 converges geometrically; (0, 2).",
)
@click.option("--ticks", type=click.IntRange(min=0, max=10**7), default=None, help="Default: 2L + 2.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="PNG of error vs tick.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (errors per tick and layer) instead.")
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
    import numpy as np

    import wavetrain
    from wavetrain import plots
    from wavetrain.emulator import backprop
    from wavetrain.files import check_writable

    if plot_path is not None:
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
    by_node, _ = backprop(net.machine(), x, net.targets(y))
    reference = [by_node[n] for n in relaxation.params]
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
