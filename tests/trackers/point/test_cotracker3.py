"""CoTracker3 offline/online trackers: official key layout, checkpoint loading, tracking behaviour.

Networks use deterministic synthetic weights (`synthetic_state_dict`) saved in the official checkpoint
format, and run at a reduced ``model_resolution`` with fewer refinement iterations and a smaller support
grid to stay fast on CPU (the transformer over tracks x frames dominates the cost). Equality with the
official predictors on the same random weights is tested in `tests/trackers/point/test_official_trackers.py`.
"""
from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.trackers.point.support import track_source_and_array
from trackers.checkpoints import CHECKPOINTS, CheckpointError
from trackers.point.cotracker3.tracker import CoTracker3OfflineTracker, CoTracker3OnlineTracker, support_grid
from trackers.point.cotracker3.net import (
    OFFLINE_WINDOW,
    ONLINE_WINDOW,
    CoTracker3Net,
    online_window_starts,
    posenc,
    track_offline,
    track_online,
)
from trackers.point.base import TRACKERS, build_point_tracker

from tests.trackers.point.support import KEYS_DIR
RESOLUTION = (64, 96)
FAST = {"model_resolution": RESOLUTION, "iters": 2, "support_grid_size": 3}


def synthetic_state_dict(window_len: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Deterministic random weights under the official keys: (fan-in scaled) normal weights, small biases,
    output heads scaled so that tracks move by a few pixels, and the sinusoidal ``time_emb``."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, value in CoTracker3Net(window_len).state_dict().items():
        if name == "time_emb":
            state[name] = value.clone()
            continue
        if name.endswith("virual_tracks"):
            std = 1.0
        elif value.ndim >= 2:
            std = 1.0 / math.sqrt(math.prod(value.shape[1:]))
        else:
            std = 0.02
        state[name] = torch.randn(value.shape, generator=generator) * std
        if name.endswith("norm_context.weight"):
            state[name] += 1.0
    state["updateformer.flow_head.weight"] *= 0.02 / state["updateformer.flow_head.weight"].std()
    state["updateformer.vis_conf_head.weight"] *= 0.02 / state["updateformer.vis_conf_head.weight"].std()
    state["updateformer.vis_conf_head.bias"] = torch.tensor([1.05, 1.2])
    return state


def moving_texture(num_frames: int, height: int = 48, width: int = 64) -> np.ndarray:
    """(T, H, W, 3) uint8 smooth pattern translating by (1.5, 0.75) px per frame."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for t in range(num_frames):
        u, v = x - 1.5 * t, y - 0.75 * t
        channels = [np.sin(u / 5.0) * np.cos(v / 7.0), np.sin((u + 2 * v) / 9.0), np.cos((u - v) / 6.0)]
        frames.append(np.stack(channels, axis=-1))
    return np.round(127.5 + 120 * np.stack(frames)).astype(np.uint8)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cotracker3")
    paths = {}
    for variant, window in (("offline", OFFLINE_WINDOW), ("online", ONLINE_WINDOW)):
        paths[variant] = folder / f"scaled_{variant}.pth"
        torch.save(synthetic_state_dict(window), paths[variant])
    return paths


@pytest.fixture(scope="module")
def offline(checkpoints) -> CoTracker3OfflineTracker:
    return CoTracker3OfflineTracker(checkpoint=checkpoints["offline"], device="cpu", **FAST)


@pytest.fixture(scope="module")
def online(checkpoints) -> CoTracker3OnlineTracker:
    return CoTracker3OnlineTracker(checkpoint=checkpoints["online"], device="cpu", **FAST)


def with_options(tracker, **options):
    """A shallow copy of ``tracker`` (sharing its network) with other run options."""
    tracker = copy.copy(tracker)
    for name, value in options.items():
        setattr(tracker, name, value)
    return tracker


def read_keys(name: str) -> list[str]:
    lines = (KEYS_DIR / f"cotracker3_{name}_keys.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


# ---- official layout and checkpoints ---------------------------------------------------------------
@pytest.mark.parametrize("name, window", [("offline", OFFLINE_WINDOW), ("online", ONLINE_WINDOW)])
def test_state_dict_equals_official_key_list(name, window):
    ours = [f"{key} {'x'.join(map(str, value.shape))}" for key, value in CoTracker3Net(window).state_dict().items()]
    official = read_keys(name)
    assert len(official) == 188
    assert ours == official
    parameters = sum(p.numel() for p in CoTracker3Net(window).parameters())
    assert parameters == 25_385_700


def test_offline_and_online_key_lists_differ_only_in_time_emb():
    offline_keys, online_keys = read_keys("offline"), read_keys("online")
    differing = [(a, b) for a, b in zip(offline_keys, online_keys) if a != b]
    assert differing == [("time_emb 1x60x1110", "time_emb 1x16x1110")]


def test_registered():
    assert TRACKERS["cotracker3_offline"] == "trackers.point.cotracker3.tracker:CoTracker3OfflineTracker"
    assert TRACKERS["cotracker3_online"] == "trackers.point.cotracker3.tracker:CoTracker3OnlineTracker"
    assert CHECKPOINTS["cotracker3_offline"].filename == "scaled_offline.pth"
    assert CHECKPOINTS["cotracker3_online"].url.endswith("facebook/cotracker3/resolve/main/scaled_online.pth")
    assert CoTracker3OfflineTracker.needs_checkpoint and CoTracker3OnlineTracker.needs_checkpoint


def test_loads_plain_and_wrapped_state_dicts_strictly(checkpoints, offline, tmp_path):
    saved = torch.load(checkpoints["offline"], weights_only=True)
    for key, value in offline.net.state_dict().items():
        assert torch.equal(value, saved[key]), key
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"model": saved}, wrapped)
    tracker = build_point_tracker("cotracker3_offline", checkpoint=str(wrapped), device="cpu", model_resolution=RESOLUTION)
    assert torch.equal(tracker.net.corr_mlp.fc1.weight, saved["corr_mlp.fc1.weight"])


def test_mismatching_keys_raise(checkpoints, tmp_path):
    state = torch.load(checkpoints["offline"], weights_only=True)
    state["updateformer.extra.weight"] = torch.zeros(1)
    del state["corr_mlp.fc2.bias"]
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="1 missing keys.*corr_mlp.fc2.bias.*1 unexpected keys"):
        CoTracker3OfflineTracker(checkpoint=path, device="cpu")


def test_wrong_shape_raises(checkpoints, tmp_path):
    state = torch.load(checkpoints["online"], weights_only=True)
    state["corr_mlp.fc1.weight"] = torch.zeros(10, 10)
    path = tmp_path / "bad_shape.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="does not fit"):
        CoTracker3OnlineTracker(checkpoint=path, device="cpu")


def test_missing_checkpoint_names_file_source_and_make_target(tmp_path):
    with pytest.raises(CheckpointError) as error:
        CoTracker3OfflineTracker(checkpoint=tmp_path / "nowhere.pth", device="cpu")
    message = str(error.value)
    assert "nowhere.pth" in message and "scaled_offline.pth" in message
    assert "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_offline.pth" in message
    assert "make checkpoints MODEL=cotracker3_offline" in message
    with pytest.raises(CheckpointError, match="make checkpoints MODEL=cotracker3_online"):
        CoTracker3OnlineTracker(checkpoint=tmp_path / "nowhere.pth", device="cpu")


def test_unreadable_checkpoint_raises(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        CoTracker3OnlineTracker(checkpoint=path, device="cpu")


def test_wrong_variant_is_detected(checkpoints):
    with pytest.raises(CheckpointError, match=r"online .*time_emb \(1, 16, 1110\).*'cotracker3_online'"):
        CoTracker3OfflineTracker(checkpoint=checkpoints["online"], device="cpu")
    with pytest.raises(CheckpointError, match=r"offline .*time_emb \(1, 60, 1110\).*'cotracker3_offline'"):
        CoTracker3OnlineTracker(checkpoint=checkpoints["offline"], device="cpu")


def test_bad_options_raise(checkpoints):
    with pytest.raises(ValueError, match="model_resolution"):
        CoTracker3OfflineTracker(checkpoint=checkpoints["offline"], device="cpu", model_resolution=(66, 96))
    with pytest.raises(ValueError, match="support_grid_size"):
        CoTracker3OfflineTracker(checkpoint=checkpoints["offline"], device="cpu", support_grid_size=-1)


# ---- building blocks ---------------------------------------------------------------------------------
def test_posenc_layout():
    x = torch.tensor([[0.1, -0.2]])
    encoded = posenc(x, num_octaves=3)
    assert encoded.shape == (1, 2 + 2 * 2 * 3)
    scaled = torch.tensor([0.1, -0.2, 0.2, -0.4, 0.4, -0.8])
    torch.testing.assert_close(encoded[0], torch.cat([x[0], scaled.sin(), scaled.cos()]))


def test_support_grid_matches_official_layout():
    grid = support_grid(6, 384, 512)
    assert grid.shape == (36, 2)
    torch.testing.assert_close(grid[0], torch.tensor([8.0, 8.0]))
    torch.testing.assert_close(grid[5], torch.tensor([504.0, 8.0]))  # x varies fastest
    torch.testing.assert_close(grid[-1], torch.tensor([504.0, 376.0]))


def test_time_embedding_is_stored_or_resampled():
    net = CoTracker3Net(OFFLINE_WINDOW, RESOLUTION)
    assert net.time_embedding(60) is net.time_emb
    resampled = net.time_embedding(120)
    assert resampled.shape == (1, 120, 1110)
    torch.testing.assert_close(resampled[0, 1], net.time_emb[0, 0] * 0.75 + net.time_emb[0, 1] * 0.25)


def test_online_window_schedule():
    assert online_window_starts(5, 16) == [0]
    assert online_window_starts(16, 16) == [0]
    assert online_window_starts(17, 16) == [0, 8]
    assert online_window_starts(24, 16) == [0, 8]
    assert online_window_starts(25, 16) == [0, 8, 16]


def test_online_pass_equals_offline_pass_for_one_full_window():
    torch.manual_seed(0)
    net = CoTracker3Net(ONLINE_WINDOW, RESOLUTION)
    net.load_state_dict(synthetic_state_dict(ONLINE_WINDOW))
    video = torch.from_numpy(moving_texture(16, *RESOLUTION)).permute(0, 3, 1, 2).float()
    queries = torch.tensor([[0, 10.0, 12.0], [7, 40.0, 30.0], [15, 80.0, 50.0]])
    with torch.no_grad():
        pyramid = net.encode(video)
        online_out = track_online(net, lambda frames: [level[frames] for level in pyramid], 16, queries, iters=2)
        offline_out = track_offline(net, pyramid, queries, iters=2)
    for a, b in zip(online_out, offline_out):
        torch.testing.assert_close(a, b)


# ---- tracking ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["offline", "online"])
def test_shapes_dtypes_and_query_frames(variant, request):
    tracker = with_options(request.getfixturevalue(variant), support_grid_size=6, iters=1)  # the official grid
    frames = moving_texture(8)
    queries = np.array([[0, 5.0, 6.0], [4, 30.5, 20.25], [7, 63.0, 47.0]], np.float32)
    tracks, visible = tracker.track(frames, queries)
    assert tracks.shape == (8, 3, 2) and tracks.dtype == np.float32
    assert visible.shape == (8, 3) and visible.dtype == bool
    assert np.isfinite(tracks).all()
    for index, (t, x, y) in enumerate(queries):
        np.testing.assert_array_equal(tracks[int(t), index], [x, y])
        assert visible[int(t), index]
    # the synthetic heads move points: not every track is constant
    assert np.abs(tracks - queries[None, :, 1:]).max() > 0.5


@pytest.mark.parametrize("variant", ["offline", "online"])
def test_deterministic(variant, request):
    tracker = with_options(request.getfixturevalue(variant), iters=1)
    frames = moving_texture(6)
    queries = np.array([[0, 12.0, 12.0], [3, 40.0, 25.0]], np.float32)
    first, second = tracker.track(frames, queries), tracker.track(frames, queries)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("variant, num_frames", [("offline", 8), ("online", 18)])
def test_query_on_last_frame_tracks_backward(variant, num_frames, request):
    """Without a support grid, a query on the last frame is tracked like a frame-0 query on the reversed video."""
    tracker = with_options(request.getfixturevalue(variant), support_grid_size=0, iters=1)
    frames = moving_texture(num_frames)
    last = num_frames - 1
    backward_tracks, backward_visible = tracker.track(frames, np.array([[last, 30.0, 20.0]], np.float32))
    forward_tracks, forward_visible = tracker.track(frames[::-1].copy(), np.array([[0, 30.0, 20.0]], np.float32))
    # equal up to float noise (the encoder batches frames differently in the two calls)
    np.testing.assert_allclose(backward_tracks[::-1], forward_tracks, atol=1e-2)
    assert (backward_visible[::-1] == forward_visible).mean() >= 0.9
    assert np.abs(forward_tracks - forward_tracks[:1]).max() > 0.5  # the point does move


@pytest.mark.parametrize("variant", ["offline", "online"])
def test_later_query_merges_forward_and_backward_passes(variant, request):
    """Frames before a query's frame come from the pass over the reversed video, the others from the forward pass."""
    tracker = with_options(request.getfixturevalue(variant), support_grid_size=0, iters=1)
    frames = moving_texture(6, *RESOLUTION)  # at the model resolution: no rescaling
    tracks, visible = tracker.track(frames, np.array([[3, 30.0, 20.0]], np.float32))
    with torch.no_grad():
        pyramid = tracker.net.encode(torch.from_numpy(frames).permute(0, 3, 1, 2).float())
        forward = tracker._run(lambda t: [level[t] for level in pyramid], 6, torch.tensor([[3, 30.0, 20.0]]))
        backward = tracker._run(lambda t: [level.flip(0)[t] for level in pyramid], 6, torch.tensor([[2, 30.0, 20.0]]))
    np.testing.assert_allclose(tracks[4:], forward[0][4:].numpy(), atol=1e-4)
    np.testing.assert_allclose(tracks[:3], backward[0].flip(0)[:3].numpy(), atol=1e-4)
    np.testing.assert_array_equal(visible[4:], tracker._visible(*forward[1:])[4:].numpy())
    np.testing.assert_array_equal(visible[:3], tracker._visible(*backward[1:]).flip(0)[:3].numpy())
    np.testing.assert_array_equal(tracks[3, 0], [30.0, 20.0])
    assert visible[3, 0]


@pytest.mark.parametrize("variant", ["offline", "online"])
def test_many_points_batched_and_permutation_equivariant(variant, request):
    tracker = with_options(request.getfixturevalue(variant), iters=1)
    frames = moving_texture(5)
    rng = np.random.default_rng(0)
    count = 50
    queries = np.stack([rng.integers(0, 5, count), rng.uniform(0, 63, count), rng.uniform(0, 47, count)], 1)
    queries = queries.astype(np.float32)
    tracks, visible = tracker.track(frames, queries)
    assert tracks.shape == (5, count, 2) and visible.shape == (5, count)
    order = rng.permutation(count)
    permuted_tracks, permuted_visible = tracker.track(frames, queries[order])
    np.testing.assert_allclose(permuted_tracks, tracks[:, order], atol=1e-3)
    assert (permuted_visible == visible[:, order]).mean() > 0.99


def test_offline_long_video_resamples_time_embedding(offline):
    tracker = with_options(offline, iters=1, support_grid_size=0)
    frames = moving_texture(64, 32, 48)
    queries = np.array([[0, 10.0, 10.0], [0, 20.0, 15.0]], np.float32)
    tracks, visible = tracker.track(frames, queries)
    assert tracks.shape == (64, 2, 2) and np.isfinite(tracks).all()
    assert visible[0].all() and np.abs(tracks[-1] - tracks[0]).max() > 0.5


def test_online_long_video_many_windows(online):
    tracker = with_options(online, iters=1, support_grid_size=0)
    frames = moving_texture(26, 32, 48)  # windows start at 0, 8, 16; the last covers 10 frames, padded to 16
    queries = np.array([[0, 10.0, 10.0], [20, 20.0, 15.0]], np.float32)
    tracks, visible = tracker.track(frames, queries)
    assert tracks.shape == (26, 2, 2) and np.isfinite(tracks).all()
    assert visible[0, 0] and visible[20, 1]


@pytest.mark.parametrize("variant", ["offline", "online"])
def test_edge_inputs(variant, request):
    tracker = with_options(request.getfixturevalue(variant), iters=1, support_grid_size=0)
    frames = moving_texture(4)
    tracks, visible = tracker.track(frames, np.zeros((0, 3), np.float32))
    assert tracks.shape == (4, 0, 2) and visible.shape == (4, 0)
    tracks, visible = tracker.track(frames[:1], np.array([[0, 3.0, 4.0]], np.float32))
    np.testing.assert_array_equal(tracks, [[[3.0, 4.0]]])
    assert visible.all()
    with pytest.raises(ValueError, match="query frame indices"):
        tracker.track(frames, np.array([[4, 1.0, 1.0]], np.float32))
    with pytest.raises(ValueError, match="uint8"):
        tracker.track(frames.astype(np.float32), np.array([[0, 1.0, 1.0]], np.float32))


def test_online_frame_source_equals_array_and_is_read_a_chunk_at_a_time(online):
    """26 frames, windows at 0, 8, 16, a later query (backward pass): frames read on demand give the same output,
    never more than one encoder chunk (16 frames) of them alive."""
    tracker = with_options(online, iters=1, support_grid_size=0)
    frames = moving_texture(26, 32, 48)
    queries = np.array([[0, 10.0, 10.0], [20, 20.0, 15.0]], np.float32)
    _, _, stats = track_source_and_array(tracker, frames, queries)
    assert stats["most_alive"] <= 16


def test_offline_frame_source_equals_array_and_long_videos_warn(offline, monkeypatch, caplog):
    tracker = with_options(offline, iters=1, support_grid_size=0, max_frames=4)
    frames = moving_texture(5, 32, 48)
    queries = np.array([[0, 10.0, 10.0], [3, 20.0, 15.0]], np.float32)
    with caplog.at_level(logging.WARNING, logger="trackers.point.windows"):
        track_source_and_array(tracker, frames, queries)
    assert "cotracker3_offline holds the whole video" in caplog.text and "5 frames is above the 4" in caplog.text
