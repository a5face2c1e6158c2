"""Make lava-nc 0.10.0 importable on Python 3.11 without touching site-packages, and say how to install it.

lava-nc 0.10.0 declares Python < 3.11. Its ``lava/magma/compiler/var_model.py`` gives three dataclasses a shared
mutable default (``x: ByteEncoder = ByteEncoder()``), which Python 3.11's dataclasses refuse at import time
(``ValueError: mutable default ... use default_factory``). :func:`install` puts a finder on ``sys.meta_path`` that
loads that module from its source with those defaults rewritten to ``field(default_factory=ByteEncoder)``: each
encoder gets its own ByteEncoder instead of one shared instance (in 0.10.0 only the Loihi spike I/O encoder reads
them; the CPU simulator never does).

The same finder fixes one more import-time failure: ``lava/magma/runtime/message_infrastructure/multiprocessing.py``
calls ``multiprocessing.set_start_method('fork')``, which raises "context has already been set" once anything in the
process has touched the default context (a tqdm progress bar does: its lock is a multiprocessing RLock). The call is
rewritten to set 'fork' only when the start method is not 'fork' already (forcing it then, as Lava requires fork).
Nothing else changes and nothing on disk is edited.

Importing this module has no side effects (Lava's compiler executes every module in a Process's folder).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from typing import Any

from wavetrain.errors import MissingDependency

INSTALL = (
    'pip install "numpy<2" "networkx<=2.8.7" "asteval<0.10" scipy && '
    "pip install --no-deps --ignore-requires-python lava-nc==0.10.0"
)
PATCHED = "lava.magma.compiler.var_model"
MP_MODULE = "lava.magma.runtime.message_infrastructure.multiprocessing"
_DEFAULT = re.compile(r"^(\s+\w+): ByteEncoder = ByteEncoder\(\)\s*$", re.MULTILINE)
_START = "mp.set_start_method('fork')"


def patch_source(source: str) -> str:
    """var_model.py's text with every ``x: ByteEncoder = ByteEncoder()`` made a default_factory field."""
    fixed = _DEFAULT.sub(r"\1: ByteEncoder = field(default_factory=ByteEncoder)", source)
    if fixed != source:
        # NOTE: same line count (tracebacks keep lava's line numbers); after any __future__ import
        fixed = fixed.replace("from dataclasses import ", "from dataclasses import field, ", 1)
    return fixed


def patch_start_method(source: str) -> str:
    """multiprocessing.py's text with the unconditional set_start_method('fork') made idempotent (same line count)."""
    idempotent = "mp.get_start_method(allow_none=True) == 'fork' or mp.set_start_method('fork', force=True)"
    return source.replace(_START, idempotent)


_PATCHES = {PATCHED: patch_source, MP_MODULE: patch_start_method}


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> Any:
        source = self.get_data(self.path).decode("utf-8")
        return compile(_PATCHES[fullname](source), self.path, "exec", dont_inherit=True)


class _VarModelFinder(importlib.abc.MetaPathFinder):
    """Finds the patched lava modules where the normal finders would and loads them through their patch."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return spec
        return importlib.util.spec_from_file_location(
            fullname, spec.origin, loader=_PatchedLoader(fullname, spec.origin)
        )


def install() -> None:
    """Put the var_model finder first on sys.meta_path (idempotent; needed before lava is first imported)."""
    if sys.version_info < (3, 11) or any(isinstance(f, _VarModelFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _VarModelFinder())


def require_lava() -> None:
    """Install the fix and import lava's runtime, or raise MissingDependency naming the exact install command."""
    install()
    if importlib.util.find_spec("lava") is None or importlib.util.find_spec("lava.magma") is None:
        raise MissingDependency(
            f"target 'lava' needs lava-nc 0.10.0, which is not installed; install it with `{INSTALL}`"
        )
    try:
        import lava.magma.core.run_configs  # noqa: F401
    except ImportError as err:
        raise MissingDependency(
            f"target 'lava': lava-nc is installed but does not import ({err}); reinstall it with `{INSTALL}`"
        ) from err


def available() -> bool:
    """True when lava imports (with the fix)."""
    try:
        require_lava()
    except MissingDependency:
        return False
    return True
