from wavetrain.cli import main

main(prog_name="wavetrain")
