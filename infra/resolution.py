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
- `WorkingVideo`: a video (a `datasets.video.Video`) seen at the working size: ``frame(t)`` and ``first_mask(id)``.
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


class WorkingVideo:
    """A `Video` at the working resolution: what SAM-PT's query points, tracker and SAM see.

    Args:
        video: the dataset's video (frames at their stored size, e.g. DAVIS Full-Resolution).
        longest_side: the working size's longest side (the authors: 1024); None keeps the stored size.

    Attributes:
        num_frames: T; frame_size: (h, w) working size; source_size: (H, W) of the stored frames.
    """

    def __init__(self, video, longest_side: int | None):
        self.video = video
        self.name = video.name
        self.num_frames = video.num_frames
        self.source_size = tuple(video.frame_size)
        self.frame_size = (self.source_size if longest_side is None
                           else longest_side_shape(*self.source_size, longest_side))

    def frame(self, t: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB frame ``t`` at the working size."""
        return resize_frame(self.video.frame(t), self.frame_size)

    def first_mask(self, object_id: int) -> np.ndarray:
        """(h, w) bool first mask of ``object_id`` (the video's first-mask source), nearest-resized."""
        return resize_mask_nearest(self.video.first_mask(object_id), self.frame_size)

    def first_masks(self) -> dict[int, tuple[int, np.ndarray]]:
        """object id -> (first frame, (h, w) bool mask), the input of `trackers.sampt.model.SamPt.prepare_video`."""
        return {obj.id: (obj.first_frame, self.first_mask(obj.id)) for obj in self.video.objects}
