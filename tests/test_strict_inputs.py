"""Issue 23: inputs that are not regular files, sweep budgets, ambiguous documents, strict value kinds, hardware
fields, CLI counts and degenerate data are each refused before any work, by a WavetrainError naming the culprit.

Each test here failed on the code before the fix (the point of the issue it covers is in its docstring)."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import wavetrain
from wavetrain import Network, compile_network
from wavetrain.circuits.hardware import HardwareError, load_hardware
from wavetrain.cli import main
from wavetrain.errors import ConfigError, DataError, ModelFileError, NetworkError, SweepError
from wavetrain.sweep.spec import load_spec


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def isolated(code: str, timeout: float = 60) -> str:
    """Run ``code`` in a child Python under a 3 GiB address-space limit and a timeout; returns what it printed, the
    class and message of an exception it raised included. A hang (reading a FIFO) or a memory blow-up (an alias bomb
    expanded) fails the test without taking the test process with it."""
    prog = (
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\ntry:\n"
        + "".join(f"    {line}\n" for line in textwrap.dedent(code).strip().splitlines())
        + "except BaseException as err:\n    print(type(err).__name__ + ': ' + str(err))\n"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=timeout, env=env)
    return done.stdout + done.stderr


# --- point 4: inputs and outputs that are not regular files ---------------------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    def make(name):
        path = tmp_path / name
        os.mkfifo(path)
        return path

    return make


def test_a_fifo_or_a_device_as_an_input_is_refused_not_read(fifo, tmp_path):
    """Point 4: reading a FIFO blocks for ever and /dev/zero never ends; each reader refuses them before reading."""
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    paths = {name: str(fifo(name)) for name in ("hw.json", "s.yaml", "m.npz", "d.npz")}
    out = isolated(
        f"""
        import wavetrain
        from wavetrain.circuits.hardware import load_hardware
        from wavetrain.sweep.spec import load_spec
        for call, path in ((load_hardware, {paths["hw.json"]!r}), (load_spec, {paths["s.yaml"]!r}),
                           (wavetrain.Network.load, {paths["m.npz"]!r}), (wavetrain.datasets.load, {paths["d.npz"]!r}),
                           (load_hardware, {str(tmp_path / "zero.json")!r})):
            try:
                call(path)
            except wavetrain.WavetrainError as err:
                print(type(err).__name__ + ": " + str(err))
        """,
        timeout=60,
    )
    lines = out.strip().splitlines()
    assert len(lines) == 5, out
    wanted = [
        ("HardwareError", "hw.json", "a FIFO"),
        ("SweepError", "s.yaml", "a FIFO"),
        ("ModelFileError", "m.npz", "a FIFO"),
        ("DataError", "d.npz", "a FIFO"),
        ("HardwareError", "zero.json", "a character device"),
    ]
    for line, (kind, name, what) in zip(lines, wanted):
        assert line.startswith(kind) and f"{name}: expected a regular file, got {what}" in line, line


def test_an_output_path_on_a_device_or_fifo_is_refused_and_left_alone(tmp_path, fifo):
    """Point 4: -o, --save and --plot on a device node would replace it by a regular file (as root: /dev/null)."""
    model = Network.mlp([2, 3, 2], seed=0).save(tmp_path / "m.npz")
    pipe = fifo("out.cir")
    result = cli("compile", model, "-o", pipe)
    assert result.exit_code == 1 and "OutputError" in result.output and "is a FIFO" in result.output
    assert pipe.is_fifo()
    result = cli("hardware", "save", "reram", "-o", pipe)
    assert result.exit_code == 1 and "is a FIFO" in result.output, result.output
    result = cli("gradients", "--plot", pipe)
    assert result.exit_code == 1 and "is a FIFO" in result.output, result.output
    with pytest.raises(ConfigError, match=r"is a FIFO, expected a regular file or a new path") as info:
        Network.mlp([2, 3, 2]).save(pipe)
    assert type(info.value).__name__ == "OutputError"
    assert pipe.is_fifo(), "the FIFO was replaced"


# --- point 5: sweep budgets -------------------------------------------------------------------------------------------


def sweep_file(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


BOMB = """base: {layers: [64, 8, 10], epochs: 1}
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_a_yaml_alias_bomb_is_refused_in_a_blink(tmp_path):
    """Point 5: 1 KB of aliases expanding to 10^9 values ended in MemoryError after tens of seconds."""
    path = sweep_file(tmp_path, BOMB)
    start = time.perf_counter()
    out = isolated(f"from wavetrain.sweep.spec import load_spec\nload_spec({str(path)!r})")
    assert "SweepError" in out and "expands to more than 1,000,000 values (aliases expanded)" in out, out
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize(
    "text, message",
    [
        ("seeds: 1000000000\n", r"seeds: expected at most 100,000 replicates \(tasks\), got 1,000,000,000"),
        (
            "grid:\n  lr: {r}\n  momentum: {r}\n",
            r"1000 lr x 1000 momentum = 1,000,000 setting\(s\), x 1 seed\(s\) = 1,000,000 task\(s\); "
            r"expected at most 10,000 settings",
        ),
        (
            "grid:\n  lr: {r}\n  momentum: {r}\n  batch_size: {i}\n",
            r"= 1,000,000,000 setting\(s\).*expected at most 10,000 settings",
        ),
        ("grid:\n  lr: {h}\nseeds: 2000\n", r"100 lr = 100 setting\(s\), x 2,000 seed\(s\) = 200,000 task\(s\)"),
    ],
    ids=["seeds 1e9", "1000^2 grid", "1000^3 grid", "tasks"],
)
def test_sweeps_past_their_budget_are_refused_with_the_estimate(tmp_path, text, message):
    """Point 5: the grid, the task count and the plan's memory are budgeted before anything is expanded."""
    values = json.dumps([0.001 * (i + 1) for i in range(1000)])
    hundred = json.dumps([0.001 * (i + 1) for i in range(100)])
    ints = json.dumps(list(range(1, 1001)))
    body = "base: {layers: [64, 8, 10], epochs: 1}\n" + text.format(r=values, h=hundred, i=ints)
    path = sweep_file(tmp_path, body)
    out = isolated(f"from wavetrain.sweep.spec import load_spec\nload_spec({str(path)!r})")
    assert out.startswith("SweepError: ") and re.search(message, out), out


