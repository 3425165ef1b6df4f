"""`FrameSource`: a video's frames read on demand, the input every stage that walks a video accepts.

Stages that keep memory bounded (windowed point trackers, the SAM-PT frame loop) read frames one at a time
or one window at a time from a `FrameSource` and drop them when done; `as_frame_source` wraps what callers
hold (a (T, H, W, 3) array, a list of frames, a `datasets.video.Video` or `WorkingVideo`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class FrameSource:
    """Frames by index, decoded when asked for.

    Attributes:
        frame: ``t -> (H, W, 3) uint8 RGB`` frame t (0 <= t < num_frames); may decode a file each call.
        num_frames: T.
        frame_size: (H, W) of every frame.
    """

    frame: Callable[[int], np.ndarray]
    num_frames: int
    frame_size: tuple[int, int]

    def __len__(self) -> int:
        return self.num_frames

    def window(self, start: int, end: int) -> np.ndarray:
        """(end - start, H, W, 3) uint8 frames ``start ... end - 1``."""
        if not 0 <= start < end <= self.num_frames:
            raise IndexError(f"window [{start}, {end}) outside the video's {self.num_frames} frames")
        return np.stack([self.frame(t) for t in range(start, end)])

    def all(self) -> np.ndarray:
        """(T, H, W, 3) uint8: every frame at once (memory grows with T; for trackers that need it)."""
        return self.window(0, self.num_frames)


def as_frame_source(frames) -> FrameSource:
    """Wrap (T, H, W, 3) uint8 frames, a sequence of (H, W, 3) frames, or an object with ``frame(t)`` and
    ``num_frames`` (a `Video`, a `WorkingVideo`, a `FrameSource`) as a `FrameSource`.

    Raises:
        ValueError: no frame, or frames that are not (H, W, 3) uint8 RGB (checked on frame 0).
    """
    if isinstance(frames, FrameSource):
        return frames
    if hasattr(frames, "frame") and hasattr(frames, "num_frames"):
        frame_at, count = frames.frame, int(frames.num_frames)
    else:
        if isinstance(frames, np.ndarray) and (frames.ndim != 4 or frames.shape[-1] != 3):
            raise ValueError(f"frames must be (T, H, W, 3) RGB, got shape {frames.shape}")
        frame_at, count = (lambda t: np.asarray(frames[t])), len(frames)
    if count == 0:
        raise ValueError("the video has no frame")
    first = frame_at(0)
    if first.ndim != 3 or first.shape[-1] != 3 or first.dtype != np.uint8:
        raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {first.shape} {first.dtype}")
    return FrameSource(frame_at, count, tuple(first.shape[:2]))
