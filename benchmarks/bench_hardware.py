"""Training speed on emulated analog hardware against PyTorch float in the same run (issue 10, `make bench`).

Rows, each one minibatch step on 784-512-512-10 (float32, batch 128, tanh hidden layers, identity output, softmax
cross-entropy, SGD lr 0.01):

  pytorch      torch.nn.Sequential + CrossEntropyLoss, loss.backward(), torch.optim.SGD.step()
  float        train's dyadic step on the ideal substrate (the fused light cone)
  analog       the same step on one emulated chip: a pulsed soft-bounds device (the reram preset: d2d variation,
               stochastic pulse rounding, update noise), read noise, 8-bit DAC, 8-bit ADC, forward/backward noise
  analog x16   16 Monte-Carlo chips in one vectorised step (chip axis), against 16 single-chip steps one by one,
               on this network and on the digits network (64-128-128-10, batch 32)

PyTorch, the ideal step and the one-chip step are each timed in a fresh process (rounds of the three, interleaved;
the table gives the median per step over all repeats and the spread of the per-round medians), so no row inherits
another's caches, heap or spinning BLAS threads; the Monte-Carlo rows are timed interleaved in one more process.
Every process runs with 2 threads for NumPy's BLAS and for torch and with glibc's heap trimming off
(bench_emulator.UNTRIMMED_HEAP, for every row alike: otherwise the 16-chip rows give their hundreds of MB back to
the kernel and whichever row follows re-faults its temporaries, up to 20x slower on this VM). Each repeat waits for
the previous row's BLAS workers to park, runs a few untimed steps, then times its steps. Throughput is samples/s
(chips x samples/s for the Monte-Carlo rows). Run: ``python benchmarks/bench_hardware.py [--quick]`` (writes
benchmarks/results/hardware.md and prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "2")

import numpy as np  # noqa: E402

SIZES = (784, 512, 512, 10)
BATCH = 128
LR = 0.01
CHIPS = 16
SETTLE = 0.3  # seconds between rows, for the previous row's spinning BLAS worker threads to park
WARM = 3  # untimed steps after the pause (the first steps after an idle core run slow on this VM)
WARM_UP = 1.5  # seconds of untimed steps per row before the first repeat: steps run faster for the first ~second
SMALL = (64, 128, 128, 10)  # the digits network, batch 32, for the Monte-Carlo rows at small size
MAIN = ("pytorch", "float", "analog")  # each timed in fresh processes, interleaved over rounds
ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "hardware.md"


def torch_step():
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(torch.nn.Linear(SIZES[i], SIZES[i + 1]))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(BATCH, SIZES[0])).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, SIZES[-1], size=BATCH))

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def wave_step(hardware: str | None, chips: int | None, sizes: tuple[int, ...] = SIZES, batch: int = BATCH):
    from wavetrain import Network
    from wavetrain.circuits.hardware import load_hardware
    from wavetrain.emulator.analog import AnalogSubstrate
    from wavetrain.emulator.substrate import IDEAL
    from wavetrain.emulator.train import Dyadic, HeavyBall

    net = Network.mlp(list(sizes), activation="tanh", output_activation="identity", loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    t = net.targets(rng.integers(0, sizes[-1], size=batch), batch).astype(np.float32)
    substrate = IDEAL
    lead = () if chips is None else (chips,)
    # NOTE: the network stores float64; the benchmark trains float32 copies (one per chip), C-ordered
    params = {
        n: (
            np.ascontiguousarray(np.broadcast_to(W, lead + W.shape), dtype=np.float32),
            np.ascontiguousarray(np.broadcast_to(b, lead + b.shape), dtype=np.float32),
        )
        for n, (W, b) in net.param_dict().items()
    }  # NOTE: keyed by node id, as the machine's parameters are
    if hardware is not None:
        model = load_hardware(hardware).with_overrides({"io.adc_bits": 8})
        substrate = AnalogSubstrate(model, net.graph, chips=chips, seed=0, dtype=np.float32)
        for n, (W, _) in params.items():
            substrate.program(W, n)
    method, port, m = Dyadic(), HeavyBall(LR, 0.0), net.machine(substrate, params)

    def step() -> None:
        method.step(m, x, t, port)

    return step


def one_by_one(sizes: tuple[int, ...] = SIZES, batch: int = BATCH):
    steps = [wave_step("reram", None, sizes, batch) for _ in range(CHIPS)]

    def step() -> None:
        for s in steps:
            s()

    return step


def timings(rows: dict, repeats: int, steps_per_repeat: int) -> dict[str, list[float]]:
    """Seconds per step of each row in every repeat, measured interleaved (each repeat: a pause, a few untimed
    steps, then the timed ones)."""
    for step in rows.values():
        began = time.perf_counter()
        while time.perf_counter() - began < WARM_UP:  # NOTE: to the steady state of a long training run
            step()
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, step in rows.items():
            count = max(1, steps_per_repeat // (CHIPS if name.startswith("one_by_one") else 1))
            # NOTE: a pause, then untimed steps: the previous row's BLAS / OpenMP worker threads keep spinning after
            # it returns (OpenBLAS for 2^28 cycles, ~0.1 s; the fused rows use SciPy's OpenBLAS, the others NumPy's,
            # so the two pools compete) and slowed whichever row came next, by up to 2x on 2 cores
            if len(rows) > 1:
                time.sleep(SETTLE)
            for _ in range(WARM):
                step()
            start = time.perf_counter()
            for _ in range(count):
                step()
            times[name].append((time.perf_counter() - start) / count)
    return times


def measure(rows: dict, repeats: int, steps_per_repeat: int) -> dict[str, float]:
    """Median seconds per step of each row over :func:`timings`."""
    return {name: statistics.median(values) for name, values in timings(rows, repeats, steps_per_repeat).items()}


def make_row(name: str):
    return {"pytorch": torch_step, "float": lambda: wave_step(None, None), "analog": lambda: wave_step("reram", None)}[
        name
    ]()


def fresh(name: str, repeats: int, per: int) -> list[float]:
    """Per-step seconds of each repeat of row ``name``, timed in a fresh process."""
    from bench_emulator import UNTRIMMED_HEAP

    cmd = [sys.executable, __file__, "--child", name, "--repeats", str(repeats), "--per", str(per)]
    done = subprocess.run(cmd, env={**os.environ, **UNTRIMMED_HEAP}, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"bench_hardware --child {name} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--child", choices=MAIN, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--per", type=int, default=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(timings({args.child: make_row(args.child)}, args.repeats, args.per)[args.child]))
        return
    from bench_emulator import UNTRIMMED_HEAP

    if any(os.environ.get(k) != v for k, v in UNTRIMMED_HEAP.items()):
        # NOTE: glibc reads these when the process starts: run again under them
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **UNTRIMMED_HEAP})
    rounds, repeats, per = (1, 2, 2) if args.quick else (3, 5, 6)
    load_start = os.getloadavg()[0]
    runs: dict[str, list[list[float]]] = {name: [] for name in MAIN}
    for _ in range(rounds):
        for name in MAIN:
            runs[name].append(fresh(name, repeats, per))
    sec = {name: statistics.median([t for run in runs[name] for t in run]) for name in MAIN}
    spread = {
        name: (min(statistics.median(run) for run in runs[name]), max(statistics.median(run) for run in runs[name]))
        for name in MAIN
    }
    rows = {
        "chips": wave_step("reram", CHIPS),
        "one_by_one": one_by_one(),
        "chips_small": wave_step("reram", CHIPS, SMALL, 32),
        "one_by_one_small": one_by_one(SMALL, 32),
    }
    sec.update(measure(rows, *((2, 2) if args.quick else (5, 6))))
    load = os.getloadavg()[0]
    torch_sps = BATCH / sec["pytorch"]
    lines = [
        "## Training on emulated analog hardware (`benchmarks/bench_hardware.py`)",
        "",
        f"784-512-512-10, float32, batch {BATCH}, SGD lr {LR}, 2 threads, glibc heap trimming off. The first three "
        f"rows: {rounds} round(s), each row in a fresh process per round, {repeats} repeats of {per} steps per "
        "process; median over all repeats, spread = the range of the per-round medians. The Monte-Carlo rows: one "
        f"more process, interleaved. Load average (1 min) {load_start:.1f} at the start, {load:.1f} at the end "
        "(on a shared machine the ratios, measured in the same run, travel better than the absolute numbers).",
        "",
        "| row | ms / step | spread (ms) | samples/s | vs PyTorch float |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    labels = {
        "pytorch": "PyTorch autograd + SGD (float)",
        "float": "wavetrain dyadic, ideal substrate (fused light cone)",
        "analog": "wavetrain dyadic on one reram chip, 8-bit DAC/ADC, read noise, pulsed updates",
        "chips": f"the same, {CHIPS} Monte-Carlo chips in one step (chips x samples/s)",
        "one_by_one": f"the same {CHIPS} chips one by one (chips x samples/s)",
        "chips_small": f"digits 64-128-128-10, batch 32: {CHIPS} chips in one step (chips x samples/s)",
        "one_by_one_small": f"digits 64-128-128-10, batch 32: the {CHIPS} chips one by one (chips x samples/s)",
    }
    for name in (*MAIN, *rows):
        samples = (32 if name.endswith("_small") else BATCH) * (CHIPS if name.startswith(("chips", "one_by")) else 1)
        sps = samples / sec[name]
        low, high = spread.get(name, (None, None))
        where = f"{low * 1e3:.1f}-{high * 1e3:.1f}" if low is not None else "-"
        lines.append(f"| {labels[name]} | {sec[name] * 1e3:.1f} | {where} | {sps:,.0f} | {sps / torch_sps:.2f}x |")
    lines += [
        "",
        f"The analog step runs at {sec['float'] / sec['analog']:.2f}x the ideal substrate's samples/s in the "
        "same run (a ratio less sensitive to other load on the machine than the one against PyTorch, whose "
        "threads suffer most from it).",
        "",
    ]
    lines += [
        f"Monte-Carlo: {CHIPS} chips in one vectorised step run at {sec['one_by_one'] / sec['chips']:.2f}x "
        f"the throughput of the same chips stepped one by one on 784-512-512-10 (the device physics is "
        f"elementwise, as costly per weight either way) and at "
        f"{sec['one_by_one_small'] / sec['chips_small']:.2f}x on the digits network (where the per-step "
        "overhead of a small network is paid once for all chips).",
        "",
    ]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from wavetrain.files import atomic_write

    atomic_write(args.out, text + "\n")
    print(text)


if __name__ == "__main__":
    main()
