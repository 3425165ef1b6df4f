"""DAVIS J/F measures and statistics: hand-computed cases, quirks, and fast vs reference equality."""
from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.morphology import disk

from evaluation.davis_metrics import (
    boundary_radius,
    decay_indices,
    disk_kernel,
    frame_scores,
    mask_scores,
    object_statistics,
    seg2bmap,
)
from reference.davis_metrics import reference_f, reference_iou, reference_seg2bmap, reference_statistics


def box(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def scores(gt, pred, bound_th=0.008):
    return mask_scores(gt, pred, boundary_radius(gt.shape, bound_th))


# ---------------------------------------------------------------------------------------------------
# Tolerance radius and disk


@pytest.mark.parametrize(
    "size, radius", [((480, 854), 8), ((1080, 1920), 18), ((720, 1280), 12), ((480, 910), 9), ((10, 10), 1)]
)
def test_boundary_radius(size, radius):
    assert boundary_radius(size) == radius


def test_boundary_radius_pixels_when_bound_th_at_least_one():
    assert boundary_radius((480, 854), 3) == 3
    assert boundary_radius((480, 854), 2.5) == 2.5


@pytest.mark.parametrize("radius", [1.0, 2.5, 8.0, 18.0])
def test_disk_kernel_matches_skimage_and_is_cached(radius):
    kernel = disk_kernel(radius)
    np.testing.assert_array_equal(kernel, disk(radius).astype(np.uint8))
    assert disk_kernel(radius) is kernel
    assert not kernel.flags.writeable


def test_disk_kernel_radius_8_shape_and_area():
    kernel = disk_kernel(8.0)
    assert kernel.shape == (17, 17)
    assert kernel.sum() == sum(1 for dy in range(-8, 9) for dx in range(-8, 9) if dy * dy + dx * dx <= 64)


# ---------------------------------------------------------------------------------------------------
# Boundary map


def test_seg2bmap_single_pixel_marks_itself_and_its_west_north_northwest_neighbours():
    mask = np.zeros((10, 10), bool)
    mask[5, 5] = True
    assert set(zip(*np.nonzero(seg2bmap(mask)))) == {(4, 4), (4, 5), (5, 4), (5, 5)}


def test_seg2bmap_image_border_is_never_a_boundary():
    assert not seg2bmap(np.ones((7, 9), bool)).any()
    left_half = box((10, 10), 0, 10, 0, 5)
    assert set(zip(*np.nonzero(seg2bmap(left_half)))) == {(r, 4) for r in range(10)}
    bottom_right = box((10, 10), 5, 10, 5, 10)
    expected = {(4, c) for c in range(4, 10)} | {(r, 4) for r in range(5, 10)}
    assert set(zip(*np.nonzero(seg2bmap(bottom_right)))) == expected


def test_seg2bmap_bottom_right_pixel_alone_has_three_boundary_pixels():
    mask = np.zeros((6, 6), bool)
    mask[5, 5] = True  # the corner pixel itself is never marked
    assert set(zip(*np.nonzero(seg2bmap(mask)))) == {(4, 4), (4, 5), (5, 4)}


def test_seg2bmap_equals_reference_on_random_masks():
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (1, 7), (7, 1), (2, 2), (5, 6), (31, 17), (64, 97)]:
        for density in (0.05, 0.4, 0.9):
            mask = rng.random(shape) < density
            np.testing.assert_array_equal(seg2bmap(mask), reference_seg2bmap(mask))


# ---------------------------------------------------------------------------------------------------
# J and F, hand-computed


def test_both_empty_gives_one():
    empty = np.zeros((10, 10), bool)
    assert scores(empty, empty) == (1.0, 1.0)


def test_empty_gt_nonempty_prediction():
    empty = np.zeros((10, 10), bool)
    assert scores(empty, box((10, 10), 2, 5, 2, 5)) == (0.0, 0.0)  # P = 0, R = 1 -> F = 0


def test_empty_prediction_nonempty_gt():
    empty = np.zeros((10, 10), bool)
    assert scores(box((10, 10), 2, 5, 2, 5), empty) == (0.0, 0.0)  # P = 1, R = 0 -> F = 0


def test_full_frame_prediction_has_no_boundary_so_f_is_one_against_empty_gt():
    assert scores(np.zeros((10, 10), bool), np.ones((10, 10), bool)) == (0.0, 1.0)


