"""CoTracker v1 (`trackers.point.cotracker1`): registry and checkpoint, loading, windows, the status layout and
the tracker's contract. Equality with SAM-PT's wrapper: `test_official_trackers.py` (``cotracker_v1``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.inputs import TRACKER_CLIP, panning_clip
from trackers.checkpoints import CHECKPOINTS, CheckpointError
from trackers.point.base import TRACKERS, build_point_tracker
from trackers.point.cotracker1.net import WINDOW, CoTrackerV1Net, interleaved_status, track_windows, window_starts
from trackers.point.cotracker1.tracker import CoTrackerV1Tracker

RESOLUTION = (64, 96)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cotracker_v1") / "cotracker_stride_4_wind_8.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(CoTrackerV1Net().state_dict(), path)
    return path


def test_registered_with_the_official_checkpoint():
    assert TRACKERS["cotracker_v1"] == "trackers.point.cotracker1.tracker:CoTrackerV1Tracker"
    info = CHECKPOINTS["cotracker_v1"]
    assert info.filename == "cotracker_stride_4_wind_8.pth"
    assert info.url == "https://dl.fbaipublicfiles.com/cotracker/cotracker_stride_4_wind_8.pth"
    assert info.md5 == "82c458ad5de9bf98bc337c34ccbc436a"
    assert len(CoTrackerV1Net().state_dict()) == 150  # the official file's entries


def test_missing_checkpoint_names_the_file_and_make_key(tmp_path):
    with pytest.raises(CheckpointError) as error:
        CoTrackerV1Tracker(checkpoint=tmp_path / "nowhere.pth", device="cpu")
    message = str(error.value)
    assert "nowhere.pth" in message and "cotracker_stride_4_wind_8.pth" in message
    assert "make checkpoints MODEL=cotracker_v1" in message


def test_loads_wrapped_state_dicts_strictly_and_rejects_other_keys(checkpoint, tmp_path):
    state = torch.load(checkpoint, weights_only=True)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"model": state}, wrapped)
    tracker = CoTrackerV1Tracker(checkpoint=wrapped, device="cpu", model_resolution=RESOLUTION)
    assert torch.equal(tracker.net.updateformer.flow_head.weight, state["updateformer.flow_head.weight"])
    del state["vis_predictor.0.bias"]
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match="missing keys.*vis_predictor.0.bias"):
        CoTrackerV1Tracker(checkpoint=bad, device="cpu")


def test_bad_options_raise(checkpoint):
    for options in ({"support_grid_every": 0}, {"iters": 0}, {"model_resolution": (60, 96)}):
        with pytest.raises(ValueError):
            CoTrackerV1Tracker(checkpoint=checkpoint, device="cpu", **options)


def test_window_starts_follow_the_official_loop():
    assert window_starts(3) == [0]  # a short video is padded to one window of 8
    assert window_starts(8) == [0]
    assert window_starts(10) == [0, 4]
    assert window_starts(18) == [0, 4, 8, 12]


def test_status_channels_use_the_official_layout():
    mask = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (S=3, n=2): mask[s, i]
    vis = -mask
    status = interleaved_status(mask, vis)
    # the (2n, S) rows [mask of point 0, mask of point 1, vis of point 0, vis of point 1], read as (n, S, 2)
    flat = torch.cat([mask.T, vis.T]).flatten()
    for s in range(3):
        for i in range(2):
            assert status[s, i].tolist() == flat[2 * (i * 3 + s):2 * (i * 3 + s) + 2].tolist()


def test_windows_read_eight_frames_and_skip_windows_before_the_first_query():
    net = CoTrackerV1Net().eval()
    asked = []

    def features(index):
        asked.append(index.tolist())
        fmaps = 0.1 * torch.randn(len(index), 128, 16, 16, generator=torch.Generator().manual_seed(len(asked)))
        return [fmaps, *(torch.nn.functional.avg_pool2d(fmaps, 2 ** level) for level in (1, 2, 3))]

    queries = torch.tensor([[9.0, 10.0, 12.0], [14.0, 20.0, 8.0]])
    with torch.no_grad():
        tracks, vis, reached = track_windows(net, features, 18, queries, iters=1)
    assert asked == [list(range(4, 12)), list(range(8, 16)), list(range(12, 18)) + [17, 17]]
    assert tracks.shape == (18, 2, 2) and vis.shape == (18, 2)
    assert reached[:, 0].tolist() == [False] * 4 + [True] * 14  # first joins the window at 4
    assert reached[:, 1].tolist() == [False] * 8 + [True] * 10  # second joins the window at 8
    assert (tracks[~reached] == 0).all()


def test_tracks_short_and_long_videos_with_the_contract(checkpoint):
    tracker = CoTrackerV1Tracker(checkpoint=checkpoint, device="cpu", model_resolution=RESOLUTION, iters=2)
    for num_frames in (3, 14):
        frames = panning_clip(**dict(TRACKER_CLIP, num_frames=num_frames))
        queries = np.array([[0, 30.0, 40.0], [num_frames - 1, 64.0, 48.0]], np.float32)
        tracks, visible = tracker.track(frames, queries)
        assert tracks.shape == (num_frames, 2, 2) and visible.shape == (num_frames, 2)
        assert tracks.dtype == np.float32 and visible.dtype == bool and np.isfinite(tracks).all()
        np.testing.assert_array_equal(tracks[[0, num_frames - 1], [0, 1]], queries[:, 1:])
        assert visible[[0, num_frames - 1], [0, 1]].all()
        assert (np.abs(tracks) > 0).all()  # the backward pass filled the frames before the last-frame query
    empty_tracks, empty_visible = tracker.track(frames, np.zeros((0, 3), np.float32))
    assert empty_tracks.shape == (14, 0, 2) and empty_visible.shape == (14, 0)


def test_memory_is_bounded_by_the_window(checkpoint, monkeypatch):
    from trackers.point import windows

    held = []
    original = windows.WindowFeatures.__call__

    def spy(self, frames):
        out = original(self, frames)
        held.append(self.most_frames_held)
        return out

    monkeypatch.setattr(windows.WindowFeatures, "__call__", spy)
    tracker = CoTrackerV1Tracker(checkpoint=checkpoint, device="cpu", model_resolution=RESOLUTION, iters=1)
    frames = panning_clip(**dict(TRACKER_CLIP, num_frames=40, bounce=True))
    tracker.track(frames, np.array([[20, 30.0, 40.0]], np.float32))
    assert 0 < max(held) <= WINDOW + 8  # the window's chunks (8 frames each), never the whole video
