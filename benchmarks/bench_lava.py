"""Lava timesteps per second against the emulator's ticks per second, float and Loihi fixed point, same network.

The network is digits' 64-128-10 (tanh, cross-entropy) with a batch of 32 held at the input; one timestep = one tick
of every layer. Lava runs its CPU simulator (Loihi2SimCfg, one OS process per layer plus clamp and load); its rate is
timed over ``--steps`` timesteps after a warm-up run, so compilation and process startup (reported apart) are
excluded. The emulator runs kernel.tick on the ideal and on the LoihiFixedPoint substrate. Writes
benchmarks/results/lava.md for BENCHMARKS.md.

Run: ``python benchmarks/bench_lava.py`` (``make bench``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from wavetrain import Network, datasets
from wavetrain.emulator.kernel import WaveState, tick
from wavetrain.emulator.loihi import calibrate
from wavetrain.files import atomic_write
from wavetrain.targets.lava.runner import build, session

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "lava.md"
WARM = 20


def lava_rate(net: Network, x: np.ndarray, t: np.ndarray, steps: int, fixed) -> tuple[float, float]:
    """(timesteps per second, startup seconds) of a Lava run of ``steps`` timesteps after a warm-up."""
    clamp, layers, load = build(net, x, t, "relax", WARM + steps, len(x), fixed=fixed)
    start = time.perf_counter()
    with session(clamp, layers, load, "fixed_pt" if fixed is not None else "floating_pt", 600.0) as run:
        run.run(WARM)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        run.run(steps)
        seconds = time.perf_counter() - start
    return steps / seconds, startup


def emulator_rate(net: Network, x: np.ndarray, t: np.ndarray, steps: int, substrate) -> float:
    machine = net.machine(substrate)
    state = WaveState.zeros(net.sizes, len(x), x)
    start = time.perf_counter()
    for _ in range(steps):
        state, _ = tick(machine, x, t, state)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = datasets.load("digits")
    net = Network.mlp([64, 128, 10], loss="cross_entropy", seed=0)
    x, y = data.x_train[:32], data.y_train[:32]
    t = net.targets(y, len(x))
    sub, _ = calibrate(net, x, y)
    rows = []
    for label, fixed in (
        ("float64 (floating_pt / ideal)", None),
        ("Loihi fixed point (fixed_pt / LoihiFixedPoint)", sub),
    ):
        lava = [lava_rate(net, x, t, args.steps, fixed) for _ in range(args.repeats)]
        emu = [emulator_rate(net, x, t, args.steps, fixed) for _ in range(args.repeats)]
        lava_best, startup = max(r for r, _ in lava), min(s for _, s in lava)
        emu_best = max(emu)
        rows.append(f"| {label} | {lava_best:,.0f} | {emu_best:,.0f} | {lava_best / emu_best:.3f}x | {startup:.2f} |")
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    text = "\n".join(
        [
            "## Lava target: timesteps per second",
            "",
            f"digits 64-128-10 (tanh, cross-entropy), batch 32, {args.steps} timesteps after a {WARM}-timestep "
            "warm-up, "
            f"best of {args.repeats}; one timestep = one tick of every layer. Lava 0.10.0's CPU simulator runs one OS "
            f"process per layer plus the clamp and the loss load (`benchmarks/bench_lava.py`; load average "
            f"{load:.1f} when measured).",
            "",
            "| arithmetic | Lava timesteps/s | emulator ticks/s | Lava / emulator | Lava startup [s] |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    atomic_write(RESULT, text)
    print(text)


if __name__ == "__main__":
    main()
