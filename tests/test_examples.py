"""Every script in examples/ runs as a user would run it (python examples/NAME.py OUTDIR) and says only what it shows:
each claim it prints is parsed here and checked against the number it printed beside it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"the example no longer prints {pattern!r}:\n{text}"
    return float(found.group(1))


def _check_01(out: str, folder: Path) -> None:
    # the exact gradient arrives at tick 2L (against textbook backprop, float64), and not one tick earlier
    assert _number(r"gradient error at tick 2L = 6: (\S+)", out) < 1e-12
    assert _number(r"gradient error one tick before 2L: (\S+)", out) > 1e-3
    accuracy = {m: _number(rf"{m}: test accuracy (\S+)", out) for m in ("backprop", "dyadic", "wave")}
    assert accuracy["backprop"] > 0.95 and accuracy["wave"] > 0.9, accuracy
    assert accuracy["dyadic"] == accuracy["backprop"]  # NOTE: the same trajectory, to float32 rounding
    gap = _number(r"dyadic follows backprop: largest relative loss gap (\S+) over 10 epochs", out)
    assert gap < 1e-5 and "(float32 rounding: < 1e-5)" in out
    assert (folder / "digits_curves.png").stat().st_size > 10_000 and (folder / "digits_dyadic.npz").exists()


def _check_02(out: str, folder: Path) -> None:
    target = "spice" if shutil.which("ngspice") else "numpy"
    assert _number(rf"{target}: gradient error at tick 2L = (\S+)", out) < 1e-10  # the README's claim
    by_tick = [float(v) for v in re.search(r"error by tick: \[([^\]]*)\]", out).group(1).split()]
    assert len(by_tick) == 5 and by_tick[3] > 1e-3 and by_tick[4] < 1e-10  # exact at 2L = 4, not at 3
    for name in ("xor.cir", "xor_learning.cir", "waves.png"):
        assert (folder / name).stat().st_size > 1000, name


def _check_03(out: str, folder: Path) -> None:
    rules = re.findall(r"^(.+?)\s+test accuracy (\S+)  \((\S+) s\)$", out, flags=re.M)
    assert len(rules) == 5, out
    for name, accuracy, _ in rules:
        assert float(accuracy) > 0.85, (name, accuracy)  # NOTE: every rule learns digits in 5 epochs
    assert (folder / "learning_rules.png").stat().st_size > 10_000


def _check_04(out: str, folder: Path) -> None:
    assert _number(r"against torch autograd, keyed .*: largest relative error (\S+)", out) < 1e-12
    assert _number(r"dyadic: test accuracy (\S+) % after 8 epochs", out) > 50
    assert _number(r"MPC h = 1 \(block-local\): test accuracy (\S+) % after 8 epochs", out) > 10
    assert _number(r"exported back to torch: forward equals the emulator's to (\S+)", out) < 1e-12
    assert (folder / "graph_models.png").stat().st_size > 10_000 and (folder / "residual_cnn.npz").exists()


def _check_05(out: str, folder: Path) -> None:
    target = "spice" if shutil.which("ngspice") else "numpy"
    assert "splitters ['spfc']" in out and "('fd6', ('fc', 'res'), 1e-09)" in out  # the fan-out and the skip's line
    assert _number(rf"{target}: gradient error against backprop at tick 2D = 14: (\S+)", out) < 1e-10
    rows = re.findall(r"^\s*(\d+)\s+(\S+)\s+(\S+)$", out, flags=re.M)
    assert len(rows) == 15 and float(rows[13][1]) > 1e-3 and float(rows[14][1]) < 1e-10  # exact at 2D, not before
    for name in ("rescnn.cir", "waves.png"):
        assert (folder / name).stat().st_size > 1000, name


CHECKS = {
    "01_train_digits.py": _check_01,
    "02_compile_to_spice.py": _check_02,
    "03_learning_rules.py": _check_03,
    "04_graph_models.py": _check_04,
    "05_graph_circuit.py": _check_05,
}


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_and_its_claims_hold(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert script.name in CHECKS, f"{script.name}: add a check of what it prints to tests/test_examples.py"
    CHECKS[script.name](done.stdout, tmp_path)
    assert "\r" not in done.stderr, "progress bars in a piped log"  # NOTE: bars only on a terminal


def test_there_are_examples():
    assert EXAMPLES, "examples/ must hold runnable scripts"
