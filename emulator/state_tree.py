"""The pickle-free state tree: live training state (arrays, RNGs, containers, wavetrain dataclasses) as JSON + arrays.

JSON values stay JSON; an array is ``{"$array": "state/N"}`` (its bytes kept apart, in a checkpoint's ``state/N.npy``
members); a tuple, deque, dict, non-finite float, numpy Generator or a dataclass defined in wavetrain.emulator /
wavetrain.compiler is tagged (``$tuple``, ``$deque``, ``$dict``, ``$float``, ``$rng``, ``$dataclass``; a plain
wavetrain.emulator object ``$object`` by its attributes). Floats go through ``repr``, so a decoded state continues a
run bit for bit. :mod:`wavetrain.emulator.checkpoint` writes the tree to files; the in-memory snapshots that roll a
diverged run back use it too.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections import deque
from typing import Any

import numpy as np

from wavetrain.errors import ConfigError, ModelFileError

_CLASS_PREFIXES = ("wavetrain.emulator.", "wavetrain.compiler.")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def encode(value: Any, arrays: dict[str, np.ndarray], where: str = "state", strict: bool = True) -> Any:
    """``value`` as a JSON-able tree; arrays are copied into ``arrays`` (keys ``state/N``) and referenced by key.

    An object it cannot encode raises ConfigError, or with ``strict=False`` becomes ``{"$opaque": type}`` (kept out of
    in-memory snapshots; a checkpoint file is always strict).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else {"$float": repr(float(value))}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise ConfigError(f"checkpoint: {where} is an object array, expected numbers")
        key = f"state/{len(arrays)}"
        arrays[key] = np.array(value, copy=True)
        return {"$array": key}
    if isinstance(value, np.dtype):
        return {"$dtype": value.str}
    if isinstance(value, np.random.Generator):
        return {"$rng": value.bit_generator.state}
    if isinstance(value, deque):
        return {
            "$deque": [encode(v, arrays, f"{where}[{i}]", strict) for i, v in enumerate(value)],
            "maxlen": value.maxlen,
        }
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, arrays, f"{where}[{i}]", strict) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, arrays, f"{where}[{i}]", strict) for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"$dict": {k: encode(v, arrays, f"{where}.{k}", strict) for k, v in value.items()}}
    if isinstance(value, dict):  # NOTE: keys that are not strings (an edge (u, v)), as a list of pairs
        return {"$items": [[encode(k, arrays, f"{where} key", strict), encode(v, arrays, f"{where}[{k!r}]", strict)]
                           for k, v in value.items()]}  # fmt: skip
    cls = type(value)
    if dataclasses.is_dataclass(value) and cls.__module__.startswith(_CLASS_PREFIXES):
        fields = {
            f.name: encode(getattr(value, f.name), arrays, f"{where}.{f.name}", strict)
            for f in dataclasses.fields(value)
        }
        return {"$dataclass": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if cls.__module__.startswith(_CLASS_PREFIXES) and hasattr(value, "__dict__") and not isinstance(value, type):
        # NOTE: a plain wavetrain object (e.g. the fused pipeline's buffers): its attributes, like a dataclass's
        attrs = {k: encode(v, arrays, f"{where}.{k}", strict) for k, v in vars(value).items()}
        return {"$object": f"{cls.__module__}:{cls.__qualname__}", "attrs": attrs}
    if not strict:
        return {"$opaque": f"{cls.__module__}.{cls.__qualname__}"}
    raise ConfigError(
        f"checkpoint: {where} is a {cls.__module__}.{cls.__qualname__}, expected arrays, numbers, containers or a "
        f"wavetrain dataclass (a custom method or port must keep its state in such fields to be checkpointed)"
    )


def decode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The value :func:`encode` encoded (fresh objects; arrays copied)."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        raise _corrupt(f"unexpected {type(tree).__name__} in the state tree")
    if "$array" in tree:
        key = tree["$array"]
        if key not in arrays:
            raise _corrupt(f"the state tree refers to a missing array {key!r}")
        return np.array(arrays[key], copy=True)
    if "$dtype" in tree:
        try:
            dtype = np.dtype(str(tree["$dtype"]))
        except TypeError as err:
            raise _corrupt(f"dtype {tree['$dtype']!r} is not a NumPy dtype") from err
        if dtype.hasobject:
            raise _corrupt(f"dtype {tree['$dtype']!r} is an object dtype")
        return dtype
    if "$opaque" in tree:
        return Opaque(str(tree["$opaque"]))
    if "$float" in tree:
        if tree["$float"] not in ("nan", "inf", "-inf"):
            raise _corrupt(f"non-finite float {tree['$float']!r}, expected nan, inf or -inf")
        return float(tree["$float"])
    if "$rng" in tree:
        state = tree["$rng"]
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            raise _corrupt(f"bit generator {name!r}, expected one of {', '.join(_BIT_GENERATORS)}")
        bit_generator = getattr(np.random, name)()
        try:
            bit_generator.state = state
        except (TypeError, ValueError, KeyError) as err:
            raise _corrupt(f"RNG state does not load: {err}") from err
        return np.random.Generator(bit_generator)
    if "$deque" in tree:
        return deque((decode(v, arrays) for v in tree["$deque"]), maxlen=tree.get("maxlen"))
    if "$tuple" in tree:
        return tuple(decode(v, arrays) for v in tree["$tuple"])
    if "$dict" in tree:
        return {k: decode(v, arrays) for k, v in tree["$dict"].items()}
    if "$items" in tree:
        items = tree["$items"]
        if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
            raise _corrupt("a keyed map in the state tree is not a list of pairs")
        return {decode(k, arrays): decode(v, arrays) for k, v in items}
    if "$object" in tree:
        cls = _dataclass_type(tree["$object"], dataclass=False)
        obj: Any = object.__new__(cls)
        attrs = tree.get("attrs")
        if not isinstance(attrs, dict):
            raise _corrupt(f"{cls.__qualname__} has no attributes in the state tree")
        for name, value in attrs.items():
            object.__setattr__(obj, str(name), decode(value, arrays))
        return obj
    if "$dataclass" in tree:
        cls = _dataclass_type(tree["$dataclass"])
        obj = object.__new__(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        fields = tree.get("fields", {})
        if set(fields) != names:
            raise _corrupt(f"{cls.__qualname__} fields {sorted(fields)}, expected {sorted(names)}")
        for name, value in fields.items():
            object.__setattr__(obj, name, decode(value, arrays))
        return obj
    raise _corrupt(f"unknown tag in the state tree: {sorted(tree)[:3]}")


@dataclasses.dataclass(frozen=True)
class Opaque:
    """An object a non-strict snapshot could not encode (a user's own method or port): it is not restored."""

    type: str


def assign(target: Any, saved: Any) -> None:
    """Set the fields of dataclass ``target`` from ``saved`` (same type); anything else is left as it is."""
    if isinstance(saved, Opaque) or type(saved) is not type(target) or not dataclasses.is_dataclass(target):
        return
    for field in dataclasses.fields(target):
        object.__setattr__(target, field.name, getattr(saved, field.name))


def _dataclass_type(spec: Any, dataclass: bool = True) -> type:
    module, _, name = str(spec).partition(":")
    if not module.startswith(_CLASS_PREFIXES) or not name.isidentifier():
        raise _corrupt(f"class {spec!r}, expected a dataclass of wavetrain.emulator or wavetrain.compiler")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise _corrupt(f"class {spec!r} does not exist in this version of wavetrain") from err
    if not isinstance(cls, type) or (dataclass and not dataclasses.is_dataclass(cls)):
        raise _corrupt(f"{spec!r} is not a {'dataclass' if dataclass else 'class'}")
    if not dataclass and (issubclass(cls, BaseException) or not hasattr(cls, "__dict__")):
        raise _corrupt(f"{spec!r} is not a plain wavetrain class")
    return cls


def _corrupt(message: str) -> ModelFileError:
    return ModelFileError(f"checkpoint: {message}")


def restore_into(target: Any, tree: Any, arrays: dict[str, np.ndarray], what: str) -> None:
    """Set every dataclass field of ``target`` (a port or method object) from its encoded tree.

    Settings (fields whose current value is a number, string or bool) must equal the checkpoint's: a resumed run
    with another setting would not continue the same trajectory. A field marked ``metadata={"state": True}`` is
    state that happens to be a number (a count, a size the run found), restored like an array.
    """
    saved = decode(tree, arrays)
    if isinstance(saved, Opaque):
        raise _corrupt(f"the {what} ({saved.type}) was not saved; it cannot be resumed")
    if type(saved) is not type(target):
        raise ConfigError(
            f"resume: the {what} is {type(target).__qualname__}, expected {type(saved).__qualname__} as in the "
            f"checkpoint"
        )
    for field in dataclasses.fields(target):
        mine, theirs = getattr(target, field.name), getattr(saved, field.name)
        if isinstance(mine, (bool, int, float, str)) and mine != theirs and not field.metadata.get("state"):
            raise ConfigError(f"resume: {what} {field.name} is {mine!r}, expected {theirs!r} as in the checkpoint")
    assign(target, saved)
