"""The sweep file: base training settings, the axes (a grid and/or random samples of ranges), seeds and metrics.

A sweep file is YAML (read with the YAML 1.2 core schema: ``1:30`` and ``yes`` stay strings, a key may appear once)
or TOML, by its suffix. Every key is checked before any task starts, and a bad one raises :class:`SweepError` naming
it (``grid.lr[2]: expected a number, got 'fast'``); so is a sweep that would expand past MAX_SETTINGS settings,
MAX_TASKS tasks or the memory limit, with the product in the refusal::

    name: digits-lr                  # optional, shown in reports
    base: {dataset: digits, layers: [64, 32, 10], epochs: 5}   # settings every task shares
    grid:                            # the cartesian product of these values
      lr: [0.01, 0.05]
      method: [backprop, wave]
    random:                          # optional: `samples` random draws of these ranges, crossed with the grid
      samples: 4
      axes: {momentum: {low: 0.0, high: 0.9}, hold: {low: 2, high: 8, integer: true}}
    seeds: 3                         # replicate indices 0..2 (or a list of indices)
    root_seed: 0                     # entropy of numpy's SeedSequence
    metrics: [test_accuracy, train_loss, fidelity]   # default: every metric

Left unset, ``lr`` and ``momentum`` are the method's own defaults, as ``train()``'s (lr 0.05; momentum 0.9, 0 for
the pipelined machines, OCNOpt and the curvature port, 0.5 for forward gradients), recorded in each task's setting.

Seeds: replicate ``i`` of every setting gets the child ``SeedSequence(root_seed, spawn_key=(i,))``, whose first
32-bit word ``run_seed`` initialises the network and orders the minibatches (as ``wavetrain train --seed``), so
replicate ``i`` starts from the same weights in every setting (paired comparisons) and any row can be rerun alone.
Random axes are drawn from ``default_rng(SeedSequence([root_seed, 1]))``, the same on every machine.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from wavetrain.errors import SweepError

FORMAT_VERSION = 1
TOP_KEYS = ("name", "description", "base", "grid", "random", "seeds", "root_seed", "metrics")
METRICS = ("test_accuracy", "train_accuracy", "train_loss", "test_loss", "fidelity", "chip_accuracy")
HARDWARE_PREFIX = "hardware."
RANDOM_SPEC_KEYS = ("low", "high", "log", "integer")
NULLABLE = ("layers", "network", "model", "hold", "horizon", "hardware")  # null: the default (in,128,128,out MLP;
# no saved network; no preset; 2L; L/2; ideal)
SWEEP_FILE_LIMIT = 4 * 2**20  # bytes of a sweep file read at most
MAX_SETTINGS = 10_000  # settings a sweep may expand to: plan() checks each with train() (~25 ms each)
MAX_TASKS = 100_000  # (setting, seed) tasks a sweep may expand to
TASK_BYTES = 4096  # memory one planned task holds, generously (its setting, Task and id: ~400 B measured)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _preset(value: Any) -> str | None:
    from wavetrain.compiler.models import PRESETS

    return value if isinstance(value, str) and value in PRESETS else None


def _layers(value: Any) -> list[int] | None:
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.split(",")]
        except ValueError:
            return None
    if isinstance(value, list) and len(value) >= 2 and all(_is_int(v) and v >= 1 for v in value):
        return list(value)
    return None


# axis -> (what the message says is expected, check returning the normalised value or None when wrong)
Check = Callable[[Any], Any]
_STR: tuple[str, Check] = ("a string", lambda v: v if isinstance(v, str) else None)
_INT: tuple[str, Check] = ("an integer >= 1", lambda v: v if _is_int(v) and v >= 1 else None)
_OPT_INT: tuple[str, Check] = ("an integer >= 1 or null", lambda v: v if _is_int(v) and v >= 1 else None)
_NUMBER: tuple[str, Check] = ("a number", lambda v: float(v) if _is_number(v) else None)
AXES: dict[str, tuple[str, Check]] = {
    "dataset": _STR,
    "layers": ("widths, input first: a list of >= 2 integers >= 1 or '64,32,10'", _layers),
    "network": ("a saved network file (.npz) or null", lambda v: v if isinstance(v, str) and v else None),
    "model": ("a model preset (wavetrain train --help lists them) or null", _preset),
    "activation": _STR,
    "loss": _STR,
    "method": _STR,
    "schedule": _STR,
    "epochs": _INT,
    "batch_size": _INT,
    "lr": _NUMBER,
    "momentum": _NUMBER,
    "hold": _OPT_INT,
    "horizon": _OPT_INT,
    "hardware": ("a preset name, a .json path or null", lambda v: v if isinstance(v, str) else None),
    "chips": _INT,
    "dtype": ("'float32' or 'float64'", lambda v: v if v in ("float32", "float64") else None),
    "fidelity_every": (
        "an integer >= 0 (minibatches between gradient-fidelity samples; 0: none)",
        lambda v: v if _is_int(v) and v >= 0 else None,
    ),
}
DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "layers": None,
    "network": None,
    "model": None,
    "activation": "tanh",
    "loss": "auto",
    "method": "dyadic",
    "schedule": "light_cone",
    "epochs": 30,
    "batch_size": 32,
    "hold": None,
    "horizon": None,
    "hardware": None,
    "chips": 1,
    "fidelity_every": 10,
    "dtype": "float32",
}


# NOTE: lr and momentum left unset are the method's own (emulator/methods.py method_defaults, as train() uses),
# resolved per setting and recorded in it, so a task's id names the values it trains with. These were every
# method's defaults before (issue 24); a task whose method's defaults equal them keeps its id, and the sweep's
# identity counts them so that a sweep none of whose settings resolves otherwise keeps its id too.
PER_METHOD = ("lr", "momentum")
LEGACY = {"lr": 0.05, "momentum": 0.9}


@dataclass(frozen=True)
class Task:
    """One (setting, seed) of a sweep: everything a worker needs to train it, and its stable id."""

    task_id: str
    setting: dict[str, Any]  # every training setting, base and swept
    axes: dict[str, Any]  # the swept axes' values of this task
    seed: int  # replicate index
    run_seed: int  # from SeedSequence(root_seed, spawn_key=(seed,))
    train_metrics: bool = False  # evaluate the whole training set every epoch (the train_accuracy metric)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file, normalised (defaults filled, numbers as floats where the axis is a number)."""

    source: str
    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    random: dict[str, dict[str, Any]]
    samples: int
    seeds: list[int]
    root_seed: int
    metrics: tuple[str, ...]
    description: str = ""
    settings: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def axis_names(self) -> list[str]:
        return [*self.grid, *self.random]

    def identity(self) -> dict[str, Any]:
        """What makes two sweeps the same sweep (name and description excluded)."""
        identity: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "base": {**LEGACY, **self.base},  # NOTE: as sweeps planned before per-method defaults recorded it
            "grid": self.grid,
            "random": self.random,
            "samples": self.samples,
            "seeds": self.seeds,
            "root_seed": self.root_seed,
            "metrics": list(self.metrics),
        }
        moved = self.method_defaults()
        if moved:
            identity["method_defaults"] = moved
        return identity

    def method_defaults(self) -> dict[str, dict[str, float]]:
        """Per method, the unset lr / momentum its settings resolve to where they differ from :data:`LEGACY`."""
        moved: dict[str, dict[str, float]] = {}
        for setting in self.settings:
            for key in setting.get("_defaulted", ()):
                if setting[key] != LEGACY[key]:
                    moved.setdefault(str(setting["method"]), {})[key] = setting[key]
        return moved

    @property
    def sweep_id(self) -> str:
        return _digest(self.identity())


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw mapping of a YAML (1.2 core schema) or TOML sweep file; a regular file within SWEEP_FILE_LIMIT."""
    from wavetrain.compiler.formats import loads_yaml, read_regular

    path = Path(path)
    if not path.exists():
        raise SweepError(f"{path}: no such sweep file")
    data = read_regular(path, "sweep file", SweepError, SWEEP_FILE_LIMIT)
    if path.suffix == ".toml":
        try:
            raw = _toml(data.decode())
        except (ValueError, RecursionError) as err:  # NOTE: TOMLDecodeError and UnicodeDecodeError are ValueErrors
            raise SweepError(f"{path}: not a readable TOML file: {err}") from err
    else:
        raw = loads_yaml(data, str(path), SweepError)  # NOTE: no duplicate key, no YAML 1.1 surprise, aliases budgeted
    if raw is None or raw == {}:  # NOTE: an empty file (or one of comments) is a mistake, not a sweep of defaults
        raise SweepError(f"{path}: the file is empty, expected a mapping of some of {', '.join(TOP_KEYS)}")
    if not isinstance(raw, dict):
        raise SweepError(f"{path}: expected a mapping of {', '.join(TOP_KEYS)}, got {type(raw).__name__}")
    return raw


def _toml(text: str) -> Any:
    import tomllib  # NOTE: Python >= 3.11

    return tomllib.loads(text)


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a sweep file (keys, types, grid); settings are checked against train() by :func:`plan`."""
    raw = read_file(path)
    where = str(path)
    unknown = [key for key in raw if key not in TOP_KEYS]
    if unknown:
        raise SweepError(f"{where}: unknown key {unknown[0]!r}; expected some of {', '.join(TOP_KEYS)}")
    base = _mapping(raw.get("base", {}), f"{where}: base")
    for key, value in base.items():
        base[key] = _check_value(key, value, f"{where}: base.{key}")
    grid = _grid(raw.get("grid"), base, where)
    random, samples = _random(raw.get("random"), base, grid, where)
    seeds = _seeds(raw.get("seeds", 1), f"{where}: seeds")
    _budget(grid, samples, len(seeds), where)
    root_seed = raw.get("root_seed", 0)
    if not _is_int(root_seed) or root_seed < 0:
        raise SweepError(f"{where}: root_seed: expected an integer >= 0, got {root_seed!r}")
    metrics = raw.get("metrics", list(METRICS))
    if not isinstance(metrics, list) or not metrics:
        raise SweepError(f"{where}: metrics: expected a non-empty list of {', '.join(METRICS)}, got {metrics!r}")
    for index, metric in enumerate(metrics):
        if metric not in METRICS:
            raise SweepError(
                f"{where}: metrics[{index}]: unknown metric {metric!r}; expected one of {', '.join(METRICS)}"
            )
    name = raw.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise SweepError(f"{where}: name: expected a string, got {name!r}")
    spec = SweepSpec(
        where,
        name,
        {**DEFAULTS, **base},
        grid,
        random,
        samples,
        seeds,
        root_seed,
        tuple(dict.fromkeys(metrics)),
        str(raw.get("description", "")),
    )
    spec.settings.extend(_settings(spec))
    return spec


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SweepError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
    return dict(value)


