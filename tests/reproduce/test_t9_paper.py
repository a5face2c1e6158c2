"""The paper-schedule T9 sweep: resumable per-run JSON files, the per-seed paired bootstrap, the report rows built
from them (verdicts against hand-computed intervals), and patching one section into an existing report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from wavetrain.errors import ConfigError
from wavetrain.reproduction import t9_mnist1d as t9
from wavetrain.reproduction import t9_paper
from wavetrain.reproduction.cli import reproduce_command, reproduce_t9_command
from wavetrain.reproduction.report_types import Row, Section

pytest.importorskip("torch")
TINY = t9_paper.Schedule(epochs=1)


def test_sweep_writes_one_file_per_run_and_a_rerun_skips_finished_runs(tmp_path, monkeypatch) -> None:
    paths = t9_paper.run_paper(tmp_path, (0,), ("backprop", "W^T"), TINY, progress=False)
    assert [p.name for p in paths] == ["backprop__seed0.json", "wt__seed0.json"]
    loaded = t9_paper.load_results(tmp_path, TINY)
    for method in ("backprop", "W^T"):
        record = loaded[method][0]
        assert len(record["test_accuracy"]) == 1 and len(record["cosine"]) == 1 and len(record["test_correct"]) == 1000
        assert record["test_correct"].mean() == pytest.approx(record["final_test_accuracy"], abs=1e-12)
    assert not t9_paper.load_results(tmp_path)  # the paper's schedule: none of these runs
    stamps = {p: p.stat().st_mtime_ns for p in paths}

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(t9, "train", refuse)
    t9_paper.run_paper(tmp_path, (0,), ("backprop", "W^T"), TINY, progress=False)
    assert {p: p.stat().st_mtime_ns for p in paths} == stamps
    paths[1].write_text("{ truncated")  # a damaged file is not a finished run
    with pytest.raises(AssertionError, match="trained again"):
        t9_paper.run_paper(tmp_path, (0,), ("backprop", "W^T"), TINY, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop__seed0.json", "wt__seed0.json"]


def test_bad_requests_are_refused_before_any_work(tmp_path) -> None:
    with pytest.raises(ConfigError, match="got W-perp k=3"):
        t9_paper.run_paper(tmp_path, (0,), ("W-perp k=3",), TINY, progress=False)
    with pytest.raises(ConfigError, match="epochs >= 1"):
        t9_paper.run_paper(tmp_path, (0,), ("backprop",), t9_paper.Schedule(epochs=0), progress=False)
    result = CliRunner().invoke(reproduce_t9_command, ["--results", str(tmp_path), "--method", "sgd"])
    assert result.exit_code != 0 and "sgd" in result.output
    result = CliRunner().invoke(reproduce_command, ["--out", str(tmp_path), "--only", "T9"])
    assert result.exit_code != 0 and "existing report" in result.output
    assert not list(tmp_path.iterdir())


def test_paired_bootstrap_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(1000) < 0.6).astype(int)
    b = np.where(rng.random(1000) < 0.8, a, 1 - a)  # paired: agrees with a on ~80% of the samples
    diff, low, high = t9_paper.bootstrap_difference(a, b)
    d = (a - b).astype(float)
    half = 1.959964 * d.std(ddof=1) / np.sqrt(len(d))
    assert diff == pytest.approx(d.mean(), abs=1e-15)
    assert low == pytest.approx(d.mean() - half, abs=0.15 * half) and high == pytest.approx(
        d.mean() + half, abs=0.15 * half
    )
    with pytest.raises(ConfigError, match="shapes"):
        t9_paper.bootstrap_difference(a, b[:10])


def fake(method: str, seed: int, correct: int, cosine: float = 0.05) -> dict:
    """A finished run whose final network is right on the first ``correct`` of 1000 test samples."""
    from dataclasses import asdict

    bits = np.zeros(1000, dtype=np.uint8)
    bits[:correct] = 1
    return {
        "method": method,
        "seed": seed,
        "schedule": json.loads(json.dumps(asdict(t9_paper.PAPER))),
        "final_test_accuracy": correct / 1000,
        "test_accuracy": [0.1, correct / 1000],
        "cosine": [cosine] * 2,
        "test_correct": bits,
    }


def test_paper_rows_decide_by_the_paired_t_interval_and_report_a_partial_sweep(tmp_path) -> None:
    acc = {
        "backprop": (600, 620),
        "isotropic": (300, 320),
        "W^T": (350, 330),
        "preconditioned": (310, 330),
        "W-perp k=1": (400, 420),
        "W-perp k=10": (500, 520),
        "W-perp k=50": (450, 480),
    }
    results = {m: {s: fake(m, s, c) for s, c in enumerate(v)} for m, v in acc.items()}
    rows, note = t9_paper.paper_rows(results, tmp_path / "t9.png")
    by = {r.quantity.split(" (")[0]: r for r in rows}
    # k10 - isotropic: differences 0.20, 0.20 (zero spread): the interval is the point 20.0; k10 - W^T: 0.15, 0.19,
    # mean 17.0, half width t(0.975, 1) * sd / sqrt(2) = 12.7062 * 0.02 = 25.4 points
    iso = by["W-perp k10 - isotropic / - W^T"]
    assert iso.measured.startswith("20.0 [20.0, 20.0]; per-seed test-sample bootstrap: seed 0 20.0 [")
    assert "/ 17.0 [-8.4, 42.4]" in iso.measured and iso.verdict == "inconclusive"
    pre = by["W-perp k10 - preconditioned"]
    assert pre.measured.startswith("19.0 [19.0, 19.0]") and pre.verdict == "reproduced" and pre.check == "pass"
    k = by["k ~ 10 best or near-best among W-perp k"]
    assert k.measured.startswith("best 10; 0.0") and k.verdict == "reproduced"
    assert "Partial sweep:** 14 of 20 runs finished" in note and "W-perp k=2 seed 1" in note
    assert (tmp_path / "t9.png").stat().st_size > 1000
    del results["W-perp k=50"][1]  # a rank missing a seed of k = 10's sits out of the comparisons
    rows, _ = t9_paper.paper_rows(results, tmp_path / "t9.png")
    k = {r.quantity.split(" (")[0]: r for r in rows}["k ~ 10 best or near-best among W-perp k"]
    assert "ranks run: 1, 10)" in k.quantity and "over seeds [0, 1]" in k.quantity
    results["W-perp k=10"][1] = fake("W-perp k=10", 1, 200)  # seed 1 reverses k10 vs preconditioned
    rows, _ = t9_paper.paper_rows(results, tmp_path / "t9.png")
    assert {r.quantity.split(" (")[0]: r for r in rows}["W-perp k10 - preconditioned"].verdict == "inconclusive"
    del results["W-perp k=10"][1]  # a method with one seed: the comparisons use only seeds every method finished
    rows, note = t9_paper.paper_rows(results, tmp_path / "t9.png")
    k10 = [r for r in rows if r.quantity.startswith("test accuracy") and r.quantity.count("W-perp k=10")][0]
    assert k10.measured == "50.0 (1 seed, no interval) (seed 0: 50.0)"
    pre = {r.quantity.split(" (")[0]: r for r in rows}["W-perp k10 - preconditioned"]
    assert pre.quantity.endswith("over seeds [0])") and pre.measured.startswith("19.0 (1 seed, no interval)")
    assert pre.verdict == "inconclusive"  # one seed decides nothing, however clear its bootstrap
    del results["W-perp k=10"]
    rows, _ = t9_paper.paper_rows(results, tmp_path / "t9.png")
    assert [r.measured for r in rows if r.quantity.startswith("k ~ 10")] == [
        "sweep too small (or not finished) at this scale"
    ]


def test_patch_replaces_one_section_and_its_summary_row() -> None:
    from wavetrain.reproduction import reproduce as rep

    def sec(target: str, value: str) -> Section:
        return Section(target, f"title {target}", (Row("q", value, "-", "-", "not claimed"),), ("p.png",), "note")

    old = [sec("T8", "1"), sec("T9", "2"), sec("T9b", "3")]
    text = "\n".join(
        [
            "# r",
            "",
            *[rep.summary_line(s) for s in old],
            *sum((rep.section_lines(s) for s in old), []),
            "",
            "## Closing",
        ]
    )
    new = Section("T9", "title T9", (Row("q", "42", "claim", "-", "reproduced", "pass"),), ("p.png",), "new note")
    patched = rep.patch(text, new)
    expected = "\n".join(
        [
            "# r",
            "",
            *[rep.summary_line(s) for s in (old[0], new, old[2])],
            *sum((rep.section_lines(s) for s in (old[0], new, old[2])), []),
            "",
            "## Closing",
        ]
    )
    assert patched == expected and patched != text
    with pytest.raises(ConfigError, match="one '## T7:' section"):
        rep.patch(text, Section("T7", "x", ()))
    added = rep.patch(text, sec("T14", "7"))  # a target newer than the report is added after the last one
    assert added == "\n".join(
        ["# r", "", *[rep.summary_line(s) for s in (*old, sec("T14", "7"))],
         *sum((rep.section_lines(s) for s in old), []), *rep.section_lines(sec("T14", "7")), "", "## Closing"]
    )  # fmt: skip


def test_reproduce_only_patches_the_section_and_refreshes_the_closing_note(tmp_path, monkeypatch) -> None:
    from wavetrain.reproduction import reproduce as rep
    from wavetrain.reproduction import sources

    old = Section("T9", "t", (Row("q", "old", "-", "-", "not claimed"),))
    other = Section("T10", "u", (Row("q", "kept", "-", "-", "not claimed"),))
    (tmp_path / "report.md").write_text(
        "\n".join(
            [
                "# r",
                rep.summary_line(old),
                rep.summary_line(other),
                *rep.section_lines(old),
                *rep.section_lines(other),
                "",
                sources.CLOSING.replace("T9: paired", "T9: stale"),
            ]
        )
    )
    new = Section("T9", "t", (Row("q", "new", "-", "-", "not claimed"),))
    monkeypatch.setitem(rep.SINGLE, "T9", lambda scale, out: new)
    text = rep.reproduce_only(tmp_path, ("T9",)).read_text()
    assert "| q | new |" in text and "| q | old |" not in text and "| q | kept |" in text
    assert text.endswith(sources.CLOSING) and "T9: stale" not in text


def test_extra_seeds_of_the_family_comparisons_join_those_rows_only(tmp_path) -> None:
    acc = {
        "backprop": (600, 620),
        "isotropic": (300, 320),
        "W^T": (350, 330),
        "preconditioned": (310, 330),
        "W-perp k=1": (400, 420),
        "W-perp k=10": (500, 520),
        "W-perp k=50": (450, 480),
    }
    results = {m: {s: fake(m, s, c) for s, c in enumerate(v)} for m, v in acc.items()}
    for m, c in (("isotropic", 250), ("W^T", 260), ("preconditioned", 270), ("W-perp k=10", 400)):
        for seed in (2, 3):  # seeds 2 and 3 ran only the four estimators the family claims compare
            results[m][seed] = fake(m, seed, c + 10 * seed)
    rows, note = t9_paper.paper_rows(results, tmp_path / "t9.png", expected_seeds=(0, 1))
    by = {r.quantity.split(" (")[0]: r for r in rows}
    k = by["k ~ 10 best or near-best among W-perp k"]
    assert "ranks run: 1, 10, 50)" in k.quantity and "over seeds [0, 1];" in k.quantity  # k10's extra seeds sit out
    iso = by["W-perp k10 - isotropic / - W^T"]
    assert iso.quantity.endswith("over seeds [0, 1, 2, 3])")
    # k10 - isotropic over 4 seeds: 0.20, 0.20, 0.15, 0.15 -> mean 17.5 points
    assert iso.measured.startswith("17.5 [")
    assert "All 14 runs of seeds [0, 1] finished" not in note  # 2 ranks of the sweep (k=2, 5, 20) never ran
    assert "**Extra seeds**" in note and "seed 2: isotropic, W^T, preconditioned, W-perp k=10" in note
    assert "With 4 seeds for the family comparisons and 2 for the k ranks" in note
