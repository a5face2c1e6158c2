"""A hostile user's sweep over the CLI: every numeric option with wrong values, every reader with files that are not
what it expects, every output with a path that cannot or must not be written. Rerun: ``.venv/bin/python
scripts/hostile_sweep.py`` (about 5 minutes on 2 cores; ``--quick`` for a tenth of it).

Each input ends as ``ok`` (accepted: listed, to be judged by a reader), ``refused`` (exit 1 with one line naming a
WavetrainError, or click's usage error, exit 2), ``raw`` (a traceback or any other exception) or ``hang`` (no answer
within 60 s, or HOSTILE_TIMEOUT). Printed: the counts, then every raw, hang and accepted input.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

VALUES = ["0", "-1", "nan", "inf", "1e300", "abc", "", "10000000000000", "3.5", "true", "-0", "1e-300"]
OPTIONS = {
    "train": (
        ["train", "--layers", "64,3,10", "--epochs", "1", "--json"],
        ["--epochs", "--batch-size", "--lr", "--momentum", "--hold", "--seed", "--ticks", "--chips"],
    ),
    "gradients": (["gradients"], ["--ticks", "--courant", "--batch", "--seed"]),
    "compile": (["compile", "{model}", "-o", "{dir}/o.cir"], ["--ticks", "--courant", "--samples", "--eta", "--seed"]),
    "simulate": (["simulate", "{model}", "--target", "numpy"], ["--ticks", "--samples", "--timeout", "--seed"]),
    "fidelity": (["hardware", "fidelity", "reram"], ["--batch", "--ticks", "--chips", "--seed"]),
}


def files(folder: Path) -> dict[str, Path]:
    """Inputs that are not what a reader expects."""
    out = {}
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    out["fifo"] = fifo
    (folder / "zero").symlink_to("/dev/zero")
    out["/dev/zero"] = folder / "zero"
    out["folder"] = folder
    for name, data in {
        "empty": b"",
        "random": os.urandom(300),
        "deep json": b"[" * 100_000 + b"]" * 100_000,
        "duplicate keys": b'{"version": 1, "version": 1}',
        "bool version": b'{"version": true}',
        "list": b"[1, 2]",
        "yaml bomb": b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + b"".join(b"%c: &%c [%s]\n" % (c, c, b", ".join([b"*%c" % (c - 1)] * 10)) for c in range(98, 107)),
        "utf-16": "base: {}".encode("utf-16"),
    }.items():
        path = folder / name.replace(" ", "_")
        path.write_bytes(data)
        out[name] = path
    return out


def readers(folder: Path) -> dict[str, tuple[list[str], str]]:
    """Each reader's command, with {f} for the input, and the suffix the input's name needs."""
    return {
        "network": (["compile", "{f}", "-o", f"{folder}/o.cir"], ".npz"),
        "data set": (["train", "--dataset", "{f}", "--epochs", "1"], ".npz"),
        "hardware": (["hardware", "show", "{f}"], ".json"),
        "sweep": (["sweep", "run", "{f}", "--out", f"{folder}/sweep-out"], ".yaml"),
        "sweep toml": (["sweep", "run", "{f}", "--out", f"{folder}/sweep-out"], ".toml"),
        "netlist": (["simulate", "{f}", "--target", "spice", "--timeout", "20"], ".cir"),
        "checkpoint": (["train", "--resume", "{f}", "--epochs", "1"], ".npz"),
    }


def outputs(model: str, folder: Path) -> dict[str, list[str]]:
    return {
        "compile -o": ["compile", model, "-o", "{o}"],
        "train --save": ["train", "--layers", "64,3,10", "--epochs", "1", "--save", "{o}"],
        "train --plot": ["train", "--layers", "64,3,10", "--epochs", "1", "--plot", "{o}"],
        "hardware save -o": ["hardware", "save", "reram", "-o", "{o}"],
        "gradients --plot": ["gradients", "--plot", "{o}"],
    }


class Hang(Exception):
    pass


def classify(args: list[str]) -> str:
    from wavetrain.cli import main

    def alarm(signum, frame):
        raise Hang

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(os.environ.get("HOSTILE_TIMEOUT", "60")))
    try:
        result = CliRunner().invoke(main, args)
    except Hang:
        return "hang"
    finally:
        signal.alarm(0)
    if isinstance(result.exception, Hang):
        return "hang"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "raw"
    if "Traceback" in result.output:
        return "raw"
    if result.exit_code == 0:
        return "ok"
    if result.exit_code == 2 or (result.exit_code == 1 and "Error: " in result.output):
        return "refused"
    return "raw"


def main() -> None:
    quick = "--quick" in sys.argv
    os.environ.setdefault("WAVETRAIN_MEMORY_LIMIT", "2G")
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    os.chdir(folder)  # NOTE: an interrupted train writes its checkpoint into the working folder
    import wavetrain

    model = str(wavetrain.Network.mlp([64, 3, 10], seed=0).save(folder / "m.npz"))
    cases: list[tuple[str, list[str]]] = []
    for command, (base, flags) in OPTIONS.items():
        for flag in flags:
            for value in VALUES[:3] if quick else VALUES:
                args = [a.format(model=model, dir=folder) for a in base] + [flag, value]
                cases.append((f"{command} {flag} {value!r}", args))
    inputs = files(folder)
    for reader, (template, suffix) in readers(folder).items():
        for kind, path in inputs.items():
            target = folder / f"{reader}-{kind}{suffix}".replace(" ", "_").replace("/", "")
            target.symlink_to(path)
            cases.append((f"{reader} <- {kind}", [a.replace("{f}", str(target)) for a in template]))
    # NOTE: the device is reached through a link: code that replaces an output path by a file (as wavetrain before
    # issue 23 did) then replaces the link, not /dev/full itself
    (folder / "device.out").symlink_to("/dev/full")
    bad_outputs = {"fifo": inputs["fifo"], "folder": folder, "/proc": Path("/proc/hostile.out"),
                   "file as folder": inputs["empty"] / "x.out", "device": folder / "device.out"}  # fmt: skip
    for name, template in outputs(model, folder).items():
        for kind, path in bad_outputs.items():
            cases.append((f"{name} -> {kind}", [a.replace("{o}", str(path)) for a in template]))
    if quick:
        cases = cases[::10]
    counts: dict[str, int] = {}
    notable = []
    for label, args in cases:
        verdict = classify(args)
        counts[verdict] = counts.get(verdict, 0) + 1
        if verdict != "refused":
            notable.append(f"{verdict:7s} {label}")
    print(json.dumps({"inputs": len(cases), **counts}))
    print("\n".join(notable))


if __name__ == "__main__":
    main()
