"""Lazy package exports (PEP 562): a package names its public API once and loads each name on first use.

``import wavetrain.emulator.cells`` runs ``wavetrain/__init__`` and ``wavetrain/emulator/__init__`` first; with
their names loaded here on first access, it pays for the cells and what they import, not for the whole library.
Stdlib only: every package's ``__init__`` imports this module.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable, Mapping, Sequence

Exports = Mapping[str, Sequence[str]]  # source module -> the names the package re-exports from it


class _Package(types.ModuleType):
    """A package module whose exports win over the submodules named as they are."""

    def __setattr__(self, name: str, value: Any) -> None:
        # NOTE: the import system binds a submodule on its package once it has run. wavetrain.emulator.train (the
        # module) would then hide train (the function), which the eager imports of old rebound at once; keep the
        # export, as they did (train, relax, lower)
        source = self.__dict__.get("_lazy_sources", {}).get(name)
        if isinstance(value, types.ModuleType) and source not in (None, self.__name__):
            value = getattr(_load(source), name)
        super().__setattr__(name, value)


def _load(name: str) -> types.ModuleType:
    # NOTE: __import__, not importlib.import_module: only the import statement's path is logged by -X importtime
    __import__(name)
    return sys.modules[name]


def exports(package: str, sources: Exports) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of ``package`` re-exporting ``sources``, each name loaded on first access.

    A name listed under the package itself is its submodule (``{"wavetrain": ["datasets"]}``). Any other submodule
    loads on first attribute access too (``wavetrain.emulator.fused``), as the eager imports once bound them.
    """
    where = {name: module for module, names in sources.items() for name in names}
    module = sys.modules[package]
    module.__class__ = _Package
    vars(module)["_lazy_sources"] = where

    def __getattr__(name: str) -> Any:
        source = where.get(name)
        if source is None or source == package:
            if name.startswith("__"):
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            try:
                value = _load(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            value = getattr(_load(source), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *where})

    return __getattr__, __dir__, sorted(where)
