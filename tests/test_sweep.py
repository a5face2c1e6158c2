"""Sweep files, tasks, the Parquet table and the report, without a cluster (tests/test_sweep_cluster.py runs Dask)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import time

import numpy as np
import pytest

from wavetrain.errors import SweepError
from wavetrain.sweep import run as sweep
from wavetrain.sweep.report import report
from wavetrain.sweep.spec import load_spec, run_seed, tasks
from wavetrain.sweep.table import SweepTable, read_table

TINY = """
name: tiny
base: {layers: [64, 8, 10], epochs: 1, batch_size: 128}
grid:
  lr: [0.05, 0.2]
  method: [backprop, dyadic]
seeds: 2
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def no_cluster(monkeypatch):
    """Fails the test if run_sweep gets as far as starting or connecting to a cluster."""

    def refuse(*args, **kwargs):
        raise AssertionError("a cluster was started before the sweep file was refused")

    monkeypatch.setattr(sweep, "connect", refuse)


def test_grid_times_seeds_gives_one_task_each_with_spawned_seeds(tmp_path):
    spec = load_spec(write(tmp_path, TINY))
    every = tasks(spec)
    assert len(every) == 2 * 2 * 2 and len({t.task_id for t in every}) == 8
    assert {(t.axes["lr"], t.axes["method"], t.seed) for t in every} == {
        (lr, m, s) for lr in (0.05, 0.2) for m in ("backprop", "dyadic") for s in (0, 1)
    }
    for task in every:
        child = np.random.SeedSequence(0).spawn(2)[task.seed]  # the same child SeedSequence, reached another way
        assert task.run_seed == int(child.generate_state(1, np.uint32)[0]) == run_seed(0, task.seed)
        assert task.setting["epochs"] == 1 and task.setting["momentum"] == 0.9  # base, then defaults
    assert every[0].run_seed != every[-1].run_seed
    # ids depend on the setting and seed only: the same sweep planned again gives the same ids
    assert [t.task_id for t in tasks(load_spec(write(tmp_path, TINY, "again.yaml")))] == [t.task_id for t in every]


def test_a_toml_sweep_file_plans_the_same_tasks_as_its_yaml_twin(tmp_path):
    toml = (
        'name = "tiny"\nseeds = 2\n[base]\nlayers = [64, 8, 10]\nepochs = 1\nbatch_size = 128\n'
        '[grid]\nlr = [0.05, 0.2]\nmethod = ["backprop", "dyadic"]\n'
    )
    from_toml = tasks(load_spec(write(tmp_path, toml, "s.toml")))
    assert [t.task_id for t in from_toml] == [t.task_id for t in tasks(load_spec(write(tmp_path, TINY)))]
    with pytest.raises(SweepError, match=r"s\.toml: not a readable TOML file"):
        load_spec(write(tmp_path, "[grid\n", "s.toml"))


def test_random_axes_are_drawn_reproducibly_within_their_range(tmp_path):
    text = (
        TINY + "random:\n  samples: 3\n  axes:\n    momentum: {low: 0.1, high: 0.8}\n"
        "    batch_size: {low: 16, high: 64, integer: true}\n"
    )
    text = text.replace(", batch_size: 128", "")
    first, second = (tasks(load_spec(write(tmp_path, text, f"{i}.yaml"))) for i in range(2))
    assert len(first) == 2 * 2 * 3 * 2
    assert [t.setting for t in first] == [t.setting for t in second]
    momenta = {t.setting["momentum"] for t in first}
    assert len(momenta) == 3 and all(0.1 <= m <= 0.8 for m in momenta)
    assert all(isinstance(t.setting["batch_size"], int) and 16 <= t.setting["batch_size"] <= 64 for t in first)


