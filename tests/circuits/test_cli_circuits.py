"""wavetrain compile / simulate: netlists that ngspice runs as they are, printed gradients, plots, one-line errors."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from wavetrain.cli import main
from wavetrain.compiler import Network

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return Network.mlp([4, 5, 3], seed=0, name="cli_net").save(tmp_path / "model.npz")


def test_compile_writes_a_netlist(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "net.cir"
    result = CliRunner().invoke(main, ["compile", str(model), "-o", str(out), "--samples", "2"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith(".title cli_net") and text.endswith(".end\n") and "n1_0_x" in text


@needs_ngspice
def test_compiled_learning_netlist_runs_in_ngspice_as_is(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "learn.cir"
    result = CliRunner().invoke(main, ["compile", str(model), "-o", str(out), "--learning", "--ticks", "50"])
    assert result.exit_code == 0, result.output
    assert "Fw0_0_p1 w0_0_p1 0 Vzw0_0_p1 1" in out.read_text()
    done = subprocess.run(["ngspice", "-b", str(out)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and "error" not in done.stdout.lower(), done.stdout[-2000:]


@needs_ngspice
def test_simulate_prints_gradients_and_plots(model: Path, tmp_path: Path) -> None:
    png = tmp_path / "waves.png"
    result = CliRunner().invoke(
        main, ["simulate", str(model), "--target", "spice", "--samples", "2", "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "<- 2L" in result.output and "layer 2: |dW|" in result.output
    tick_2l = next(line for line in result.output.splitlines() if "<- 2L" in line)
    assert float(tick_2l.split()[1]) < 1e-8
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_ngspice
def test_simulate_runs_a_netlist_and_prints_probes(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "net.cir"
    CliRunner().invoke(main, ["compile", str(model), "-o", str(out)])
    result = CliRunner().invoke(main, ["simulate", str(out), "--target", "spice"])
    assert result.exit_code == 0, result.output
    assert "v(n#_#_s#r)" in result.output  # NOTE: a summary per name pattern; --all lists every probe
    listed = CliRunner().invoke(main, ["simulate", str(out), "--target", "spice", "--all"])
    assert listed.exit_code == 0 and "v(n0_0_s2r)" in listed.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "net.cir"], "nothing written beside it"


def test_malformed_model_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("meta.json", '{"format": "something.else"}')
    result = CliRunner().invoke(main, ["compile", str(bad), "-o", str(tmp_path / "x.cir")])
    assert result.exit_code == 1
    assert (
        "ModelFileError" in result.output
        and "bad.npz" in result.output
        and len(result.output.strip().splitlines()) == 1
    )
    assert not (tmp_path / "x.cir").exists(), "no netlist may be written from a bad model"


def test_hostile_model_name_never_reaches_a_netlist(tmp_path: Path) -> None:
    model = Network.mlp([2, 2], seed=0, name="a\n.include /etc/passwd").save(tmp_path / "evil.npz")
    out = tmp_path / "evil.cir"
    result = CliRunner().invoke(main, ["compile", str(model), "-o", str(out)])
    assert result.exit_code == 1 and "LoweringError" in result.output and "cannot name a circuit" in result.output
    assert not out.exists()


def test_netlist_on_numpy_target_is_refused(tmp_path: Path) -> None:
    cir = tmp_path / "n.cir"
    cir.write_text(".title n\n.end\n")
    result = CliRunner().invoke(main, ["simulate", str(cir), "--target", "numpy"])
    assert result.exit_code == 1 and "runs only on the spice target" in result.output


def test_options_that_would_be_ignored_are_refused(model: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["compile", str(model), "-o", str(tmp_path / "x.cir"), "--port", "momentum"])
    assert result.exit_code == 1 and "--port sets the learning circuit's parameter ports; it needs --learning" in (
        result.output
    )
    assert not (tmp_path / "x.cir").exists()
    cir = tmp_path / "n.cir"
    cir.write_text(".title n\n.end\n")
    result = CliRunner().invoke(main, ["simulate", str(cir), "--target", "spice", "--plot", str(tmp_path / "w.png")])
    assert result.exit_code == 1 and "--plot apply to a network file" in result.output


def _graph_file(tmp_path: Path) -> Path:
    from wavetrain.compiler.builder import GraphBuilder

    g = GraphBuilder((1, 8))
    c = g.conv1d(g.input, 2, kernel=3, stride=2, padding=1, activation="tanh", id="c")
    h = g.linear(g.flatten(c, id="f"), 4, "tanh", id="h")
    a = g.add(g.linear(h, 4, id="i"), h, id="a")
    return g.network(g.linear(a, 2, id="o"), seed=0, name="cli_graph").save(tmp_path / "graph.npz")


@needs_ngspice
def test_a_graph_network_file_compiles_and_simulates_in_ngspice(tmp_path: Path) -> None:
    model = _graph_file(tmp_path)
    out = tmp_path / "graph.cir"
    result = CliRunner().invoke(main, ["compile", str(model), "-o", str(out), "--samples", "2"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert ".func fk0_jc(" in text and "Bu0_0_0_sph" in text  # a shared kernel; the skip's buffer onto its line
    done = subprocess.run(["ngspice", "-b", str(out)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and "error" not in done.stdout.lower(), done.stdout[-2000:]
    png = tmp_path / "waves.png"
    result = CliRunner().invoke(
        main, ["simulate", str(model), "--target", "spice", "--samples", "2", "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "1 Add, depth 6 on spice" in result.output and "node c: |dW|" in result.output
    tick_2d = next(line for line in result.output.splitlines() if "<- 2D" in line)
    assert tick_2d.split()[0] == "12" and float(tick_2d.split()[1]) < 1e-8
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_preset_compiles_and_simulates_on_the_numpy_target(tmp_path: Path) -> None:
    out = tmp_path / "lenet.cir"
    result = CliRunner().invoke(main, ["compile", "--model", "lenet-digits", "--data", "digits", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith(".title lenet_digits") and "n0_63_x" in out.read_text()  # 1 x 8 x 8 wires
    result = CliRunner().invoke(main, ["simulate", "--model", "resmlp-mnist1d", "--data", "mnist1d"])
    assert result.exit_code == 0, result.output
    tick_2d = next(line for line in result.output.splitlines() if "<- 2D" in line)
    assert float(tick_2d.split()[1]) < 1e-12 and "node b3_2: |dW|" in result.output


def test_a_network_is_one_of_a_file_and_a_preset(model: Path) -> None:
    for args in ([], [str(model), "--model", "lenet-digits"]):
        result = CliRunner().invoke(main, ["compile", *args])
        assert result.exit_code == 2 and "give a network file or --model PRESET (one of them)" in result.output
    result = CliRunner().invoke(main, ["compile", "--model", "vgg16"])
    assert result.exit_code == 2 and "'vgg16' is not one of" in result.output
