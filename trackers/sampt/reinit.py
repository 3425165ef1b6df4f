"""SAM-PT-reinit: periodic re-initialisation of the query points from SAM's masks (paper, Appendix A).

One pass over a clip (the video, or the video flipped in time for frames before the query frames):

- objects whose query frame is ``start`` are tracked on frames ``[start, start + tracker_horizon)``; their
  masks are predicted on ``[start, start + reinit_horizon)`` (other objects' positive points serve as
  negatives only among the objects tracked together);
- a frame ``start + 1 + k`` is chosen per object from the mask areas of frames ``start + 1 ...`` (areas
  <= 25 px, and the first ``reinit_horizon // 4`` of those frames when there are more, are not
  candidates) by the variant:
  (A) ``reinit-on-horizon-and-sync-masks``: the horizon's last frame, or the frame before the next other
      object's query frame when that is earlier;
  (B) ``reinit-at-median-of-area-diff``: the frame whose area is the median of the candidates' areas;
  (C) ``reinit-on-similar-mask-area``: the candidate whose area is closest to the mask area at ``start``;
  (D) ``reinit-on-similar-mask-area-and-sync-masks``: one frame for all objects minimising the sum of
      relative area differences, favouring the frame before the next other object's query frame;
- new query points are sampled from the mask at the chosen frame (see below for tiny and empty masks).

The chosen mask's size, as the authors' code (`sam_pt/modeling/sam_pt.py` at 874ff7e,
``_forward_w_reinit_inner``) handles it, is the default (``reinit_tiny_masks="authors"``): their validity check compares the area after
setting areas <= 25 px to NaN with ``<= 0``, which is never true, so no object ever stops: a 1-25 px mask
is re-sampled like any other, and an empty one (SAM's IoU below ``sam_iou_threshold`` empties a mask) gives
positive points at (0, 0), as does a mask covering the whole frame for its negative points (their samplers
return zeros for an empty region, ``sam_pt/utils/query_points.py``); the points at (0, 0) are tracked on,
and are invisible while the border rule holds them. ``reinit_tiny_masks="stop"`` applies the paper's rule
instead (Appendix A: a mask of <= 25 px stops the object: empty masks for the rest of the clip). Variant
D's sync bonus is applied only when the next query frame lies inside the horizon (their code indexes past
the end otherwise). Every variant gives the label maps of the authors' evaluation, on every pixel, where
SAM's IoU threshold rejects masks and reinit steps start from empty masks:
``tests/experiments/run/test_authors_reinit_path.py`` (recorded with ``scripts/record/authors_reinit.py``).
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from trackers.sampt.engine import PromptGroup, frame_loop
from trackers.sampt.knobs import REINIT_VARIANTS
from trackers.sampt.prompting import FramePrediction

#: masks with at most this many pixels are not reinitialised from (paper, Appendix A)
MAX_INVALID_MASK_AREA = 25
#: relative-area-difference stand-in for a frame without a usable mask (variant D, as the authors)
MISSING_AREA_DIFF = 720.0
#: bonus subtracted for the frame that syncs with the next object's query frame (variant D, as the authors)
SYNC_BONUS = 36.0

LOG = logging.getLogger(__name__)


def choose_reinit_offsets(variant: str, areas: np.ndarray, start_areas: np.ndarray, horizon: int,
                          sync_offset: int | None) -> np.ndarray:
    """Pick the reinit frame of each object tracked from ``start``.

    Args:
        variant: one of `REINIT_VARIANTS`.
        areas: (K, L) full-resolution mask areas of frames ``start + 1 ... start + L`` (L = horizon - 1).
        start_areas: (K,) mask areas at ``start``.
        horizon: the reinit horizon h.
        sync_offset: offset (into ``areas``) of the frame before the next other object's query frame,
            or None when no object's query frame lies after ``start``.

    Returns:
        (K,) int64 offsets into ``areas`` (frame ``start + 1 + offset``).
    """
    area = torch.as_tensor(np.asarray(areas, np.float32)).clone()
    area[area <= MAX_INVALID_MASK_AREA] = torch.nan
    if horizon // 4 < area.shape[1]:
        area[:, :horizon // 4] = torch.nan
    count = area.shape[0]
    if variant == "reinit-on-horizon-and-sync-masks":
        offset = horizon - 2
        if sync_offset is not None:
            offset = min(offset, sync_offset)
        return np.full(count, offset, np.int64)
    if variant == "reinit-at-median-of-area-diff":
        return torch.nanmedian(area, dim=1).indices.numpy().astype(np.int64)
    target = torch.as_tensor(np.asarray(start_areas, np.float32))[:, None]
    if variant == "reinit-on-similar-mask-area":
        diff = torch.abs(area - target)
        diff[diff.isnan()] = torch.inf
        return diff.argmin(dim=1).numpy().astype(np.int64)
    if variant == "reinit-on-similar-mask-area-and-sync-masks":
        diff = torch.abs(area - target) / target
        diff[diff.isnan()] = MISSING_AREA_DIFF
        per_frame = diff.sum(dim=0)
        if sync_offset is not None and 0 <= sync_offset < len(per_frame):
            per_frame[sync_offset] -= SYNC_BONUS
        return np.full(count, int(per_frame.argmin()), np.int64)
    raise ValueError(f"unknown reinit variant {variant!r}; valid variants: {', '.join(REINIT_VARIANTS)}")


class ReinitPass:
    """One reinit pass over ``clip`` (a `trackers.sampt.engine.Clip`, possibly flipped), streamed frame by frame.

    Windows run in order of their start frame; once the window(s) starting at frame s are done, no later
    window touches frames <= s (later windows start after s), so those frames are final and `frames`
    yields them. Only the frames of the open windows (one horizon) keep low-res logits.

    Args:
        sampt: the `trackers.sampt.model.SamPt` (its knobs, tracker, segmenter and prompting).
        clip: frames by clip-local index with an embedding cache.
        query_points: (M, P, 3) float (t, x, y) in clip-local time, positives first.

    Attributes:
        tracks: (T, M, P, 2) float32 (NaN where the object was not tracked); visible: (T, M, P) bool.
            Filled as the pass runs; complete once `frames` is exhausted.
    """

    def __init__(self, sampt, clip, query_points: np.ndarray, rng: np.random.Generator):
        self.sampt, self.clip, self.rng = sampt, clip, rng
        self.query_points = np.asarray(query_points, np.float32)
        num_objects, num_points, _ = self.query_points.shape
        self.tracks = np.full((len(clip), num_objects, num_points, 2), np.nan, np.float32)
        self.visible = np.zeros((len(clip), num_objects, num_points), bool)

    @property
    def size_embedding(self):
        """The frame sizes as an `Embedding` without features (for `Segmenter.upscale`)."""
        return self.clip.size_embedding

    def _empty(self) -> FramePrediction:
        count, size = self.query_points.shape[0], self.sampt.segmenter.low_res_size
        return FramePrediction(torch.zeros((count, 1, size, size)), np.zeros(count, bool), np.zeros(count, bool),
                               np.full(count, np.nan, np.float32))

    def frames(self):
        """Yield (t, `FramePrediction` of the M objects) for clip frames t = 0 ... T - 1 in order; frames
        before an object's query frame (or after it stopped) have no mask and are not predicted for it."""
        num_frames = len(self.clip)
        num_objects = self.query_points.shape[0]
        need_areas = self.sampt.reinit_variant != "reinit-on-horizon-and-sync-masks"
        current = self.query_points.copy()
        timesteps = current[:, 0, 0].astype(np.int64)
        stopped = np.zeros(num_objects, bool)
        pending: dict[int, object] = {}  # frame -> FramePrediction of all objects, frames of open windows
        done = 0  # frames < done are yielded
        first_start = int(timesteps.min()) if num_objects else num_frames
        for start in range(first_start, num_frames):
            tracked = np.flatnonzero((timesteps == start) & ~stopped)
            if len(tracked):
                self._window(start, tracked, current, timesteps, stopped, pending, need_areas)
            while done <= start:
                yield done, pending.pop(done, None) or self._empty()
                done += 1
        while done < num_frames:
            yield done, pending.pop(done, None) or self._empty()
            done += 1

    def _window(self, start: int, tracked: np.ndarray, current: np.ndarray, timesteps: np.ndarray,
                stopped: np.ndarray, pending: dict, need_areas: bool) -> None:
        """Track, segment and reinitialise the objects ``tracked`` from frame ``start``."""
        sampt, clip, rng = self.sampt, self.clip, self.rng
        num_frames = len(clip)
        horizon, tracker_horizon = sampt.reinit_horizon, sampt.reinit_point_tracker_horizon
        end = min(start + horizon, num_frames)
        end_tracker = min(start + tracker_horizon, num_frames)
        clip.retain(start, end)
        queries = current[tracked].copy()
        queries[:, :, 0] -= start
        tracks, visible = sampt.track_objects(clip.window(start, end_tracker), queries)
        tracks, visible = tracks[:end - start], visible[:end - start]
        areas = np.zeros((end - start, len(tracked)), np.int64)
        group = PromptGroup(tracks, visible, rng, start=start)
        for step in frame_loop(sampt, clip, [group], range(start, end)):
            frame = step.predictions[0]
            merged = pending.get(step.t) or self._empty()
            merged.low_res_logits[tracked] = frame.low_res_logits
            merged.has_mask[tracked] = frame.has_mask
            merged.predicted[tracked] = frame.predicted
            merged.iou[tracked] = frame.iou
            pending[step.t] = merged
            if need_areas:
                areas[step.t - start] = sampt.mask_areas(step.embedding, frame)
        self.tracks[start:end, tracked] = tracks
        self.visible[start:end, tracked] = visible
        if end == num_frames:
            return
        later = timesteps[timesteps > start]
        sync_offset = int(later.min()) - start - 1 if len(later) else None
        chosen = choose_reinit_offsets(sampt.reinit_variant, areas[1:].T, areas[0], horizon, sync_offset)
        if not need_areas:  # variant A chooses without areas: measure only the chosen frame
            t_chosen = start + 1 + int(chosen[0])
            areas[1 + chosen[0]] = sampt.mask_areas(clip.embedding(t_chosen), _objects(pending[t_chosen], tracked))
        for k, obj in enumerate(tracked):
            t_new = start + 1 + int(chosen[k])
            area = areas[1 + chosen[k], k]
            if sampt.reinit_tiny_masks == "stop" and area <= MAX_INVALID_MASK_AREA:
                LOG.info("reinit: object %d stops at frame %d (mask of %d px at frame %d)", obj, end, area, t_new)
                stopped[obj] = True
                timesteps[obj] = num_frames
                continue
            mask = _reinit_mask(sampt, clip, pending[t_new], obj, t_new)
            current[obj] = sampt.select_query_points(clip.frame(t_new), mask, t_new, rng, zeros_for_empty=True)
            timesteps[obj] = t_new


def _reinit_mask(sampt, clip, frame: FramePrediction, obj: int, t: int) -> np.ndarray:
    """(H, W) bool mask of object ``obj`` on clip frame ``t`` to sample new query points from: empty where SAM's
    mask was rejected (IoU below ``sam_iou_threshold``) or not predicted, as the authors' code, whose rejected
    masks are -inf logits before reinit reads them (``sam_pt/modeling/sam_pt.py`` at 874ff7e,
    ``predict_mask`` and ``_forward_w_reinit_inner``)."""
    if not frame.has_mask[obj]:
        return np.zeros(clip.frame(t).shape[:2], bool)
    return sampt.full_mask(clip.embedding(t), frame.low_res_logits[obj])


def _objects(frame: FramePrediction, objects: np.ndarray) -> FramePrediction:
    """The `FramePrediction` of ``objects`` only."""
    return FramePrediction(frame.low_res_logits[objects], frame.has_mask[objects], frame.predicted[objects],
                           frame.iou[objects])