@pytest.mark.parametrize(
    "text, message",
    [
        (TINY.replace("lr:", "lrr:"), r"grid\.lrr\[0\]: unknown axis 'lrr'; expected one of dataset, .*hardware\.<"),
        ("grid: {}\n", r"grid: expected at least one axis with values, got an empty grid"),
        ("grid: {lr: []}\n", r"grid\.lr: expected a non-empty list of values, got \[\]"),
        ("grid: {lr: [0.1, fast]}\n", r"grid\.lr\[1\]: expected a number, got 'fast'"),
        ("grid: {epochs: [1, 2.5]}\n", r"grid\.epochs\[1\]: expected an integer >= 1, got 2\.5"),
        ("grid: {layers: [[64, 0, 10]]}\n", r"grid\.layers\[0\]: expected widths, input first.*got \[64, 0, 10\]"),
        ("grid: {lr: 0.1}\n", r"grid\.lr: expected a non-empty list of values, got 0\.1"),
        ("base: {lr: 0.1}\ngrid: {lr: [0.2]}\n", r"grid\.lr: also set in base; set it in one place"),
        ("seeds: 0\n", r"seeds: expected a count >= 1 or a list of replicate indices, got 0"),
        ("seeds: [1, 1]\n", r"seeds: replicate indices repeat, got \[1, 1\]"),
        ("metrics: [accuracy]\n", r"metrics\[0\]: unknown metric 'accuracy'; expected one of test_accuracy"),
        ("grids: {lr: [0.1]}\n", r"unknown key 'grids'; expected some of name, description, base, grid"),
        ("random: {samples: 2, axes: {lr: {low: 1, high: 0.1}}}\n", r"random\.axes\.lr: expected numbers low < high"),
        ("- lr\n", r"expected a mapping of name, .*got list"),
        ("grid: {lr: [0.1\n", r"not a readable YAML file"),
    ],
)
def test_bad_sweep_files_fail_before_any_task_starts_naming_the_key(tmp_path, no_cluster, text, message):
    with pytest.raises(SweepError, match=message):
        sweep.run_sweep(write(tmp_path, text), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "grid, message",
    [
        ("{momentum: [0.5, 1.5]}", r"setting \{'momentum': 1\.5\}: ConfigError: momentum: expected 0 <= momentum < 1"),
        ("{method: [dyadic, sgd]}", r"setting \{'method': 'sgd'\}: ConfigError: method: expected one of backprop"),
        ("{hold: [4], method: [dyadic]}", r"ConfigError: hold: only the 'wave' method holds inputs"),
        ("{horizon: [1], method: [wave]}", r"horizon: only the 'mpc' method has a horizon, got horizon=1"),
        ("{layers: ['3,4,10']}", r"setting \{'layers': \[3, 4, 10\]\}: DataError: training inputs: samples have 64 "),
        ("{dataset: [mnist]}", r"DataError: unknown data set 'mnist'"),
    ],
)
def test_settings_train_would_refuse_fail_before_any_task_starts(tmp_path, no_cluster, grid, message):
    with pytest.raises(SweepError, match=message):
        sweep.run_sweep(write(tmp_path, f"base: {{epochs: 1}}\ngrid: {grid}\n"), tmp_path / "out", progress=False)


def test_hardware_axes_are_checked_before_any_task_starts(tmp_path, no_cluster):
    text = "grid: {hardware.device.no_such_field: [1, 2]}\n"
    with pytest.raises(
        SweepError,
        match=r"grid\.hardware\.device\.no_such_field\[0\]: unknown hardware field "
        r"'hardware\.device\.no_such_field'; expected hardware\.<path>",
    ):
        sweep.run_sweep(write(tmp_path, text), tmp_path / "out", progress=False)


def test_workers_with_an_existing_scheduler_is_refused(tmp_path, no_cluster):
    with pytest.raises(SweepError, match=r"--workers 2: only for the LocalCluster"):
        sweep.run_sweep(write(tmp_path, TINY), tmp_path / "out", scheduler="tcp://127.0.0.1:1", workers=2)


def fill(tmp_path, text=TINY, out="out"):
    """The table a sweep would write, filled here without Dask: every task run in this process."""
    spec = load_spec(write(tmp_path, text, f"{out}.yaml"))
    every = tasks(spec)
    table = SweepTable(tmp_path / out, spec, len(every))
    for task in every:
        table.write(sweep.run_task(task))
    return spec, every


def test_an_out_directory_holding_another_sweeps_table_is_refused(tmp_path, no_cluster):
    fill(tmp_path)
    before = sorted(p.name for p in (tmp_path / "out" / "results").iterdir())
    other = write(tmp_path, TINY.replace("0.2]", "0.3]").replace("name: tiny", "name: other"), "other.yaml")
    with pytest.raises(
        SweepError,
        match=r"--out .*out holds another sweep's table: 'tiny' \(id [0-9a-f]{16}, "
        r"from .*out\.yaml\), expected sweep 'other'",
    ):
        sweep.run_sweep(other, tmp_path / "out", progress=False)
    assert sorted(p.name for p in (tmp_path / "out" / "results").iterdir()) == before
    (tmp_path / "bare" / "results").mkdir(parents=True)
    (tmp_path / "out" / "results" / before[0]).rename(tmp_path / "bare" / "results" / before[0])
    with pytest.raises(SweepError, match=r"results/ holds 1 result file\(s\) but no sweep\.json"):
        sweep.run_sweep(other, tmp_path / "bare", progress=False)


