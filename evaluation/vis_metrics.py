"""Class-agnostic YouTube-VIS AP/AR (``docs/protocol.md`` section 5), as UVO scores video instance tracks.

Equal (to floating-point rounding) to the official YouTube-VIS cocoapi evaluator run the UVO way: every
detection gets category 1, ``useCats`` off, ground truth pooled over the GT category list
(``tests/evaluation/test_official_vis.py``: all 12 numbers of SAM-PT's copy of the evaluator, recorded on two seeded
pairs, to 1e-12).

Pipeline (one `VideoTracks` per video, videos in increasing video id order):

1. `spatiotemporal_ious`: IoU of every detection track with every GT track, (D, G): per frame the
   intersections of all present detections with all present GT masks come from one
   ``pycocotools.mask.iou`` call; I and U are summed over frames (a frame where only one track is present
   adds its area to U, a frame where neither is adds nothing); IoU = I / U, 0 where U = 0.
2. `match_video`: greedy COCO matching of the score-sorted detections (at most 100 per video), for all
   4 area ranges x 10 IoU thresholds at once.
3. `accumulate`: precision (T, R, A, M) and recall (T, A, M) over all videos, -1 where no GT counts.
4. `summarize`: the 12 numbers of the official ``stats`` array, keyed by `STAT_NAMES`.

Track area (``avg_area``) = mean of the per-frame areas that are neither null nor 0 (0 when none):
GT from the json ``areas`` field, detections from their RLE areas. Area ranges apply to ``avg_area``,
bounds inclusive. Crowd GT is always ignored; GT outside the area range is ignored; an unmatched
detection outside the area range is ignored.

Official quirk kept: a detection matched to a GT track whose json id is 0 counts as unmatched (the
official code stores the matched GT id and tests it for non-zero).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from pycocotools import mask as mask_utils

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {
    "all": (0.0, 1e5 ** 2),
    "small": (0.0, 128.0 ** 2),
    "medium": (128.0 ** 2, 256.0 ** 2),
    "large": (256.0 ** 2, 1e5 ** 2),
}
AREA_NAMES = tuple(AREA_RANGES)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
EPS = np.spacing(1)


def track_area(areas: Sequence) -> float:
    """``avg_area`` of a track: mean of its per-frame areas that are neither None nor 0 (0.0 if none)."""
    kept = [a for a in areas if a]
    return float(np.array(kept).mean()) if kept else 0.0


@dataclass
class VideoTracks:
    """The tracks of one video, ready for scoring.

    Attributes:
        video_id: json video id.
        num_frames: T.
        gt_segmentations: G lists of T entries: a pycocotools RLE dict (compressed counts) or None (absent).
        gt_areas: (G,) float64 ``avg_area`` of each GT track (from the json ``areas``).
        gt_crowd: (G,) bool ``iscrowd``.
        gt_ids: (G,) int64 json annotation ids.
        det_segmentations: D lists of T entries (RLE dict or None), in results-file order.
        det_scores: (D,) float64 scores.
    """

    video_id: int
    num_frames: int
    gt_segmentations: list[list] = field(default_factory=list, repr=False)
    gt_areas: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gt_crowd: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    gt_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    det_segmentations: list[list] = field(default_factory=list, repr=False)
    det_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


def frame_areas(tracks: list[list], num_frames: int) -> np.ndarray:
    """(N, T) int64 RLE area of every track (N lists of T RLE dicts or None) on every frame, 0 where absent."""
    areas = np.zeros((len(tracks), num_frames), dtype=np.int64)
    where = [(n, t) for n, track in enumerate(tracks) for t, rle in enumerate(track) if rle is not None]
    if where:
        rows, cols = np.array(where).T
        areas[rows, cols] = rle_areas([tracks[n][t] for n, t in where])
    return areas


AREA_CHUNK = 255  # pycocotools' ``area`` builds a uint8 array of the list length: > 255 overflows on numpy 2


def rle_areas(rles: list) -> np.ndarray:
    """(N,) int64 pixel count of each RLE dict, via ``pycocotools.mask.area`` in chunks of 255."""
    if not rles:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.asarray(mask_utils.area(rles[i:i + AREA_CHUNK]), dtype=np.int64)
                           for i in range(0, len(rles), AREA_CHUNK)])


def track_frame_areas(track: list) -> list:
    """Per-frame RLE areas of one track (list of T RLE dicts or None) -> T ints, None where absent (as the
    official ``loadRes`` computes a detection's ``areas``)."""
    present = [rle for rle in track if rle is not None]
    values = iter(rle_areas(present).tolist())
    return [next(values) if rle is not None else None for rle in track]


def spatiotemporal_ious(
    det_tracks: list[list], gt_tracks: list[list], num_frames: int,
    det_area: np.ndarray | None = None, gt_area: np.ndarray | None = None,
) -> np.ndarray:
    """Spatio-temporal IoU of every detection track with every GT track.

    Args:
        det_tracks: D lists of ``num_frames`` RLE dicts or None (None = absent on that frame).
        gt_tracks: G lists of ``num_frames`` RLE dicts or None.
        det_area, gt_area: optional (D, T) / (G, T) per-frame areas (`frame_areas`), computed when None.
    Returns:
        (D, G) float64: sum over frames of |d & g| / sum over frames of |d | g| (0 where the union is 0).

    Per frame, ``pycocotools.mask.iou`` with every GT marked crowd gives |d & g| / |d| for all present
    pairs at once; the intersection is recovered exactly as round(ratio * |d|).
    """
    num_det, num_gt = len(det_tracks), len(gt_tracks)
    if num_det == 0 or num_gt == 0:
        return np.zeros((num_det, num_gt))
    det_area = frame_areas(det_tracks, num_frames) if det_area is None else det_area
    gt_area = frame_areas(gt_tracks, num_frames) if gt_area is None else gt_area
    inter = np.zeros((num_det, num_gt), dtype=np.int64)
    for t in range(num_frames):
        dets = np.flatnonzero(det_area[:, t] > 0)  # absent tracks have area 0, as have empty masks
        gts = np.flatnonzero(gt_area[:, t] > 0)
        if dets.size == 0 or gts.size == 0:
            continue
        ratio = np.asarray(mask_utils.iou([det_tracks[d][t] for d in dets], [gt_tracks[g][t] for g in gts],
                                          [1] * len(gts)), dtype=np.float64).reshape(len(dets), len(gts))
        if (ratio < 0).any():
            raise ValueError(f"frame {t}: detection and GT masks differ in size")
        inter[np.ix_(dets, gts)] += np.rint(ratio * det_area[dets, t][:, None]).astype(np.int64)
    union = det_area.sum(axis=1)[:, None] + gt_area.sum(axis=1)[None, :] - inter
    ious = np.zeros((num_det, num_gt))
    np.divide(inter, union, out=ious, where=union > 0)
    return ious


def score_order(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` (N,) highest first, ties in input order (stable, like mergesort)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _last_argmax(values: np.ndarray) -> np.ndarray:
    """(K,) column of the last maximum of each row of (K, G) ``values``."""
    return values.shape[1] - 1 - np.argmax(values[:, ::-1], axis=1)


def match_video(
    ious: np.ndarray, gt_ignore: np.ndarray, gt_crowd: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Greedy COCO matching, for K (area range, IoU threshold) settings at once.

    Args:
        ious: (D, G) IoUs, detections already in score order (highest first).
        gt_ignore: (K, G) bool, GT ignored in setting k (crowd or outside the area range).
        gt_crowd: (G,) bool; crowd GT may be matched by several detections.
        thresholds: (K,) IoU threshold of each setting.
    Returns:
        (K, D) int64: the GT column matched by each detection, -1 where unmatched.

    Each detection in turn takes, among the GT still free (crowd GT stays free) with IoU >= threshold
    (capped at 1 - 1e-10), the non-ignored one with the highest IoU, or when there is none the ignored
    one with the highest IoU; on equal IoU the later GT in input order wins (as the official scan does).
    """
    num_det, num_gt = ious.shape
    num_settings = len(thresholds)
    matched = np.full((num_settings, num_det), -1, dtype=np.int64)
    if num_det == 0 or num_gt == 0:
        return matched
    limit = np.minimum(np.asarray(thresholds, dtype=np.float64), 1 - 1e-10)[:, None]
    taken = np.zeros((num_settings, num_gt), dtype=bool)
    rows = np.arange(num_settings)
    for d in range(num_det):
        candidate = ~(taken & ~gt_crowd[None, :]) & (ious[d][None, :] >= limit)
        regular = candidate & ~gt_ignore
        use_regular = regular.any(axis=1)
        chosen = np.where(use_regular[:, None], regular, candidate & gt_ignore)
        found = chosen.any(axis=1)
        if not found.any():
            continue
        best = _last_argmax(np.where(chosen, ious[d][None, :], -1.0))
        matched[found, d] = best[found]
        taken[rows[found], best[found]] = True
    return matched


@dataclass
class VideoEvaluation:
    """Matching result of one video for every area range (the official ``evalImgs`` entries).

    Attributes:
        scores: (D,) float64 detection scores, highest first (at most 100).
        matched: (A, T, D) bool, detection matched (to a GT with non-zero id) at threshold t.
        ignored: (A, T, D) bool, detection ignored.
        gt_ignored: (A, G) bool.
    """

    scores: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray
    gt_ignored: np.ndarray


def evaluate_video(video: VideoTracks, max_det: int = MAX_DETS[-1]) -> VideoEvaluation | None:
    """IoUs and matching of one video for all area ranges; None when it has neither GT nor detections."""
    num_gt = len(video.gt_segmentations)
    if num_gt == 0 and len(video.det_segmentations) == 0:
        return None
    order = score_order(video.det_scores)[:max_det]
    det_tracks = [video.det_segmentations[i] for i in order]
    scores = np.asarray(video.det_scores, dtype=np.float64)[order]
    det_frame_areas = frame_areas(det_tracks, video.num_frames)
    counted = (det_frame_areas > 0).sum(axis=1)  # avg_area: mean over non-null, non-zero frame areas
    det_areas = np.zeros(len(det_tracks))
    np.divide(det_frame_areas.sum(axis=1), counted, out=det_areas, where=counted > 0)
    ious = spatiotemporal_ious(det_tracks, video.gt_segmentations, video.num_frames, det_area=det_frame_areas)
    bounds = np.array([AREA_RANGES[name] for name in AREA_NAMES])  # (A, 2)
    gt_areas = np.asarray(video.gt_areas, dtype=np.float64)
    gt_crowd = np.asarray(video.gt_crowd, dtype=bool)
    gt_ignored = gt_crowd[None, :] | (gt_areas[None, :] < bounds[:, :1]) | (gt_areas[None, :] > bounds[:, 1:])
    num_thr, num_area = len(IOU_THRESHOLDS), len(AREA_NAMES)
    settings_ignore = np.repeat(gt_ignored, num_thr, axis=0)  # (A*T, G), row a*T + t
    thresholds = np.tile(IOU_THRESHOLDS, num_area)
    columns = match_video(ious, settings_ignore, gt_crowd, thresholds).reshape(num_area, num_thr, -1)
    has_match = columns >= 0
    safe = np.where(has_match, columns, 0)
    if num_gt:
        matched = has_match & (np.asarray(video.gt_ids, dtype=np.int64)[safe] != 0)  # official id-0 quirk
        ignored = has_match & gt_ignored[np.arange(num_area)[:, None, None], safe]  # matched to an ignored GT
    else:
        matched = ignored = has_match
    outside = (det_areas[None, :] < bounds[:, :1]) | (det_areas[None, :] > bounds[:, 1:])  # (A, D)
    ignored = ignored | (~matched & outside[:, None, :])
    return VideoEvaluation(scores=scores, matched=matched, ignored=ignored, gt_ignored=gt_ignored)


def accumulate(evaluations: Sequence[VideoEvaluation | None]) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall over all videos (videos in increasing video id order).

    Returns:
        precision: (T, R, A, M) float64, -1 where no non-ignored GT exists for (area, maxDets).
        recall: (T, A, M) float64, final recall, -1 likewise.
    """
    evaluations = [e for e in evaluations if e is not None]
    num_thr, num_rec, num_area, num_max = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), len(AREA_NAMES), len(MAX_DETS)
    precision = -np.ones((num_thr, num_rec, num_area, num_max))
    recall = -np.ones((num_thr, num_area, num_max))
    if not evaluations:
        return precision, recall
    for a in range(num_area):
        num_positive = int(sum(np.count_nonzero(~e.gt_ignored[a]) for e in evaluations))
        if num_positive == 0:
            continue
        for m, max_det in enumerate(MAX_DETS):
            scores = np.concatenate([e.scores[:max_det] for e in evaluations])
            order = np.argsort(-scores, kind="stable")
            matched = np.concatenate([e.matched[a][:, :max_det] for e in evaluations], axis=1)[:, order]
            ignored = np.concatenate([e.ignored[a][:, :max_det] for e in evaluations], axis=1)[:, order]
            tp_sum = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
            fp_sum = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
            num_det = tp_sum.shape[1]
            if num_det == 0:
                recall[:, a, m] = 0.0
                precision[:, :, a, m] = 0.0
                continue
            rc = tp_sum / num_positive
            pr = tp_sum / (fp_sum + tp_sum + EPS)
            recall[:, a, m] = rc[:, -1]
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # non-increasing from the right
            for t in range(num_thr):
                inds = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                inside = inds < num_det
                precision[t, :, a, m] = np.where(inside, pr[t, np.minimum(inds, num_det - 1)], 0.0)
    return precision, recall


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """The 12 official ``stats`` entries, keyed by `STAT_NAMES` (-1 where nothing counts).

    Args:
        precision: (T, R, A, M); recall: (T, A, M) from `accumulate`.
    """
    area = {name: i for i, name in enumerate(AREA_NAMES)}
    last = len(MAX_DETS) - 1

    def ap(iou: float | None = None, area_name: str = "all", m: int = last) -> float:
        s = precision if iou is None else precision[np.where(IOU_THRESHOLDS == iou)[0]]
        return _mean_valid(s[:, :, area[area_name], m])

    def ar(area_name: str = "all", m: int = last) -> float:
        return _mean_valid(recall[:, area[area_name], m])

    values = [
        ap(m=MAX_DETS.index(100)),  # stats[0] is hard-wired to maxDets == 100 in the official code
        ap(0.5), ap(0.75), ap(area_name="small"), ap(area_name="medium"), ap(area_name="large"),
        ar(m=0), ar(m=1), ar(m=2), ar("small"), ar("medium"), ar("large"),
    ]
    return dict(zip(STAT_NAMES, values))


def precision_recall(videos: Sequence[VideoTracks]) -> tuple[np.ndarray, np.ndarray]:
    """`accumulate`'s precision (T, R, A, M) and recall (T, A, M) for ``videos`` (increasing ``video_id``)."""
    ordered = sorted(videos, key=lambda v: v.video_id)
    with warnings.catch_warnings():  # pycocotools' numpy-2 copy-keyword DeprecationWarning
        warnings.simplefilter("ignore", DeprecationWarning)
        evaluations = [evaluate_video(video) for video in ordered]
    return accumulate(evaluations)


def evaluate_tracks(videos: Sequence[VideoTracks]) -> dict[str, float]:
    """The 12 class-agnostic VIS numbers for ``videos`` (scored in increasing ``video_id`` order)."""
    return summarize(*precision_recall(videos))
