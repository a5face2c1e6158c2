"""The resistive crossbar of one dense junction, with the resistance of its wires (IR drop): conductances and two reads.

A dense junction y = W x + b (W of shape (n_out, n_in)) is one array of conductances. Rows i = 0..n_in-1 carry the
inputs; one extra row, the last (i = n_in), carries the bias and is driven at the full read voltage. Columns come in
differential pairs: column 2j holds G+ and column 2j+1 holds G- of output j, so nrow = n_in + 1 and ncol = 2 n_out.
The mapping (:func:`conductances`) is G+ = g_min + gs max(w, 0), G- = g_min + gs max(-w, 0), gs = (g_max - g_min)/w_max,
so G+ - G- = gs w and g_min cancels in every pair.

Wires. Row i runs from its driver end D_i through one segment r_row to node R[i,0], then r_row to R[i,1], ... up to
R[i, ncol-1]; column k runs from C[0,k] through r_col to C[1,k], ..., C[nrow-1,k], then one more r_col to its sense end
S_k. The device of cell (i,k) joins R[i,k] and C[i,k]. r_row = r_col = 0 is the ideal crossbar.

Reads. Forward (the forward wave): D_i at v_i, every S_k held at 0 V by its transimpedance amplifier; the sensed current
is the one flowing from the array into S_k. Transpose (the backward wave crossing the same array the other way): S_k at
u_k, every D_i held at 0 V; the sensed current flows into D_i. Driving S_2j at +delta_j and S_2j+1 at -delta_j reads
W^T delta on the rows.

Reciprocity. With wires the array is still a linear passive network, so with every driven end a Dirichlet node its
Dirichlet-to-Neumann map K (the Schur complement of the Laplacian onto the ends) is symmetric. The forward read is
I = M v with M = -K[S, D] and the transpose read is I = M^T u: the backward wave computes exactly the transpose of the
map the array really implements, and the gradient the waves read is the exact gradient of the network with W_eff (see
:meth:`Crossbar.effective`); against the ideal gradient its error is the weight distortion alone.

Everything is SI: S, ohm, V, A. The topology is the one the crossbar netlists use (docs/circuits.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wavetrain.compiler.validate import number, real_array
from wavetrain.errors import CircuitError

__all__ = ["Crossbar", "conductances", "dense_read", "weights"]

_CHUNK = 4  # right-hand sides per SuperLU solve (see Crossbar._solve)


def _real(value: Any, name: str, low: float, open_low: bool = False) -> float:
    return float(number(value, f"crossbar: {name}", low=low, low_open=open_low, error=CircuitError))


def _array(value: Any, name: str, ndim: int) -> np.ndarray:
    array = real_array(value, f"crossbar: {name}", CircuitError)
    if array.ndim != ndim:
        raise CircuitError(f"crossbar: {name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise CircuitError(f"crossbar: {name} must be finite, got {array[~np.isfinite(array)].flat[0]}")
    return array


def _scale(g_min: float, g_max: float, w_max: float) -> float:
    g_min = _real(g_min, "g_min", 0.0)
    g_max = _real(g_max, "g_max", 0.0, open_low=True)
    w_max = _real(w_max, "w_max", 0.0, open_low=True)
    if g_max <= g_min:
        raise CircuitError(f"crossbar: g_max must exceed g_min, got g_min {g_min!r} S and g_max {g_max!r} S")
    return (g_max - g_min) / w_max


def conductances(weight: Any, bias: Any, g_min: float, g_max: float, w_max: float) -> np.ndarray:
    """The conductances (S), shape (n_in + 1, 2 n_out), holding W (n_out, n_in) and b (n_out,) as differential pairs."""
    gs = _scale(g_min, g_max, w_max)
    w = _array(weight, "weight", 2)
    b = _array(bias, "bias", 1)
    if b.shape != (w.shape[0],):
        raise CircuitError(f"crossbar: bias must have shape ({w.shape[0]},) for weight {w.shape}, got {b.shape}")
    signed = np.vstack([w.T, b[None, :]])  # (nrow, n_out): one row per input, the bias row last
    worst = float(np.max(np.abs(signed))) if signed.size else 0.0
    if worst > w_max:
        raise CircuitError(
            f"crossbar: a weight of magnitude {worst:.6g} exceeds w_max {w_max:.6g} "
            "(the largest weight the range g_max - g_min holds)"
        )
    G = np.empty((signed.shape[0], 2 * signed.shape[1]))
    G[:, 0::2] = g_min + gs * np.maximum(signed, 0.0)
    G[:, 1::2] = g_min + gs * np.maximum(-signed, 0.0)
    return G


def weights(G: Any, g_min: float, g_max: float, w_max: float) -> tuple[np.ndarray, np.ndarray]:
    """The (W, b) an ideal array of conductances G holds: the inverse of :func:`conductances`."""
    gs = _scale(g_min, g_max, w_max)
    G = _array(G, "G", 2)
    if G.shape[1] % 2 or G.shape[0] < 1:
        raise CircuitError(f"crossbar: G must have a bias row and an even number of columns, got shape {G.shape}")
    signed = (G[:, 0::2] - G[:, 1::2]) / gs
    return np.ascontiguousarray(signed[:-1].T), signed[-1].copy()


class Crossbar:
    """One conductance state of the array with wire resistance r_row, r_col (ohm per segment), factorised once.

    ``forward(v)``: volts at the row ends D (..., nrow) -> amperes into the column ends S (..., ncol).
    ``transpose(u)``: volts at S (..., ncol) -> amperes into D (..., nrow). ``effective()`` is the matrix M (ncol, nrow)
    of both: forward(v) = v @ M.T and transpose(u) = u @ M. With both resistances 0, M = G.T and no solve is done.
    """

    def __init__(self, G: Any, r_row: float = 0.0, r_col: float = 0.0) -> None:
        self.G = _array(G, "G", 2).copy()
        if self.G.size == 0:
            raise CircuitError(f"crossbar: G must hold at least one device, got shape {self.G.shape}")
        if np.any(self.G < 0):
            raise CircuitError(f"crossbar: conductances must be >= 0 S, got {self.G[self.G < 0].flat[0]!r}")
        self.G.setflags(write=False)
        self.r_row = _real(r_row, "r_row", 0.0)
        self.r_col = _real(r_col, "r_col", 0.0)
        self.nrow, self.ncol = self.G.shape
        self._M: np.ndarray | None = None
        if self.ideal:
            return
        self._build()

    @property
    def ideal(self) -> bool:
        return self.r_row == 0.0 and self.r_col == 0.0

    def __repr__(self) -> str:
        return f"Crossbar({self.nrow}x{self.ncol}, r_row={self.r_row:g} ohm, r_col={self.r_col:g} ohm)"

    # --- the nodal system --------------------------------------------------------------------------------------------

    def _build(self) -> None:
        """Laplacian of the array; interior nodes first, then the row ends D_i, then the column ends S_k."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.linalg import splu

        nrow, ncol = self.nrow, self.ncol
        cells = nrow * ncol
        n_r = cells if self.r_row > 0 else 0  # R[i,k] interior only when the rows have resistance
        n_c = cells if self.r_col > 0 else 0
        n_int = n_r + n_c
        d0, s0 = n_int, n_int + nrow
        grid = np.arange(cells).reshape(nrow, ncol)
        rows = np.broadcast_to(np.arange(nrow)[:, None], (nrow, ncol))
        cols = np.broadcast_to(np.arange(ncol)[None, :], (nrow, ncol))
        r_node = grid if n_r else d0 + rows  # without row resistance every R[i,k] is D_i
        c_node = n_r + grid if n_c else s0 + cols  # without column resistance every C[i,k] is S_k
        a, b, g = [r_node.ravel()], [c_node.ravel()], [self.G.ravel()]
        if n_r:
            a += [d0 + np.arange(nrow), r_node[:, :-1].ravel()]
            b += [r_node[:, 0], r_node[:, 1:].ravel()]
            g += [np.full(nrow + nrow * (ncol - 1), 1.0 / self.r_row)]
        if n_c:
            a += [c_node[:-1, :].ravel(), c_node[-1, :]]
            b += [c_node[1:, :].ravel(), s0 + np.arange(ncol)]
            g += [np.full(ncol * (nrow - 1) + ncol, 1.0 / self.r_col)]
        i, j, w = np.concatenate(a), np.concatenate(b), np.concatenate(g)
        n = n_int + nrow + ncol
        # NOTE: L = sum over edges of w (e_i - e_j)(e_i - e_j)^T; coo sums the duplicates
        L = coo_matrix(
            (np.concatenate([w, w, -w, -w]), (np.concatenate([i, j, i, j]), np.concatenate([i, j, j, i]))), shape=(n, n)
        ).tocsc()
        self._n_int = n_int
        self._L_ib = L[:n_int, n_int:].tocsc()
        self._L_bi = L[n_int:, :n_int].tocsr()
        self._L_bb = L[n_int:, n_int:].toarray()
        # NOTE: L is symmetric positive definite on the interior; minimum degree on A^T + A fills 25 % less than COLAMD
        self._lu = splu(L[:n_int, :n_int].tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        self._r_node, self._c_node = r_node, c_node

    def _solve(self, v_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interior potentials u (batch, n_int) and the currents the sources inject at the ends (batch, nrow + ncol)."""
        # NOTE: SuperLU wants Fortran-ordered right-hand sides (4.6x faster than the C-ordered ones it copies, 129
        # columns on 5160 nodes) and slows down past a few at once: 65 columns on 33,280 nodes take 3.8 s in one call,
        # 0.25 s in calls of _CHUNK (measured at load 8.7: 1 at a time 0.35 s, 8 at a time 0.92 s)
        rhs = -(self._L_ib @ v_b.T)
        u = np.empty((rhs.shape[0], rhs.shape[1]))
        for first in range(0, rhs.shape[1], _CHUNK):
            block = slice(first, first + _CHUNK)
            u[:, block] = self._lu.solve(np.asfortranarray(rhs[:, block], dtype=np.float64))
        injected = v_b @ self._L_bb.T + (self._L_bi @ u).T
        return u.T, injected

    def _ends(self, values: np.ndarray, direction: str) -> np.ndarray:
        batch = values.reshape(-1, values.shape[-1])
        v_b = np.zeros((batch.shape[0], self.nrow + self.ncol))
        if direction == "forward":
            v_b[:, : self.nrow] = batch
        else:
            v_b[:, self.nrow :] = batch
        return v_b

    def _check(self, values: Any, width: int, name: str) -> np.ndarray:
        array = real_array(values, f"crossbar: {name}", CircuitError)
        if array.ndim < 1 or array.shape[-1] != width:
            raise CircuitError(f"crossbar: {name} must end in an axis of {width}, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise CircuitError(f"crossbar: {name} must be finite")
        return array

    # --- the two reads -----------------------------------------------------------------------------------------------

    def forward(self, v: Any) -> np.ndarray:
        """Amperes into each column's sense end, the row ends at ``v`` volts (..., nrow) and every sense end at 0 V."""
        v = self._check(v, self.nrow, "row voltages")
        if self.ideal:
            return v @ self.G
        _, injected = self._solve(self._ends(v, "forward"))
        return (-injected[:, self.nrow :]).reshape(*v.shape[:-1], self.ncol)

    def transpose(self, u: Any) -> np.ndarray:
        """Amperes into each row's end, the column sense ends at ``u`` volts (..., ncol) and every row end at 0 V."""
        u = self._check(u, self.ncol, "column voltages")
        if self.ideal:
            return u @ self.G.T
        _, injected = self._solve(self._ends(u, "transpose"))
        return (-injected[:, : self.nrow]).reshape(*u.shape[:-1], self.nrow)

    def effective(self) -> np.ndarray:
        """M (ncol, nrow): forward(v) = v @ M.T and, by reciprocity, transpose(u) = u @ M. Read-only, computed once,
        from min(nrow, ncol) solves (the forward reads of the rows' unit drives, or the transpose reads of the
        columns')."""
        if self._M is None:
            if self.ideal:
                M = self.G.T.copy()
            elif self.ncol < self.nrow:  # NOTE: by reciprocity M = transpose(I): one solve per end of the smaller side
                M = self.transpose(np.eye(self.ncol)).copy()
            else:
                M = self.forward(np.eye(self.nrow)).T.copy()
            M.setflags(write=False)
            self._M = M
        return self._M

    def node_voltages(self, values: Any, direction: str = "forward") -> tuple[np.ndarray, np.ndarray]:
        """The voltages (R, C), each (nrow, ncol), of one read: ``values`` at D (forward) or at S (transpose)."""
        if direction not in ("forward", "transpose"):
            raise CircuitError(f"crossbar: direction must be 'forward' or 'transpose', got {direction!r}")
        width = self.nrow if direction == "forward" else self.ncol
        values = self._check(values, width, "drive voltages")
        if values.ndim != 1:
            raise CircuitError(f"crossbar: node_voltages reads one drive vector, got shape {values.shape}")
        v_b = self._ends(values, direction)[0]
        if self.ideal:
            R = np.broadcast_to(v_b[: self.nrow, None], self.G.shape).copy()
            C = np.broadcast_to(v_b[None, self.nrow :], self.G.shape).copy()
            return R, C
        u, _ = self._solve(v_b[None, :])
        potentials = np.concatenate([u[0], v_b])
        return potentials[self._r_node], potentials[self._c_node]


def dense_read(
    weight: Any,
    bias: Any,
    x: Any,
    g_min: float,
    g_max: float,
    w_max: float,
    r_row: float = 0.0,
    r_col: float = 0.0,
    v_read: float = 0.2,
) -> np.ndarray:
    """y (..., n_out) that a crossbar holding (W, b) reads from inputs x (..., n_in): the differential forward read."""
    v_read = _real(v_read, "v_read", 0.0, open_low=True)
    gs = _scale(g_min, g_max, w_max)
    G = conductances(weight, bias, g_min, g_max, w_max)
    x = np.asarray(x, dtype=np.float64)
    v = v_read * np.concatenate([x, np.ones((*x.shape[:-1], 1))], axis=-1)
    current = Crossbar(G, r_row, r_col).forward(v)
    return (current[..., 0::2] - current[..., 1::2]) / (gs * v_read)