def _check_value(axis: str, value: Any, where: str) -> Any:
    if axis.startswith(HARDWARE_PREFIX):
        paths = _hardware_paths()
        if axis[len(HARDWARE_PREFIX) :] not in paths:
            raise SweepError(
                f"{where}: unknown hardware field {axis!r}; expected {HARDWARE_PREFIX}<path> with "
                f"<path> one of {', '.join(paths) or '(none: this wavetrain has no hardware models)'}"
            )
        if not (value is None or isinstance(value, (str, bool)) or _is_number(value)):
            raise SweepError(f"{where}: expected a number, string, boolean or null, got {value!r}")
        return value
    if axis not in AXES:
        raise SweepError(
            f"{where}: unknown axis {axis!r}; expected one of {', '.join(AXES)} or {HARDWARE_PREFIX}<field path>"
        )
    if value is None:
        if axis in NULLABLE:
            return None
        raise SweepError(f"{where}: expected {AXES[axis][0]}, got null")
    expected, check = AXES[axis]
    normalised = check(value)
    if normalised is None:
        raise SweepError(f"{where}: expected {expected}, got {value!r}")
    return normalised


def _hardware_paths() -> list[str]:
    try:
        from wavetrain.circuits.hardware import field_paths
    except ImportError:
        return []
    return field_paths()


