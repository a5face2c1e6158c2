"""Lava timesteps per second against the emulator's ticks per second, float and Loihi fixed point, same network.

The network is digits' 64-128-10 (tanh, cross-entropy) with a batch of 32 held at the input; one timestep = one tick
of every layer. Lava runs its CPU simulator (Loihi2SimCfg, one OS process per layer plus clamp and load); its rate is
timed over ``--steps`` timesteps after a warm-up run, so compilation and process startup (reported apart) are
excluded. The emulator runs kernel.tick on the ideal and on the LoihiFixedPoint substrate.

The third row is the ``loihi2`` target: the same widths with ReLU and mse (what Lava's library processes compute),
built from library processes only (Dense, GradedReluVec, ProdNeuron, ...: 15 Lava processes instead of 4) and run as
the chip runs it, one sample per timestep (a batch of 32 is 32 timesteps): the rate of its second epoch of 512
samples (the first includes compilation), against the emulator's run_stream in the same arithmetic. Writes
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


def library_rates(data, samples: int) -> tuple[float, float, float]:
    """(Lava timesteps/s, emulator timesteps/s, Lava startup seconds) of the loihi2 target's frozen stream."""
    from wavetrain.emulator.loihi2 import calibrate_library
    from wavetrain.emulator.stream import epoch_length, run_stream
    from wavetrain.targets.lava.library import stream_library

    net = Network.mlp([64, 128, 10], activation="relu", loss="mse", seed=0)
    x, y = data.x_train[:samples], data.y_train[:samples]
    sub = calibrate_library(net, x, y)
    marks: list[float] = []
    began = time.perf_counter()
    stream_library(net.copy(), x, y, sub, epochs=2, callback=lambda e, out: marks.append(time.perf_counter()))
    length = epoch_length(net.depth, len(x))
    emulated = run_stream(net.copy(), sub, x, y, epochs=2)
    return length / (marks[1] - marks[0]), emulated.timesteps / emulated.seconds, marks[0] - began


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
    library = [library_rates(data, 512) for _ in range(args.repeats)]
    lava_best, emu_best = max(r for r, _, _ in library), max(r for _, r, _ in library)
    startup = min(s for _, _, s in library)
    rows.append(
        f"| loihi2: library processes, one sample per timestep (ReLU, mse; fixed_pt / LoihiLibrary) | "
        f"{lava_best:,.0f} | {emu_best:,.0f} | {lava_best / emu_best:.3f}x | {startup:.2f} (first epoch) |"
    )
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
            f"{load:.1f} when measured). The loihi2 row holds one sample per timestep (a batch of 32 takes 32 "
            "timesteps) in 15 library processes plus 3 host RingBuffers (input, target, the output sink); its "
            "emulator column is run_stream, which computes a whole epoch's samples as matrix products, so its ratio "
            "is not per tick.",
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
