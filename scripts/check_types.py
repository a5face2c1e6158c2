"""Type-check the public seams with mypy: Target.run, the passes, compile_network, train, the Method and Port protocols,
the cells and the substrate.

The wavetrain.* subpackages live in top-level folders (pyproject's package-dir), which mypy cannot map, so it reads
them through a temporary tree of symlinks laid out as installed. Run by `make test`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

SEAMS = (
    "wavetrain.targets",  # the Target protocol, Trace, the registry
    "wavetrain.targets.numpy",
    "wavetrain.targets.ngspice",
    "wavetrain.compiler",  # compile_network and the pass pipeline
    "wavetrain.compiler.passes",
    "wavetrain.compiler.names",
    "wavetrain.emulator.train",  # train(), the Method and Port protocols
    "wavetrain.emulator.ports",
    "wavetrain.emulator.methods",
    "wavetrain.emulator.cells",  # the cells and the Machine
    "wavetrain.emulator.kernel",
    "wavetrain.emulator.substrate",
    "wavetrain.emulator.loihi",  # the Loihi fixed-point substrate
    "wavetrain.targets.lava.target",  # the Lava target (its modules import lava only when run)
)
SUBPACKAGES = ("compiler", "circuits", "emulator", "targets")


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
        modules = [arg for name in SEAMS for arg in ("-m", name)]
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


if __name__ == "__main__":
    sys.exit(main())