def _grid(raw: Any, base: dict[str, Any], where: str) -> dict[str, list[Any]]:
    if raw is None:
        return {}
    grid = _mapping(raw, f"{where}: grid")
    if not grid:
        raise SweepError(f"{where}: grid: expected at least one axis with values, got an empty grid")
    for axis, values in grid.items():
        if axis in base:
            raise SweepError(f"{where}: grid.{axis}: also set in base; set it in one place")
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: grid.{axis}: expected a non-empty list of values, got {values!r}")
        grid[axis] = [_check_value(axis, v, f"{where}: grid.{axis}[{i}]") for i, v in enumerate(values)]
        keys = [json.dumps(v, sort_keys=True) for v in grid[axis]]
        if len(set(keys)) != len(keys):
            raise SweepError(f"{where}: grid.{axis}: values repeat, got {values!r}")
    return grid


def _random(raw: Any, base: dict[str, Any], grid: dict[str, Any], where: str) -> tuple[dict[str, Any], int]:
    if raw is None:
        return {}, 0
    raw = _mapping(raw, f"{where}: random")
    extra = [key for key in raw if key not in ("samples", "axes")]
    if extra:
        raise SweepError(f"{where}: random.{extra[0]}: unknown key; expected samples and axes")
    samples = raw.get("samples")
    if not _is_int(samples) or samples < 1:
        raise SweepError(f"{where}: random.samples: expected an integer >= 1, got {samples!r}")
    axes = _mapping(raw.get("axes"), f"{where}: random.axes")
    if not axes:
        raise SweepError(f"{where}: random.axes: expected at least one axis, got none")
    out = {}
    for axis, spec in axes.items():
        at = f"{where}: random.axes.{axis}"
        if axis in base or axis in grid:
            raise SweepError(f"{at}: also set in {'base' if axis in base else 'grid'}; set it in one place")
        spec = _mapping(spec, at)
        bad = [key for key in spec if key not in RANDOM_SPEC_KEYS]
        if bad or "low" not in spec or "high" not in spec:
            raise SweepError(f"{at}: expected {{low, high[, log, integer]}}, got {spec!r}")
        low, high = spec["low"], spec["high"]
        if not (_is_number(low) and _is_number(high) and low < high):
            raise SweepError(f"{at}: expected numbers low < high, got low={low!r} high={high!r}")
        log, integer = spec.get("log", False), spec.get("integer", False)
        if not isinstance(log, bool) or not isinstance(integer, bool):
            raise SweepError(f"{at}: log and integer: expected true or false, got log={log!r} integer={integer!r}")
        if log and low <= 0:
            raise SweepError(f"{at}: log: expected low > 0 for a log range, got low={low!r}")
        if integer and not (_is_int(low) and _is_int(high)):
            raise SweepError(f"{at}: integer: expected integer low and high, got low={low!r} high={high!r}")
        for probe in (low, high):
            _check_value(axis, int(probe) if integer else float(probe), at)
        out[axis] = {"low": low, "high": high, "log": log, "integer": integer}
    return out, samples