# --- point 6: ambiguous documents ---------------------------------------------------------------------------------


def test_duplicate_keys_are_refused_in_sweep_yaml_and_hardware_json(tmp_path):
    """Point 6: the last value used to win silently."""
    with pytest.raises(SweepError, match=r"key 'epochs' appears twice in one mapping"):
        load_spec(sweep_file(tmp_path, "base: {layers: [64, 8, 10], epochs: 1, epochs: 5}\n"))
    text = load_hardware("reram").to_json()
    doubled = text.replace('"version": 1,', '"version": 1, "name": "a",', 1)
    path = tmp_path / "hw.json"
    path.write_text(doubled)
    with pytest.raises(HardwareError, match=r"key 'name' appears twice in one object"):
        load_hardware(str(path))


def test_yaml_scalars_mean_what_the_file_shows(tmp_path):
    """Point 6: YAML 1.1 read `1:30` as 90 and `yes` as True; the 1.2 core schema keeps both strings."""
    with pytest.raises(SweepError, match=r"epochs: expected an integer >= 0, got '1:30'|epochs.*'1:30'"):
        load_spec(sweep_file(tmp_path, "base: {layers: [64, 8, 10], epochs: 1:30}\n"))
    from wavetrain.compiler.formats import loads_yaml

    assert loads_yaml("a: 1:30\nb: yes\nc: 017\nd: 1e-3\ne: 0x10\nf: true\n", "t", SweepError) == {
        "a": "1:30",
        "b": "yes",
        "c": 17,
        "d": 0.001,
        "e": 16,
        "f": True,
    }


