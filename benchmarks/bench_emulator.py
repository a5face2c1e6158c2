"""Training throughput of the emulator against PyTorch CPU autograd (issue 3, `make bench`).

Methods, each one minibatch step (forward, gradient, SGD update) on float32, batch 128, tanh hidden layers, an
identity output layer and softmax cross-entropy:

  pytorch         torch.nn.Sequential + CrossEntropyLoss, loss.backward(), torch.optim.SGD.step()
  pytorch_nt      the same with glibc's heap trimming off (UNTRIMMED_HEAP), so freed tensors are not re-faulted
  light_cone      Dyadic(schedule="light_cone").step with a HeavyBall port: the path train(method="dyadic") takes
                  (on NumPy arrays it runs the BLAS-fused emulator/fused.py)
  light_cone_gen  kernel.light_cone + HeavyBall.step: the array-library-agnostic path (cupy, other ports)
  ticks           Dyadic(schedule="ticks").step: 2L Jacobi ticks of the whole network, readout, HeavyBall.step
  pipelined       Pipelined(stash=True).step: the pipelined machine with delay lines, one tick per minibatch (a new
                  minibatch enters every tick; each layer works on a different one), HeavyBall.step every tick;
                  sigma'(a) recomputed from the delayed input (a fourth matrix product per layer)
  pipelined_fwd   the same with Pipelined(stash=True, recompute=False): the delay lines also carry the forward
                  pass's outputs, so sigma'(a) is the forward wave's (three products per layer, as backprop)

End to end (``e2e_*``, 784-512-512-10 only): a whole training run on a fixed synthetic data set (a teacher network's
labels), SGD, batch 128, test accuracy after every epoch, same split and same epochs on both sides:

  e2e_pytorch     the plain PyTorch loop a user would write (randperm, minibatches, loss.item() for the running
                  loss, test accuracy under no_grad after each epoch)
  e2e_train       wavetrain.train(net, (x, y, x_test, y_test), method="dyadic", batch_size=128, lr, momentum=0)
                  with every other setting at its default (float32, running loss, test metrics each epoch)

Every (network, method) runs in its own fresh Python process, so no two thread pools (torch's OpenMP, NumPy's
OpenBLAS) share the two cores, and memory is measured per method. The processes are interleaved over several
rounds; each warms up, then times repeats of a few steps. Other processes' CPU use is read from /proc/stat around
every repeat, and a repeat they disturbed is rerun (a bounded number of times) and not counted. The table gives the
median over the counted repeats of all rounds.

Memory, per method, in a fresh process: ``peak RSS`` is the process's high-water mark while training minus its RSS
just before the first step (parameters, data and libraries already loaded, library code already paged in by a
warm-up on a 16-wide network; the high-water mark is reset through /proc/self/clear_refs). ``numpy peak`` is
tracemalloc's peak of NumPy allocations over 3 steps in another fresh process (it sees NumPy's buffers, not torch's).

Run: ``python benchmarks/bench_emulator.py`` (writes benchmarks/results/emulator.md and emulator_e2e.md and prints
them); ``--e2e-only`` runs only the end-to-end runs and the pipelined and PyTorch per-step rows on 784-512-512-10 and
writes only emulator_e2e.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS = 2
BATCH = 128
LR = 0.01
MOMENTUM = 0.0
NETWORKS = {
    "784-512-512-10": (784, 512, 512, 10),
    "784-1024x4-10": (784, 1024, 1024, 1024, 1024, 10),
}
METHODS = ("pytorch", "pytorch_nt", "light_cone", "light_cone_gen", "ticks", "pipelined", "pipelined_fwd")
E2E_METHODS = ("e2e_pytorch", "e2e_train")
# NOTE: run by benchmarks/bench_hardware_e2e.py (not by `make bench`): train(hardware="reram") end to end
E2E_ANALOG = ("e2e_analog", "e2e_analog_nofid")
E2E_NETWORK = "784-512-512-10"
E2E_TRAIN, E2E_TEST, E2E_EPOCHS = 12_800, 2_000, 2
LABELS = {
    "pytorch": "(a) PyTorch autograd + SGD",
    "pytorch_nt": "(a') the same, glibc heap not trimmed",
    "light_cone": "(b) light cone + port (train's path)",
    "light_cone_gen": "(b') light cone + port, generic path",
    "ticks": "(c) tick-by-tick, 2L ticks + port",
    "pipelined": "(d) pipelined machine + delay lines, 1 tick/minibatch",
    "pipelined_fwd": "(d') the same, the lines carry the forward pass (stash-forward)",
    "e2e_pytorch": "PyTorch loop (autograd + SGD, test accuracy each epoch)",
    "e2e_train": 'wavetrain.train(method="dyadic"), defaults',
}
ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "emulator.md"
E2E_RESULT = ROOT / "benchmarks" / "results" / "emulator_e2e.md"
REPEAT_SECONDS = 0.25  # each timed repeat runs enough steps to last about this long
FOREIGN_LIMIT = 0.15  # a repeat during which other processes used more CPU than this (in cores) is not counted
ATTEMPTS = 3  # a worker runs at most this many times its repeats to collect undisturbed ones
# glibc malloc settings under which freed blocks stay in the heap instead of going back to the kernel (row (a'))
UNTRIMMED_HEAP = {"MALLOC_MMAP_THRESHOLD_": str(2**25), "MALLOC_TRIM_THRESHOLD_": str(2**28)}


def thread_env() -> tuple[dict[str, str], str]:
    """The environment for the worker processes, and a note on what was changed."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(THREADS)
    note = "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE were not set."
    if "OPENBLAS_CORETYPE" in env or "OPENBLAS_L2_SIZE" in env:
        # NOTE: set on some processors for old OpenBLAS builds; they slow a current one (see BENCHMARKS.md).
        # Unset for the benchmark's own workers only, never for tests or CI.
        was = {k: env.pop(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in env}
        note = "Unset for the benchmark workers only: " + ", ".join(f"{k}={v}" for k, v in was.items()) + "."
    return env, note


# ---------------------------------------------------------------------------------------------------------------
# worker side: one (network, method) in this process


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _make_stepper(method: str, sizes: tuple[int, ...], seed: int = 0):
    """A closure doing one training step on a fixed pool of minibatches, and the pool's arrays."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = 4
    xs = rng.random((pool, BATCH, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], size=(pool, BATCH))
    counter = iter(range(10**12))
    if method.startswith("pytorch"):
        import torch

        torch.manual_seed(seed)
        layers: list = []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(n_in, n_out))
            if index < len(sizes) - 2:
                layers.append(torch.nn.Tanh())
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        criterion = torch.nn.CrossEntropyLoss()
        x_pool = [torch.from_numpy(x) for x in xs]
        y_pool = [torch.from_numpy(y) for y in labels]

        def step() -> None:
            i = next(counter) % pool
            optimizer.zero_grad()
            criterion(model(x_pool[i]), y_pool[i]).backward()
            optimizer.step()

        return step
    from wavetrain.compiler.network import Network
    from wavetrain.emulator.kernel import light_cone
    from wavetrain.emulator.pipeline import Pipelined
    from wavetrain.emulator.train import Dyadic, HeavyBall

    net = Network.mlp(sizes, activation="tanh", output_activation="identity", loss="cross_entropy", seed=seed)
    params = [(W.astype(np.float32), b.astype(np.float32)) for W, b in net.params()]
    targets = np.eye(sizes[-1], dtype=np.float32)[labels]
    port = HeavyBall(LR, MOMENTUM)
    m = net.machine(params=params)
    if method == "light_cone_gen":

        def step() -> None:
            i = next(counter) % pool
            grads, _, _ = light_cone(m, xs[i], targets[i])
            port.step(m, grads)

        return step
    if method in ("pipelined", "pipelined_fwd"):
        machine = Pipelined(stash=True, recompute=method == "pipelined")

        def step() -> None:
            i = next(counter) % pool
            machine.step(m, xs[i], targets[i], port)

        return step
    dyadic = Dyadic(schedule="light_cone" if method == "light_cone" else "ticks")

    def step() -> None:
        i = next(counter) % pool
        dyadic.step(m, xs[i], targets[i], port)

    return step


def _configure_threads() -> dict:
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(THREADS)
    info = {"threadpoolctl": threadpool_info()}
    return info


def worker(network: str, method: str, repeats: int, memory: bool) -> dict:
    """Time (or, with ``memory``, trace) one method on one network in this fresh process."""
    sizes = NETWORKS[network]
    # NOTE: load every BLAS before threadpoolctl looks: NumPy's OpenBLAS serves `@`, SciPy's own OpenBLAS serves
    # the fused path's gemm calls
    import numpy  # noqa: F401
    import scipy.linalg.blas  # noqa: F401

    if method.startswith("pytorch"):
        import torch

        torch.set_num_threads(THREADS)
    info = _configure_threads()
    if method.startswith("pytorch"):
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = _torch_blas(torch)
    # NOTE: a pass on a 16-wide net pages in the library code first, so the RSS delta counts data, not code
    small = _make_stepper(method, (sizes[0], 16, 16, sizes[-1]), seed=1)
    for _ in range(3):
        small()
    step = _make_stepper(method, sizes)
    if memory:
        import tracemalloc

        tracemalloc.start()
        for _ in range(3):
            step()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"tracemalloc_peak": peak}
    rss_before = _status_kib("VmRSS")
    reset = _reset_peak()
    timing = _time_repeats(step, repeats)
    peak = _status_kib("VmHWM") if reset else -1
    return {**timing, "rss_before_kib": rss_before, "peak_kib": peak, **info}


def _time_repeats(step, repeats: int) -> dict:
    """Warm up, then time ``repeats`` undisturbed repeats of a few calls each (per-call seconds, and disturbance)."""
    for _ in range(3):
        step()
    start = time.perf_counter()
    step()
    one = time.perf_counter() - start
    steps = max(2, math.ceil(REPEAT_SECONDS / max(one, 1e-6)))
    times, foreign = [], []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    deadline = time.perf_counter() + ATTEMPTS * repeats * max(REPEAT_SECONDS, steps * one)
    while sum(f <= FOREIGN_LIMIT for f in foreign) < repeats and (not times or time.perf_counter() < deadline):
        busy, own, start = _busy_seconds(), time.process_time(), time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - start
        times.append(wall / steps)
        # NOTE: CPU time the machine spent outside this process (all its threads) while the repeat ran, in cores
        foreign.append(max(0.0, (_busy_seconds() - busy) - (time.process_time() - own)) / wall)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {"times": times, "foreign": foreign, "steps_per_repeat": steps, "faults": faults / (steps * len(times))}


def e2e_data():
    """The end-to-end data set: centred uniform inputs labelled by a fixed random tanh teacher, float32."""
    import numpy as np

    rng = np.random.default_rng(7)
    sizes = NETWORKS[E2E_NETWORK]
    x = (rng.random((E2E_TRAIN + E2E_TEST, sizes[0]), dtype=np.float32) - 0.5) * 2.0
    hidden = np.tanh(x @ rng.normal(0.0, 1.0 / np.sqrt(sizes[0]), (sizes[0], 64)).astype(np.float32) * 2.0)
    y = np.argmax(hidden @ rng.normal(size=(64, sizes[-1])).astype(np.float32), axis=1)
    return x[:E2E_TRAIN], y[:E2E_TRAIN], x[E2E_TRAIN:], y[E2E_TRAIN:]


def e2e_worker(method: str, repeats: int) -> dict:
    """Whole training runs (fresh network each, same seed) timed end to end; the last run's test accuracies."""
    import numpy  # noqa: F401
    import scipy.linalg.blas  # noqa: F401

    if method == "e2e_pytorch":
        import torch

        torch.set_num_threads(THREADS)
    info = _configure_threads()
    x, y, x_test, y_test = e2e_data()
    sizes = NETWORKS[E2E_NETWORK]
    steps: list[float] = []  # train()'s seconds in steps per run (wavetrain's rows)
    if method == "e2e_pytorch":
        import torch

        tensors = [torch.from_numpy(a) for a in (x, y, x_test, y_test)]

        def run() -> list[float]:
            X, Y, XT, YT = tensors
            torch.manual_seed(0)
            layers: list = []
            for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(torch.nn.Linear(n_in, n_out))
                if index < len(sizes) - 2:
                    layers.append(torch.nn.Tanh())
            model = torch.nn.Sequential(*layers)
            optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
            criterion = torch.nn.CrossEntropyLoss()
            accuracy = []
            for _ in range(E2E_EPOCHS):
                order, running = torch.randperm(len(X)), 0.0
                for first in range(0, len(X), BATCH):
                    batch = order[first : first + BATCH]
                    optimizer.zero_grad()
                    loss = criterion(model(X[batch]), Y[batch])
                    loss.backward()
                    optimizer.step()
                    running += loss.item()
                with torch.no_grad():
                    accuracy.append((model(XT).argmax(1) == YT).float().mean().item())
            return accuracy
    else:
        from wavetrain import Network, train

        analog = {"e2e_analog": {"hardware": "reram"}, "e2e_analog_nofid": {"hardware": "reram", "fidelity_every": 0}}

        def run() -> list[float]:
            net = Network.mlp(sizes, activation="tanh", output_activation="identity", loss="cross_entropy", seed=0)
            result = train(
                net,
                (x, y, x_test, y_test),
                method="dyadic",
                epochs=E2E_EPOCHS,
                batch_size=BATCH,
                lr=LR,
                momentum=MOMENTUM,
                threads=THREADS,  # NOTE: the same count as the PyTorch loop (train()'s own default is 1)
                **analog.get(method, {}),
            )
            steps.append(result.wall_time)  # NOTE: the seconds in training steps (fidelity's included)
            return result.test_accuracy

    run()  # NOTE: warm-up: library code paged in, thread pools started
    times, foreign, accuracy = [], [], []
    for _ in range(repeats):
        busy, own, start = _busy_seconds(), time.process_time(), time.perf_counter()
        accuracy = run()
        wall = time.perf_counter() - start
        times.append(wall)
        foreign.append(max(0.0, (_busy_seconds() - busy) - (time.process_time() - own)) / wall)
    return {"times": times, "foreign": foreign, "accuracy": accuracy, "steps": steps[1:], **info}


def relax_worker(network: str, repeats: int) -> dict:
    """Relaxation alone, frozen weights, no port: light_cone vs run_ticks for L and 2L ticks (NumPy's BLAS for all)."""
    import numpy as np

    from wavetrain.compiler.network import Network
    from wavetrain.emulator.kernel import light_cone
    from wavetrain.emulator.relax import run_ticks

    _configure_threads()
    sizes = NETWORKS[network]
    net = Network.mlp(sizes, activation="tanh", output_activation="identity", loss="cross_entropy", seed=0)
    params = [(W.astype(np.float32), b.astype(np.float32)) for W, b in net.params()]
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, sizes[0]), dtype=np.float32)
    t = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], BATCH)]
    m, depth = net.machine(params=params), net.depth
    return {
        "light_cone": _time_repeats(lambda: light_cone(m, x, t), repeats),
        "ticks_2L": _time_repeats(lambda: run_ticks(m, x, t, 2 * depth, 1.0), repeats),
        "ticks_L": _time_repeats(lambda: run_ticks(m, x, t, depth, 1.0), repeats),
    }


