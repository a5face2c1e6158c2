"""Strict readers shared by every file format: regular files only, JSON and YAML whose values mean what they show.

- :func:`regular_file` / :func:`read_regular`: an input must be a regular file (symlinks followed). A FIFO, a device
  (``/dev/urandom``), a socket or a folder is refused before it is opened for reading, since reading one blocks or
  never ends; the open itself is non-blocking and the opened file is checked again, so a FIFO swapped in after the
  check cannot hang it either. :func:`check_output` refuses an output path that exists and is not a regular file
  (writing a file there would replace the device node).
- :func:`loads_json`: JSON with no duplicate key (``json`` keeps the last silently), no NaN or Infinity (not JSON;
  Infinity where a format allows it),
  nesting at most :data:`MAX_DEPTH` deep, read within a size limit.
- :func:`loads_yaml`: YAML read with the YAML 1.2 core schema, so ``1:30`` is the string it shows (YAML 1.1 made it
  90), ``yes`` is a string, ``017`` is 17, ``1e-3`` a number; duplicate keys and tags beyond the core ones (str,
  int, float, bool, null, seq, map) are refused, and the tree aliases expand to is budgeted before it is built.

Each reader raises the caller's WavetrainError subclass naming the file, the place and what was expected.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from wavetrain.errors import WavetrainError

MAX_DEPTH = 64  # nesting of JSON / YAML containers; wavetrain's own formats need fewer than 10 levels
MAX_NODES = 1_000_000  # values a YAML document may expand to (aliases expanded), refused before it is built
TEXT_LIMIT = 64 * 2**20  # bytes of a text input (JSON, YAML, TOML) read at most


def file_kind(mode: int) -> str:
    """What a stat mode is, in words: 'a regular file', 'a FIFO', 'a character device', ..."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def regular_file(path: str | os.PathLike[str], what: str, error: type[WavetrainError]) -> Path:
    """``path`` if it names an existing regular file (after symlinks); otherwise ``error`` naming what it is."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError as err:
        raise error(f"{what} {path}: no such file") from err
    except OSError as err:
        raise error(f"{what} {path}: cannot read it: {err.strerror or err}") from err
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} {path}: expected a regular file, got {file_kind(info.st_mode)}")
    return path


def read_regular(
    path: str | os.PathLike[str], what: str, error: type[WavetrainError], limit: int = TEXT_LIMIT
) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before reading), else ``error``."""
    from wavetrain.compiler.budget import human

    path = regular_file(path, what, error)
    try:
        # NOTE: O_NONBLOCK: a FIFO swapped in after the stat must not hang the open; fstat checks the opened file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise error(f"{what} {path}: cannot read it: {err.strerror or err}") from err
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {path}: expected a regular file, got {file_kind(info.st_mode)}")
        if info.st_size > limit:
            raise error(f"{what} {path}: holds {human(info.st_size)}, expected at most {human(limit)}")
        try:
            data = handle.read(limit + 1)
        except OSError as err:
            raise error(f"{what} {path}: cannot read it: {err.strerror or err}") from err
    if len(data) > limit:
        raise error(f"{what} {path}: holds more than {human(limit)}, expected at most {human(limit)}")
    return data


def check_output(path: str | os.PathLike[str], what: str, error: type[WavetrainError]) -> None:
    """Refuse an output path that exists and is not a regular file: a file written there would replace it."""
    try:
        info = os.stat(path)
    except OSError:
        return  # NOTE: a new path (or one the writer reports itself)
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{what} {path}: is a folder, expected a file path")
    if not stat.S_ISREG(info.st_mode):
        raise error(
            f"{what} {path}: is {file_kind(info.st_mode)}, expected a regular file or a new path (writing the "
            f"output would replace it)"
        )


# --- JSON -----------------------------------------------------------------------------------------------------------


