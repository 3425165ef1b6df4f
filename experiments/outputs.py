"""Per-video prediction folders that are complete only when their marker is written last.

Layout: ``<run>/predictions/<video>/<frame>.png`` (indexed PNGs), ``scores.json`` (per-object scores and
timing), ``tracks.npz`` (the tracked query points) and ``.complete`` (json holding the config hash), written last by an atomic rename. A re-run of
the same config skips complete videos; a partial folder, or one made by another config, is redone.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from datasets.files import atomic_write, atomic_write_text

MARKER = ".complete"
TRACKS_FILE = "tracks.npz"


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


def write_tracks(video_dir: Path, tracks: np.ndarray, visible: np.ndarray, object_ids, frame_size) -> None:
    """``tracks.npz``: (T, M, P, 2) float32 point tracks in frame pixels, (T, M, P) visibility, the M object
    ids and the (H, W) frame size they refer to (what the run report draws on its failure frames)."""

    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, tracks=np.asarray(tracks, np.float32), visible=np.asarray(visible, bool),
                                object_ids=np.asarray(object_ids, np.int64), frame_size=np.asarray(frame_size))

    atomic_write(Path(video_dir) / TRACKS_FILE, write)


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
