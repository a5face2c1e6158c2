"""Every check that fails in the quick report (the demo's section 7) comes with its hand-written reason, and no
reason outlives its failure (reproduction/failing.py)."""

from __future__ import annotations

from wavetrain import demo
from wavetrain.reproduction import failing
from wavetrain.reproduction.report_types import QUICK, Row, Scale, Section
from wavetrain.reproduction.reproduce import reproduce


def test_every_failing_target_of_the_quick_report_says_why_and_only_those(tmp_path) -> None:
    text = reproduce(tmp_path, progress=False, scale=QUICK).read_text()  # NOTE: the demo's run, ~45 s of CPU
    failed = demo.failed_checks(text)
    explained = {target for scale, target in failing.WHY if scale == QUICK.name}
    assert set(failed) == explained, (sorted(failed), sorted(explained))
    reasons = demo.failure_reasons(text)
    assert set(reasons) == set(failed)
    for target in failed:
        assert reasons[target] == failing.WHY[(QUICK.name, target)]
    assert failing.UNEXPLAINED not in text


def test_an_unexplained_failure_says_so_and_a_passing_section_is_unchanged() -> None:
    row = Row("q", "1", "-", "< 0", "not claimed", "fail")
    section = Section("T99", "new", (row,), note="A note.")
    explained = failing.explain(section, QUICK)
    assert explained.note == f"A note.\n\n{failing.LEAD} {failing.UNEXPLAINED}"
    passing = Section("T4", "t", (Row("q", "1", "-", "< 2", "not claimed", "pass"),))
    assert failing.explain(passing, QUICK) is passing
    tiny = Scale("tiny", 1, 1, 1, (1,), 1, 1, 1, 1, (0,), 0)
    assert failing.UNEXPLAINED in failing.explain(Section("T4", "t", (row,)), tiny).note  # NOTE: keyed by scale too
    assert demo.WHY == failing.LEAD  # NOTE: the demo finds the reason by these words