def test_a_task_row_matches_train_run_by_hand(tmp_path, digits):
    import wavetrain

    spec, every = fill(tmp_path)
    task = next(t for t in every if t.axes == {"lr": 0.2, "method": "dyadic"} and t.seed == 1)
    net = wavetrain.Network.mlp([64, 8, 10], loss="cross_entropy", seed=task.run_seed)
    result = wavetrain.train(
        net, digits, method="dyadic", epochs=1, batch_size=128, lr=0.2, seed=task.run_seed, train_metrics=True
    )
    row = read_table(tmp_path / "out").to_pylist()
    row = next(r for r in row if r["task_id"] == task.task_id)
    assert row["status"] == "ok" and row["error"] is None
    assert row["test_accuracy"] == result.final_test_accuracy and row["train_loss_per_epoch"] == result.loss
    assert row["train_accuracy_per_epoch"] == result.train_accuracy and len(result.train_accuracy) == 1
    assert row["lr"] == 0.2 and row["method"] == "dyadic" and row["seed"] == 1
    assert json.loads(row["setting"])["layers"] == [64, 8, 10]


def test_a_failing_task_is_recorded_with_its_error(tmp_path):
    text = (
        "base: {layers: [64, 8, 10], epochs: 1, method: backprop, momentum: 0, loss: mse}\ngrid: {lr: [0.05, 1.0e+6]}\n"
    )
    with np.errstate(all="ignore"):
        rows = [sweep.run_task(task) for task in tasks(load_spec(write(tmp_path, text)))]
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert re.match(r"ConfigError: training diverged in epoch 1: minibatch \d+ has loss (inf|nan)", rows[1]["error"])
    assert "error" not in rows[0] and "test_accuracy" not in rows[1] and "ConfigError" in rows[1]["traceback"]
    spec = load_spec(tmp_path / "s.yaml")
    table = SweepTable(tmp_path / "out", spec, 2)
    for row in rows:
        table.write(row)
    ids = [row["task_id"] for row in rows]
    assert table.finished() == set(ids) and table.finished(retry_failed=True) == {ids[0]}  # --retry-failed


