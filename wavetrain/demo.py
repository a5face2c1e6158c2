"""`make demo`: the main job, end to end, on real data, with numbers and plots.

python -m wavetrain.demo --out demo_out
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

import wavetrain
from wavetrain import plots
from wavetrain.compiler import names
from wavetrain.emulator import backprop
from wavetrain.files import atomic_write

SIZES = [64, 128, 128, 10]
EPOCHS = 30
CNN_EPOCHS = 40  # NOTE: the mnist1d paper's CNN passes 90 % after about 30 epochs of SGD + momentum at lr 0.02
CIRCUIT_CNN_EPOCHS = 20  # NOTE: section 3b's CNN (8 channels): ~74 % on MNIST-1D, and ngspice relaxes it in seconds
HARDWARE_EPOCHS = 15  # NOTE: three chips train in section 6; half the epochs keep the demo a few minutes
PROGRESS = {"bars": False}  # NOTE: set by main: the epoch progress bars, on a terminal unless --progress/--no-progress


def section(title: str) -> None:
    click.secho(f"\n== {title} ==", bold=True)


def light_cone(data: wavetrain.datasets.Dataset, out: Path) -> None:
    section("1. the light cone: frozen weights, waves relax, the ports read the exact gradient at tick 2L")
    net = wavetrain.Network.mlp(SIZES, loss="cross_entropy", seed=0)
    x, y = data.x_train[:32], data.y_train[:32]
    relaxation = wavetrain.relax(net, x, y, ticks=2 * net.depth + 2, history=True)
    reference = list(backprop(net.machine(), x, net.targets(y))[0].values())  # node order, as the history
    per_layer = np.array(
        [[np.max(np.abs(g[0] - r[0])) for g, r in zip(step, reference)] for step in relaxation.history.grads]
    )
    click.echo("tick  " + "  ".join(f"layer{l + 1} max|G - G_backprop|" for l in range(net.depth)))
    for k, row in enumerate(per_layer):
        click.echo(f"{k:4d}  " + "  ".join(f"{v:24.2e}" for v in row) + ("   <- 2L" if k == 2 * net.depth else ""))
    path = plots.gradient_error(per_layer, net.depth, out / "light_cone.png")
    click.echo(f"plot: {path}")


def training(data: wavetrain.datasets.Dataset, out: Path) -> dict[str, wavetrain.TrainResult]:
    section(f"2. training {'-'.join(map(str, SIZES))} tanh on {data!r}, {EPOCHS} epochs, batch 32, seed 0")
    results = {}
    for method in ("backprop", "dyadic", "wave"):
        net = wavetrain.Network.mlp(SIZES, loss="cross_entropy", seed=0, name=f"digits_{method}")
        results[method] = wavetrain.train(net, data, method=method, epochs=EPOCHS, seed=0, progress=PROGRESS["bars"])
        net.save(out / f"digits_{method}.npz")
    click.echo(f"{'method':>10} {'test acc':>9} {'train loss':>11} {'time [s]':>9} {'samples/s':>10}")
    for method, result in results.items():
        click.echo(
            f"{method:>10} {result.final_test_accuracy:9.4f} {result.loss[-1]:11.4f} "
            f"{result.wall_time:9.2f} {result.samples_per_s:10,.0f}"
        )
    gap = abs(results["dyadic"].final_test_accuracy - results["backprop"].final_test_accuracy)
    click.echo(f"dyadic vs backprop: {100 * gap:.2f} points apart (same trajectory up to rounding)")
    click.echo(
        f"wave (unlocked, ports move every tick, input held {results['wave'].hold} ticks): "
        f"{100 * results['wave'].final_test_accuracy:.1f} %"
    )
    path = plots.training_curves(results, out / "training_curves.png", title="digits: backprop vs dyadic vs wave")
    click.echo(f"plot: {path}; trained networks: {out}/digits_*.npz")
    return results


def graphs(out: Path) -> dict[str, wavetrain.TrainResult]:
    section(
        f"2b. a real model: the MNIST-1D paper's CNN as a graph (dyadic beside backprop) against its MLP, "
        f"{CNN_EPOCHS} epochs, seed 0"
    )
    mnist1d = wavetrain.datasets.load("mnist1d")
    cnn = wavetrain.model("cnn1d-mnist1d", seed=0)
    click.echo(f"{cnn!r}: depth D = {cnn.graph.depth} ticks, nodes " + " -> ".join(cnn.graph.order))
    results = {}
    for method in ("backprop", "dyadic"):
        net = wavetrain.model("cnn1d-mnist1d", seed=0, name=f"cnn1d_{method}")
        results[f"CNN {method}"] = wavetrain.train(
            net, mnist1d, method=method, epochs=CNN_EPOCHS, lr=0.02, seed=0, progress=PROGRESS["bars"]
        )
    mlp = wavetrain.Network.mlp([40, 100, 100, 10], activation="relu", loss="cross_entropy", seed=0)
    results["MLP dyadic"] = wavetrain.train(mlp, mnist1d, method="dyadic", epochs=CNN_EPOCHS, lr=0.02, seed=0,
                                            progress=PROGRESS["bars"])  # fmt: skip
    results["CNN dyadic"].network.save(out / "mnist1d_cnn.npz")
    click.echo(f"{'model':>14} {'test acc':>9} {'best':>7} {'time [s]':>9} {'samples/s':>10}")
    for label, result in results.items():
        click.echo(
            f"{label:>14} {result.final_test_accuracy:9.4f} {max(result.test_accuracy):7.4f} "
            f"{result.wall_time:9.2f} {result.samples_per_s:10,.0f}"
        )
    gap = np.max(np.abs(np.array(results["CNN dyadic"].loss) - results["CNN backprop"].loss))
    click.echo(
        f"dyadic on the CNN: max |loss per epoch - backprop's| = {gap:.1e} (float32); the paper (Greydanus 2020) "
        "reports 94 % for this CNN and 68 % for the MLP"
    )
    torch_module = results["CNN dyadic"].network.to_torch()
    click.echo(
        f"exported to PyTorch: {type(torch_module).__name__} with {sorted(dict(torch_module.named_parameters()))}"
    )
    path = plots.training_curves(results, out / "mnist1d_cnn.png", title="MNIST-1D: CNN (graph) vs MLP")
    click.echo(f"plot: {path}; trained CNN: {out}/mnist1d_cnn.npz")
    return results


def spice(net: wavetrain.Network, data: wavetrain.datasets.Dataset, out: Path) -> None:
    section("3. the trained network as a circuit: compile to SPICE, relax it in ngspice, compare with the emulator")
    from wavetrain.circuits import Transient

    x, y = data.x_test[:1], data.y_test[:1]
    circuit = wavetrain.compile_network(net, x=x, y=y)
    netlist = out / "digits.cir"
    atomic_write(netlist, wavetrain.to_spice(circuit, Transient(stop=(2 * net.depth + 1) * 1e-9, step=5e-11)))
    click.echo(
        f"netlist: {netlist} ({netlist.stat().st_size / 1e6:.1f} MB, {net.n_params} weights; "
        f"`ngspice -b {netlist}` runs it as is)"
    )
    click.echo("simulating 2L ticks of one test digit in ngspice (about 30 s) ...")
    start = time.perf_counter()
    circuit_run = wavetrain.simulate(net, x, y, target="spice", history=True)
    elapsed = time.perf_counter() - start
    emulated = wavetrain.relax(net, x, y, history=True)
    reference = list(backprop(net.machine(), x, net.targets(y))[0].values())
    scale = max(float(np.max(np.abs(g))) for pair in reference for g in pair)
    click.echo(
        f"ngspice: {elapsed:.1f} s. Gradient error against backprop (whose largest entry is {scale:.2e}), tick by tick:"
    )
    click.echo(f"{'tick':>4} {'ngspice':>10} {'emulator':>10}")
    for k, (a, b) in enumerate(zip(circuit_run.error_by_tick(reference), emulated.error_by_tick(reference))):
        click.echo(f"{k:4d} {a:10.2e} {b:10.2e}" + ("   <- 2L" if k == 2 * net.depth else ""))
    path = plots.waves(
        circuit_run, net.depth, out / "waves_ngspice.png", title="digits network in ngspice", reference=reference
    )
    click.echo(f"plot: {path}")
    crossbar(net, x, y, out, circuit_run, reference)


def crossbar(
    net: wavetrain.Network, x: np.ndarray, y: np.ndarray, out: Path, behavioural: Any, reference: list
) -> None:
    """The same digit in the crossbar circuit: every layer two arrays of conductance pairs (forward, transpose)."""
    from wavetrain.circuits import Transient

    click.echo("\nthe same digit in the crossbar circuit (level='crossbar': every weight a pair of resistors):")
    circuit = wavetrain.compile_network(net, x=x, y=y, level="crossbar")
    netlist = out / "digits_crossbar.cir"
    atomic_write(netlist, wavetrain.to_spice(circuit, Transient(stop=(2 * net.depth + 1) * 1e-9, step=5e-11)))
    start = time.perf_counter()
    run = wavetrain.simulate(net, x, y, target="spice", history=True, level="crossbar")
    elapsed = time.perf_counter() - start
    click.echo(
        f"netlist: {netlist} ({netlist.stat().st_size / 1e6:.1f} MB); ngspice: {elapsed:.1f} s. Gradient error "
        "against backprop, tick by tick:"
    )
    click.echo(f"{'tick':>4} {'crossbar':>10} {'behavioural':>12}")
    for k, (a, b) in enumerate(zip(run.error_by_tick(reference), behavioural.error_by_tick(reference))):
        click.echo(f"{k:4d} {a:10.2e} {b:12.2e}" + ("   <- 2L" if k == 2 * net.depth else ""))
    path = plots.waves(run, net.depth, out / "waves_crossbar.png", title="digits network as crossbars in ngspice",
                       reference=reference)  # fmt: skip
    click.echo(f"plot: {path}")


def cnn_circuit(out: Path) -> None:
    section("3b. a convolutional network as a circuit: a small MNIST-1D CNN, trained, relaxed in ngspice")
    from wavetrain.circuits import Transient
    from wavetrain.compiler.builder import GraphBuilder

    g = GraphBuilder((1, 40))
    h = g.conv1d(g.input, 8, kernel=5, stride=2, padding=1, activation="relu", id="conv1")
    h = g.conv1d(h, 8, kernel=3, stride=2, padding=1, activation="relu", id="conv2")
    net = g.network(g.linear(g.flatten(h, id="flat"), 10, id="linear"), loss="cross_entropy", seed=0, name="cnn")
    data = wavetrain.datasets.load("mnist1d", shape=net.input_shape)
    result = wavetrain.train(net, data, method="dyadic", epochs=CIRCUIT_CNN_EPOCHS, seed=0)
    accuracy = 100 * result.final_test_accuracy
    click.echo(f"{net!r}: {accuracy:.1f} % test accuracy after {CIRCUIT_CNN_EPOCHS} dyadic epochs")
    x, y = data.x_test[:1], data.y_test[:1]
    circuit = wavetrain.compile_network(net, x=x, y=y)
    netlist = out / "cnn_mnist1d.cir"
    atomic_write(netlist, wavetrain.to_spice(circuit, Transient(stop=(2 * net.depth + 1) * 1e-9, step=5e-11)))
    click.echo(
        f"netlist: {netlist} ({netlist.stat().st_size / 1e6:.1f} MB; each output channel's kernel written once, "
        "as a .func every position calls)"
    )
    start = time.perf_counter()
    circuit_run = wavetrain.simulate(net, x, y, target="spice", history=True)
    elapsed = time.perf_counter() - start
    emulated = wavetrain.relax(net, x, y, history=True)
    reference = list(backprop(net.machine(), x, net.targets(y))[0].values())
    click.echo(
        f"ngspice: {elapsed:.1f} s for 2D = {2 * net.depth} ticks. Gradient error against backprop, tick by tick:"
    )
    click.echo(f"{'tick':>4} {'ngspice':>10} {'emulator':>10}")
    for k, (a, b) in enumerate(zip(circuit_run.error_by_tick(reference), emulated.error_by_tick(reference))):
        click.echo(f"{k:4d} {a:10.2e} {b:10.2e}" + ("   <- 2D" if k == 2 * net.depth else ""))
    levels = [net.graph.level[n] for n in net.graph.order]
    path = plots.waves(circuit_run, net.depth, out / "waves_cnn_ngspice.png", title="MNIST-1D CNN in ngspice",
                       levels=levels, labels=list(net.graph.order))  # fmt: skip
    click.echo(f"plot: {path}")


def learning_circuit(out: Path) -> None:
    section("4. a circuit that trains itself: XOR, weights are capacitor voltages charged by their gradient currents")
    from wavetrain.circuits import Transient
    from wavetrain.targets import get_target

    x = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    y = np.array([[-1.0], [1.0], [1.0], [-1.0]])
    net = wavetrain.Network.mlp([2, 4, 1], activation="tanh", output_activation="tanh", seed=0, name="xor")
    circuit = wavetrain.compile_network(net, x=x, y=y, learning="resistor", eta=5e7, tick=1e-9)
    atomic_write(out / "xor_learning.cir", wavetrain.to_spice(circuit, Transient(stop=1e-6, step=2.5e-10)))
    samples = (np.arange(0, 1000, 50) + 0.5) * 1e-9
    curves = {}
    for target, options in (("spice", {}), ("numpy", {"steps_per_tick": 8})):
        trace = get_target(target, **options).run(
            circuit, Transient(stop=1e-6, step=2.5e-10), samples, [names.s_far(2), names.port(1), names.port(2)]
        )
        curves[target] = (trace, 0.5 * np.mean((trace[names.s_far(2)][:, :, 0] - y[:, 0]) ** 2, axis=1))
    trace, loss = curves["spice"]
    click.echo(f"{'t [ns]':>7} {'loss (ngspice)':>15} {'loss (emulator)':>16}")
    for t, a, b in zip(samples[::3] * 1e9, loss[::3], curves["numpy"][1][::3]):
        click.echo(f"{t:7.0f} {a:15.4f} {b:16.4f}")
    trained = net.copy()
    for l, layer in enumerate(trained.layers, start=1):
        layer.weight, layer.bias = trace[f"{names.port(l)}.weight"][-1], trace[f"{names.port(l)}.bias"][-1]
    click.echo(
        f"outputs before: {np.round(net.forward(x)[:, 0], 2)}, after 1 us in ngspice: "
        f"{np.round(trained.forward(x)[:, 0], 2)} (targets {y[:, 0]})"
    )
    path = plots.loss_by_time(
        {
            "ngspice" if target == "spice" else "emulator": (samples * 1e9, curve)
            for target, (_, curve) in curves.items()
        },
        out / "xor_learning.png",
        title="XOR learning circuit",
        xlabel="physical time [ns]",
    )
    click.echo(f"plot: {path}; netlist: {out / 'xor_learning.cir'}")


def analog_hardware(data: wavetrain.datasets.Dataset, out: Path) -> None:
    section(
        f"6. training on emulated analog hardware: the ideal chip and two device presets, {HARDWARE_EPOCHS} "
        "epochs, gradient fidelity"
    )
    from wavetrain.circuits.hardware import PRESETS
    from wavetrain.emulator.chips import fidelity_by_tick

    results = {}
    for name in ("ideal", "ecram", "pcm"):
        net = wavetrain.Network.mlp(SIZES, loss="cross_entropy", seed=0, name=f"digits_{name}")
        results[name] = wavetrain.train(
            net, data, epochs=HARDWARE_EPOCHS, seed=0, hardware=name, progress=PROGRESS["bars"]
        )
    click.echo(f"{'hardware':>9} {'test acc':>9} {'grad cosine':>12} {'rel. error':>11}  device")
    for name, result in results.items():
        fid = result.fidelity
        click.echo(
            f"{name:>9} {result.final_test_accuracy:9.4f} {fid.mean_cosine:12.4f} "
            f"{fid.relative_error[-1]:11.4f}  {PRESETS[name].description[:60]}"
        )
    net = results["ideal"].network
    by_tick = {
        name: fidelity_by_tick(net, data.x_train[:32], data.y_train[:32], name, ticks=2 * net.depth + 2)[
            "relative_error"
        ]
        for name in ("ideal", "ecram", "lossy-board")
    }
    click.echo(
        "one relaxation, relative gradient error tick by tick: "
        + "; ".join(f"{name} at 2L: {errors[2 * net.depth]:.2e}" for name, errors in by_tick.items())
    )
    plots.training_curves(results, out / "hardware_training.png", title="digits on emulated analog chips")
    path = plots.fidelity_curves(
        {name: r.fidelity.cosine for name, r in results.items()},
        out / "hardware_fidelity.png",
        title="gradient fidelity",
        by_tick=by_tick,
    )
    click.echo(f"plots: {out / 'hardware_training.png'}, {path} (`make hardware`: every preset over 3 seeds)")


def lava(net: wavetrain.Network, data: wavetrain.datasets.Dataset) -> None:
    section("5. deploy to Lava / Loihi: the trained network in Loihi fixed point on Lava, then a few training steps")
    from wavetrain.deploy import deploy, fixed_point_for
    from wavetrain.targets.lava.training import evaluate, train_on_lava

    x, y = data.x_test[:64], data.y_test[:64]
    report = deploy(net, x, y, fixed_point=True)
    sub, calibration = fixed_point_for(net, x, y)
    click.echo(
        f"formats: 8-bit weight mantissas, 24-bit states, 16-bit messages; exponents calibrated on the "
        f"{len(x)} digits that run ({calibration.clipped():.2%} of their values clipped)"
    )
    click.echo(
        f"{len(x)} test digits on Lava (fixed_pt, {report.ticks} timesteps, {report.lava_seconds:.1f} s with "
        f"startup): accuracy {report.accuracy:.4f}, float emulator {report.float_accuracy:.4f}; gradient at 2L: "
        f"{report.error_vs_emulator[-1]:.1e} from the emulator's fixed-point substrate (bit for bit), "
        f"{report.error_vs_exact[-1]:.1e} from exact backprop"
    )
    _, fixed_accuracy = evaluate(net, data.x_test, data.y_test, sub)
    _, float_accuracy = evaluate(net, data.x_test, data.y_test)
    click.echo(f"whole test set: {fixed_accuracy:.4f} in fixed point, {float_accuracy:.4f} in float")
    subset = (data.x_train[:256], data.y_train[:256], data.x_test, data.y_test)
    on_lava, on_emulator = net.copy(), net.copy()
    options = dict(method="dyadic", epochs=1, batch_size=32, lr=0.05, momentum=0.9, seed=0)
    start = time.perf_counter()
    result = train_on_lava(
        on_lava, subset, fixed=fixed_point_for(net, *subset[:2], batch=32, rounding="stochastic")[0], **options
    )
    seconds = time.perf_counter() - start
    wavetrain.train(
        on_emulator,
        subset,
        schedule="ticks",
        dtype="float64",
        **options,
        substrate=fixed_point_for(net, *subset[:2], batch=32, rounding="stochastic")[0],
    )
    gap = max(float(np.max(np.abs(a.weight - b.weight))) for a, b in zip(on_lava.layers, on_emulator.layers))
    click.echo(
        f"8 minibatches trained on Lava in fixed point (2L = {2 * net.depth} timesteps each, then the port "
        f"update; {seconds:.1f} s): loss {result.loss[-1]:.4f}, largest weight difference from the emulator "
        f"on the same substrate {gap:.1e}"
    )


def loihi2(data: wavetrain.datasets.Dataset) -> None:
    section("5b. deploy to Loihi 2: Lava's library processes only, one sample per timestep (target loihi2)")
    from wavetrain.deploy import deploy_library
    from wavetrain.emulator.loihi2 import calibrate_library
    from wavetrain.emulator.stream import run_stream
    from wavetrain.targets.lava.resources import Report

    # NOTE: the library processes compute ReLU and mse only; this network is trained in their arithmetic first
    net = wavetrain.Network.mlp([64, 64, 10], activation="relu", loss="mse", seed=0)
    x, y = data.x_train, data.y_train
    run_stream(net, calibrate_library(net, x, y), x, y, epochs=5, batch=32, lr=0.05, momentum=0.9, seed=0)
    xt, yt = data.x_test[:64], data.y_test[:64]
    report = deploy_library(net, xt, yt, calibration=(x, y), train=(x[:128], y[:128]), epochs=1, batch_size=32)
    same = "bit for bit" if report.outputs_match else "NOT bit for bit"
    click.echo(
        f"64-64-10 ReLU trained 5 epochs in the library arithmetic; {len(xt)} test digits streamed through Lava "
        f"(fixed_pt), one per timestep: accuracy {report.accuracy:.4f} ({same} the emulator), float "
        f"{report.float_accuracy:.4f}; one sample's gradient at 2D = {2 * report.depth}: "
        f"{report.error_vs_emulator[-1]:.1e} from the emulator, {report.error_vs_fixed_exact[-1]:.1e} from the "
        f"fixed-point machine's exact gradient ({report.error_vs_fixed_exact[-2]:.1e} one timestep earlier)"
    )
    resources = Report(**report.resources)
    click.echo(
        f"on a chip: {resources.neurons} neurons, {resources.synapses:,} synapses, {resources.cores} neurocores, one "
        f"timestep per training sample; estimate {resources.energy_per_sample * 1e3:.2g} mJ per sample (docs/lava.md)"
    )
    assert report.training is not None
    click.echo(
        f"one epoch of 128 samples trained on Lava: weights {report.training['weight_gap'][0]:.1e} from the "
        f"emulator's ({report.training['seconds']:.1f} s)"
    )


def reproduction(out: Path) -> None:
    section("7. the source papers' claims, measured: T1-T16 at reduced size (`make reproduce` for the full run)")
    from wavetrain.cli import main

    # NOTE: the report is reached through the CLI's registry, as `wavetrain reproduce --quick` (the reproduction is
    # no API to import); its one line "report written to ..." is left out, the summary below says more
    command = main.get_command(click.Context(main), "reproduce")
    assert command is not None
    with contextlib.redirect_stdout(io.StringIO()):
        report = command.main(
            ["--out", str(out / "reproduction"), "--quick"], prog_name="wavetrain reproduce", standalone_mode=False
        )
    full = report.read_text()
    text = full.split("## Summary", 1)[1].split("\n## ", 1)[0]
    click.echo(text.strip())
    failing = failed_checks(full)
    if failing:
        click.echo(
            "A failing check is a number measured here that contradicts our own derivation (docs/physics.md) at this "
            "reduced size; it is reported, never tuned away, and the full run (docs/reproduction/report.md) decides. "
            "What failed, and why:"
        )
        reasons = failure_reasons(full)
        for target, rows in failing.items():
            click.echo(f"  {target} ({len(rows)} failing): {reasons.get(target, 'the report gives no reason')}")
            for row in rows:
                click.echo(f"      {row}")
    click.echo(f"report with every number and plot: {report}")


def failed_checks(report: str) -> dict[str, list[str]]:
    """Per target of a report.md, its rows whose check against our derivation failed: quantity, measured value and
    the derivation's expectation, as the report's table gives them."""
    failing: dict[str, list[str]] = {}
    for section_text in report.split("\n## ")[1:]:
        target = section_text.split(":", 1)[0].strip()
        for line in section_text.splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if line.startswith("|") and len(cells) >= 6 and cells[-1] == "fail":
                failing.setdefault(target, []).append(
                    f"{_clip(cells[0], 60)}: measured {_clip(cells[1], 30)}, derivation {_clip(cells[3], 30)}"
                )
    return failing


WHY = "**Why a check fails at this size:**"  # NOTE: the report's words (reproduction/failing.py's LEAD)


def failure_reasons(report: str) -> dict[str, str]:
    """Per target of a report.md, the hand-written reason its checks fail at the report's size (the sentence the
    reproduction puts in the target's note, keyed by target id in reproduction/failing.py)."""
    reasons = {}
    for section_text in report.split("\n## ")[1:]:
        target = section_text.split(":", 1)[0].strip()
        if WHY in section_text:
            reasons[target] = section_text.split(WHY, 1)[1].split("\n\n", 1)[0].strip()
    return reasons


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo_out"), show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=None,
    help="BLAS, OpenMP and torch threads (default 1, or $WAVETRAIN_THREADS; 0: the libraries' own).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal).")
