"""Cross-check of wavetrain's pulsed device model against IBM's aihwkit, and training speed against its AnalogSGD.

Issue 10, item 6; run by ``make aihwkit`` after ``scripts/setup_aihwkit.sh`` has built aihwkit into the venv (an
optional extra: nothing else in wavetrain imports aihwkit).

1. Device statistics. For each device where the two models overlap, aihwkit's device (ConstantStepDevice,
   SoftBoundsDevice, LinearStepDevice; additive cycle-to-cycle noise, every device-to-device spread 0, bounds
   +-1) and wavetrain's DeviceModel with the same dw_min, bounds, asymmetry and update noise receive the same pulse
   trains: N devices per cell start at the same weight and get n up (or down) pulses. aihwkit applies them through
   its own update path (an analog tile, one pulse per device per update row: pulse probabilities above 1, BL 1,
   update management off); wavetrain through AnalogSubstrate.write with deterministic rounding (an update of
   n dw_min is exactly n pulses). Per cell the check compares the mean and the std of the weight change and runs a
   two-sample Kolmogorov-Smirnov test; a second table does the same for one pulse from weights spread over the range
   (the soft-bound step against the weight). Noise-free cells must agree to float32 rounding (aihwkit computes in
   float32): this shows the pulse counts are exactly the same on both sides.

   Tolerances: mean |m_a - m_w| <= 4 standard errors + 1e-6, aihwkit's from the scatter of the means of RUNS
   independent tiles (its noise is correlated within a tile, see :func:`aihwkit_runs`); std |s_a / s_w - 1| <=
   4 sqrt(2 / N) (4 sigma of the ratio of two sample stds, normal samples); KS (on each sample about its tile's
   mean) p-value >= 0.01 / (number of KS tests) (Bonferroni); noise-free max |dw_a - dw_w| <= 1e-5. The check
   fails on wavetrain's model before commit 4f7db02 (n noisy soft-bound pulses as n independent steps: std 14 %
   too large at 30 pulses).

   Asymmetry: aihwkit's code (rpu_pulsed_device.cpp) applies up_down = b > 0 as up step dw_min, down step
   dw_min (1 - b) (and b < 0 as up dw_min (1 + b), down dw_min), while its docstring and wavetrain use
   dw_min (1 +- b). "Equal settings" here means equal up and down steps: wavetrain gets dw_min' = dw_min (1 - b/2),
   up_down' = (b / 2) / (1 - b / 2) (:func:`wavetrain_asymmetry`).

2. Speed: one minibatch step on 784-512-512-10 (float32, batch 128, tanh, cross-entropy, SGD lr 0.01) with
   PyTorch float, wavetrain's dyadic step on the reram chip of benchmarks/bench_hardware.py (soft bounds, d2d
   variation, update noise, read noise, 8-bit DAC/ADC, forward/backward noise) and aihwkit's AnalogSGD on
   AnalogLinear layers with the same device and IO (SoftBoundsDevice, 8-bit inp_res/out_res, w_noise, out_noise),
   interleaved in one process, 2 threads.

Writes benchmarks/results/aihwkit.md (collected into BENCHMARKS.md by collect.py) and prints it; exits 1 when a
statistic is out of tolerance. ``--quick``: fewer devices and repeats (a smoke run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "2")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "aihwkit.md"
sys.path.insert(0, str(ROOT / "benchmarks"))

DW_MIN = 0.01  # one pulse's step, in units of the bound
STD = 0.3  # cycle-to-cycle noise, relative to dw_min
COUNTS = (1, 3, 10, 30)
W_START = 0.2  # every device of a pulse-count cell starts here
BINS = np.linspace(-0.9, 0.9, 10)  # weight bins of the one-pulse table
RUNS = 8  # independent aihwkit tiles per cell (its noise is correlated within a tile)


@dataclass(frozen=True)
class Case:
    """One device both libraries model: aihwkit's class and keywords, wavetrain's DeviceModel keywords."""

    label: str
    aihwkit_class: str
    aihwkit: dict[str, Any]
    wavetrain: dict[str, Any]


def wavetrain_asymmetry(dw_min: float, up_down: float) -> tuple[float, float]:
    """wavetrain's (dw_min, up_down) that give aihwkit's up and down steps for its (dw_min, up_down)."""
    up = dw_min * (1.0 + min(up_down, 0.0))
    down = dw_min * (1.0 - max(up_down, 0.0))
    mean = (up + down) / 2
    return mean, (up - down) / (up + down)


def cases(std: float) -> list[Case]:
    off = {
        "dw_min_dtod": 0.0,
        "w_max_dtod": 0.0,
        "w_min_dtod": 0.0,
        "up_down_dtod": 0.0,
        "w_max": 1.0,
        "w_min": -1.0,
        "dw_min_std": std,
        "dw_min": DW_MIN,
    }
    linear = {"gamma_up_dtod": 0.0, "gamma_down_dtod": 0.0, "mult_noise": False}
    dw_asym, ud_asym = wavetrain_asymmetry(DW_MIN, 0.2)
    base = {"w_max": 1.0, "dw_min": DW_MIN, "dw_min_std": std, "rounding": "deterministic"}
    return [
        Case("constant step", "ConstantStepDevice", dict(off), dict(base)),
        Case(
            "constant step, up_down 0.2",
            "ConstantStepDevice",
            {**off, "up_down": 0.2},
            {**base, "dw_min": dw_asym, "up_down": ud_asym},
        ),
        Case(
            "soft bounds",
            "SoftBoundsDevice",
            {**off, "mult_noise": False},
            {**base, "gamma_up": 1.0, "gamma_down": 1.0},
        ),
        # NOTE: the same soft-bounds device as aihwkit's LinearStepDevice with gamma 1 / 1
        Case(
            "soft bounds as LinearStepDevice(gamma 1 / 1)",
            "LinearStepDevice",
            {**off, **linear, "gamma_up": 1.0, "gamma_down": 1.0},
            {**base, "gamma_up": 1.0, "gamma_down": 1.0},
        ),
        Case(
            "linear step, gamma 0.5 / 0.2",
            "LinearStepDevice",
            {**off, **linear, "gamma_up": 0.5, "gamma_down": 0.2},
            {**base, "gamma_up": 0.5, "gamma_down": 0.2},
        ),
    ]


# ---------------------------------------------------------------------------------------------------------- aihwkit


def aihwkit_pulses(case: Case, w0: np.ndarray, counts: np.ndarray, seed: int) -> np.ndarray:
    """Weights after counts[i] pulses (sign: direction) on every device of row i, through an aihwkit tile."""
    import torch
    from aihwkit.simulator import configs
    from aihwkit.simulator.tiles.analog import AnalogTileWithoutPeriphery

    device = getattr(configs, case.aihwkit_class)(construction_seed=seed, **case.aihwkit)
    update = configs.UpdateParameters(
        desired_bl=1,
        fixed_bl=True,
        update_bl_management=False,
        update_management=False,
        pulse_type=configs.PulseType.STOCHASTIC_COMPRESSED,
    )
    rpu = configs.SingleRPUConfig(device=device, update=update)
    rows, cols = w0.shape
    tile = AnalogTileWithoutPeriphery(rows, cols, rpu)
    tile.tile.set_weights(torch.from_numpy(w0.astype(np.float32)))
    # NOTE: with BL = 1, A = B = sqrt(lr / dw_min); lr = 1.21 dw_min makes every pulse probability 1.1 >= 1, so
    # each update row with x_j = 1, d_i = -+1 puts exactly one pulse on every device of row i (W -= lr d x^T)
    tile.set_learning_rate(1.21 * DW_MIN)
    steps = int(np.abs(counts).max())
    d = np.zeros((steps, rows), dtype=np.float32)
    for i, n in enumerate(counts):
        d[: abs(int(n)), i] = -np.sign(n)
    x = np.ones((steps, cols), dtype=np.float32)
    # NOTE: the C++ tile's update (x, d, bias, x_trans, d_trans, non_blocking): aihwkit 1.2.0's
    # AnalogTileWithoutPeriphery.update reads a ``non_blocking`` attribute it never sets
    tile.tile.update(torch.from_numpy(x), torch.from_numpy(d), False, False, False, False)
    return tile.tile.get_weights().detach().cpu().numpy().astype(np.float64)


def aihwkit_runs(case: Case, w0: np.ndarray, counts: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`aihwkit_pulses` on RUNS independent tiles, each a slice of the columns: (weights, tile of each column).

    aihwkit's cycle-to-cycle noise is not independent across the devices of one tile (the means of 30 pulses over
    20000 devices scatter 3-4x more from run to run than independent samples would, the up and down rows
    anti-correlated), so its mean's standard error comes from the scatter of the tile means, not from N."""
    chunks = np.array_split(np.arange(w0.shape[1]), RUNS)
    out = np.empty_like(w0)
    tiles = np.empty(w0.shape[1], dtype=int)
    for r, cols in enumerate(chunks):
        out[:, cols] = aihwkit_pulses(case, np.ascontiguousarray(w0[:, cols]), counts, seed + r)
        tiles[cols] = r
    return out, tiles


