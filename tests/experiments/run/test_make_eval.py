"""`make eval` says which preset it chose and why, and stops on a preset given in ARGS (dry runs, `make -n`).

Also the line the app logs at start naming the composed options (experiments.run.app.chosen_options).
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from experiments.run.app import chosen_options
from tests.helpers import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def make_eval(*variables: str) -> subprocess.CompletedProcess:
    """``make -n eval`` (prints the commands, runs none: not the venv set-up either), as a top-level make even
    when the tests run under one (``make test`` would add "Entering directory" lines and its flags)."""
    env = {key: value for key, value in os.environ.items() if key not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-n", "eval", *variables], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.parametrize("variables, said, command", [
    (["DATASET=davis17"], "DATASET=davis17 -> EXPERIMENT=paper/sampt (the paper preset of davis17; "
     "EXPERIMENT=<name> picks another, EXPERIMENT= none)", "dataset=davis17 experiment=paper/sampt"),
    (["DATASET=davis17-testdev"], "-> EXPERIMENT=paper/sampt_davis17_testdev (the paper preset of davis17_testdev",
     "dataset=davis17_testdev experiment=paper/sampt_davis17_testdev"),
    ([], "DATASET=synthetic -> no preset (the defaults of configs/eval.yaml", "experiments.run dataset=synthetic "),
    (["DATASET=ytvos18", "EXPERIMENT="], "DATASET=ytvos18 -> no preset (EXPERIMENT as given)",
     "experiments.run dataset=ytvos18 "),
    (["DATASET=davis17", "EXPERIMENT=paper/sampt_reinit"], "-> EXPERIMENT=paper/sampt_reinit (EXPERIMENT as given)",
     "experiment=paper/sampt_reinit"),
])
def test_make_eval_says_which_preset_it_chose(variables, said, command):
    result = make_eval(*variables)
    assert result.returncode == 0, result.stderr
    assert "make eval: DATASET=" in result.stdout and said in result.stdout
    assert command in result.stdout


@pytest.mark.parametrize("args", ["experiment=null tracker=lk segmenter=grabcut", "experiment=paper/sampt_reinit",
                                  "seed=1 +experiment=paper/sampt"])
def test_a_preset_in_args_stops_with_the_way_that_works(args):
    result = make_eval("DATASET=ytvos18", f"ARGS={args}")
    assert result.returncode != 0
    assert "make eval: ARGS has" in result.stderr and "use EXPERIMENT=<preset>" in result.stderr
    assert "EXPERIMENT= for none" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert "experiments.run" not in result.stdout  # stopped before running anything


def test_args_without_a_preset_pass_through():
    result = make_eval("DATASET=davis17", "ARGS=model.iterative_refinement_iterations=3 tracker=lk")
    assert result.returncode == 0
    assert " ".join(result.stdout.split()).endswith(
        "dataset=davis17 experiment=paper/sampt model.iterative_refinement_iterations=3 tracker=lk")


def test_the_app_names_the_composed_options():
    choices = {"dataset": "davis17", "experiment": "paper/sampt", "model": "sampt", "tracker": "pips",
               "segmenter": "sam_vit_h", "paths": "default"}
    assert chosen_options(choices) == ("dataset=davis17 experiment=paper/sampt model=sampt tracker=pips "
                                       "segmenter=sam_vit_h")
    assert chosen_options({**choices, "experiment": None}).startswith("dataset=davis17 experiment=null model=")


def test_gpus_runs_one_process_per_gpu_into_one_folder():
    one = make_eval("OUT=run")
    assert one.returncode == 0 and "torch.distributed" not in one.stdout
    assert ".venv/bin/python -m experiments.run dataset=synthetic" in " ".join(one.stdout.split())
    result = make_eval("GPUS=4", "OUT=run")
    assert result.returncode == 0, result.stderr
    assert "-m torch.distributed.run --standalone --nproc_per_node=4 -m experiments.run" in result.stdout
    assert "output_dir=run" in result.stdout
    assert "output_dir=outputs/" in make_eval("GPUS=2").stdout  # the ranks need one folder: a fresh one
