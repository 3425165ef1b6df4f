"""Running the Hydra app in a subprocess on a tiny synthetic DAVIS-layout dataset (shared by the runner,
report and comparison tests)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from datasets.synthetic import generate

REPO = Path(__file__).resolve().parents[1]
#: recorded official outputs
FIXTURES = REPO / "tests" / "fixtures"
FAST = ["model.iterative_refinement_iterations=1", "logging.wandb.enabled=false", "logging.visualize.num_videos=0",
        "eval_workers=1", "logging.progress=false", "dataset=davis17"]


def tiny_davis(root: Path, full_resolution: bool = False) -> Path:
    """2 videos x 6 frames, 112x80, in the DAVIS 2017 layout under ``root`` (with 224x160 Full-Resolution
    frames and masks when asked)."""
    generate(root, "davis17", num_videos=2, num_frames=6, height=80, width=112, seed=3, crosser_leaves_frame=False,
             full_resolution=full_resolution)
    return root


def run_app(*overrides: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.run", *overrides]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", **(env or {})}
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, env=environment)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result
