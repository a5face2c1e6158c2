"""Training speed on emulated analog hardware against PyTorch float in the same run (issue 10, `make bench`).

Rows, each one minibatch step on 784-512-512-10 (float32, batch 128, tanh hidden layers, identity output, softmax
cross-entropy, SGD lr 0.01):

  pytorch      torch.nn.Sequential + CrossEntropyLoss, loss.backward(), torch.optim.SGD.step()
  float        train's dyadic step on the ideal substrate (the fused light cone)
  analog       the same step on one emulated chip: a pulsed soft-bounds device (the reram preset: d2d variation,
               stochastic pulse rounding, update noise), read noise, 8-bit DAC, 8-bit ADC, forward/backward noise
  analog x16   16 Monte-Carlo chips in one vectorised step (chip axis), against 16 single-chip steps one by one,
               on this network and on the digits network (64-128-128-10, batch 32)

The rows are measured interleaved in one process (2 threads for NumPy's BLAS and for torch), each repeat timing a
few steps after one untimed step; the table gives the median per step over the repeats. The process runs with
glibc's heap trimming off (bench_emulator.UNTRIMMED_HEAP, for every row alike): otherwise the 16-chip rows give
their hundreds of MB back to the kernel and whichever row follows re-faults its temporaries, which on this VM cost
it up to 20x. Throughput is samples/s (chips x samples/s for
the Monte-Carlo rows). Run: ``python benchmarks/bench_hardware.py [--quick]`` (writes
benchmarks/results/hardware.md and prints it).
"""

from __future__ import annotations

import argparse
import os
import statistics
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
SMALL = (64, 128, 128, 10)  # the digits network, batch 32, for the Monte-Carlo rows at small size
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
    from wavetrain.emulator.analog import AnalogSubstrate
    from wavetrain.emulator.hardware import load_hardware
    from wavetrain.emulator.substrate import IDEAL
    from wavetrain.emulator.train import Dyadic, HeavyBall, _method_step

    net = Network.mlp(list(sizes), activation="tanh", output_activation="identity", loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    t = net.targets(rng.integers(0, sizes[-1], size=batch), batch).astype(np.float32)
    substrate = IDEAL
    lead = () if chips is None else (chips,)
    # NOTE: the network stores float64; the benchmark trains float32 copies (one per chip), C-ordered
    params = [(np.ascontiguousarray(np.broadcast_to(W, lead + W.shape), dtype=np.float32),
               np.ascontiguousarray(np.broadcast_to(b, lead + b.shape), dtype=np.float32)) for W, b in net.params()]
    if hardware is not None:
        model = load_hardware(hardware).with_overrides({"io.adc_bits": 8})
        substrate = AnalogSubstrate(model, sizes, chips=chips, seed=0, dtype=np.float32)
        for l, (W, _) in enumerate(params):
            substrate.program(W, l)
    method, port = Dyadic(), HeavyBall(LR, 0.0)

    def step() -> None:
        _method_step(method, params, net, x, t, port, substrate)

    return step


def one_by_one(sizes: tuple[int, ...] = SIZES, batch: int = BATCH):
    steps = [wave_step("reram", None, sizes, batch) for _ in range(CHIPS)]

    def step() -> None:
        for s in steps:
            s()

    return step


def measure(rows: dict, repeats: int, steps_per_repeat: int) -> dict[str, float]:
    """Median seconds per step of each row, measured interleaved (each repeat: one untimed step, then the timed
    ones)."""
    for step in rows.values():
        step()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, step in rows.items():
            count = max(1, steps_per_repeat // (CHIPS if name.startswith("one_by_one") else 1))
            # NOTE: one untimed step first: the previous row's BLAS / OpenMP worker threads spin for a while after
            # it returns and slow whichever row comes next (by 5-20 ms a step on 2 cores, either way round)
            step()
            start = time.perf_counter()
            for _ in range(count):
                step()
            times[name].append((time.perf_counter() - start) / count)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    from bench_emulator import UNTRIMMED_HEAP

    if any(os.environ.get(k) != v for k, v in UNTRIMMED_HEAP.items()):
        # NOTE: glibc reads these when the process starts: run again under them
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **UNTRIMMED_HEAP})
    repeats, per = (2, 2) if args.quick else (7, 6)
    rows = {"pytorch": torch_step(), "float": wave_step(None, None), "analog": wave_step("reram", None),
            "chips": wave_step("reram", CHIPS), "one_by_one": one_by_one(),
            "chips_small": wave_step("reram", CHIPS, SMALL, 32), "one_by_one_small": one_by_one(SMALL, 32)}
    load_start = os.getloadavg()[0]
    sec = measure(rows, repeats, per)
    load = os.getloadavg()[0]
    torch_sps = BATCH / sec["pytorch"]
    lines = [
        "## Training on emulated analog hardware (`benchmarks/bench_hardware.py`)",
        "",
        f"784-512-512-10, float32, batch {BATCH}, SGD lr {LR}, 2 threads; median of {repeats} interleaved repeats "
        "per row (each after one untimed step), one process, glibc heap trimming off. "
        f"Load average (1 min) {load_start:.1f} at the start, {load:.1f} at the end (on a "
        "shared machine the ratios, measured in the same run, travel better than the absolute numbers).",
        "",
        "| row | ms / step | samples/s | vs PyTorch float |",
        "| --- | ---: | ---: | ---: |",
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
    for name in rows:
        samples = (32 if name.endswith("_small") else BATCH) * (CHIPS if name.startswith(("chips", "one_by")) else 1)
        sps = samples / sec[name]
        lines.append(f"| {labels[name]} | {sec[name] * 1e3:.1f} | {sps:,.0f} | {sps / torch_sps:.2f}x |")
    lines += ["", f"The analog step runs at {sec['float'] / sec['analog']:.2f}x the ideal substrate's samples/s in the "
              "same run (a ratio less sensitive to other load on the machine than the one against PyTorch, whose "
              "threads suffer most from it).", ""]
    lines += [f"Monte-Carlo: {CHIPS} chips in one vectorised step run at {sec['one_by_one'] / sec['chips']:.2f}x "
              f"the throughput of the same chips stepped one by one on 784-512-512-10 (the device physics is "
              f"elementwise, as costly per weight either way) and at "
              f"{sec['one_by_one_small'] / sec['chips_small']:.2f}x on the digits network (where the per-step "
              "overhead of a small network is paid once for all chips).", ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from wavetrain.files import atomic_write

    atomic_write(args.out, text + "\n")
    print(text)


if __name__ == "__main__":
    main()
