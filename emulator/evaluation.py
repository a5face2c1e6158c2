"""Scoring a machine on a data split: the one evaluation loop of the emulator, the chip run, Lava and Network.evaluate.

The forward wave runs in chunks of rows (the cells on the machine's substrate, or on the ideal substrate the fused
BLAS forward of emulator/fused.py); the per-sample loss is summed in float64 and the argmax compared with integer
labels, per chip when the substrate has a chip axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wavetrain.compiler.functions import Array
from wavetrain.emulator import cells, fused
from wavetrain.emulator.cells import Machine

CHUNK = 4096  # rows per forward pass


@dataclass(frozen=True)
class Scores:
    """Mean loss and accuracy (NaN for targets that are not labels), pooled over the chips and per chip."""

    loss: float
    accuracy: float
    chip_loss: np.ndarray  # (chips,), or (1,) without a chip axis
    chip_accuracy: np.ndarray


def evaluate(m: Machine, x: Array, y: Any, chunk: int = CHUNK, fast: bool = True) -> Scores:
    """Score the machine's forward wave on ``x`` against ``y`` (labels or 2-D targets), ``chunk`` rows at a time.

    ``fast``: on the ideal substrate take the fused forward (one buffer per layer; equal to the cells' forward up to
    BLAS rounding) where it applies.
    """
    y = np.asarray(y)
    t = m.network.targets(y, len(x)).astype(x.dtype, copy=False)
    # NOTE: the fused forward (BLAS, one buffer per layer) where the light cone's fused step applies, not three
    # fresh multi-megabyte temporaries per layer and chunk (each one page-faulted anew with glibc's default trimming)
    chain = m.chain() if m.graph.is_dense_chain else None
    quick = fast and m.substrate.ideal and chain is not None and fused.supports(*chain, x[:1], t[:1], None)
    totals, hits, rows = None, None, 0
    for first in range(0, len(x), chunk):
        part = x[first : first + chunk]
        if quick and chain is not None:
            out = fused.forward(chain[0], chain[1], part)
        else:
            out = cells.output(m, cells.forward_sweep(m, part).s[m.graph.output])
        cost = cells.cost(m, out, t[first : first + chunk])  # (chips.., rows)
        lead = cost.reshape(-1, cost.shape[-1])
        total = lead.sum(axis=-1, dtype=np.float64)
        totals = total if totals is None else totals + total
        if y.ndim == 1:
            right = np.count_nonzero(np.argmax(out, axis=-1) == y[first : first + chunk], axis=-1)
            right = np.asarray(right).reshape(-1)
            hits = right if hits is None else hits + right
        rows += cost.shape[-1]
    if totals is None:
        totals = np.zeros(1)
    rows = max(rows, 1)
    chip_loss = totals / rows
    chip_accuracy = hits / rows if hits is not None else np.full(len(chip_loss), np.nan)
    pooled = float(totals.sum()) / (rows * len(totals))
    accuracy = float(hits.sum()) / (rows * len(hits)) if hits is not None else float("nan")
    return Scores(pooled, accuracy, chip_loss, chip_accuracy)
