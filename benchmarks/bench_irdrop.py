"""The emulator's IR-drop crossbar against ngspice on the same resistor array, and training with wires (issue 20).

Array rows: one dense junction (W uniform in +-0.5, b in +-0.1, seed 0) mapped onto its crossbar of conductance pairs
with a bias row (circuits/irdrop.py; 0.1..25 uS, w_max 1), 1 ohm per row and column segment, read forward at
v_read = 0.2 V for a batch of inputs uniform in +-1. ngspice: a plain netlist of the same array (one R card per
wire segment and per device, a V source per row driver and per column sense end at 0 V), one ``op`` per sample in
one ``ngspice -b`` process (``alter`` sets the next sample's drives); its wall time includes parsing the netlist.
The emulator: ``Crossbar(G, r_row, r_col)`` (one sparse LU) and ``forward`` of the batch (direct: two triangular
solves per sample), and the training path (``effective()``: one solve per end of the smaller side, then a matrix
product per read), median of 3. Agreement: the largest relative difference of the first 8 column currents
(ngspice prints 7 significant digits).

Training rows: ``train(hardware=...)`` on digits (the first 160 training samples: 5 steps of batch 32, one epoch,
seed 0, float32, dyadic light cone, fidelity off), the reram preset without and with 1 ohm per segment: ms per step
(``wall_time`` / steps). With wires each step solves every junction's array anew (the weights changed).

Run: ``python benchmarks/bench_irdrop.py`` (writes benchmarks/results/irdrop.md and prints it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "benchmarks" / "results" / "irdrop.md"

from benchmarks.bench_spice import ngspice_run  # noqa: E402
from wavetrain.circuits.irdrop import Crossbar, conductances  # noqa: E402

G_MIN, G_MAX, W_MAX, V_READ, R = 0.1e-6, 25e-6, 1.0, 0.2, 1.0
ARRAYS = ((32, 32, 32), (64, 128, 1))  # (n_in, n_out, batch)
NETWORKS = ((64, 32, 10), (64, 128, 128, 10))
NOTE = (
    "ngspice's `op` stops at its default tolerances (reltol 1e-3, abstol 1 pA against currents of about 1 uA), which "
    "bounds the agreement column; tests/circuits/test_irdrop.py checks the emulator's solve against Kirchhoff's law "
    "written out to 1e-12. A wired training step pays one solve of every junction's arrays per weight state: the "
    "sparse LU and, for the effective matrix, one SuperLU solve per end of the array's smaller side (65 for the "
    "64-128 layer, 129 for the 128-128 one): on 65 x 256 above the effective matrix takes several times the "
    "factorisation and one read; so the digits network's step costs hundreds of times its ideal step, 64-32-10's "
    "tens. Not built: a warm-started iterative solve (the previous state's potentials, the wire chains as a "
    "preconditioner)."
)


def problem(n_in: int, n_out: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    G = conductances(rng.uniform(-0.5, 0.5, (n_out, n_in)), rng.uniform(-0.1, 0.1, n_out), G_MIN, G_MAX, W_MAX)
    x = rng.uniform(-1, 1, (batch, n_in))
    return G, V_READ * np.concatenate([x, np.ones((batch, 1))], axis=1)


def netlist(G: np.ndarray, v: np.ndarray, r: float, probed: int) -> str:
    """The array as R cards, read once per row of v by an op in a control block (prints the first column currents)."""
    nrow, ncol = G.shape
    cards = [f"* crossbar {nrow}x{ncol}, {r:g} ohm per segment, {len(v)} reads"]
    for i in range(nrow):
        cards.append(f"VD{i} d{i} 0 DC {v[0, i]:.17g}")
        cards.append(f"RW{i}_0 d{i} r{i}_0 {r:g}")
        cards += [f"RW{i}_{k} r{i}_{k - 1} r{i}_{k} {r:g}" for k in range(1, ncol)]
    for k in range(ncol):
        cards += [f"RC{i}_{k} c{i - 1}_{k} c{i}_{k} {r:g}" for i in range(1, nrow)]
        cards += [f"RS{k} c{nrow - 1}_{k} s{k} {r:g}", f"VS{k} s{k} 0 DC 0"]
    cards += [f"RG{i}_{k} r{i}_{k} c{i}_{k} {1.0 / G[i, k]:.17g}" for i in range(nrow) for k in range(ncol)]
    cards.append(".control")
    for s in range(len(v)):
        if s:
            cards += [f"alter VD{i} dc = {v[s, i]:.17g}" for i in range(nrow)]
        cards += ["op", "print " + " ".join(f"i(VS{k})" for k in range(probed))]
    return "\n".join([*cards, ".endc", ".end"]) + "\n"


def median_time(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def array_row(n_in: int, n_out: int, batch: int, work: Path) -> str:
    G, v = problem(n_in, n_out, batch)
    probed = min(8, G.shape[1])
    path = work / f"xbar_{n_in}x{n_out}_{batch}.cir"
    path.write_text(netlist(G, v, R, probed))
    spice_s, rss = ngspice_run(path)
    log = path.with_suffix(".log").read_text()
    spice = np.array([float(line.split("=")[1]) for line in log.splitlines() if line.strip().startswith("i(vs")])
    direct_s, current = median_time(lambda: Crossbar(G, R, R).forward(v))

    def through_m() -> np.ndarray:
        return v @ Crossbar(G, R, R).effective().T

    effective_s, _ = median_time(through_m)
    sensed = np.asarray(current)[:, :probed]
    agree = float(np.max(np.abs(spice.reshape(sensed.shape) - sensed)) / np.max(np.abs(sensed)))
    best = min(direct_s, effective_s)
    return (
        f"| {G.shape[0]} x {G.shape[1]} ({n_in}-{n_out}) | {batch} | {spice_s:.2f} | {rss:.0f} | {direct_s:.3f} | "
        f"{effective_s:.3f} | {spice_s / best:,.0f}x | {agree:.1e} |"
    )


def step_ms(sizes: tuple[int, ...], wires: float) -> tuple[float, float]:
    import wavetrain
    from wavetrain.circuits.hardware import PRESETS

    digits = wavetrain.datasets.load("digits")
    data = (digits.x_train[:160], digits.y_train[:160], digits.x_test[:64], digits.y_test[:64])
    model = PRESETS["reram"].with_overrides({"circuit.r_row": wires, "circuit.r_col": wires})
    net = wavetrain.Network.mlp(list(sizes), activation="tanh", loss="cross_entropy", seed=0)
    result = wavetrain.train(net, data, epochs=1, batch_size=32, hardware=model, seed=0, fidelity_every=0)
    return 1e3 * result.wall_time / 5, result.test_accuracy[-1]


def main() -> None:
    load_before = os.getloadavg()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        arrays = [array_row(*spec, Path(tmp)) for spec in ARRAYS]
    training = []
    for sizes in NETWORKS:
        plain, _ = step_ms(sizes, 0.0)
        wired, _ = step_ms(sizes, R)
        name = "-".join(map(str, sizes))
        training.append(f"| {name} | {plain:.1f} | {wired:,.0f} | {wired / plain:,.0f}x |")
    load_after = os.getloadavg()
    lines = subprocess.run(["ngspice", "-v"], capture_output=True, text=True).stdout.splitlines()
    version = [line.strip(" *") for line in lines if "ngspice-" in line.lower()]
    text = "\n".join(
        [
            "## The IR-drop crossbar against ngspice, and training with wires (`benchmarks/bench_irdrop.py`)",
            "",
            "One dense junction's crossbar (conductance pairs and a bias row, 0.1..25 uS, 1 ohm per row and column "
            "segment: circuits/irdrop.py), read forward for a batch; ngspice runs a plain netlist of the same R "
            "elements, one `op` per sample in one process (parse included). Emulator: a sparse LU of the array and "
            "the batch's reads, directly (two triangular solves per sample) or through the effective matrix (what "
            "training uses: one solve per end of the smaller side, then one matrix product per read); each includes "
            "the factorisation. Speed-up: ngspice against the faster emulator column.",
            "",
            "| array (rows x columns) | batch | ngspice s | ngspice MiB | emulator direct s | emulator via M s | "
            "speed-up | agreement |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *arrays,
            "",
            "Training with wires: `train(hardware=reram)` against the same preset with 1 ohm per row and column "
            "segment, digits, batch 32, 5 steps, float32, dyadic light cone, fidelity off; each wired step solves "
            "every junction's arrays anew (the write changed the weights).",
            "",
            "| network | ms / step, no wires | ms / step, wires | cost of the wires |",
            "| --- | ---: | ---: | ---: |",
            *training,
            "",
            NOTE,
            "",
            f"Load average (1, 5, 15 min) before {', '.join(f'{a:.1f}' for a in load_before)}, after "
            f"{', '.join(f'{a:.1f}' for a in load_after)} (2 cores, shared with other engineers' runs: both sides of "
            f"each ratio ran under it); {time.perf_counter() - began:.0f} s in all; {version[0] if version else ''}.",
        ]
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
