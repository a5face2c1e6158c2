"""The packages load their names on first use: every exported name resolves, and a low module imports light."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import types

import pytest

PACKAGES = (
    "wavetrain",
    "wavetrain.compiler",
    "wavetrain.circuits",
    "wavetrain.emulator",
    "wavetrain.targets",
    "wavetrain.sweep",
)
# what `import wavetrain.emulator.cells` must not load: the API package beyond __init__, errors and the lazy helper
API_ALLOWED = {"wavetrain", "wavetrain._lazy", "wavetrain.errors"}
LOWER = ("wavetrain.compiler", "wavetrain.circuits", "wavetrain.emulator", "wavetrain.targets")
HEAVY = ("scipy", "click", "matplotlib", "torch")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_resolves(package: str) -> None:
    if package == "wavetrain.sweep":
        pytest.importorskip("pyarrow")
        pytest.importorskip("yaml")
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
        assert name in dir(module)
    namespace: dict = {}
    exec(f"from {package} import *", namespace)
    assert set(module.__all__) <= set(namespace)


def test_the_readme_names_resolve_at_the_top_level() -> None:
    import wavetrain
    from wavetrain import Network, compile_network, datasets, relax, simulate, to_pyspice, to_spice, train  # noqa: F401
    from wavetrain.circuits import spice

    assert wavetrain.to_pyspice is spice.to_pyspice and wavetrain.to_spice is spice.to_spice
    assert isinstance(wavetrain.datasets, types.ModuleType) and wavetrain.emulator.fused.__name__.endswith("fused")


def test_an_export_wins_over_the_submodule_named_as_it_is() -> None:
    """wavetrain.emulator.train is the function, as with the eager imports, even after its module is imported."""
    code = (
        "import wavetrain.emulator.train, wavetrain.emulator.relax, wavetrain.compiler.lower\n"
        "import wavetrain, wavetrain.emulator as e, wavetrain.compiler as c\n"
        "print(callable(e.train), callable(e.relax), callable(c.lower), wavetrain.train is e.train)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True"] * 4


def test_a_missing_name_is_an_attribute_error() -> None:
    import wavetrain

    with pytest.raises(AttributeError, match="module 'wavetrain' has no attribute 'nope'"):
        wavetrain.nope  # noqa: B018


def test_a_low_module_loads_no_api_module_and_no_heavy_library() -> None:
    code = "import sys, wavetrain.emulator.cells; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    timed = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", run.stderr, flags=re.MULTILINE))
    assert "wavetrain.emulator.cells" in timed
    for modules in (timed, set(run.stdout.split())):
        api = {m for m in modules if m.startswith("wavetrain") and not m.startswith(LOWER)} - API_ALLOWED
        assert not api, f"the API package was loaded: {sorted(api)}"
        heavy = {m for m in modules if m.split(".")[0] in HEAVY}
        assert not heavy, f"heavy libraries were loaded: {sorted(heavy)}"
