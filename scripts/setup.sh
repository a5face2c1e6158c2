#!/usr/bin/env bash
# Set up everything wavetrain needs on a fresh Debian machine (run as root, or with sudo available):
# Debian's ngspice 39 (+ the shared library PySpice loads), a .venv with the pinned Python set,
# torch (CPU), lava-nc 0.10.0, and wavetrain itself in editable mode. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

need_apt=()
command -v ngspice >/dev/null 2>&1 || need_apt+=(ngspice)
ldconfig -p 2>/dev/null | grep -q 'libngspice.so.0 ' || need_apt+=(libngspice0)
ldconfig -p 2>/dev/null | grep -q 'libngspice.so ' || need_apt+=(libngspice0-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ngspice libngspice0 libngspice0-dev >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # NOTE: Debian's system python needs python3-venv for `-m venv`
        rm -rf "$VENV"
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv "$VENV"
    fi
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q -r requirements/ci.txt
# torch: the CPU build (on this machine kind pip takes 2.13.0 from local disk).
$PIP install -q "torch==2.13.0"
# lava-nc declares Python <3.11 and would pull a scipy sdist; its real deps are pinned above.
$PIP install -q --no-deps --ignore-requires-python "lava-nc==0.10.0"
$PIP install -q --no-deps -e .
echo "setup: done ($($VENV/bin/python -c 'import numpy, sys; print("python", sys.version.split()[0], "numpy", numpy.__version__)'))"
