"""A straightforward SAM-PT video path, kept as the baseline of `scripts/bench/e2e.py` and as a test oracle.

It does what `experiments.run.vos.predict_video` does for one video (SAM-PT's evaluation path, paper
Sec. 3.2 and 4.1: frames at the working resolution, query points, point tracking, the SAM step, the merge
into label maps at the annotation size, indexed PNGs), the plain way, without any of our economies:

- every frame is decoded and resized up front and held in memory for the whole video;
- the SAM step is `reference.sampt.reference_segment_tracks`: one decoder call per object per pass, the
  full-resolution logits after every pass (the refinement box comes from them), and a float64
  (M, T, h, w) array of full-resolution logits for the whole clip, as the authors keep it;
- the label maps of the whole clip are made from that array at the end, then all PNGs are written;
- PIPS is chained as SAM-PT's PIPS wrapper chains it (`reference.pips.ReferencePips`: every call encodes
  its window's 8 frames, a query window is run twice, the first time for the query points' features).

Query points are SAM-PT's own (`SamPt.select_query_points`) and the point tracker is ``point_tracker`` (for
PIPS, the same network run by `ReferencePips`): the same random stream per video and the same tracks, so the
label maps must equal ours. The stages are module-level functions so that a benchmark can time each one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from datasets.png import write_label_png
from datasets.video import Video
from infra.resolution import WorkingVideo
from reference.sampt import reference_segment_tracks
from reference.pips import ReferencePips
from trackers.point.pips.tracker import PipsTracker

#: logit of a given first mask ("certainly this object / certainly not"), as the authors' evaluation
CERTAIN_LOGIT = 1e8

#: SAM-PT knobs this reference implements only at these values (name -> supported value)
SUPPORTED_KNOBS = {
    "use_point_reinit": False,
    "use_patch_matching_filtering": False,
    "max_other_objects_positive_points": None,
    "empty_mask_without_positive_point": False,
    "untransformed_refinement_box": False,
    "use_first_mask_on_query_frame": True,
    "decoder_batching": "by-prompt-length",
}


def check_knobs(sampt) -> None:
    """Raise ValueError when ``sampt`` (a `trackers.sampt.model.SamPt`) uses a knob this reference lacks."""
    for name, value in SUPPORTED_KNOBS.items():
        if getattr(sampt, name) != value:
            raise ValueError(f"reference.pipeline implements {name}={value!r} only; the model has "
                             f"{name}={getattr(sampt, name)!r} (set model.{name}={value} to compare)")


def decode_frames(video: Video, longest_side: int | None) -> tuple[np.ndarray, dict[int, tuple[int, np.ndarray]]]:
    """All frames at the working size, (T, h, w, 3) uint8, and object id -> (first frame, (h, w) bool mask)."""
    working = WorkingVideo(video, longest_side)
    frames = np.stack([working.frame(t) for t in range(working.num_frames)])
    return frames, working.first_masks()


def choose_query_points(sampt, frames: np.ndarray, first_masks: dict, video_name: str
                        ) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(object ids, (M,) first frames, (M, P, 3) float32 (t, x, y) query points), objects in id order."""
    from trackers.sampt.query_points import video_rng

    rng = video_rng(sampt.seed, video_name)
    object_ids = sorted(first_masks)
    first_frames = np.array([first_masks[obj][0] for obj in object_ids], np.int64)
    query_points = np.stack([
        sampt.select_query_points(frames[t0], first_masks[obj][1], t0, rng, video=video_name, object_id=obj)
        for obj, t0 in zip(object_ids, first_frames)
    ])
    return object_ids, first_frames, query_points


def straightforward_tracker(tracker):
    """The point tracker the reference path runs: `reference.pips.ReferencePips` over the same network and
    settings for PIPS, ``tracker`` itself otherwise."""
    if type(tracker) is not PipsTracker:
        return tracker
    return ReferencePips(tracker.net, tracker.iters, tracker.visibility_threshold,
                         tracker.visibility_threshold_step, tracker.visible_threshold)


