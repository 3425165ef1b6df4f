# sampt: `make test` and `make eval` do all set-up themselves (venv + pinned dependencies).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATASET ?= synthetic
# Hydra option names use '_' (davis17-testdev -> davis17_testdev)
DATASET_OPTION = $(subst -,_,$(DATASET))
# the paper's preset of each real dataset (with its exceptions); synthetic ones need no weights
PRESET_davis16 := paper/sampt_davis16
PRESET_davis17 := paper/sampt
PRESET_davis17_testdev := paper/sampt_davis17_testdev
PRESET_ytvos18 := paper/sampt_ytvos
PRESET_ytvos19 := paper/sampt_ytvos
PRESET_mose := paper/sampt_mose
PRESET_uvo := paper/sampt_uvo
PRESET_sav := paper/sampt_sav
PRESET_lvos := paper/sampt_lvos
PRESET_vost := paper/sampt_vost
PRESET_mosev2 := paper/sampt_mosev2
PRESET_folder := paper/sampt
PRESET_lv1 := paper/sampt_lv1
PRESET_lv3 := paper/sampt_lv3
PRESET_bdd100k := code_defaults/authors_code_bdd100k
EXPERIMENT ?= $(PRESET_$(DATASET_OPTION))
SEEDS ?=
ARGS ?=
JOBS ?= 2

.PHONY: setup test test-slow test-all test-browser browser eval report compare bench bench-gpu bench-gpu-smoke test-gpu submission checkpoints data demo interactive clean

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

test: $(STAMP) browser
	$(PY) -m pytest -m "not slow and not gpu" -n $(JOBS) -q

# headless Chromium for the report's browser test (Debian package, ~40 s to install; root only)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "chromium not installed and not root: the browser tests will be skipped (apt-get install chromium)"; fi; }

test-browser: $(STAMP) browser
	SAMPT_REQUIRE_BROWSER=1 $(PY) -m pytest -m browser -q

# exit code 5 = no test carries the marker
test-slow: $(STAMP)
	$(PY) -m pytest -m "slow" -q || [ $$? -eq 5 ]

# the CUDA tests (tests/trackers/sampt/test_gpu.py; skipped without a CUDA device)
test-gpu: $(STAMP)
	$(PY) -m pytest -m gpu -q

test-all: $(STAMP)
	$(PY) -m pytest -q

# make eval [DATASET=...] [EXPERIMENT=...] [SEEDS=0,1,2] [OUT=run folder] [GPUS=N] [ARGS="any Hydra override"]
# GPUS=N: one process per GPU on this machine (torchrun; experiments/run/ranks.py), into one run folder
# (OUT, default outputs/<date>/<time>: every rank must write into the same one)
# It says which preset it chose and why; the preset is EXPERIMENT's alone (an experiment= in ARGS stops it).
comma := ,
ifeq ($(origin EXPERIMENT),file)
EVAL_CHOICE = DATASET=$(DATASET) -> $(if $(EXPERIMENT),EXPERIMENT=$(EXPERIMENT) (the paper preset of $(DATASET_OPTION); EXPERIMENT=<name> picks another$(comma) EXPERIMENT= none),no preset (the defaults of configs/eval.yaml; EXPERIMENT=<name> picks one))
else
EVAL_CHOICE = DATASET=$(DATASET) -> $(if $(EXPERIMENT),EXPERIMENT=$(EXPERIMENT),no preset) (EXPERIMENT as given)
endif
EVAL_ARGS_EXPERIMENT = $(filter experiment=% +experiment=% ++experiment=% ~experiment%,$(ARGS))
ifneq ($(filter eval,$(MAKECMDGOALS)),)
ifneq ($(EVAL_ARGS_EXPERIMENT),)
$(error make eval: ARGS has "$(EVAL_ARGS_EXPERIMENT)", but make eval picks the preset with EXPERIMENT: use EXPERIMENT=<preset> (e.g. EXPERIMENT=paper/sampt_reinit; all in configs/experiment/README.md) or EXPERIMENT= for none, and ARGS for the other overrides)
endif
endif

