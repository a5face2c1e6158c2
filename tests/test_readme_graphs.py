"""The README's network-graph block runs as written (one epoch instead of forty) and its comments hold."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

README = Path(__file__).resolve().parent.parent / "README.md"


def graph_block() -> str:
    text = README.read_text()
    section = text.split("### Network graphs", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readmes_graph_block_runs_and_its_comments_hold() -> None:
    code = graph_block()
    assert "epochs=40" in code
    scope: dict = {}
    exec(compile(code.replace("epochs=40", "epochs=1"), str(README), "exec"), scope)  # noqa: S102
    assert list(scope["imported"].named_params()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    x = np.random.default_rng(0).normal(size=(4, 1, 40))
    torch_out = scope["back"].double()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(torch_out, scope["imported"].forward(x), rtol=0, atol=1e-12)
    assert scope["net"].graph.delay[("conv1", "skip")] == 1  # the skip gets a matched delay line of one tick
    assert 0.3 < scope["result"].final_test_accuracy <= 1.0  # one epoch of the forty the README quotes
