"""Data below the API: the train/test container and the checks every batch passes before it reaches a network.

The compiler (Network.check_input, Network.targets) and the emulator (train) need them, so they live here;
:mod:`wavetrain.datasets` (loading the built-in and user data sets) re-exports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from wavetrain.compiler.validate import real_array
from wavetrain.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays; ``n_classes`` is 0 for regression targets."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape: (features,) for vectors, (C, L) for signals, (C, H, W) for images."""
        return tuple(int(n) for n in self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        """Values per sample (the product of :attr:`sample_shape`)."""
        return math.prod(self.sample_shape)

    def as_shape(self, shape: Any) -> Dataset:
        """The same samples read as ``shape`` in C order (as torch's ``x.view(-1, *shape)``): MNIST-1D's 40 values
        as (1, 40) for a Conv1d, the 64 pixels of a digit as (1, 8, 8) for a Conv2d, or back to (n,)."""
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)
        if (
            not isinstance(shape, (tuple, list))
            or not 1 <= len(shape) <= 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
        ):
            raise DataError(f"{self.name}: a sample shape is 1 to 3 positive integers, got {shape!r}")
        shape = tuple(shape)
        if math.prod(shape) != self.n_features:
            raise DataError(
                f"{self.name}: samples of shape {self.sample_shape} ({self.n_features} values) cannot be read as "
                f"{shape} ({math.prod(shape)} values)"
            )
        if shape == self.sample_shape:
            return self
        return replace(
            self,
            x_train=self.x_train.reshape(len(self.x_train), *shape),
            x_test=self.x_test.reshape(len(self.x_test), *shape),
        )

    def standardized(self) -> Dataset:
        """Every input value centred and scaled per feature (each pixel, channel sample or feature on its own) by
        the training set's mean and standard deviation, the same affine map applied to the test set; a constant
        feature is only centred. The initialisation assumes inputs of order one; raw features in the hundreds
        (a user's measurements) saturate tanh from the first step."""
        flat = self.x_train.reshape(len(self.x_train), -1).astype(np.float64)
        mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        scale = np.where(std > 0, std, 1.0)

        def apply(x: np.ndarray) -> np.ndarray:
            return ((x.reshape(len(x), -1) - mean) / scale).reshape(x.shape)

        return replace(self, x_train=apply(self.x_train), x_test=apply(self.x_test))

    def input_scale(self) -> tuple[float, int]:
        """The largest per-feature magnitude of the training inputs, max(|mean|, std), and the feature it is on."""
        flat = self.x_train.reshape(len(self.x_train), -1)
        size = np.maximum(np.abs(flat.mean(axis=0)), flat.std(axis=0))
        return float(size.max()), int(size.argmax())

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.n_classes else self.y_train.shape[1]

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: {len(self.x_train)} train, {len(self.x_test)} test, "
            f"{self.n_features} features{f' as {self.sample_shape}' if len(self.sample_shape) > 1 else ''}, "
            f"{self.n_classes or self.n_outputs} {'classes' if self.n_classes else 'outputs'})"
        )


def check_samples(x: Any, shape: tuple[int, ...] | None, what: str = "x") -> np.ndarray:
    """x as a finite float array (samples, *shape) of 2 to 4 dimensions; ``shape`` None takes the array's own."""
    array = x if _is_float_array(x) else real_array(x, what, DataError)
    if not 2 <= array.ndim <= 4:
        raise DataError(
            f"{what}: expected an array (samples, features), (samples, C, L) or (samples, C, H, W), got shape "
            f"{array.shape}"
        )
    return check_inputs(array, tuple(array.shape[1:]) if shape is None else tuple(shape), what)


