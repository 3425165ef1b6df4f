"""Per-video prediction folders that are complete only when their marker is written last.

Layout: ``<run>/predictions/<video>/<frame>.png`` (indexed PNGs), ``scores.json`` (per-object scores and
timing) and ``.complete`` (json holding the config hash), written last by an atomic rename. A re-run of
the same config skips complete videos; a partial folder, or one made by another config, is redone.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from datasets.files import atomic_write_text

MARKER = ".complete"


def write_json_atomic(path: str | Path, data) -> None:
    """Write ``data`` as json to ``path`` through a temporary file and an atomic rename."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to json")


def is_complete(video_dir: Path, config_hash: str) -> bool:
    """Whether ``video_dir`` holds a finished prediction made by the config with ``config_hash``."""
    marker = video_dir / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("config_hash") == config_hash
    except (OSError, ValueError):
        return False


def prepare_video_dir(video_dir: Path) -> Path:
    """Empty ``video_dir`` (a partial or stale prediction) and return it, ready to be written."""
    if video_dir.exists():
        shutil.rmtree(video_dir)
    video_dir.mkdir(parents=True)
    return video_dir


def mark_complete(video_dir: Path, config_hash: str, **info) -> None:
    """Write the completion marker last, atomically."""
    write_json_atomic(video_dir / MARKER, {"config_hash": config_hash, **info})