def _torch_blas(torch) -> str:
    config = torch.__config__.show()
    blas = "mkl" if "BLAS_INFO=mkl" in config else "unknown"
    for line in config.splitlines():
        if "Math Kernel Library" in line or "oneDNN" in line or "MKL-DNN" in line:
            blas += "; " + line.strip(" -")
    return blas


# ---------------------------------------------------------------------------------------------------------------
# driver side


def _busy_seconds() -> float:
    """CPU seconds all processes on this machine have used since boot (user, system, irq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_worker(network: str, method: str, repeats: int, memory: bool, env: dict[str, str]) -> dict:
    cmd = [sys.executable, __file__, "--worker", network, method, "--repeats", str(repeats)]
    cmd += ["--momentum", str(MOMENTUM)]
    if method == "pytorch_nt":
        env = {**env, **UNTRIMMED_HEAP}
    if memory:
        cmd.append("--memory")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench worker {network} {method} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gemm_flops(sizes: tuple[int, ...]) -> tuple[float, float, float]:
    """Multiply-adds of the light cone, of the 2L-tick loop and of one tick (batch factor omitted: it cancels).

    Light cone: each layer's forward product once, each backward product (layers 2..L) once, each gradient product once.
    Ticks: every tick runs every forward and every backward product; the readout adds one forward and one gradient.
    """
    layer = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    forward, backward, gradient = sum(layer), sum(layer[1:]), sum(layer)
    depth = len(layer)
    return forward + backward + gradient, 2 * depth * (forward + backward) + forward + gradient, forward + backward


def _median_kept(timing: dict) -> float:
    kept = [t for t, f in zip(timing["times"], timing["foreign"]) if f <= FOREIGN_LIMIT]
    return statistics.median(kept or timing["times"])


def machine() -> dict:
    import numpy
    import scipy

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:
        versions["torch"] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "versions": versions}


def _blas_line(info: dict) -> str:
    parts = []
    for pool in info.get("threadpoolctl", []):
        name = pool.get("internal_api")
        if name == "openblas":
            owner = "SciPy's" if "scipy" in Path(pool.get("filepath", "")).parent.name else "NumPy's"
            parts.append(
                f"{owner} OpenBLAS {pool.get('version')} ({pool.get('threading_layer')}), kernel "
                f"`{pool.get('architecture')}`, {pool.get('num_threads')} threads"
            )
        elif name == "openmp":
            parts.append(f"OpenMP ({pool.get('prefix')}): {pool.get('num_threads')} threads")
        else:
            parts.append(f"{name} ({pool.get('prefix')}): {pool.get('num_threads')} threads")
    return "; ".join(parts)


def methods(results: dict) -> list[str]:
    """The methods measured in this run, in table order."""
    return [m for m in METHODS if any(key[1] == m for key in results)]


def verdict(results: dict) -> str:
    """The issue's target, light cone >= 1.0x PyTorch on both networks, stated against these numbers."""
    if ("784-512-512-10", "pytorch") not in results:
        return "Target (b) light cone >= 1.0x PyTorch: not measured, torch is not installed (`pip install torch`)."
    parts = []
    for network in NETWORKS:
        ratio = results[(network, "light_cone")]["rate"] / results[(network, "pytorch")]["rate"]
        state = "met" if ratio >= 1.0 else f"missed by {(1.0 - ratio) * 100:.0f}%"
        untrimmed = results[(network, "light_cone")]["rate"] / results[(network, "pytorch_nt")]["rate"]
        parts.append(f"{network}: {ratio:.2f}x, {state} ({untrimmed:.2f}x against (a'))")
    return (
        "Target (b) light cone >= 1.0x PyTorch (a), both in the default environment: " + "; ".join(parts) + ". "
        "Row (a') runs PyTorch with glibc told to keep freed memory ("
        + ", ".join(f"{k}={v}" for k, v in UNTRIMMED_HEAP.items())
        + "): PyTorch's CPU tensors come from malloc, and by "
        "default glibc returns large freed blocks to the kernel, so each step maps and zeroes them afresh (the page "
        "faults column). The light cone allocates nothing per step and is not affected."
    )


