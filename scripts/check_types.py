"""Type-check every library module with mypy: compiler/, circuits/, emulator/, targets/ and the API package.

The wavetrain.* subpackages live in top-level folders (pyproject's package-dir), which mypy cannot map, so it reads
them through a temporary tree of symlinks laid out as installed. Run by `make test`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

# NOTE: every module of the library packages; wavetrain/ (the API package) is listed by its own modules below
LIBRARY = ("compiler", "circuits", "emulator", "targets")
API_MODULES = (
    "wavetrain.simulation",
    "wavetrain.errors",
    "wavetrain._lazy",  # the lazy exports
    "wavetrain.cli",  # the CLI group
    "wavetrain.runs",  # the train run
)
SUBPACKAGES = ("compiler", "circuits", "emulator", "targets", "reproduction")


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="wavetrain-types-") as tmp:
        package = Path(tmp) / "wavetrain"
        package.mkdir()
        for entry in (root / "wavetrain").iterdir():
            if entry.name != "__pycache__":
                (package / entry.name).symlink_to(entry)
        for name in SUBPACKAGES:
            (package / name).symlink_to(root / name)
        names = [*API_MODULES, *(_modules(root, sub) for sub in LIBRARY)]
        flat = [n for group in names for n in ([group] if isinstance(group, str) else group)]
        modules = [arg for name in flat for arg in ("-m", name)]
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(root / "pyproject.toml"),
            "--cache-dir",
            str(root / ".mypy_cache"),
            *modules,
        ]
        return subprocess.run(command, cwd=tmp, check=False).returncode


def _modules(root: Path, sub: str) -> list[str]:
    """The dotted name of every module in the library folder ``sub`` (installed as wavetrain.<sub>)."""
    found = []
    for path in sorted((root / sub).rglob("*.py")):
        parts = [p for p in path.relative_to(root / sub).with_suffix("").parts if p != "__init__"]
        found.append(".".join(["wavetrain", sub, *parts]))
    return found


if __name__ == "__main__":
    sys.exit(main())
