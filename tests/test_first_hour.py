"""The small things a new user trips over in the first hour (issue 24, point 9)."""

from __future__ import annotations

from click.testing import CliRunner

from wavetrain.cli import main
from wavetrain.errors import ConfigError


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_every_top_level_name_the_readme_lists_imports():
    from wavetrain import compile_network, simulate, to_pyspice, to_spice  # noqa: F401


def test_an_output_in_a_missing_folder_is_refused_not_made(tmp_path):
    done = _invoke("train", "--layers", "64,8,10", "--epochs", "1", "--save", str(tmp_path / "nope" / "net.npz"))
    assert done.exit_code != 0
    assert f"folder {tmp_path / 'nope'} does not exist" in done.output and "mkdir -p" in done.output
    assert not (tmp_path / "nope").exists()
    from wavetrain.files import check_writable

    try:
        check_writable(tmp_path / "a" / "b.png", "--plot")
    except ConfigError as err:
        assert "--plot" in str(err) and "does not exist" in str(err)
    else:
        raise AssertionError("a missing folder was accepted")
    assert check_writable(tmp_path / "b.png") == tmp_path / "b.png"


def test_every_option_the_readme_uses_has_help_text():
    import re

    for command, options in (("gradients", ("--courant", "--json")), ("simulate", ("--courant", "--all", "--json"))):
        text = " ".join(_invoke(command, "--help").output.split())  # NOTE: help wrapped onto one line
        for option in options:
            # the words after the option and its metavar, before the next option, defaults removed
            after = re.search(rf"{option}(?: [A-Z]+)? (.*?)(?= --|$)", text).group(1)
            assert len(re.sub(r"\[[^]]*\]", "", after).split()) >= 3, (command, option, after)


def test_hardware_fidelity_names_its_argument_hardware_not_model():
    text = _invoke("hardware", "fidelity", "--help").output
    assert "HARDWARE" in text.splitlines()[0] and "MODEL" not in text


def test_sweep_lists_its_subcommands_and_the_task_ids_rerun_takes(tmp_path):
    from tests.test_sweep import fill

    assert all(name in _invoke("sweep", "--help").output for name in ("report", "rerun", "tasks"))
    _, every = fill(tmp_path)
    done = _invoke("sweep", "tasks", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].split()[:3] == ["task_id", "status", "seed"] and "lr" in lines[0] and "method" in lines[0]
    assert {line.split()[0] for line in lines[1:-1]} == {task.task_id for task in every}
    assert f"{len(every)} task(s)" in lines[-1] and "sweep rerun" in lines[-1]
