"""The crossbar level (compile_network(level="crossbar")): every dense junction a conductance array read forward and
in transpose, checked against independent references: the emulator (the ideal array computes W x + b exactly),
circuits/irdrop.py's nodal solve (wire resistance), closed forms (finite-gain TIAs, driver resistance, first-order
IR drop) and the diode equation (a user's device subcircuit), each against ngspice's own raw file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_batch
from tests.targets.test_agreement import RTOL, close
from wavetrain import Network, compile_network, relax, simulate
from wavetrain.circuits import Circuit, Crossbar, CrossbarOptions, Device, Source, Termination, Transient, irdrop
from wavetrain.circuits.spice import to_spice
from wavetrain.errors import CircuitError, ConfigError, LoweringError, SimulationError, UntrustedNetlist

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
EXACT = 1e-12
SPICE_GRADIENT = 1e-6  # the bound at tick 2L (the behavioural level's)
G_MIN, G_MAX, V_READ = 0.1e-6, 25e-6, 0.2  # the default DeviceModel's range [S], the read voltage [V]


def _relative(got: list, want: list, scale: list) -> float:
    """Largest gradient difference of one tick, relative to the largest entry of each exact (tick 2L) gradient."""
    return max(
        float(np.max(np.abs(np.asarray(g) - np.asarray(w))) / np.max(np.abs(r)))
        for gw, ww, rr in zip(got, want, scale)
        for g, w, r in zip(gw, ww, rr)
    )


@pytest.mark.parametrize("sizes, activation, loss, seed", [((4, 6, 3), "tanh", "mse", 0),
                                                           ((5, 7, 6, 3), "sigmoid", "cross_entropy", 1)])  # fmt: skip
def test_ideal_crossbar_numpy_target_equals_the_emulator_every_tick(sizes, activation, loss, seed) -> None:
    net = Network.mlp(sizes, activation=activation, loss=loss, seed=seed)
    x, y = make_batch(net, batch=3, seed=seed)
    ref = relax(net, x, y, history=True)
    got = simulate(net, x, y, target="numpy", history=True, level="crossbar")
    for k in range(ref.ticks + 1):
        assert _relative(got.history.grads[k], ref.history.grads[k], ref.grads) <= EXACT


@needs_ngspice
@pytest.mark.parametrize("sizes, activation, loss, seed", [((4, 6, 3), "tanh", "mse", 2),
                                                           ((6, 8, 5, 3), "tanh", "cross_entropy", 3),
                                                           ((5, 4, 4, 4, 2), "sigmoid", "mse", 4)])  # fmt: skip
def test_ideal_crossbar_in_ngspice_equals_the_emulator_every_tick(sizes, activation, loss, seed) -> None:
    """Random networks: every tick's waves within the behavioural level's 1e-5 and the gradient at tick 2L within
    1e-6 relative (measured 3e-11 to 1e-10: the array is linear, so ngspice's Newton step solves it exactly)."""
    net = Network.mlp(sizes, activation=activation, loss=loss, seed=seed)
    x, y = make_batch(net, batch=2, seed=seed)
    ref = relax(net, x, y, history=True)
    got = simulate(net, x, y, target="spice", history=True, level="crossbar")
    for k in range(ref.ticks + 1):
        for layer in range(net.depth):
            if np.any(ref.history.s[k][layer]):
                assert close(got.history.s[k][layer], ref.history.s[k][layer]) <= RTOL
            if np.any(ref.history.lam[k][layer]):
                assert close(got.history.lam[k][layer], ref.history.lam[k][layer]) <= RTOL
    assert got.gradient_error(ref.grads) <= SPICE_GRADIENT


def _bench(e: Crossbar, x: np.ndarray, delta: np.ndarray) -> Circuit:
    """One crossbar driven by ideal sources on its rows' and columns' signal nets, its two outputs loaded."""
    n_out, n_in = e.shape
    elements = (
        Source(name="srcx", b=e.a, values=x[None, :]),
        Source(name="srcd", b=e.back_in, values=delta[None, :]),
        e,
        Termination(name="ty", a=e.b, width=n_out, resistance=1e3),
        Termination(name="tz", a=e.back_out, width=n_in, resistance=1e3),
    )
    return Circuit(name="bench", elements=elements, tick=1e-9)


def _crossbar(n_in: int, n_out: int, seed: int, **fields) -> tuple[Crossbar, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weight, bias = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    w_max = float(max(np.abs(weight).max(), np.abs(bias).max()))
    e = Crossbar(name="j1", a="x", b="y", back_in="d", back_out="z", weight=weight, bias=bias, g_min=G_MIN,
                 g_max=G_MAX, w_max=w_max, v_read=V_READ, **fields)  # fmt: skip
    return e, rng.uniform(-1, 1, n_in), rng.uniform(-1, 1, n_out)


def _spice_reads(e: Crossbar, x: np.ndarray, delta: np.ndarray, nodes: list[str] = ()) -> dict[str, np.ndarray]:
    """ngspice's final y, z and any array node voltages, from its raw file."""
    from wavetrain.targets.ngspice import SpiceTarget

    circuit = _bench(e, x, delta)
    analysis = Transient(stop=1e-9, step=5e-11)
    if not nodes:
        trace = SpiceTarget().run(circuit, analysis, np.array([0.9e-9]), ["y", "z"])
        return {"y": trace["y"][0, 0], "z": trace["z"][0, 0]}
    import tempfile

    from wavetrain.targets.ngspice import run_netlist

    text = to_spice(circuit, analysis, ["y", "z"]).replace(".end\n", "")
    text += "".join(f".save v({n})\n" for n in nodes) + ".end\n"
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "net.cir"
        path.write_text(text)
        vectors = run_netlist(path, 60.0)
    return {n: vectors[f"v({n})"][-1] for n in nodes} | {
        "y": np.array([vectors[f"v(n0_{j}_y)"][-1] for j in range(e.shape[0])]),
        "z": np.array([vectors[f"v(n0_{i}_z)"][-1] for i in range(e.shape[1])]),
    }


def _ideal_reads(e: Crossbar, x: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return e.weight @ x + e.bias, e.weight.T @ delta


@needs_ngspice
def test_ideal_array_reads_w_x_plus_b_forward_and_w_transpose_delta_backward() -> None:
    e, x, delta = _crossbar(7, 5, seed=0)
    got = _spice_reads(e, x, delta)
    y, z = _ideal_reads(e, x, delta)
    assert close(got["y"], y) <= 1e-9 and close(got["z"], z) <= 1e-9


def _first_order(e: Crossbar, v: np.ndarray) -> np.ndarray:
    """Column currents of the forward read to first order in the wire resistance (closed form, not a solve):
    each row segment carries the ideal currents of every cell past it, each column segment those of every cell
    before it, so R[i,k] = v_i - r_row sum_{m<=k} sum_{k'>=m} G_ik' v_i and C[i,k] = r_col sum_{i'>=i}... ."""
    G = e.conductances
    cell = G * v[:, None]  # ideal cell currents (nrow, ncol)
    through_row = np.cumsum(cell[:, ::-1], axis=1)[:, ::-1]  # segment m of row i carries sum_{k>=m} cell[i, k]
    R = v[:, None] - e.r_row * np.cumsum(through_row, axis=1)
    through_col = np.cumsum(cell, axis=0)  # segment below row i of column k carries sum_{i'<=i} cell[i', k]
    C = e.r_col * np.cumsum(through_col[::-1], axis=0)[::-1]
    return (G * (R - C)).sum(axis=0)


@needs_ngspice
def test_wire_resistance_in_ngspice_equals_the_irdrop_model_on_a_32x32_array() -> None:
    """31 inputs + the bias row, 16 outputs = 32 x 32 devices, 2 ohm per segment: ngspice's y, z and node voltages
    equal irdrop.Crossbar's nodal solve to 1e-6 (measured 1.4e-12 forward, 3.0e-12 transpose). Both differ from the
    ideal read by 0.54 % of max |y| (0.52 % for z): the cells far from the drivers and sense ends see their row
    voltage lowered and their column raised by the current of every cell between them and the ends, about
    r G n^2 / 2 ~ 2 ohm x 5 uS (the mean device) x 32^2 / 2 ~ 0.5 % of the read; the first-order closed form
    (:func:`_first_order`) predicts the shift to 0.5 % of itself (measured; the rest is second order)."""
    e, x, delta = _crossbar(31, 16, seed=1, r_row=2.0, r_col=2.0)
    array = irdrop.Crossbar(e.conductances, e.r_row, e.r_col)
    v = V_READ * np.append(x, 1.0)
    u = np.repeat(V_READ * delta, 2) * np.tile([1.0, -1.0], len(delta))
    R, C = array.node_voltages(v, "forward")
    probe = [(0, 0), (0, 31), (31, 0), (31, 31), (15, 17)]
    nodes = [f"xfr0_{i}_{k}_j1" for i, k in probe] + [f"xfc0_{i}_{k}_j1" for i, k in probe]
    got = _spice_reads(e, x, delta, nodes)
    current = array.forward(v)
    y = (current[0::2] - current[1::2]) / (e.gs * V_READ)
    z = array.transpose(u)[:-1] / (e.gs * V_READ)
    assert close(got["y"], y) <= 1e-6 and close(got["z"], z) <= 1e-6
    for i, k in probe:
        assert abs(got[f"xfr0_{i}_{k}_j1"] - R[i, k]) <= 1e-6 * V_READ
        assert abs(got[f"xfc0_{i}_{k}_j1"] - C[i, k]) <= 1e-6 * V_READ
    y_ideal, _ = _ideal_reads(e, x, delta)
    shift = float(np.max(np.abs(y - y_ideal)) / np.max(np.abs(y_ideal)))
    assert 2e-3 < shift < 2e-2, shift  # the IR drop is visible, and small
    first = _first_order(e, v)
    y_first = (first[0::2] - first[1::2]) / (e.gs * V_READ)
    assert np.max(np.abs(y - y_first)) <= 0.02 * np.max(np.abs(y - y_ideal))


@needs_ngspice
def test_network_with_wire_resistance_in_ngspice_equals_the_numpy_target() -> None:
    """A 2-layer network with 5 ohm segments: ngspice's gradient at tick 2L equals the numpy target's (the IR-drop
    model's W_eff, whose transpose read is exactly W_eff^T) to 1e-6, and differs from the ideal gradient."""
    net = Network.mlp([6, 8, 3], activation="tanh", loss="mse", seed=5)
    x, y = make_batch(net, batch=2, seed=5)
    wires = {"r_row": 5.0, "r_col": 5.0}
    want = simulate(net, x, y, target="numpy", level="crossbar", crossbar=wires)
    got = simulate(net, x, y, target="spice", level="crossbar", crossbar=wires)
    ideal = relax(net, x, y)
    assert got.gradient_error(want.grads) <= SPICE_GRADIENT
    assert want.gradient_error(ideal.grads) > 1e-4


@needs_ngspice
def test_finite_gain_tias_and_driver_resistance_follow_their_closed_forms() -> None:
    """A vcvs TIA of gain A with Rf = 1/gs leaves its virtual ground at -v_out / A: a column of total conductance
    Gk reads A / (1 + A + Rf Gk) of its current (rows in the transpose read). A driver of output resistance r_d
    puts v / (1 + r_d Gi) on a row of total conductance Gi (a column in the transpose read)."""
    for fields in ({"tia": "vcvs", "tia_gain": 300.0}, {"r_driver": 2e3}):
        e, x, delta = _crossbar(6, 4, seed=2, **fields)
        G = e.conductances
        v = V_READ * np.append(x, 1.0)
        u = np.repeat(V_READ * delta, 2) * np.tile([1.0, -1.0], len(delta))
        if e.tia == "vcvs":
            A, rf = e.tia_gain, 1.0 / e.gs
            col = (v @ G) * A / (1 + A + rf * G.sum(axis=0))
            row = (G @ u) * A / (1 + A + rf * G.sum(axis=1))
        else:
            col = (v / (1 + e.r_driver * G.sum(axis=1))) @ G
            row = G @ (u / (1 + e.r_driver * G.sum(axis=0)))
        got = _spice_reads(e, x, delta)
        assert close(got["y"], (col[0::2] - col[1::2]) / (e.gs * V_READ)) <= 1e-8
        assert close(got["z"], row[:-1] / (e.gs * V_READ)) <= 1e-8
        y_ideal, z_ideal = _ideal_reads(e, x, delta)
        assert close(got["y"], y_ideal) > 1e-4  # the non-ideality is visible


DIODE_IS, DIODE_N = 1e-6, 1.0  # saturation current [A], emission coefficient
VT = 1.38064852e-23 * 300.15 / 1.6021766208e-19  # thermal voltage at ngspice's default 27 C [V] (its constants)


def _device_current(g: np.ndarray, v: np.ndarray) -> np.ndarray:
    """I of 1/g in series with two antiparallel diodes: v = I/g + n VT asinh(I / (2 Is)) (Newton, monotone)."""
    current = g * v
    for _ in range(100):
        residual = current / g + DIODE_N * VT * np.arcsinh(current / (2 * DIODE_IS)) - v
        slope = 1 / g + DIODE_N * VT / np.sqrt((2 * DIODE_IS) ** 2 + current**2)
        current = current - residual / slope
    return current


@needs_ngspice
def test_user_device_subcircuit_runs_and_bends_the_read_as_the_diode_equation_predicts(tmp_path: Path) -> None:
    """Every cell: the mapped resistor in series with antiparallel diodes (Is = 1 uA). A cell at V carries I with
    V = I / g + VT asinh(I / 2 Is): at 5 uA the diodes take VT asinh(2.5) = 43 mV of the 0.2 V read, so large
    currents are compressed. ngspice's reads equal that prediction to 1e-6 (measured 3e-9: ngspice's gmin of 1e-12 S
    across each junction and its Newton tolerance) and differ from the linear array's by 15 % of max |y|."""
    model = tmp_path / "rdiode.lib"
    model.write_text(
        "* a resistor in series with a diode-connected nonlinearity (antiparallel diodes)\n"
        ".subckt rdiode p n g=1e-5\nR1 p m {1/g}\nD1 m n dx\nD2 n m dx\n"
        f".model dx D(IS={DIODE_IS:g} N={DIODE_N:g})\n.ends rdiode\n"
    )
    e, x, delta = _crossbar(6, 4, seed=3, device=Device(subckt="rdiode", include=model))
    G = e.conductances
    v = V_READ * np.append(x, 1.0)
    u = np.repeat(V_READ * delta, 2) * np.tile([1.0, -1.0], len(delta))
    col = _device_current(G, np.broadcast_to(v[:, None], G.shape)).sum(axis=0)
    row = _device_current(G, np.broadcast_to(u[None, :], G.shape)).sum(axis=1)
    got = _spice_reads(e, x, delta)
    y_diode, z_diode = (col[0::2] - col[1::2]) / (e.gs * V_READ), row[:-1] / (e.gs * V_READ)
    assert close(got["y"], y_diode) <= 1e-6 and close(got["z"], z_diode) <= 1e-6
    y_linear, z_linear = _ideal_reads(e, x, delta)
    assert close(got["y"], y_linear) > 0.05 and close(got["z"], z_linear) > 0.05


def test_a_hostile_device_model_file_is_refused_before_ngspice_runs(tmp_path: Path) -> None:
    model = tmp_path / "evil.lib"
    model.write_text(".subckt evil p n g=1e-5\nR1 p n {1/g}\n.ends\n.control\nshell touch pwned\n.endc\n")
    e, x, delta = _crossbar(2, 2, seed=0, device=Device(subckt="evil", include=model))
    from wavetrain.targets.ngspice import SpiceTarget

    with pytest.raises(UntrustedNetlist, match="control"):
        SpiceTarget().run(_bench(e, x, delta), Transient(stop=1e-9), np.array([0.5e-9]), ["y"])
    assert not (tmp_path / "pwned").exists()


def test_names_and_paths_are_validated_before_any_netlist_text(tmp_path: Path) -> None:
    with pytest.raises(CircuitError, match=r"device subckt 'r1\\n.control' is not a valid name"):
        Device(subckt="r1\n.control")
    bad = tmp_path / "my model.lib"
    bad.write_text("* x\n")
    with pytest.raises(CircuitError, match=r"include file name 'my model.lib' is not a valid name"):
        Device(subckt="dev", include=bad)
    with pytest.raises(CircuitError, match=r"include '.*missing.lib' is not a regular file"):
        Device(subckt="dev", include=tmp_path / "missing.lib")
    with pytest.raises(CircuitError, match=r"crossbar options: tia must be one of \('ideal', 'vcvs'\), got 'opamp'"):
        CrossbarOptions(tia="opamp")
    with pytest.raises(CircuitError, match=r"crossbar options: r_row must be a finite number >= 0 ohm, got -1.0"):
        CrossbarOptions(r_row=-1.0)
    net = Network.mlp([3, 2], seed=0)
    with pytest.raises(CircuitError, match=r"unknown field 'r_wire'"):
        compile_network(net, level="crossbar", crossbar={"r_wire": 1.0})
    with pytest.raises(ConfigError, match=r"level must be one of \('behavioural', 'crossbar'\), got 'physical'"):
        compile_network(net, level="physical")
    with pytest.raises(CircuitError, match=r"crossbar 'j1' \(node '1'\): crossbar: a weight of magnitude"):
        compile_network(net, level="crossbar", crossbar={"w_max": 1e-3})


def test_convolutions_and_learning_circuits_with_devices_are_refused(tmp_path: Path) -> None:
    from wavetrain.compiler.builder import GraphBuilder

    g = GraphBuilder(input_shape=(1, 8))
    h = g.conv1d(g.input, 2, kernel=3, activation="tanh", id="conv1")
    net = g.network(g.linear(g.flatten(h), 2, id="head"), loss="mse", seed=0)
    with pytest.raises(LoweringError, match=r"node 'conv1' is a convolution"):
        compile_network(net, level="crossbar")
    model = tmp_path / "dev.lib"
    model.write_text(".subckt dev p n g=1e-5\nR1 p n {1/g}\n.ends\n")
    with pytest.raises(LoweringError, match=r"is a learning circuit \('resistor'\); its cells are state-controlled"):
        compile_network(Network.mlp([2, 2], seed=0), level="crossbar", learning="resistor",
                        crossbar={"device": Device(subckt="dev", include=model)})  # fmt: skip


def test_numpy_target_refuses_what_only_ngspice_models_naming_the_crossbar() -> None:
    net = Network.mlp([3, 2], seed=0)
    x, y = make_batch(net, batch=1)
    with pytest.raises(SimulationError, match=r"crossbar 'j1' has r_driver 0 ohm, tia 'vcvs'"):
        simulate(net, x, y, target="numpy", level="crossbar", crossbar={"tia": "vcvs"})


def test_crossbar_netlist_is_linear_r_cards_where_the_device_is_linear() -> None:
    net = Network.mlp([3, 2, 2], seed=0)
    x, y = make_batch(net, batch=1)
    text = to_spice(compile_network(net, x=x, y=y, level="crossbar", gradients=False))
    cards = [line.split()[0][0] for line in text.splitlines() if line and line[0] not in ".*+"]
    # NOTE: layer 1 (forward read only) 4 x 4 devices, layer 2 both reads of 3 x 4; B-sources are only the cells
    assert cards.count("R") >= 16 + 2 * 12
    assert text.count("\nB") == len([c for c in cards if c == "B"])
    assert "j1" not in "".join(line for line in text.splitlines() if line.startswith("B"))
    # NOTE: the gradient ports add no card: they read the row and column signals the netlist saves
    probed = to_spice(compile_network(net, x=x, y=y, level="crossbar", gradients=True))
    assert probed.count("\nB") == text.count("\nB")
    assert "v(n0_0_x)" in probed and "v(n0_0_d1)" in probed


@needs_ngspice
def test_the_readmes_crossbar_block_runs_and_its_comments_hold() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Crossbar level", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102
    assert scope["ideal"].gradient_error(relax(scope["net"], scope["x"], scope["y"]).grads) < 1e-9
    assert scope["model"].gradient_error(relax(scope["small"], scope["xs"], scope["ys"]).grads) > 1e-5
    assert scope["dropped"].gradient_error(scope["model"].grads) < SPICE_GRADIENT


@needs_ngspice
def test_learning_crossbar_trains_xor_as_the_behavioural_learning_circuit_does() -> None:
    """The self-training circuit at the crossbar level: every cell's conductance follows its weight's state
    capacitor (G+ = g_min + gs max(w, 0)), both reads of an array see the one state, and XOR trains in one ngspice
    transient of 1 us along the behavioural learning circuit's loss curve (the same ODE; ngspice's own time
    points differ) and the numpy target's (Euler, dt = tick / 8, the learning tests' 1e-3)."""
    from tests.targets.test_learning import CURVE_ATOL, TICK, X, Y
    from wavetrain.targets import get_target

    net = Network.mlp([2, 4, 1], activation="tanh", output_activation="tanh", seed=0, name="xor")
    samples = (np.arange(0, 1000, 50) + 0.5) * TICK
    curves, traces = {}, {}
    for key, target, level, options in (("behavioural", "spice", "behavioural", {}),
                                        ("crossbar", "spice", "crossbar", {}),
                                        ("numpy", "numpy", "crossbar", {"steps_per_tick": 8})):  # fmt: skip
        circuit = compile_network(net, x=X, y=Y, learning="resistor", eta=5e7, tick=TICK, level=level)
        trace = get_target(target, **options).run(
            circuit, Transient(stop=1000 * TICK, step=TICK / 4), samples, ["s2r", "p1", "p2"]
        )
        curves[key], traces[key] = 0.5 * np.mean((trace["s2r"][:, :, 0] - Y[:, 0]) ** 2, axis=1), trace
    text = to_spice(compile_network(net, x=X, y=Y, learning="resistor", level="crossbar"))
    assert "\nBxf0_0_0_j1 xfd0_0_j1 xfs0_0_j1 I=(1e-07 + " in text  # a state-controlled cell, not an R card
    np.testing.assert_allclose(curves["crossbar"], curves["behavioural"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(curves["crossbar"], curves["numpy"], rtol=0, atol=CURVE_ATOL)
    assert curves["crossbar"][-1] < 0.01 < curves["crossbar"][2]
    moved = traces["crossbar"]["p1.weight"][-1] - net.layers[0].weight
    assert np.max(np.abs(moved)) > 0.1  # the states, and with them the conductances, changed


def test_cli_compiles_a_crossbar_netlist_with_wires(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wavetrain.cli import main

    model = Network.mlp([4, 5, 3], seed=0, name="cli_net").save(tmp_path / "model.npz")
    out = tmp_path / "net.cir"
    result = CliRunner().invoke(main, ["compile", str(model), "-o", str(out), "--level", "crossbar", "--r-wire", "2"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "\nRxfh0_0_0_j1 xfd0_0_j1 xfr0_0_0_j1 2\n" in text and "\nRxtv0_5_5_j2 " in text
    result = CliRunner().invoke(main, ["compile", str(model), "--r-wire", "2"])
    assert result.exit_code != 0 and "--r-wire sets the crossbar's wires; it needs --level crossbar" in result.output


def test_numpy_target_learns_on_ideal_crossbars_only() -> None:
    net = Network.mlp([2, 2], seed=0)
    x, y = make_batch(net, batch=1)
    circuit = compile_network(net, x=x, y=y, learning="resistor", level="crossbar", crossbar={"r_row": 1.0})
    from wavetrain.targets import get_target

    with pytest.raises(SimulationError, match=r"learning port 'p1' moves the weights of crossbar 'j1'"):
        get_target("numpy").run(circuit, Transient(stop=2e-9))