def test_one_pixel_objects():
    shape = (10, 10)  # radius 1: the disk is the 4-neighbourhood cross
    gt = np.zeros(shape, bool)
    gt[5, 5] = True
    same, east, far, diagonal = (np.zeros(shape, bool) for _ in range(4))
    same[5, 5] = east[5, 6] = far[5, 8] = diagonal[6, 6] = True
    assert scores(gt, same) == (1.0, 1.0)
    assert scores(gt, east) == (0.0, 1.0)  # all 4 boundary pixels within 1 px of the other map
    assert scores(gt, far) == (0.0, 0.0)  # P = R = 0
    j, f = scores(gt, diagonal)  # P = R = 3/4
    assert j == 0.0 and f == pytest.approx(0.75, abs=1e-15)


def test_boundary_at_image_edge():
    gt = box((10, 10), 0, 10, 0, 5)
    j, f = scores(gt, box((10, 10), 0, 10, 0, 6))  # boundaries one column apart, radius 1
    assert (j, f) == (50 / 60, 1.0)
    j, f = scores(gt, box((10, 10), 0, 10, 0, 7))  # two columns apart: nothing matches
    assert (j, f) == (50 / 70, 0.0)


def test_partial_match_precision_recall():
    # GT boundary: column 4 (10 px). Prediction: columns 0..4 on rows 0..4 and 0..6 on rows 5..9
    # -> its boundary: column 4 rows 0..4 (matched) + (4, 5), (4, 6) + column 6 rows 5..9 -> 12 px.
    gt = box((10, 10), 0, 10, 0, 5)
    pred = box((10, 10), 0, 10, 0, 5) | box((10, 10), 5, 10, 0, 7)
    pred_bound = seg2bmap(pred)
    assert pred_bound.sum() == 12
    # radius 1: matched prediction pixels: column 4 rows 0..4 and (4, 5) -> 6 of 12;
    # matched GT pixels: column 4 rows 0..4 and (5, 4) (1 px below (4, 4)) -> 6 of 10.
    precision, recall = 6 / 12, 6 / 10
    j, f = scores(gt, pred)
    assert j == 50 / 60
    assert f == pytest.approx(2 * precision * recall / (precision + recall), abs=1e-15)


def test_frame_scores_per_object_ids():
    gt = np.zeros((12, 12), np.uint8)
    gt[1:4, 1:4] = 1
    gt[6:10, 6:10] = 2
    pred = gt.copy()
    pred[6:10, 6:10] = 0  # object 2 missing
    j, f = frame_scores(gt, pred, [1, 2, 3], boundary_radius(gt.shape))
    np.testing.assert_array_equal(j, [1.0, 0.0, 1.0])  # object 3 absent from both: 1
    np.testing.assert_array_equal(f, [1.0, 0.0, 1.0])


# ---------------------------------------------------------------------------------------------------
# Statistics


def test_decay_indices_n67():
    np.testing.assert_array_equal(decay_indices(67), [0, 17, 33, 50, 66])


def test_statistics_small_vector():
    mean, recall, decay = object_statistics(np.array([1.0, 0.8, 0.6, 0.4, 0.2]))
    # bins [0:2], [1:3], [2:4], [3:5] -> D = mean(1, .8) - mean(.4, .2)
    assert mean == pytest.approx(0.6) and recall == 0.6 and decay == pytest.approx(0.6)


def test_recall_is_strictly_greater_than_half():
    assert object_statistics(np.array([0.5, 0.5, 0.6]))[1] == pytest.approx(1 / 3)


def test_statistics_n67_known_vector():
    values = np.arange(67) / 66.0
    mean, recall, decay = object_statistics(values)
    assert mean == pytest.approx(0.5)
    assert recall == pytest.approx(33 / 67)  # values 34/66 .. 66/66
    assert decay == pytest.approx(np.mean(np.arange(0, 18)) / 66 - np.mean(np.arange(50, 67)) / 66)