# -------------------------------------------------------------------------------------------------------- wavetrain


def wavetrain_pulses(case: Case, w0: np.ndarray, counts: np.ndarray, seed: int) -> np.ndarray:
    """Weights after counts[i] pulses on every device of row i, through AnalogSubstrate.write."""
    from wavetrain.circuits.hardware import DeviceModel, HardwareModel
    from wavetrain.emulator.analog import AnalogSubstrate

    model = HardwareModel(name=case.label, device=DeviceModel(**case.wavetrain))
    rows, cols = w0.shape
    substrate = AnalogSubstrate(model, [cols, rows], seed=seed)
    p = w0.astype(np.float64).copy()
    unit = model.device.dw_min * model.device.scale
    step = np.broadcast_to((counts * unit)[:, None], p.shape).copy()
    substrate.write(p, step, 0, "W")
    return p


# ------------------------------------------------------------------------------------------------------- statistics


@dataclass
class Row:
    label: str
    where: str
    n: int
    mean_a: float
    mean_w: float
    std_a: float
    std_w: float
    ks_p: float | None
    ok: bool
    why: str


def compare(label: str, where: str, a: np.ndarray, w: np.ndarray, ks_alpha: float, tiles: np.ndarray) -> Row:
    n = a.size
    ma, mw, sa, sw = float(a.mean()), float(w.mean()), float(a.std(ddof=1)), float(w.std(ddof=1))
    why = []
    if max(sa, sw) < 1e-6:
        gap = float(np.max(np.abs(a - w)))
        if gap > 1e-5:
            why.append(f"noise-free gap {gap:.2g} > 1e-5")
        return Row(label, where, n, ma, mw, sa, sw, None, not why, "; ".join(why))
    # NOTE: aihwkit's standard error from the scatter of its independent tiles' means (cluster-robust)
    tile_means = np.array([a[tiles == t].mean() for t in np.unique(tiles)])
    se_a = float(tile_means.std(ddof=1) / np.sqrt(tile_means.size))
    se = np.sqrt(se_a * se_a + sw * sw / n)
    if abs(ma - mw) > 4 * se + 1e-6:
        why.append(f"mean gap {abs(ma - mw):.3g} > {4 * se + 1e-6:.3g}")
    if abs(sa / sw - 1.0) > 4 * np.sqrt(2.0 / n):
        why.append(f"std ratio {sa / sw:.3f} outside 1 +- {4 * np.sqrt(2.0 / n):.3f}")
    # NOTE: the KS test compares the shapes: each sample about its own (tile) mean; the means are tested above
    centred = a - tile_means[np.searchsorted(np.unique(tiles), tiles)]
    p = float(stats.ks_2samp(centred, w - mw).pvalue)
    if p < ks_alpha:
        why.append(f"KS p {p:.2g} < {ks_alpha:.2g}")
    return Row(label, where, n, ma, mw, sa, sw, p, not why, "; ".join(why))


