#!/usr/bin/env bash
# A second, small venv with numpy 2.x for the core tests (the main .venv keeps numpy 1.26 for lava-nc).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-numpy2}
PYTHON=${PYTHON:-python3}
if [ ! -f "$VENV/.ok" ] || [ pyproject.toml -nt "$VENV/.ok" ]; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "numpy>=2" scipy networkx click tqdm matplotlib scikit-learn pytest hypothesis
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    touch "$VENV/.ok"
fi
"$VENV/bin/python" -c 'import numpy; assert numpy.__version__ >= "2", numpy.__version__; print("numpy", numpy.__version__)'