def test_report_pools_seeds_and_writes_a_plot_per_axis(tmp_path, saved_figures):
    spec, every = fill(tmp_path)
    written = report(tmp_path / "out")
    # NOTE: each figure drawn, in %, legend off the data (tests/figures.py; the fixture fails on any problem)
    assert saved_figures.names() == {"lr.png", "method.png"}
    rows = read_table(tmp_path / "out").to_pylist()
    for lr in (0.05, 0.2):
        accs = [r["test_accuracy"] for r in rows if r["lr"] == lr and r["method"] == "backprop"]
        assert len(accs) == 2
        mean, std = 100 * np.mean(accs), 100 * np.std(accs, ddof=1)
        assert f"| {lr} | backprop | 2 | 0 | 2 | {mean:.2f} | {std:.2f} |" in written.text
    assert [p.name for p in written.plots] == ["lr.png", "method.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written.plots)
    assert (tmp_path / "out" / "report" / "summary.md").read_text() == written.text


def test_rerun_one_row_alone_reproduces_it(tmp_path):
    spec, every = fill(tmp_path)
    stored, new = sweep.rerun(tmp_path / "out", every[5].task_id)
    for key in ("test_accuracy", "train_loss", "test_loss_per_epoch", "train_accuracy_per_epoch"):
        assert stored[key] == new[key] and not (isinstance(new[key], float) and math.isnan(new[key]))
    with pytest.raises(SweepError, match=r"task 'nope': not in"):
        sweep.rerun(tmp_path / "out", "nope")


def test_hardware_axes_reach_train_and_fill_the_fidelity_and_chip_columns(tmp_path, digits):
    hardware = pytest.importorskip("wavetrain.circuits.hardware")
    import wavetrain

    text = (
        "base: {layers: [64, 8, 10], epochs: 1, batch_size: 128, hardware: ideal, chips: 2, dtype: float64}\n"
        "grid: {hardware.device.read_noise: [0.0, 0.1], hardware.device.weight_bits: [6]}\n"
    )
    spec, every = fill(tmp_path, text)
    rows = {row["task_id"]: row for row in read_table(tmp_path / "out").to_pylist()}
    for task in every:
        row = rows[task.task_id]
        noise = task.axes["hardware.device.read_noise"]
        model = hardware.load_hardware("ideal").with_overrides({"device.read_noise": noise, "device.weight_bits": 6})
        net = wavetrain.Network.mlp([64, 8, 10], loss="cross_entropy", seed=task.run_seed)
        result = wavetrain.train(
            net,
            digits,
            method="dyadic",
            epochs=1,
            batch_size=128,
            seed=task.run_seed,
            hardware=model,
            chips=2,
            dtype="float64",
        )
        assert row["hardware.device.read_noise"] == noise and row["hardware.device.weight_bits"] == 6
        assert row["chip_accuracy"] == result.chip_test_accuracy[-1] and len(row["chip_accuracy"]) == 2
        assert row["test_accuracy"] == result.final_test_accuracy
        assert row["fidelity_cosine_per_epoch"] == result.fidelity.cosine
        assert row["fidelity_relative_error_per_layer"] == result.fidelity.layer_relative_error[-1]
        if noise == 0.0:  # noiseless reads: the port reads the exact gradient of the weights it read
            assert abs(row["fidelity_cosine"] - 1.0) < 1e-6  # NOTE: train() runs float32 by default
        else:
            assert row["fidelity_cosine"] < 0.999 and row["chip_accuracy"][0] != row["chip_accuracy"][1]
    written = report(tmp_path / "out")
    assert "| 0.1 | 6 | 1 | 0 | 2 |" in written.text  # one seed x two chips pooled


def test_the_example_sweep_file_is_valid_read_noise_x_weight_bits_x_3_seeds():
    pytest.importorskip("wavetrain.circuits.hardware")
    from pathlib import Path

    spec = load_spec(Path(__file__).parent.parent / "examples" / "sweep_digits.yaml")
    every = sweep.plan(spec)
    assert spec.axis_names == ["hardware.device.read_noise", "hardware.device.weight_bits"] and spec.seeds == [0, 1, 2]
    assert len(every) == 4 * 4 * 3 and spec.base["dataset"] == "digits"


def test_a_future_cancelled_by_a_lost_scheduler_after_its_status_check_counts_as_lost(tmp_path):
    """The CI race of stop 14: status said finished, then the client lost the scheduler and cancelled every future,
    so result() raised distributed's FutureCancelledError (a CancelledError, not an OSError)."""
    from distributed.client import FutureCancelledError

    class Raced:
        status, key = "finished", "wavetrain-sweep-x"

        def result(self):
            raise FutureCancelledError(self.key, "scheduler-connection-lost", "Client lost the connection")

        def release(self):
            raise AssertionError("a lost future is not released twice")

    class Bar:
        lines: list[str] = []

        def write(self, line):
            self.lines.append(line)

        def update(self, n):
            raise AssertionError("nothing was recorded")

    spec = load_spec(write(tmp_path, TINY))
    outcome = sweep.SweepOutcome(tmp_path / "out", 8, 0)
    bar = Bar()
    sweep._record(Raced(), SweepTable(tmp_path / "out", spec, 8), outcome, bar)
    assert (outcome.lost, outcome.recorded) == (1, 0)
    assert "scheduler-connection-lost" in bar.lines[0]


def test_a_truncated_result_part_is_set_aside_and_its_task_runs_again(tmp_path):
    """Issue 23 point 10: a truncated part counted as done for ever, and `sweep report` then failed on it."""
    spec, every = fill(tmp_path)
    results = tmp_path / "out" / "results"
    part = results / f"{every[1].task_id}.parquet"
    part.write_bytes(part.read_bytes()[:-40])  # NOTE: the footer cut off, as by a full disk or a killed copy
    other = results / f"{every[2].task_id}.parquet"
    other.write_bytes((results / f"{every[3].task_id}.parquet").read_bytes())  # NOTE: another task's row
    with pytest.raises(SweepError, match=rf"{part.name}: does not read as Parquet .*rerun the sweep"):
        report(tmp_path / "out")
    table = SweepTable(tmp_path / "out", spec, len(every))
    done = table.finished()
    assert every[1].task_id not in done and every[2].task_id not in done
    assert done == {task.task_id for task in every} - {every[1].task_id, every[2].task_id}
    aside = {path.name: why for path, why in table.set_aside}
    assert sorted(aside) == sorted([part.name, other.name])
    assert aside[other.name] == f"holds the row of task {every[3].task_id!r}, expected {every[2].task_id!r} (its name)"
    assert (tmp_path / "out" / "corrupt" / part.name).is_file() and not part.exists()
    for task in (every[1], every[2]):
        table.write(sweep.run_task(task))
    assert len(read_table(tmp_path / "out")) == len(every)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_a_sweep_exits_128_plus_its_number(tmp_path, monkeypatch, sig):
    """Issue 23 point 16: SIGTERM to a sweep exited 130 (SIGINT's code), not 143."""
    from click.testing import CliRunner

    from wavetrain.cli import main

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), sig)
        time.sleep(5)
        raise AssertionError("the signal did not stop the sweep")

    monkeypatch.setattr(sweep, "run_sweep", signalled)
    result = CliRunner().invoke(main, ["sweep", "run", str(write(tmp_path, TINY)), "--out", str(tmp_path / "out")])
    assert result.exit_code == 128 + sig, result.output
    assert f"interrupted by {signal.Signals(sig).name}: the rows written so far are kept" in result.output


