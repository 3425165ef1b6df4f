"""The `Video` contract shared by every reader, the SAM-PT pipeline, the runner and the writers.

A `Video` knows its frame files (decoded lazily, one at a time), its annotation files, its objects (id,
the frame where each first appears) and which frames predictions must be written for. Readers of each
benchmark layout (`datasets.davis`, `datasets.ytvos`, ...) build `Video` objects; nothing downstream
looks at the on-disk layout again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from datasets.errors import DatasetError
from datasets.png import image_size, read_frame, read_label_png


@dataclass(frozen=True)
class VideoObject:
    """One object to segment: its id in the annotation PNGs and the frame index of its first mask."""

    id: int
    first_frame: int


@dataclass
class Video:
    """A video of a benchmark, read lazily.

    Attributes:
        name: video (sequence) name, also the folder name of its predictions.
        frame_names: frame ids without extension, in temporal order, e.g. ``["00000", "00005"]``.
        frame_paths: image files aligned with ``frame_names``.
        annotation_paths: frame index -> annotation PNG for the frames that have one (all frames for
            DAVIS train/val, only first-appearance frames for YouTube-VOS valid and MOSE valid).
        objects: the objects to segment, sorted by id.
        size: (H, W) of the annotations, the resolution predictions are written and scored at.
        frames_to_write: indices of the frames predictions must be written for.
        binary: annotations are binary (DAVIS 2016): any nonzero pixel is object 1.
        void_label: annotation value that marks "void" pixels; read as background (DAVIS 2017: 255).
        dataset: short name of the benchmark it comes from.
        first_mask_paths: frame index -> annotation PNG that first masks are read from, when they come
            from another resolution than the scored annotations (DAVIS: the Full-Resolution annotations
            that go with Full-Resolution frames, as the authors' evaluation reads them); None: the
            scored annotations. Such masks have the size of the frames, not ``size``.
    """

    name: str
    frame_names: list[str]
    frame_paths: list[Path]
    annotation_paths: dict[int, Path]
    objects: list[VideoObject]
    size: tuple[int, int]
    frames_to_write: list[int] = field(default_factory=list)
    binary: bool = False
    void_label: int | None = None
    dataset: str = ""
    first_mask_paths: dict[int, Path] | None = None

    def __post_init__(self) -> None:
        if len(self.frame_names) != len(self.frame_paths):
            raise DatasetError(
                f"video {self.name}: {len(self.frame_names)} frame names but {len(self.frame_paths)} frame files"
            )
        if not self.frames_to_write:
            self.frames_to_write = list(range(len(self.frame_names)))

    def __len__(self) -> int:
        return len(self.frame_names)

    @property
    def num_frames(self) -> int:
        return len(self.frame_names)

    @property
    def object_ids(self) -> list[int]:
        return [obj.id for obj in self.objects]

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) of the frame images (may differ from ``size``, e.g. DAVIS Full-Resolution frames)."""
        return image_size(self.frame_paths[0])

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as (H, W, 3) uint8 RGB, decoded now."""
        return read_frame(self.frame_paths[index])

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Frames in order, each (H, W, 3) uint8 RGB, decoded one at a time."""
        for index in range(self.num_frames):
            yield self.frame(index)

    @staticmethod
    def object_folder(object_id: int) -> str:
        """The ``<obj:03d>`` folder of ``object_id`` in per-object mask layouts (SA-V's annotations, the run's
        overlapping predictions): the id - 1 (ids start at 1, folders at ``000``)."""
        return f"{object_id - 1:03d}"

    def has_annotation(self, index: int) -> bool:
        return index in self.annotation_paths

    def annotation(self, index: int) -> np.ndarray:
        """Ground-truth label map of frame ``index``, (H, W) uint8 object ids (0 background).

        Raises `DatasetError` if the frame has no annotation or it does not match ``size``.
        """
        if index not in self.annotation_paths:
            raise DatasetError(f"video {self.name}: frame {self.frame_names[index]} has no annotation")
        return self._labels(self.annotation_paths[index], tuple(self.size), "annotations")

    def _labels(self, path: Path, size: tuple[int, int], what: str) -> np.ndarray:
        labels = read_label_png(path, allow_rgb=self.binary)
        if self.binary:
            labels = (labels > 0).astype(np.uint8)
        elif self.void_label is not None:
            labels = np.where(labels == self.void_label, 0, labels).astype(np.uint8)
        if labels.shape != size:
            raise DatasetError(
                f"annotation {path} is {labels.shape[1]}x{labels.shape[0]} but video {self.name} is "
                f"{size[1]}x{size[0]} (W x H, its {what}); all annotations of a video must have one size"
            )
        return labels

    def first_mask(self, object_id: int) -> np.ndarray:
        """(H, W) bool mask of ``object_id`` on the frame where it first appears.

        From ``first_mask_paths`` when set (then (H, W) is the frame size), else from the annotations.
        Raises `DatasetError` naming the video, object and file when that mask is empty.
        """
        obj = self._object(object_id)
        if self.first_mask_paths is None:
            path, labels = self.annotation_paths.get(obj.first_frame), self.annotation(obj.first_frame)
        else:
            if obj.first_frame not in self.first_mask_paths:
                raise DatasetError(f"video {self.name}: frame {self.frame_names[obj.first_frame]} has no "
                                   f"first-mask annotation at the frames' resolution")
            path = self.first_mask_paths[obj.first_frame]
            labels = self._labels(path, tuple(self.frame_size), "frames")
        mask = labels == object_id
        if not mask.any():
            raise DatasetError(f"video {self.name}: object {object_id} has an empty first mask in {path}")
        return mask

    def _object(self, object_id: int) -> VideoObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise DatasetError(f"video {self.name}: unknown object id {object_id}; known ids: {self.object_ids}")


class VideoReader:
    """Base of the benchmark readers: subclasses set ``sequences`` (the split's video names, in order)
    and implement ``video(name)``; iteration yields the `Video` objects in that order."""

    sequences: list[str]

    def video(self, name: str) -> Video:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self):
        for name in self.sequences:
            yield self.video(name)

    def videos(self) -> list[Video]:
        return [self.video(name) for name in self.sequences]
