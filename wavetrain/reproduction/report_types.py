"""Values the reproduction report is made of: a measured row, a section per target, the run's scale."""

from __future__ import annotations

from dataclasses import dataclass

REPRODUCED, NOT_REPRODUCED, NOT_CLAIMED = "reproduced", "not reproduced", "not claimed"


@dataclass(frozen=True)
class Row:
    """One measured number beside the paper's claim, the spec's expectation and the verdicts."""

    quantity: str
    measured: str
    claim: str  # what the source paper claims ("-" when it claims nothing about this)
    expected: str  # what spec/algorithms.md derives or checked
    verdict: str  # reproduced / not reproduced (against the paper) or not claimed
    check: str = ""  # pass / fail against the spec's expectation

    def __post_init__(self) -> None:
        if self.verdict not in (REPRODUCED, NOT_REPRODUCED, NOT_CLAIMED):
            raise ValueError(f"verdict must be reproduced / not reproduced / not claimed, got {self.verdict!r}")


@dataclass(frozen=True)
class Section:
    """The report section of one target: rows, plot file names (relative to the report) and a note."""

    target: str
    title: str
    rows: tuple[Row, ...]
    plots: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Scale:
    """Sizes of one reproduction run; ``QUICK`` fits in three minutes on two cores."""

    name: str
    t3_ticks: int  # ticks for the courant sweep (courant 1.9 needs ~3000 to settle)
    t4_ticks: int
    mc_draws: int  # Monte Carlo draws for T8
    widths: tuple[int, ...]  # T9 widths
    t9_draws: int
    t11_depth: int
    t10_width: int
    epochs: int  # digits epochs per method
    seeds: tuple[int, ...]
    train_subset: int  # digits training samples used (0: all)


FULL = Scale("full", 3000, 4000, 20000, (32, 64, 128, 256, 512), 40, 32, 256, 30, (0, 1, 2), 0)
QUICK = Scale("quick", 600, 1000, 4000, (32, 64, 128, 256), 8, 16, 128, 4, (0, 1, 2), 600)


def verdict(ok: bool, claimed: bool) -> str:
    """reproduced / not reproduced when the paper claims it, else not claimed."""
    if not claimed:
        return NOT_CLAIMED
    return REPRODUCED if ok else NOT_REPRODUCED


def check(ok: bool) -> str:
    return "pass" if ok else "fail"


def sci(value: float, digits: int = 2) -> str:
    """A number for a table: scientific notation, or 0."""
    return "0" if value == 0 else f"{value:.{digits}e}"