# --- point 7: strict kinds of value -----------------------------------------------------------------------------------


def rewrite_member(path, member, edit):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = edit(members[member])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_true_is_no_number_and_a_list_no_mapping(tmp_path):
    """Point 7: `version: true` (== 1 in Python) in hardware JSON, meta.json's meta as a list, courant=True."""
    data = json.loads(load_hardware("reram").to_json())
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(dict(data, version=True)))
    with pytest.raises(HardwareError, match=r"version: expected 1, got True"):
        load_hardware(str(path))
    model = Network.mlp([2, 3, 2], seed=0).save(tmp_path / "m.npz")

    def listed(raw):
        header = json.loads(raw)
        return json.dumps(dict(header, meta=[1, 2])).encode()

    with pytest.raises(ModelFileError, match=r"meta\.json 'meta' is list .*, expected an object"):
        Network.load(rewrite_member(model, "meta.json", listed))
    net = Network.mlp([2, 3, 2], seed=0)
    with pytest.raises(ConfigError, match=r"courant must be in \(0, 1\] for a circuit, got True"):
        compile_network(net, courant=True)
    with pytest.raises(NetworkError, match=r"unknown activation \['tanh'\]"):
        Network.mlp([2, 3, 2], activation=["tanh"])


# --- point 8: hardware fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, ["x"], {"a": 1}, None, "", "x" * 65, "bad\nname"])
def test_hardware_name_has_a_type_and_a_bound_in_json_and_at_set(tmp_path, value):
    """Point 8: name and description took any JSON value (a list printed as the model's name)."""
    data = json.loads(load_hardware("reram").to_json())
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(dict(data, name=value)))
    with pytest.raises(HardwareError, match=r"name: expected a non-empty string of at most 64 printable characters"):
        load_hardware(str(path))
    with pytest.raises(HardwareError, match=r"name: expected a non-empty string"):
        load_hardware("reram").with_overrides({"name": value})


def test_hardware_description_and_pulse_count_are_bounded(tmp_path):
    """Point 8: a description of any type; max_pulses past 2^24 (counts are float32, no longer exact)."""
    with pytest.raises(HardwareError, match=r"description: expected a string of at most 2000"):
        load_hardware("reram").with_overrides({"description": 3})
    result = cli("hardware", "save", "reram", "-o", tmp_path / "h.json", "--set", f"device.max_pulses={2**25}")
    assert result.exit_code == 1 and "device.max_pulses: expected an integer in [1, 1.67772e+07]" in result.output
    assert not (tmp_path / "h.json").exists()


# --- point 11: counts are checked, never clamped ------------------------------------------------------------------


def test_counts_larger_than_the_data_or_negative_are_refused(tmp_path):
    """Point 11: --samples / --batch past the data used fewer rows and printed the number given."""
    model = Network.mlp([64, 3, 10], seed=0).save(tmp_path / "m.npz")
    result = cli("compile", model, "--data", "digits", "--samples", "999999", "-o", tmp_path / "o.cir")
    assert result.exit_code == 1 and "--samples 999999: data set 'digits' has 1438 train rows" in result.output
    result = cli("hardware", "fidelity", "reram", "--batch", "5000")
    assert result.exit_code == 1 and "--batch 5000: data set 'digits' has 1438 train rows" in result.output
    result = cli("hardware", "fidelity", "reram", "--batch", "-3")
    assert result.exit_code == 2 and "-3 is not in the range x>=1" in result.output
    result = cli("simulate", model, "--timeout", "nan")
    assert result.exit_code == 2 and "expected a finite number, got 'nan'" in result.output