METHODS = (
    "base: {layers: [64, 8, 10], epochs: 1}\ngrid: {method: [dyadic, backprop, pipelined+stash, forward]}\nseeds: 2\n"
)


def test_unset_lr_and_momentum_are_each_methods_own_and_old_ids_stay_where_nothing_changed(tmp_path):
    from wavetrain.emulator.methods import method_defaults

    spec = load_spec(write(tmp_path, METHODS))
    first = {t.setting["method"]: t for t in tasks(spec) if t.seed == 0}
    for method, task in first.items():
        assert (task.setting["lr"], task.setting["momentum"]) == method_defaults(method)  # train()'s own
        assert sweep.build(task.setting, task.run_seed)[2]["momentum"] == method_defaults(method)[1]
        assert "_defaulted" not in task.setting
    assert first["pipelined+stash"].setting["momentum"] == 0.0 and first["forward"].setting["momentum"] == 0.5
    # NOTE: ids computed by the code before per-method defaults (every method lr 0.05, momentum 0.9): a task whose
    # method's defaults are those keeps its id; the two whose defaults moved train another setting, so get new ids
    assert first["dyadic"].task_id == "d5fcdaa6531a44af" and first["backprop"].task_id == "501c1b7cf6fd78aa"
    assert first["pipelined+stash"].task_id != "1f2473295d5d0a23" and first["forward"].task_id != "b33dfbf86122d8ba"
    assert spec.sweep_id != "856e026742b05bb9"
    assert spec.method_defaults() == {"pipelined+stash": {"momentum": 0.0}, "forward": {"momentum": 0.5}}
    # set explicitly, lr and momentum are kept for every method, and ids are the old ones
    pinned = load_spec(write(tmp_path, METHODS.replace("epochs: 1}", "epochs: 1, lr: 0.05, momentum: 0.9}"), "p.yaml"))
    kept = {t.setting["method"]: t for t in tasks(pinned) if t.seed == 0}
    assert all(t.setting["momentum"] == 0.9 for t in kept.values())
    assert kept["pipelined+stash"].task_id == "1f2473295d5d0a23" and pinned.sweep_id == "856e026742b05bb9"
    # a sweep none of whose settings resolves otherwise keeps its id (the example's table is not orphaned)
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "sweep_digits.yaml")
    assert load_spec(example).sweep_id == "1db4cd5bbe9714fc"
    assert load_spec(write(tmp_path, METHODS.replace("pipelined+stash, forward", "mpc"), "m.yaml")).sweep_id == (
        load_spec(
            write(
                tmp_path,
                METHODS.replace("pipelined+stash, forward", "mpc").replace("epochs: 1}", "epochs: 1, momentum: 0.9}"),
                "m2.yaml",
            )
        ).sweep_id  # fmt: skip
    )


def test_a_table_from_before_per_method_defaults_is_refused_with_the_way_to_continue_it(tmp_path):
    old = load_spec(write(tmp_path, METHODS.replace("epochs: 1}", "epochs: 1, lr: 0.05, momentum: 0.9}"), "o.yaml"))
    SweepTable(tmp_path / "out", old, 8)  # NOTE: the manifest the old code wrote for this file (same identity)
    new = load_spec(write(tmp_path, METHODS))
    with pytest.raises(SweepError, match=r"pipelined\+stash: momentum 0.0; forward: momentum 0.5.*set lr: 0.05 and "):
        SweepTable(tmp_path / "out", new, 8)