def _state(ratio: float, overlap: bool) -> str:
    """A goal of >= 1.0x stated against a measured ratio (``overlap``: the two sides' per-round spreads overlap)."""
    if ratio >= 1.0:
        return "met"
    return f"missed by {(1.0 - ratio) * 100:.1f}%" + (" (the per-round spreads overlap: parity)" if overlap else "")


def render(results: dict, memory: dict, relax: dict, meta: dict) -> str:
    lines = [
        "## Emulator training throughput",
        "",
        f"One training step per minibatch: float32, batch {BATCH}, tanh hidden layers, identity output, softmax "
        f"cross-entropy, SGD lr {LR}, momentum {MOMENTUM}. {THREADS} threads for NumPy and for torch. "
        f"Median over {meta['rounds']} rounds x {meta['repeats']} repeats, each in a fresh process, interleaved; "
        f"the spread is the min-max of the per-round medians of counted repeats. Other processes' CPU use is read "
        f"from /proc/stat around every repeat, and a repeat during which they used more than {FOREIGN_LIMIT} of a "
        f"core is not counted ({meta['kept']} of {meta['total']} repeats counted). Load average before / after: "
        f"{meta['load_before']} / {meta['load_after']}. Wall time {meta['wall']:.0f} s.",
        "",
        f"- NumPy side: {meta['blas_numpy']}",
        f"- torch side: {meta['blas_torch']}",
        f"- {meta['openblas_note']}",
        "",
        "| network | method | samples/s | spread | ratio to PyTorch | peak RSS | numpy peak | page faults/step "
        "| repeats counted |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for network in NETWORKS:
        base = results[(network, "pytorch")]["rate"] if (network, "pytorch") in results else None
        for method in methods(results):
            r = results[(network, method)]
            mem = memory.get((network, method))
            traced = f"{mem / 2**20:.1f} MiB" if mem is not None else "n/a (not NumPy)"
            rss = f"{r['peak_mib']:.1f} MiB" if r["peak_mib"] is not None else "n/a"
            ratio = f"{r['rate'] / base:.2f}x" if base else "n/a"
            lines.append(
                f"| {network} | {LABELS[method]} | {r['rate']:,.0f} | {r['low']:,.0f}-{r['high']:,.0f} | "
                f"{ratio} | {rss} | {traced} | "
                f"{r['faults']:,.0f} | {r['kept']} of {r['total']}"
                f"{'' if r['kept'] else ' (all disturbed: not a clean number)'} |"
            )
    lines += [
        "",
        verdict(results),
        "",
        '(b) is `Dyadic(schedule="light_cone").step` with a `HeavyBall` port, the call `train(method="dyadic")` '
        "makes per minibatch; on NumPy arrays it runs `emulator/fused.py`: every product one SciPy `sgemm`/`dgemm` "
        "into a preallocated buffer, the SGD (or momentum) update folded into the gradient product, delta formed in "
        "place. (b') is `kernel.light_cone` then `HeavyBall.step`, the array-library-agnostic path (cupy arrays, "
        "other ports), on NumPy's `@`. They agree within 1e-12 in float64 (tests/emulator/test_fused.py). `train()` "
        'trains float32 copies of the network\'s float64 weights by default (`dtype="float32"`), the arithmetic '
        "of this row; the end-to-end section below times whole `train()` runs.",
        "",
        "Peak RSS: the process's high-water mark over warm-up and timed steps minus its RSS just before the first "
        "step (parameters and data already allocated, library code paged in by a warm-up on a 16-wide network); "
        "it counts what training adds: gradients, saved activations, buffers, allocator caches. numpy peak: "
        "tracemalloc's peak of NumPy allocations over 3 steps in a separate fresh process (it does not see torch's "
        "allocator). Page faults/step: minor faults (getrusage) over the timed steps; each is a fresh page the "
        "kernel had to map and zero, which is where an array temporary costs most on this machine (glibc gives "
        "freed temporaries back to the kernel and takes them again the next step).",
        "",
        "### Tick-by-tick cost against the O(L^2) bound",
        "",
        "The light cone evaluates each of the 2L cells (L activations, L sensitivities) once. The tick loop evaluates "
        "all 2L cells on each of 2L ticks: 4L^2 cell evaluations, 2L times as many. Counted in matrix products, "
        "which dominate: the light cone runs L forward, L-1 backward and L gradient products; the loop runs L "
        "forward and L-1 backward products on every tick, then a readout (L forward, L gradient), about "
        "4L^2/(3L-1) times as many. The predicted column weights each product by its layer's size. Measured: the "
        "relaxation alone (frozen weights, no port; `light_cone` against `run_ticks` for 2L ticks, both on NumPy's "
        "BLAS), its per-tick cost from the difference of `run_ticks` for 2L and L ticks, and the whole training "
        "steps of the table above.",
        "",
        "| network | L | cells 2L | predicted flop ratio | relaxation: ticks(2L) / light cone | one tick / "
        "light cone (predicted) | step (c) / (b') | step (c) / (b) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for network, sizes in NETWORKS.items():
        cone, ticks, per_tick = gemm_flops(sizes)
        depth = len(sizes) - 1
        med = {name: _median_kept(timing) for name, timing in relax[network].items()}
        tick = (med["ticks_2L"] - med["ticks_L"]) / depth
        ticks_time = 1 / results[(network, "ticks")]["rate"]
        generic = ticks_time * results[(network, "light_cone_gen")]["rate"]
        fast = ticks_time * results[(network, "light_cone")]["rate"]
        lines.append(
            f"| {network} | {depth} | {2 * depth} | {ticks / cone:.2f} | {med['ticks_2L'] / med['light_cone']:.2f} "
            f"| {tick / med['light_cone']:.2f} ({per_tick / cone:.2f}) | {generic:.2f} | {fast:.2f} |"
        )
    lines += [
        "",
        "Relaxation times (median ms): "
        + "; ".join(
            f"{network}: light cone {_median_kept(r['light_cone']) * 1e3:.2f}, {len(NETWORKS[network]) - 1} ticks "
            f"{_median_kept(r['ticks_L']) * 1e3:.2f}, {2 * (len(NETWORKS[network]) - 1)} ticks "
            f"{_median_kept(r['ticks_2L']) * 1e3:.2f}"
            for network, r in relax.items()
        )
        + ". (c)/(b') divides two whole training steps on the same (NumPy, unfused) arithmetic; (c)/(b) also "
        "carries the fused path's own speed-up. Each step pays one port update and one readout, which the tick "
        "count does not multiply, so whole-step ratios sit below the relaxation ratio.",
        "",
    ]
    return "\n".join(lines)


def render_e2e(e2e: dict, results: dict, meta: dict) -> str:
    """The end-to-end section: whole runs of train() against the PyTorch loop, same run, same data."""
    samples = E2E_EPOCHS * E2E_TRAIN
    rows = {}
    for method, outs in e2e.items():
        pairs = [(t, f) for out in outs for t, f in zip(out["times"], out["foreign"])]
        kept = [t for t, f in pairs if f <= FOREIGN_LIMIT]
        rows[method] = {
            "seconds": statistics.median(kept or [t for t, _ in pairs]),
            "kept": len(kept),
            "total": len(pairs),
            "accuracy": outs[-1]["accuracy"],
            "spread": [statistics.median(out["times"]) for out in outs],
        }
    base = rows.get("e2e_pytorch")
    lines = [
        "### End to end: train() against the PyTorch loop a user would write",
        "",
        f"{E2E_NETWORK}, {E2E_TRAIN:,} training and {E2E_TEST:,} test samples (synthetic: centred uniform inputs "
        f"labelled by a fixed random tanh teacher), {E2E_EPOCHS} epochs, batch {BATCH}, SGD lr {LR}, momentum "
        f"{MOMENTUM}, test accuracy after every epoch; each side in fresh processes over the same rounds, a warm-up "
        f"run first, then timed whole runs (wall clock, from the call to its return: train()'s own data checks, "
        f"float32 copies and per-epoch metrics included). Repeats disturbed by other processes (> {FOREIGN_LIMIT} of "
        f"a core) are not counted unless none is clean. Load average before / after: {meta['load_before']} / "
        f"{meta['load_after']} ({os.cpu_count()} cores); wall time {meta['wall']:.0f} s.",
        "",
        "| method | s per run | spread (per-round medians) | samples/s | ratio to the PyTorch loop | test accuracy "
        "per epoch | runs counted |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for method, row in rows.items():
        ratio = f"{base['seconds'] / row['seconds']:.2f}x" if base else "n/a"
        spread = "-".join(f"{s:.2f}" for s in (min(row["spread"]), max(row["spread"])))
        accuracy = ", ".join(f"{a:.3f}" for a in row["accuracy"])
        lines.append(
            f"| {LABELS[method]} | {row['seconds']:.2f} | {spread} | {samples / row['seconds']:,.0f} | "
            f"{ratio} | {accuracy} | {row['kept']} of {row['total']} |"
        )
    if base and "e2e_train" in rows:
        ratio = base["seconds"] / rows["e2e_train"]["seconds"]
        # NOTE: seconds per run: the spreads overlap when the slower side's fastest round beats the other's slowest
        overlap = min(rows["e2e_train"]["spread"]) <= max(base["spread"])
        state = _state(ratio, overlap)
        clean = base["kept"] and rows["e2e_train"]["kept"]
        caveat = (
            ""
            if clean
            else (
                " Not a clean number: no run was undisturbed by other processes (a loaded machine "
                "slows PyTorch's OpenMP threads more than NumPy's); rerun `make bench` when quiet."
            )
        )
        lines += ["", f"Target train() >= 1.0x the PyTorch loop end to end: {ratio:.2f}x, {state}.{caveat}"]
    pipes = [m for m in ("pipelined", "pipelined_fwd") if (E2E_NETWORK, m) in results]
    if pipes and (E2E_NETWORK, "pytorch") in results:
        torch = results[(E2E_NETWORK, "pytorch")]
        lines += [
            "",
            "The pipelined machine with delay lines (`Pipelined(stash=True).step` + `HeavyBall`, a new minibatch every "
            "tick, every layer on a different minibatch; on NumPy arrays `emulator/pipeline_fused.py`: each layer's "
            "gemms on both cores in turn, the waves and the delay lines one set of rings) against the PyTorch step, "
            "same run. (d) recomputes sigma'(a) from the delayed input, a fourth matrix product per layer; (d') takes "
            "it from the forward pass, which the delay lines carry too (`recompute=False`, method "
            "`pipelined+stash-forward`), three products per layer as backprop:",
            "",
            "| network | method | samples/s | spread | ratio to PyTorch | repeats counted |",
            "| --- | --- | ---: | --- | ---: | ---: |",
            f"| {E2E_NETWORK} | {LABELS['pytorch']} | {torch['rate']:,.0f} | {torch['low']:,.0f}-{torch['high']:,.0f} "
            f"| 1.00x | {torch['kept']} of {torch['total']} |",
        ]
        verdicts = []
        for name in pipes:
            pipe = results[(E2E_NETWORK, name)]
            ratio = pipe["rate"] / torch["rate"]
            lines.append(
                f"| {E2E_NETWORK} | {LABELS[name]} | {pipe['rate']:,.0f} | {pipe['low']:,.0f}-"
                f"{pipe['high']:,.0f} | {ratio:.2f}x | {pipe['kept']} of {pipe['total']} |"
            )
            state = _state(ratio, pipe["high"] >= torch["low"])
            verdicts.append(
                f"{LABELS[name].split(' ')[0]} {ratio:.2f}x, {state}"
                + ("" if pipe["kept"] and torch["kept"] else " (not a clean number)")
            )
        lines += [
            "",
            f"Goal: the pipelined machine >= 1.0x PyTorch samples/s on {E2E_NETWORK}: " + "; ".join(verdicts) + ".",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    global MOMENTUM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("NETWORK", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of fresh processes (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per process (default 5)")
    parser.add_argument("--e2e-repeats", type=int, default=2, help="end-to-end runs per process (default 2)")
    parser.add_argument("--e2e-only", action="store_true", help="only the end-to-end section (emulator_e2e.md)")
    parser.add_argument("--momentum", type=float, default=0.0, help="heavy-ball momentum, both sides (default 0)")
    parser.add_argument("--out", type=Path, default=RESULT, help=f"markdown output (default {RESULT})")
    args = parser.parse_args()
    MOMENTUM = args.momentum
    if args.worker:
        network, method = args.worker
        if method == "relax":
            out = relax_worker(network, args.repeats)
        elif method in E2E_METHODS + E2E_ANALOG:
            out = e2e_worker(method, args.repeats)
        else:
            out = worker(network, method, args.repeats, args.memory)
        print(json.dumps(out))
        return
    env, note = thread_env()
    wall = time.perf_counter()
    load_before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    chosen = METHODS if importlib.util.find_spec("torch") else tuple(m for m in METHODS if "pytorch" not in m)
    networks = {E2E_NETWORK: NETWORKS[E2E_NETWORK]} if args.e2e_only else NETWORKS
    if args.e2e_only:
        chosen = tuple(m for m in chosen if m in ("pytorch", "pipelined", "pipelined_fwd"))
    samples: dict = {key: [] for key in ((n, m) for n in networks for m in chosen)}
    info: dict = {}
    for round_index in range(args.rounds):
        for network in networks:
            for method in chosen:
                out = run_worker(network, method, args.repeats, False, env)
                samples[(network, method)].append(out)
                info.setdefault(method, out)
                kept = [t for t, f in zip(out["times"], out["foreign"]) if f <= FOREIGN_LIMIT]
                rate = BATCH / statistics.median(kept or out["times"])
                print(
                    f"round {round_index + 1}: {network} {method}: {rate:,.0f} samples/s "
                    f"({len(kept)} of {len(out['times'])} repeats undisturbed)",
                    file=sys.stderr,
                )
    e2e_chosen = E2E_METHODS if "pytorch" in chosen else ("e2e_train",)
    e2e: dict = {method: [] for method in e2e_chosen}
    for round_index in range(args.rounds):
        for method in e2e_chosen:
            out = run_worker(E2E_NETWORK, method, args.e2e_repeats, False, env)
            e2e[method].append(out)
            print(
                f"round {round_index + 1}: end to end {method}: {statistics.median(out['times']):.2f} s per run",
                file=sys.stderr,
            )
    relax = (
        {}
        if args.e2e_only
        else {network: run_worker(network, "relax", args.repeats, False, env) for network in NETWORKS}
    )
    memory = {}
    for network in {} if args.e2e_only else NETWORKS:
        for method in chosen:
            if not method.startswith("pytorch"):
                memory[(network, method)] = run_worker(network, method, 1, True, env)["tracemalloc_peak"]
    results = {}
    for key, outs in samples.items():
        pairs = [(t, f) for out in outs for t, f in zip(out["times"], out["foreign"])]
        kept = [t for t, f in pairs if f <= FOREIGN_LIMIT]
        per_round = []
        for out in outs:
            clean = [t for t, f in zip(out["times"], out["foreign"]) if f <= FOREIGN_LIMIT]
            if clean or not kept:  # NOTE: a round with no undisturbed repeat is left out of the spread
                per_round.append(BATCH / statistics.median(clean or out["times"]))
        peaks = [out["peak_kib"] - out["rss_before_kib"] for out in outs if out["peak_kib"] >= 0]
        results[key] = {
            "rate": BATCH / statistics.median(kept or [t for t, _ in pairs]),
            "low": min(per_round),
            "high": max(per_round),
            "peak_mib": max(peaks) / 1024 if peaks else None,
            "faults": statistics.median(out["faults"] for out in outs),
            "kept": len(kept),
            "total": len(pairs),
        }
    meta = {
        "rounds": args.rounds,
        "repeats": args.repeats,
        "load_before": load_before,
        "load_after": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        "wall": time.perf_counter() - wall,
        "blas_numpy": _blas_line(info["light_cone"]) if "light_cone" in info else "",
        "blas_torch": (
            info["pytorch"].get("torch_blas", "?")
            + "; "
            + _blas_line({"threadpoolctl": [p for p in info["pytorch"]["threadpoolctl"] if p["user_api"] != "blas"]})
            + f"; torch.get_num_threads() = {info['pytorch'].get('torch_threads')}"
            if "pytorch" in info
            else "torch not installed"
        ),
        "openblas_note": note,
        "kept": sum(r["kept"] for r in results.values()),
        "total": sum(r["total"] for r in results.values()),
    }
    # NOTE: imported here, not at the top: the worker processes must load no BLAS before the one they measure
    from wavetrain.files import atomic_write

    if not args.e2e_only:
        text = render(results, memory, relax, meta)
        atomic_write(args.out, text)
        print(text)
    text = render_e2e(e2e, results, meta)
    atomic_write(E2E_RESULT, text)
    print(text)


if __name__ == "__main__":
    main()
