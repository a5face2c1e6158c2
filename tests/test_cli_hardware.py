"""`wavetrain hardware list|show|save` and `wavetrain train --hardware --chips`, as a user runs them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from wavetrain.circuits.hardware import PRESETS, load_hardware
from wavetrain.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_list_and_show_every_preset():
    listing = run("hardware", "list")
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.output.splitlines()] == list(PRESETS)
    shown = run("hardware", "show", "reram")
    assert "device.dw_min" in shown.output and "0.002" in shown.output and "[w_max]" in shown.output
    assert json.loads(run("hardware", "show", "pcm", "--json").output) == PRESETS["pcm"].to_dict()


def test_save_with_overrides_then_train_on_it_with_chips(tmp_path):
    path = tmp_path / "mine.json"
    saved = run("hardware", "save", "ecram", "--set", "device.read_noise=0.05", "--set", "io.adc_bits=6", "-o", path)
    assert saved.exit_code == 0, saved.output
    model = load_hardware(str(path))
    assert model.device.read_noise == 0.05 and model.io.adc_bits == 6
    result = run("train", "--layers", "64,16,10", "--epochs", "1", "--hardware", path, "--chips", "2", "--json")
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["chips"] == 2 and len(line["chip_test_accuracy"][0]) == 2
    assert line["hardware"]["device"]["read_noise"] == 0.05 and 0 < line["fidelity"]["mean_cosine"] < 1


def test_bad_hardware_is_one_line_naming_the_field():
    result = run("hardware", "save", "reram", "--set", "device.weight_bits=0", "-o", "unused.json")
    assert result.exit_code == 1
    assert "device.weight_bits: expected an integer in [1, 32] or null [bit], got 0" in result.output
    result = run("train", "--epochs", "1", "--hardware", "memristor")
    assert result.exit_code == 1 and "HardwareError: hardware: expected a preset" in result.output
    result = run("train", "--epochs", "1", "--chips", "3")
    assert result.exit_code == 1 and "chips: Monte-Carlo chips need hardware=" in result.output


def test_fidelity_tick_by_tick_is_exact_at_2L_on_the_ideal_chip_only(tmp_path):
    ideal = run("hardware", "fidelity", "ideal", "--layers", "64,16,10", "--batch", "8", "--plot", tmp_path / "f.png")
    assert ideal.exit_code == 0, ideal.output
    row = next(line for line in ideal.output.splitlines() if line.endswith("<- 2L"))
    assert row.split()[:3] == ["4", "1.0000", "0.000e+00"]
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    reram = run("hardware", "fidelity", "reram", "--layers", "64,16,10", "--batch", "8", "--chips", "2")
    row = next(line for line in reram.output.splitlines() if line.endswith("<- 2L"))
    assert float(row.split()[2]) > 1e-3


def test_lifetime_prints_accuracy_over_time_and_refuses_bad_grids(tmp_path):
    model = tmp_path / "m.npz"
    assert run("train", "--layers", "64,16,10", "--epochs", "1", "--save", model, "--json").exit_code == 0
    plot = tmp_path / "life.png"
    out = run("hardware", "lifetime", model, "--chips", "2", "--times", "1,3600,3.15e7", "--plot", plot, "--json")
    assert out.exit_code == 0, out.output
    line = json.loads(out.output)
    assert line["times"] == [1.0, 3600.0, 3.15e7] and set(line["accuracy"]) == {"none", "global"}
    assert all(len(chips) == 2 for chips in line["accuracy"]["none"]) and plot.stat().st_size > 0
    text = run("hardware", "lifetime", model, "--chips", "2", "--times", "1,60", "--compensation", "column")
    assert text.exit_code == 0 and "column %" in text.output and "on pcm, 2 chips" in text.output
    args = ("hardware", "lifetime", model, "--chips", "2", "--times", "1,3600,90000", "--json")
    plain, fresh = (json.loads(run(*args, *more).output) for more in ((), ("--refresh", "86400")))
    assert fresh["refresh"] == 86400.0 and plain["refresh"] is None
    assert fresh["accuracy"]["none"][:2] == plain["accuracy"]["none"][:2]  # nothing re-programmed before a day
    for args, message in (
        (["--times", "60,1"], "times[1]: expected a strictly increasing grid, got 1.0 after 60.0"),
        (["--times", "1,-5"], "times[1]: expected a finite time > 0 [s] since programming, got -5.0"),
        (["--times", "1,soon"], "--times: expected numbers of seconds separated by commas, got 'soon'"),
        (["--compensation", "none,fancy"], "compensation: expected one of none, global, column, got 'fancy'"),
        (["--dataset", "mnist1d"], "do not fit the network"),
        (["--refresh", "-1"], "refresh: expected a finite period > 0 [s] between re-programmings, got -1.0"),
    ):
        bad = run("hardware", "lifetime", model, *args)
        assert bad.exit_code == 1 and message in bad.output, bad.output


def test_train_on_chips_resumes_from_its_checkpoint(tmp_path):
    args = ["--layers", "64,16,10", "--hardware", "reram", "--chips", "2", "--seed", "1", "--json"]
    whole = json.loads(run("train", "--epochs", "2", *args).output)
    path = tmp_path / "ck.npz"
    first = run("train", "--epochs", "1", *args, "--checkpoint", path)
    assert first.exit_code == 0, first.output
    again = run("train", "--resume", path, "--epochs", "2", "--json")  # the hardware and chips come from the file
    assert again.exit_code == 0, again.output
    line = json.loads(again.output)
    assert line["hardware"]["name"] == "reram" and line["chips"] == 2
    assert line["chip_test_accuracy"] == whole["chip_test_accuracy"] and line["loss"] == whole["loss"]
