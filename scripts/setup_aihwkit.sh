#!/usr/bin/env bash
# Build IBM's aihwkit into the project's .venv for the device cross-check (`make aihwkit`, issue 10 item 6).
#
# aihwkit is an optional benchmark extra, never a core dependency: `make setup` and `make test` never run this.
# aihwkit 1.2.0 ships no cp311 wheel, and its declared dependency on torchvision makes a plain `pip install` replace
# the venv's CPU torch with a CUDA build. So this script builds it from its sdist against the torch already in the
# venv: `pip install --no-build-isolation --no-deps`, with its build tools (scikit-build, pybind11, ninja, cmake)
# installed first from requirements/aihwkit.txt, Debian's OpenBLAS as its BLAS and CUDA off. It checks afterwards that
# torch is the same version as before. Idempotent: it does nothing when the right aihwkit already imports.
#
# Usage: bash scripts/setup_aihwkit.sh [VENV]   (default .venv; run `make setup` first)
# Environment: AIHWKIT_VERSION (default 1.2.0), AIHWKIT_JOBS (parallel compile jobs, default 2).
set -euo pipefail

VENV="${1:-.venv}"
VERSION="${AIHWKIT_VERSION:-1.2.0}"
JOBS="${AIHWKIT_JOBS:-2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$VENV/bin/python"

fail() { echo "setup_aihwkit: $*" >&2; exit 1; }

[ -x "$PY" ] || fail "no Python at $PY: run \`make setup\` first (it creates the venv with the CPU torch)"
TORCH_BEFORE="$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)" \
    || fail "torch does not import in $VENV: run \`make setup\` first"

installed() {
    "$PY" - "$VERSION" <<'EOF' 2>/dev/null
import sys
import aihwkit
from aihwkit.simulator import rpu_base  # noqa: F401  (the compiled extension)
sys.exit(0 if aihwkit.__version__.split("+")[0] == sys.argv[1] else 1)
EOF
}

if installed; then
    echo "setup_aihwkit: aihwkit $VERSION already builds and imports in $VENV (torch $TORCH_BEFORE)"
    exit 0
fi

# 1. A C++ compiler and a BLAS with its CBLAS header (Debian: libopenblas-dev).
need=()
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
if [ "${#need[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup_aihwkit: apt-get install ${need[*]}"
    $SUDO apt-get update -qq || fail "apt-get update failed (needed for: ${need[*]})"
    $SUDO apt-get install -y --no-install-recommends "${need[@]}" \
        || fail "apt-get install ${need[*]} failed: aihwkit needs a C++ compiler and OpenBLAS"
fi
# NOTE: Debian keeps OpenBLAS's headers (cblas.h, openblas_config.h) and library under a per-variant directory that
# aihwkit's FindOpenBLAS.cmake does not search: point it there.
OPENBLAS_INC="$(dirname "$(find /usr/include -name openblas_config.h 2>/dev/null | sort | head -n 1)")"
[ -f "$OPENBLAS_INC/cblas.h" ] || fail "no cblas.h beside openblas_config.h under /usr/include (libopenblas-dev)"
OPENBLAS_LIB="$(dirname "$(find /usr/lib -name 'libopenblas.so' 2>/dev/null | sort | head -n 1)")"
[ -e "$OPENBLAS_LIB/libopenblas.so" ] || fail "no libopenblas.so under /usr/lib (libopenblas-dev)"

# 2. Build tools into the venv (they do not depend on torch); the constraint keeps torch where it is anyway.
CONSTRAINT="$(mktemp)"
SHIM=""
trap 'rm -f "$CONSTRAINT"; [ -z "$SHIM" ] || rm -rf "$SHIM"' EXIT
echo "torch==$TORCH_BEFORE" >"$CONSTRAINT"
"$PY" -m pip install -q -r "$ROOT/requirements/aihwkit.txt" -c "$CONSTRAINT" \
    || fail "pip could not install the build tools of requirements/aihwkit.txt"

# 3. aihwkit from its sdist, against the installed torch, CPU only.
echo "setup_aihwkit: building aihwkit $VERSION from source against torch $TORCH_BEFORE ($JOBS jobs; 10-30 min on 2 cores)"
export PATH="$(cd "$VENV" && pwd)/bin:$PATH"
export VIRTUAL_ENV="$(cd "$VENV" && pwd)"
export USE_CUDA=OFF OpenBLAS_HOME="$OPENBLAS_INC" OpenBLAS="$OPENBLAS_LIB"
export CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" MAKEFLAGS="-j$JOBS"
# NOTE: aihwkit's CMake runs `stubgen` after linking; where the venv has mypy only as a module, give it the command
if ! command -v stubgen >/dev/null; then
    "$PY" -c 'import mypy.stubgen' 2>/dev/null || fail "aihwkit's build runs mypy's stubgen: mypy is missing from $VENV"
    SHIM="$(mktemp -d)"
    # NOTE: mypy's wheels are compiled (mypyc), so `python -m mypy.stubgen` fails: call its entry point. The stubs
    # are type hints only (.pyi), so a stubgen failure is reported and does not fail the build.
    printf '#!/bin/sh\n"%s" -c "import sys; from mypy.stubgen import main; sys.argv[0] = \x27stubgen\x27; main()" "$@" || echo "stubgen failed (type stubs only): ignored" >&2\n' \
        "$(cd "$VENV" && pwd)/bin/python" >"$SHIM/stubgen"
    chmod +x "$SHIM/stubgen"
    export PATH="$SHIM:$PATH"
fi
VPY="$(cd "$VENV" && pwd)/bin/python"
export SKBUILD_CONFIGURE_OPTIONS="-DUSE_CUDA=OFF -DRPU_BLAS=OpenBLAS -DBUILD_TEST=OFF -DPython_EXECUTABLE=$VPY -DPython3_EXECUTABLE=$VPY"
"$PY" -m pip install --no-build-isolation --no-deps --no-binary aihwkit -c "$CONSTRAINT" "aihwkit==$VERSION" \
    || fail "building aihwkit $VERSION from its sdist failed (see the compiler output above)"

# 4. The result imports, and torch is untouched.
TORCH_AFTER="$("$PY" -c 'import torch; print(torch.__version__)')"
[ "$TORCH_AFTER" = "$TORCH_BEFORE" ] || fail "torch changed from $TORCH_BEFORE to $TORCH_AFTER: reinstall it with \`make setup\`"
installed || fail "aihwkit $VERSION was installed but does not import (from aihwkit.simulator import rpu_base)"
echo "setup_aihwkit: aihwkit $VERSION built into $VENV against torch $TORCH_AFTER"