eval: $(STAMP)
	$(info make eval: $(EVAL_CHOICE))
	$(PY) $(if $(GPUS),-m torch.distributed.run --standalone --nproc_per_node=$(GPUS) )-m experiments.run dataset=$(DATASET_OPTION) $(if $(EXPERIMENT),experiment=$(EXPERIMENT)) $(if $(SEEDS),'seeds=[$(SEEDS)]') $(if $(OUT),output_dir=$(OUT),$(if $(GPUS),output_dir=outputs/$(shell date +%Y-%m-%d/%H-%M-%S))) $(ARGS)

# the HTML report of a run (also written at the end of every run): make report RUN=outputs/<date>/<time>
report: $(STAMP)
	$(if $(RUN),,$(error give the run folder: make report RUN=outputs/<date>/<time>))
	$(PY) -m experiments.reports.report $(RUN)

# compare runs (the first is the reference): make compare RUNS="A B [C ...]" [OUT=dir]
compare: $(STAMP)
	$(if $(RUNS),,$(error give two or more run folders: make compare RUNS="outputs/A outputs/B"))
	$(PY) -m experiments.reports.compare $(RUNS) $(if $(OUT),--out $(OUT))

# every CPU benchmark (scripts/bench_*.py but bench_gpu), e.g. bench_e2e: the whole make-eval path vs the reference
bench: $(STAMP)
	$(PY) -m scripts.bench

# on a GPU machine (<= 5 min): full-size random SAM ViT-H / MobileSAM / SAM 2.1 + PIPS, fp32/bf16, compile [ARGS=...];
# then every neural stage's FLOPs, time and fraction of the GPU's float32 GEMM peak, before and after (scripts/bench/stages.py)
bench-gpu: $(STAMP)
	$(PY) -m scripts.bench.gpu $(ARGS)
	$(PY) -m scripts.bench.stages --device cuda --repeats 3

# the same script on CPU with tiny models and 3 frames (< 1 min): checks it before a GPU sees it
bench-gpu-smoke: $(STAMP)
	$(PY) -m scripts.bench.gpu --smoke

# after a run: make submission DATASET=ytvos18 RUN=outputs/... [ROOT=...] [SPLIT=...] [OUT=...]
submission: $(STAMP)
	$(PY) -m experiments.tools.submission --dataset $(DATASET) --run $(RUN) $(if $(ROOT),--root $(ROOT)) $(if $(SPLIT),--split $(SPLIT)) $(if $(OUT),--out $(OUT))

# official checkpoint files with resume and md5 check: make checkpoints MODEL=sam_vit_h (no MODEL: list them)
checkpoints: $(STAMP)
	$(PY) -m experiments.tools.download checkpoints $(if $(MODEL),--model $(MODEL),--list) $(if $(CHECKPOINT_DIR),--dir $(CHECKPOINT_DIR))

# official dataset archives: make data DATASET=davis17
data: $(STAMP)
	$(PY) -m experiments.tools.download data --dataset $(DATASET) $(if $(DATA_ROOT),--dir $(DATA_ROOT))

# SAM-PT demo on any video: make demo VIDEO=clip.mp4|frames_dir POINTS=points.txt [SEGMENTER=sam_vit_h CHECKPOINT_SEGMENTER=...] [TRACKER=pips CHECKPOINT_TRACKER=...] [OUT=outputs/demo] [ARGS=...]
demo: $(STAMP)
	$(PY) -m experiments.apps.demo --video $(VIDEO) $(if $(POINTS),--points $(POINTS)) $(if $(TRACKER),--tracker $(TRACKER)) $(if $(SEGMENTER),--segmenter $(SEGMENTER)) $(if $(CHECKPOINT_TRACKER),--checkpoint-tracker $(CHECKPOINT_TRACKER)) $(if $(CHECKPOINT_SEGMENTER),--checkpoint-segmenter $(CHECKPOINT_SEGMENTER)) $(if $(OUT),--out $(OUT)) $(if $(CHECKPOINT_DIR),--checkpoint-dir $(CHECKPOINT_DIR)) $(ARGS)

# simulated interactive point correction: make interactive DATASET=davis17 ROOT=data/DAVIS [SPLIT=val] [ARGS="--online --threshold 0.95 --videos camel"]
interactive: $(STAMP)
	$(PY) -m experiments.apps.interactive --dataset $(DATASET) --root $(ROOT) $(if $(SPLIT),--split $(SPLIT)) $(if $(OUT),--out $(OUT)) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
