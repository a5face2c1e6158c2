"""The reproduction report of the spec's targets T1-T13 (``wavetrain reproduce``, ``make reproduce``).

Not part of the public API: it measures the library against the source papers and against our derivations.
The entry point is :func:`wavetrain.reproduction.reproduce.reproduce`.
"""