class _Refused(ValueError):
    """A JSON or YAML document that parses but is ambiguous (the message says where)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"key {key!r} appears twice in one object, expected each key once")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number, expected a finite number")


def _infinity(name: str) -> Any:
    if name == "Infinity":
        return math.inf
    raise _Refused(f"{name} is not a JSON number, expected a number or Infinity")


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of lists and dicts in ``value`` (iterative: a deep value cannot exhaust the stack); stops
    counting past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            deepest = max(deepest, level)
            if level > limit:
                return level
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads_json(
    data: bytes | str, what: str, error: type[WavetrainError], max_depth: int = MAX_DEPTH, infinity: bool = False
) -> Any:
    """Parse JSON strictly (see the module docstring); ``what`` names the document in the refusal. ``infinity``:
    accept ``Infinity`` (Python's json writes an unbounded float so; the hardware format's w_max uses it)."""
    try:
        value = json.loads(data, object_pairs_hook=_pairs, parse_constant=_infinity if infinity else _constant)
    except _Refused as err:
        raise error(f"{what}: {err}") from err
    except RecursionError as err:
        raise error(f"{what}: nested deeper than {max_depth} levels, expected at most {max_depth}") from err
    except (ValueError, UnicodeDecodeError) as err:  # NOTE: JSONDecodeError is a ValueError
        raise error(f"{what}: not valid JSON: {err}") from err
    if depth(value, max_depth) > max_depth:
        raise error(f"{what}: nested deeper than {max_depth} levels, expected at most {max_depth}")
    return value


# --- YAML -----------------------------------------------------------------------------------------------------------

# the YAML 1.2 core schema's implicit scalars (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
CORE_SCALARS = (
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", "~nN"),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
)
CORE_TAGS = tuple(tag for tag, _, _ in CORE_SCALARS) + (
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
)


def _yaml_loader() -> type:
    import yaml
    from yaml.composer import Composer
    from yaml.constructor import ConstructorError, SafeConstructor
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.resolver import BaseResolver
    from yaml.scanner import Scanner

    class CoreResolver(BaseResolver):
        pass

    for tag, pattern, first in CORE_SCALARS:
        CoreResolver.add_implicit_resolver(tag, re.compile(rf"^(?:{pattern})$"), list(first) or None)
    CoreResolver.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])

    class CoreConstructor(SafeConstructor):
        yaml_constructors: dict = {}

        def construct_core_int(self, node: Any) -> int:
            text = self.construct_scalar(node)
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text, 10)  # NOTE: 017 is 17 in YAML 1.2, not 15

        def construct_core_float(self, node: Any) -> float:
            text = self.construct_scalar(node).lower()
            return float(text.replace(".inf", "inf").replace(".nan", "nan"))

        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError as err:
                    raise ConstructorError(None, None, "a mapping key must be a scalar", key_node.start_mark) from err
                if key in seen:
                    raise ConstructorError(
                        None, None, f"key {key!r} appears twice in one mapping, expected each key once",
                        key_node.start_mark,
                    )  # fmt: skip
                seen[key] = key_node
            return super().construct_mapping(node, deep=deep)

        def construct_undefined(self, node: Any) -> Any:
            raise ConstructorError(
                None, None, f"tag {node.tag!r} is not a YAML 1.2 core tag, expected plain values", node.start_mark
            )

        def construct_document(self, node: Any) -> Any:
            _budget_nodes(node, ConstructorError)
            return super().construct_document(node)

    CoreConstructor.add_constructor("tag:yaml.org,2002:null", SafeConstructor.construct_yaml_null)
    CoreConstructor.add_constructor("tag:yaml.org,2002:bool", SafeConstructor.construct_yaml_bool)
    CoreConstructor.add_constructor("tag:yaml.org,2002:int", CoreConstructor.construct_core_int)
    CoreConstructor.add_constructor("tag:yaml.org,2002:float", CoreConstructor.construct_core_float)
    CoreConstructor.add_constructor("tag:yaml.org,2002:str", SafeConstructor.construct_yaml_str)
    CoreConstructor.add_constructor("tag:yaml.org,2002:seq", SafeConstructor.construct_yaml_seq)
    CoreConstructor.add_constructor("tag:yaml.org,2002:map", SafeConstructor.construct_yaml_map)
    CoreConstructor.add_constructor(None, CoreConstructor.construct_undefined)

    class CoreLoader(Reader, Scanner, Parser, Composer, CoreConstructor, CoreResolver):
        def __init__(self, stream: Any) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            CoreConstructor.__init__(self)
            CoreResolver.__init__(self)

    del yaml
    return CoreLoader


def _budget_nodes(root: Any, error: type[Exception]) -> None:
    """Refuse a document whose aliases expand it past MAX_NODES values or MAX_DEPTH levels, before it is built.

    Sizes and depths are computed once per distinct node (memoised, iteratively), so a billion-laughs document of a
    few hundred bytes is measured in microseconds."""
    size: dict[int, int] = {}
    deep: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    active: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in size and not done:
            continue
        children = _children(node)
        if not done:
            if key in active:
                raise error(None, None, "the document refers to itself through an alias", node.start_mark)
            active.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in size)
            continue
        active.discard(key)
        size[key] = 1 + sum(size[id(child)] for child in children)
        deep[key] = 1 + max((deep[id(child)] for child in children), default=0)
        if size[key] > MAX_NODES:
            raise error(
                None, None,
                f"expands to more than {MAX_NODES:,} values (aliases expanded), expected at most {MAX_NODES:,}",
                node.start_mark,
            )  # fmt: skip
        if deep[key] > MAX_DEPTH:
            raise error(None, None, f"nested deeper than {MAX_DEPTH} levels, expected at most {MAX_DEPTH}",
                        node.start_mark)  # fmt: skip


def _children(node: Any) -> list[Any]:
    value = getattr(node, "value", None)
    if not isinstance(value, list):
        return []
    return [item for pair in value for item in pair] if value and isinstance(value[0], tuple) else list(value)


_LOADER: list[type] = []


def loads_yaml(text: str | bytes, what: str, error: type[WavetrainError]) -> Any:
    """Parse one YAML document with the core schema (see the module docstring)."""
    import yaml

    if not _LOADER:
        _LOADER.append(_yaml_loader())
    try:
        return yaml.load(text, Loader=_LOADER[0])  # noqa: S506 -- NOTE: the core loader builds plain values only
    except RecursionError as err:
        raise error(f"{what}: nested deeper than {MAX_DEPTH} levels, expected at most {MAX_DEPTH}") from err
    except yaml.MarkedYAMLError as err:  # NOTE: one line: where, and what is wrong there
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(err.problem or err.context or err).split())
        raise error(f"{what}: not a readable YAML file{where}: {problem}") from err
    except yaml.YAMLError as err:
        raise error(f"{what}: not a readable YAML file: {' '.join(str(err).split())}") from err
