"""The crossbar's IR-drop model against closed forms, an independent dense nodal solve, and reciprocity."""

from __future__ import annotations

import numpy as np
import pytest

from wavetrain.circuits.irdrop import Crossbar, conductances, dense_read, weights
from wavetrain.errors import CircuitError

G_MIN, G_MAX, W_MAX = 1e-6, 1e-4, 1.0


def _random_pair(rng: np.random.Generator, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-1, 1, (n_out, n_in)), rng.uniform(-1, 1, n_out)


def _dense_reference(G: np.ndarray, r_row: float, r_col: float, drive: np.ndarray, direction: str) -> np.ndarray:
    """Kirchhoff's current law written out node by node (both resistances > 0), solved densely: the sensed currents."""
    nrow, ncol = G.shape
    R = {(i, k): n for n, (i, k) in enumerate((i, k) for i in range(nrow) for k in range(ncol))}
    C = {(i, k): len(R) + n for n, (i, k) in enumerate((i, k) for i in range(nrow) for k in range(ncol))}
    n = 2 * nrow * ncol
    A, rhs = np.zeros((n, n)), np.zeros(n)
    d = drive if direction == "forward" else np.zeros(nrow)  # volts at the row ends D_i
    s = drive if direction == "transpose" else np.zeros(ncol)  # volts at the column ends S_k

    def couple(a: int, b: int | None, g: float, fixed: float = 0.0) -> None:
        A[a, a] += g
        if b is None:
            rhs[a] += g * fixed
        else:
            A[a, b] -= g

    for i in range(nrow):
        for k in range(ncol):
            r, c = R[i, k], C[i, k]
            couple(r, c, G[i, k])
            couple(c, r, G[i, k])
            if k == 0:
                couple(r, None, 1 / r_row, d[i])
            else:
                couple(r, R[i, k - 1], 1 / r_row)
            if k < ncol - 1:
                couple(r, R[i, k + 1], 1 / r_row)
            if i > 0:
                couple(c, C[i - 1, k], 1 / r_col)
            if i < nrow - 1:
                couple(c, C[i + 1, k], 1 / r_col)
            else:
                couple(c, None, 1 / r_col, s[k])
    V = np.linalg.solve(A, rhs)
    if direction == "forward":  # into S_k through the last column segment
        return np.array([(V[C[nrow - 1, k]] - s[k]) / r_col for k in range(ncol)])
    return np.array([(V[R[i, 0]] - d[i]) / r_row for i in range(nrow)])


def test_the_ideal_array_holds_w_and_b_exactly() -> None:
    rng = np.random.default_rng(0)
    W, b = _random_pair(rng, 5, 7)
    x = rng.normal(size=(4, 7))
    y = dense_read(W, b, x, G_MIN, G_MAX, W_MAX)
    assert np.max(np.abs(y - (x @ W.T + b))) < 1e-12
    W2, b2 = weights(conductances(W, b, G_MIN, G_MAX, W_MAX), G_MIN, G_MAX, W_MAX)
    assert np.max(np.abs(W2 - W)) < 1e-12 and np.max(np.abs(b2 - b)) < 1e-12
    gs = (G_MAX - G_MIN) / W_MAX
    G = conductances(W, b, G_MIN, G_MAX, W_MAX)
    delta = rng.normal(size=(3, 5))
    u = np.repeat(delta, 2, axis=1) * np.tile([1.0, -1.0], 5)  # S_2j at +delta_j, S_2j+1 at -delta_j
    z = Crossbar(G).transpose(u) / gs
    assert np.max(np.abs(z[:, :7] - delta @ W)) < 1e-12
    assert np.max(np.abs(z[:, 7] - delta @ b)) < 1e-12


def test_one_cell_is_three_resistors_in_series() -> None:
    g, r_row, r_col, v = 5e-5, 300.0, 700.0, 0.3
    expected = v / (r_row + 1 / g + r_col)
    bar = Crossbar([[g]], r_row, r_col)
    assert bar.forward([v])[0] == pytest.approx(expected, rel=1e-12)
    assert bar.transpose([v])[0] == pytest.approx(expected, rel=1e-12)


def test_one_row_of_two_cells_is_a_ladder() -> None:
    g0, g1, r, v = 2e-3, 5e-3, 50.0, 1.0  # no column resistance: both sense ends at 0 V sit at the cells
    z1 = r + 1 / g1
    y0 = g0 + 1 / z1
    v0 = v * (1 / y0) / (r + 1 / y0)
    v1 = v0 * (1 / g1) / z1
    current = Crossbar([[g0, g1]], r_row=r).forward([v])
    assert current == pytest.approx([g0 * v0, g1 * v1], rel=1e-12)
    R, C = Crossbar([[g0, g1]], r_row=r).node_voltages([v])
    assert R[0] == pytest.approx([v0, v1], rel=1e-12) and np.all(C == 0)


