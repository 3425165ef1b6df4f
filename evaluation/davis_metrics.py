"""Fast DAVIS region (J) and boundary (F) measures and their per-object statistics.

Numerically identical to the official DAVIS 2017 evaluator (davisvideochallenge/davis2017-evaluation,
semi-supervised task; see ``docs/protocol.md`` sections 1.4-1.6; the official numbers on real DAVIS masks are
recorded in ``tests/fixtures/official_davis`` and ``tests/evaluation/test_official_davis.py`` requires every
per-frame, per-object and global value to 1e-12), but built for streaming: one frame at a
time, boolean masks only, and every per-object computation restricted to the bounding box of the union
of the ground-truth and predicted masks (pixels outside it cannot change J, the boundary maps or the
boundary matches, so the result is exact, not approximate).

Rules reproduced on purpose (each is documented where it is implemented):

* J = |P & G| / |P | G|, and J = 1 when both masks are empty (so J = 0 for an empty GT and a non-empty
  prediction).
* Boundary maps follow BSDS ``seg2bmap`` (:func:`seg2bmap`): a pixel is marked when it differs from its
  east, south or south-east neighbour, the last row/column only look east/south, and the bottom-right
  pixel is never marked. Pixels on the image border therefore never form a boundary with "outside".
* Tolerance radius r = ceil(bound_th * sqrt(H^2 + W^2)) for ``bound_th < 1``, else ``bound_th`` pixels;
  480x854 -> 8, 1080x1920 -> 18. Matching dilates each boundary map with the disk
  {(dy, dx): dy^2 + dx^2 <= r^2} (built once per radius, :func:`disk_kernel`) using ``cv2.dilate``.
* Empty boundaries: none predicted but some in GT -> P = 1, R = 0; predicted but none in GT -> P = 0,
  R = 1; neither -> P = R = 1. F = 2PR / (P + R), or 0 when P + R = 0.
* Statistics (:func:`object_statistics`): Mean = nanmean, Recall = fraction of frames with value > 0.5,
  Decay = mean(first quarter) - mean(last quarter) with MATLAB-rounded, overlapping bin edges, and the
  official uint8 wrap of the bin edges for more than 256 scored frames (kept unless
  ``official_quirks=False``; it makes Decay NaN or wrong for such long sequences, e.g. n = 300 gives NaN).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np

BOUND_TH = 0.008
DECAY_BINS = 4


def boundary_radius(size: tuple[int, int], bound_th: float = BOUND_TH) -> float:
    """Boundary tolerance in pixels for a frame of ``size`` = (H, W).

    ``bound_th >= 1`` is a pixel count used as given; otherwise ``ceil(bound_th * sqrt(H^2 + W^2))``
    (the official evaluator takes the norm of the mask shape): 480x854 -> 8, 1080x1920 -> 18,
    720x1280 -> 12, 480x910 -> 9. Returned as a float, like the official ``np.ceil``; a non-integer
    ``bound_th >= 1`` stays non-integer (see :func:`disk_kernel`).
    """
    if bound_th <= 0:
        raise ValueError(f"bound_th must be positive, got {bound_th}")
    if bound_th >= 1:
        return float(bound_th)
    height, width = size
    return float(math.ceil(bound_th * math.hypot(height, width)))


@lru_cache(maxsize=32)
def disk_kernel(radius: float) -> np.ndarray:
    """Disk structuring element {(dy, dx): dy^2 + dx^2 <= radius^2}, (2r+1, 2r+1) uint8, cached per radius.

    Offsets run over ``arange(-radius, radius + 1)`` exactly as ``skimage.morphology.disk`` builds them,
    so a non-integer radius (only possible with ``bound_th >= 1``) gives the same slightly off-centre
    even-sized element as the official code. The returned array is read-only (it is shared).
    """
    offsets = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    kernel = (dy**2 + dx**2 <= radius**2).astype(np.uint8)
    kernel.setflags(write=False)
    return kernel


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """BSDS boundary map of a binary mask (David Martin's ``seg2bmap``), (H, W) bool -> (H, W) bool.

    A pixel is marked when it differs from its east, south or south-east neighbour (neighbours outside
    the image count as 0), which shifts the boundary half a pixel towards the origin and may mark
    background pixels. Quirks kept from the original: the last row compares only with its east
    neighbour, the last column only with its south neighbour, and the bottom-right pixel is always 0,
    so the image border never creates boundary pixels. No thinning is applied.
    """
    seg = np.asarray(mask, dtype=bool)
    height, width = seg.shape
    bmap = np.zeros_like(seg)
    if height == 0 or width == 0:
        return bmap
    east_differs = seg[:, :-1] ^ seg[:, 1:]  # (H, W-1)
    south_differs = seg[:-1, :] ^ seg[1:, :]  # (H-1, W)
    # Interior: differs from east or south; if it equals both, it differs from the south-east neighbour
    # exactly when its south neighbour differs from that one's east neighbour (the row below's east test).
    bmap[:-1, :-1] = east_differs[:-1] | south_differs[:, :-1] | east_differs[1:]
    # Last row: east only; last column: south only; bottom-right pixel: never.
    bmap[-1, :-1] = east_differs[-1]
    bmap[:-1, -1] = south_differs[:, -1]
    return bmap


def _union_box(gt: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int] | None:
    """Crop (y0, y1, x0, x1) holding every boundary pixel of both masks, or None when both are empty.

    It is the bounding box of ``gt | pred`` grown by one pixel towards the origin (a pixel just above or
    left of an object can be a boundary pixel) and by one pixel away from it, clipped to the image. The
    extra far row/column is empty in both masks, so the last-row/last-column rules of :func:`seg2bmap`
    applied to the crop give exactly the full-image boundary map restricted to the crop.
    """
    union = gt | pred
    rows = np.flatnonzero(union.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(union.any(axis=0))
    height, width = union.shape
    return (
        max(int(rows[0]) - 1, 0),
        min(int(rows[-1]) + 2, height),
        max(int(cols[0]) - 1, 0),
        min(int(cols[-1]) + 2, width),
    )


def f_from_counts(n_pred: int, n_gt: int, pred_matched: int, gt_matched: int) -> float:
    """Boundary F from boundary pixel counts, with the official empty-boundary rules.

    ``n_pred``/``n_gt``: boundary pixels of the prediction / GT; ``pred_matched``: predicted boundary
    pixels within the tolerance disk of a GT boundary pixel; ``gt_matched``: the reverse. No predicted
    boundary (but some GT) -> P = 1, R = 0 -> F = 0; predicted but no GT boundary -> P = 0, R = 1 -> F = 0;
    neither -> P = R = 1 -> F = 1. Evaluated in the official order, 2 * P * R / (P + R), in float64.
    """
    if n_pred == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_pred > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = pred_matched / float(n_pred)
        recall = gt_matched / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def mask_scores(gt: np.ndarray, pred: np.ndarray, radius: float) -> tuple[float, float]:
    """(J, F) of one object on one frame.

    Args:
        gt, pred: (H, W) bool masks of the same shape (the full frame: ``radius`` must come from the full
            frame size via :func:`boundary_radius`).
        radius: boundary tolerance in pixels.

    Returns:
        J: |P & G| / |P | G|, 1.0 when both are empty.
        F: boundary F-measure with the rules of :func:`f_from_counts`.
    """
    intersection, union, (f,) = overlap_and_boundary_f(gt, pred, (radius,))
    return (1.0 if union == 0 else intersection / union), f


def overlap_and_boundary_f(gt: np.ndarray, pred: np.ndarray, radii: Sequence[float]) -> tuple[int, int, list[float]]:
    """(|P & G|, |P | G|, [F at each radius]) of one object on one frame; the boundary maps are built once.

    Args:
        gt, pred: (H, W) bool masks of the same shape (the full frame).
        radii: boundary tolerances in pixels (non-integer ones give the off-centre disk of :func:`disk_kernel`).

    Both masks empty: (0, 0, [1.0, ...]) (no boundary on either side).
    """
    if gt.shape != pred.shape:
        raise ValueError(f"ground-truth mask {gt.shape} and predicted mask {pred.shape} differ in shape")
    box = _union_box(gt, pred)
    if box is None:
        return 0, 0, [1.0] * len(radii)
    y0, y1, x0, x1 = box
    g = gt[y0:y1, x0:x1]
    p = pred[y0:y1, x0:x1]
    intersection = int(np.count_nonzero(g & p))
    union = int(np.count_nonzero(g | p))
    g_bound = seg2bmap(g)
    p_bound = seg2bmap(p)
    n_gt = int(np.count_nonzero(g_bound))
    n_pred = int(np.count_nonzero(p_bound))
    if n_gt == 0 or n_pred == 0:
        return intersection, union, [f_from_counts(n_pred, n_gt, 0, 0)] * len(radii)
    # Every boundary pixel of both masks lies inside the crop (see `_union_box`), so counting inside it is
    # exact; pixels beyond the crop are empty in both boundary maps.
    scores = []
    for radius in radii:
        kernel = disk_kernel(radius)
        pred_matched = _count_matched(g_bound, p_bound, kernel)
        gt_matched = _count_matched(p_bound, g_bound, kernel)
        scores.append(f_from_counts(n_pred, n_gt, pred_matched, gt_matched))
    return intersection, union, scores


def _count_matched(source: np.ndarray, target: np.ndarray, kernel: np.ndarray) -> int:
    """Number of ``target`` pixels covered by ``source`` dilated with the disk ``kernel`` (both (h, w) bool).

    Exactly the official count |target & dilate(source, disk)|, computed on less area:

    * Only the bounding box of ``target`` grown by the kernel size is looked at: source pixels outside it
      are beyond the kernel's reach from every target pixel, and cv2.dilate ignores pixels beyond the
      region border.
    * For a centred disk of integer radius r, two cheap separable square dilations settle most pixels:
      a source pixel within Chebyshev distance a = floor(r / sqrt(2)) is within Euclidean distance r
      (matched for sure), and one beyond Chebyshev distance r is outside the disk (unmatched for sure).
      The disk dilation runs only on the bounding box of the remaining pixels.
    """
    y0, y1, x0, x1 = _grown_box(target, kernel.shape[0])
    source, target = source[y0:y1, x0:x1], target[y0:y1, x0:x1]
    if not source.any():
        return 0
    source8 = source.view(np.uint8)
    size = kernel.shape[0]
    radius = size // 2
    if size % 2 == 0 or kernel[radius, 0] == 0 or kernel[0, radius] == 0:  # off-centre disk: dilate directly
        return int(np.count_nonzero(cv2.dilate(source8, kernel).view(bool) & target))
    inner = int(radius / math.sqrt(2))
    undecided = target & ~cv2.dilate(source8, _square(2 * inner + 1)).view(bool)
    matched = int(np.count_nonzero(target)) - int(np.count_nonzero(undecided))
    if undecided.any():
        undecided &= cv2.dilate(source8, _square(size)).view(bool)
    if not undecided.any():
        return matched
    y0, y1, x0, x1 = _grown_box(undecided, size)
    dilated = cv2.dilate(source8[y0:y1, x0:x1], kernel).view(bool)
    return matched + int(np.count_nonzero(dilated & undecided[y0:y1, x0:x1]))


def _grown_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """Bounding box (y0, y1, x0, x1) of a non-empty (h, w) bool mask, grown by ``margin``, clipped."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (
        max(int(rows[0]) - margin, 0),
        min(int(rows[-1]) + 1 + margin, height),
        max(int(cols[0]) - margin, 0),
        min(int(cols[-1]) + 1 + margin, width),
    )


