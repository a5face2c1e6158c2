"""Data sets with no download (the container and the batch checks live in wavetrain.compiler.data, re-exported).

``load("digits")``: scikit-learn's bundled 8x8 digits (1797 samples, 64 features, 10 classes). Pixels are divided by 16
so inputs lie in [0, 1]. The split is fixed: a permutation drawn from ``numpy.random.default_rng(0)`` orders the
samples, the first 1438 are the training set and the last 359 (20 %, rounded) the test set, the same on every machine.

``load("mnist1d")``: MNIST-1D (Greydanus 2020), generated offline by the ``mnist1d`` package with its default
arguments (4000 train / 1000 test, 40 features, 10 classes) and cached in the temp folder.

``shape=`` reads every sample in another shape: ``load("mnist1d", shape=(1, 40))`` for a Conv1d (one channel of 40
samples), ``load("digits", shape=(1, 8, 8))`` for a Conv2d. ``train`` does the same by itself when a flat data set
meets a network whose input has as many values.

``load(path)``: a user's ``.npz`` with arrays ``x`` (samples, *sample shape): (N, features), (N, C, L) or
(N, C, H, W), and ``y`` (integer labels, or a 2-D target
array for regression). If it also holds ``x_test`` and ``y_test`` those are the test set; otherwise the same fixed
rule applies (seeded permutation, last 20 % for testing).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from wavetrain.compiler.budget import check_memory
from wavetrain.compiler.data import Dataset, check_features, check_labels, check_samples, check_targets
from wavetrain.compiler.formats import regular_file
from wavetrain.compiler.storage import NpyError, read_npy
from wavetrain.errors import DataError

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load(name_or_path: str | os.PathLike[str], shape: Any = None, standardize: bool = False) -> Dataset:
    """A built-in data set by name ("digits", "mnist1d") or a user's .npz file (see the module docstring for the
    format); ``shape``: read every sample as this shape (``(1, 40)`` for a Conv1d on MNIST-1D, ``(1, 8, 8)`` for a
    Conv2d on digits; see :meth:`Dataset.as_shape`). ``standardize=True``: every feature centred and scaled by the
    training set's mean and standard deviation (:meth:`Dataset.standardized`); a user's raw measurements need it
    (UCI wine, 13-128-128-3 dyadic, 30 epochs, seeds 0-2: 36-47 % raw, 92-94 % standardised)."""
    if not isinstance(standardize, bool):
        raise DataError(f"standardize: expected True or False, got {type(standardize).__name__} {standardize!r}")
    if str(name_or_path) in BUILTIN:
        data = BUILTIN[str(name_or_path)]()
    else:
        path = Path(name_or_path)
        if path.suffix != ".npz" and not path.exists():
            raise DataError(
                f"unknown data set {str(name_or_path)!r}; expected one of {', '.join(BUILTIN)} or a .npz path"
            )
        data = load_npz(path)
    data = data.standardized() if standardize else data
    return data if shape is None else data.as_shape(shape)


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    return _split("digits", x, y, n_classes=10)


def mnist1d_arrays(cache: Path | None = None) -> dict[str, np.ndarray]:
    """MNIST-1D with the `mnist1d` package's default arguments (4000 train / 1000 test x 40 features, 10 classes),
    generated offline (a few seconds) and cached as .npz in the temp folder; no download."""
    try:
        import mnist1d
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise DataError("data set 'mnist1d' needs the mnist1d package: pip install mnist1d==0.0.2.post1") from err

    from wavetrain.files import atomic_path

    version = getattr(mnist1d, "__version__", "0")
    path = (cache or Path(tempfile.gettempdir()) / "wavetrain-cache") / f"mnist1d-default-{version}.npz"
    if path.exists():
        with np.load(path) as data:
            return {key: data[key] for key in ("x", "y", "x_test", "y_test")}
    data = make_dataset(get_dataset_args())
    arrays = {key: np.asarray(data[key]) for key in ("x", "y", "x_test", "y_test")}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return arrays


def load_mnist1d() -> Dataset:
    """MNIST-1D (Greydanus 2020) with its own train/test split; features as generated (float64)."""
    a = mnist1d_arrays()
    return Dataset(
        "mnist1d",
        a["x"].astype(np.float64),
        a["y"].astype(np.int64),
        a["x_test"].astype(np.float64),
        a["y_test"].astype(np.int64),
        10,
    )


BUILTIN = {"digits": load_digits, "mnist1d": load_mnist1d}


def load_npz(path: Path) -> Dataset:
    if not path.exists():
        raise DataError(f"{path}: no such file (expected an .npz with arrays x and y)")
    regular_file(path, "data set", DataError)  # NOTE: a FIFO or a device would hang the zip reader
    arrays = read_npz(path)
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {missing}; expected x and y (got {sorted(arrays)})")
    x = check_samples(arrays["x"], None, f"{path}: x")
    y = arrays["y"]
    labels = y.ndim == 1
    if labels:
        n_classes = check_labels(y, None, f"{path}: y")
    else:
        n_classes = 0
    if len(y) != len(x):
        raise DataError(f"{path}: y has {len(y)} samples, expected {len(x)} (as many as x)")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: x_test and y_test must come together, got only one of them")
    if "x_test" in arrays:
        x_test = check_samples(arrays["x_test"], x.shape[1:], f"{path}: x_test")
        y_test = arrays["y_test"]
        if len(y_test) != len(x_test):
            raise DataError(f"{path}: y_test has {len(y_test)} samples, expected {len(x_test)}")
        if labels:
            check_labels(y_test, n_classes, f"{path}: y_test (labels of the classes of y)")  # NOTE: y sets the classes
            y_train, y_test = y.astype(np.int64), y_test.astype(np.int64)
        else:
            y_train = check_targets(y, y.shape[1], len(y), f"{path}: y")
            y_test = check_targets(y_test, y.shape[1], len(y_test), f"{path}: y_test")
        return Dataset(path.stem, x, y_train, x_test, y_test, n_classes)
    if not labels:
        y = check_targets(y, y.shape[1], len(y), f"{path}: y")
    return _split(path.stem, x, y.astype(np.int64) if labels else y, n_classes)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every ``.npy`` member of an .npz, each checked by its header (numeric dtype, declared size within the memory
    limit, inflated size equal to the header's) before any data is inflated; other members are refused."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path}: not a readable .npz file: {err}") from err
    arrays: dict[str, np.ndarray] = {}
    with archive:
        names = archive.namelist()
        declared = sum(info.file_size for info in archive.infolist())
        check_memory(declared, f"{path}: members inflate to {declared} bytes", "use a smaller data file")
        for name in names:
            if not name.endswith(".npy"):
                raise DataError(f"{path}: member {name!r} is not a .npy array, expected only arrays (x, y, ...)")
            try:
                arrays[name[: -len(".npy")]] = read_npy(archive, name, f"{path}: {name[:-4]}")
            except NpyError as err:
                raise DataError(str(err)) from err
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
                raise DataError(f"{path}: array {name[:-4]!r} is corrupt: {err}") from err
    return arrays


def _split(name: str, x: np.ndarray, y: np.ndarray, n_classes: int) -> Dataset:
    if len(x) < 2:
        raise DataError(f"{name}: expected at least 2 samples to split into train and test, got {len(x)}")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    n_test = max(1, int(round(TEST_FRACTION * len(x))))
    train, test = order[:-n_test], order[-n_test:]
    return Dataset(name, x[train], y[train], x[test], y[test], n_classes)


__all__ = ["BUILTIN", "Dataset", "check_features", "check_targets", "load", "load_digits", "load_npz", "read_npz"]
