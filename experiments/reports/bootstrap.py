"""Paired bootstrap confidence intervals for the difference between two runs on the same videos.

The statistic is the mean over videos of the per-video difference ``b - a``. One resample draws the
videos with replacement (the same draw for both runs: the comparison is paired); when both runs have
several seeds, each run's seeds are drawn with replacement too (independently: a seed of one config is
no twin of the same seed of another) and a video's score is the mean over the drawn seeds. The interval
is the percentile interval of the resampled statistic. Everything is seeded, so the interval of the
same inputs is always the same.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
CONFIDENCE = 0.95
SEED = 0
_CHUNK = 1_000  # resamples drawn at once (bounds memory to chunk x videos)


@dataclass(frozen=True)
class Interval:
    """A paired bootstrap interval of ``mean over videos of (b - a)``."""

    difference: float  # the observed mean difference
    low: float
    high: float
    confidence: float
    resamples: int
    num_videos: int
    seeds_resampled: bool

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def verdict(self) -> str:
        """A plain sentence: whether the interval excludes zero."""
        level = f"{self.confidence:.0%}"
        if self.excludes_zero:
            direction = "higher" if self.low > 0 else "lower"
            return f"significant: the {level} interval excludes 0 (the second run is {direction})"
        return f"not significant: the {level} interval contains 0"


def _as_seed_matrix(scores, name: str) -> np.ndarray:
    """(seeds, videos) float64 from a (videos,) or (seeds, videos) array."""
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0 or array.shape[0] == 0:
        raise ValueError(f"{name}: expected (videos,) or (seeds, videos) scores, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: scores must be finite (a video without a score cannot be paired)")
    return array


def _seed_weights(rng: np.random.Generator, count: int, num_seeds: int) -> np.ndarray:
    """(count, seeds) weights of a with-replacement draw of ``num_seeds`` seeds (rows sum to 1)."""
    draws = rng.integers(0, num_seeds, size=(count, num_seeds))
    weights = np.zeros((count, num_seeds))
    np.add.at(weights, (np.arange(count)[:, None], draws), 1.0)
    return weights / num_seeds


def paired_bootstrap(a, b, resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                     seed: int = SEED) -> Interval:
    """Paired bootstrap interval of ``mean_v(b_v - a_v)``.

    Args:
        a, b: per-video scores of the two runs, (videos,) or (seeds, videos), videos in the same order.
        resamples: bootstrap resamples (default 10,000).
        confidence: the interval's coverage (default 0.95: the 2.5th and 97.5th percentiles).
        seed: the random generator's seed (deterministic result).

    Seeds are resampled only when both runs have more than one seed.
    """
    a = _as_seed_matrix(a, "first run")
    b = _as_seed_matrix(b, "second run")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired scores need the same videos: {a.shape[1]} vs {b.shape[1]}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"need resamples >= 1 and 0 < confidence < 1, got {resamples}, {confidence}")
    num_videos = a.shape[1]
    seeds_resampled = a.shape[0] > 1 and b.shape[0] > 1
    rng = np.random.default_rng(seed)
    statistics = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        count = min(_CHUNK, resamples - start)
        if seeds_resampled:
            differences = _seed_weights(rng, count, b.shape[0]) @ b - _seed_weights(rng, count, a.shape[0]) @ a
        else:
            differences = np.broadcast_to(b.mean(axis=0) - a.mean(axis=0), (count, num_videos))
        videos = rng.integers(0, num_videos, size=(count, num_videos))
        statistics[start:start + count] = np.take_along_axis(differences, videos, axis=1).mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(statistics, [tail, 100.0 - tail])
    observed = float(np.mean(b.mean(axis=0) - a.mean(axis=0)))
    return Interval(observed, float(low), float(high), confidence, resamples, num_videos, seeds_resampled)
