"""SPICE cards of the crossbar level: one array per read and sample, built of linear elements where the device is.

A :class:`~wavetrain.circuits.crossbar.Crossbar` of n_in inputs and n_out outputs writes, per sample b, the forward
read (prefix ``xf``) and, unless it is the first layer, the transpose read (prefix ``xt``): the same conductances in the
same topology (circuits/irdrop.py), driven from the other side. Nodes of read p, sample b, element e:

  {p}d{b}_{i}_{e}        row end D_i (i = n_in: the bias row)
  {p}s{b}_{k}_{e}        column sense end S_k
  {p}r{b}_{i}_{k}_{e}    row node R[i,k] (only with r_row > 0; else R[i,k] = D_i)
  {p}c{b}_{i}_{k}_{e}    column node C[i,k] (only with r_col > 0; else C[i,k] = S_k)

Cards (all linear; a user device is an X instance of its subcircuit instead of the R):

  device     R{p}{b}_{i}_{k}_{e} R[i,k] C[i,k] 1/G[i,k]   (or X... R[i,k] C[i,k] subckt g=G[i,k])
  wires      R{p}h{b}_{i}_{k}_{e} (row segment into R[i,k]), R{p}v{b}_{i}_{k}_{e} (column segment out of C[i,k])
  drivers    E (VCVS of gain +-v_read from the signal net; the bias row from the enable node), through
             R{p}e... of r_driver when it is > 0
  ideal TIA  V{p}{b}_{k}_{e} S_k 0 0 (virtual ground, the current sensed where it flows), read by CCVS H cards of
             transresistance 1 / (gs v_read); a differential pair is two H in series (v = k I+ - k I-)
  vcvs TIA   E{p}o... (gain -A from S_k) with R{p}f... of Rf = 1/gs from its output O_k back to S_k, and one
             difference E card per output, gain 1 / (Rf gs v_read) on O_{2j+1} - O_{2j}

Learning circuit (a ResistivePort or InductivePort on the crossbar): every device is a B card whose conductance is
set by its weight's state capacitor, I = (g_min + gs max(+-V(w), 0)) (V(R) - V(C)), a memristive cell; both reads see
the one state, and the port charges it with the gradient current as on the behavioural level.

Why the ideal TIA is a 0 V source and not a high-gain VCVS: it holds S_k at exactly 0 V and its branch current is the
sensed current itself (an MNA unknown), so the read is exact to the solver's rounding and adds no pole or gain error;
a VCVS of gain A leaves the virtual ground at -v_out / A, which the "vcvs" option models on purpose.
"""

from __future__ import annotations

from typing import Any, Callable

from wavetrain.circuits.circuit import Circuit
from wavetrain.circuits.crossbar import Crossbar
from wavetrain.circuits.netlist import Context, node, num, si
from wavetrain.errors import NetlistError

__all__ = ["CROSSBAR_CARDS", "crossbar_preamble"]


def crossbar_preamble(circuit: Circuit) -> list[str]:
    """One ``.include`` per distinct device model file of the circuit's crossbars, by its bare (validated) name."""
    files: list[str] = []
    for e in circuit.of_type(Crossbar):
        if e.device is not None and e.device.file_name is not None and e.device.file_name not in files:
            files.append(e.device.file_name)
    return [f".include {name}" for name in files]


def _tia(e: Crossbar, p: str, b: int, k: int, sense: str) -> tuple[list[str], str]:
    """The sense amplifier of end ``sense``: its cards and what its output is (a V source name, or a node)."""
    tag = f"{p}{b}_{k}_{e.name}"
    if e.tia == "ideal":
        return [f"V{tag} {sense} 0 0"], f"V{tag}"
    out = f"{p}o{b}_{k}_{e.name}"
    return [f"E{p}o{b}_{k}_{e.name} {out} 0 0 {sense} {num(e.tia_gain)}", f"R{p}f{b}_{k}_{e.name} {sense} {out} "
            f"{si(1.0 / e.gs)}"], out  # fmt: skip


def _output(e: Crossbar, p: str, b: int, j: int, net_node: str, plus: str, minus: str | None) -> list[str]:
    """v(net_node) = (I(plus) - I(minus)) / (gs v_read) from two TIA outputs (minus None: one column)."""
    scale = 1.0 / (e.gs * e.v_read)
    tag = f"{b}_{j}_{e.name}"
    if e.tia == "ideal":
        if minus is None:
            return [f"H{p}p{tag} {net_node} 0 {plus} {si(scale)}"]
        mid = f"{p}m{tag}"
        return [f"H{p}p{tag} {net_node} {mid} {plus} {si(scale)}", f"H{p}q{tag} {mid} 0 {minus} {si(-scale)}"]
    # NOTE: a vcvs TIA's output is O = -Rf I, so I+ - I- = (O- - O+) / Rf; with Rf = 1/gs the gain is 1 / v_read
    gain = num(scale * e.gs)
    if minus is None:
        return [f"E{p}y{tag} {net_node} 0 0 {plus} {gain}"]
    return [f"E{p}y{tag} {net_node} 0 {minus} {plus} {gain}"]


def _driver(e: Crossbar, p: str, b: int, k: int, end: str, control: str, gain: float) -> list[str]:
    """A DAC: end = gain * V(control), ideal or through r_driver."""
    tag = f"{p}{b}_{k}_{e.name}"
    if e.r_driver == 0:
        return [f"E{tag} {end} 0 {control} 0 {num(gain)}"]
    inner = f"{p}e{b}_{k}_{e.name}"
    return [f"E{tag} {inner} 0 {control} 0 {num(gain)}", f"R{p}e{b}_{k}_{e.name} {inner} {end} {si(e.r_driver)}"]


