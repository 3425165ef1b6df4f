"""What produced a result: git commit, package versions, and a hash of the config that shapes predictions."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

#: config keys whose values change the predictions (everything else: where to write, logging, workers)
PREDICTION_KEYS = ("dataset", "model", "tracker", "segmenter", "seed")

PACKAGES = ("torch", "torchvision", "numpy", "opencv-python-headless", "segment-anything", "segment-anything-hq",
            "hydra-core", "kmedoids", "pycocotools", "sampt")


def git_commit() -> str:
    """The repository's HEAD commit, with ``-dirty`` when tracked files changed; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def config_hash(config: dict) -> str:
    """sha256 (16 hex digits) of the prediction-relevant part of a resolved config (a plain dict)."""
    relevant = {key: config.get(key) for key in PREDICTION_KEYS}
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
