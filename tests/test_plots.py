"""Every figure wavetrain draws is rendered and is not empty; colours mean the same thing in every panel.

Each test takes the ``saved_figures`` fixture: every figure saved is inspected as drawn (tests/figures.py: data in
every panel, legends off the data, labelled axes with units, one style per label) and the test fails on a problem.
"""

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


def test_training_curves_and_fidelity_curves_render(tmp_path, trained, saved_figures):
    _, results = trained
    _drawn(plots.training_curves(results, tmp_path / "curves.png", title="t"))
    # NOTE: the demo's MNIST-1D figure: two labels of one method ("CNN dyadic", "MLP dyadic") must still differ
    demo = {"CNN backprop": results["backprop"], "CNN dyadic": results["wave"], "MLP dyadic": results["backprop"]}
    _drawn(plots.training_curves(demo, tmp_path / "mnist1d_cnn.png", title="MNIST-1D"))
    cosine = {"pcm": [0.9, 0.92, 0.93], "ecram": [0.99, 0.99, 0.995]}
    by_tick = {"ideal": [1.0, 0.5, 1e-20, 0.0], "lossy-board": [1.0, 0.6, 0.1, 0.09]}
    _drawn(plots.fidelity_curves(cosine, tmp_path / "fidelity.png", by_tick=by_tick, depth=1))
    _drawn(plots.fidelity_curves({}, tmp_path / "by_tick.png", by_tick=by_tick, depth=1))


def test_light_cone_and_waves_render_with_the_gradient_error(tmp_path, trained, saved_figures):
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


def test_lifetime_and_learning_circuit_figures_render(tmp_path, saved_figures):
    times = np.array([1.0, 3600.0, 86400.0, 3.15e7])
    curves = {
        "none": (times, [0.98, 0.95, 0.93, 0.91], [0.01] * 4),
        "global": (times, [0.98] * 3 + [0.97], [0.005] * 4),
    }
    _drawn(plots.lifetime_curves(curves, tmp_path / "lifetime.png", title="pcm"))
    t = np.arange(0, 1000, 50) + 0.5
    xor = {"ngspice": (t, np.exp(-t / 300)), "emulator": (t, np.exp(-t / 310))}
    _drawn(plots.loss_by_time(xor, tmp_path / "xor_learning.png", title="XOR", xlabel="physical time [ns]"))
    assert saved_figures.names() == {"lifetime.png", "xor_learning.png"}


def test_the_figure_check_fails_on_an_empty_panel_a_covering_legend_and_a_unitless_accuracy(tmp_path):
    from tests.figures import problems

    fig, (one, two) = plots.figure(1, 2)
    for k in range(5):  # NOTE: the 1-epoch T9 panel of the quick report: every curve one point at epoch 1
        one.plot([1], [10 + k], marker="o", label=f"estimator {k}")
    one.set(xlabel="epoch", ylabel="test accuracy (%)")
    x = np.linspace(0, 1, 50)
    for k in range(8):
        two.plot(x, x + 0.01 * k, label=f"line {k}")
    two.legend(loc="center")  # NOTE: over the lines
    two.set(xlabel="epoch", ylabel="test accuracy")
    found = " | ".join(problems(fig))
    assert "all its data sits at one x" in found and "covers the data" in found, found
    assert "names an accuracy without its unit" in found, found
    plots.save_figure(fig, tmp_path / "bad.png")
