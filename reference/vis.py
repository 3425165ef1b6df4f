"""Straightforward pair-by-pair spatio-temporal IoU (the baseline of ``scripts/bench/vis.py`` and a test
oracle for `evaluation.vis_metrics.spatiotemporal_ious`): one pycocotools ``merge``/``area`` per pair and
frame, in plain Python loops."""
from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def track_pair_iou(det_track: list, gt_track: list) -> float:
    """IoU of one detection track and one GT track (lists of RLE dicts or None, one per frame).

    Frames where both are present add |d & g| to I and |d | g| to U; frames where one is present add its
    area to U; frames where neither is present are skipped. Returns I / U, or 0.0 when U == 0.
    """
    if len(det_track) != len(gt_track):
        raise ValueError(f"tracks differ in length: {len(det_track)} vs {len(gt_track)} frames")
    inter = union = 0
    for det, gt in zip(det_track, gt_track):
        if det is not None and gt is not None:
            inter += int(mask_utils.area(mask_utils.merge([det, gt], intersect=True)))
            union += int(mask_utils.area(mask_utils.merge([det, gt], intersect=False)))
        elif det is not None:
            union += int(mask_utils.area(det))
        elif gt is not None:
            union += int(mask_utils.area(gt))
    return inter / union if union > 0 else 0.0


def pairwise_ious_reference(det_tracks: list[list], gt_tracks: list[list]) -> np.ndarray:
    """(D, G) float64 spatio-temporal IoUs, one `track_pair_iou` call per pair."""
    ious = np.zeros((len(det_tracks), len(gt_tracks)))
    for d, det_track in enumerate(det_tracks):
        for g, gt_track in enumerate(gt_tracks):
            ious[d, g] = track_pair_iou(det_track, gt_track)
    return ious