def main(out: Path, threads: int | None, progress: bool | None) -> None:
    """Run the wavetrain demo and write its plots and trained networks to OUT."""
    from wavetrain.emulator import threads as threads_module

    count = threads_module.resolve(threads, "--threads")
    threads_module.set_environment(count)  # NOTE: the Lava processes and anything loaded later read it
    click.get_current_context().with_resource(threads_module.limited(count))
    PROGRESS["bars"] = sys.stderr.isatty() if progress is None else progress
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = wavetrain.datasets.load("digits")
    light_cone(data, out)
    results = training(data, out)
    graphs(out)
    if shutil.which("ngspice"):
        spice(results["dyadic"].network, data, out)
        cnn_circuit(out)
        learning_circuit(out)
    else:
        click.secho("ngspice is not installed (run `make setup`): skipping the circuit sections", fg="yellow")
    from wavetrain.errors import TargetUnavailable
    from wavetrain.targets.lava._compat import require_lava

    try:
        require_lava()
        lava(results["dyadic"].network, data)
        loihi2(data)
    except TargetUnavailable as err:
        click.secho(f"skipping the Lava section: {err}", fg="yellow")
    analog_hardware(data, out)
    reproduction(out)
    click.secho(f"\ndemo done in {time.perf_counter() - start:.0f} s; everything is in {out}/", bold=True)


if __name__ == "__main__":
    main()
