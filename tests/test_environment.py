"""In CI every backend must really be exercised: a missing install step fails here instead of skipping tests."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

in_ci = pytest.mark.skipif(os.environ.get("CI") != "true", reason="only CI must have every backend installed")


@in_ci
@pytest.mark.parametrize(
    "module",
    ["torch", "PySpice", "sklearn", "matplotlib", "distributed", "pyarrow", "yaml", "bokeh", "mnist1d", "lava"],
)
def test_optional_python_dependencies_are_installed(module):
    assert importlib.util.find_spec(module) is not None, f"{module} is missing: scripts/setup.sh must install it"


@in_ci
def test_ngspice_and_its_shared_library_are_installed():
    assert shutil.which("ngspice"), "ngspice is missing: scripts/setup.sh must apt-get install it"
    import numpy as np

    from wavetrain import Network, simulate

    net = Network.mlp([2, 2], seed=0)
    x, y = np.ones((1, 2)), np.zeros((1, 2))
    for runner in ("batch", "shared"):  # the shared runner loads libngspice through PySpice
        assert simulate(net, x, y, target="spice", runner=runner).gradient_error(simulate(net, x, y).grads) < 1e-6


@in_ci
def test_lava_imports_with_the_compat_hook():
    # NOTE: without this, a broken Lava install would only skip tests/targets/test_lava.py
    from wavetrain.targets.lava import _compat

    _compat.require_lava()
