# sampt: `make test` and `make eval` do all set-up themselves (venv + pinned dependencies).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATASET ?= synthetic
# the paper's preset for real datasets; the embedded default (synthetic) needs no weights
EXPERIMENT ?= $(if $(filter-out synthetic,$(DATASET)),sampt,)
SEEDS ?=
ARGS ?=
JOBS ?= 2

.PHONY: setup test test-slow test-all eval bench submission checkpoints data clean

setup: $(STAMP)

# Re-installs only when the pinned requirements or the package metadata change.
$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# SAM 2.1 (pure Python; its sdist would otherwise build a CUDA extension against a downloaded torch)
	SAM2_BUILD_CUDA=0 $(PY) -m pip install --quiet --no-deps --no-build-isolation sam2==1.1.0
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not slow and not gpu" -n $(JOBS) -q

test-slow: $(STAMP)
	$(PY) -m pytest -m "slow" -q

test-all: $(STAMP)
	$(PY) -m pytest -q

eval: $(STAMP)
	$(PY) -m experiments.run dataset=$(DATASET) $(if $(EXPERIMENT),experiment=$(EXPERIMENT)) $(ARGS)

bench: $(STAMP)
	$(PY) -m scripts.bench

# after a run: make submission DATASET=ytvos18 RUN=outputs/... [ROOT=...] [SPLIT=...] [OUT=...]
submission: $(STAMP)
	$(PY) -m datasets.submission --dataset $(DATASET) --run $(RUN) $(if $(ROOT),--root $(ROOT)) $(if $(SPLIT),--split $(SPLIT)) $(if $(OUT),--out $(OUT))

# official checkpoint files with resume and md5 check: make checkpoints MODEL=sam_vit_h (no MODEL: list them)
checkpoints: $(STAMP)
	$(PY) -m experiments.download checkpoints $(if $(MODEL),--model $(MODEL),--list) $(if $(CHECKPOINT_DIR),--dir $(CHECKPOINT_DIR))

# official dataset archives: make data DATASET=davis17
data: $(STAMP)
	$(PY) -m experiments.download data --dataset $(DATASET) $(if $(DATA_ROOT),--dir $(DATA_ROOT))

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
