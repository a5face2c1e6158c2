"""Sweeps on Dask: a sweep file (:mod:`.spec`) becomes one task per (setting, seed) (:mod:`.run`), each finished
task a row of a Parquet table (:mod:`.table`), summarised with plots (:mod:`.report`).

Needs the ``sweep`` extra (dask, distributed, pyarrow, pyyaml); the names below load on first use.
"""

from wavetrain import _lazy

__getattr__, __dir__, __all__ = _lazy.exports(
    __name__,
    {
        "wavetrain.sweep.run": ["SweepOutcome", "plan", "rerun", "run_sweep", "run_task"],
        "wavetrain.sweep.spec": ["SweepSpec", "Task", "load_spec", "run_seed", "tasks"],
        "wavetrain.sweep.table": ["SweepTable", "read_table"],
    },
)
