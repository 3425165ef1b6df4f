"""The working resolution of a run: frames and first masks resized as the authors' VOS evaluation does.

SAM-PT's evaluation (SysCV/sam-pt, ``sam_pt/vos_eval/data/video_reader.py`` with ``longest_size: 1024``
in ``configs/vos_eval_root.yaml``) resizes every frame so that its longest side is 1024 pixels, SAM's
input size, when it reads it; query points, point tracking, SAM prompting, refinement boxes and the
per-object logits all live at that size, and label maps are produced at the annotation size at the end.
This module holds that transform; nothing here imports torch:

- `longest_side_shape`: the working (H, W), as SAM's ``ResizeLongestSide.get_preprocess_shape``
  (``int(side * scale + 0.5)``).
- `resize_frame`: PIL bilinear, what SAM's ``ResizeLongestSide.apply_image`` does (torchvision's resize
  of a PIL image).
- `resize_mask_nearest`: PyTorch's ``F.interpolate(mode="nearest")`` in numpy (the authors resize first
  masks and paste given masks with it), bit-identical to it (tested against torch).
- `working_shape`: the working size by the long side (VOS, the demo) or by the short side (VIS: Detectron2's
  ``ResizeShortestEdge``, `shortest_side_shape`).
- `WorkingVideo`: a video seen at the working size: ``frame(t)`` and ``first_mask(id)``, optionally mirrored
  (`mirror`: the authors' ``flip`` option).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

#: the authors' working resolution for VOS (``longest_size`` of their evaluation config)
AUTHORS_LONGEST_SIDE = 1024


def longest_side_shape(height: int, width: int, longest_side: int) -> tuple[int, int]:
    """(H', W') with the longest side scaled to ``longest_side``, rounded as SAM's ``get_preprocess_shape``."""
    if isinstance(longest_side, bool) or int(longest_side) != longest_side or longest_side < 16:
        raise ValueError(f"longest_side must be an integer >= 16 pixels (or null for the native size), "
                         f"got {longest_side!r}")
    scale = longest_side * 1.0 / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (h, w, 3) uint8 with PIL bilinear (the frame itself when the size is equal)."""
    if frame.shape[:2] == tuple(size):
        return frame
    return np.asarray(Image.fromarray(frame).resize((size[1], size[0]), Image.BILINEAR))


def nearest_source_indices(source: int, target: int) -> np.ndarray:
    """(target,) int64 source index of each output pixel along one axis, as PyTorch's ``nearest`` mode.

    PyTorch (aten ``nearest_idx``): the identity for equal sizes, ``i >> 1`` for an exact 2x upscale, else
    ``min(floor(i * (float)source / target), source - 1)`` computed in single precision.
    """
    index = np.arange(target, dtype=np.int64)
    if target == source:
        return index
    if target == 2 * source:
        return index >> 1
    scale = np.float32(source) / np.float32(target)
    return np.minimum(np.floor(index.astype(np.float32) * scale).astype(np.int64), source - 1)


def resize_mask_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) array -> (h, w) with PyTorch's nearest-neighbour rule (same dtype; the input when equal)."""
    height, width = mask.shape[:2]
    if (height, width) == tuple(size):
        return mask
    rows = nearest_source_indices(height, size[0])
    cols = nearest_source_indices(width, size[1])
    return mask[rows[:, None], cols[None, :]]


def shortest_side_shape(height: int, width: int, short_side: int, max_size: int | None = 1333) -> tuple[int, int]:
    """(h, w) after Detectron2's ``ResizeShortestEdge(short_side, max_size)`` (the authors' VIS test mapper):
    the short side scaled to ``short_side``, then both shrunk so the long side is at most ``max_size``."""
    scale = short_side / min(height, width)
    new_h, new_w = height * scale, width * scale
    if max_size is not None and max(new_h, new_w) > max_size:
        shrink = max_size / max(new_h, new_w)
        new_h, new_w = new_h * shrink, new_w * shrink
    return int(new_h + 0.5), int(new_w + 0.5)


