"""Fuzz: hostile arguments, options and files never end in anything but success or a WavetrainError.

Hypothesis draws the public API's arguments (type, range, finiteness, integrality all wrong in turn), the CLI's
options and files (corrupt or hostile npz, json, netlists). The only outcomes allowed: success, a WavetrainError, or
for the CLI a clean one-line error with exit code 2 (usage) or 1 (failure). After every example no child process is
running and no file is left in the temp folder. Bounded and derandomized in CI (tests/conftest.py): about 20 s.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import wavetrain
from tests.procs import live_children
from wavetrain import Network, WavetrainError
from wavetrain.cli import main

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))

# numbers of every wrong kind next to good ones
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.integers(10**8, 10**13),
    st.floats(allow_nan=True),
    st.complex_numbers(max_magnitude=5),
    st.text(max_size=4),
    st.lists(st.integers(0, 4), max_size=3),
    st.just(np.float64("nan")),
    st.just(np.int64(3)),
    st.just(np.array([1.0, 2.0])),
)
small_positive = st.one_of(st.integers(1, 4), anything)


def children() -> set[int]:
    return live_children(os.getpid())


@contextmanager
def clean_temp():
    """A fresh temp folder for the example; afterwards it must be empty and no child process may be running."""
    before = children()  # NOTE: other tests in this worker may own long-lived children (a Dask cluster)
    folder = tempfile.mkdtemp(prefix="fuzz-")
    old = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = old
    left = sorted(p.name for p in Path(folder).iterdir())
    os.rmdir(folder) if not left else None
    assert left == [], f"temp files left: {left}"
    assert children() <= before, "a child process outlived the call"


def outcome(call) -> str:
    try:
        call()
    except WavetrainError as err:
        assert str(err).strip() and "\n" not in str(err).strip(), f"not one line: {err!r}"
        return "refused"
    return "ok"


@pytest.fixture(autouse=True)
def small_memory_limit(monkeypatch):
    monkeypatch.setenv("WAVETRAIN_MEMORY_LIMIT", "256M")


@FUZZ
@given(
    sizes=st.one_of(
        anything, st.lists(st.one_of(st.integers(-1, 5), anything), max_size=4), st.just([3, 10**6, 10**6])
    ),
    activation=st.sampled_from(["tanh", "relu", "nope", 3, None]),
    seed=anything,
)
def test_mlp_arguments(sizes, activation, seed):
    with clean_temp():
        outcome(lambda: Network.mlp(sizes, activation=activation, seed=seed))


@FUZZ
@given(
    ticks=st.one_of(st.none(), anything),
    courant=st.one_of(st.just(1.0), st.just(1e-300), anything),
    history=st.one_of(st.booleans(), anything),
    x=st.one_of(st.just("good"), anything),
)
def test_relax_arguments(ticks, courant, history, x):
    net = Network.mlp([3, 4, 2], seed=0)
    xs = np.ones((2, 3)) if isinstance(x, str) and x == "good" else x
    # NOTE: a drawn courant of, say, 2e-7 asks for ~1e7 ticks, legal under the real cap and minutes of work; the cap's
    # own refusal is what is fuzzed here, at a size that keeps every accepted draw fast
    with clean_temp(), mock.patch("wavetrain.emulator.relax.MAX_TICKS", 10**4):
        outcome(lambda: wavetrain.relax(net, xs, np.zeros((2, 2)), ticks=ticks, courant=courant, history=history))


@FUZZ
# NOTE: epochs from `anything` could be 10**8, a legal request for days of training; wrong kinds are still drawn
@given(
    epochs=st.one_of(
        st.integers(-3, 2),
        st.none(),
        st.booleans(),
        st.floats(allow_nan=True),
        st.text(max_size=4),
        st.just(np.float64("nan")),
        st.just(np.array([1.0, 2.0])),
    ),
    batch_size=small_positive,
    lr=st.one_of(st.just(0.05), anything),
    momentum=st.one_of(st.just(0.0), anything),
    seed=st.one_of(st.just(0), anything),
    method=st.sampled_from(["dyadic", "wave", "backprop", "mpc", "adam", 7]),
    hold=st.one_of(st.none(), st.integers(1, 3), anything),
    y=st.sampled_from(["labels", "complex", "float labels", "nan", "wide"]),
)
def test_train_arguments(epochs, batch_size, lr, momentum, seed, method, hold, y):
    x = np.random.default_rng(0).normal(size=(12, 3))
    targets = {
        "labels": np.arange(12) % 2,
        "complex": (np.arange(12) % 2) + 1j,
        "float labels": np.arange(12) / 7,
        "nan": np.full(12, np.nan),
        "wide": np.ones((12, 5)),
    }[y]
    net = Network.mlp([3, 4, 2], seed=0, loss="cross_entropy")
    with clean_temp():
        result = outcome(
            lambda: wavetrain.train(
                net,
                (x, targets),
                method=method,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                momentum=momentum,
                seed=seed,
                hold=hold,
            )
        )
    if y == "complex":
        assert result == "refused", "a complex array must not lose its imaginary part silently"
    assert all(np.isfinite(layer.weight).all() for layer in net.layers), "no NaN is left in a network"


def hostile_npz(kind: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    good = io.BytesIO()
    np.save(good, np.ones((4, 2)))
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000000,), }"
    header += b" " * (127 - len(header)) + b"\n"
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if kind == "random":
            return data
        if kind == "huge header":
            archive.writestr("x.npy", header)
            archive.writestr("y.npy", header)
        elif kind == "truncated":
            archive.writestr("x.npy", good.getvalue()[: max(10, len(data))])
            archive.writestr("y.npy", good.getvalue())
        elif kind == "pickle":
            objects = io.BytesIO()
            np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
            archive.writestr("x.npy", objects.getvalue())
            archive.writestr("y.npy", objects.getvalue())
        elif kind == "meta":
            archive.writestr("meta.json", data)
            archive.writestr("layer0.weight.npy", good.getvalue())
            archive.writestr("layer0.bias.npy", good.getvalue())
        elif kind == "meta json":
            try:
                text = json.dumps(json.loads(data.decode("utf-8", errors="replace")))
            except ValueError:
                text = json.dumps(
                    {"format": "wavetrain.network", "version": 1, "layers": [{"type": "dense"}], "junk": data.hex()}
                )
            archive.writestr("meta.json", text)
        elif kind == "bomb":
            archive.writestr("x.npy", good.getvalue()[:128] + b"\0" * 5_000_000)
            archive.writestr("y.npy", good.getvalue())
    return buffer.getvalue()


@FEW
@given(
    kind=st.sampled_from(["random", "huge header", "truncated", "pickle", "meta", "meta json", "bomb"]),
    data=st.binary(max_size=200),
)
def test_hostile_files_to_load_and_to_the_cli(tmp_path_factory, kind, data):
    folder = tmp_path_factory.mktemp("files")
    path = folder / "hostile.npz"
    path.write_bytes(hostile_npz(kind, data))
    with clean_temp():
        outcome(lambda: Network.load(path))
        outcome(lambda: wavetrain.datasets.load(path))
        for args in (
            ["compile", str(path), "-o", str(folder / "o.cir")],
            ["train", "--dataset", str(path), "--epochs", "1", "--layers", "2,3,2", "--json"],
            ["simulate", str(path)],
            ["gradients", "--model", str(path)],
        ):
            check_cli(args)


def check_cli(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output
    if result.exit_code:
        errors = [line for line in result.output.strip().splitlines() if line.startswith(("Error", "Usage", "Try"))]
        assert errors, (args, result.output)


option_values = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            "2",
            "nan",
            "inf",
            "-inf",
            "1e-300",
            "1e300",
            "3.5",
            "abc",
            "",
            "10000000000000",
            "0x10",
            "1,2",
            "64,0,10",
            "2,3,2",
        ]
    ),
    st.text(max_size=6),
)


@FUZZ
@given(
    command=st.sampled_from(["train", "gradients", "compile", "simulate"]),
    options=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "--epochs",
                    "--batch-size",
                    "--lr",
                    "--momentum",
                    "--hold",
                    "--seed",
                    "--layers",
                    "--ticks",
                    "--courant",
                    "--batch",
                    "--samples",
                    "--timeout",
                    "--name",
                    "--method",
                    "--eta",
                ]
            ),
            option_values,
        ),
        max_size=3,
    ),
)
def test_cli_options(tmp_path_factory, command, options):
    folder = tmp_path_factory.mktemp("cli")
    model = Network.mlp([2, 3, 2], seed=0).save(folder / "m.npz")
    base = {
        "train": ["train", "--layers", "64,3,10", "--epochs", "1", "--json"],
        "gradients": ["gradients"],
        "compile": ["compile", str(model), "-o", str(folder / "m.cir")],
        "simulate": ["simulate", str(model), "--target", "numpy"],
    }[command]
    args = list(base)
    for flag, value in options:
        args += [flag, value]
    with clean_temp():
        check_cli(args)


netlist_lines = st.sampled_from(
    [
        ".control",
        ".endc",
        "shell touch {marker}",
        ".include /etc/passwd",
        ".inc ../x.cir",
        ".lib /etc/hosts x",
        "*ng_script",
        "R1 a 0 1k",
        "V1 a 0 1",
        ".tran 1n 5n",
        ".end",
        ".title t",
        "+ 1",
        "* comment",
        ".EXEC",
        "  .Control",
        "\x00\xff",
        "source {marker}",
    ]
)


@FUZZ
@given(lines=st.lists(netlist_lines, min_size=1, max_size=6))
def test_hostile_netlists(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("netlist")
    marker = folder / "pwned"
    netlist = folder / "n.cir"
    netlist.write_text("\n".join(lines).format(marker=marker) + "\n", errors="surrogateescape")
    with clean_temp():
        check_cli(["simulate", str(netlist), "--target", "spice", "--timeout", "20"])
    assert not marker.exists(), "no command of a netlist ran"
    assert sorted(p.name for p in folder.iterdir()) == ["n.cir"], "nothing written beside the netlist"


def test_the_fuzz_checks_can_fail():
    """The harness itself: a raw exception, a left temp file and a traceback are caught."""
    with pytest.raises(ZeroDivisionError):
        outcome(lambda: 1 / 0)
    with pytest.raises(AssertionError, match="temp files left"):
        with clean_temp() as folder:
            (folder / "left.tmp").write_text("x")
    assert math.isfinite(1.0)


# --- every file format (issue 23): hardware JSON, sweep YAML/TOML, checkpoints, Parquet parts ----------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
)


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(["version", "name", "description", "device", "io", "x"]), json_values)),
    field=st.sampled_from(["device.read_noise", "io.adc_bits", "circuit.line_loss", "device.max_pulses", "name"]),
    value=st.one_of(json_values, st.sampled_from(["1:30", "Infinity", "NaN", "-0", "1e999"])),
    raw=st.sampled_from(["", "dup", "deep", "nan", "bom", "trailing"]),
)
def test_hardware_json_files(tmp_path_factory, edits, field, value, raw):
    from wavetrain.circuits.hardware import load_hardware

    folder = tmp_path_factory.mktemp("hw")
    data = json.loads(load_hardware("reram").to_json())
    for key, new in edits:
        data[key] = new
    part, _, leaf = field.partition(".")
    if leaf and isinstance(data.get(part), dict):
        data[part][leaf] = value
    text = json.dumps(data, allow_nan=True)
    text = {
        "": text,
        "dup": text.replace("{", '{"name": "a", ', 1),
        "deep": text[:-1] + ', "io": ' + "[" * 5000 + "]" * 5000 + "}",
        "nan": text.replace("0.0", "NaN", 1),
        "bom": "\ufeff" + text,
        "trailing": text + " x",
    }[raw]
    path = folder / "hw.json"
    path.write_text(text)
    with clean_temp():
        outcome(lambda: load_hardware(str(path)))
        check_cli(["hardware", "show", str(path)])
        check_cli(["hardware", "save", "reram", "-o", str(folder / "o.json"), "--set", f"{field}={json.dumps(value)}"])


sweep_fragments = st.sampled_from(
    [
        "base: {layers: [64, 8, 10], epochs: 1}\n",
        "base: {layers: [64, 8, 10], epochs: 1, epochs: 2}\n",
        "grid:\n  lr: [0.1, 0.2]\n",
        "grid:\n  lr: [1:30]\n",
        "grid:\n  lr: 5\n",
        "grid: [1, 2]\n",
        "seeds: 1000000000\n",
        "seeds: -1\n",
        "seeds: true\n",
        "random:\n  samples: 3\n  lr: {low: 0.01, high: 0.1, log: true}\n",
        "random:\n  samples: 1e12\n",
        "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
        "metrics: [test_accuracy, nope]\n",
        "name: !!python/object:os.system x\n",
        "root_seed: 0x10\n",
        "%YAML 1.1\n---\n",
        "\t- bad indent\n",
        "key: [unclosed\n",
    ]
)


@FUZZ
@given(parts=st.lists(sweep_fragments, min_size=1, max_size=4), toml=st.booleans(), junk=st.binary(max_size=30))
def test_sweep_files(tmp_path_factory, parts, toml, junk):
    from wavetrain.sweep.spec import load_spec

    folder = tmp_path_factory.mktemp("sweep")
    if toml:
        path = folder / "s.toml"
        path.write_bytes(b"[base]\nlayers = [64, 8, 10]\nepochs = 1\n[grid]\nlr = [0.1]\n" + junk)
    else:
        path = folder / "s.yaml"
        path.write_bytes("".join(parts).encode() + junk)
    with clean_temp():
        outcome(lambda: load_spec(path))


@pytest.fixture(scope="module")
def checkpoint_members(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "c.npz"
    x = np.random.default_rng(0).normal(size=(24, 3))
    wavetrain.train(Network.mlp([3, 4, 2], seed=0), (x, np.arange(24) % 2), epochs=1, seed=0, checkpoint=path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _paths(value, prefix=()):
    """Every (path, leaf) of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))
    yield prefix, value


