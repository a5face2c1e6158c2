"""Output that fits a terminal: short reprs, netlist summaries, progress bars only on a terminal unless asked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import wavetrain
from wavetrain import compile_network, to_spice
from wavetrain.circuits import Transient
from wavetrain.circuits.hardware import PRESETS, load_hardware
from wavetrain.emulator.loihi import calibrate

WIDE = 160  # characters: one line of a wide terminal

WAVETRAIN = [sys.executable, "-m", "wavetrain"]


@pytest.fixture(scope="module")
def digits():
    return wavetrain.datasets.load("digits")


def _one_line(text: str) -> None:
    assert "\n" not in text and len(text) <= WIDE, (len(text), text[:300])


def test_reprs_are_one_line_whatever_the_size(digits):
    net = wavetrain.Network.mlp([64, 128, 128, 10], loss="cross_entropy", seed=0)
    x, y = digits.x_train[:32], digits.y_train[:32]
    _one_line(repr(net))
    _one_line(repr(compile_network(net, x=x[:1], y=y[:1])))
    _one_line(repr(wavetrain.relax(net, x, y, history=True)))
    _one_line(repr(wavetrain.train(net, digits, epochs=2, batch_size=128)))
    _one_line(repr(calibrate(net, x, y)[1]))
    for name in PRESETS:
        _one_line(repr(load_hardware(name)))
    assert "test accuracy" in repr(wavetrain.train(net, digits, epochs=1, batch_size=128))


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
def test_simulating_a_netlist_prints_a_summary(tmp_path, digits):
    net = wavetrain.Network.mlp([16, 12, 4], seed=0)
    x, y = np.asarray(digits.x_test[:2, :16]), np.array([0, 3])
    path = tmp_path / "net.cir"
    path.write_text(to_spice(compile_network(net, x=x, y=y), Transient(stop=5e-9, step=1e-10)))
    summary = subprocess.run([*WAVETRAIN, "simulate", str(path), "--target", "spice"], capture_output=True, text=True)
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    everything = subprocess.run([*WAVETRAIN, "simulate", str(path), "--target", "spice", "--json"],
                                capture_output=True, text=True)  # fmt: skip
    final = json.loads(everything.stdout)["final"]
    assert len(final) > 200 and len(lines) <= 30, (len(final), len(lines))  # NOTE: 12x16 + 4x12 weight ports alone
    assert "--all or --json" in lines[-1] and f"{len(final)} vectors" in lines[0]
    patterns = {line.split()[0]: int(line.split()[1]) for line in lines[2:-1]}
    assert sum(patterns.values()) == len(final)  # NOTE: every vector counted once, under its pattern
    listed = subprocess.run([*WAVETRAIN, "simulate", str(path), "--target", "spice", "--all"],
                            capture_output=True, text=True)  # fmt: skip
    assert len(listed.stdout.splitlines()) == len(final) + 1


def test_progress_bars_only_on_a_terminal_unless_asked():
    run = [*WAVETRAIN, "train", "--layers", "64,8,10", "--epochs", "2", "--batch-size", "128"]
    piped = subprocess.run(run, capture_output=True, text=True)
    assert piped.returncode == 0 and "epoch/s" not in piped.stderr and "\r" not in piped.stderr, piped.stderr
    asked = subprocess.run([*run, "--progress"], capture_output=True, text=True)
    assert asked.returncode == 0 and "epoch" in asked.stderr
    quiet = subprocess.run([*run, "--no-progress", "--json"], capture_output=True, text=True)
    assert quiet.stderr == "" and list(json.loads(quiet.stdout))[0] == "test_accuracy_final"


def test_a_warning_on_the_command_line_is_one_line():
    done = subprocess.run([*WAVETRAIN, "train", "--layers", "64,8,10", "--epochs", "1", "--method", "pipelined"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith("wavetrain: DivergenceWarning")