def working_shape(height: int, width: int, longest_side: int | None = None, short_side: int | None = None,
                  max_size: int | None = 1333) -> tuple[int, int]:
    """The working (h, w) of (height, width) frames: the long side at ``longest_side`` (VOS, the demo: SAM's
    rounding), or the short side at ``short_side`` with the long side at most ``max_size`` (VIS: Detectron2's
    rounding), or (height, width) when neither is given."""
    if longest_side is not None and short_side is not None:
        raise ValueError(f"give a longest side ({longest_side}) or a short side ({short_side}), not both")
    if longest_side is not None:
        return longest_side_shape(height, width, longest_side)
    if short_side is not None:
        return shortest_side_shape(height, width, short_side, max_size)
    return int(height), int(width)


def mirror(array: np.ndarray, axis: int = -1) -> np.ndarray:
    """``array`` mirrored along ``axis`` (default the last, the width of (..., H, W)), as a contiguous copy."""
    return np.ascontiguousarray(np.flip(np.asarray(array), axis))


def mirror_points(points: np.ndarray, width: int) -> np.ndarray:
    """(..., 2) pixel (x, y) on a ``width`` wide image -> the same points on the image mirrored left-right
    (x -> width - 1 - x: pixel centres at integer x, as query points are)."""
    points = np.array(points, dtype=np.float32)
    points[..., 0] = width - 1 - points[..., 0]
    return points


class WorkingVideo:
    """A video at the working resolution: what SAM-PT's query points, tracker and SAM see. The one view every
    run uses (VOS at a long side, VIS at a short side, the demo on a video file).

    Args:
        video: has ``name``, ``num_frames``, ``frame_size`` (H, W) of its stored frames and ``frame(t)`` (a
            `datasets.video.Video`, e.g. DAVIS Full-Resolution frames, or `datasets.video_file.VideoSource`);
            `first_mask`/`first_masks` also need its ``objects`` and ``first_mask(id)``.
        longest_side, short_side, max_size: the working size (`working_shape`); none: the stored size.
        mirrored: see the video mirrored left-right, as the authors' ``flip`` option
            (``sam_pt/vos_eval/eval.py:186-188`` at SysCV/sam-pt 874ff7e): frames are resized, then mirrored;
            first masks are mirrored at their stored size, then resized (their loader resizes frames, their
            eval.py mirrors them and then resizes masks). Outputs are mirrored back by the caller (`mirror`).

    Attributes:
        num_frames: T; frame_size: (h, w) working size; source_size: (H, W) of the stored frames; scale:
            working width / stored width (the factor of pixel coordinates).
    """

    def __init__(self, video, longest_side: int | None = None, short_side: int | None = None,
                 max_size: int | None = 1333, mirrored: bool = False):
        self.video = video
        self.mirrored = bool(mirrored)
        self.name = video.name
        self.num_frames = video.num_frames
        self.source_size = tuple(int(side) for side in video.frame_size)
        self.frame_size = working_shape(*self.source_size, longest_side, short_side, max_size)
        self.scale = self.frame_size[1] / self.source_size[1]

    def frame(self, t: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB frame ``t`` at the working size; `ValueError` when the stored frame's size is not
        the video's."""
        frame = self.video.frame(t)
        if frame.shape[:2] != self.source_size:
            raise ValueError(f"video {self.name}: frame {t} is {frame.shape[1]}x{frame.shape[0]}, the video's frames "
                             f"are {self.source_size[1]}x{self.source_size[0]} (W x H); all frames need one size")
        frame = resize_frame(frame, self.frame_size)
        return mirror(frame, axis=1) if self.mirrored else frame

    def first_mask(self, object_id: int) -> np.ndarray:
        """(h, w) bool first mask of ``object_id`` (the video's first-mask source; mirrored when ``mirrored``),
        nearest-resized."""
        mask = self.video.first_mask(object_id)
        return resize_mask_nearest(mirror(mask) if self.mirrored else mask, self.frame_size)

    def first_masks(self) -> dict[int, tuple[int, np.ndarray]]:
        """object id -> (first frame, (h, w) bool mask), as `trackers.sampt.engine.VideoObjects.from_masks` takes them."""
        return {obj.id: (obj.first_frame, self.first_mask(obj.id)) for obj in self.video.objects}
