"""Frames of an MP4 (or other container PyAV reads) or of a folder of images, decoded on demand.

`VideoSource(path)` never holds more than one decoded frame: ``frame(t)`` decodes forward from the current
position (sequential access is cheap; asking for an earlier frame reopens the file and decodes from the
start). No system ffmpeg is needed: containers are read with PyAV. Frames are (H, W, 3) uint8 RGB as stored;
`infra.resolution.WorkingVideo` gives them at a working size (the demo: a 1024 long side, as the authors').
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.png import read_frame

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class VideoSource:
    """A video read lazily frame by frame.

    Attributes:
        name: the file or folder name without suffix.
        num_frames: T.
        frame_size: (H, W) of the decoded frames.
        fps: frames per second of the container (10 for image folders).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = self.path.stem
        self._container = None
        self._decoder = None
        self._index = -1
        self._current: np.ndarray | None = None
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise ValueError(f"no frame images ({', '.join(IMAGE_SUFFIXES)}) in folder {self.path}")
            self.num_frames = len(self._files)
            self.fps = 10.0
            first = read_frame(self._files[0])
        elif self.path.is_file():
            self._files = None
            self.num_frames, self.fps = self._probe()
            first = self._decode(0)
        else:
            raise FileNotFoundError(f"video not found: {self.path} (give an MP4 file or a folder of frames)")
        self.frame_size = tuple(first.shape[:2])

    # ------------------------------------------------------------------------------ container access
    def _open(self):
        import av

        self.close()
        try:
            self._container = av.open(str(self.path))
        except Exception as error:  # PyAV raises many error types for unreadable files
            raise ValueError(f"cannot read video {self.path}: {error}") from None
        if not self._container.streams.video:
            raise ValueError(f"{self.path} has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._decoder = self._container.decode(stream)
        self._index = -1
        return stream

    def _probe(self) -> tuple[int, float]:
        stream = self._open()
        fps = float(stream.average_rate) if stream.average_rate else 25.0
        count = int(stream.frames or 0)
        if count <= 0:  # the container does not say: count by decoding (one frame in memory at a time)
            count = sum(1 for _ in self._decoder)
            self._open()
        if count == 0:
            raise ValueError(f"video {self.path} has no frame")
        self.close()
        return count, fps

    def _decode(self, t: int) -> np.ndarray:
        if self._decoder is None or t < self._index:
            self._open()
        while self._index < t:
            try:
                frame = next(self._decoder)
            except StopIteration:
                raise ValueError(f"video {self.path}: frame {t} requested but decoding ended after frame "
                                 f"{self._index}") from None
            self._index += 1
            if self._index == t:
                self._current = frame.to_ndarray(format="rgb24")
        return self._current

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._decoder = None
        self._index = -1

    # ------------------------------------------------------------------------------ frames
    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as (H, W, 3) uint8 RGB."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"frame {t} not in [0, {self.num_frames - 1}] of {self.path}")
        image = read_frame(self._files[t]) if self._files is not None else self._decode(t)
        if image.shape[:2] != self.frame_size:
            raise ValueError(f"{self.path}: frame {t} is {image.shape[1]}x{image.shape[0]}, frame 0 is "
                             f"{self.frame_size[1]}x{self.frame_size[0]}; all frames need one size")
        return np.ascontiguousarray(image)

    def __len__(self) -> int:
        return self.num_frames
