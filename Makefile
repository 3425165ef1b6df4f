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

.PHONY: setup test test-slow test-all eval bench clean

setup: $(STAMP)

# Re-installs only when the pinned requirements or the package metadata change.
$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
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

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
