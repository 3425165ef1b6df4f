"""The point-tracker interface and its registry.

Every tracker (weight-free OpenCV ones and neural ones loading official checkpoints) implements
`PointTracker.track`; `build_point_tracker(name, checkpoint=None, **options)` builds one by name.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from infra.frames import FrameSource, as_frame_source
from trackers.registry import check_options, load_entry

# name -> "module:Class". Modules are imported only when their tracker is built, so a tracker's
# optional dependencies never slow down or break the others.
TRACKERS: dict[str, str] = {
    "lk": "trackers.point.opencv:LucasKanadeTracker",
    "flow": "trackers.point.opencv:DenseFlowTracker",
    "pips": "trackers.point.pips.tracker:PipsTracker",
    "pips2": "trackers.point.pips2.tracker:Pips2Tracker",
    "cotracker3_offline": "trackers.point.cotracker3.tracker:CoTracker3OfflineTracker",
    "cotracker3_online": "trackers.point.cotracker3.tracker:CoTracker3OnlineTracker",
    "cotracker_v1": "trackers.point.cotracker1.tracker:CoTrackerV1Tracker",
    "tapir": "trackers.point.tapir.tracker:TapirTracker",
    "bootstapir": "trackers.point.tapir.tracker:BootsTapirTracker",
    "raft": "trackers.point.raft.tracker:RaftTracker",
    "superglue": "trackers.point.superglue.tracker:SuperGlueTracker",
    "tapnet": "trackers.point.tapnet.tracker:TapNetTracker",
}


class PointTracker(ABC):
    """Tracks query points through a video.

    Subclasses declare the resolution they run at and rescale internally; inputs and outputs are always
    in pixel coordinates of the frames given to `track`.
    """

    #: whether the tracker needs a checkpoint file
    needs_checkpoint: bool = False
    #: whether the tracker chooses each frame's points itself from the objects' masks on their query frames
    #: (SuperGlue): `track` then also takes ``reference=ReferenceMasks(...)``, and a point is not one physical
    #: point across frames; `trackers.sampt.model.SamPt.track_objects` passes the masks
    uses_reference_masks: bool = False

    @abstractmethod
    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Track ``queries`` through ``frames``.

        Args:
            frames: (T, H, W, 3) uint8 RGB video, or a `infra.frames.FrameSource` (anything
                `as_frame_source` accepts). Trackers that run in windows read only the frames of the current
                window (`check_track_source`); the others read them all (`check_track_inputs`).
            queries: (N, 3) float (t, x, y): the frame index t (any frame) and pixel position (x, y) of
                each query point. Points are tracked forward and backward from their query frame.

        Returns:
            tracks: (T, N, 2) float32 pixel (x, y) of each point in each frame.
            visible: (T, N) bool, whether each point is visible (not occluded) in each frame; a point is
                visible at its query frame (except with `uses_reference_masks`: see the tracker).
        """


@dataclass(frozen=True)
class ReferenceMasks:
    """What a tracker with `PointTracker.uses_reference_masks` takes besides the queries.

    Attributes:
        masks: (M, H, W) bool, each object's mask on its query frame; the queries are M objects' P points each,
            object by object, all of an object's points on one frame.
        num_positive: the first ``num_positive`` of each object's P points are positive, the rest negative.
        seed: seeds the tracker's random choices.
    """

    masks: np.ndarray
    num_positive: int
    seed: int

    def check(self, queries: np.ndarray, frame_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) queries -> (M, H, W) bool masks and (M,) int64 query frame of each object; `ValueError`
        when the queries are not M groups of P points on one frame each or the masks are not frame-sized."""
        masks = np.asarray(self.masks, bool)
        if masks.ndim != 3 or masks.shape[1:] != tuple(frame_size) or not len(masks):
            raise ValueError(f"reference masks must be (M >= 1, H, W) with (H, W) = {tuple(frame_size)} (the "
                             f"frame size), got {masks.shape}")
        if len(queries) % len(masks):
            raise ValueError(f"{len(queries)} queries are not P points for each of the {len(masks)} masks")
        times = queries[:, 0].reshape(len(masks), -1)
        if (times != times[:, :1]).any():
            raise ValueError("each object's query points must share one query frame")
        if not 0 <= self.num_positive <= times.shape[1]:
            raise ValueError(f"num_positive must be in [0, {times.shape[1]}] (points per object), got "
                             f"{self.num_positive}")
        return masks, times[:, 0].astype(np.int64)


def check_track_source(frames, queries: np.ndarray) -> tuple[FrameSource, np.ndarray]:
    """Validate the `track` inputs; return a `FrameSource` (frames read on demand) and (N, 3) float32 queries."""
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be (T, H, W, 3) RGB, got shape {frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, got {frames.dtype}")
    source = as_frame_source(frames)
    queries = np.asarray(queries, dtype=np.float32).reshape(-1, 3) if np.size(queries) else np.zeros((0, 3), np.float32)
    if len(queries):
        t = queries[:, 0]
        last = source.num_frames - 1
        if (t < 0).any() or (t > last).any() or (t != np.round(t)).any():
            raise ValueError(f"query frame indices must be integers in [0, {last}], got {np.unique(t)}")
    return source, queries


def check_track_inputs(frames, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate the `track` inputs; return all frames as (T, H, W, 3) uint8 and (N, 3) float32 queries."""
    if isinstance(frames, np.ndarray):
        source, queries = check_track_source(frames, queries)
        return frames, queries
    source, queries = check_track_source(frames, queries)
    return source.all(), queries


def build_point_tracker(name: str, checkpoint: str | None = None, **options) -> PointTracker:
    """Build the point tracker ``name`` (see `TRACKERS`), loading ``checkpoint`` if it needs one."""
    if name not in TRACKERS:
        raise ValueError(f"unknown point tracker {name!r}; valid names: {', '.join(sorted(TRACKERS))}")
    cls = load_entry("point tracker", name, TRACKERS[name])
    check_options("point tracker", name, cls, options)
    if cls.needs_checkpoint:
        return cls(checkpoint=checkpoint, **options)
    if checkpoint is not None:
        raise ValueError(f"point tracker {name!r} is weight-free and takes no checkpoint (got {checkpoint})")
    return cls(**options)
