"""Untrusted netlists are refused; ngspice never outlives wavetrain (SIGTERM, SIGHUP, SIGINT, SIGKILL) and no temp
folder or partial raw file is left; the timeout is an option; the children-die-with-parent helper works."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from wavetrain.cli import main

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")

LONG = """.title long
V1 in 0 SIN(0 1 1e6)
R1 in out 1k
C1 out 0 1n
.tran 1e-10 1e-2
.end
"""


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State"))
            except (OSError, StopIteration):
                continue
            if text in cmdline and "Z (zombie)" not in state:
                found.append(f"{entry.name}: {cmdline}")
    return found


HOSTILE = {
    "control.cir": ".title c\nR1 a 0 1\n.control\nshell touch {marker}\n.endc\n.end\n",
    "upper.cir": ".title u\n.CONTROL\nrun\n.ENDC\n.end\n",
    "script.cir": "*ng_script\nshell touch {marker}\n",
    "shell.cir": ".title s\nshell touch {marker}\n.end\n",
    "system.cir": ".title i\n.include /etc/passwd\n.end\n",
    "parent.cir": ".title p\n.inc '../outside.cir'\n.end\n",
    "nested.cir": ".title n\n.include sub/inner.cir\n.end\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_netlists_are_refused_before_ngspice_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.cir").write_text(".control\nshell touch {marker}\n.endc\n".format(marker=marker))
    netlist = tmp_path / name
    netlist.write_text(HOSTILE[name].format(marker=marker))
    result = CliRunner().invoke(main, ["simulate", str(netlist), "--target", "spice"])
    assert result.exit_code == 1, result.output
    assert "UntrustedNetlist" in result.output and "--trust-netlist" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not marker.exists()


@needs_ngspice
def test_trust_netlist_runs_it_as_written(tmp_path):
    marker = tmp_path / "ran"
    netlist = tmp_path / "t.cir"
    netlist.write_text(
        f".title t\nV1 a 0 1\nR1 a 0 1k\n.tran 1n 10n\n.control\nshell touch {marker}\nrun\n.endc\n.end\n"
    )
    CliRunner().invoke(main, ["simulate", str(netlist), "--target", "spice", "--trust-netlist"])
    assert marker.exists(), "--trust-netlist runs the control block"


def start_simulate(tmp_path: Path, *extra: str, ignore_sigint: bool = False) -> tuple[subprocess.Popen, Path]:
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    netlist = tmp_path / "long.cir"
    netlist.write_text(LONG)
    process = subprocess.Popen(
        [sys.executable, "-m", "wavetrain", "simulate", str(netlist), "--target", "spice", *extra],
        env=dict(os.environ, TMPDIR=str(temp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # NOTE: as a shell starts a background job of a script (`wavetrain simulate ... &`)
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )
    return process, temp


def wait_for_ngspice(netlist: Path, process: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not [p for p in processes_mentioning(str(netlist)) if "ngspice -b" in p]:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "ngspice never started"
        time.sleep(0.02)
    time.sleep(0.2)  # NOTE: let the raw file grow


@needs_ngspice
@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL], ids=lambda s: signal.Signals(s).name
)
def test_a_signal_to_simulate_leaves_no_ngspice_and_no_temp_folder(tmp_path, sig):
    process, temp = start_simulate(tmp_path)
    netlist = tmp_path / "long.cir"
    wait_for_ngspice(netlist, process)
    assert list(temp.iterdir()), "the run works in a temp folder"
    process.send_signal(sig)
    _, err = process.communicate(timeout=30)
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 128 + sig and err.strip() == f"wavetrain: stopped by {signal.Signals(sig).name}"
    deadline = time.monotonic() + 10  # NOTE: after SIGKILL the supervisor cleans up asynchronously
    while (processes_mentioning(str(netlist)) or list(temp.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(str(netlist)) == [], "no ngspice (nor its supervisor) outlives wavetrain"
    assert list(temp.iterdir()) == [], "no temp folder or raw file is left"


@needs_ngspice
def test_timeout_is_an_option_and_removes_the_partial_raw_file(tmp_path):
    process, temp = start_simulate(tmp_path, "--timeout", "1")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "did not finish within 1 s and was stopped" in err
    assert "Traceback" not in err and "rerun with --keep" in err
    assert list(temp.iterdir()) == [], "the work folder (partial raw file, log) is removed unless --keep"
    assert processes_mentioning(str(tmp_path / "long.cir")) == []
    process, temp = start_simulate(tmp_path, "--timeout", "1", "--keep")
    _, err = process.communicate(timeout=60)
    kept = [p for folder in temp.iterdir() for p in folder.iterdir()]
    assert process.returncode == 1 and [p.suffix for p in kept] == [".log"], "--keep: the log stays, not the raw file"
    result = CliRunner().invoke(main, ["simulate", str(tmp_path / "long.cir"), "--target", "spice", "--timeout", "0"])
    assert result.exit_code == 2 and "--timeout" in result.output


def test_a_child_with_the_parent_death_signal_dies_with_its_parent(tmp_path):
    """The helper Lava's workers can use too: a grandchild started with child_setup dies when its parent is
    SIGKILLed (the parent cannot run any cleanup)."""
    pid_file = tmp_path / "pid"
    parent_code = (
        "import os, signal, subprocess, sys, time\n"
        "from wavetrain.targets._proc import child_setup\n"
        "me = os.getpid()\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " preexec_fn=lambda: child_setup(me))\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.02)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        state = (
            next(
                (line for line in Path(f"/proc/{child}/status").read_text().splitlines() if line.startswith("State")),
                "",
            )
            if Path(f"/proc/{child}").exists()
            else ""
        )
        if "zombie" in state:
            break
        time.sleep(0.02)
    alive = Path(f"/proc/{child}").exists() and "zombie" not in Path(f"/proc/{child}/status").read_text()
    assert not alive, "the child outlived its SIGKILLed parent"


@needs_ngspice
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGINT], ids=["INT", "TERM", "INT-again"])
def test_a_signal_during_the_shared_runner_never_crashes_python(tmp_path, sig):
    pytest.importorskip("PySpice")
    from wavetrain import Network

    model = Network.mlp([8, 16, 16, 4], seed=0, name="m").save(tmp_path / "m.npz")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wavetrain",
            "simulate",
            str(model),
            "--target",
            "spice",
            "--runner",
            "shared",
            "--ticks",
            "3000",
            "--samples",
            "4",
        ],
        env=dict(os.environ, TMPDIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while "libngspice" not in Path(f"/proc/{process.pid}/maps").read_text():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    time.sleep(0.5)  # NOTE: inside the background simulation by now
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + sig, (process.returncode, err[-2000:])  # -11 would be the segfault
    assert err.strip().splitlines()[-1] == f"wavetrain: stopped by {signal.Signals(sig).name}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


@needs_ngspice
def test_sigint_stops_a_background_simulate_that_inherited_it_ignored(tmp_path):
    """Issue 23 point 16: with SIGINT inherited as ignored, `kill -INT` did nothing until the 300 s timeout."""
    process, temp = start_simulate(tmp_path, "--timeout", "120", ignore_sigint=True)
    wait_for_ngspice(tmp_path / "long.cir", process)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=20)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 130 and err.strip() == "wavetrain: stopped by SIGINT"
    assert time.monotonic() - started < 20
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path / "long.cir")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(str(tmp_path / "long.cir")) == [] and list(temp.iterdir()) == []