def device_check(devices: int, seed: int) -> tuple[list[Row], list[Row]]:
    """(pulse-count rows, one-pulse-against-weight rows) for every case, noisy and noise-free."""
    signed = np.array([s * n for n in COUNTS for s in (1, -1)], dtype=np.float64)
    plan: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []
    for std in (STD, 0.0):
        for case in cases(std):
            label = case.label + ("" if std else ", noise-free")
            w0 = np.full((signed.size, devices), W_START)
            wa, tiles = aihwkit_runs(case, w0, signed, seed)
            da, dw = wa - w0, wavetrain_pulses(case, w0, signed, seed) - w0
            for i, n in enumerate(signed):
                plan.append((label, f"{int(abs(n))} {'up' if n > 0 else 'down'} from {W_START}", da[i], dw[i], tiles))
    count_plan = len(plan)
    rng = np.random.default_rng(seed)
    for case in cases(STD)[2:]:  # the devices whose step depends on the weight
        w0 = rng.uniform(BINS[0], BINS[-1], size=(2, devices * 4))
        both = np.array([1.0, -1.0])
        wa, tiles = aihwkit_runs(case, w0, both, seed)
        da, dw = wa - w0, wavetrain_pulses(case, w0, both, seed) - w0
        for i, name in enumerate(("up", "down")):
            which = np.digitize(w0[i], BINS) - 1
            for b in range(BINS.size - 1):
                sel = which == b
                plan.append(
                    (
                        case.label,
                        f"1 {name}, w in [{BINS[b]:+.1f}, {BINS[b + 1]:+.1f})",
                        da[i][sel],
                        dw[i][sel],
                        tiles[sel],
                    )
                )
    alpha = 0.01 / len(plan)
    rows = [compare(label, where, a, w, alpha, tiles) for label, where, a, w, tiles in plan]
    return rows[:count_plan], rows[count_plan:]


