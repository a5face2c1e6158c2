"""Layering: the layers below the API (compiler/, circuits/, emulator/, targets/) never import the API package."""

from __future__ import annotations

import ast
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