def _seeds(raw: Any, where: str) -> list[int]:
    if _is_int(raw):
        if raw < 1:
            raise SweepError(f"{where}: expected a count >= 1 or a list of replicate indices, got {raw!r}")
        if raw > MAX_TASKS:
            raise SweepError(f"{where}: expected at most {MAX_TASKS:,} replicates (tasks), got {raw:,}")
        return list(range(raw))
    if not isinstance(raw, list) or not raw or not all(_is_int(s) and s >= 0 for s in raw):
        raise SweepError(f"{where}: expected a count >= 1 or a non-empty list of integers >= 0, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise SweepError(f"{where}: replicate indices repeat, got {raw!r}")
    return list(raw)


def _budget(grid: dict[str, list[Any]], samples: int, seeds: int, where: str) -> None:
    """Refuse, before anything is expanded, a sweep past MAX_SETTINGS settings, MAX_TASKS tasks or the memory limit;
    the refusal shows the product it computed."""
    from wavetrain.compiler.budget import check_memory

    sizes = [len(values) for values in grid.values()] + ([samples] if samples else [])
    settings = math.prod(sizes)
    tasks = settings * seeds
    product = (
        " x ".join(
            [f"{len(v)} {axis}" for axis, v in grid.items()] + ([f"{samples} random samples"] if samples else [])
        )
        or "1 (no axes)"
    )
    shown = f"{product} = {settings:,} setting(s), x {seeds:,} seed(s) = {tasks:,} task(s)"
    if settings > MAX_SETTINGS:
        raise SweepError(
            f"{where}: {shown}; expected at most {MAX_SETTINGS:,} settings (each is checked with train() before any "
            f"task starts, about 25 ms each: {settings * 0.025 / 3600:,.1f} h here); split the sweep"
        )
    if tasks > MAX_TASKS:
        raise SweepError(f"{where}: {shown}; expected at most {MAX_TASKS:,} tasks; split the sweep")
    check_memory(tasks * TASK_BYTES, f"{where}: the plan of {tasks:,} tasks", "split the sweep")


def _settings(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every setting: the grid's cartesian product (file order), each crossed with the random samples."""
    points = [dict(zip(spec.grid, values)) for values in itertools.product(*spec.grid.values())]
    if spec.random:
        rng = np.random.default_rng(np.random.SeedSequence([spec.root_seed, 1]))
        draws = [{axis: _draw(rng, r) for axis, r in spec.random.items()} for _ in range(spec.samples)]
        points = [{**point, **draw} for point in points for draw in draws]
    return [_resolve({**spec.base, **point}) for point in points]


def _resolve(setting: dict[str, Any]) -> dict[str, Any]:
    """The setting with lr and momentum, where the sweep sets neither, the method's own defaults (as train()'s);
    ``_defaulted`` names the keys so filled (it is no training setting: tasks drop it)."""
    unset = [key for key in PER_METHOD if key not in setting]
    if unset:
        from wavetrain.emulator.methods import method_defaults

        values = dict(zip(PER_METHOD, method_defaults(str(setting.get("method")))))
        setting = {**setting, **{key: values[key] for key in unset}, "_defaulted": tuple(unset)}
    return setting


def _draw(rng: np.random.Generator, r: dict[str, Any]) -> float | int:
    if r["integer"]:
        if r["log"]:
            return int(round(math.exp(rng.uniform(math.log(r["low"]), math.log(r["high"])))))
        return int(rng.integers(r["low"], r["high"] + 1))
    if r["log"]:
        return float(math.exp(rng.uniform(math.log(r["low"]), math.log(r["high"]))))
    return float(rng.uniform(r["low"], r["high"]))


def run_seed(root_seed: int, seed: int) -> int:
    """The 32-bit seed replicate ``seed`` trains with: SeedSequence(root_seed, spawn_key=(seed,))'s first word."""
    return int(np.random.SeedSequence(root_seed, spawn_key=(seed,)).generate_state(1, np.uint32)[0])


def task_digest(setting: dict[str, Any], seed: int, root_seed: int) -> str:
    """A task's id: a hash of its full setting (a saved network by its content, not only its path), its replicate
    index and the sweep's root seed."""
    # NOTE: the axes added with graphs count only when set, so a sweep planned before them keeps its task ids
    kept = {key: value for key, value in setting.items() if key not in ("network", "model") or value is not None}
    identity: dict[str, Any] = {"setting": kept, "seed": seed, "root_seed": root_seed}
    if setting.get("network"):
        identity["network_sha256"] = _file_digest(setting["network"])
    return _digest(identity)


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as err:
        raise SweepError(f"network: cannot read the saved network {path!r}: {err.strerror or err}") from None


def tasks(spec: SweepSpec) -> list[Task]:
    """One task per (setting, seed), replicates outermost so a partial sweep covers the whole grid early."""
    out = []
    for seed in spec.seeds:
        value = run_seed(spec.root_seed, seed)
        for resolved in spec.settings:
            setting = {key: v for key, v in resolved.items() if key != "_defaulted"}
            task_id = task_digest(setting, seed, spec.root_seed)
            axes = {axis: setting[axis] for axis in spec.axis_names}
            out.append(Task(task_id, setting, axes, seed, value, "train_accuracy" in spec.metrics))
    return out
