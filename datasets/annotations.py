"""Helpers shared by the readers whose objects come from the annotation PNGs themselves (YouTube-VOS,
MOSE, generic folder): scanning annotations for the frame where each id first appears, checking sizes,
and a `Video` that refuses annotations holding ids it does not know.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.errors import DatasetError
from datasets.png import image_size, read_label_png
from datasets.video import Video


def label_ids(labels: np.ndarray, void_label: int | None = None) -> list[int]:
    """Sorted non-zero ids of an (H, W) label map, ``void_label`` excluded."""
    ids = np.unique(labels)
    return [int(i) for i in ids if i != 0 and (void_label is None or i != void_label)]


def check_frame_size(frame: Path, size: tuple[int, int], annotation: Path) -> None:
    """Raise if the frame image is not (H, W) = ``size``, the size of ``annotation``."""
    frame_hw = image_size(frame)
    if frame_hw != tuple(size):
        raise DatasetError(
            f"frame {frame} is {frame_hw[1]}x{frame_hw[0]} but annotation {annotation} is {size[1]}x{size[0]} "
            "(W x H); frames and annotations of a video must have the same size"
        )


def scan_first_appearances(
    annotations: dict[int, Path],
    size: tuple[int, int] | None = None,
    known_ids: set[int] | None = None,
    stop_when_found: bool = False,
    void_label: int | None = None,
    wide: bool = False,
) -> tuple[dict[int, int], tuple[int, int]]:
    """Read annotation PNGs in frame order and find the first frame of every id.

    Args:
        annotations: frame index -> annotation PNG.
        size: expected (H, W); by default the size of the first PNG.
        known_ids: if given, an id outside it is an error naming the file.
        stop_when_found: stop reading once every id of ``known_ids`` was seen (dense annotations).
        void_label: value that is not an object.
        wide: ids may exceed 255 (16-bit PNGs, `datasets.png.read_label_png`).

    Returns:
        (id -> first frame index, (H, W) of the annotations).
    """
    first: dict[int, int] = {}
    for index in sorted(annotations):
        path = annotations[index]
        labels = read_label_png(path, wide=wide)
        if size is None:
            size = labels.shape
        elif labels.shape != tuple(size):
            raise DatasetError(
                f"annotation {path} is {labels.shape[1]}x{labels.shape[0]} but the video's annotations are "
                f"{size[1]}x{size[0]} (W x H); all annotations of a video must have one size"
            )
        for object_id in label_ids(labels, void_label):
            if known_ids is not None and object_id not in known_ids:
                raise DatasetError(
                    f"annotation {path} contains object id {object_id}, which is not one of the video's "
                    f"objects {sorted(known_ids)}; fix the PNG or the object list"
                )
            first.setdefault(object_id, index)
        if stop_when_found and known_ids is not None and set(first) >= known_ids:
            break
    if size is None:
        raise DatasetError("no annotation PNGs to read")
    return first, tuple(size)


@dataclass
class StrictVideo(Video):
    """A `Video` whose annotations may only hold its own object ids (plus 0 and the void label).

    Used where the object set is fixed up front (YouTube-VOS meta.json, MOSE first frame): an unknown id
    in a later annotation is a dataset error naming the file, not a silently ignored object.
    """

    def annotation(self, index: int) -> np.ndarray:
        labels = super().annotation(index)
        unknown = sorted(set(label_ids(labels)) - set(self.object_ids))
        if unknown:
            raise DatasetError(
                f"annotation {self.annotation_paths[index]} of video {self.name} contains object ids {unknown} "
                f"that are not among the video's objects {self.object_ids}"
            )
        return labels
