"""Query-point selection for SAM-PT: positive points inside an object's mask, negative points outside it.

Follows the SAM-PT paper (Sec. 3.2, step 1 "Query Points Selection", Fig. 3) and the behaviour of the authors' code:
  - `random`: distinct mask pixels drawn uniformly without replacement.
  - `kmedoids`: the K medoids of a random subsample of at most 1800 mask pixels (Euclidean distance). The
    authors' code uses scikit-learn-extra's `KMedoids` defaults, i.e. the "alternate" (k-means-style)
    algorithm started from the "heuristic" init (the K points with the smallest summed distance to all
    others); `kmedoids_method="alternate"` (default) reproduces that (`alternate_kmedoids`; the same medoids
    as scikit-learn-extra on real masks, `tests/trackers/sampt/test_official_kmedoids.py`), and
    `kmedoids_method="fasterpam"` uses the `kmedoids` package's FasterPAM (BUILD init), which finds
    lower-cost medoids.
  - `shi-tomasi`: Shi-Tomasi corners (`cv2.goodFeaturesToTrack`, quality 0.001, block and gradient size 3) of
    the grey frame inside the mask eroded by a square of side int(6% of the mask's diameter) (2%, then 1%,
    then no erosion while fewer than 10 pixels remain), at least diameter/K apart, where the diameter is the
    diagonal of the eroded mask's bounding box; missing corners are filled with k-medoids points of the
    un-eroded mask (subsample 2000). As with OpenCV in the authors' code, an erosion size of 0 means a 3x3
    erosion (OpenCV treats an empty kernel as 3x3).
  - `mixed`: K//4 k-medoids, then K//3 Shi-Tomasi, then the rest random points (K=1 gives one random point).
Points are integer pixel positions (x = column, y = row) as float32, except Shi-Tomasi corners, which are
whatever OpenCV returns. A mask with fewer pixels than K repeats its pixels (in row-major order, cyclically,
without randomness, as the authors' code does); an empty mask raises `EmptyMaskError` (a ValueError).

All randomness comes from the `numpy.random.Generator` passed in; `video_rng(seed, video_name)` derives a
stable one per (run seed, video), so a video's points do not depend on which videos ran before it.
"""
from __future__ import annotations

import hashlib

import cv2
import kmedoids
import numpy as np
from scipy.spatial.distance import cdist

POINT_METHODS = ("random", "kmedoids", "shi-tomasi", "mixed")
KMEDOIDS_METHODS = ("alternate", "fasterpam")
KMEDOIDS_SUBSAMPLE = 1800
CORNER_FILL_KMEDOIDS_SUBSAMPLE = 2000
EROSION_FRACTIONS = (0.06, 0.02, 0.01)
MIN_ERODED_PIXELS = 10


class EmptyMaskError(ValueError):
    """Points were requested from an empty mask (no pixel to sample from)."""


def video_rng(seed: int, video_name: str) -> np.random.Generator:
    """A generator determined only by (run seed, video name), stable across processes and Python versions.

    Uses SHA-256 of both (not Python's salted `hash`), so the same pair always gives the same stream and
    different names give independent streams.
    """
    if int(seed) != seed:
        raise ValueError(f"seed must be an integer, got {seed!r}")
    digest = hashlib.sha256(f"sampt/query-points/{int(seed)}/{video_name}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _check_mask(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool or {0, 1} -> (H, W) bool."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f"mask must be boolean or hold only 0 and 1, got values {np.unique(mask)[:10]}")
        mask = mask.astype(bool)
    return mask


def _check_count(num_points: int) -> int:
    if int(num_points) != num_points or num_points < 0:
        raise ValueError(f"the number of points must be an integer >= 0, got {num_points!r}")
    return int(num_points)


