"""``python -m wavetrain.cli``, as ``wavetrain``."""

from wavetrain.cli import main

main(prog_name="wavetrain")
