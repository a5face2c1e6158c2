"""The report's verdict logic and structure, on synthetic numbers (fast; the run itself is test_reproduce.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from wavetrain.reproduction import reproduce, sources
from wavetrain.reproduction.report_types import (
    INCONCLUSIVE,
    NOT_CLAIMED,
    NOT_REPRODUCED,
    QUICK,
    REPRODUCED,
    Row,
    Section,
    interval,
    verdict_ci,
)
from wavetrain.reproduction.t9_mnist1d import k_claim


def test_verdict_follows_the_interval() -> None:
    assert verdict_ci(True, False) == REPRODUCED
    assert verdict_ci(False, True) == NOT_REPRODUCED
    assert verdict_ci(False, False) == INCONCLUSIVE
    with pytest.raises(ValueError, match="verdict must be one of"):
        Row("q", "1", "-", "-", "maybe")


def test_interval_is_student_t_and_refuses_to_invent_one_from_one_seed() -> None:
    values = [0.31, 0.35, 0.29, 0.4]
    mean, low, high = interval(values)
    half = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert mean == pytest.approx(np.mean(values))
    assert high - mean == pytest.approx(half) and mean - low == pytest.approx(half)
    assert interval([0.5]) == (0.5, -np.inf, np.inf)


def ks(**accs: list[float]) -> dict[str, list[float]]:
    return {f"W-perp k={k[1:]}": v for k, v in accs.items()}


def test_k_claim_reproduced_not_reproduced_and_inconclusive() -> None:
    ranks = ["W-perp k=1", "W-perp k=10", "W-perp k=50"]
    best10 = ks(k1=[0.20, 0.21, 0.19], k10=[0.30, 0.31, 0.305], k50=[0.25, 0.26, 0.24])
    assert k_claim(best10, ranks, "W-perp k=10", 0.02)[:2] == (REPRODUCED, "W-perp k=10")
    worse10 = ks(k1=[0.40, 0.41, 0.405], k10=[0.20, 0.21, 0.20], k50=[0.30, 0.31, 0.30])
    verdict, best, gap, _ = k_claim(worse10, ranks, "W-perp k=10", 0.02)
    assert (verdict, best) == (NOT_REPRODUCED, "W-perp k=1") and gap[1] > 0.02
    tie = ks(k1=[0.20, 0.30, 0.25], k10=[0.26, 0.22, 0.27], k50=[0.24, 0.28, 0.21])
    assert k_claim(tie, ranks, "W-perp k=10", 0.02)[0] == INCONCLUSIVE


def test_render_labels_sources_columns_and_the_closing_note() -> None:
    section = Section(
        "T9",
        "W-perp",
        (
            Row("q", "1.0", "k ~ 10 (seed summary)", "ours", INCONCLUSIVE, "fail"),
            Row("r", "2.0", "-", "ours", NOT_CLAIMED, "pass"),
        ),
        (),
        "a note",
    )
    digits = {"backprop": {"curves": np.array([[0.5, 0.9], [0.6, 0.8]]), "wall": np.array([1.0, 2.0]), "momentum": 0.9}}
    text = reproduce.render(QUICK, [section], digits, 1.0)
    assert "| T9 | W-perp | inconclusive, not claimed | 1/2 pass |" in text
    assert "| quantity | measured | claim (source) | our derivation | verdict | check |" in text
    for line in sources.lines("T9")[:3]:
        assert line in text
    assert "How each check can fail" in text and "a note" in text
    assert "| backprop | 0.9 | 85.0 [" in text  # mean of the final epochs, with its interval


def test_every_target_has_its_sources() -> None:
    for target in [f"T{i}" for i in range(1, 14)] + ["T9b"]:
        paper, seed, ours = sources.SOURCES[target]
        assert paper and seed and ours
