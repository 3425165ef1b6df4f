"""Test oracles over SAM-PT's one way to run a video (`trackers.sampt.model.SamPt.run_video`): whole-clip
results held in memory, for tests, recorders and benchmarks only (the harness itself streams frames).

- `segment_tracks`: the SAM step alone on given trajectories, the authors' ``SamPt._apply_sam_to_trajectories``
  (SysCV/sam-pt ``sam_pt/modeling/sam_pt.py``), recorded and compared in
  ``tests/trackers/sampt/test_official_sam_step.py``;
- `segment_video`: every label map, the tracks and scores of a video as one `VideoResult`;
- `collect_pass`, `segment_points_with_reinit`, `merge_directions`: a reinit pass held whole, and the
  authors' ``_forward_w_reinit`` on given query points (forward from each query frame, and on the video
  flipped in time before it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trackers.sampt.engine import Clip, VideoObjects, frame_reader
from trackers.sampt.reinit import ReinitPass


def segment_tracks(sampt, frames, tracks: np.ndarray, visible: np.ndarray, num_positive: int,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SAM step alone on given trajectories (every object from frame 0, no merge).

    Args:
        frames: (T, H, W, 3) uint8 (or anything `SamPt.run_video` accepts).
        tracks: (T, M, P, 2) float pixel (x, y); visible: (T, M, P) bool.
        num_positive: the first ``num_positive`` points of each object are positive.
        rng: the prompt-sampling stream (default ``np.random.default_rng(sampt.seed)``).

    Returns:
        masks (M, T, H, W) bool, iou (T, M) float32 (NaN where SAM was not prompted).
    """
    tracks = np.asarray(tracks, np.float32)
    num_objects, num_points = tracks.shape[1:3]
    if not 0 <= num_positive <= num_points or int(num_positive) != num_positive:
        raise ValueError(f"num_positive={num_positive!r} must be an integer in [0, {num_points}] (points per object)")
    objects = VideoObjects(list(range(1, num_objects + 1)), np.zeros(num_objects, np.int64), tracks=tracks,
                           visible=np.asarray(visible, bool), num_positive=int(num_positive))
    rng = np.random.default_rng(sampt.seed) if rng is None else rng
    run = sampt.run_video(frames, objects, rngs=[rng])
    masks = np.zeros((num_objects, run.num_frames) + tuple(run.frame_size), bool)
    for t, chosen, logits in run.object_logits():
        masks[chosen, t] = (logits > 0).numpy()
    return masks, run.iou


@dataclass
class VideoResult:
    """A whole video's result.

    Attributes:
        labels: (T, H, W) uint8 label maps with the objects' ids (0 background).
        object_ids: the objects, in the order of the per-object arrays; scores: id -> mean predicted IoU.
        iou: (T, M) float32 predicted IoU per frame (NaN where not prompted).
        query_points: (M, P, 3) float32 (t, x, y), positives first.
        tracks: (T, N, 2) float32 pixel (x, y), N = M * P points, object-major; visible: (T, N) bool.
        point_objects: (N,) object id of each point; point_positive: (N,) bool.
    """

    labels: np.ndarray
    object_ids: list[int]
    scores: dict[int, float]
    iou: np.ndarray
    query_points: np.ndarray
    tracks: np.ndarray
    visible: np.ndarray
    point_objects: np.ndarray
    point_positive: np.ndarray


def segment_video(sampt, frames, first_masks: dict, video_name: str,
                  output_size: tuple[int, int] | None = None) -> VideoResult:
    """`SamPt.run_video` from first masks (``{id: (first frame, (H, W) bool mask)}``), every label map held."""
    run = sampt.run_video(frames, VideoObjects.from_masks(first_masks), video_name)
    height, width = output_size or run.frame_size
    labels = np.zeros((run.num_frames, height, width), np.uint8)
    for t, label_map in run.label_maps(output_size):
        labels[t] = label_map
    num_frames, num_objects, num_points = run.visible.shape
    return VideoResult(
        labels=labels, object_ids=list(run.object_ids), scores=run.scores, iou=run.iou,
        query_points=run.query_points,
        tracks=run.tracks.reshape(num_frames, num_objects * num_points, 2),
        visible=run.visible.reshape(num_frames, num_objects * num_points),
        point_objects=np.repeat(np.asarray(run.object_ids), num_points),
        point_positive=np.tile(np.arange(num_points) < sampt.positive_points_per_mask, num_objects),
    )