def track_points(sampt, frames: np.ndarray, query_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Track every query point through all frames: (T, M, P, 2) float32 pixel (x, y), (T, M, P) bool visible
    (the tracker's visibility and the authors' border rule: not within ``border_margin`` of the border)."""
    num_objects, num_points, _ = query_points.shape
    tracker = straightforward_tracker(sampt.point_tracker)
    tracks, visible = tracker.track(frames, query_points.reshape(-1, 3).astype(np.float32))
    tracks = np.asarray(tracks, np.float32)
    height, width = frames.shape[1:3]
    x, y, margin = tracks[..., 0] / width, tracks[..., 1] / height, sampt.border_margin
    visible = np.asarray(visible, bool) & (x >= margin) & (y >= margin) & (x <= 1 - margin) & (y <= 1 - margin)
    num_frames = len(frames)
    return tracks.reshape(num_frames, num_objects, num_points, 2), visible.reshape(num_frames, num_objects, num_points)


def sam_logits(sampt, frames: np.ndarray, tracks: np.ndarray, visible: np.ndarray, first_frames: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The SAM step: float64 (M, T, h, w) full-resolution logits (-inf where no mask) and (T, M) bool has-mask."""
    logits, iou = reference_segment_tracks(
        sampt.segmenter, frames, tracks, visible, sampt.positive_points_per_mask,
        sampt.iterative_refinement_iterations, sampt.sam_iou_threshold,
        sampt.add_other_objects_positive_points_as_negative_points, return_logits=True, first_frames=first_frames)
    return logits, iou >= sampt.sam_iou_threshold  # NaN (not prompted) compares False


def merge_labels(logits: np.ndarray, has_mask: np.ndarray, object_ids: list[int], first_frames: np.ndarray,
                 first_masks: dict, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W) uint8 label maps at ``size``: per frame, each object's logits bilinearly resized (float32),
    its given mask (+-1e8, nearest-resized) on its first frame, a zero background logit, softmax, argmax."""
    num_objects, num_frames = logits.shape[:2]
    lookup = torch.tensor([0] + list(object_ids), dtype=torch.uint8)
    labels = np.zeros((num_frames, *size), np.uint8)
    for t in range(num_frames):
        layers = [torch.zeros(size)]
        for k in range(num_objects):
            if first_frames[k] == t:
                mask = torch.from_numpy(first_masks[object_ids[k]][1])[None, None].float()
                mask = F.interpolate(mask, size, mode="nearest")[0, 0] > 0
                layers.append(torch.where(mask, CERTAIN_LOGIT, -CERTAIN_LOGIT).float())
            elif first_frames[k] < t and has_mask[t, k]:
                full = torch.from_numpy(logits[k, t]).float()[None, None]
                layers.append(F.interpolate(full, size, mode="bilinear", align_corners=False)[0, 0])
            else:  # no mask: takes no part (a softmax weight of exactly 0)
                layers.append(torch.full(size, -torch.inf))
        winner = torch.softmax(torch.stack(layers), dim=0).argmax(dim=0)
        labels[t] = lookup[winner].numpy()
    return labels


def write_pngs(labels: np.ndarray, video: Video, out_dir: Path) -> None:
    """Indexed PNGs ``out_dir/<frame name>.png`` for the frames the dataset asks for."""
    for t in video.frames_to_write:
        write_label_png(Path(out_dir) / f"{video.frame_names[t]}.png", labels[t])


def reference_predict_video(sampt, video: Video, out_dir: Path, longest_side: int | None = None) -> np.ndarray:
    """SAM-PT on one video the straightforward way; writes its PNGs into ``out_dir`` and returns the
    (T, H, W) uint8 label maps (H, W = the annotation size ``video.size``)."""
    check_knobs(sampt)
    frames, first_masks = decode_frames(video, longest_side)
    object_ids, first_frames, query_points = choose_query_points(sampt, frames, first_masks, video.name)
    tracks, visible = track_points(sampt, frames, query_points)
    logits, has_mask = sam_logits(sampt, frames, tracks, visible, first_frames)
    labels = merge_labels(logits, has_mask, object_ids, first_frames, first_masks, tuple(video.size))
    write_pngs(labels, video, out_dir)
    return labels
