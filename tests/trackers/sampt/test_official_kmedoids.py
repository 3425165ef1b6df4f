"""k-medoids against scikit-learn-extra's KMedoids, the authors' choice (tests/fixtures/official_kmedoids,
recorded with scripts/record/kmedoids.py): on real DAVIS masks, from fixed starting medoids, our medoids
must be theirs, index for index."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from tests.inputs import KMEDOIDS_CASES as CASES, KMEDOIDS_SEED as SEED, kmedoids_case_mask as case_mask
from tests.inputs import make_kmedoids_inputs as make_inputs
from trackers.sampt.query_points import alternate_kmedoids, kmedoids_points
from tests.helpers import FIXTURES

FIXTURE = FIXTURES / "official_kmedoids" / "kmedoids.npz"


@pytest.fixture(scope="module")
def official() -> dict:
    return dict(np.load(FIXTURE))


@pytest.fixture(scope="module")
def inputs(shared_data) -> dict:
    return make_inputs(shared_data)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_kmedoids_points_equal_official(shared_data, official, case):
    """The whole `kmedoids_points` (subsample, heuristic init, alternate updates) gives the medoids
    KMedoids returns from the same (heuristic) starting medoids."""
    k = CASES[case][3]
    points = kmedoids_points(case_mask(shared_data, CASES[case]), k, np.random.default_rng(SEED + case))
    expected = official[f"heuristic_centers_{case}"][:, ::-1]  # (y, x) -> (x, y)
    np.testing.assert_array_equal(points, expected.astype(np.float32))


@pytest.mark.parametrize("start", ["heuristic", "random"])
def test_alternate_kmedoids_equal_official_from_fixed_starts(inputs, official, start):
    for case in range(len(CASES)):
        sample = inputs[f"sample_{case}"]
        assert np.array_equal(inputs[f"{start}_{case}"], official[f"{start}_init_{case}"]), case
        medoids = alternate_kmedoids(cdist(sample, sample), CASES[case][3], init=official[f"{start}_init_{case}"])
        np.testing.assert_array_equal(medoids, official[f"{start}_medoids_{case}"], err_msg=f"case {case}")
        np.testing.assert_array_equal(sample[medoids], official[f"{start}_centers_{case}"])
    # the random starts are far from the result: the update rule decides it
    moved = [(official[f"random_init_{c}"] != official[f"random_medoids_{c}"]).sum() for c in range(len(CASES))]
    assert sum(moved) > 20
