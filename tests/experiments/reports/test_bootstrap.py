"""The paired bootstrap on hand-made inputs whose interval is known."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.reports.bootstrap import paired_bootstrap


def test_constant_difference_gives_a_point_interval():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.2, 0.7, size=30)
    interval = paired_bootstrap(a, a + 0.25)
    assert interval.difference == pytest.approx(0.25, abs=1e-12)
    assert interval.low == pytest.approx(0.25, abs=1e-12) and interval.high == pytest.approx(0.25, abs=1e-12)
    assert interval.excludes_zero and interval.verdict().startswith("significant")
    lower = paired_bootstrap(a, a - 0.1)
    assert lower.high == pytest.approx(-0.1, abs=1e-12) and "lower" in lower.verdict()


def test_zero_difference_is_not_significant():
    a = np.linspace(0.1, 0.9, 20)
    same = paired_bootstrap(a, a)
    assert same.low == same.high == same.difference == 0.0
    assert not same.excludes_zero and same.verdict().startswith("not significant")
    symmetric = paired_bootstrap(a, a + np.tile([0.2, -0.2], 10))  # mean difference 0, noisy
    assert symmetric.low < 0 < symmetric.high and not symmetric.excludes_zero
    assert symmetric.difference == pytest.approx(0.0, abs=1e-12)


def test_known_binomial_case():
    """Differences half 0 half 1 over 100 videos: the resampled mean is k/100 with k ~ Binomial(100, 1/2),
    whose 2.5% and 97.5% quantiles are 40 and 60 (P(k <= 39) = 0.018, P(k <= 40) = 0.028)."""
    differences = np.repeat([0.0, 1.0], 50)
    interval = paired_bootstrap(np.zeros(100), differences)
    assert interval.difference == pytest.approx(0.5)
    assert (interval.low, interval.high) == pytest.approx((0.40, 0.60), abs=1e-12)
    two = paired_bootstrap(np.zeros(2), np.array([0.0, 1.0]))  # resampled means 0, 1/2, 1 (1/4, 1/2, 1/4)
    assert (two.low, two.high) == (0.0, 1.0) and not two.excludes_zero


def test_seeds_are_resampled_only_when_both_runs_have_several():
    """b's seed 0 scores 0 on every video, seed 1 scores 1: resampling seeds gives the mean of two draws
    from {0, 1} (0, 1/2, 1), so [0, 1]; without seed resampling every video differs by exactly 1/2."""
    b = np.stack([np.zeros(8), np.ones(8)])
    with_seeds = paired_bootstrap(np.zeros((2, 8)), b)
    assert with_seeds.seeds_resampled and (with_seeds.low, with_seeds.high) == (0.0, 1.0)
    one_seed = paired_bootstrap(np.zeros(8), b)
    assert not one_seed.seeds_resampled and (one_seed.low, one_seed.high) == pytest.approx((0.5, 0.5))


def test_deterministic_and_checked():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(size=12), rng.uniform(size=12)
    assert paired_bootstrap(a, b) == paired_bootstrap(a, b)
    assert paired_bootstrap(a, b, seed=1) != paired_bootstrap(a, b, seed=2)
    with pytest.raises(ValueError, match="same videos"):
        paired_bootstrap(a, b[:5])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap(a, np.full(12, np.nan))