def test_decay_uint8_wrap_quirk_n300():
    np.testing.assert_array_equal(decay_indices(300), [0, 75, 150, 224, 43])
    np.testing.assert_array_equal(decay_indices(300, official_quirks=False), [0, 75, 150, 224, 299])
    values = np.linspace(1.0, 0.0, 300)
    assert math.isnan(object_statistics(values)[2])
    assert math.isnan(reference_statistics(values)[2])  # the official code does the same
    decay = object_statistics(values, official_quirks=False)[2]
    assert decay == pytest.approx(values[0:76].mean() - values[224:300].mean())


def test_decay_n256_has_no_wrap():
    # edges 0, 64, 128, 191, 255 fit in uint8; the bin end 255 + 1 is 256 as under numpy 1.x (numpy >= 2
    # would wrap it to 0 in the official code: an artefact we do not reproduce)
    values = np.linspace(1.0, 0.0, 256)
    np.testing.assert_array_equal(decay_indices(256), [0, 64, 128, 191, 255])
    expected = values[0:65].mean() - values[191:256].mean()
    assert object_statistics(values)[2] == pytest.approx(expected)
    assert object_statistics(values, official_quirks=False)[2] == pytest.approx(expected)
    assert reference_statistics(values)[2] == pytest.approx(expected)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 66, 67, 100, 255, 257, 300, 513])
def test_statistics_equal_reference_for_many_lengths(n):
    values = np.random.default_rng(n).random(n)
    np.testing.assert_array_equal(object_statistics(values), reference_statistics(values))


def test_statistics_reject_empty():
    with pytest.raises(ValueError):
        object_statistics(np.array([]))


# ---------------------------------------------------------------------------------------------------
# Fast vs reference on random masks


def random_mask(rng, shape):
    """Blobs (possibly touching the border), speckle, or empty/full masks."""
    kind = rng.integers(0, 6)
    if kind == 0:
        return np.zeros(shape, bool)
    if kind == 1:
        return rng.random(shape) > 0.97
    if kind == 2:
        return np.ones(shape, bool)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    mask = np.zeros(shape, bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(-0.1, 1.1, 2) * shape
        ry, rx = rng.uniform(0.02, 0.5, 2) * shape + 0.5
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return mask


@pytest.mark.parametrize("shape, bound_th", [((37, 53), 0.008), ((120, 213), 0.008), ((60, 90), 0.05), ((50, 70), 2.5)])
def test_fast_equals_reference_on_random_masks(shape, bound_th):
    rng = np.random.default_rng(sum(shape))
    for _ in range(40):
        gt, pred = random_mask(rng, shape), random_mask(rng, shape)
        if rng.random() < 0.3:  # near-miss predictions
            pred = np.roll(gt, tuple(rng.integers(-3, 4, 2)), axis=(0, 1))
        j, f = mask_scores(gt, pred, boundary_radius(shape, bound_th))
        assert j == reference_iou(gt, pred)
        assert f == reference_f(gt, pred, bound_th)


def test_fast_equals_reference_at_davis_size():
    rng = np.random.default_rng(7)
    for _ in range(4):
        gt, pred = random_mask(rng, (480, 854)), random_mask(rng, (480, 854))
        assert mask_scores(gt, pred, boundary_radius(gt.shape)) == (reference_iou(gt, pred), reference_f(gt, pred))


@pytest.mark.parametrize("radius", [1.0, 2.0, 5.0, 8.0, 18.0, 2.5])
def test_count_matched_equals_brute_force_distance(radius):
    """Matched-pixel counts (with the square prefilters) equal a brute-force Euclidean distance check."""
    from evaluation.davis_metrics import _count_matched

    rng = np.random.default_rng(int(radius * 10))
    for density in (0.002, 0.01, 0.05):
        source = rng.random((70, 90)) < density
        target = rng.random((70, 90)) < density
        if not target.any() or not source.any():
            continue
        sy, sx = np.nonzero(source)
        ty, tx = np.nonzero(target)
        kernel = disk_kernel(radius)
        if kernel.shape[0] % 2:  # centred disk: within distance r
            d2 = (ty[:, None] - sy[None]) ** 2 + (tx[:, None] - sx[None]) ** 2
            expected = int(np.count_nonzero((d2 <= radius**2).any(axis=1)))
        else:  # off-centre even kernel: compare with a full-image dilation
            import cv2

            expected = int(np.count_nonzero(cv2.dilate(source.astype(np.uint8), kernel).astype(bool) & target))
        assert _count_matched(source, target, kernel) == expected
