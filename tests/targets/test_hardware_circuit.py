"""Analog hardware in the circuit (compiler.with_hardware): the emulator on the analog substrate, the numpy circuit
target and ngspice agree tick by tick on a chip with device variation, lossy and mismatched lines and leak."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

import wavetrain
from wavetrain import Network, compile_network, to_spice
from wavetrain.circuits import Junction, Termination, Transient, TransmissionLine
from wavetrain.circuits.devices import reflection
from wavetrain.circuits.hardware import PRESETS
from wavetrain.emulator.analog import AnalogSubstrate
from wavetrain.emulator.relax import run_ticks
from wavetrain.errors import CircuitError

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
TICKS = 8
# every effect SPICE can express; read noise, converters and jitter stay in the emulator
MODEL = PRESETS["reram"].with_overrides(
    {
        "device.read_noise": 0.0,
        "device.weight_bits": 5,
        "device.stuck_on": 0.1,
        "device.stuck_off": 0.1,
        "io.dac_bits": None,
        "io.adc_bits": None,
        "io.forward_noise": 0.0,
        "io.backward_noise": 0.0,
        "circuit.mismatch": 0.3,
        "circuit.mismatch_dtod": 0.1,
        "circuit.line_loss": 0.1,
        "circuit.leak": 0.05,
    }
)


def _case():
    net = Network.mlp([3, 4, 2], activation="tanh", output_activation="tanh", loss="mse", seed=0)
    rng = np.random.default_rng(0)
    return net, rng.normal(size=(2, 3)), rng.normal(size=(2, 2))


def _emulated(net, circuit, x, y):
    """The emulator on the same chip: the weights the circuit's junctions hold, the analog substrate's lines."""
    chip = net.copy()
    for layer, junction in zip(chip.layers, (e for e in circuit.elements if isinstance(e, Junction))):
        layer.weight = np.array(junction.weight)
    substrate = AnalogSubstrate(MODEL, net.sizes, chips=None, seed=0)
    return run_ticks(chip.machine(substrate), x, chip.targets(y, len(x)), TICKS, 1.0, history=True)


def _max_error(a, b):
    return max(float(np.max(np.abs(p - q))) for ga, gb in zip(a, b) for pa, pb in zip(ga, gb) for p, q in zip(pa, pb))


@pytest.mark.parametrize("target,tolerance", [("numpy", 1e-12), pytest.param("spice", 1e-8, marks=needs_ngspice)])
def test_circuit_on_hardware_agrees_with_the_analog_substrate_tick_by_tick(target, tolerance):
    net, x, y = _case()
    circuit = compile_network(net, x=x, y=y, hardware=MODEL)
    emulated = _emulated(net, circuit, x, y)
    run = wavetrain.simulate(net, x, y, ticks=TICKS, target=target, history=True, hardware=MODEL)
    assert _max_error(run.history.grads, emulated.history.grads) < tolerance
    assert _max_error([run.history.s], [emulated.history.s]) < tolerance
    ideal = wavetrain.relax(net, x, y, ticks=TICKS, history=True)
    assert _max_error(ideal.history.grads[-1:], emulated.history.grads[-1:]) > 1e-3  # the effects are there


def test_the_lowering_carries_each_effect_as_a_circuit_value():
    net, x, y = _case()
    plain = compile_network(net, x=x, y=y)
    chip = compile_network(net, x=x, y=y, hardware=MODEL)
    substrate = AnalogSubstrate(MODEL, net.sizes, chips=1, seed=0)
    lines = {e.name: e for e in chip.elements if isinstance(e, TransmissionLine)}
    assert all(line.loss == 0.1 for line in lines.values())
    for term in (e for e in chip.elements if isinstance(e, Termination)):
        layer, side = int(term.name[3:]) - 1, 0 if term.name.startswith("tfl") else 1
        gamma = (term.resistance - 50.0) / (term.resistance + 50.0)
        assert gamma == pytest.approx(float(substrate.gamma[0, layer, side]), abs=1e-12)
        assert gamma == pytest.approx(float(reflection(term.resistance / 50.0 - 1.0)), abs=1e-12)
    junctions = [e for e in chip.elements if isinstance(e, Junction)]
    assert all(j.leak == 0.05 for j in junctions)
    w, stuck = junctions[0].weight, substrate.stuck["1"][0]
    free = stuck == 0  # a stuck device sits at its own bound or at 0, not on a programmed level
    np.testing.assert_allclose((w * 15)[free], np.rint(w * 15)[free], atol=1e-12)  # 5-bit levels over +-1
    np.testing.assert_array_equal(w[stuck == 2], 0.0)
    np.testing.assert_array_equal(w[stuck == 1], substrate.bound["1"][0][stuck == 1])
    assert not np.array_equal(w, [e for e in plain.elements if isinstance(e, Junction)][0].weight)


def test_spice_cards_of_a_lossy_line_and_a_leaky_junction():
    net, x, y = _case()
    text = to_spice(compile_network(net, x=x, y=y, hardware=MODEL), Transient(stop=1e-8, step=1e-10))
    keep = math.exp(-0.1)
    series, shunt = 50 * (1 - keep) / (1 + keep), 2 * 50 * keep / (1 - keep**2)
    pad = [line for line in text.splitlines() if line.startswith(("Rpa0_0_fl1 ", "Rpm0_0_fl1 "))]
    assert len(pad) == 2
    assert float(pad[0].split()[-1]) == pytest.approx(series, rel=1e-6)
    assert float(pad[1].split()[-1]) == pytest.approx(shunt, rel=1e-6)
    assert "V=V(en)*0.95*(" in text


def test_a_bad_line_loss_or_leak_is_refused():
    with pytest.raises(CircuitError, match="loss must be a number >= 0 Np, got -1"):
        TransmissionLine(name="l", a="a", b="b", width=1, z0=50.0, delay=1e-9, loss=-1)
    with pytest.raises(CircuitError, match=r"leak must be a number in \[0, 1\), got 1.0"):
        Junction(name="j", a="a", b="b", back_in="d", back_out=None, weight=np.ones((1, 1)), bias=np.zeros(1), leak=1.0)


def test_numpy_circuit_target_on_the_analog_substrate_is_the_emulator_tick_by_tick():
    # every hook of a deterministic chip: converters on every boundary, echoes, loss, jitter, leak
    model = PRESETS["lossy-board"].with_overrides({"io.adc_bits": 6, "io.dac_bits": 6, "circuit.mismatch": 0.3})
    net, x, y = _case()
    run = wavetrain.simulate(
        net, x, y, ticks=TICKS, target="numpy", history=True, substrate=AnalogSubstrate(model, net.sizes, seed=0)
    )
    emulated = run_ticks(
        net.machine(AnalogSubstrate(model, net.sizes, seed=0)), x, net.targets(y, len(x)), TICKS, 1.0, history=True
    )
    assert _max_error(run.history.grads, emulated.history.grads) < 1e-12
    ideal = wavetrain.relax(net, x, y, ticks=TICKS, history=True)
    assert _max_error(ideal.history.grads[-1:], emulated.history.grads[-1:]) > 1e-3


def _graph_case():
    from wavetrain.compiler.builder import GraphBuilder

    g = GraphBuilder((1, 6))
    c = g.conv1d(g.input, 2, kernel=3, stride=2, padding=1, activation="tanh", id="c")
    h = g.linear(g.flatten(c, id="f"), 4, "tanh", id="h")
    a = g.add(g.linear(h, 4, id="i"), h, activation="tanh", id="a")  # a skip on an (ideal) delay line
    net = g.network(g.linear(a, 2, "tanh", id="o"), seed=0)
    rng = np.random.default_rng(0)
    return net, rng.normal(size=(2, 1, 6)), rng.normal(size=(2, 2))


@pytest.mark.parametrize("target,tolerance", [("numpy", 1e-12), pytest.param("spice", 1e-8, marks=needs_ngspice)])
def test_a_graph_circuit_on_hardware_agrees_with_the_analog_substrate(target, tolerance):
    from wavetrain.circuits import ConvJunction

    net, x, y = _graph_case()
    ticks = 2 * net.depth + 2
    circuit = compile_network(net, x=x, y=y, hardware=MODEL)
    chip = net.copy()
    for e in circuit.elements:
        if isinstance(e, (Junction, ConvJunction)):  # the weights as the chip stores them (dense and convolution)
            chip.parameters(e.node).weight = np.array(e.weight)
    substrate = AnalogSubstrate(MODEL, net.graph, chips=None, seed=0)
    emulated = run_ticks(chip.machine(substrate), x, chip.targets(y, len(x)), ticks, 1.0, history=True)
    run = wavetrain.simulate(net, x, y, ticks=ticks, target=target, history=True, hardware=MODEL)
    assert _max_error(run.history.grads, emulated.history.grads) < tolerance
    assert _max_error([run.history.s], [emulated.history.s]) < tolerance
    ideal = wavetrain.relax(net, x, y, ticks=ticks, history=True)
    assert _max_error(ideal.history.grads[-1:], emulated.history.grads[-1:]) > 1e-3
