"""PIPS tracker: official key layout, strict checkpoint loading, window chaining and tracking invariants.

All tests use seeded random weights of our own `PipsNet` on tiny videos (64x64, the smallest size stride 4
allows). Equality with the official code (SAM-PT's PipsPointTracker on the same random weights) is
`tests/trackers/point/test_official_trackers.py`, against the recorded output in `tests/fixtures/official_trackers`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from infra.frames import as_frame_source
from trackers.checkpoints import CHECKPOINTS, CheckpointError
from trackers.point.pips.tracker import PIPS_CHECKPOINT, PipsTracker, load_pips
from trackers.point.pips.net import (
    CORR_RADIUS,
    PipsNet,
    _tap_offsets,
    feature_pyramid,
    local_correlation,
    sample_features_clamped,
    sincos_embedding_3d,
)
from trackers.point.base import build_point_tracker
from tests.trackers.point.support import track_source_and_array
from tests.trackers.point.support import official_keys

T, H, W = 12, 64, 64
QUERIES = np.array(
    [[0, 10.0, 12.0], [0, 40.5, 30.25], [4, 33.0, 20.0], [7, 50.2, 41.7], [11, 5.0, 60.0], [0, 63.0, 0.0]], np.float32
)


def _tame_random_net(seed: int = 0) -> PipsNet:
    """Seeded random PipsNet whose untrained update loop is not chaotic: with the default initialisation the
    position updates are tens of pixels per iteration and float rounding gets amplified without bound; a
    smaller output layer keeps motions of a few pixels, and a visibility bias spreads sigmoid(vis) around the
    0.9 chaining threshold so that windows end at different frames."""
    torch.manual_seed(seed)
    net = PipsNet(window=8, stride=4).eval()
    with torch.no_grad():
        net.delta_block.to_delta[15].weight.mul_(0.05)
        net.vis_predictor[0].bias.fill_(1.5)
    return net


def _video(seed: int = 1, num_frames: int = T) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth random texture translating by (1, 0.5) px per frame."""
    generator = torch.Generator().manual_seed(seed)
    texture = torch.randint(0, 256, (1, 3, H + 2 * num_frames, W + 2 * num_frames), generator=generator).float()
    texture = F.avg_pool2d(texture, 3, 1, 1)[0]
    frames = [texture[:, t // 2:t // 2 + H, t:t + W] for t in range(num_frames)]
    return torch.stack(frames).permute(0, 2, 3, 1).round().to(torch.uint8).numpy()


@pytest.fixture(scope="module")
def official_format_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pips") / "model-000200000.pth"
    state = _tame_random_net().state_dict()
    torch.save({"model_state_dict": state, "optimizer_state_dict": {}}, path)
    return path


@pytest.fixture(scope="module")
def tracker() -> PipsTracker:
    return PipsTracker(net=_tame_random_net(), device="cpu")


@pytest.fixture(scope="module")
def batched_result(tracker):
    return tracker.track(_video(), QUERIES)


# --- weights ---------------------------------------------------------------------------------------------


def test_state_dict_equals_official_key_list():
    official = official_keys("pips")
    ours = {name: tuple(value.shape) for name, value in PipsNet().state_dict().items()}
    assert len(official) == 200
    assert ours == official
    assert sum(math.prod(shape) for shape in ours.values()) == 28_677_713


def test_checkpoint_is_registered():
    assert CHECKPOINTS["pips"] is PIPS_CHECKPOINT
    assert PIPS_CHECKPOINT.filename == "model-000200000.pth"


def test_loads_official_format_strictly(official_format_checkpoint):
    net = load_pips(official_format_checkpoint)
    expected = torch.load(official_format_checkpoint, weights_only=True)["model_state_dict"]
    loaded = net.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)
    assert not net.training
    built = build_point_tracker("pips", checkpoint=str(official_format_checkpoint), device="cpu")
    assert isinstance(built, PipsTracker)


def test_missing_checkpoint_names_file_source_and_make_target(tmp_path):
    missing = tmp_path / "nowhere" / "model-000200000.pth"
    with pytest.raises(CheckpointError) as error:
        PipsTracker(checkpoint=missing)
    message = str(error.value)
    assert str(missing) in message and PIPS_CHECKPOINT.url in message
    assert "make checkpoints MODEL=pips" in message
    with pytest.raises(CheckpointError, match="make checkpoints MODEL=pips"):
        build_point_tracker("pips", checkpoint=str(missing))


def test_wrong_key_wrong_shape_and_wrong_format_are_rejected(tmp_path, official_format_checkpoint):
    state = torch.load(official_format_checkpoint, weights_only=True)["model_state_dict"]
    renamed = dict(state)
    renamed["vis_predictor.1.weight"] = renamed.pop("vis_predictor.0.weight")
    path = tmp_path / "renamed.pth"
    torch.save({"model_state_dict": renamed}, path)
    with pytest.raises(CheckpointError, match=r"vis_predictor\.0\.weight"):
        load_pips(path)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_pips(official_format_checkpoint, window=4)  # S is baked into the mixer's shapes
    plain = tmp_path / "plain.pth"
    torch.save(state, plain)
    with pytest.raises(CheckpointError, match="model_state_dict"):
        load_pips(plain)


# --- building blocks ---------------------------------------------------------------------------------------


def test_local_correlation_equals_sampling_the_full_correlation_volume():
    torch.manual_seed(0)
    frames, points, channels = 2, 5, 16
    pyramid = feature_pyramid(torch.randn(frames, channels, 16, 24))
    feats = torch.randn(frames, points, channels)
    coords = torch.rand(frames, points, 2) * torch.tensor([30.0, 22.0]) - 3  # some taps fall outside
    ours = local_correlation(pyramid, feats, coords)
    offsets = _tap_offsets(CORR_RADIUS, "cpu")
    expected = []
    for level, fmaps in enumerate(pyramid):
        height, width = fmaps.shape[-2:]
        volume = torch.einsum("fnc,fchw->fnhw", feats, fmaps).reshape(frames * points, 1, height, width)
        taps = coords.reshape(-1, 1, 2) / 2**level + offsets  # (F*N, K, 2), x offset slowest
        grid = (2 * taps / torch.tensor([width - 1.0, height - 1.0]) - 1)[:, None]
        expected.append(F.grid_sample(volume, grid, align_corners=True, padding_mode="zeros").reshape(frames, points, -1))
    expected = torch.cat(expected, dim=-1) / math.sqrt(channels)
    assert ours.shape == (frames, points, 4 * 49)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(offsets[1], torch.tensor([-3.0, -2.0]))  # x offset varies slowest


def test_feature_sampling_clamps_to_the_edge():
    fmaps = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    xy = torch.tensor([[1.5, 2.0], [-3.0, -1.0], [9.0, 7.5], [4.5, 0.25]])
    frame = torch.tensor([0, 1, 1, 0])
    out = sample_features_clamped(fmaps, frame, xy)
    torch.testing.assert_close(out[0], (fmaps[0, :, 2, 1] + fmaps[0, :, 2, 2]) / 2)
    torch.testing.assert_close(out[1], fmaps[1, :, 0, 0])
    torch.testing.assert_close(out[2], fmaps[1, :, 3, 4])
    torch.testing.assert_close(out[3], 0.75 * fmaps[0, :, 0, 4] + 0.25 * fmaps[0, :, 1, 4])


def test_sincos_embedding_layout():
    xyz = torch.tensor([[[0.5, -2.0, 8.0 / 7.0]]])
    out = sincos_embedding_3d(xyz)
    assert out.shape == (1, 1, 195)
    freq = 2 * 3 * 1000.0 / 64  # pair k=3
    torch.testing.assert_close(out[0, 0, 6], torch.sin(torch.tensor(0.5 * freq)))
    torch.testing.assert_close(out[0, 0, 64 + 7], torch.cos(torch.tensor(-2.0 * freq)))
    torch.testing.assert_close(out[0, 0, -3:], xyz[0, 0])


def test_single_window_locks_frame_zero_and_shapes():
    net = _tame_random_net()
    frames = torch.from_numpy(_video(num_frames=8)).permute(0, 3, 1, 2)[None].float()
    xy = torch.tensor([[[10.0, 12.0], [40.5, 30.25], [63.0, 0.0]]])
    with torch.no_grad():
        trajectories, logits, feats = net(xy, frames, iters=3)
    assert len(trajectories) == 3 and all(t.shape == (1, 8, 3, 2) for t in trajectories)
    assert logits.shape == (1, 8, 3) and feats.shape == (1, 3, 128)
    assert all(torch.equal(t[:, 0], xy) for t in trajectories)
    assert (trajectories[-1][:, 1:] != xy[:, None]).any()  # the other frames moved


# --- chaining ---------------------------------------------------------------------------------------------


def _reference_jump(column: list[float], start: float = 0.9, step: float = 0.02) -> int:
    """SAM-PT's rule written as a plain loop: furthest frame above the threshold, lowered while none is."""
    threshold = np.float32(start)
    while True:
        for offset in range(len(column), 0, -1):
            if column[offset - 1] > threshold:
                return offset
        threshold = np.float32(threshold - np.float32(step))


def test_jump_to_furthest_frame_above_a_lowering_threshold(tracker):
    columns = [
        [0.95, 0.5, 0.92, 0.3, 0.1, 0.2, 0.3],  # 0.92 at offset 3 is the furthest above 0.9
        [0.5, 0.85, 0.87, 0.2, 0.1, 0.1, 0.1],  # none above 0.9 or 0.88: 0.87 > 0.86 at offset 3
        [0.0] * 7,  # nothing visible: threshold falls below 0, the furthest frame wins
        [0.91, 0.1, 0.1, 0.1, 0.1, 0.1, 0.999],
    ]
    probs = torch.tensor(columns, dtype=torch.float32).T  # (L, M)
    assert tracker._jump(probs).tolist() == [3, 3, 7, 7]
    random_probs = torch.rand(5, 200, generator=torch.Generator().manual_seed(0)) ** 3
    expected = [_reference_jump(random_probs[:, m].tolist()) for m in range(200)]
    assert tracker._jump(random_probs).tolist() == expected


# --- tracking ---------------------------------------------------------------------------------------------


def test_output_shapes_dtypes_and_query_lock(batched_result):
    tracks, visible = batched_result
    assert tracks.shape == (T, len(QUERIES), 2) and tracks.dtype == np.float32
    assert visible.shape == (T, len(QUERIES)) and visible.dtype == bool
    assert np.isfinite(tracks).all()
    for n, (t, x, y) in enumerate(QUERIES):
        assert tracks[int(t), n].tolist() == [x, y]
        assert visible[int(t), n]


def test_long_video_and_backward_tracking_cover_every_frame(tracker):
    frames = _video()
    with torch.inference_mode():
        tracks, probs = tracker.track_tensors(as_frame_source(frames), torch.from_numpy(QUERIES))
    assert (probs > 0).all(), "every frame before and after each query frame is predicted"
    assert 0.05 < (probs > 0.5).float().mean() < 1.0, "visibility varies with these weights"
    moved = (tracks - torch.from_numpy(QUERIES[:, 1:])).abs().amax(dim=-1)
    assert (moved[0, 2:5] > 0).all(), "points queried on later frames are tracked back to frame 0"
    assert (moved[-1, [0, 1, 2, 3, 5]] > 0).all(), "points queried before the last frame reach it"


def test_backward_is_forward_on_the_reversed_video(tracker, batched_result):
    frames = _video()
    late = QUERIES[3:4].copy()  # queried on frame 7: frames 0-6 come from the backward pass
    reversed_query = late.copy()
    reversed_query[:, 0] = T - 1 - late[:, 0]
    tracks, visible = tracker.track(frames, late)
    tracks_rev, visible_rev = tracker.track(frames[::-1].copy(), reversed_query)
    np.testing.assert_allclose(tracks[:7], tracks_rev[::-1][:7], atol=1e-4)
    assert np.array_equal(visible[:7], visible_rev[::-1][:7])
    np.testing.assert_allclose(tracks, batched_result[0][:, 3:4], atol=1e-3)


def test_batched_equals_one_by_one(tracker, batched_result):
    frames = _video()
    for n in (2, 4):  # queried on frames 4 and 11: both directions, and backward only
        tracks, visible = tracker.track(frames, QUERIES[n:n + 1])
        np.testing.assert_allclose(tracks[:, 0], batched_result[0][:, n], atol=1e-3)
        assert np.array_equal(visible[:, 0], batched_result[1][:, n])


def test_point_chunks_do_not_change_results(tracker, batched_result):
    chunked = PipsTracker(net=tracker.net, device="cpu", point_chunk=2)
    tracks, visible = chunked.track(_video(), QUERIES)
    np.testing.assert_allclose(tracks, batched_result[0], atol=1e-3)
    assert np.array_equal(visible, batched_result[1])


def test_deterministic(tracker, batched_result):
    tracks, visible = tracker.track(_video(), QUERIES)
    assert np.array_equal(tracks, batched_result[0]) and np.array_equal(visible, batched_result[1])


def test_degenerate_inputs(tracker):
    frames = _video(num_frames=3)
    tracks, visible = tracker.track(frames, np.zeros((0, 3), np.float32))
    assert tracks.shape == (3, 0, 2) and visible.shape == (3, 0)
    tracks, visible = tracker.track(frames[:1], QUERIES[:1])
    assert tracks.tolist() == [[[10.0, 12.0]]] and visible.tolist() == [[True]]
    with pytest.raises(ValueError, match="at least 64x64"):
        tracker.track(np.zeros((3, 48, 64, 3), np.uint8), QUERIES[:1])
    with pytest.raises(ValueError, match="query frame indices"):
        tracker.track(frames, np.array([[3, 1.0, 1.0]], np.float32))


def test_frame_source_equals_array_and_is_read_a_chunk_at_a_time(tracker):
    """Frames read on demand give bit-identical output; with chunks of 4 at most 4 of the 12 frames are alive."""
    chunked = PipsTracker(net=tracker.net, device="cpu", encoder_chunk=4)
    _, _, stats = track_source_and_array(chunked, _video(), QUERIES)
    assert stats["most_alive"] <= 4 and stats["reads"] >= T
