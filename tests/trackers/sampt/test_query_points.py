"""Query-point selection (trackers/sampt/query_points.py) on known masks."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from trackers.sampt.query_points import (POINT_METHODS, EmptyMaskError, alternate_kmedoids, query_points_for_object,
                                   sample_points, video_rng)

H, W = 90, 120


def textured_frame() -> np.ndarray:
    """(H, W, 3) uint8: a flat grey frame with a black/white checkerboard square at rows/cols 30..60 / 40..80."""
    frame = np.full((H, W, 3), 128, np.uint8)
    ys, xs = np.mgrid[30:60, 40:80]
    frame[30:60, 40:80] = (((ys // 10) + (xs // 10)) % 2 * 255)[..., None]
    return frame


def square_mask() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[25:65, 35:85] = True
    return mask


def two_blob_mask() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[10:30, 10:30] = True
    mask[60:80, 90:110] = True
    return mask


def values_at(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K,) mask value at the pixel nearest to each (x, y) point."""
    x = np.clip(np.round(points[:, 0]).astype(int), 0, W - 1)
    y = np.clip(np.round(points[:, 1]).astype(int), 0, H - 1)
    return mask[y, x]


@pytest.mark.parametrize("method", POINT_METHODS)
@pytest.mark.parametrize("num_points", [1, 8, 16])
def test_points_lie_inside_the_mask(method, num_points):
    mask = square_mask()
    points = sample_points(mask, num_points, method, np.random.default_rng(0), frame=textured_frame())
    assert points.shape == (num_points, 2) and points.dtype == np.float32
    assert values_at(mask, points).all()


@pytest.mark.parametrize("method", ["random", "kmedoids"])
def test_points_are_distinct_pixels_when_the_mask_is_large_enough(method):
    points = sample_points(square_mask(), 16, method, np.random.default_rng(1))
    assert len(np.unique(points, axis=0)) == 16
    np.testing.assert_array_equal(points, np.round(points))


@pytest.mark.parametrize("kmedoids_method", ["alternate", "fasterpam"])
def test_kmedoids_points_spread_over_both_blobs(kmedoids_method):
    mask = two_blob_mask()
    points = sample_points(mask, 8, "kmedoids", np.random.default_rng(2), kmedoids_method=kmedoids_method)
    in_first = (points[:, 0] < 60) & (points[:, 1] < 45)
    assert values_at(mask, points).all()
    assert in_first.sum() == 4, points  # two equal blobs get half of the medoids each
    for blob in (points[in_first], points[~in_first]):  # and within a blob the medoids are spread out
        assert cdist(blob, blob)[np.triu_indices(len(blob), 1)].min() >= 4