def check_features(x: Any, n_features: int | None, what: str = "x") -> np.ndarray:
    """x as a finite 2-D float array (a single 1-D sample is a batch of one) with n_features columns."""
    array = x if _is_float_array(x) else real_array(x, what, DataError)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise DataError(f"{what}: expected a 2-D array (samples, features), got shape {array.shape}")
    if len(array) == 0:  # NOTE: an empty batch relaxes to a gradient of 0 and a loss of 0/0, neither meaningful
        raise DataError(f"{what}: expected at least one sample, got 0 (shape {array.shape})")
    if n_features is not None and array.shape[1] != n_features:
        raise DataError(f"{what}: samples have {array.shape[1]} features, expected {n_features}")
    # NOTE: min and max are finite exactly when every entry is (NaN propagates through both, an inf reaches one),
    # two passes without the boolean temporary of isfinite(array); the slow path only locates a culprit
    if array.size and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        finite = np.isfinite(array)
        row, col = (int(i) for i in np.argwhere(~finite)[0])
        raise DataError(f"{what}: sample {row} has {array[row, col]} at feature {col}, expected a finite number")
    return array


def check_inputs(x: Any, shape: tuple[int, ...], what: str = "x") -> np.ndarray:
    """x as a finite float array (samples, *shape); a single sample of ``shape`` is a batch of one. A vector shape
    (n,) is :func:`check_features`'s (samples, features) check."""
    if len(shape) == 1:
        return check_features(x, shape[0], what)
    array = x if _is_float_array(x) else real_array(x, what, DataError)
    given = tuple(array.shape)
    if array.ndim == len(shape) and given == tuple(shape):
        array = array[None]
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != tuple(shape):
        each = f"samples of shape {given[1:]}" if array.ndim == len(shape) + 1 else f"shape {given}"
        raise DataError(
            f"{what}: got {each}, expected samples of shape {tuple(shape)} (the network's input): an array of "
            f"shape (samples, {', '.join(map(str, shape))}), or one sample {tuple(shape)}"
        )
    if len(array) == 0:
        raise DataError(f"{what}: expected at least one sample, got 0 (shape {array.shape})")
    if array.size and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise DataError(f"{what}: sample {index[0]} has {array[index]} at {index[1:]}, expected a finite number")
    return array


def _is_float_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64)


def check_labels(y: np.ndarray, n_classes: int | None, what: str) -> int:
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            index = int(np.argwhere(~np.isfinite(y))[0, 0])
            raise DataError(f"{what}: sample {index} has label {y[index]}, expected an integer class")
        fractional = y != np.round(y)
        if fractional.any():
            index = int(np.argwhere(fractional)[0, 0])
            raise DataError(f"{what}: sample {index} has label {y[index]}, expected an integer class")
    elif y.dtype.kind not in "iu":
        raise DataError(f"{what}: labels have dtype {y.dtype}, expected integers")
    if len(y) == 0:
        raise DataError(f"{what}: expected at least one sample, got 0")
    labels = y.astype(np.int64)
    upper = n_classes if n_classes is not None else int(labels.max()) + 1
    bad = (labels < 0) | (labels >= upper)
    if bad.any():
        index = int(np.argwhere(bad)[0, 0])
        raise DataError(f"{what}: sample {index} has label {labels[index]}, expected 0..{upper - 1}")
    return upper


def check_targets(y: Any, n_outputs: int, batch: int | None = None, what: str = "y") -> np.ndarray:
    """Integer labels become one-hot rows; 2-D targets are checked for width and finiteness."""
    y = np.asarray(y)
    if batch is not None and len(y) != batch:
        raise DataError(f"{what}: has {len(y)} samples, expected {batch} (one per input row)")
    if y.ndim == 1:
        check_labels(y, n_outputs, what)
        onehot = np.zeros((len(y), n_outputs))
        onehot[np.arange(len(y)), y.astype(np.int64)] = 1.0
        return onehot
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise DataError(f"{what}: targets have shape {y.shape}, expected (samples,) labels or (samples, {n_outputs})")
    return check_features(y.astype(np.float64), n_outputs, what)
