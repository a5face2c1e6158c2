"""A small reader for ngspice raw files (binary or ASCII, real data), as written by ``ngspice -b -r``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wavetrain.errors import SimulationError


def read_raw(path: str | Path) -> dict[str, np.ndarray]:
    """Vector name (lower case, e.g. 'time', 'v(n0_0_x)') -> float64 array of the last plot in a raw file."""
    data = Path(path).read_bytes()
    names: list[str] = []
    points = variables = 0
    offset = 0
    while True:
        end = data.find(b"\n", offset)
        if end < 0:
            raise SimulationError(f"{path}: truncated raw file (no Binary: or Values: section)")
        line = data[offset:end].decode("latin-1").rstrip("\r")
        offset = end + 1
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "flags" and "complex" in value.lower():
            raise SimulationError(f"{path}: complex raw data is not supported (transient results are real)")
        if key == "no. variables":
            variables = int(value)
        elif key == "no. points":
            points = int(value)
        elif key == "variables":
            for _ in range(variables):
                end = data.find(b"\n", offset)
                fields = data[offset:end].decode("latin-1").split()
                offset = end + 1
                names.append(fields[1].lower())
        elif key == "binary":
            count = points * variables
            if len(data) - offset < 8 * count:
                points = (len(data) - offset) // (8 * variables)
                count = points * variables
            table = np.frombuffer(data, dtype="<f8", count=count, offset=offset).reshape(points, variables)
            return {name: table[:, k].copy() for k, name in enumerate(names)}
        elif key == "values":
            numbers = data[offset:].decode("latin-1").split()
            table = np.array([float(v) for k, v in enumerate(numbers) if k % (variables + 1)], dtype=np.float64)
            table = table[: (len(table) // variables) * variables].reshape(-1, variables)
            return {name: table[:, k].copy() for k, name in enumerate(names)}
