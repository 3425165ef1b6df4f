"""What the point-tracker tests share: the recorded official state-dict layouts, and a `FrameSource` that
counts what a tracker reads."""
from __future__ import annotations

import weakref

import numpy as np

from infra.frames import FrameSource
from tests.helpers import REPO

KEYS_DIR = REPO / "reference" / "keys"


def official_keys(name: str) -> dict[str, tuple[int, ...]]:
    """name -> shape from ``reference/keys/<name>_keys.txt`` (lines ``key 64x3x7x7``; ``-`` is a scalar)."""
    keys = {}
    for line in (KEYS_DIR / f"{name}_keys.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape = line.split()
        keys[key] = () if shape == "-" else tuple(int(size) for size in shape.split("x"))
    return keys


def counting_source(frames: np.ndarray) -> tuple[FrameSource, dict]:
    """(T, H, W, 3) uint8 -> a `FrameSource` returning a fresh copy of each frame it is asked for, and its live
    counters: ``reads`` (frames decoded), ``alive`` (decoded frames not yet freed) and ``most_alive``."""
    stats = {"reads": 0, "alive": 0, "most_alive": 0}

    def freed() -> None:
        stats["alive"] -= 1

    def frame(t: int) -> np.ndarray:
        image = frames[t].copy()
        stats["reads"] += 1
        stats["alive"] += 1
        stats["most_alive"] = max(stats["most_alive"], stats["alive"])
        weakref.finalize(image, freed)
        return image

    return FrameSource(frame, len(frames), tuple(frames.shape[1:3])), stats


def track_source_and_array(tracker, frames: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Track ``queries`` through ``frames`` read on demand from a `counting_source` and again from the array;
    asserts both give bit-identical output and returns (tracks, visible, the source's counters)."""
    source, stats = counting_source(frames)
    tracks, visible = tracker.track(source, queries)
    expected_tracks, expected_visible = tracker.track(frames, queries)
    assert np.array_equal(tracks, expected_tracks) and np.array_equal(visible, expected_visible)
    return tracks, visible, stats
