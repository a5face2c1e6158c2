"""Every figure wavetrain draws is rendered and is not empty; colours mean the same thing in every panel."""

from __future__ import annotations

import numpy as np
import pytest

import wavetrain
from wavetrain import plots
from wavetrain.emulator import backprop


def _drawn(path) -> np.ndarray:
    import matplotlib.image

    image = matplotlib.image.imread(str(path))[..., :3]
    colours = {tuple(pixel) for pixel in (image.reshape(-1, 3)[::7] * 255).astype(int)}
    assert image.shape[0] > 200 and image.shape[1] > 300 and len(colours) > 30, (image.shape, len(colours))
    return image


@pytest.fixture(scope="module")
def trained():
    data = wavetrain.datasets.load("digits")
    results = {}
    for method in ("backprop", "wave"):
        net = wavetrain.Network.mlp([64, 16, 10], loss="cross_entropy", seed=0)
        results[method] = wavetrain.train(net, data, method=method, epochs=3, batch_size=64)
    return data, results


def test_training_curves_and_fidelity_curves_render(tmp_path, trained):
    _, results = trained
    _drawn(plots.training_curves(results, tmp_path / "curves.png", title="t"))
    cosine = {"pcm": [0.9, 0.92, 0.93], "ecram": [0.99, 0.99, 0.995]}
    by_tick = {"ideal": [1.0, 0.5, 1e-20, 0.0], "lossy-board": [1.0, 0.6, 0.1, 0.09]}
    _drawn(plots.fidelity_curves(cosine, tmp_path / "fidelity.png", by_tick=by_tick, depth=1))
    _drawn(plots.fidelity_curves({}, tmp_path / "by_tick.png", by_tick=by_tick, depth=1))


def test_light_cone_and_waves_render_with_the_gradient_error(tmp_path, trained):
    data, results = trained
    net = results["backprop"].network
    x, y = data.x_train[:8], data.y_train[:8]
    relaxation = wavetrain.relax(net, x, y, ticks=2 * net.depth + 2, history=True)
    reference = list(backprop(net.machine(), x, net.targets(y))[0].values())
    per_layer = np.array(
        [[np.max(np.abs(g[0] - r[0])) for g, r in zip(step, reference)] for step in relaxation.history.grads]
    )
    _drawn(plots.gradient_error(per_layer, net.depth, tmp_path / "cone.png"))
    two = _drawn(plots.waves(relaxation, net.depth, tmp_path / "waves.png"))
    three = _drawn(plots.waves(relaxation, net.depth, tmp_path / "waves3.png", reference=reference))
    assert three.shape[1] > 1.3 * two.shape[1]  # NOTE: the third panel, the gradient error the README points to


def test_a_colour_means_one_thing_in_every_panel():
    assert plots.color_for("pcm") == plots.color_for("pcm (train)") != plots.color_for("lossy-board")
    assert plots.color_for("lossy-board, wave lr 0.05") == plots.color_for("lossy-board")
    assert plots.color_for("ideal, wave lr 0.02") == plots.color_for("ideal")
    assert plots.color_for("pipelined+stash") == plots.COLORS["pipelined"]
    assert plots.color_for("something else", 0) != plots.color_for("something else", 1)
