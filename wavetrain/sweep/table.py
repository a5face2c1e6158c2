"""A sweep's results table on disk: DIR/sweep.json (which sweep this is) and one Parquet part per finished task.

``DIR/results/<task_id>.parquet`` is written to a hidden temp file, flushed and renamed, so a part is complete or
absent (a killed command leaves at most an ignored ``.<name>.tmp``); its name is the task id, so no task has two
rows, and the table is the union of the parts. ``DIR/sweep.json`` holds the sweep's id: a directory that holds
another sweep's table is refused before any task starts. A part that does not read as its task's one row (truncated
by a copy, a full disk or an edit) is set aside in ``DIR/corrupt/`` when the sweep resumes, and its task runs again.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from wavetrain.errors import OutputError, SweepError
from wavetrain.files import atomic_path, atomic_write
from wavetrain.sweep.spec import METRICS, SweepSpec

MANIFEST = "sweep.json"
RESULTS = "results"
CORRUPT = "corrupt"  # where parts that do not read as their task's row are set aside
FORMAT = "wavetrain-sweep"
SCALAR_METRICS = ("test_accuracy", "train_accuracy", "train_loss", "test_loss")
FIDELITY = ("fidelity_cosine", "fidelity_relative_error")
_SAME_FILE = " (the same file now gives another sweep: it was edited, or a default of wavetrain changed)"


def metric_columns(metrics: tuple[str, ...]) -> list[tuple[str, pa.DataType]]:
    """Columns of the chosen metrics: the final value and its per-epoch list (fidelity also per layer)."""
    columns: list[tuple[str, pa.DataType]] = []
    for metric in METRICS:
        if metric not in metrics:
            continue
        if metric in SCALAR_METRICS:
            columns += [(metric, pa.float64()), (f"{metric}_per_epoch", pa.list_(pa.float64()))]
        elif metric == "fidelity":
            for name in FIDELITY:
                columns += [
                    (name, pa.float64()),
                    (f"{name}_per_epoch", pa.list_(pa.float64())),
                    (f"{name}_per_layer", pa.list_(pa.float64())),
                ]
        elif metric == "chip_accuracy":
            columns.append(("chip_accuracy", pa.list_(pa.float64())))
    return columns


def axis_type(values: list[Any]) -> pa.DataType:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def axis_value(value: Any, kind: pa.DataType) -> Any:
    """A setting's value as its column stores it: layers as '64-32-10', numbers as the column's type."""
    if value is None:
        return None
    if kind == pa.string():
        if isinstance(value, list):
            return "-".join(map(str, value))
        return value if isinstance(value, str) else json.dumps(value)
    return float(value) if kind == pa.float64() else value


def schema(spec: SweepSpec) -> pa.Schema:
    """The one schema every part of this sweep is written with, so the parts read back as one table."""
    axes = [(axis, axis_type(values)) for axis, values in spec.grid.items()]
    axes += [(axis, pa.int64() if r["integer"] else pa.float64()) for axis, r in spec.random.items()]
    fields = [
        ("task_id", pa.string()),
        ("sweep_id", pa.string()),
        ("seed", pa.int64()),
        ("run_seed", pa.int64()),
        *axes,
        ("status", pa.string()),
        ("error", pa.string()),
        ("traceback", pa.string()),
        *metric_columns(spec.metrics),
        ("task_seconds", pa.float64()),
        ("train_seconds", pa.float64()),
        ("samples_per_s", pa.float64()),
        ("started", pa.string()),
        ("host", pa.string()),
        ("pid", pa.int64()),
        ("setting", pa.string()),
        ("versions", pa.string()),
    ]
    return pa.schema(fields, metadata={"sweep_id": spec.sweep_id, "axes": json.dumps(spec.axis_names)})


class SweepTable:
    """The results of one sweep in ``out``; opening refuses a directory that holds another sweep's table."""

    def __init__(self, out: str | os.PathLike[str], spec: SweepSpec, n_tasks: int) -> None:
        self.out = Path(out)
        self.spec = spec
        self.schema = schema(spec)
        self.results = self.out / RESULTS
        manifest = self.out / MANIFEST
        if self.out.exists() and not self.out.is_dir():
            raise SweepError(f"--out {self.out}: expected a directory, got a file")
        if manifest.exists():
            held = read_manifest(self.out)
            if held.get("sweep_id") != spec.sweep_id:
                older = {k: v for k, v in spec.identity().items() if k != "method_defaults"}
                if held.get("spec") == older:
                    moved = "; ".join(f"{m}: {', '.join(f'{k} {v}' for k, v in d.items())}"
                                      for m, d in spec.method_defaults().items())  # fmt: skip
                    raise SweepError(
                        f"--out {self.out} holds this sweep's table from before its lr and momentum, left unset, "
                        f"became each method's own defaults (here {moved}; they were lr 0.05, momentum 0.9 for "
                        "every method); to continue that table, set lr: 0.05 and momentum: 0.9 in the sweep's base; "
                        "for the new defaults, use another --out"
                    )
                raise SweepError(
                    f"--out {self.out} holds another sweep's table: {held.get('name')!r} (id {held.get('sweep_id')}, "
                    f"from {held.get('source')}), expected sweep {spec.name!r} (id {spec.sweep_id}, from "
                    f"{spec.source}){_SAME_FILE if held.get('source') == spec.source else ''}; use another --out, "
                    f"or the sweep file that made it"
                )
        else:
            parts = self.part_files()
            if parts:
                raise SweepError(
                    f"--out {self.out}: {RESULTS}/ holds {len(parts)} result file(s) but no {MANIFEST}; "
                    f"expected an empty or new directory, or one made by `wavetrain sweep`"
                )
            record = {
                "format": FORMAT,
                "version": 1,
                "sweep_id": spec.sweep_id,
                "name": spec.name,
                "source": spec.source,
                "tasks": n_tasks,
                "axes": spec.axis_names,
                "spec": spec.identity(),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            try:
                atomic_write(manifest, json.dumps(record, indent=2) + "\n")
            except OSError as err:
                raise SweepError(f"--out {self.out}: cannot write the sweep's table there: {err}") from err
        self.results.mkdir(parents=True, exist_ok=True)
        self.set_aside: list[tuple[Path, str]] = []  # (where a corrupt part went, why), by finished()

    def part_files(self) -> list[Path]:
        return part_files(self.out)

    def finished(self, retry_failed: bool = False) -> set[str]:
        """Ids of the tasks that have a whole row (with retry_failed, only those that did not fail). A part that does
        not read as one row of its task (truncated, corrupt, renamed) is set aside in DIR/corrupt/ (listed in
        ``set_aside`` with the reason) and its task counts as not done."""
        done = set()
        for path in self.part_files():
            problem = check_part(path)
            if problem is None:
                done.add(path.stem)
                continue
            aside = self.out / CORRUPT / path.name
            aside.parent.mkdir(exist_ok=True)
            os.replace(path, aside)
            self.set_aside.append((aside, problem))
        if not retry_failed:
            return done
        table = read_table(self.out, columns=["task_id", "status"])
        return {tid for tid, status in zip(table["task_id"].to_pylist(), table["status"].to_pylist()) if status == "ok"}

    def write(self, row: dict[str, Any]) -> Path:
        """Write one finished task's row as its own part, atomically (temp file, fsync, rename)."""
        row = {**row, "sweep_id": self.spec.sweep_id}
        kinds = {f.name: f.type for f in self.schema}
        for axis in self.spec.axis_names:
            row[axis] = axis_value(row.get(axis), kinds[axis])
        table = pa.Table.from_pylist([row], schema=self.schema)
        path = self.results / f"{row['task_id']}.parquet"
        try:
            with atomic_path(path, what="result part") as tmp:
                pq.write_table(table, tmp)
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
        except OutputError as err:  # NOTE: a full disk is no lost scheduler: say so, and how to resume
            raise SweepError(
                f"{err}; the rows written before are kept in {self.results}: free space and rerun the same command "
                f"to resume"
            ) from err
        return path


def check_part(path: Path) -> str | None:
    """Why ``path`` is not one whole row of the task it is named after, or None when it is: a regular file whose
    Parquet footer reads, holding one row whose task_id is the file's name (only the footer and that column read)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return "is not a regular file"
        part = pq.ParquetFile(path)
        rows = part.metadata.num_rows
        if rows != 1:
            return f"holds {rows} rows, expected 1"
        ids = part.read(columns=["task_id"])["task_id"].to_pylist()
    except (OSError, ValueError, KeyError, pa.ArrowException) as err:  # NOTE: ArrowInvalid is a ValueError
        return f"does not read as Parquet ({' '.join(str(err).split())[:120]})"
    if ids != [path.stem]:
        return f"holds the row of task {ids[0]!r}, expected {path.stem!r} (its name)"
    return None


def part_files(out: str | os.PathLike[str]) -> list[Path]:
    results = Path(out) / RESULTS
    if not results.is_dir():
        return []
    return sorted(p for p in results.glob("*.parquet") if not p.name.startswith("."))


def read_manifest(out: str | os.PathLike[str]) -> dict[str, Any]:
    from wavetrain.compiler.formats import loads_json, read_regular

    path = Path(out) / MANIFEST
    held = loads_json(read_regular(path, "sweep manifest", SweepError), str(path), SweepError)
    if not isinstance(held, dict) or held.get("format") != FORMAT:
        raise SweepError(f"{path}: expected a {FORMAT} manifest, got {str(held)[:80]!r}")
    return held


def read_table(out: str | os.PathLike[str], columns: list[str] | None = None) -> pa.Table:
    """Every row of the sweep in ``out`` (one per finished task), checked to belong to its manifest's sweep."""
    held = read_manifest(out)
    parts = part_files(out)
    if not parts:
        raise SweepError(f"{out}: no results yet in {RESULTS}/ (run `wavetrain sweep SWEEP.yaml --out {out}`)")
    for part in parts:
        problem = check_part(part)
        if problem is not None:
            raise SweepError(
                f"{part}: {problem}; rerun the sweep (`wavetrain sweep SWEEP.yaml --out {out}`): it sets corrupt "
                f"parts aside in {Path(out) / CORRUPT} and runs their tasks again"
            )
    try:
        dataset = pads.dataset([str(p) for p in parts], format="parquet")
        table = dataset.to_table(columns=None if columns is None else [*dict.fromkeys([*columns, "sweep_id"])])
    except (OSError, ValueError, pa.ArrowException) as err:
        raise SweepError(f"{out}: the result parts do not read as one table: {' '.join(str(err).split())}") from err
    foreign = set(table["sweep_id"].to_pylist()) - {held["sweep_id"]}
    if foreign:
        raise SweepError(
            f"{out}: rows of sweep(s) {sorted(foreign)} in {RESULTS}/, expected only "
            f"{held['sweep_id']} ({held.get('name')!r})"
        )
    return table if columns is None or "sweep_id" in columns else table.drop_columns(["sweep_id"])
