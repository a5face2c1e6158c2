"""Values the reproduction report is made of: a measured row, a section per target, the run's scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

REPRODUCED, NOT_REPRODUCED, NOT_CLAIMED = "reproduced", "not reproduced", "not claimed"
INCONCLUSIVE = "inconclusive"  # the interval neither supports nor rules out the claim
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_CLAIMED)


@dataclass(frozen=True)
class Row:
    """One measured number beside the paper's claim, the spec's expectation and the verdicts."""

    quantity: str
    measured: str
    claim: str  # what the source paper claims ("-" when it claims nothing about this)
    expected: str  # what docs/physics.md derives or checked
    verdict: str  # reproduced / not reproduced / inconclusive (against the claim) or not claimed
    check: str = ""  # pass / fail against our own derivation (docs/physics.md), never the paper's

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")


@dataclass(frozen=True)
class Section:
    """The report section of one target: rows, plot file names (relative to the report) and a note."""

    target: str
    title: str
    rows: tuple[Row, ...]
    plots: tuple[str, ...] = ()
    note: str = ""
    sources: tuple[str, str, str] = ("", "", "")  # what the paper printed, what the seed summary says, our derivation


@dataclass(frozen=True)
class Scale:
    """Sizes of one reproduction run; ``QUICK`` took 39 s of CPU on the project's 2-core machine."""

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
    t9_seeds: tuple[int, ...] = (0, 1, 2)  # T9 on MNIST-1D: seeds, epochs, AdamW lr, W-perp ranks
    t9_epochs: int = 3
    t9_lr: float = 1e-2
    t9_train_subset: int = 0  # MNIST-1D training samples used (0: all 4000)
    t9_ks: tuple[int, ...] = (1, 2, 5, 10, 20, 50)
    t9_widths: tuple[int, ...] = (64, 128, 256)  # widths of the signed-cosine probe at init
    t9_width_samples: int = 128
    t9_paper_results: bool = True  # read OUT/t9_paper (runs at the authors' schedule) when it holds any
    t11_depths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)  # T11 deep linear residual nets
    t11_seeds: tuple[int, ...] = (0, 1, 2)
    t7_ticks: int = 1000  # XOR learning circuit, ticks at eta tick = 0.05
    t4_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    t7_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # T7 energy identity: toy seeds, etas (equal flow time), depths
    t7_etas: tuple[float, ...] = (0.002, 0.005, 0.01, 0.02)
    t7_depths: tuple[int, ...] = (2, 3, 4, 5, 7)
    t7_depth_eta: float = 0.005
    graph_dags: int = 60  # T14 random DAGs
    cnn_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # T15 MNIST-1D CNN / MLP / LeNet seeds, epochs, training subset
    cnn_epochs: int = 40
    cnn_subset: int = 0
    cnn_check_epochs: int = 5  # float64 dyadic vs a PyTorch loop
    lenet_epochs: int = 30
    res_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # T16 residual MPC
    res_epochs: int = 30
    graph_claims: bool = True  # check T15's accuracy thresholds (they hold at the full size only)


FULL = Scale("full", 3000, 4000, 20000, (32, 64, 128, 256, 512), 40, 32, 256, 30, (0, 1, 2), 0)
QUICK = Scale(
    "quick",
    600,
    1000,
    4000,
    (32, 64, 128, 256),
    8,
    16,
    128,
    4,
    (0, 1, 2),
    600,
    t9_seeds=(0, 1),
    t9_epochs=1,
    t9_train_subset=1024,
    t9_ks=(10,),
    t9_widths=(64, 128),
    t9_width_samples=64,
    t9_paper_results=False,
    t11_depths=(32, 64, 128),
    t11_seeds=(0, 1),
    t7_ticks=400,
    t4_seeds=(0, 1, 2),
    t7_seeds=(0, 1, 2),
    t7_etas=(0.005, 0.01, 0.02),
    t7_depths=(2, 4),
    t7_depth_eta=0.01,
    graph_dags=12,
    cnn_seeds=(0, 1, 2),
    cnn_epochs=10,
    cnn_check_epochs=1,
    lenet_epochs=10,
    res_seeds=(0, 1, 2),
    res_epochs=4,
    graph_claims=False,
)


def verdict(ok: bool, claimed: bool) -> str:
    """reproduced / not reproduced when the paper claims it, else not claimed."""
    if not claimed:
        return NOT_CLAIMED
    return REPRODUCED if ok else NOT_REPRODUCED


def verdict_ci(supported: bool, contradicted: bool) -> str:
    """reproduced when the interval supports the claim, not reproduced when it rules it out, else inconclusive."""
    if supported:
        return REPRODUCED
    return NOT_REPRODUCED if contradicted else INCONCLUSIVE


def check(ok: bool) -> str:
    return "pass" if ok else "fail"


def sci(value: float, digits: int = 2) -> str:
    """A number for a table: scientific notation, or 0."""
    return "0" if value == 0 else f"{value:.{digits}e}"


def interval(values: Any, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean over seeds (a single value gives an infinite interval)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("-inf"), float("inf")
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half