def table(rows: list[Row]) -> list[str]:
    out = [
        "| device | pulses | N | mean dw aihwkit | mean dw wavetrain | std aihwkit | std wavetrain | KS p | result |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ks = "-" if r.ks_p is None else f"{r.ks_p:.3f}"
        out.append(
            f"| {r.label} | {r.where} | {r.n} | {r.mean_a:+.6f} | {r.mean_w:+.6f} | {r.std_a:.6f} | "
            f"{r.std_w:.6f} | {ks} | {'pass' if r.ok else 'FAIL: ' + r.why} |"
        )
    return out


# ------------------------------------------------------------------------------------------------------------ speed


def aihwkit_step(sizes: tuple[int, ...], batch: int, lr: float):
    """One AnalogSGD step of aihwkit on the reram-like device of bench_hardware.py (8-bit DAC and ADC)."""
    import torch
    from aihwkit.nn import AnalogLinear, AnalogSequential
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import SingleRPUConfig, SoftBoundsDevice, WeightNoiseType

    from wavetrain.circuits.hardware import load_hardware

    model = load_hardware("reram")
    dev, io = model.device, model.io
    rpu = SingleRPUConfig(
        device=SoftBoundsDevice(
            dw_min=dev.dw_min,
            dw_min_dtod=dev.dw_min_dtod,
            dw_min_std=dev.dw_min_std,
            w_max=dev.w_max,
            w_min=-dev.w_max,
            w_max_dtod=dev.w_max_dtod,
            w_min_dtod=dev.w_max_dtod,
            up_down=0.0,
            mult_noise=False,
        )
    )
    for part, noise in ((rpu.forward, io.forward_noise), (rpu.backward, io.backward_noise)):
        part.inp_res = 1 / (2**8 - 2)  # 8-bit DAC
        part.out_res = 1 / (2**8 - 2)  # 8-bit ADC (bench_hardware overrides the preset's 9 bits to 8)
        part.out_noise = noise
        part.w_noise = dev.read_noise
        part.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    torch.set_num_threads(2)
    torch.manual_seed(0)
    layers: list[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(AnalogLinear(sizes[i], sizes[i + 1], bias=True, rpu_config=rpu))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    net = AnalogSequential(*layers)
    opt = AnalogSGD(net.parameters(), lr=lr)
    opt.regroup_param_groups(net)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(batch, sizes[0])).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, sizes[-1], size=batch))

    def step() -> None:
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    return step


