"""The ``wavetrain`` command line: parses arguments and calls the public API, nothing more.

One module per command group; :data:`COMMANDS` names each command's ``module:attribute`` and its help, so
``wavetrain --help`` lists them all and ``wavetrain CMD`` imports only CMD's module.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Mapping

import click

# name -> ("module:attribute", the first paragraph of the command's help: what --help lists, shortened by click;
# tests/test_cli_lazy.py checks it against the command)
COMMANDS: dict[str, tuple[str, str]] = {
    "compile": (
        "wavetrain.cli.compile:compile_command",
        "Compile MODEL (a wavetrain network file, any graph; or --model PRESET) into a self-contained ngspice netlist.",
    ),
    "deploy": (
        "wavetrain.cli.deploy:deploy_command",
        "Run MODEL on Lava: accuracy, gradient error against the emulator per timestep, (loihi2) resources, timing.",
    ),
    "gradients": (
        "wavetrain.cli.gradients:gradients",
        "Print the per-tick gradient error of the wave relaxation against backprop (the light cone).",
    ),
    "hardware": (
        "wavetrain.cli.hardware:hardware",
        "Analog hardware models: presets and their parameters (train on one with `wavetrain train --hardware`).",
    ),
    "reproduce": (
        "wavetrain.reproduction.cli:reproduce_command",
        "Run the reproduction targets T1-T16 and write OUT/report.md.",
    ),
    "reproduce-t9": (
        "wavetrain.reproduction.cli:reproduce_t9_command",
        "T9 at the authors' schedule (MNIST-1D, AdamW, batch 512, 300 epochs at lr 1e-4): every estimator, resumable.",
    ),
    "simulate": (
        "wavetrain.cli.simulate:simulate_command",
        "Relax SOURCE (a network file, or --model PRESET; or a .cir netlist on the spice target) and print "
        "gradients or probes.",
    ),
    "sweep": (
        "wavetrain.cli.sweep:sweep_group",
        "Run a sweep file on Dask (`wavetrain sweep SWEEP.yaml --out DIR`), then `wavetrain sweep report DIR`.",
    ),
    "train": (
        "wavetrain.cli.train:train",
        "Train a network on a data set with the emulator (or on Lava, --target lava); resumable: see --checkpoint "
        "and --resume.",
    ),
}

_NO_SUCH_COMMAND = getattr(click.exceptions, "NoSuchCommand", ())  # click >= 8.2: the error that suggests a name


class LazyGroup(click.Group):
    """A click group whose commands are ``module:attribute`` strings, imported when one is run or asked for."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return self.commands.get(cmd_name)
        target, help_text = self.lazy[cmd_name]
        if self._listing:  # NOTE: --help needs only the help; click shortens it exactly as the command's own
            return click.Command(cmd_name, help=help_text)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        self.add_command(command, cmd_name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except _NO_SUCH_COMMAND as err:  # NOTE: click suggests a close name from the loaded commands only
            raise type(err)(err.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


def _one_line_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """A warning on the command line: one line on stderr with its kind, not the source line that raised it."""
    click.echo(f"wavetrain: {category.__name__}: {message}", err=True)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(package_name="wavetrain")
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=None,
    help="BLAS, OpenMP and torch threads for the command (default 1, or $WAVETRAIN_THREADS; 0: the libraries' own, "
    "a thread per core). One thread does not collapse beside other busy processes (BENCHMARKS.md, Threads).",
)
def main(threads: int | None) -> None:
    """Train networks as wave circuits; compile them to SPICE; run them on every backend."""
    from wavetrain.emulator import threads as threads_module

    context = click.get_current_context()
    context.with_resource(warnings.catch_warnings())  # NOTE: restores the caller's warning display afterwards
    warnings.showwarning = _one_line_warning
    count = threads_module.resolve(threads, "--threads")
    threads_module.set_environment(count)  # NOTE: NumPy and torch load later and read it; so do child processes
    context.with_resource(threads_module.limited(count))
