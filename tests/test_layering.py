"""Layering: the layers below the API (compiler/, circuits/, emulator/, targets/) never import the API package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOWER = ("compiler", "circuits", "emulator", "targets")
# wavetrain.errors is the one API module every layer shares; wavetrain._lazy (stdlib only) makes their __init__ lazy
ALLOWED = {"errors", "_lazy", *LOWER}


def _wavetrain_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            subs = [f"wavetrain.{alias.name}" for alias in node.names] if node.module == "wavetrain" else []
            names = [node.module, *subs]
        found += [name for name in names if name.startswith("wavetrain.")]
    return found


def test_lower_layers_do_not_import_the_api_package() -> None:
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for layer in LOWER
        for path in sorted((ROOT / layer).rglob("*.py"))
        for name in _wavetrain_imports(path)
        if name.split(".")[1] not in ALLOWED
    ]
    assert not offences, "lower layers import the API package:\n" + "\n".join(offences)


def test_the_check_sees_an_offence(tmp_path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from wavetrain.datasets import check_features\n    import wavetrain.files\n")
    assert _wavetrain_imports(probe) == ["wavetrain.datasets", "wavetrain.files"]


def test_only_the_reproduction_and_its_tests_import_it() -> None:
    """The reproduction report is no API: the CLI names its commands by string (wavetrain.cli.COMMANDS)."""
    inside = (ROOT / "reproduction", ROOT / "tests" / "reproduce")
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("wavetrain", *LOWER, "reproduction", "tests", "benchmarks", "examples", "scripts")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(path.is_relative_to(allowed) for allowed in inside)
        for name in _wavetrain_imports(path)
        if name.startswith("wavetrain.reproduction")
    ]
    assert not offences, "imports of the reproduction outside it:\n" + "\n".join(offences)


# NOTE: the Network's own conveniences that run it (machine, forward/predict, evaluate) import the emulator lazily;
# they are the only imports of the emulator below it, and building a chip is not one of them
NETWORK_RUNS = {
    ("compiler/network.py", "wavetrain.emulator"),
    ("compiler/network.py", "wavetrain.emulator.cells"),
    ("compiler/network.py", "wavetrain.emulator.evaluation"),
    ("compiler/network.py", "wavetrain.emulator.substrate"),
}


def test_compiler_and_circuits_do_not_import_the_emulator() -> None:
    """The device model and a chip's programming live in circuits/, below both the compiler and the emulator."""
    found = {
        (str(path.relative_to(ROOT)), name)
        for layer in ("compiler", "circuits")
        for path in sorted((ROOT / layer).rglob("*.py"))
        for name in _wavetrain_imports(path)
        if name == "wavetrain.emulator" or name.startswith("wavetrain.emulator.")
    }
    offences = sorted(found - NETWORK_RUNS)
    assert not offences, "compiler/ or circuits/ import the emulator:\n" + "\n".join(f"{p}: {n}" for p, n in offences)
    assert found == NETWORK_RUNS, (
        f"an allowed import is gone, drop it from NETWORK_RUNS: {sorted(NETWORK_RUNS - found)}"
    )


def test_a_chip_is_compiled_without_loading_the_emulator() -> None:
    """compile_network(hardware=) programs the chip from circuits/ alone: no emulator module is even loaded."""
    code = (
        "import sys, numpy as np\n"
        "from wavetrain.compiler import Network, compile_network\n"
        "c = compile_network(Network.mlp([8, 4, 3]), x=np.ones((1, 8)), y=np.zeros((1, 3)), hardware='reram')\n"
        "assert c.meta['hardware'] == 'reram'\n"
        "print(sorted(m for m in sys.modules if m.startswith('wavetrain.emulator')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
