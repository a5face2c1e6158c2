"""The command line loads a command's module only when that command runs; --help lists them all from COMMANDS."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from wavetrain.cli import COMMANDS, LazyGroup, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_and_its_help_is_the_listed_one(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert isinstance(command, click.Command) and command.name == name
    first_paragraph = (command.help or "").partition("\n\n")[0]
    assert " ".join(first_paragraph.split()) == " ".join(COMMANDS[name][1].split())


def test_help_lists_the_commands_as_if_they_were_all_loaded() -> None:
    context = click.Context(main)
    loaded = click.Group("wavetrain", params=main.params, help=main.help)
    for name in COMMANDS:
        loaded.add_command(main.get_command(context, name), name)
    lazy = LazyGroup("wavetrain", params=main.params, help=main.help, lazy=COMMANDS)
    runner = CliRunner()
    for width in (80, 120, 200):
        got = runner.invoke(lazy, ["--help"], terminal_width=width)
        want = runner.invoke(loaded, ["--help"], terminal_width=width)
        assert got.exit_code == want.exit_code == 0
        assert got.output == want.output
    assert all(f"\n  {name} " in got.output for name in COMMANDS)


def test_a_mistyped_command_is_told_the_close_name() -> None:
    lazy = LazyGroup("wavetrain", lazy=COMMANDS)
    result = CliRunner().invoke(lazy, ["trian"])
    assert result.exit_code == 2
    assert "No such command 'trian'" in result.output
    if hasattr(click.exceptions, "NoSuchCommand"):  # click >= 8.2 suggests close names
        assert "Did you mean 'train'?" in result.output


def test_help_imports_no_command_module_and_no_numpy() -> None:
    code = (
        "import sys\nfrom wavetrain.cli import main\n"
        "main(['--help'], prog_name='wavetrain', standalone_mode=False)\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules = set(out.split("MODULES", 1)[1].split())
    assert {m for m in modules if m.startswith("wavetrain")} == {"wavetrain", "wavetrain._lazy", "wavetrain.cli"}
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "scipy", "matplotlib", "torch")}
