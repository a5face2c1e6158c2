"""Three ways of getting a chip's weights, over the chip's lifetime, and refresh against none (issue 22).

Two networks, on the pcm and reram presets (the seed draws the network, the minibatch order and the chips), batch
32, momentum 0.9:

  digits    scikit-learn's 8x8 (the fixed 1438 / 359 split), 64-128-128-10 tanh, softmax cross-entropy, 30 epochs,
            SGD lr 0.05, seeds 0, 1, 2
  mnist1d   the preset ``cnn1d-mnist1d`` (3 Conv1d + Linear, ReLU) on MNIST-1D (4000 / 1000), dyadic, lr 0.02,
            20 epochs (half of ``make hardware``'s 40) and seeds 0, 1 only: a 16-chip in-situ run of this CNN costs
            12-16 s an epoch on the shared 2-core machine

The weights come three ways:

  float     trained in float (the ideal substrate), then programmed once onto 16 chips
  hwa       hardware-aware training: float training with the chip's noise in the forward and backward waves (the
            ``hwa-<preset>`` noise model of :func:`wavetrain.emulator.lifetime.hwa_model`: read noise on every
            product, the DAC / ADC and their noise, exact writes), then programmed once onto 16 chips
  in situ   trained on the 16 chips themselves (``train(hardware=..., chips=16)``), then left to drift as training
            left them (their devices, bounds and stuck cells; the clock starts at the end of training)

Each chip is then read at 1 s, 1 min, 1 h, 1 day, 1 month and 1 year (:func:`wavetrain.emulator.lifetime.lifetime`:
per-device drift exponents, read noise at every read; programmed chips in float32, as in-situ ones), without and
with global drift compensation; mean +- std over the 16 chips of every seed. On pcm the same chips are also read
with refresh (``lifetime(..., refresh=P)``: re-programmed every P from a digital copy of their first weights):
daily refresh read at 1 month and 1 year, and, for P = 1 h, 1 day and 1 month, the worst point of the cycle (read
at 2 P - 1 s, just before the second refresh).

Run: ``python benchmarks/lifetime.py [--datasets digits,mnist1d] [--epochs-mnist1d N] [--workers 2] [--reuse]``;
writes the section "A chip over its lifetime" of docs/hardware.md (the rest of it is `make hardware`'s),
docs/hardware_lifetime.png and docs/hardware_lifetime.json (every run, written as each finishes; ``--reuse`` keeps
the runs there whose settings match instead of running them again).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1, 2)
SIZES = [64, 128, 128, 10]
CHIPS = 16
DATASETS = {
    "digits": {"label": "digits 64-128-128-10 tanh", "epochs": 30, "lr": 0.05, "method": "dyadic", "seeds": SEEDS},
    "mnist1d": {"label": "MNIST-1D CNN (cnn1d-mnist1d)", "epochs": 20, "lr": 0.02, "method": "dyadic", "seeds": (0, 1)},
}
HARDWARE = ("pcm", "reram")
WAYS = ("float", "hwa", "in situ")
COMPENSATION = ("none", "global")
TIMES = (1.0, 60.0, 3600.0, 86400.0, 2.6e6, 3.15e7)
TIME_NAMES = ("1 s", "1 min", "1 h", "1 day", "1 month", "1 year")
DAILY, DAILY_TIMES = 86400.0, (2.6e6, 3.15e7)
PERIODS = ((3600.0, "1 h"), (86400.0, "1 day"), (2.6e6, "1 month"))
SECTION = "## A chip over its lifetime"


def _network(dataset: str, seed: int):
    import wavetrain

    if dataset == "digits":
        return wavetrain.Network.mlp(SIZES, activation="tanh", loss="cross_entropy", seed=seed)
    return wavetrain.model("cnn1d-mnist1d", seed=seed)


def one_run(job: tuple[str, str, str, int, int]) -> dict:
    dataset, hardware, way, seed, epochs = job
    import wavetrain
    from wavetrain.emulator.lifetime import hwa_model, lifetime

    data = wavetrain.datasets.load(dataset)
    net = _network(dataset, seed)
    spec = DATASETS[dataset]
    options = {"method": spec["method"], "epochs": epochs, "seed": seed, "lr": spec["lr"], "momentum": 0.9,
               "batch_size": 32, "progress": False}  # fmt: skip
    start = time.perf_counter()
    if way == "float":
        result = wavetrain.train(net, data, **options)
    elif way == "hwa":
        result = wavetrain.train(net, data, hardware=hwa_model(hardware), fidelity_every=0, **options)
    else:
        result = wavetrain.train(net, data, hardware=hardware, chips=CHIPS, fidelity_every=0, **options)
    trained = time.perf_counter() - start

    def read(times, refresh=None):
        if way == "in situ":
            return lifetime(net, data, times=times, compensation=COMPENSATION, chip_run=result.chip_run,
                            refresh=refresh)  # fmt: skip
        return lifetime(net, data, hardware, times, CHIPS, seed, COMPENSATION, refresh=refresh, dtype=np.float32)

    out = {
        "dataset": dataset, "hardware": hardware, "way": way, "seed": seed, "epochs": epochs, "lr": spec["lr"],
        "trained_accuracy": result.final_test_accuracy, "accuracy": read(TIMES).accuracy,
    }  # fmt: skip
    if hardware == "pcm":
        out["daily"] = read(DAILY_TIMES, DAILY).accuracy
        out["worst"] = {name: read((2 * period - 1.0,), period).accuracy for period, name in PERIODS}
    out.update(train_seconds=trained, seconds=time.perf_counter() - start)
    return out


def _cell(values) -> str:
    values = np.asarray(values)
    return f"{100 * values.mean():.1f} +- {100 * values.std():.1f}"


def _pool(mine: list[dict], key: str, comp: str) -> np.ndarray:
    """(times, chips x seeds) accuracies of ``key`` ("accuracy" or "daily") under ``comp``."""
    return np.array([[a for r in mine for a in r[key][comp][k]] for k in range(len(mine[0][key][comp]))])


def section(runs: list[dict], wall: float | None) -> tuple[list[str], dict]:
    lines = [
        SECTION,
        "",
        "Generated by `make lifetime` (`benchmarks/lifetime.py`, whose docstring defines the runs); batch 32, momentum "
        "0.9. The weights come from float training (programmed once onto 16 chips), from "
        "hardware-aware training (float training with the chip's read noise and converters in the forward and "
        "backward waves, the `hwa-<preset>` noise model; programmed once onto 16 chips) or from training in situ on "
        "the 16 chips (left as training left them). Each chip is read at each time after programming (per-device "
        "drift exponents, read noise at every read), without and with global drift compensation (aihwkit's: one "
        "scale per layer from an identity calibration read). Programmed chips compute in float32, as the in-situ "
        "chips do. Test accuracy %, mean +- std over the chips of every seed.",
    ]
    curves: dict[tuple[str, str], dict[str, tuple]] = {}
    summary: dict[str, list[float]] = {}
    for dataset, spec in DATASETS.items():
        mine_ds = [r for r in runs if r["dataset"] == dataset]
        if not mine_ds:
            continue
        epochs, seeds = mine_ds[0]["epochs"], sorted({r["seed"] for r in mine_ds})
        lines += [
            "",
            f"### {spec['label']}: {epochs} epochs, lr {spec['lr']}, seeds {', '.join(map(str, seeds))} "
            f"({CHIPS} x {len(seeds)} = {CHIPS * len(seeds)} chips a row)",
            "",
            "| hardware | weights | compensation | trained % | " + " | ".join(TIME_NAMES) + " |",
            "| --- | --- | --- | ---: | " + " | ".join("---:" for _ in TIMES) + " |",
        ]
        for hw in HARDWARE:
            curves[(dataset, hw)] = {}
            for way in WAYS:
                mine = [r for r in mine_ds if r["hardware"] == hw and r["way"] == way]
                if not mine:
                    continue
                trained = _cell([r["trained_accuracy"] for r in mine])
                for comp in COMPENSATION:
                    per_time = _pool(mine, "accuracy", comp)
                    lines.append(f"| {hw} | {way} | {comp} | {trained} | "
                                 + " | ".join(_cell(row) for row in per_time) + " |")  # fmt: skip
                    curves[(dataset, hw)][f"{way}, {comp}"] = (TIMES, per_time.mean(axis=1), per_time.std(axis=1))
                    summary[f"{dataset}/{hw}/{way}/{comp}"] = per_time.mean(axis=1).tolist()
        lines += [
            "",
            '"trained %" is the run\'s own final test accuracy (float: on the ideal substrate; hwa: under its noise '
            "model; in situ: on the chips, read as `train` reads them, at the preset's t_inference, 1 h for pcm, "
            "without compensation), mean +- std over the seeds (in situ: over the chips and seeds).",
        ]
        refresh = [r for r in mine_ds if "daily" in r]
        if refresh:
            lines += [
                "",
                f"Refresh on pcm ({spec['label']}): the same chips re-programmed every P from a digital copy of "
                'their first weights (`lifetime(..., refresh=P)`). "daily": P = 1 day, read on the grid (at 1 month '
                'the chips are 2.2 h past a refresh, at 1 year 14 h); "worst, P": read just before the second '
                'refresh (2 P - 1 s), the lowest point of the cycle. "none, 1 year" is the table above.',
                "",
                "| weights | compensation | none, 1 year | daily, 1 month | daily, 1 year | "
                + " | ".join(f"worst, P = {name}" for _, name in PERIODS)
                + " |",
                "| --- | --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in PERIODS) + " |",
            ]
            for way in WAYS:
                mine = [r for r in refresh if r["way"] == way]
                if not mine:
                    continue
                for comp in COMPENSATION:
                    plain, daily = _pool(mine, "accuracy", comp), _pool(mine, "daily", comp)
                    worst = [np.array([a for r in mine for a in r["worst"][name][comp][0]]) for _, name in PERIODS]
                    lines.append(f"| {way} | {comp} | {_cell(plain[-1])} | {_cell(daily[0])} | {_cell(daily[1])} | "
                                 + " | ".join(_cell(w) for w in worst) + " |")  # fmt: skip
                    summary[f"{dataset}/pcm/{way}/{comp}/worst-1day"] = [float(worst[1].mean())]
        lines += ["", _reading(dataset, summary)]
    lines += ["", "![accuracy over the lifetime](hardware_lifetime.png)", ""]
    seconds = {d: sum(r["seconds"] for r in runs if r["dataset"] == d) for d in DATASETS}
    lines.append(
        "Machine: the project's shared 2-core machine, parallel workers under other load ("
        + ", ".join(f"{d}: {s:.0f} s of runs" for d, s in seconds.items() if s)
        + (f"; {wall:.0f} s wall" if wall is not None else "")
        + "); the runs are deterministic from their seeds."
    )
    lines.append("")
    return lines, {"curves": curves, "summary": summary}


def _reading(dataset: str, summary: dict[str, list[float]]) -> str:
    """One paragraph of the numbers that answer the questions of issue 22 for ``dataset`` (means, %)."""

    def at(key: str, k: int = -1) -> str:
        return f"{100 * summary[f'{dataset}/{key}'][k]:.1f}"

    ways = ", ".join(f"{way} {at(f'pcm/{way}/none', 0)}" for way in WAYS)
    comp = ", ".join(f"{way} {at(f'pcm/{way}/global')}" for way in WAYS)
    bare = ", ".join(f"{way} {at(f'pcm/{way}/none')}" for way in WAYS)
    reram = ", ".join(f"{way} {at(f'reram/{way}/none')}" for way in WAYS)
    worst = ", ".join(f"{way} {at(f'pcm/{way}/none/worst-1day')}" for way in WAYS)
    both = ", ".join(f"{way} {at(f'pcm/{way}/global/worst-1day')}" for way in WAYS)
    return (
        f"Reading ({dataset}, means %): on pcm one second after programming {ways}; a year later uncompensated "
        f"{bare}, with global compensation {comp}. On reram after a year, uncompensated: {reram}. Daily refresh "
        f"without compensation, at its worst (a day after a refresh): {worst}; with global compensation as well: "
        f"{both}."
    )


def plot(curves: dict, path: Path, seeds: dict[str, int]) -> None:
    from wavetrain import plots

    keys = [k for k in curves if curves[k]]
    rows = sorted({d for d, _ in keys}, key=list(DATASETS).index)
    fig, axes = plots._figure(len(rows), len(HARDWARE), size=(6.5 * len(HARDWARE), 4.5 * len(rows)))
    axes = np.array(axes).reshape(len(rows), len(HARDWARE))
    for i, dataset in enumerate(rows):
        for j, hw in enumerate(HARDWARE):
            ax = axes[i, j]
            for label, (t, mean, std) in curves.get((dataset, hw), {}).items():
                style = "-" if label.endswith("none") else "--"
                (line,) = ax.semilogx(t, 100 * mean, style, marker="o", ms=3, label=label)
                ax.fill_between(t, 100 * (mean - std), 100 * (mean + std), color=line.get_color(), alpha=0.12)
            ax.set(xlabel="time since programming [s]", ylabel="test accuracy [%]",
                   title=f"{DATASETS[dataset]['label']} on {hw}: {CHIPS} chips x {seeds[dataset]} seeds")  # fmt: skip
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
    plots.save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: digits, mnist1d")
    parser.add_argument("--epochs-digits", type=int, default=DATASETS["digits"]["epochs"])
    parser.add_argument("--epochs-mnist1d", type=int, default=DATASETS["mnist1d"]["epochs"])
    parser.add_argument("--seeds", default="", help="comma-separated seeds for every dataset (default: its own)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep the matching runs of the JSON already there")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    from wavetrain.files import atomic_write

    chosen = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for name in chosen:
        if name not in DATASETS:
            parser.error(f"--datasets: expected names among {', '.join(DATASETS)}, got {name!r}")
    epochs = {"digits": args.epochs_digits, "mnist1d": args.epochs_mnist1d}
    store = args.out / "hardware_lifetime.json"
    old = json.loads(store.read_text()) if store.exists() else []
    old = [r for r in old if isinstance(r, dict) and "dataset" in r]
    key = lambda r: (r["dataset"], r["hardware"], r["way"], r["seed"], r["epochs"])  # noqa: E731
    seeds = {d: [int(v) for v in args.seeds.split(",")] if args.seeds else list(DATASETS[d]["seeds"]) for d in chosen}
    wanted = [(d, hw, way, seed, epochs[d]) for d in chosen for hw in HARDWARE for way in WAYS for seed in seeds[d]]
    kept = [r for r in old if key(r) in set(wanted)] if args.reuse else []
    done = {key(r) for r in kept}
    # NOTE: the in-situ CNN runs are the long ones: first, so two workers finish together
    todo = sorted((j for j in wanted if j not in done), key=lambda j: (j[0] != "mnist1d", j[2] != "in situ"))
    # NOTE: runs of datasets not chosen this time are kept from the JSON, so one dataset can be rerun alone
    runs = [r for r in old if r["dataset"] not in chosen] + kept
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(one_run, job) for job in todo]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            atomic_write(store, json.dumps(runs, indent=1))
            print(f"{run['dataset']} {run['hardware']} {run['way']} seed {run['seed']}: {run['seconds']:.0f} s",
                  flush=True)  # fmt: skip
    wall = time.perf_counter() - began if todo else None
    runs.sort(key=lambda r: (list(DATASETS).index(r["dataset"]), HARDWARE.index(r["hardware"]),
                             WAYS.index(r["way"]), r["seed"]))  # fmt: skip
    atomic_write(store, json.dumps(runs, indent=1))
    lines, extra = section(runs, wall)
    text = "\n".join(lines)
    page = args.out / "hardware.md"
    head = page.read_text().split("\n" + SECTION)[0].rstrip("\n") if page.exists() else ""
    atomic_write(page, (head + "\n\n" if head else "") + text)
    plot(extra["curves"], args.out / "hardware_lifetime.png",
         {d: len({r["seed"] for r in runs if r["dataset"] == d}) for d in DATASETS})  # fmt: skip
    print(text)


if __name__ == "__main__":
    main()
