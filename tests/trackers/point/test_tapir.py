"""TAPIR / BootsTAPIR trackers (`trackers.point.tapir.tracker`, network in `trackers.point.tapir.net`): checkpoint layout and loading,
errors, the wrapper's coordinate conventions, and the network's building blocks.

No official weights are available here; checkpoints are written in tmp from our network with random values (its
names and shapes are checked against the official key lists in `reference/keys/`). Equality with the official
`tapnet/torch` TAPIR on the same random weights is tested in `tests/trackers/point/test_official_trackers.py`. To keep
tests fast, most use a 64x64 cost-volume resolution (`initial_resolution`); the official one is 256x256.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trackers.checkpoints import CheckpointError
from trackers.point.base import build_point_tracker
from trackers.point.tapir.tracker import BootsTapirTracker, TapirTracker
from trackers.point.tapir.net import (TapirNet, default_refinement_resolutions, sample_neighbourhood, sample_query_features,
                                soft_argmax)
import trackers.point.tapir.tracker as tapir_tracker
from tests.trackers.point.support import counting_source
from tests.trackers.point.support import official_keys

FAST = dict(device="cpu", resolution=(64, 64), initial_resolution=(64, 64))


def random_state_dict(pyramid_level: int, extra_convs: bool, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = TapirNet(pyramid_level=pyramid_level, extra_convs=extra_convs)
    with torch.no_grad():
        for parameter in model.parameters():  # move the norms' affine parameters away from 1 / 0 too
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return model.state_dict()


@pytest.fixture(scope="module")
def tapir_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tapir") / "tapir_checkpoint_panning.pt"
    torch.save(random_state_dict(0, False, seed=0), path)
    return path


@pytest.fixture(scope="module")
def bootstapir_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bootstapir") / "bootstapir_checkpoint_v2.pt"
    torch.save(random_state_dict(1, True, seed=1), path)
    return path


@pytest.fixture(scope="module")
def bootstapir(bootstapir_checkpoint) -> BootsTapirTracker:
    return BootsTapirTracker(bootstapir_checkpoint, **FAST)


def random_video(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------------ checkpoints

@pytest.mark.parametrize("name, pyramid_level, extra_convs, count", [("tapir", 0, False, 188),
                                                                     ("bootstapir", 1, True, 218)])
def test_network_matches_official_key_list(name, pyramid_level, extra_convs, count):
    expected = official_keys(name)
    assert len(expected) == count
    ours = {key: tuple(value.shape) for key, value in TapirNet(pyramid_level, extra_convs).state_dict().items()}
    assert ours == expected


def test_loads_official_format_strictly(tapir_checkpoint, bootstapir_checkpoint, bootstapir):
    saved = torch.load(bootstapir_checkpoint, weights_only=True)
    for key, value in bootstapir.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    tapir = build_point_tracker("tapir", checkpoint=str(tapir_checkpoint), **FAST)
    assert isinstance(tapir, TapirTracker) and tapir.model.extra_convs is None
    # each checkpoint's softmax temperature by default (BootsTAPIR: its training config's 10), or the one given
    assert (tapir.model.softmax_temperature, bootstapir.model.softmax_temperature) == (20.0, 10.0)
    given = build_point_tracker("bootstapir", checkpoint=str(bootstapir_checkpoint), softmax_temperature=20, **FAST)
    assert given.model.softmax_temperature == 20.0


def test_checkpoint_of_the_other_model_is_rejected(tapir_checkpoint, bootstapir_checkpoint):
    with pytest.raises(CheckpointError, match=r"tapir_checkpoint_panning\.pt.*missing keys.*extra_convs"):
        BootsTapirTracker(tapir_checkpoint, **FAST)
    with pytest.raises(CheckpointError, match=r"bootstapir_checkpoint_v2\.pt.*unexpected keys.*extra_convs"):
        TapirTracker(bootstapir_checkpoint, **FAST)


def test_missing_checkpoint_error_names_file_source_and_make_target(tmp_path):
    missing = tmp_path / "bootstapir_checkpoint_v2.pt"
    with pytest.raises(CheckpointError) as error:
        BootsTapirTracker(missing, **FAST)
    message = str(error.value)
    assert str(missing) in message
    assert "https://storage.googleapis.com/dm-tapnet/bootstap/bootstapir_checkpoint_v2.pt" in message
    assert "make checkpoints MODEL=bootstapir" in message
    with pytest.raises(CheckpointError, match="make checkpoints MODEL=tapir"):
        TapirTracker(tmp_path / "tapir_checkpoint_panning.pt", **FAST)


def test_unreadable_and_wrong_files(tmp_path):
    npy = tmp_path / "tapir_checkpoint_panning.npy"
    np.save(npy, {"params": np.zeros(3)}, allow_pickle=True)
    with pytest.raises(CheckpointError, match=r"tapir_checkpoint_panning\.npy.*JAX \.npy files are not supported"):
        TapirTracker(npy, **FAST)
    nested = tmp_path / "nested.pt"
    torch.save({"state_dict": {"a": torch.zeros(1)}}, nested)
    with pytest.raises(CheckpointError, match=r"nested\.pt.*not a plain state_dict"):
        TapirTracker(nested, **FAST)


def test_bad_options(tapir_checkpoint):
    with pytest.raises(ValueError, match="multiples of 8"):
        TapirTracker(tapir_checkpoint, device="cpu", resolution=(250, 256))
    with pytest.raises(ValueError, match="visibility_threshold"):
        TapirTracker(tapir_checkpoint, device="cpu", visibility_threshold=1.5)
    with pytest.raises(ValueError, match="query_chunk_size"):
        TapirTracker(tapir_checkpoint, device="cpu", query_chunk_size=0)
    with pytest.raises(ValueError, match="unknown TAPIR coordinates 'authors'; valid: centres, sampt"):
        TapirTracker(tapir_checkpoint, device="cpu", coordinates="authors")


# ------------------------------------------------------------------------------------------------ tracking

def test_shapes_determinism_query_frames_and_chunking(bootstapir):
    frames = random_video(2, 48, 80)
    queries = np.array([[0, 10.0, 20.0], [1, 70.5, 40.25], [1, 0.0, 47.0], [0, 30.0, 5.0]], np.float32)
    tracks, visible = bootstapir.track(frames, queries)
    assert tracks.shape == (2, 4, 2) and tracks.dtype == np.float32
    assert visible.shape == (2, 4) and visible.dtype == bool
    assert np.isfinite(tracks).all()
    for n, (t, x, y) in enumerate(queries):
        np.testing.assert_array_equal(tracks[int(t), n], [x, y])
        assert visible[int(t), n]
    again = bootstapir.track(frames, queries)
    np.testing.assert_array_equal(again[0], tracks)
    np.testing.assert_array_equal(again[1], visible)
    # queries are independent: chunks of 1 and each query alone give the same result
    raw = bootstapir.predict(frames, queries)
    bootstapir.model.query_chunk_size, bootstapir.model.feature_chunk_size = 1, 1
    try:
        raw_chunked = bootstapir.predict(frames, queries)
    finally:
        bootstapir.model.query_chunk_size, bootstapir.model.feature_chunk_size = 64, 10
    for key in raw:
        np.testing.assert_allclose(raw_chunked[key], raw[key], atol=1e-4)
    alone = bootstapir.predict(frames, queries[1:2])
    np.testing.assert_allclose(alone["tracks"][:, 0], raw["tracks"][:, 1], atol=1e-4)
    empty_tracks, empty_visible = bootstapir.track(frames, np.zeros((0, 3), np.float32))
    assert empty_tracks.shape == (2, 0, 2) and empty_visible.shape == (2, 0)


class _EchoNet(torch.nn.Module):
    """Stands in for TapirNet's parts the tracker calls: every frame's track is the query position; fixed logits;
    records the video it encodes and the query points it estimates with."""

    feature_chunk_size = 10

    def __init__(self, occlusion: float, expected_dist: float):
        super().__init__()
        self.logits = (occlusion, expected_dist)
        self.seen = {}

    def encode_resolutions(self, video, resolutions):
        self.seen["video"] = video
        return [(video, video) for _ in resolutions]

    def query_features(self, grids, query_points, size):
        return None

    def estimate(self, grids, query_features, query_points, size, resolutions):
        self.seen["query_points"] = query_points
        batch, num_points = query_points.shape[:2]
        frames = grids[0][0].shape[1]
        tracks = query_points[:, :, None, [2, 1]].expand(batch, num_points, frames, 2)
        full = torch.ones(batch, num_points, frames)
        return {"tracks": tracks, "occlusion": full * self.logits[0], "expected_dist": full * self.logits[1]}


@pytest.mark.parametrize("coordinates, offset", [("centres", 0.5), ("sampt", 0.0)])
def test_wrapper_coordinate_conventions(bootstapir, bootstapir_checkpoint, coordinates, offset):
    """(t, x, y) pixels -> (t, y, x) raster coordinates of the resized video and back, video in [-1, 1]: pixel
    centres onto pixel centres, or (SAM-PT's wrapper) scaled by the size ratio alone."""
    frames = random_video(2, 48, 80, seed=3)
    frames[0, 0, 0] = 0
    frames[0, 0, 1] = 255
    queries = np.array([[1, 79.0, 0.0], [0, 12.25, 33.5]], np.float32)
    tracker = bootstapir if coordinates == "centres" else BootsTapirTracker(bootstapir_checkpoint, **FAST,
                                                                            coordinates=coordinates)
    original = tracker.model
    try:
        tracker.model = _EchoNet(occlusion=-4.0, expected_dist=-4.0)
        tracks, visible = tracker.track(frames, queries)
        seen = tracker.model.seen
    finally:
        tracker.model = original
    video, query_points = seen["video"], seen["query_points"]
    assert video.shape == (1, 2, 64, 64, 3)
    assert float(video.min()) >= -1.0 and float(video.max()) <= 1.0
    np.testing.assert_allclose(query_points[0].numpy(), [[1, offset * 64 / 48, (79 + offset) * 64 / 80],
                                                         [0, (33.5 + offset) * 64 / 48, (12.25 + offset) * 64 / 80]],
                               rtol=1e-6)
    np.testing.assert_allclose(tracks, np.broadcast_to(queries[:, 1:], (2, 2, 2)), atol=1e-4)
    assert visible.all()  # (1 - sigmoid(-4))^2 = 0.965 > 0.5


@pytest.mark.parametrize("occlusion, expected_dist, threshold, visible_expected", [
    (0.0, -10.0, 0.5, False),  # 0.5 * ~1 is not > 0.5
    (-1.0, -1.0, 0.5, True),  # 0.731^2 = 0.534
    (1.0, 1.0, 0.5, False),  # 0.269^2 = 0.072
    (1.0, 1.0, 0.05, True),
])
def test_visibility_rule(bootstapir, occlusion, expected_dist, threshold, visible_expected):
    frames = random_video(3, 16, 16)
    original, original_threshold = bootstapir.model, bootstapir.visibility_threshold
    try:
        bootstapir.model = _EchoNet(occlusion, expected_dist)
        bootstapir.visibility_threshold = threshold
        _, visible = bootstapir.track(frames, np.array([[1, 5.0, 5.0]], np.float32))
    finally:
        bootstapir.model, bootstapir.visibility_threshold = original, original_threshold
    assert visible[[0, 2], 0].tolist() == [visible_expected] * 2
    assert visible[1, 0]  # the query frame is always visible


def test_tapir_runs_with_refinement_at_two_resolutions(tapir_checkpoint):
    tracker = TapirTracker(tapir_checkpoint, device="cpu", resolution=(64, 96), initial_resolution=(64, 64))
    assert default_refinement_resolutions((64, 96), (64, 64)) == [(64, 64), (64, 96)]
    tracks, visible = tracker.track(random_video(2, 30, 50), np.array([[1, 20.0, 10.0]], np.float32))
    assert tracks.shape == (2, 1, 2) and np.isfinite(tracks).all() and visible[1, 0]


# ------------------------------------------------------------------------------------------------ building blocks

def test_temporal_reach_is_where_a_frame_stops_mattering():
    """Changing one frame's features changes the outputs of frames within `temporal_reach` of it and leaves every
    other frame's outputs bit-identical (two refinement passes: 2 x 24 = 48 frames), which is what makes the
    windows exact; the change does reach (nearly) that far, so the reach is not generous either."""
    torch.manual_seed(0)
    model = TapirNet(pyramid_level=1, extra_convs=True, num_pips_iter=2, initial_resolution=(32, 32)).eval()
    video = torch.rand(1, 110, 32, 32, 3) * 2 - 1
    queries = torch.tensor([[[0, 10.0, 12.0], [60, 20.0, 5.0]]])
    resolutions = model.resolutions((32, 32))
    reach = model.temporal_reach(len(resolutions) - 1)
    assert resolutions == [(32, 32), (32, 32)] and reach == 48
    with torch.no_grad():
        grids = model.encode_resolutions(video, resolutions)
        features = model.query_features(grids, queries, (32, 32))
        before = model.estimate(grids, features, queries, (32, 32), resolutions)
        for grid in grids[0]:  # both resolutions share these tensors
            grid[:, 50] += torch.randn_like(grid[:, 50])
        after = model.estimate(grids, features, queries, (32, 32), resolutions)
    changed = torch.zeros(110, dtype=torch.bool)
    for key in before:
        difference = (after[key] - before[key]).abs()
        changed |= difference.reshape(1, 2, 110, -1).amax(dim=(0, 1, 3)) > 0
    frames = torch.nonzero(changed).flatten()
    assert frames.min() >= 50 - reach and frames.max() <= 50 + reach
    assert frames.min() <= 50 - reach + 4 and frames.max() >= 50 + reach - 4



def test_default_refinement_resolutions_are_log_spaced_multiples_of_8():
    assert default_refinement_resolutions((256, 256)) == [(256, 256)]
    assert default_refinement_resolutions((128, 128)) == [(256, 256)]
    assert default_refinement_resolutions((512, 512)) == [(256, 256), (512, 512)]
    resolutions = default_refinement_resolutions((480, 854))
    assert resolutions[0] == (256, 256) and resolutions[-1] == (480, 848)
    assert len(resolutions) == 3 and all(h % 8 == 0 and w % 8 == 0 for h, w in resolutions)


def test_soft_argmax_uses_cells_near_the_peak_with_half_pixel_centres():
    heatmap = torch.zeros(1, 1, 1, 12, 12)
    heatmap[..., 3, 4] = 0.6  # peak at x=4, y=3 -> centre (4.5, 3.5)
    heatmap[..., 3, 6] = 0.2  # 2 cells right: inside the radius of 5
    heatmap[..., 11, 11] = 0.2  # far away: ignored
    point = soft_argmax(heatmap)[0, 0, 0]
    np.testing.assert_allclose(point.numpy(), [(0.6 * 4.5 + 0.2 * 6.5) / 0.8, 3.5], rtol=1e-6)


def test_neighbourhood_sampling_normalises_x_by_height():
    """The official quirk: on a non-square grid, x is normalised by the height as well."""
    grid = torch.arange(4 * 8, dtype=torch.float32).reshape(1, 1, 4, 8, 1)  # value = 8 * row + column
    points = torch.tensor([[[[[1.5, 1.5]]]]])  # (y, x) raster = centre of cell (1, 1)
    value = sample_neighbourhood(grid, points)[0, 0, 0, 0, 0]
    # x in [-1, 1] is 2 * 1.5 / 4 - 1 = -0.25, i.e. column (−0.25 + 1) * 8 / 2 - 0.5 = 2.5 of the 8-wide grid
    assert value.item() == pytest.approx(8 * 1 + 2.5)
    square = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4, 1)
    assert sample_neighbourhood(square, points)[0, 0, 0, 0, 0].item() == pytest.approx(5.0)


