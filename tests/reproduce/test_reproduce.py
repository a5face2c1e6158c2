"""Smoke test of ``wavetrain reproduce`` at a tiny scale, and the CLI's refusal of hostile settings."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from wavetrain import Network, relax
from wavetrain.errors import StabilityError
from wavetrain.reproduction.cli import reproduce_command
from wavetrain.reproduction.report_types import Scale
from wavetrain.reproduction.reproduce import reproduce

TINY = Scale(
    "tiny",
    t3_ticks=300,
    t4_ticks=200,
    mc_draws=2000,
    widths=(32, 64),
    t9_draws=2,
    t11_depth=8,
    t10_width=32,
    epochs=1,
    seeds=(0,),
    train_subset=200,
    t9_seeds=(0, 1),
    t9_epochs=1,
    t9_train_subset=512,
    t9_ks=(1, 10),
    t9_widths=(16, 32),
    t9_width_samples=16,
    t11_depths=(8, 16),
    t11_seeds=(0, 1),
    t7_ticks=200,
    t4_seeds=(0, 1),
    t7_seeds=(0, 1),
    t7_etas=(0.01, 0.02),
    t7_depths=(2, 4),
    t7_depth_eta=0.01,
    graph_dags=4,
    cnn_seeds=(0, 1),
    cnn_epochs=1,
    cnn_subset=200,
    cnn_check_epochs=1,
    lenet_epochs=1,
    res_seeds=(0, 1),
    res_epochs=1,
    graph_claims=False,
)


def test_tiny_reproduction_writes_a_complete_report(tmp_path, saved_figures) -> None:
    path = reproduce(tmp_path, progress=False, scale=TINY)
    text = path.read_text()
    for target in [f"T{i}" for i in range(1, 17)]:
        assert f"## {target}:" in text, target
    for plot in (
        "t3_error_vs_tick.png",
        "t9_mnist1d.png",
        "t9_cosine_vs_width.png",
        "t10_memory.png",
        "t11_exponent.png",
        "digits_accuracy.png",
        "t7_energy.png",
        "t15_mnist1d_cnn.png",
        "t16_residual_mpc.png",
    ):
        assert (tmp_path / plot).stat().st_size > 1000
        assert plot in saved_figures.names(), plot  # NOTE: and each was inspected: data in every panel (the
        # 1-epoch T9 training panel was one column of dots), legends off the data, units (tests/figures.py)
    saved_figures.assert_clean()
    # NOTE: the targets with an exact answer must pass even at this size
    for line in ("max abs error at tick 2L = 10 | 0 |", "h = L: max |g^h - g_bp| | 0 |"):
        assert line in text
    graph_checks = [
        r
        for r in text.splitlines()
        if r.startswith("| ") and ("random DAGs (" in r or "PyTorch SGD loop" in r or "every epoch's" in r)
    ]
    assert len(graph_checks) == 3 and all(r.endswith("| pass |") for r in graph_checks), graph_checks
    ddp = [r for r in text.splitlines() if r.startswith("| full DDP recursion") or r.startswith("| library OCNOpt")]
    assert len(ddp) == 2 and all(r.endswith("| pass |") for r in ddp), ddp
    assert "## How each check can fail" in text and "- **seed summary:**" in text
    rows = [r for r in text.splitlines() if r.startswith("| ") and r.count("|") == 7 and "---" not in r]
    verdicts = re.compile(r"\| (reproduced|not reproduced|inconclusive|not claimed) \|")
    assert all(verdicts.search(r) for r in rows[1:] if "quantity" not in r)
    assert not list(tmp_path.glob(".report.*"))


def test_cli_requires_an_output_directory() -> None:
    result = CliRunner().invoke(reproduce_command, [])
    assert result.exit_code != 0 and "--out" in result.output


@pytest.mark.parametrize("courant", [2.0, 2.5])
def test_courant_two_or_more_is_refused(courant: float) -> None:
    net = Network.mlp([2, 3, 1], seed=0)
    with pytest.raises(StabilityError, match=f"expected 0 < courant < 2, got {courant}"):
        relax(net, [[0.1, 0.2]], [[0.0]], courant=courant)


def test_the_cli_offers_exactly_the_sections_that_can_be_regenerated_alone():
    from wavetrain.reproduction.reproduce import ONLY

    option = next(p for p in reproduce_command.params if p.name == "only")
    assert list(option.type.choices) == list(ONLY)