@pytest.mark.parametrize("direction", ["forward", "transpose"])
def test_the_nodal_solve_equals_kirchhoff_written_out(direction: str) -> None:
    rng = np.random.default_rng(1)
    W, b = _random_pair(rng, 3, 4)
    G = conductances(W, b, G_MIN, G_MAX, W_MAX)
    bar = Crossbar(G, r_row=120.0, r_col=80.0)
    drive = rng.normal(size=G.shape[0] if direction == "forward" else G.shape[1])
    got = bar.forward(drive) if direction == "forward" else bar.transpose(drive)
    expected = _dense_reference(G, 120.0, 80.0, drive, direction)
    assert np.max(np.abs(got - expected)) <= 1e-12 * np.max(np.abs(expected))


def test_reciprocity_the_transpose_read_is_the_transpose_of_the_forward_map() -> None:
    rng = np.random.default_rng(2)
    W, b = _random_pair(rng, 16, 31)
    bar = Crossbar(conductances(W, b, G_MIN, G_MAX, W_MAX), r_row=400.0, r_col=250.0)
    v, u = rng.normal(size=(6, 32)), rng.normal(size=(6, 32))
    M = bar.effective()
    assert np.max(np.abs(bar.forward(v) - v @ M.T)) <= 1e-12 * np.max(np.abs(M))
    # NOTE: M came from forward solves; the transpose read is a separate solve with the other ends driven
    assert np.max(np.abs(bar.transpose(u) - u @ M)) <= 1e-12 * np.max(np.abs(M)) * 32


@pytest.mark.parametrize("shape", [(16, 31), (3, 40)])
def test_the_effective_matrix_from_either_side_is_the_forward_map(shape: tuple[int, int]) -> None:
    """effective() solves on the smaller side (rows for 16 x 31, the 6 columns of 3 x 40): the forward reads agree."""
    rng = np.random.default_rng(3)
    W, b = _random_pair(rng, *shape)
    bar = Crossbar(conductances(W, b, G_MIN, G_MAX, W_MAX), r_row=300.0, r_col=200.0)
    v = rng.normal(size=(5, shape[1] + 1))
    assert np.max(np.abs(bar.forward(v) - v @ bar.effective().T)) <= 1e-12 * np.max(np.abs(bar.forward(v)))


def test_a_batch_solved_in_chunks_equals_each_read_alone() -> None:
    """Reads are solved a few right-hand sides at a time: a batch of 11 (not a multiple of the chunk) row by row."""
    rng = np.random.default_rng(4)
    W, b = _random_pair(rng, 5, 7)
    bar = Crossbar(conductances(W, b, G_MIN, G_MAX, W_MAX), r_row=150.0, r_col=60.0)
    v, u = rng.normal(size=(11, 8)), rng.normal(size=(11, 10))
    assert np.max(np.abs(bar.forward(v) - np.stack([bar.forward(row) for row in v]))) <= 1e-12 * np.max(
        np.abs(bar.forward(v))
    )
    assert np.max(np.abs(bar.transpose(u) - np.stack([bar.transpose(row) for row in u]))) <= 1e-12 * np.max(
        np.abs(bar.transpose(u))
    )


def test_ir_drop_lowers_every_current_and_vanishes_with_the_wires() -> None:
    rng = np.random.default_rng(3)
    G = rng.uniform(G_MIN, G_MAX, (33, 32))
    v = rng.uniform(0, 0.2, 33)
    ideal = Crossbar(G).forward(v)
    currents = [Crossbar(G, r, r).forward(v) for r in (1.0, 0.1, 1e-6)]
    assert np.all(currents[0] < currents[1]) and np.all(currents[1] < ideal)
    # r g n^2 = 0.1 at 1 ohm: first order in r, so the error shrinks 10x per decade
    error = [np.max(np.abs(c - ideal)) / np.max(ideal) for c in currents]
    assert 8 < error[0] / error[1] < 12 and error[2] < 1e-6


def test_bad_arrays_and_settings_are_refused_naming_them() -> None:
    with pytest.raises(CircuitError, match="w_max"):
        conductances([[2.0]], [0.0], G_MIN, G_MAX, W_MAX)
    with pytest.raises(CircuitError, match="g_max must exceed g_min"):
        conductances([[0.1]], [0.0], 1e-4, 1e-5, W_MAX)
    with pytest.raises(CircuitError, match=">= 0 S"):
        Crossbar([[-1e-5]])
    with pytest.raises(CircuitError, match="r_row"):
        Crossbar([[1e-5]], r_row=-1.0)
    with pytest.raises(CircuitError, match="axis of 1"):
        Crossbar([[1e-5, 1e-5]], 1.0, 1.0).forward(np.ones(2))
    with pytest.raises(CircuitError, match="bias must have shape"):
        conductances(np.zeros((2, 3)), np.zeros(3), G_MIN, G_MAX, W_MAX)