@lru_cache(maxsize=64)
def _square(size: int) -> np.ndarray:
    return np.ones((size, size), np.uint8)


def frame_scores(
    gt_labels: np.ndarray, pred_labels: np.ndarray, object_ids: Sequence[int], radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """J and F of every object on one frame.

    Args:
        gt_labels, pred_labels: (H, W) integer label maps (object ids; 0 background).
        object_ids: the N ids to score; object k is ``labels == k`` in both maps.
        radius: boundary tolerance for this frame size (:func:`boundary_radius`).

    Returns:
        (J (N,), F (N,)) float64.
    """
    j = np.empty(len(object_ids), dtype=np.float64)
    f = np.empty(len(object_ids), dtype=np.float64)
    for index, object_id in enumerate(object_ids):
        j[index], f[index] = mask_scores(gt_labels == object_id, pred_labels == object_id, radius)
    return j, f


def decay_indices(n: int, official_quirks: bool = True) -> np.ndarray:
    """Edges of the 4 decay bins over ``n`` per-frame values, (5,) int64.

    ids = round(linspace(1, n, 5) + 1e-10) - 1: the 1e-10 makes .5 round up (MATLAB rounding). Bin i is
    ``values[ids[i] : ids[i+1] + 1]``, both ends included, so neighbouring bins share a frame.
    n = 67 -> 0, 17, 33, 50, 66.

    Quirk (``official_quirks=True``): the official code casts the edges to uint8, so for n > 256 they wrap
    modulo 256 (n = 300 -> 0, 75, 150, 224, 43): the last bin becomes empty and Decay NaN, or bins
    silently cover the wrong frames. ``official_quirks=False`` keeps the true edges.

    The bin end ``edge + 1`` is computed as an ordinary integer, as numpy 1.x (which the official results
    were produced with) does for a uint8 scalar plus a Python int. Under numpy >= 2 the official code
    also wraps that sum (255 + 1 -> 0), which would make n = 256 give NaN; that numpy-2-only artefact
    is not reproduced.
    """
    ids = (np.round(np.linspace(1, n, DECAY_BINS + 1) + 1e-10) - 1).astype(np.int64)
    if official_quirks:
        ids = ids % 256
    return ids


def object_statistics(values: np.ndarray, official_quirks: bool = True) -> tuple[float, float, float]:
    """(Mean, Recall, Decay) of one object's per-frame scores ``values`` (n,) float.

    Mean = nanmean(values); Recall = mean(values > 0.5) (strictly greater; NaN counts as a miss);
    Decay = nanmean(bin 0) - nanmean(bin 3) over the bins of :func:`decay_indices`. An empty bin gives a
    NaN Decay (numpy's mean of an empty slice), as in the official code.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"per-frame values must be a non-empty 1-D array, got shape {values.shape}")
    mean = float(np.nanmean(values))
    recall = float(np.mean(values > 0.5))
    ids = decay_indices(values.size, official_quirks)
    first = values[ids[0] : ids[1] + 1]
    last = values[ids[3] : ids[4] + 1]
    decay = _nanmean_or_nan(first) - _nanmean_or_nan(last)
    return mean, recall, float(decay)


def _nanmean_or_nan(values: np.ndarray) -> float:
    """nanmean that returns NaN for an empty or all-NaN slice without a RuntimeWarning."""
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return math.nan
    return float(np.nanmean(values))
