# wavetrain: `make demo` sets everything up and runs the main job; `make test` runs the whole suite.
# Setup (scripts/setup.sh) installs Debian's ngspice and a .venv with every backend's dependencies.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.wavetrain-setup
OUT    ?= demo_out
NP2    := .venv-numpy2

.PHONY: setup demo test lint test-core-numpy2 bench lava-fidelity reproduce reproduce-t9 hardware lifetime aihwkit clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/ci.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(PY) -m wavetrain.demo --out $(OUT)

test: setup lint
	$(PY) -m pytest -n 2 -q
	$(MAKE) --no-print-directory test-core-numpy2

# ruff with the rules pyproject.toml selects (banned imports, isort, line length), ruff's formatter, and mypy.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) scripts/check_types.py

# The core (network, emulator, training, CLI, lazy imports) must also work on numpy 2.x; the main venv has numpy 1.26
# because lava-nc pins it.
test-core-numpy2: setup
	bash scripts/setup_numpy2.sh $(NP2)
	$(NP2)/bin/python -m pytest -q -p no:cacheprovider tests/emulator/test_relax.py tests/emulator/test_train.py \
		tests/emulator/test_devices.py tests/emulator/test_hardware.py \
		tests/compiler/test_network.py tests/test_datasets.py tests/test_cli.py tests/test_cli_lazy.py tests/test_runs.py \
		tests/test_lazy_imports.py

# Speed and memory against a reference run in the same session (PyTorch CPU autograd, ngspice, a plain loop for
# sweeps on Dask); writes BENCHMARKS.md.
bench: setup
	$(PY) benchmarks/bench_emulator.py
	$(PY) benchmarks/bench_spice.py
	$(PY) benchmarks/bench_graph_spice.py
	$(PY) benchmarks/bench_crossbar.py
	$(PY) benchmarks/bench_hardware.py
	$(PY) benchmarks/bench_lava.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_graphs.py
	$(PY) benchmarks/bench_irdrop.py
	$(PY) benchmarks/collect.py

# The Loihi fixed-point fidelity study (gradient cosine against widths; digits and MNIST-1D trained in fixed point):
# writes docs/lava/fidelity.md and docs/lava/fidelity.png, quoted by docs/lava.md.
lava-fidelity: setup
	$(PY) benchmarks/lava_fidelity.py

# The reproduction report of targets T1-T13 (QUICK=1 for the reduced-size run).
REPORT ?= docs/reproduction
reproduce: setup
	$(PY) -m wavetrain reproduce --out $(REPORT) $(if $(QUICK),--quick,)

# T9 at the authors' schedule (300 epochs at lr 1e-4, every estimator, seeds T9_SEEDS): one JSON per run in
# $(REPORT)/t9_paper, resumable (a rerun skips finished runs; ~1 h per seed on one core), then only the report's T9
# section is regenerated from them. Seeds run in parallel as separate processes: make -j2 reproduce-t9-seed-0 ...
T9_SEEDS ?= 0 1
reproduce-t9: $(addprefix reproduce-t9-seed-,$(T9_SEEDS))
	$(PY) -m wavetrain reproduce --out $(REPORT) --only T9

reproduce-t9-seed-%: setup
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m wavetrain reproduce-t9 --results $(REPORT)/t9_paper --seed $* --threads 1

# Every analog-hardware preset trained on digits over 3 seeds (accuracy, gradient fidelity), and training through
# wires (IR drop): docs/hardware.md.
hardware: setup
	$(PY) benchmarks/hardware_presets.py --out docs
	$(PY) benchmarks/hardware_graphs.py --out docs
	$(PY) benchmarks/hardware_irdrop.py --epochs 4 --out docs

# Three ways of getting a chip's weights (float, hardware-aware, in situ) over the chip's lifetime, for the digits MLP
# and the MNIST-1D CNN, and refresh against none on pcm (issue 22): the lifetime section of docs/hardware.md,
# docs/hardware_lifetime.png (about 25 min on 2 quiet cores); then train(hardware="reram") end to end against the
# PyTorch loop with a profile of the analog run (benchmarks/results/hardware_e2e.md, collected into BENCHMARKS.md)
lifetime: setup
	$(PY) benchmarks/lifetime.py --out docs
	$(PY) benchmarks/bench_hardware_e2e.py; $(PY) benchmarks/collect.py

# Optional, never part of setup or test: build IBM's aihwkit from its sdist into .venv against the installed CPU
# torch (scripts/setup_aihwkit.sh, 10-30 min on 2 cores), cross-check the pulsed device model against its devices
# and time training against its AnalogSGD: benchmarks/results/aihwkit.md, collected into BENCHMARKS.md.
aihwkit: setup
	bash scripts/setup_aihwkit.sh $(VENV)
	$(PY) benchmarks/aihwkit_check.py; status=$$?; $(PY) benchmarks/collect.py && exit $$status

clean:
	rm -rf $(VENV) $(NP2) $(OUT) .pytest_cache .hypothesis