@FEW
@given(pick=st.integers(0, 10**6), value=json_values, cut=st.one_of(st.none(), st.integers(0, 4000)))
@example(pick=3039, value=None, cut=None)  # NOTE: a parameter pair replaced by null once raised TypeError
@example(pick=740, value=3.4028235677973366e38, cut=None)
def test_tampered_checkpoints(tmp_path_factory, checkpoint_members, pick, value, cut):
    folder = tmp_path_factory.mktemp("tampered")
    body = json.loads(checkpoint_members["checkpoint.json"])
    paths = [path for path, _ in _paths(body) if path]
    target = paths[pick % len(paths)]
    node = body
    for key in target[:-1]:
        node = node[key]
    node[target[-1]] = value
    members = dict(checkpoint_members, **{"checkpoint.json": json.dumps(body).encode()})
    path = folder / "c.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue()[:cut] if cut is not None else buffer.getvalue())
    x = np.random.default_rng(0).normal(size=(24, 3))
    net = Network.mlp([3, 4, 2], seed=0)
    with clean_temp():
        outcome(lambda: wavetrain.train(net, (x, np.arange(24) % 2), epochs=2, seed=0, resume=path))
    assert all(np.isfinite(layer.weight).all() for layer in net.layers), "no NaN is left in a network"