def _mask_pixels(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (M, 2) int64 (y, x) of its pixels in row-major order; EmptyMaskError if M == 0."""
    pixels = np.argwhere(mask)
    if len(pixels) == 0:
        raise EmptyMaskError(f"cannot sample points from an empty mask of shape {mask.shape}")
    return pixels


def _repeat_pixels(pixels: np.ndarray, num_points: int) -> np.ndarray:
    """(M, 2) (y, x) with M < num_points -> (num_points, 2): the pixels repeated cyclically."""
    return np.tile(pixels, (num_points // len(pixels) + 1, 1))[:num_points]


def _yx_to_xy(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(pixels[:, ::-1], dtype=np.float32)


def random_points(mask: np.ndarray, num_points: int, rng: np.random.Generator) -> np.ndarray:
    """`num_points` distinct mask pixels drawn uniformly -> (K, 2) float32 (x, y)."""
    pixels = _mask_pixels(mask)
    if len(pixels) < num_points:
        return _yx_to_xy(_repeat_pixels(pixels, num_points))
    return _yx_to_xy(pixels[rng.permutation(len(pixels))[:num_points]])


def kmedoids_points(mask: np.ndarray, num_points: int, rng: np.random.Generator,
                    subsample: int = KMEDOIDS_SUBSAMPLE, method: str = "alternate") -> np.ndarray:
    """K-medoids (K = `num_points`) of a random subsample of the mask's pixels -> (K, 2) float32 (x, y).

    Args:
        mask: (H, W) bool.
        num_points: K.
        rng: source of the subsample (and of FasterPAM's processing order).
        subsample: at most this many mask pixels (at least K) are clustered.
        method: "alternate" (heuristic init + alternating updates, as the authors' code) or "fasterpam".
    """
    if method not in KMEDOIDS_METHODS:
        raise ValueError(f"unknown k-medoids method {method!r}; valid: {', '.join(KMEDOIDS_METHODS)}")
    pixels = _mask_pixels(mask)
    if num_points == 0:
        return np.zeros((0, 2), np.float32)
    if len(pixels) < num_points:
        return _yx_to_xy(_repeat_pixels(pixels, num_points))
    sample = kmedoids_sample(pixels, num_points, rng, subsample)
    distances = cdist(sample, sample)
    if method == "alternate":
        medoids = alternate_kmedoids(distances, num_points)
    else:
        medoids = kmedoids.fasterpam(distances, num_points, max_iter=100, init="build",
                                     random_state=int(rng.integers(2**31 - 1)), n_cpu=1).medoids
    return _yx_to_xy(sample[np.asarray(medoids, dtype=np.int64)])


def kmedoids_sample(pixels: np.ndarray, num_points: int, rng: np.random.Generator,
                    subsample: int = KMEDOIDS_SUBSAMPLE) -> np.ndarray:
    """The pixels `kmedoids_points` clusters: at most max(subsample, K) of ``pixels`` (M, 2) (y, x), in the
    order of one ``rng.permutation`` -> float64 (n, 2) (y, x)."""
    return pixels[rng.permutation(len(pixels))[:max(subsample, num_points)]].astype(np.float64)


def heuristic_medoids(distances: np.ndarray, num_clusters: int) -> np.ndarray:
    """scikit-learn-extra's "heuristic" init: the `num_clusters` points with the smallest summed distance to
    all points, by increasing sum (ties by index) -> (K,) int64 indices."""
    return np.argsort(distances.sum(axis=1), kind="stable")[:num_clusters].astype(np.int64)


def alternate_kmedoids(distances: np.ndarray, num_clusters: int, max_iter: int = 300,
                       init: np.ndarray | None = None) -> np.ndarray:
    """The "alternate" k-medoids algorithm with the "heuristic" init, as scikit-learn-extra's `KMedoids` defaults.

    Init: the `num_clusters` points with the smallest summed distance to all points. Then, until the medoids
    stop changing: assign every point to its nearest medoid (first one on ties), and in each cluster move the
    medoid to the member with the smallest summed distance to the other members if that is strictly smaller.
    The initial medoids are ordered by increasing summed distance (ties by index). scikit-learn-extra takes
    them in `np.argpartition` order, which depends on the numpy version (numpy 1.26 and 2.4 give the same set
    but a different order in 93 of 141 DAVIS masks, and the order changes the result through ties); given
    the same initial order, this function returned the same medoids as scikit-learn-extra 0.3.0 in 141 of
    141 cases (recorded on real DAVIS masks from fixed starting medoids in ``tests/fixtures/official_kmedoids``;
    ``tests/trackers/sampt/test_official_kmedoids.py``). (The `kmedoids` package's `alternating` differs in its details and
    agreed in only 15 of 45.)

    Args:
        distances: (n, n) symmetric float distance matrix.
        num_clusters: K <= n.
        init: (K,) starting medoid indices instead of `heuristic_medoids` (as scikit-learn-extra's array
            ``init``).

    Returns:
        (K,) int64 indices of the medoids.
    """
    medoids = (heuristic_medoids(distances, num_clusters) if init is None
               else np.array(init, dtype=np.int64).reshape(num_clusters))
    for _ in range(max_iter):
        previous = medoids.copy()
        labels = np.argmin(distances[medoids], axis=0)
        for cluster in range(num_clusters):
            members = np.flatnonzero(labels == cluster)
            if len(members) == 0:
                continue
            costs = distances[np.ix_(members, members)].sum(axis=1)
            best = int(np.argmin(costs))
            current_cost = costs[np.argmax(members == medoids[cluster])]
            if costs[best] < current_cost:
                medoids[cluster] = members[best]
        if np.array_equal(previous, medoids):
            break
    return medoids


def erode_by_diameter_fraction(mask: np.ndarray, fraction: float) -> np.ndarray:
    """Erode (H, W) bool by a square of side int(fraction * diameter of the mask's bounding box).

    A side of 0 erodes by 3x3 (OpenCV's meaning of an empty kernel, kept for parity with the authors' code).
    """
    pixels = _mask_pixels(mask)
    diameter = float(np.linalg.norm(pixels.max(axis=0) - pixels.min(axis=0)))
    side = int(diameter * fraction) or 3
    return cv2.erode(mask.astype(np.uint8), np.ones((side, side), np.uint8)).astype(bool)


def corner_points(frame: np.ndarray, mask: np.ndarray, num_points: int, rng: np.random.Generator,
                  kmedoids_method: str = "alternate") -> np.ndarray:
    """Shi-Tomasi corners of the grey frame inside the eroded mask, filled up with k-medoids points.

    Args:
        frame: (H, W, 3) uint8 RGB frame the mask belongs to.
        mask: (H, W) bool.
        num_points: K.
        rng: randomness of the k-medoids fill.

    Returns:
        (K, 2) float32 (x, y): the corners (strongest first), then the k-medoids fill.
    """
    _mask_pixels(mask)
    if num_points == 0:
        return np.zeros((0, 2), np.float32)
    eroded = mask
    for fraction in EROSION_FRACTIONS:
        eroded = erode_by_diameter_fraction(mask, fraction)
        if eroded.sum() >= MIN_ERODED_PIXELS:
            break
    if eroded.sum() < MIN_ERODED_PIXELS:
        eroded = mask
    eroded_pixels = np.argwhere(eroded)
    diameter = float(np.linalg.norm(eroded_pixels.max(axis=0) - eroded_pixels.min(axis=0)))
    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    corners = cv2.goodFeaturesToTrack(grey, maxCorners=num_points, qualityLevel=0.001,
                                      minDistance=diameter / num_points, mask=eroded.astype(np.uint8),
                                      blockSize=3, gradientSize=3)
    corners = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2).astype(np.float32)
    missing = num_points - len(corners)
    if missing > 0:
        fill = kmedoids_points(mask, missing, rng, subsample=CORNER_FILL_KMEDOIDS_SUBSAMPLE, method=kmedoids_method)
        corners = np.concatenate([corners, fill])
    return corners


def mixed_points(frame: np.ndarray | None, mask: np.ndarray, num_points: int, rng: np.random.Generator,
                 kmedoids_method: str = "alternate") -> np.ndarray:
    """K//4 k-medoids, K//3 Shi-Tomasi and the remaining random points, in that order -> (K, 2) float32."""
    num_kmedoids, num_corners = num_points // 4, num_points // 3
    parts = []
    if num_kmedoids:
        parts.append(kmedoids_points(mask, num_kmedoids, rng, method=kmedoids_method))
    if num_corners:
        parts.append(corner_points(_require_frame(frame, mask, "mixed"), mask, num_corners, rng, kmedoids_method))
    num_random = num_points - num_kmedoids - num_corners
    if num_random:
        parts.append(random_points(mask, num_random, rng))
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)


def _require_frame(frame: np.ndarray | None, mask: np.ndarray, method: str) -> np.ndarray:
    if frame is None:
        raise ValueError(f"point selection method {method!r} needs the frame (H, W, 3) uint8 RGB; got frame=None")
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be (H, W, 3) uint8 RGB, got shape {frame.shape} and dtype {frame.dtype}")
    if frame.shape[:2] != mask.shape:
        raise ValueError(f"frame size {frame.shape[:2]} differs from mask size {mask.shape}")
    return frame


def sample_points(mask: np.ndarray, num_points: int, method: str, rng: np.random.Generator,
                  frame: np.ndarray | None = None, kmedoids_method: str = "alternate") -> np.ndarray:
    """Select `num_points` points of `mask` with `method` (one of `POINT_METHODS`).

    Args:
        mask: (H, W) bool (or 0/1) mask to sample from.
        num_points: K >= 0.
        method: "random", "kmedoids", "shi-tomasi" or "mixed".
        rng: all randomness comes from it.
        frame: (H, W, 3) uint8 RGB, needed by "shi-tomasi" and by "mixed" when K >= 3.
        kmedoids_method: "alternate" (authors' code) or "fasterpam".

    Returns:
        (K, 2) float32 (x, y) pixel positions inside the mask.

    Raises:
        EmptyMaskError (a ValueError) if the mask is empty.
    """
    if method not in POINT_METHODS:
        raise ValueError(f"unknown point selection method {method!r}; valid: {', '.join(POINT_METHODS)}")
    mask = _check_mask(mask)
    num_points = _check_count(num_points)
    _mask_pixels(mask)  # an empty mask is an error even when no point is requested
    if method == "random":
        points = random_points(mask, num_points, rng)
    elif method == "kmedoids":
        points = kmedoids_points(mask, num_points, rng, method=kmedoids_method)
    elif method == "shi-tomasi":
        points = corner_points(_require_frame(frame, mask, method), mask, num_points, rng, kmedoids_method)
    else:
        if frame is not None:
            _require_frame(frame, mask, method)
        points = mixed_points(frame, mask, num_points, rng, kmedoids_method)
    assert points.shape == (num_points, 2), points.shape
    return points.astype(np.float32)


def query_points_for_object(frame: np.ndarray | None, mask: np.ndarray, t: int, num_positive: int,
                            num_negative: int, positive_method: str, negative_method: str,
                            rng: np.random.Generator, *, video: str | None = None, object_id: int | None = None,
                            kmedoids_method: str = "alternate", zeros_for_empty: bool = False) -> np.ndarray:
    """Positive points from `mask` and negative points from its complement, as tracker queries.

    Args:
        frame: (H, W, 3) uint8 RGB frame `t` (needed by "shi-tomasi" and "mixed"; may be None otherwise).
        mask: (H, W) bool object mask at frame t.
        t: query frame index.
        num_positive, num_negative: how many points of each kind (paper: 8 and 1).
        positive_method, negative_method: see `POINT_METHODS` (paper: "kmedoids" and "mixed").
        rng: all randomness comes from it (see `video_rng`).
        video, object_id: named in the error raised for an empty mask (or a mask covering the whole frame
            when negatives are requested).
        zeros_for_empty: instead of that error, give the points of an empty region at (0, 0), as the authors'
            samplers do (``sam_pt/utils/query_points.py`` at 874ff7e: each ``extract_*_points`` returns zeros
            for an empty mask; their reinit reaches them, `trackers.sampt.reinit`).

    Returns:
        (num_positive + num_negative, 3) float32 (t, x, y), positives first.
    """
    if int(t) != t or t < 0:
        raise ValueError(f"query frame t must be an integer >= 0, got {t!r}")
    mask = _check_mask(mask)
    parts = []
    for kind, region, count, method in (("positive", mask, num_positive, positive_method),
                                        ("negative", ~mask, num_negative, negative_method)):
        if _check_count(count) == 0:
            continue
        if zeros_for_empty and not np.any(region):
            parts.append(np.zeros((count, 2), np.float32))
            continue
        try:
            parts.append(sample_points(region, count, method, rng, frame=frame, kmedoids_method=kmedoids_method))
        except EmptyMaskError as error:
            where = "the mask" if kind == "positive" else "the complement of the mask (it covers the whole frame)"
            raise EmptyMaskError(f"video {video!r}, object {object_id!r}, frame {int(t)}: cannot sample {count} "
                                 f"{kind} points from {where}: {error}") from None
    xy = np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)
    return np.concatenate([np.full((len(xy), 1), float(t), np.float32), xy], axis=1)
