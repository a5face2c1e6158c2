"""The reproduction report of the spec's targets T1-T16 (``wavetrain reproduce``, ``make reproduce``).

Not part of the public API: it measures the library against the source papers and against our derivations.
The entry point is :func:`wavetrain.reproduction.reproduce.reproduce`; the commands are in :mod:`.cli`. It lives
in the top-level folder reproduction/ (installed as wavetrain.reproduction) and nothing outside it imports it.
"""
