"""The SPICE writer: golden netlists, determinism, and the physics of its cards checked in ngspice itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from wavetrain.circuits import (
    Circuit,
    Junction,
    LeakyIntegrator,
    Source,
    Termination,
    Transient,
    TransmissionLine,
    to_pyspice,
    to_spice,
)
from wavetrain.compiler import Network, compile_network
from wavetrain.errors import NetlistError
from wavetrain.targets import get_target, target_names

GOLDEN = Path(__file__).parent.parent / "golden"
needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
# NOTE: every registered circuit target (spice needs ngspice); lava and loihi2 run the network itself, not the circuit's
# elements, and each has its own tests (tests/targets/test_lava.py, test_loihi2_lava.py)
TARGETS = [
    pytest.param(name, marks=needs_ngspice) if name == "spice" else name
    for name in target_names()
    if name not in ("lava", "loihi2")
]
Z0, DELAY = 50.0, 1e-9


def small_net() -> Network:
    net = Network.mlp([2, 2, 1], activation="tanh", output_activation="sigmoid", seed=3, name="tiny")
    net.layers[0].bias = np.array([0.25, -0.5])
    return net


GOLDEN_CIRCUITS = {
    "tiny_relax": lambda: compile_network(small_net(), x=[[0.5, -1.0], [1.0, 0.25]], y=[[1.0], [0.0]]),
    "tiny_momentum": lambda: compile_network(small_net(), x=[[0.5, -1.0]], y=[[1.0]], learning="momentum", eta=5e7),
    "tiny_courant_half": lambda: compile_network(small_net(), x=[[0.5, -1.0]], y=[[1.0]], courant=0.5),
    "tiny_softmax": lambda: compile_network(
        Network.mlp([2, 2, 3], loss="cross_entropy", seed=3, name="tiny"), x=[[0.5, -1.0]], y=[2]
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CIRCUITS))
def test_golden_netlist(name: str, update_golden: bool) -> None:
    text = to_spice(GOLDEN_CIRCUITS[name](), Transient(stop=5e-9, step=5e-11))
    path = GOLDEN / f"{name}.cir"
    if update_golden:
        path.write_text(text)
    assert path.exists(), f"{path} is missing; run pytest --update-golden"
    assert text == path.read_text(), f"{name}: netlist differs from {path} (run pytest --update-golden if intended)"


def test_netlist_is_deterministic_and_self_contained() -> None:
    first, second = (to_spice(GOLDEN_CIRCUITS["tiny_momentum"]()) for _ in range(2))
    assert first == second
    for card in (
        ".title tiny",
        ".tran ",
        ".save ",
        ".ic V(w0_0_p1)=",
        "Ven en 0 PWL",
        "V0_0_input n0_0_x 0 PWL",
        ".end",
    ):
        assert card in first, card


def test_writer_refuses_structurally_broken_circuits() -> None:
    line = TransmissionLine(name="l1", a="a", b="b", width=1, z0=Z0, delay=DELAY)
    with pytest.raises(NetlistError, match=r"dangling net 'a'.*line 'l1'"):
        to_spice(Circuit(name="c", elements=(line,)))
    twin = Termination(name="L1", a="b", width=1, resistance=Z0)
    with pytest.raises(NetlistError, match=r"duplicate element name 'L1'"):
        to_spice(Circuit(name="c", elements=(line, twin)))


def test_to_pyspice_returns_a_pyspice_circuit() -> None:
    pytest.importorskip("PySpice")
    from PySpice.Spice.Netlist import Circuit as PySpiceCircuit

    circuit = to_pyspice(GOLDEN_CIRCUITS["tiny_relax"]())
    assert isinstance(circuit, PySpiceCircuit)
    text = str(circuit)
    assert ".title tiny" in text and "T0_0_fl1 n0_0_s1 0 n0_0_s1r 0 Z0=50 TD=1n" in text


def line_circuit(load: float, pulse: float = 0.5e-9) -> Circuit:
    """A matched 1 V Thevenin source (R = z0) sending a pulse down one line into a load."""
    source = Source(
        name="src", b="a", values=np.array([[1.0]]), resistance=Z0, start=0.25e-9, rise=1e-12, duration=pulse
    )
    line = TransmissionLine(name="l1", a="a", b="b", width=1, z0=Z0, delay=DELAY)
    return Circuit(name="line", elements=(source, line, Termination(name="load", a="b", width=1, resistance=load)))


def run(target: str, circuit: Circuit, samples: np.ndarray, stop: float = 4e-9):
    return get_target(target).run(circuit, Transient(stop=stop, step=1e-11), samples)


@pytest.mark.parametrize("target", TARGETS)
def test_matched_line_returns_no_reflection(target: str) -> None:
    samples = np.array([0.5e-9, 1.5e-9, 2.5e-9, 3.0e-9])
    trace = run(target, line_circuit(load=Z0), samples)
    near, far = trace["a"][:, 0, 0], trace["b"][:, 0, 0]
    np.testing.assert_allclose(near, [0.5, 0.0, 0.0, 0.0], atol=1e-6)  # incident only; nothing comes back
    np.testing.assert_allclose(far, [0.0, 0.5, 0.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("target", TARGETS)
def test_load_of_twice_z0_reflects_one_third(target: str) -> None:
    load = 2 * Z0
    expected = (load - Z0) / (load + Z0)
    trace = run(target, line_circuit(load=load), np.array([0.5e-9, 1.5e-9, 2.5e-9]))
    incident = trace["a"][0, 0, 0]
    reflected = trace["a"][2, 0, 0]  # back at the matched source after 2 delays; the source absorbs it
    assert incident == pytest.approx(0.5, abs=1e-6)
    assert reflected / incident == pytest.approx(expected, abs=1e-6)
    assert trace["b"][1, 0, 0] == pytest.approx(0.5 * (1 + expected), abs=1e-6)


@needs_ngspice
def test_pulse_arrives_after_exactly_the_delay(tmp_path: Path) -> None:
    from wavetrain.targets.ngspice import run_netlist

    start, rise = 0.25e-9, 1e-12
    netlist = tmp_path / "line.cir"
    netlist.write_text(to_spice(line_circuit(load=Z0, pulse=1e-9), Transient(stop=2.5e-9, step=1e-11)))
    vectors = run_netlist(netlist)
    t, far = vectors["time"], vectors["v(n0_0_b)"]
    assert np.max(np.abs(far[t <= start + DELAY])) < 1e-9, "nothing may arrive before the delay"
    full = t[np.argmax(np.abs(far - 0.5) < 1e-9)]
    assert full - (start + rise) == pytest.approx(DELAY, abs=1e-15), "the ramp's end arrives exactly one delay later"


@pytest.mark.parametrize("target", TARGETS)
def test_junction_conserves_power(target: str) -> None:
    """T5: with the bias held, effort_a . flow_a = effort_b . flow_b through W and W^T, measured on the circuit."""
    rng = np.random.default_rng(7)
    n, m = 4, 3
    weight = rng.normal(size=(m, n))
    flow_a, effort_b = rng.normal(size=(1, n)), rng.normal(size=(1, m))
    elements = (
        Source(name="sa", b="fa", values=flow_a),
        Source(name="sb", b="eb", values=effort_b),
        Junction(name="j1", a="fa", b="fb", back_in="eb", back_out="ea", weight=weight, bias=np.zeros(m)),
        Termination(name="tb", a="fb", width=m, resistance=Z0),
        Termination(name="ta", a="ea", width=n, resistance=Z0),
    )
    trace = run(target, Circuit(name="tee", elements=elements), np.array([0.5e-9]), stop=1e-9)
    p_in = float(trace["ea"][0, 0] @ trace["fa"][0, 0])
    p_out = float(trace["eb"][0, 0] @ trace["fb"][0, 0])
    assert p_in == pytest.approx(p_out, rel=1e-6)
    assert abs(p_in) > 1e-3


@pytest.mark.parametrize("target", TARGETS)
def test_leaky_integrator_charges_with_its_time_constant(target: str) -> None:
    """tau dv_b/dt = v_a - v_b: a unit step reaches 1 - exp(-t / tau)."""
    tau = 2e-9
    elements = (
        Source(name="step", b="a", values=np.array([[1.0]]), rise=1e-12),
        LeakyIntegrator(name="rc", a="a", b="b", width=1, tau=tau),
        Termination(name="load", a="b", width=1, resistance=Z0),
    )
    samples = np.array([1e-9, 2e-9, 4e-9])
    trace = get_target(target, **({"steps_per_tick": 200} if target == "numpy" else {})).run(
        Circuit(name="rc", elements=elements), Transient(stop=5e-9, step=1e-11), samples
    )
    np.testing.assert_allclose(trace["b"][:, 0, 0], 1 - np.exp(-samples / tau), atol=5e-3)