def _state(e: Crossbar, port: str, i: int, k: int) -> str:
    """The conductance of cell (i, k) [S] as an expression of its weight's state capacitor V(w{j}_{i}_{port})."""
    n_in = e.shape[1]
    j = k // 2
    w = f"V(w{j}_{i}_{port})" if i < n_in else f"V(c{j}_{port})"
    signed = w if k % 2 == 0 else f"-{w}"
    return f"({num(e.g_min)} + {num(e.gs)}*max({signed}, 0))"


def _array(e: Crossbar, p: str, b: int, port: str | None = None) -> list[str]:
    """The devices and wires of one read: every cell between R[i,k] and C[i,k], the segments of the irdrop topology.
    In the learning circuit (``port``: the learning port's name) every device is a memristive cell, a conductance
    set by its weight's state capacitor: G+ = g_min + gs max(w, 0), G- = g_min + gs max(-w, 0)."""
    G = e.conductances
    nrow, ncol = G.shape
    name = e.name

    def end_d(i: int) -> str:
        return f"{p}d{b}_{i}_{name}"

    def end_s(k: int) -> str:
        return f"{p}s{b}_{k}_{name}"

    row: Callable[[int, int], str] = (
        (lambda i, k: f"{p}r{b}_{i}_{k}_{name}") if e.r_row > 0 else (lambda i, k: end_d(i))
    )
    col: Callable[[int, int], str] = (
        (lambda i, k: f"{p}c{b}_{i}_{k}_{name}") if e.r_col > 0 else (lambda i, k: end_s(k))
    )
    cards = []
    for i in range(nrow):
        for k in range(ncol):
            tag = f"{p}{b}_{i}_{k}_{name}"
            if port is not None:
                state = _state(e, port, i, k)
                cards.append(f"B{tag} {row(i, k)} {col(i, k)} I={state}*(V({row(i, k)}) - V({col(i, k)}))")
            elif e.device is None:
                cards.append(f"R{tag} {row(i, k)} {col(i, k)} {si(1.0 / G[i, k])}")
            else:
                cards.append(f"X{tag} {row(i, k)} {col(i, k)} {e.device.subckt} g={si(G[i, k])}")
    if e.r_row > 0:
        r = si(e.r_row)
        for i in range(nrow):
            for k in range(ncol):
                before = end_d(i) if k == 0 else row(i, k - 1)
                cards.append(f"R{p}h{b}_{i}_{k}_{name} {before} {row(i, k)} {r}")
    if e.r_col > 0:
        r = si(e.r_col)
        for k in range(ncol):
            for i in range(nrow):
                after = end_s(k) if i == nrow - 1 else col(i + 1, k)
                cards.append(f"R{p}v{b}_{i}_{k}_{name} {col(i, k)} {after} {r}")
    return cards


def _forward(e: Crossbar, b: int, port: str | None) -> list[str]:
    n_out, n_in = e.shape
    p = "xf"
    cards = _array(e, p, b, port)
    for i in range(n_in):
        cards += _driver(e, p, b, i, f"{p}d{b}_{i}_{e.name}", node(e.a, b, i), e.v_read)
    # NOTE: the bias row is driven at v_read through the enable ramp, so the operating point is all-zero
    cards += _driver(e, p, b, n_in, f"{p}d{b}_{n_in}_{e.name}", "en", e.v_read)
    outs = []
    for k in range(2 * n_out):
        tia, out = _tia(e, p, b, k, f"{p}s{b}_{k}_{e.name}")
        cards += tia
        outs.append(out)
    for j in range(n_out):
        cards += _output(e, p, b, j, node(e.b, b, j), outs[2 * j], outs[2 * j + 1])
    return cards


def _transpose(e: Crossbar, b: int, port: str | None) -> list[str]:
    n_out, n_in = e.shape
    p = "xt"
    assert e.back_out is not None  # NOTE: the caller writes no transpose read at the first layer
    cards = _array(e, p, b, port)
    for j in range(n_out):
        for k, sign in ((2 * j, 1.0), (2 * j + 1, -1.0)):
            cards += _driver(e, p, b, k, f"{p}s{b}_{k}_{e.name}", node(e.back_in, b, j), sign * e.v_read)
    for i in range(n_in + 1):
        tia, out = _tia(e, p, b, i, f"{p}d{b}_{i}_{e.name}")
        cards += tia
        if i < n_in:  # NOTE: the bias row is held at virtual ground too; its current b . delta is not used
            cards += _output(e, p, b, i, node(e.back_out, b, i), out, None)
    return cards


def _crossbar(e: Crossbar, ctx: Context) -> list[str]:
    cards = [f"* crossbar {e.name}: {e.shape[1] + 1} rows x {2 * e.shape[0]} columns, gs {si(e.gs)}S"]
    learning = ctx.ports.get(e.name)
    if learning is not None and e.device is not None:
        raise NetlistError(
            f"crossbar {e.name!r}: the learning circuit's cells are state-controlled conductances; a device "
            f"subcircuit ({e.device.subckt!r}) takes its g as a fixed parameter"
        )
    port = None if learning is None else learning.name
    for b in range(ctx.batch):
        cards += _forward(e, b, port)
        if e.back_out is not None:
            cards += _transpose(e, b, port)
    return cards


CROSSBAR_CARDS: dict[type, Callable[[Any, Context], list[str]]] = {Crossbar: _crossbar}