def test_query_features_are_taken_at_the_query_frame_and_position():
    grid = torch.zeros(1, 3, 4, 4, 2)
    grid[0, 1, 2, 3] = torch.tensor([1.0, -1.0])
    features = sample_query_features(grid, torch.tensor([[[1.0, 2.5, 3.5], [0.0, 2.5, 3.5]]]))
    np.testing.assert_allclose(features[0].numpy(), [[1.0, -1.0], [0.0, 0.0]], atol=1e-6)


def smooth_video(num_frames: int, height: int, width: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a blurred random texture panning by (1, 1) px per frame (points have something to
    follow)."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 256, (height + num_frames, width + num_frames, 3)).astype(np.float32)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1) + np.roll(texture, 1, (0, 1))) / 4
    return np.stack([texture[t:t + height, t:t + width] for t in range(num_frames)]).round().astype(np.uint8)


class _RecordingSlidingFeatures(tapir_tracker.SlidingFeatures):
    instances = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instances.append(self)


def test_windows_give_the_whole_video_result_in_bounded_memory(bootstapir_checkpoint, monkeypatch):
    """One refinement pass (temporal reach 24 frames): windows of 56 frames over 70 ([0, 56), [8, 64), [16, 70),
    keeping [0, 32), [32, 40), [40, 70)) must give the one-window result, encoding each frame once and holding
    at most a window's features (plus a chunk encoded ahead)."""
    options = dict(FAST, num_pips_iter=1)
    whole = BootsTapirTracker(bootstapir_checkpoint, **options, window_frames=1000)
    windowed = BootsTapirTracker(bootstapir_checkpoint, **options, window_frames=56)
    frames = smooth_video(70, 40, 56)
    queries = np.array([[0, 10.0, 20.0], [0, 40.5, 12.0], [35, 30.0, 25.0], [69, 20.0, 30.0], [50, 5.0, 35.0]],
                       np.float32)
    expected = whole.predict(frames, queries)
    monkeypatch.setattr(tapir_tracker, "SlidingFeatures", _RecordingSlidingFeatures)
    _RecordingSlidingFeatures.instances = []
    source, stats = counting_source(frames)
    got = windowed.predict(source, queries)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-4, err_msg=key)
    assert np.abs(expected["tracks"] - expected["tracks"][:1]).max() > 5  # the points do move
    (features,) = _RecordingSlidingFeatures.instances
    assert features.most_frames_held <= 56 + 9
    # each frame once, and the 4 query frames once more for the query features
    assert features.frames_encoded == 70 and stats["reads"] == 70 + 4


def test_window_frames_must_exceed_twice_the_reach(tapir_checkpoint):
    assert TapirTracker(tapir_checkpoint, **FAST).window_frames == 2 * 96 + tapir_tracker.DEFAULT_KEPT_FRAMES
    assert TapirTracker(tapir_checkpoint, **FAST, num_pips_iter=2).window_frames == 2 * 48 + 96
    with pytest.raises(ValueError, match=r"window_frames must be an integer above 192 .*reach of 96 frames.*got 192"):
        TapirTracker(tapir_checkpoint, **FAST, window_frames=192)
    with pytest.raises(ValueError, match=r"above 384 .*2 refinement resolution"):
        TapirTracker(tapir_checkpoint, device="cpu", resolution=(64, 96), initial_resolution=(64, 64),
                     window_frames=300)


def test_frame_source_equals_array(bootstapir):
    frames = random_video(3, 48, 80)
    queries = np.array([[0, 10.0, 20.0], [2, 70.5, 40.25]], np.float32)
    source, _ = counting_source(frames)
    expected = bootstapir.track(frames, queries)
    tracks, visible = bootstapir.track(source, queries)
    assert np.array_equal(tracks, expected[0]) and np.array_equal(visible, expected[1])
