"""Overlay videos: masks in the DAVIS palette, positive points as circles, negative points as crosses,
points the tracker marks not visible drawn hollow in grey. Frames are streamed into the writer."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from datasets.png import DAVIS_PALETTE

FORMATS = ("mp4", "gif")
INVISIBLE = (160, 160, 160)


def overlay(frame: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8 frame with the (H', W') label map blended in (resized to the frame if needed)."""
    if labels.shape != frame.shape[:2]:
        labels = cv2.resize(labels, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
    colours = DAVIS_PALETTE[labels]
    blended = frame.astype(np.float32)
    foreground = labels > 0
    blended[foreground] = (1 - alpha) * blended[foreground] + alpha * colours[foreground]
    out = blended.astype(np.uint8)
    edges = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    out[edges] = colours[edges]
    return out


def draw_points(image: np.ndarray, points: np.ndarray, visible: np.ndarray, positive: np.ndarray,
                object_colours: np.ndarray) -> np.ndarray:
    """Draw (N, 2) pixel points: positives as circles, negatives as crosses, invisible ones hollow grey.

    ``object_colours`` (N, 3) uint8 is each point's object colour.
    """
    radius = max(3, round(min(image.shape[:2]) / 120))
    for (x, y), seen, pos, colour in zip(points, visible, positive, object_colours):
        if not np.isfinite([x, y]).all():
            continue
        centre = (int(round(x)), int(round(y)))
        colour = tuple(int(c) for c in colour) if seen else INVISIBLE
        thickness = -1 if seen and pos else 1
        if pos:
            cv2.circle(image, centre, radius, colour, thickness, lineType=cv2.LINE_AA)
            cv2.circle(image, centre, radius, (255, 255, 255), 1, lineType=cv2.LINE_AA)
        else:
            cv2.drawMarker(image, centre, colour, cv2.MARKER_TILTED_CROSS, 2 * radius + 2, 2 if seen else 1)
    return image


class VideoFileWriter:
    """Streams (H, W, 3) uint8 RGB frames into ``path``: .mp4 (H.264 via imageio-ffmpeg) or .gif (Pillow).

    The one video-file writer of the tree; use as a context manager or call `close`.
    """

    def __init__(self, path: str | Path, fps: int = 10):
        self.path = Path(path)
        if self.path.suffix.lstrip(".") not in FORMATS:
            raise ValueError(f"video format {self.path.suffix!r} not supported; valid: {', '.join(FORMATS)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self._writer = None
        self._gif_frames: list = []

    def __enter__(self) -> "VideoFileWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        if self.path.suffix == ".gif":
            self._gif_frames.append(frame)  # GIFs are for short clips only
            return
        if self._writer is None:
            import imageio.v2 as imageio

            self._writer = imageio.get_writer(self.path, fps=self.fps, codec="libx264", quality=7,
                                              macro_block_size=2, ffmpeg_log_level="error")
        self._writer.append_data(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._gif_frames:
            from PIL import Image

            images = [Image.fromarray(f) for f in self._gif_frames]
            images[0].save(self.path, save_all=True, append_images=images[1:], duration=int(1000 / self.fps), loop=0)
            self._gif_frames = []


class OverlayVideoWriter(VideoFileWriter):
    """Streams overlay frames (masks and tracked points) of one SAM-PT video into ``path`` (.mp4 or .gif)."""

    def __init__(self, path: str | Path, fps: int = 10, num_positive: int | None = None):
        super().__init__(path, fps)
        self.num_positive = num_positive

    def add(self, t: int, labels: np.ndarray, run) -> None:
        """Add frame ``t`` of a `trackers.sampt.engine.VideoRun` with its (H', W') label map."""
        frame = overlay(run.frame(t), labels)
        tracks, visible = run.tracks[t], run.visible[t]  # (M, P, 2), (M, P)
        num_objects, num_points = visible.shape
        num_positive = self.num_positive if self.num_positive is not None else run.sampt.positive_points_per_mask
        positive = np.tile(np.arange(num_points) < num_positive, num_objects)
        colours = np.repeat(DAVIS_PALETTE[np.asarray(run.object_ids) % 256], num_points, axis=0)
        active = np.repeat(run.first_frames <= t, num_points)
        draw_points(frame, tracks.reshape(-1, 2)[active], visible.reshape(-1)[active], positive[active],
                    colours[active])
        self.write(frame)