@dataclass
class ClipPrediction:
    """Per-frame SAM output over a clip for M objects (one reinit pass, or the merge of two).

    Attributes:
        low_res_logits: (T, M, 1, 256, 256) float32 (zeros where ``has_mask`` is False).
        has_mask: (T, M) bool; predicted: (T, M) bool (SAM prompted); iou: (T, M) float32 (NaN if not).
        tracks: (T, M, P, 2) float32 (NaN where the object was not tracked); visible: (T, M, P) bool.
    """

    low_res_logits: torch.Tensor
    has_mask: np.ndarray
    predicted: np.ndarray
    iou: np.ndarray
    tracks: np.ndarray
    visible: np.ndarray


def collect_pass(reinit: ReinitPass) -> ClipPrediction:
    """The whole pass as one `ClipPrediction` (holds (T, M, 1, 256, 256) logits: for short clips)."""
    num_frames = len(reinit.clip)
    num_objects = reinit.query_points.shape[0]
    size = reinit.sampt.segmenter.low_res_size
    out = ClipPrediction(torch.zeros((num_frames, num_objects, 1, size, size)),
                         np.zeros((num_frames, num_objects), bool), np.zeros((num_frames, num_objects), bool),
                         np.full((num_frames, num_objects), np.nan, np.float32), None, None)
    for t, frame in reinit.frames():
        out.low_res_logits[t] = frame.low_res_logits
        out.has_mask[t], out.predicted[t], out.iou[t] = frame.has_mask, frame.predicted, frame.iou
    out.tracks, out.visible = reinit.tracks, reinit.visible
    return out


def segment_points_with_reinit(sampt, frames, query_points: np.ndarray,
                               rng: np.random.Generator | None = None) -> ClipPrediction:
    """Reinit on given query points, forward from each query frame and on the flipped video before it.

    Args:
        frames: (T, H, W, 3) uint8 or anything `SamPt.run_video` accepts.
        query_points: (M, P, 3) float (t, x, y), positives first (P = positive + negative per mask).

    Returns:
        `ClipPrediction` over the whole video (the authors' ``_forward_w_reinit``).
    """
    frame_at, num_frames, _ = frame_reader(frames)
    query_points = np.asarray(query_points, np.float32)
    rng = np.random.default_rng(sampt.seed) if rng is None else rng
    forward = collect_pass(ReinitPass(sampt, Clip(frame_at, num_frames, sampt.segmenter), query_points, rng))
    flipped_queries = query_points.copy()
    flipped_queries[:, :, 0] = num_frames - 1 - query_points[:, :, 0]
    backward = collect_pass(ReinitPass(sampt, Clip(frame_at, num_frames, sampt.segmenter, flipped=True),
                                       flipped_queries, rng))
    return merge_directions(forward, backward, query_points[:, 0, 0].astype(np.int64))


def merge_directions(forward: ClipPrediction, backward: ClipPrediction, first_frames: np.ndarray) -> ClipPrediction:
    """Frames >= each object's query frame from ``forward``, earlier ones from ``backward`` (flipped back).

    Args:
        forward: pass on the video; backward: pass on the video flipped in time (clip-local, flipped).
        first_frames: (M,) int64 query frame of each object (video time).
    """
    num_frames = forward.has_mask.shape[0]
    flip = np.arange(num_frames)[::-1].copy()
    merged = ClipPrediction(forward.low_res_logits.clone(), forward.has_mask.copy(), forward.predicted.copy(),
                            forward.iou.copy(), forward.tracks.copy(), forward.visible.copy())
    for obj, t0 in enumerate(first_frames):
        earlier = np.arange(int(t0))
        source = flip[earlier]
        merged.low_res_logits[earlier, obj] = backward.low_res_logits[source, obj]
        merged.has_mask[earlier, obj] = backward.has_mask[source, obj]
        merged.predicted[earlier, obj] = backward.predicted[source, obj]
        merged.iou[earlier, obj] = backward.iou[source, obj]
        merged.tracks[earlier, obj] = backward.tracks[source, obj]
        merged.visible[earlier, obj] = backward.visible[source, obj]
    return merged