def test_alternate_kmedoids_finds_obvious_clusters():
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    data = np.concatenate([centre + rng.normal(0, 1, (30, 2)) for centre in centres])
    medoids = alternate_kmedoids(cdist(data, data), 3)
    assert sorted(int(m) // 30 for m in medoids) == [0, 1, 2]


def test_shi_tomasi_finds_the_checkerboard_corners():
    frame = textured_frame()
    mask = square_mask()
    points = sample_points(mask, 6, "shi-tomasi", np.random.default_rng(4), frame=frame)
    # inner checkerboard corners lie on the 10 px grid, x in 50..70, y in 40..50
    on_grid = (np.abs(points - np.round(points / 10) * 10) <= 1.5).all(axis=1)
    assert on_grid.sum() == 6, points
    assert values_at(mask, points).all()


def test_shi_tomasi_fills_missing_corners_with_kmedoids():
    frame = np.full((H, W, 3), 100, np.uint8)  # flat: no corner anywhere
    mask = square_mask()
    points = sample_points(mask, 5, "shi-tomasi", np.random.default_rng(5), frame=frame)
    expected = sample_points(mask, 5, "kmedoids", np.random.default_rng(5))
    assert values_at(mask, points).all()
    assert len(np.unique(points, axis=0)) == 5
    # the fill clusters a subsample of up to 2000 pixels (not 1800), so it is a k-medoids solution of its own;
    # both must be spread over the square
    assert np.ptp(points[:, 0]) > 15 and np.ptp(expected[:, 0]) > 15


def test_mixed_composition_order():
    frame = textured_frame()
    mask = square_mask()
    points = sample_points(mask, 12, "mixed", np.random.default_rng(6), frame=frame)
    # 12 // 4 = 3 k-medoids, then 12 // 3 = 4 Shi-Tomasi corners, then 5 random points, drawn in that order
    rng = np.random.default_rng(6)
    expected = np.concatenate([sample_points(mask, 3, "kmedoids", rng),
                               sample_points(mask, 4, "shi-tomasi", rng, frame=frame),
                               sample_points(mask, 5, "random", rng)])
    np.testing.assert_array_equal(points, expected)
    assert values_at(mask, points).all()
    assert sample_points(mask, 1, "mixed", np.random.default_rng(6)).shape == (1, 2)  # K=1: random, no frame


def test_negatives_come_from_the_complement():
    frame = textured_frame()
    mask = square_mask()
    queries = query_points_for_object(frame, mask, 3, 8, 16, "kmedoids", "mixed", np.random.default_rng(7))
    assert queries.shape == (24, 3) and queries.dtype == np.float32
    assert (queries[:, 0] == 3).all()
    assert values_at(mask, queries[:8, 1:]).all()
    assert not values_at(mask, queries[8:, 1:]).any()


def test_same_seed_and_name_give_the_same_points_and_other_names_differ():
    frame, mask = textured_frame(), square_mask()

    def draw(seed, name):
        return query_points_for_object(frame, mask, 0, 8, 4, "mixed", "mixed", video_rng(seed, name))

    np.testing.assert_array_equal(draw(0, "bear"), draw(0, "bear"))
    assert not np.array_equal(draw(0, "bear"), draw(0, "bike"))
    assert not np.array_equal(draw(0, "bear"), draw(1, "bear"))
    # stable across processes and Python versions (no salted hash): pinned values of the derived streams
    assert video_rng(0, "bear").integers(1 << 30) == 1070388823
    assert video_rng(3, "bike-packing").integers(1 << 30) == 351354839


def test_tiny_masks_repeat_their_pixels():
    mask = np.zeros((H, W), bool)
    mask[5, 7] = mask[6, 9] = True
    for method in POINT_METHODS:
        points = sample_points(mask, 5, method, np.random.default_rng(8), frame=textured_frame())
        assert points.shape == (5, 2)
        assert values_at(mask, points).all()
    points = sample_points(mask, 5, "random", np.random.default_rng(8))
    np.testing.assert_array_equal(points, [[7, 5], [9, 6], [7, 5], [9, 6], [7, 5]])


def test_empty_mask_raises_with_video_and_object():
    empty = np.zeros((H, W), bool)
    with pytest.raises(EmptyMaskError, match="empty mask"):
        sample_points(empty, 4, "kmedoids", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"video 'bear', object 2, frame 0: cannot sample 8 positive"):
        query_points_for_object(None, empty, 0, 8, 1, "kmedoids", "random", np.random.default_rng(0),
                                video="bear", object_id=2)
    full = np.ones((H, W), bool)
    with pytest.raises(ValueError, match="negative points from the complement"):
        query_points_for_object(None, full, 0, 8, 1, "kmedoids", "random", np.random.default_rng(0),
                                video="bear", object_id=2)


def test_invalid_arguments_raise():
    rng = np.random.default_rng(0)
    mask = square_mask()
    with pytest.raises(ValueError, match="unknown point selection method"):
        sample_points(mask, 4, "grid", rng)
    with pytest.raises(ValueError, match="needs the frame"):
        sample_points(mask, 4, "shi-tomasi", rng)
    with pytest.raises(ValueError, match="differs from mask size"):
        sample_points(mask, 4, "shi-tomasi", rng, frame=np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="mask must be"):
        sample_points(np.zeros((2, 3, 4)), 4, "random", rng)
    with pytest.raises(ValueError, match="integer >= 0"):
        sample_points(mask, -1, "random", rng)
    with pytest.raises(ValueError, match="k-medoids method"):
        sample_points(mask, 4, "kmedoids", rng, kmedoids_method="pam")


def test_real_davis_masks(shared_data):
    from PIL import Image

    label = np.array(Image.open(shared_data / "davis17_val_results" / "osvos" / "bike-packing" / "00000.png"))
    rng = video_rng(0, "bike-packing")
    for object_id in np.unique(label)[1:]:
        mask = label == object_id
        frame = np.zeros(mask.shape + (3,), np.uint8)
        queries = query_points_for_object(frame, mask, 0, 8, 1, "kmedoids", "mixed", rng,
                                          video="bike-packing", object_id=int(object_id))
        assert values_at_full(mask, queries[:8, 1:]).all() and not values_at_full(mask, queries[8:, 1:]).any()


def values_at_full(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    return mask[np.round(points[:, 1]).astype(int), np.round(points[:, 0]).astype(int)]
