"""Straightforward DAVIS J/F reference implementation, written from ``docs/protocol.md`` sections 1.4-1.6.

It mirrors the structure (and hence the cost) of the official DAVIS 2017 evaluator: a whole sequence is
loaded into float64 arrays, split into an (objects, T, H, W) one-hot stack, and every object and frame is
scored on full-resolution arrays with a disk structuring element rebuilt (by ``skimage``) on every call.
It exists as an independent check of :mod:`evaluation.davis_metrics` (tests compare the two on random
and real masks; ``tests/evaluation/test_official_davis.py`` compares it with the official evaluator's recorded
output) and as the baseline of ``make bench``. Do not use it for real evaluations.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
from skimage.morphology import disk

from evaluation.davis_metrics import BOUND_TH


def reference_iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """J of two (H, W) masks (any dtype; nonzero = object): |P & G| / |P | G|, 1 when both are empty."""
    gt = gt.astype(bool)
    pred = pred.astype(bool)
    intersection = np.sum(gt & pred)
    union = np.sum(gt | pred)
    if np.isclose(union, 0):
        return 1.0
    return float(intersection / union)


def reference_seg2bmap(seg: np.ndarray) -> np.ndarray:
    """BSDS boundary map of an (H, W) mask, computed with full-size shifted copies (see spec 1.5)."""
    seg = seg.astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def reference_f(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH, radius: float | None = None) -> float:
    """Boundary F of two (H, W) masks (any dtype; nonzero = object), with the empty-boundary rules; ``radius``
    (pixels, may be non-integer) replaces the tolerance that ``bound_th`` gives."""
    if radius is None:
        radius = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(pred.shape))
    pred_bound = reference_seg2bmap(pred).astype(np.float64)
    gt_bound = reference_seg2bmap(gt).astype(np.float64)
    pred_dil = cv2.dilate(pred_bound.astype(np.uint8), disk(radius).astype(np.uint8))
    gt_dil = cv2.dilate(gt_bound.astype(np.uint8), disk(radius).astype(np.uint8))
    gt_match = gt_bound * pred_dil
    pred_match = pred_bound * gt_dil
    n_pred = np.sum(pred_bound)
    n_gt = np.sum(gt_bound)
    if n_pred == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_pred > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = np.sum(pred_match) / float(n_pred)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def reference_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """(Mean, Recall, Decay) of per-frame values (n,), with the uint8 bin-edge wrap of the official code."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(np.nanmean(values))
    recall = float(np.nanmean(values > 0.5))
    edges = np.round(np.linspace(1, len(values), 5) + 1e-10) - 1
    edges = edges.astype(np.uint8)  # the official cast: wraps for n > 256
    bins = [values[edges[i] : int(edges[i + 1]) + 1] for i in range(4)]  # numpy 1.x: 255 + 1 = 256
    decay = _mean_or_nan(bins[0]) - _mean_or_nan(bins[3])
    return mean, recall, float(decay)


def _mean_or_nan(values: np.ndarray) -> float:
    return math.nan if np.all(np.isnan(values)) else float(np.nanmean(values))


def reference_sequence(
    gt_labels: Sequence[np.ndarray], pred_labels: Sequence[np.ndarray], num_objects: int, bound_th: float = BOUND_TH
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame J and F of a whole sequence, the official way (float64 one-hot stacks).

    Args:
        gt_labels, pred_labels: T label maps, each (H, W); objects are ids 1..num_objects.
        num_objects: N, the number of GT objects; predicted ids above N are an error.

    Returns:
        (J (N, T), F (N, T)) float64.
    """
    gt = np.stack([np.asarray(a, dtype=np.float64) for a in gt_labels])  # (T, H, W) float64
    pred = np.stack([np.asarray(a, dtype=np.float64) for a in pred_labels])
    pred_objects = int(np.max(pred))
    if pred_objects > num_objects:
        raise ValueError(f"prediction has object id {pred_objects} > {num_objects} ground-truth objects")
    ids = np.arange(1, num_objects + 1, dtype=np.float64)[:, None, None, None]
    gt_stack = np.ones((num_objects, *gt.shape)) * ids == gt[None]  # (N, T, H, W)
    pred_stack = np.ones((num_objects, *pred.shape)) * ids == pred[None]
    j = np.zeros((num_objects, gt.shape[0]))
    f = np.zeros((num_objects, gt.shape[0]))
    for k in range(num_objects):
        for t in range(gt.shape[0]):
            j[k, t] = reference_iou(gt_stack[k, t], pred_stack[k, t])
            f[k, t] = reference_f(gt_stack[k, t], pred_stack[k, t], bound_th)
    return j, f
