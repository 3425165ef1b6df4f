"""Weight-free OpenCV point trackers (`lk`, `flow`) on synthetic videos with known motion.

The videos are made here (not with datasets/synthetic.py): a strongly textured object (smoothed random noise)
on a differently textured background, moved by a known affine per frame (translation + small rotation and
scale) with cv2.warpAffine; the ground-truth track of a point is the same affine applied to it.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from trackers.point.opencv import DenseFlowTracker, LucasKanadeTracker, bilinear_sample
from trackers.point.base import build_point_tracker

HEIGHT, WIDTH = 120, 160
TRACKER_NAMES = ["lk", "flow"]


@pytest.fixture(autouse=True, scope="module")
def _one_opencv_thread():
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(previous)


def texture(rng: np.random.Generator, height: int, width: int, sigma: float) -> np.ndarray:
    """(height, width) float32 in [0, 1]: uniform noise blurred by a Gaussian of `sigma` px, stretched."""
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), sigma)
    return (noise - noise.min()) / (noise.max() - noise.min())


def object_affine(t: int, start: tuple[float, float], velocity: tuple[float, float], angle_per_frame: float,
                  scale_per_frame: float, size: int) -> np.ndarray:
    """(2, 3) affine mapping object-canvas pixels to frame pixels at frame t."""
    centre = ((size - 1) / 2, (size - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle_per_frame * t, 1.0 + scale_per_frame * t)
    matrix[:, 2] += (start[0] + velocity[0] * t, start[1] + velocity[1] * t)
    return matrix


def render(background: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]], num_frames: int
           ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Composite textured layers (back to front) over the background.

    Args:
        background: (H, W, 3) float in [0, 1].
        layers: (texture (h, w, 3), alpha (h, w), per-frame (2, 3) affines) per layer, back to front.

    Returns:
        frames (T, H, W, 3) uint8 RGB, and per layer its (T, H, W) float coverage in the frame.
    """
    frames = []
    coverage = [np.zeros((num_frames, HEIGHT, WIDTH), np.float32) for _ in layers]
    for t in range(num_frames):
        image = background.copy()
        for index, (layer_texture, alpha, affines) in enumerate(layers):
            colour = cv2.warpAffine(layer_texture, affines[t], (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
            cover = cv2.warpAffine(alpha, affines[t], (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
            image = image * (1 - cover[..., None]) + colour * cover[..., None]
            coverage[index][t] = cover
        frames.append(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8))
    return np.stack(frames), coverage


def ground_truth(affines: list[np.ndarray], query_frame: int, xy: np.ndarray) -> np.ndarray:
    """(N, 2) points at `query_frame` -> (T, N, 2) their positions under the per-frame affines."""
    to_object = np.linalg.inv(np.vstack([affines[query_frame], [0, 0, 1]]))
    object_xy = to_object @ np.vstack([xy.T, np.ones(len(xy))])
    return np.stack([(affine @ object_xy).T for affine in affines]).astype(np.float32)


def make_scene(seed: int, num_frames: int, with_occluder: bool):
    """A textured square object (rotating, scaling, translating) and, optionally, an occluder sliding over it.

    Returns frames (T, H, W, 3) uint8, the object's affines, and the coverage maps (T, H, W) of each layer.
    """
    rng = np.random.default_rng(seed)
    background = np.stack([texture(rng, HEIGHT, WIDTH, 4.0) * 0.6 + 0.2] * 3, axis=-1)
    background[..., 0] *= 0.7
    size = 64
    object_texture = np.stack([texture(rng, size, size, 1.2) for _ in range(3)], axis=-1)
    object_alpha = np.zeros((size, size), np.float32)
    object_alpha[8:56, 8:56] = 1
    if with_occluder:
        object_affines = [object_affine(t, (50, 25), (1.0, 0.5), 0.5, 0.0, size) for t in range(num_frames)]
    else:
        object_affines = [object_affine(t, (30, 25), (3.0, 1.5), 1.5, 0.01, size) for t in range(num_frames)]
    layers = [(object_texture, object_alpha, object_affines)]
    if with_occluder:
        occluder_texture = np.stack([texture(rng, 80, 30, 1.5) for _ in range(3)], axis=-1)
        occluder_affines = [np.float32([[1, 0, 5 + 8.0 * t], [0, 1, 20]]) for t in range(num_frames)]
        layers.append((occluder_texture, np.ones((80, 30), np.float32), occluder_affines))
    frames, coverage = render(background, layers, num_frames)
    return frames, object_affines, coverage


def points_inside(mask: np.ndarray, num_points: int, seed: int, margin: int = 7) -> np.ndarray:
    """(num_points, 2) float32 integer (x, y) pixels at least `margin` px inside the boolean mask (H, W)."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool)
    ys, xs = np.nonzero(inner)
    chosen = np.random.default_rng(seed).choice(len(xs), num_points, replace=False)
    return np.stack([xs[chosen], ys[chosen]], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def moving_object():
    frames, affines, coverage = make_scene(seed=0, num_frames=10, with_occluder=False)
    return frames, affines, coverage[0] > 0.5


@pytest.mark.parametrize("name", TRACKER_NAMES)
@pytest.mark.parametrize("query_frame", [0, 5])
def test_recovers_known_affine_motion(name, query_frame, moving_object):
    frames, affines, object_mask = moving_object
    xy = points_inside(object_mask[query_frame], 30, seed=query_frame)
    queries = np.concatenate([np.full((len(xy), 1), query_frame, np.float32), xy], axis=1)
    tracks, visible = build_point_tracker(name).track(frames, queries)
    truth = ground_truth(affines, query_frame, xy)
    error = np.linalg.norm(tracks - truth, axis=-1)
    assert visible.all(), f"{name}: unoccluded textured points lost: visible fraction per frame {visible.mean(1)}"
    assert error.mean() < 1.0, f"{name}: mean error {error.mean():.3f} px"
    assert error.max() < 2.0, f"{name}: max error {error.max():.3f} px"
    np.testing.assert_array_equal(tracks[query_frame], xy)
    if query_frame > 0:  # the backward sweep really moved the points (the object moves ~3.4 px per frame)
        assert error[:query_frame].mean() < 1.0
        assert np.linalg.norm(tracks[0] - xy, axis=-1).min() > 10


@pytest.mark.parametrize("name", TRACKER_NAMES)
def test_queries_on_several_frames_in_one_call(name, moving_object):
    frames, affines, object_mask = moving_object
    groups = {t: points_inside(object_mask[t], 6, seed=10 + t) for t in (0, 3, 9)}
    queries = np.concatenate([np.concatenate([np.full((len(xy), 1), t, np.float32), xy], axis=1)
                              for t, xy in groups.items()])
    order = np.random.default_rng(0).permutation(len(queries))  # queries need not be sorted by frame
    tracks, visible = build_point_tracker(name).track(frames, queries[order])
    truth = np.concatenate([ground_truth(affines, t, xy) for t, xy in groups.items()], axis=1)[:, order]
    assert visible.all()
    assert np.linalg.norm(tracks - truth, axis=-1).mean() < 1.0


@pytest.mark.parametrize("name", TRACKER_NAMES)
def test_occluded_points_are_not_visible(name):
    num_frames = 12
    frames, affines, (object_cover, occluder_cover) = make_scene(seed=0, num_frames=num_frames, with_occluder=True)
    free_at_start = (object_cover[0] > 0.5) & (occluder_cover[0] == 0)
    xy = points_inside(free_at_start, 60, seed=1, margin=5)
    queries = np.concatenate([np.zeros((len(xy), 1), np.float32), xy], axis=1)
    tracks, visible = build_point_tracker(name).track(frames, queries)
    truth = ground_truth(affines, 0, xy)
    covered = np.stack([bilinear_sample(occluder_cover[t][..., None], truth[t])[:, 0] > 0.5
                        for t in range(num_frames)])
    ever_covered = np.maximum.accumulate(covered, axis=0)
    assert covered.sum() > 100, "the scene must occlude many point-frames"
    hidden = (~visible[covered]).mean()
    assert hidden >= 0.9, f"{name}: only {hidden:.1%} of covered point-frames marked not visible"
    # before the occluder reaches them, points stay visible and accurate
    assert visible[~ever_covered].mean() >= 0.8
    error = np.linalg.norm(tracks - truth, axis=-1)
    assert np.median(error[visible & ~ever_covered]) < 0.5
    # lost points keep their last accepted position and never become visible again
    assert (np.diff(visible.astype(np.int8), axis=0) <= 0).all()
    lost = ~visible[-1]
    last_seen = visible.sum(axis=0) - 1
    np.testing.assert_array_equal(tracks[-1, lost], tracks[last_seen[lost], np.flatnonzero(lost)])


@pytest.mark.parametrize("name", TRACKER_NAMES)
def test_shapes_dtypes_and_edge_cases(name, moving_object):
    frames = moving_object[0][:4]
    tracker = build_point_tracker(name)
    tracks, visible = tracker.track(frames, np.array([[1, 50.0, 40.0], [3, 60.5, 45.25]]))
    assert tracks.shape == (4, 2, 2) and tracks.dtype == np.float32
    assert visible.shape == (4, 2) and visible.dtype == bool
    assert visible[1, 0] and visible[3, 1]
    np.testing.assert_array_equal(tracks[3, 1], [60.5, 45.25])
    tracks, visible = tracker.track(frames, np.zeros((0, 3)))
    assert tracks.shape == (4, 0, 2) and visible.shape == (4, 0)
    tracks, visible = tracker.track(frames[:1], np.array([[0, 5.0, 6.0]]))
    assert tracks.shape == (1, 1, 2) and visible.all()


@pytest.mark.parametrize("name", TRACKER_NAMES)
def test_points_leaving_the_frame_become_invisible(name):
    rng = np.random.default_rng(3)
    canvas = (texture(rng, HEIGHT, WIDTH + 60, 1.5) * 255).astype(np.uint8)
    frames = np.stack([np.repeat(canvas[:, 6 * t: 6 * t + WIDTH, None], 3, axis=2) for t in range(8)])  # pans left
    tracks, visible = build_point_tracker(name).track(frames, np.array([[0, 10.0, 60.0], [0, 100.0, 60.0]]))
    assert visible[:, 1].all()
    assert not visible[-1, 0]  # x = 10 - 6 t leaves the frame at t = 2
    assert visible[1, 0]


@pytest.mark.parametrize("name", TRACKER_NAMES)
def test_invalid_inputs_raise(name):
    tracker = build_point_tracker(name)
    frames = np.zeros((3, 20, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        tracker.track(frames.astype(np.float32), np.array([[0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="RGB"):
        tracker.track(frames[..., 0], np.array([[0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="query frame"):
        tracker.track(frames, np.array([[3, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="query frame"):
        tracker.track(frames, np.array([[0.5, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        tracker.track(frames, np.array([[0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="checkpoint"):
        build_point_tracker(name, checkpoint="weights.pth")


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="win_size"):
        LucasKanadeTracker(win_size=2)
    with pytest.raises(ValueError, match="max_level"):
        LucasKanadeTracker(max_level=-1)
    with pytest.raises(ValueError, match="fb_threshold"):
        LucasKanadeTracker(fb_threshold=0)
    with pytest.raises(ValueError, match="preset"):
        DenseFlowTracker(preset="slow")
    with pytest.raises(ValueError, match="finest_scale"):
        DenseFlowTracker(finest_scale=-1)


def test_bilinear_sample_is_exact_on_a_linear_field():
    ys, xs = np.mgrid[0:7, 0:9].astype(np.float32)
    field = np.stack([2 * xs + 1, 3 * ys - xs], axis=-1)
    points = np.array([[0.0, 0.0], [3.25, 4.5], [7.9, 5.99], [8.0, 6.0]], np.float32)
    expected = np.stack([2 * points[:, 0] + 1, 3 * points[:, 1] - points[:, 0]], axis=1)
    np.testing.assert_allclose(bilinear_sample(field, points), expected, atol=1e-5)


@pytest.mark.parametrize("name", TRACKER_NAMES)
def test_frames_are_read_on_demand_once_per_sweep(name, moving_object):
    """A `FrameSource` input is read a frame at a time (each frame once per sweep that passes it: only the
    step's two frames are held) and gives the same tracks as the (T, H, W, 3) array."""
    from infra.frames import FrameSource

    frames, _, object_mask = moving_object
    xy = points_inside(object_mask[5], 10, seed=1)
    queries = np.concatenate([np.full((len(xy), 1), 5, np.float32), xy], axis=1)
    reads = []
    source = FrameSource(lambda t: reads.append(t) or frames[t], len(frames), frames.shape[1:3])
    tracks, visible = build_point_tracker(name).track(source, queries)
    expected_tracks, expected_visible = build_point_tracker(name).track(frames, queries)
    np.testing.assert_array_equal(tracks, expected_tracks)
    np.testing.assert_array_equal(visible, expected_visible)
    assert reads == list(range(5, len(frames))) + list(range(5, -1, -1))