@pytest.mark.parametrize(
    "flags, where", [(["--substrate", "loihi"], "--substrate loihi"), (["--target", "lava"], "--target lava")]
)
def test_dtype_is_refused_where_it_would_be_dropped(flags, where):
    """Point 11: --dtype float32 with the Loihi substrate or Lava ran in float64 and said nothing."""
    result = cli("train", "--layers", "64,3,10", "--epochs", "1", "--dtype", "float32", *flags)
    assert result.exit_code == 1, result.output
    assert f"--dtype float32: {where} computes in float64" in result.output


# --- point 12: degenerate data ------------------------------------------------------------------------------------


def test_an_empty_batch_is_refused_not_relaxed_to_a_zero_gradient():
    """Point 12: an empty batch with mse relaxed to gradient 0, reported as exact."""
    net = Network.mlp([3, 4, 2], seed=0, loss="mse")
    with pytest.raises(DataError, match=r"expected at least one sample, got 0"):
        wavetrain.relax(net, np.zeros((0, 3)), np.zeros((0, 2)))
    with pytest.raises(DataError, match=r"expected at least one sample, got 0"):
        wavetrain.train(net, (np.zeros((0, 3)), np.zeros((0, 2))), epochs=1)


def test_zero_test_rows_one_class_and_one_output_are_refused():
    """Point 12: 0 test rows scored a loss of 0.0; one class trained to loss 0 and accuracy 1; a one-output softmax."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), np.arange(20) % 2
    net = Network.mlp([3, 4, 2], seed=0, loss="cross_entropy")
    with pytest.raises(DataError, match=r"test inputs: expected at least one sample, got 0"):
        wavetrain.train(net, (x, y, np.zeros((0, 3)), np.zeros(0, dtype=int)), epochs=1)
    with pytest.raises(DataError, match=r"training targets: all 20 samples have label 0, expected at least 2 classes"):
        wavetrain.train(net, (x, np.zeros(20, dtype=int), x, y), epochs=1)
    with pytest.raises(NetworkError, match=r"cross_entropy over 1 output is 0 whatever the weights"):
        Network.mlp([3, 4, 1], loss="cross_entropy")


def test_a_test_label_outside_the_training_classes_is_refused(tmp_path):
    """Point 12: one y_test label of 99 turned a 3-class data set into 100 classes."""
    rng = np.random.default_rng(0)
    y_test = np.arange(10) % 3
    y_test[4] = 99
    path = tmp_path / "d.npz"
    np.savez(path, x=rng.normal(size=(30, 4)), y=np.arange(30) % 3, x_test=rng.normal(size=(10, 4)), y_test=y_test)
    with pytest.raises(
        DataError, match=r"y_test \(labels of the classes of y\): sample 4 has label 99, expected 0\.\.2"
    ):
        wavetrain.datasets.load(path)


# --- point 15: malformed files, wrong types, unwritable outputs and full disks end in a WavetrainError -------------


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_said_plainly_and_the_previous_file_kept(tmp_path, monkeypatch):
    """Point 15: ENOSPC was never caught (a raw OSError traceback)."""
    path = Network.mlp([2, 3, 2], seed=0).save(tmp_path / "m.npz")
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", enospc)
    with pytest.raises(ConfigError, match=r"m\.npz: cannot write it: the disk is full \(ENOSPC.*previous file is kept"):
        Network.mlp([2, 3, 2], seed=1).save(path)
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"], "no temp file is left"


def test_a_full_disk_during_a_sweep_is_no_lost_scheduler(tmp_path, monkeypatch):
    """Point 15: a full disk while a row was written was counted as a lost scheduler (OSError is what distributed's
    lost connections raise)."""
    from wavetrain.sweep import run as sweep
    from wavetrain.sweep.run import SweepOutcome, _record
    from wavetrain.sweep.spec import tasks
    from wavetrain.sweep.table import SweepTable

    spec = load_spec(sweep_file(tmp_path, "base: {layers: [64, 4, 10], epochs: 1}\n"))
    task = tasks(spec)[0]
    table = SweepTable(tmp_path / "out", spec, 1)
    row = sweep.run_task(task)

    class Finished:
        status, key = "finished", "k"

        def result(self):
            return row

        def release(self):
            pass

    monkeypatch.setattr(os, "fsync", enospc)
    outcome = SweepOutcome(tmp_path / "out", 1, 0)
    with pytest.raises(SweepError, match=r"the disk is full .*free space and rerun the same command to resume"):
        _record(Finished(), table, outcome, bar=None)
    assert outcome.lost == 0


def test_unwritable_outputs_are_refused_before_any_work(tmp_path):
    """Point 15: a folder where no file can be created (/proc, even for root) failed after the work, raw."""
    model = Network.mlp([2, 3, 2], seed=0).save(tmp_path / "m.npz")
    result = cli("compile", model, "-o", "/proc/wavetrain-test.cir")
    assert result.exit_code == 1 and "OutputError: -o /proc/wavetrain-test.cir: cannot create a file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_deep_json_is_refused_not_a_recursion_error(tmp_path):
    """Point 15: 100000 nested lists in a hardware JSON or meta.json ended in a raw RecursionError."""
    path = tmp_path / "hw.json"
    path.write_text('{"version": 1, "name": "x", "device": ' + deep(100_000) + "}")
    with pytest.raises(HardwareError, match=r"nested deeper than 64 levels"):
        load_hardware(str(path))
    model = Network.mlp([2, 3, 2], seed=0).save(tmp_path / "m.npz")

    def nested(raw):
        return raw.replace(b'"meta": {}', b'"meta": {"x": ' + deep(100_000).encode() + b"}")

    with pytest.raises(ModelFileError, match=r"meta\.json: nested deeper than 64 levels"):
        Network.load(rewrite_member(model, "meta.json", nested))


def test_a_tampered_checkpoint_state_is_a_model_file_error(tmp_path, digits):
    """Point 15: a port field of the wrong type crashed mid-run with a raw TypeError."""
    small = (digits.x_train[:64], digits.y_train[:64], digits.x_test[:16], digits.y_test[:16])
    path = tmp_path / "c.npz"
    wavetrain.train(Network.mlp([64, 6, 10], seed=0), small, epochs=1, seed=3, checkpoint=path)

    def tamper(raw):
        body = json.loads(raw)
        body["state"]["$dict"]["port"]["fields"]["velocity"] = {"$dict": {"1": 5, "2": 5}}
        return json.dumps(body).encode()

    bad = rewrite_member(path, "checkpoint.json", tamper)
    # NOTE: refused when the state is read, naming the field, before the probe step on copies would meet it
    with pytest.raises(ModelFileError, match=r"checkpoint port velocity\['1'\] is not a pair of float arrays"):
        wavetrain.train(Network.mlp([64, 6, 10], seed=0), small, epochs=2, seed=3, resume=bad)


def test_an_empty_sweep_file_is_refused_in_yaml_and_toml(tmp_path):
    """Found by the hostile sweep: an empty TOML file ran one task of defaults (an empty YAML one was refused)."""
    for name in ("s.yaml", "s.toml"):
        with pytest.raises(SweepError, match=r"the file is empty, expected a mapping of some of name, description"):
            load_spec(sweep_file(tmp_path, "# nothing yet\n", name))


def test_chips_past_the_memory_limit_are_refused_before_any_draw():
    """Found by the hostile sweep: `hardware fidelity reram --chips 10000000000000` spawned seeds until killed."""
    out = isolated(
        """
        from click.testing import CliRunner
        from wavetrain.cli import main
        print(CliRunner().invoke(main, ["hardware", "fidelity", "reram", "--chips", "10000000000000"]).output)
        """
    )
    assert "BudgetError: 10,000,000,000,000 chips of reram: needs about" in out, out