def speed(repeats: int, per: int) -> tuple[list[str], dict[str, float]]:
    import bench_hardware as bh

    rows = {
        "pytorch": bh.torch_step(),
        "wavetrain": bh.wave_step("reram", None),
        "aihwkit": aihwkit_step(bh.SIZES, bh.BATCH, bh.LR),
    }
    load_start = os.getloadavg()[0]
    sec = bh.measure(rows, repeats, per)
    load = os.getloadavg()[0]
    sps = {name: bh.BATCH / s for name, s in sec.items()}
    labels = {
        "pytorch": "PyTorch autograd + SGD (float)",
        "wavetrain": "wavetrain dyadic on one reram chip (pulsed soft bounds, read noise, 8-bit DAC/ADC)",
        "aihwkit": "aihwkit AnalogSGD, the same device and IO (SoftBoundsDevice, 8-bit DAC/ADC)",
    }
    size = "-".join(str(n) for n in bh.SIZES)
    lines = [
        f"{size}, float32, batch {bh.BATCH}, SGD lr {bh.LR}, 2 threads; median of {repeats} interleaved "
        f"repeats per row, one process. Load average (1 min) {load_start:.1f} at the start, {load:.1f} at the "
        "end (a shared machine: the ratios travel better than the absolute numbers).",
        "",
        "| row | ms / step | samples/s | vs PyTorch float |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in rows:
        lines.append(
            f"| {labels[name]} | {sec[name] * 1e3:.1f} | {sps[name]:,.0f} | {sps[name] / sps['pytorch']:.3f}x |"
        )
    ratio = sps["wavetrain"] / sps["aihwkit"]
    lines += ["", f"wavetrain's analog step runs at {ratio:.1f}x aihwkit's AnalogSGD samples/s in the same run.", ""]
    return lines, {"ratio": ratio, **sps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer devices and repeats (a smoke run)")
    parser.add_argument("--no-speed", action="store_true", help="only the device statistics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    import aihwkit

    devices = 4000 if args.quick else 20000
    start = time.perf_counter()
    by_count, by_weight = device_check(devices, args.seed)
    rows = by_count + by_weight
    failed = [r for r in rows if not r.ok]
    lines = [
        "## Cross-check against IBM's aihwkit (`benchmarks/aihwkit_check.py`, `make aihwkit`)",
        "",
        f"aihwkit {aihwkit.__version__} built from its sdist against torch (scripts/setup_aihwkit.sh). The same pulse "
        f"trains on aihwkit's devices (its tile's update path) and on wavetrain's device model (AnalogSubstrate.write) "
        f"at equal settings: dw_min {DW_MIN}, bounds +-1, cycle-to-cycle noise {STD} dw_min (additive), every "
        "device-to-device spread 0; aihwkit's up_down b > 0 is up dw_min, down dw_min (1 - b) in its code, so "
        "wavetrain gets the dw_min and up_down with the same two steps. Tolerances: mean within 4 standard errors "
        f"+ 1e-6 (aihwkit's standard error from the scatter of {RUNS} independent tiles per cell: its noise is "
        "correlated within a tile), std ratio within 1 +- 4 sqrt(2/N), two-sample KS on each sample about its "
        "tile's mean p >= 0.01 / tests (Bonferroni), noise-free cells equal to 1e-5 (aihwkit is float32).",
        "",
        f"**Result: {'PASS' if not failed else 'FAIL'}**: {len(rows) - len(failed)} of {len(rows)} cells within "
        f"tolerance ({time.perf_counter() - start:.0f} s).",
        "",
        "Weight change after n pulses, all devices starting at the same weight:",
        "",
        *table(by_count),
        "",
        "Weight change of one pulse against the weight (soft bounds and linear step):",
        "",
        *table(by_weight),
        "",
    ]
    if failed:
        lines += ["Cells out of tolerance: " + "; ".join(f"{r.label}, {r.where}: {r.why}" for r in failed), ""]
    if not args.no_speed:
        speed_lines, _ = speed(*((2, 2) if args.quick else (7, 6)))
        lines += ["### Training speed against aihwkit's AnalogSGD", "", *speed_lines]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from wavetrain.files import atomic_write

    atomic_write(args.out, text + "\n")
    print(text)
    print(f"aihwkit cross-check: {'PASS' if not failed else 'FAIL'} ({len(rows) - len(failed)}/{len(rows)} cells)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
