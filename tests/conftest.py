"""Shared factories for the test suite."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from wavetrain import Network

# NOTE: CI runs each property test on a fixed example sequence, so a submission lands or fails on its code, not on
# the draw; locally hypothesis keeps exploring new examples (stress it with --hypothesis-seed=N for several N)
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def make_batch(net: Network, batch: int = 5, seed: int = 0):
    """Random inputs and matching targets (labels for cross_entropy, reals for mse)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, *net.input_shape))
    if net.loss == "cross_entropy":
        y = rng.integers(0, net.n_outputs, size=batch)
    else:
        y = rng.normal(size=(batch, net.n_outputs))
    return x, y


@pytest.fixture
def spec_net() -> Network:
    """The network of spec section 2.4: widths 4-7-6-5-8-3, tanh, mse (L = 5)."""
    return Network.mlp([4, 7, 6, 5, 8, 3], activation="tanh", output_activation="tanh", loss="mse", seed=1)


@pytest.fixture(scope="session")
def digits():
    from wavetrain import datasets

    return datasets.load("digits")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False, help="rewrite tests/golden/*.cir")


@pytest.fixture
def update_golden(request) -> bool:
    """True when pytest runs with --update-golden (golden netlists are rewritten, not compared)."""
    return bool(request.config.getoption("--update-golden"))


class SavedFigures:
    """Every figure saved while a test runs, by file name, with what :func:`tests.figures.problems` found in it."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def names(self) -> set[str]:
        return set(self.found)

    def assert_clean(self) -> None:
        bad = {name: found for name, found in self.found.items() if found}
        assert not bad, "\n".join(f"{name}: {'; '.join(found)}" for name, found in bad.items())


@pytest.fixture
def saved_figures(monkeypatch):
    """Inspect every matplotlib figure as it is saved (tests/figures.py); the test fails on any problem found."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from tests.figures import problems

    record = SavedFigures()
    original = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        name = os.path.basename(str(fname))
        # NOTE: the atomic writer saves to a temp name beside the file: '.name.png.XXXX.tmp' -> 'name.png'
        name = name.lstrip(".").split(".png")[0] + ".png" if ".png" in name else name
        record.found[name] = problems(fig)
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    yield record
    record.assert_clean()