@FEW
@given(cut=st.integers(0, 3000), flip=st.one_of(st.none(), st.integers(0, 3000)))
def test_corrupt_parquet_parts(tmp_path_factory, cut, flip):
    from wavetrain.sweep import run as sweep
    from wavetrain.sweep.report import report
    from wavetrain.sweep.spec import load_spec, tasks
    from wavetrain.sweep.table import SweepTable

    folder = tmp_path_factory.mktemp("parts")
    spec_path = folder / "s.yaml"
    spec_path.write_text("base: {layers: [64, 4, 10], epochs: 1}\ngrid:\n  lr: [0.1, 0.2]\n")
    spec = load_spec(spec_path)
    every = tasks(spec)
    table = SweepTable(folder / "out", spec, len(every))
    for task in every:
        table.write(sweep.run_task(task))
    part = folder / "out" / "results" / f"{every[0].task_id}.parquet"
    data = bytearray(part.read_bytes())
    if flip is not None and flip < len(data):
        data[flip] ^= 0xFF
    part.write_bytes(bytes(data[: max(cut, 0)]) if cut < len(data) else bytes(data))
    with clean_temp():
        outcome(lambda: report(folder / "out"))
        done = SweepTable(folder / "out", spec, len(every)).finished()
    assert every[1].task_id in done
