"""RAFT point tracker (`trackers.point.raft.tracker`): checkpoint formats and key conversion, chaining/occlusion logic with a known
flow, and the tracker end to end with random weights on tiny videos.

No official weights are available here; checkpoints are written in tmp with random values in the official layouts
(princeton-vl names and shapes from `reference/keys/raft_things_keys.txt`, torchvision names from torchvision's
model). Equality with SAM-PT's RAFT tracker (tracks and visibility, `chaining="sampt"`) is tested against its recorded
output in `tests/trackers/point/test_official_trackers.py`; here random weights give no motion-recovery guarantee, so the
chaining is tested with injected flows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trackers.checkpoints import CheckpointError
from trackers.point.base import build_point_tracker
from trackers.point.raft.tracker import (RaftTracker, build_raft, checkpoint_format, convert_princeton_state_dict, pad_to_multiple,
                           track_by_chained_flow)
from tests.trackers.point.support import track_source_and_array
from tests.trackers.point.support import official_keys



def princeton_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state_dict in the official raft-things.pth layout (`module.` prefix, norm3 aliases included)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in official_keys("raft_things").items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7, dtype=torch.int64)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[name] = torch.randn(shape, generator=generator) * 0.05
    for name in list(state):  # the residual blocks' norm3 is the same module as downsample.1
        if ".norm3." in name:
            state[name] = state[name.replace(".norm3.", ".downsample.1.")].clone()
    return state


@pytest.fixture(scope="module")
def princeton_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("raft") / "raft-things.pth"
    torch.save(princeton_state_dict(), path)
    return path


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("raft_small") / "raft_small_C_T_V2-01064c6d.pth"
    torch.save(build_raft("raft_small").state_dict(), path)
    return path


def random_video(num_frames: int = 3, height: int = 64, width: int = 72, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------------ checkpoints

def test_key_file_matches_torchvision_after_conversion():
    keys = official_keys("raft_things")
    assert len(keys) == 179
    assert all(name.startswith("module.") for name in keys)
    converted = convert_princeton_state_dict(princeton_state_dict(), "raft_large")
    expected = {name: tuple(value.shape) for name, value in build_raft("raft_large").state_dict().items()}
    assert {name: tuple(value.shape) for name, value in converted.items()} == expected
    assert len(converted) == 169


def test_conversion_puts_tensors_in_the_right_places():
    state = princeton_state_dict(seed=3)
    converted = convert_princeton_state_dict(state, "raft_large")
    pairs = {
        "module.fnet.conv1.weight": "feature_encoder.convnormrelu.0.weight",
        "module.cnet.norm1.running_mean": "context_encoder.convnormrelu.1.running_mean",
        "module.cnet.layer2.0.norm2.weight": "context_encoder.layer2.0.convnormrelu2.1.weight",
        "module.cnet.layer3.0.downsample.1.running_var": "context_encoder.layer3.0.downsample.1.running_var",
        "module.fnet.conv2.bias": "feature_encoder.conv.bias",
        "module.update_block.encoder.convc2.weight": "update_block.motion_encoder.convcorr2.0.weight",
        "module.update_block.encoder.conv.bias": "update_block.motion_encoder.conv.0.bias",
        "module.update_block.gru.convq2.weight": "update_block.recurrent_block.convgru2.convq.weight",
        "module.update_block.gru.convr1.bias": "update_block.recurrent_block.convgru1.convr.bias",
        "module.update_block.mask.2.weight": "mask_predictor.conv.weight",
    }
    for official, ours in pairs.items():
        assert torch.equal(converted[ours], state[official]), official
    assert not any(".norm3." in name for name in converted)


def test_conversion_rejects_inconsistent_alias_and_unknown_keys():
    state = princeton_state_dict()
    state["module.cnet.layer2.0.norm3.weight"] = state["module.cnet.layer2.0.norm3.weight"] + 1
    with pytest.raises(CheckpointError, match="downsample.1"):
        convert_princeton_state_dict(state, "raft_large", source="x.pth")
    state = princeton_state_dict()
    state["module.fnet.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"x\.pth.*module\.fnet\.extra\.weight"):
        convert_princeton_state_dict(state, "raft_large", source="x.pth")


def test_checkpoint_format_detection():
    assert checkpoint_format(princeton_state_dict()) == "princeton"
    assert checkpoint_format(build_raft("raft_small").state_dict()) == "torchvision"
    assert checkpoint_format({"fnet.conv1.weight": torch.zeros(1), "blocks.0": torch.zeros(1)}) == "unknown"


def test_loads_princeton_checkpoint_strictly(princeton_checkpoint):
    tracker = RaftTracker(princeton_checkpoint, device="cpu")
    assert tracker.checkpoint_format == "princeton"
    loaded = tracker.model.state_dict()
    official = princeton_state_dict()
    assert torch.equal(loaded["update_block.flow_head.conv2.weight"],
                       official["module.update_block.flow_head.conv2.weight"])


def test_loads_torchvision_checkpoint_strictly(small_checkpoint):
    tracker = RaftTracker(small_checkpoint, device="cpu", variant="raft_small")
    assert tracker.checkpoint_format == "torchvision"
    saved = torch.load(small_checkpoint, weights_only=True)
    for name, value in tracker.model.state_dict().items():
        assert torch.equal(value, saved[name]), name


def test_missing_checkpoint_error_names_file_source_and_make_target(tmp_path):
    missing = tmp_path / "raft-things.pth"
    with pytest.raises(CheckpointError) as error:
        RaftTracker(missing, device="cpu")
    message = str(error.value)
    assert str(missing) in message and "raft-things.pth" in message
    assert "models.zip" in message and "make checkpoints MODEL=raft" in message
    with pytest.raises(CheckpointError, match="make checkpoints MODEL=raft_large_torchvision"):
        RaftTracker(tmp_path / "raft_large_C_T_SKHT_V2-ff5fadd5.pth", device="cpu")


def test_wrong_checkpoint_files_get_clear_errors(tmp_path, small_checkpoint):
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match=r"other\.pth.*not a RAFT checkpoint"):
        RaftTracker(other, device="cpu")
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.pth.*could not be read"):
        RaftTracker(text, device="cpu")
    with pytest.raises(CheckpointError, match=r"raft_small_C_T_V2-01064c6d\.pth.*raft_large"):
        RaftTracker(small_checkpoint, device="cpu", variant="raft_large")
    nested = tmp_path / "nested.pth"
    torch.save({"model": {"a": torch.zeros(1)}}, nested)
    with pytest.raises(CheckpointError, match=r"nested\.pth.*not a plain state_dict"):
        RaftTracker(nested, device="cpu")


def test_princeton_file_of_the_other_variant_is_rejected(princeton_checkpoint):
    with pytest.raises(CheckpointError, match=r"raft-things\.pth.*not princeton-vl RAFT \(raft_small\).*variant"):
        RaftTracker(princeton_checkpoint, device="cpu", variant="raft_small")


def test_bad_options(small_checkpoint):
    with pytest.raises(ValueError, match="variant"):
        RaftTracker(small_checkpoint, variant="raft_huge")
    with pytest.raises(ValueError, match="iterations"):
        RaftTracker(small_checkpoint, variant="raft_small", iterations=0)
    with pytest.raises(ValueError, match="fb_threshold"):
        RaftTracker(small_checkpoint, variant="raft_small", fb_threshold=-1)


# ------------------------------------------------------------------------------------------------ chaining logic

def constant_flow(height: int, width: int, velocity: tuple[float, float]) -> np.ndarray:
    return np.broadcast_to(np.asarray(velocity, np.float32), (height, width, 2)).copy()


def test_chaining_follows_a_known_translation_forward_and_backward():
    num_frames, height, width = 6, 40, 50
    velocity = (1.25, -0.5)
    calls = []

    def flow_pair(a, b):
        calls.append((a, b))
        return constant_flow(height, width, velocity), constant_flow(height, width, (-velocity[0], -velocity[1]))

    queries = np.array([[0, 10.3, 30.0], [3, 20.0, 20.5], [5, 30.0, 15.0]], np.float32)
    tracks, visible = track_by_chained_flow(num_frames, height, width, queries, flow_pair, fb_threshold=0.1)
    t = np.arange(num_frames)[:, None]
    expected_x = queries[:, 1] + (t - queries[:, 0]) * velocity[0]
    expected_y = queries[:, 2] + (t - queries[:, 0]) * velocity[1]
    np.testing.assert_allclose(tracks[..., 0], expected_x, atol=1e-4)
    np.testing.assert_allclose(tracks[..., 1], expected_y, atol=1e-4)
    assert visible.all()
    assert tracks.dtype == np.float32 and visible.dtype == bool
    # each pair once per sweep (both directions of a pair in one call); queries on frames 0 and 5: both sweeps
    # cross every pair, which is computed again rather than kept (memory must not grow with the video)
    assert sorted(calls) == sorted(2 * [(t, t + 1) for t in range(num_frames - 1)])


def test_chaining_samples_flow_bilinearly_at_subpixel_positions():
    height, width = 20, 30
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    forward = np.stack([0.1 * xs, 0.05 * ys], axis=-1)  # affine flow: bilinear sampling is exact

    def flow_pair(a, b):
        return forward, np.zeros_like(forward)

    queries = np.array([[0, 3.7, 4.2]], np.float32)
    tracks, visible = track_by_chained_flow(2, height, width, queries, flow_pair, fb_threshold=None)
    np.testing.assert_allclose(tracks[1, 0], [3.7 * 1.1, 4.2 * 1.05], atol=1e-5)
    assert visible.all()


def test_chaining_marks_inconsistent_flow_and_leaving_points_not_visible():
    num_frames, height, width = 4, 40, 40
    forward = constant_flow(height, width, (2.0, 0.0))
    backward = constant_flow(height, width, (-2.0, 0.0))
    backward[:, 20:] = 0.0  # a region where the backward flow disagrees: occluded in the next frame

    def flow_pair(a, b):
        return forward, backward

    queries = np.array([[0, 5.0, 5.0], [0, 17.0, 5.0], [0, 35.0, 30.0], [3, 10.0, 10.0]], np.float32)
    tracks, visible = track_by_chained_flow(num_frames, height, width, queries, flow_pair, fb_threshold=0.5)
    # point 0 moves 5 -> 7 -> 9 -> 11, always consistent
    assert visible[:, 0].all()
    np.testing.assert_allclose(tracks[:, 0, 0], [5, 7, 9, 11])
    # point 1: 17 -> 19 ok, 19 -> 21 lands where the backward flow is 0: lost from frame 2 on, keeps 19
    assert visible[:, 1].tolist() == [True, True, False, False]
    np.testing.assert_allclose(tracks[:, 1, 0], [17, 19, 19, 19])
    # point 2 is also in the inconsistent region when it moves (35 -> 37): lost at frame 1
    assert visible[:, 2].tolist() == [True, False, False, False]
    # point 3 queried on the last frame moves backward 10 -> 8 -> 6 -> 4 (backward flow -2, forward check +2)
    assert visible[:, 3].all()
    np.testing.assert_allclose(tracks[:, 3, 0], [4, 6, 8, 10])

    # without the check, only leaving the frame makes a point not visible
    tracks, visible = track_by_chained_flow(num_frames, height, width, queries, flow_pair, fb_threshold=None)
    assert visible[:, 1].all()
    np.testing.assert_allclose(tracks[:, 1, 0], [17, 19, 21, 23])
    assert visible[:, 2].tolist() == [True, True, True, False]  # 35 -> 37 -> 39 -> 41 (outside: x > W-1 = 39)


def test_sampt_chaining_keeps_moving_points_outside_the_frame():
    # SAM-PT's RAFT tracker: no stop; the flow is read at the border-clamped position; visible where 0 <= x < W
    num_frames, height, width = 6, 20, 20
    forward = np.zeros((height, width, 2), np.float32)
    forward[:, :10, 0] = -4.0  # left half moves left
    forward[:, 10:, 0] = 3.0   # right half moves right
    backward = -forward

    def flow_pair(a, b):
        return forward, backward

    queries = np.array([[0, 6.0, 5.0], [2, 16.5, 5.0], [5, 19.5, 8.0]], np.float32)
    tracks, visible = track_by_chained_flow(num_frames, height, width, queries, flow_pair, fb_threshold=None,
                                            chaining="sampt")
    # point 0: 6 -> 2 -> -2 (left the frame; flow read at x=0 is -4) -> -6 ...
    np.testing.assert_allclose(tracks[:, 0, 0], [6, 2, -2, -6, -10, -14])
    assert visible[:, 0].tolist() == [True, True, False, False, False, False]
    # point 1 forward: 16.5 -> 19.5 (inside: x < W = 20, though > W-1) -> 22.5 ...; backward: 16.5 -> 13.5 -> 10.5
    np.testing.assert_allclose(tracks[:, 1, 0], [10.5, 13.5, 16.5, 19.5, 22.5, 25.5])
    assert visible[:, 1].tolist() == [True, True, True, True, False, False]
    # point 2 queried at x = 19.5 on the last frame: visible there, moves back 19.5 -> 16.5 -> ... -> 7.5, then
    # by the left half's backward flow (+4) to 11.5
    np.testing.assert_allclose(tracks[:, 2, 0], [11.5, 7.5, 10.5, 13.5, 16.5, 19.5])
    assert visible[:, 2].all()
    # our default chaining stops point 0 when it leaves and never shows it again
    tracks, visible = track_by_chained_flow(num_frames, height, width, queries, flow_pair, fb_threshold=None)
    np.testing.assert_allclose(tracks[:, 0, 0], [6, 2, 2, 2, 2, 2])
    assert visible[:, 0].tolist() == [True, True, False, False, False, False]
    assert visible[3:, 1].tolist() == [False, False, False]  # 19.5 > W - 1: outside for "stop"


def test_sampt_chaining_point_comes_back_into_view():
    num_frames, height, width = 4, 20, 20
    velocity = [(-3.0, 0.0), (3.0, 0.0), (3.0, 0.0)]  # out by the left edge at frame 1, back in at frame 2

    def flow_pair(a, b):
        v = velocity[a]
        return constant_flow(height, width, v), constant_flow(height, width, (-v[0], -v[1]))

    queries = np.array([[0, 1.0, 5.0]], np.float32)
    tracks, visible = track_by_chained_flow(num_frames, height, width, queries, flow_pair, fb_threshold=None,
                                            chaining="sampt")
    np.testing.assert_allclose(tracks[:, 0, 0], [1, -2, 1, 4])
    assert visible[:, 0].tolist() == [True, False, True, True]


def test_sampt_chaining_options_are_checked(small_checkpoint):
    def flow_pair(a, b):
        return constant_flow(8, 8, (0, 0)), constant_flow(8, 8, (0, 0))

    queries = np.array([[0, 1.0, 1.0]], np.float32)
    with pytest.raises(ValueError, match="fb_threshold to None"):
        track_by_chained_flow(2, 8, 8, queries, flow_pair, fb_threshold=1.0, chaining="sampt")
    with pytest.raises(ValueError, match="unknown RAFT chaining 'sam'.*stop, sampt"):
        track_by_chained_flow(2, 8, 8, queries, flow_pair, fb_threshold=None, chaining="sam")
    with pytest.raises(ValueError, match="fb_threshold to None"):
        RaftTracker(small_checkpoint, variant="raft_small", chaining="sampt")  # default fb_threshold 1.0


# ------------------------------------------------------------------------------------------------ tracker end to end

def test_padding_to_multiple_of_eight():
    images = torch.arange(2 * 3 * 13 * 20, dtype=torch.float32).reshape(2, 3, 13, 20)
    padded, (left, right, top, bottom) = pad_to_multiple(images, minimum=0)
    assert padded.shape[-2:] == (16, 24)
    assert (left, right, top, bottom) == (2, 2, 1, 2)
    assert torch.equal(padded[..., top:16 - bottom, left:24 - right], images)
    padded, (left, right, top, bottom) = pad_to_multiple(images)  # torchvision's RAFT needs >= 128 px
    assert padded.shape[-2:] == (128, 128)
    assert (left, right, top, bottom) == (54, 54, 57, 58)
    assert torch.equal(padded[..., top:128 - bottom, left:128 - right], images)


def test_tracker_shapes_determinism_and_query_frames(small_checkpoint):
    tracker = build_point_tracker("raft", checkpoint=str(small_checkpoint), variant="raft_small", iterations=2,
                                  device="cpu")
    frames = random_video(3, 60, 70)  # not a multiple of 8: padded inside
    flow_ab, flow_ba = tracker.flow_pair(frames[0], frames[1])
    assert flow_ab.shape == flow_ba.shape == (60, 70, 2) and flow_ab.dtype == np.float32
    queries = np.array([[0, 10.5, 20.25], [2, 30.0, 40.0], [1, 69.0, 59.0]], np.float32)
    tracks, visible = tracker.track(frames, queries)
    assert tracks.shape == (3, 3, 2) and tracks.dtype == np.float32
    assert visible.shape == (3, 3) and visible.dtype == bool
    for n, (t, x, y) in enumerate(queries):
        np.testing.assert_array_equal(tracks[int(t), n], [x, y])
        assert visible[int(t), n]
    again = tracker.track(frames, queries)
    np.testing.assert_array_equal(again[0], tracks)
    np.testing.assert_array_equal(again[1], visible)
    # batching: each point tracked alone gives the same result
    for n in range(len(queries)):
        alone_tracks, alone_visible = tracker.track(frames, queries[n:n + 1])
        np.testing.assert_allclose(alone_tracks[:, 0], tracks[:, n], atol=1e-4)
        np.testing.assert_array_equal(alone_visible[:, 0], visible[:, n])
    empty_tracks, empty_visible = tracker.track(frames, np.zeros((0, 3), np.float32))
    assert empty_tracks.shape == (3, 0, 2) and empty_visible.shape == (3, 0)


def test_tracker_uses_raft_flow_for_the_chain(small_checkpoint):
    """The tracker's tracks equal chaining its own flows by hand (flow of each pair sampled at the point)."""
    tracker = RaftTracker(small_checkpoint, device="cpu", variant="raft_small", iterations=2, fb_threshold=None)
    frames = random_video(3, 64, 64, seed=5)
    queries = np.array([[1, 20.0, 30.0]], np.float32)
    tracks, _ = tracker.track(frames, queries)
    forward_12, _ = tracker.flow_pair(frames[1], frames[2])
    _, backward_10 = tracker.flow_pair(frames[0], frames[1])
    np.testing.assert_allclose(tracks[2, 0], queries[0, 1:] + forward_12[30, 20], atol=1e-4)
    np.testing.assert_allclose(tracks[0, 0], queries[0, 1:] + backward_10[30, 20], atol=1e-4)


def test_raft_large_runs_on_a_princeton_checkpoint(princeton_checkpoint):
    tracker = RaftTracker(princeton_checkpoint, device="cpu", iterations=1)
    tracks, visible = tracker.track(random_video(2, 64, 64), np.array([[1, 32.0, 32.0]], np.float32))
    assert tracks.shape == (2, 1, 2) and np.isfinite(tracks).all() and visible[1, 0]


def test_bad_track_inputs(small_checkpoint):
    tracker = RaftTracker(small_checkpoint, device="cpu", variant="raft_small", iterations=1)
    with pytest.raises(ValueError, match="query frame"):
        tracker.track(random_video(2), np.array([[2, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        tracker.track(random_video(2), np.array([[0, np.nan, 1.0]]))


def test_frame_source_equals_array_and_is_read_two_frames_at_a_time(small_checkpoint):
    tracker = build_point_tracker("raft", checkpoint=str(small_checkpoint), variant="raft_small", iterations=2,
                                  device="cpu")
    frames = random_video(5, 60, 70)
    queries = np.array([[0, 10.5, 20.25], [3, 30.0, 40.0]], np.float32)
    _, _, stats = track_source_and_array(tracker, frames, queries)
    assert stats["most_alive"] <= 2
