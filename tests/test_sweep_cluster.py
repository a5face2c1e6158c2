"""Sweeps on real Dask clusters, as a user runs them: `wavetrain sweep` in its own process, killed and resumed.

Each test starts processes in their own session and kills the whole group in ``finally``, so nothing outlives it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from wavetrain.cli import main
from wavetrain.sweep import run as sweep
from wavetrain.sweep.spec import load_spec, tasks
from wavetrain.sweep.table import part_files, read_table

pytest.importorskip("distributed")

QUICK = """
name: quick
base: {layers: [64, 8, 10], epochs: 1, batch_size: 32, loss: mse, momentum: 0}
grid:
  lr: [0.2, 1.0e+6]
  method: [backprop, dyadic]
seeds: 2
"""
# 16 tasks of a few tenths of a second each: long enough to be killed in the middle
SLOW = """
name: slow
base: {layers: [64, 32, 10], epochs: 2, batch_size: 16, method: wave}
grid:
  lr: [0.01, 0.02, 0.03, 0.04]
seeds: 4
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def start(args: list[str], log: Path, temp: Path | None = None) -> subprocess.Popen:
    handle = open(log, "w")
    env = ENV if temp is None else {**ENV, "TMPDIR": str(temp)}
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_groups(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def writers(out: Path) -> set[int]:
    """The worker processes that wrote the rows so far."""
    return {pq.read_table(path, columns=["pid"])["pid"][0].as_py() for path in part_files(out)}


def check_table(out: Path, spec_path: Path) -> list[dict]:
    """Every task of the sweep has exactly one row, and nothing else is in the table."""
    expected = [task.task_id for task in tasks(load_spec(spec_path))]
    rows = read_table(out).to_pylist()
    ids = [row["task_id"] for row in rows]
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == set(expected)
    return rows


def test_local_cluster_sweep_records_failures_resumes_and_rows_rerun_alone(tmp_path):
    spec_path = tmp_path / "quick.yaml"
    spec_path.write_text(QUICK)
    command = ["wavetrain", "sweep", str(spec_path), "--out", str(tmp_path / "out"), "--workers", "2", "--no-progress"]
    processes = [start(command, tmp_path / "run.log")]
    try:
        assert processes[0].wait(timeout=180) == 0, (tmp_path / "run.log").read_text()
    finally:
        kill_groups(processes)
    log = (tmp_path / "run.log").read_text()
    assert "8 tasks, 0 already in" in log and "dashboard: http://127.0.0.1:" in log
    assert "8 task(s) recorded now (4 failed)" in log
    rows = check_table(tmp_path / "out", spec_path)
    for row in rows:
        if row["lr"] == 0.2:
            assert row["status"] == "ok" and 0.1 < row["test_accuracy"] <= 1.0, row
        else:
            assert row["status"] == "failed" and "training diverged in epoch 1" in row["error"], row
    # a row computed on a Dask worker process, rerun alone here: the same numbers, bit for bit
    ok = next(row for row in rows if row["status"] == "ok" and row["seed"] == 1)
    stored, new = sweep.rerun(tmp_path / "out", ok["task_id"])
    for key in ("test_accuracy", "train_loss", "test_loss", "train_accuracy_per_epoch", "test_loss_per_epoch"):
        assert new[key] == stored[key] == ok[key]
    result = CliRunner().invoke(main, ["sweep", "rerun", str(tmp_path / "out"), ok["task_id"]])
    assert result.exit_code == 0 and "reproduced (every recorded metric identical)" in result.output, result.output
    result = CliRunner().invoke(main, ["sweep", "report", str(tmp_path / "out")])
    assert result.exit_code == 0 and "| 0.2 | backprop | 2 | 0 | 2 |" in result.output, result.output
    assert (tmp_path / "out" / "report" / "lr.png").read_bytes()[:4] == b"\x89PNG"
    # the same command again has nothing left to do and starts no cluster
    result = CliRunner().invoke(main, ["sweep", str(spec_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0 and "8 tasks, 8 already in" in result.output and "LocalCluster" not in result.output


def test_killed_command_resumes_and_every_row_is_written_once(tmp_path):
    spec_path = tmp_path / "slow.yaml"
    spec_path.write_text(SLOW)
    out = tmp_path / "out"
    temp = tmp_path / "tmp"  # NOTE: issue 23 point 16: Dask's scratch space and lock files stayed here
    temp.mkdir()
    command = ["wavetrain", "sweep", str(spec_path), "--out", str(out), "--workers", "1", "--no-progress"]
    processes: list[subprocess.Popen] = []
    try:
        # Ctrl-C: the command closes its cluster and exits 130; its worker processes are gone with it
        processes.append(start(command, tmp_path / "int.log", temp))
        wait_for(lambda: len(part_files(out)) >= 2, 120, "two rows")
        processes[-1].send_signal(signal.SIGINT)
        assert processes[-1].wait(timeout=60) == 130, (tmp_path / "int.log").read_text()
        wait_for(lambda: not group_alive(processes[-1].pid), 30, "the LocalCluster's workers to exit")
        first = len(part_files(out))
        assert list(temp.iterdir()) == [], "Ctrl-C leaves nothing in the temp folder"
        assert "rerun the same command to resume" in (tmp_path / "int.log").read_text()
        # SIGKILL of the command alone (no finally runs): its workers notice and exit by themselves
        processes.append(start(command, tmp_path / "kill.log", temp))
        wait_for(lambda: len(part_files(out)) >= first + 2, 120, "two more rows")
        os.kill(processes[-1].pid, signal.SIGKILL)
        processes[-1].wait(timeout=30)  # reaped, so only its children can keep the group alive
        wait_for(lambda: not group_alive(processes[-1].pid), 30, "the killed command's workers to exit")
        second = len(part_files(out))
        wait_for(lambda: list(temp.iterdir()) == [], 15, "the temp folder of the killed command to go")
        assert 2 <= first < second < 16
        processes.append(start(command, tmp_path / "last.log", temp))
        assert processes[-1].wait(timeout=180) == 0, (tmp_path / "last.log").read_text()
        assert list(temp.iterdir()) == [], "a finished sweep leaves no lock file behind"
    finally:
        kill_groups(processes)
    assert f"16 tasks, {second} already in" in (tmp_path / "last.log").read_text()
    rows = check_table(out, spec_path)
    assert all(row["status"] == "ok" for row in rows)


def test_existing_scheduler_a_killed_worker_then_a_killed_scheduler(tmp_path):
    spec_path = tmp_path / "slow.yaml"
    spec_path.write_text(SLOW)
    out, scheduler_file = tmp_path / "out", tmp_path / "scheduler.json"
    processes: list[subprocess.Popen] = []
    try:
        # the README's multi-machine recipe, on localhost
        processes.append(
            start(
                [
                    "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                tmp_path / "scheduler.log",
            )
        )
        wait_for(scheduler_file.exists, 60, "the scheduler file")
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("w1", "w2"):
            processes.append(
                start(
                    ["dask", "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name],
                    tmp_path / f"{name}.log",
                )
            )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        scheduler, victim = processes[0], processes[1]
        command = ["wavetrain", "sweep", str(spec_path), "--out", str(out), "--scheduler", address, "--no-progress"]
        processes.append(start(command, tmp_path / "sweep.log"))
        wait_for(lambda: len(part_files(out)) >= 3 and victim.pid in writers(out), 120, "three rows, one from w1")
        victim.kill()  # its task in flight goes to the other worker
        wait_for(lambda: len(part_files(out)) >= 6, 120, "three more rows from the surviving worker")
        scheduler.kill()  # the command reports the lost tasks and exits 1
        assert processes[-1].wait(timeout=120) == 1, (tmp_path / "sweep.log").read_text()
        recorded = len(part_files(out))
        processes.append(start([*command[:5], "--workers", "1", "--no-progress"], tmp_path / "resume.log"))
        assert processes[-1].wait(timeout=180) == 0, (tmp_path / "resume.log").read_text()
    finally:
        kill_groups(processes)
    log = (tmp_path / "sweep.log").read_text()
    assert f"Dask scheduler {address}: 2 worker(s)" in log
    assert f"task(s) not recorded (lost the scheduler {address}); rerun the same command" in log
    assert f"16 tasks, {recorded} already in" in (tmp_path / "resume.log").read_text()
    rows = check_table(out, spec_path)
    assert 6 <= recorded < 16 and all(row["status"] == "ok" for row in rows)
    pids = {row["pid"] for row in rows}
    assert victim.pid in pids and len(pids) >= 3, pids  # w1 before it was killed, w2, then the LocalCluster
