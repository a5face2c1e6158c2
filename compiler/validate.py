"""One validation layer for public arguments: type, range, finiteness, integrality; nothing is coerced silently.

Every public entry point (Network, relax, train, simulate, the targets, the data checks) checks its numbers and arrays
here, so a bool is never a number, a string is never parsed, a float is never truncated to an int, and a complex array
never loses its imaginary part. A refusal raises the caller's WavetrainError subclass and says expected vs got.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from wavetrain.errors import ConfigError, WavetrainError

REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats: the dtypes a float64 array may be made from


def number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    error: type[WavetrainError] = ConfigError,
) -> float | int:
    """``value`` as a Python int (``integer``) or float, if it is a real finite number in the range; else ``error``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    bound = _bounds(low, high, low_open, high_open)
    expected = f"{'an integer' if integer else 'a number'}{bound}"
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise error(f"{name}: expected {expected}, got {type(value).__name__} {value!r}")
    if not integer and not math.isfinite(float(value)):
        raise error(f"{name}: expected a finite number{bound}, got {value!r}")
    if (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and (value > high or (high_open and value == high))
    ):
        raise error(f"{name}: expected {expected}, got {value!r}")
    return int(value) if integer else float(value)


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def real_array(value: Any, what: str, error: type[WavetrainError]) -> np.ndarray:
    """``value`` as a float64 array if its elements are real numbers (bool, int, float); complex, strings, objects
    and ragged nesting are refused with ``error`` instead of being cast."""
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise error(f"{what}: expected a numeric array, got {type(value).__name__}: {err}") from err
    if array.dtype.kind not in REAL_KINDS:
        raise error(f"{what}: expected real numbers (bool, int or float), got dtype {array.dtype}")
    return array if array.dtype == np.float64 else array.astype(np.float64)
