"""The Lava target: the wave machine as Lava Processes, one per layer, run by Lava's CPU simulator (Loihi2SimCfg).

``floating_pt`` ProcessModels run the emulator's cells (wavetrain.emulator.cells) on the ideal substrate;
``fixed_pt`` ProcessModels run the same cells in int64 in the formats of the Loihi fixed-point substrate
(wavetrain.emulator.loihi), so they must agree with the emulator on that substrate bit for bit.

Nothing here imports lava at import time: Lava's compiler executes every module of this folder while it looks for
ProcessModels, and wavetrain must import without Lava. Use :func:`wavetrain.targets.get_target` ("lava") or
:mod:`wavetrain.targets.lava.runner`.
"""
