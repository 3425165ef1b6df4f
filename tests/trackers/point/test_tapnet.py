"""TAP-Net tracker (`trackers.point.tapnet.tracker`, network in `trackers.point.tapnet.net`): the official Haiku
checkpoint format and its restricted reading, errors, the temporal reach that makes windowed encoding exact.

Equality with SAM-PT's JAX `TapnetPointTracker` on the same random weights is tested in
`tests/trackers/point/test_official_trackers.py` (`tapnet`); here the windowed run is checked against that recording.
"""
from __future__ import annotations

import collections
import json

import numpy as np
import pytest
import torch

from tests.helpers import FIXTURES
from tests.inputs import make_tracker_inputs, seeded_tapnet_state, write_tapnet_checkpoint
from trackers.checkpoints import CheckpointError
from trackers.point.base import build_point_tracker
from trackers.point.tapnet.net import TapNet, TsmResNet, same_pad, temporal_shift
from trackers.point.tapnet.tracker import TapNetTracker, load_tapnet_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("tapnet") / "checkpoint_wo_optstate.npy"
    write_tapnet_checkpoint(seeded_tapnet_state(), path)
    return path


def save(path, obj):
    with open(path, "wb") as file:
        np.save(file, obj, allow_pickle=True)
    return path


def test_checkpoint_round_trip_gives_every_tensor_back(checkpoint):
    state = seeded_tapnet_state()
    model = TapNet()
    load_tapnet_checkpoint(model, checkpoint)
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for name, value in state.items():
        torch.testing.assert_close(loaded[name], value, rtol=0, atol=0, msg=name)


def test_missing_checkpoint_names_the_file_and_the_make_key(tmp_path):
    missing = tmp_path / "checkpoint_wo_optstate.npy"
    with pytest.raises(CheckpointError) as error:
        TapNetTracker(missing, device="cpu")
    message = str(error.value)
    assert str(missing) in message and "make checkpoints MODEL=tapnet" in message
    assert "3e915fcb27a6fe39c46e1d5ed443d11a" in message  # the md5 SAM-PT publishes


class _Call:
    """Unpickling it would call ``print``: the reader must refuse before anything runs."""

    def __reduce__(self):
        return print, ("unpickled code ran",)


@pytest.mark.parametrize("extra, named", [(collections.Counter(a=1), "collections.Counter"),
                                          (_Call(), "builtins.print")])
def test_pickled_objects_other_than_arrays_are_refused(tmp_path, capsys, extra, named):
    path = save(tmp_path / "checkpoint.npy", {"params": {}, "state": {}, "opt_state": extra})
    with pytest.raises(CheckpointError, match=f"{named}, which is not allowed"):
        TapNetTracker(path, device="cpu")
    assert "unpickled code ran" not in capsys.readouterr().out


def test_wrong_layouts_name_the_file_and_the_parameter(tmp_path, checkpoint):
    official = np.load(checkpoint, allow_pickle=True).item()
    module = "tap_net/~/cost_volume_regression_1"
    without = {"params": {k: v for k, v in official["params"].items() if k != module}, "state": official["state"]}
    with pytest.raises(CheckpointError, match=f"2 missing \\['{module}:w', '{module}:b'\\]$"):
        TapNetTracker(save(tmp_path / "missing.npy", without), device="cpu")
    extra = {"params": {**official["params"], "tap_net/~/regression_hid": {"w": np.zeros((1, 1), np.float32)}},
             "state": official["state"]}
    unexpected = r"extra\.npy .*: 1 unexpected parameters \['tap_net/~/regression_hid:w'\]$"
    with pytest.raises(CheckpointError, match=unexpected):
        TapNetTracker(save(tmp_path / "extra.npy", extra), device="cpu")
    with pytest.raises(CheckpointError, match=r"plain\.npy.*no 'params' and 'state'"):
        TapNetTracker(save(tmp_path / "plain.npy", np.zeros(3, np.float32)), device="cpu")
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*text\.npy as a \.npy file"):
        TapNetTracker(tmp_path / "text.npy", device="cpu")


def test_jax_same_padding_and_the_reordering_temporal_shift():
    x = torch.zeros(1, 1, 256, 256)
    assert same_pad(x, 7, 2).shape[-2:] == (261, 261) and same_pad(x, 3, 2).shape[-2:] == (257, 257)
    assert same_pad(x, 7, 2)[0, 0, 2, 2] == 0 and same_pad(x + 1, 7, 2)[0, 0, 2, 2] == 1  # (2, 3): 2 before
    frames = torch.arange(3.0)[:, None, None, None] * 10 + torch.arange(8.0)[None, :, None, None]  # (T=3, C=8, 1, 1)
    shifted = temporal_shift(frames, 0.125)[..., 0, 0]
    # channel 7 of frame t + 1 first, channels 1-6 unshifted, channel 0 of frame t - 1 last; zeros at the ends
    assert shifted.tolist() == [[17, 1, 2, 3, 4, 5, 6, 0], [27, 11, 12, 13, 14, 15, 16, 0],
                                [0, 21, 22, 23, 24, 25, 26, 10]]


def test_a_frame_reaches_exactly_the_temporal_reach():
    torch.manual_seed(0)
    network = TsmResNet().eval()
    frames = torch.randn(12, 3, 32, 32)
    changed = frames.clone()
    changed[0] += 1
    with torch.no_grad():
        moved = (network(changed) - network(frames)).abs().amax(dim=(1, 2, 3))
    reach = TsmResNet.TEMPORAL_REACH
    assert reach == 4 and (moved[:reach + 1] > 0).all() and (moved[reach + 1:] == 0).all()


def test_windowed_features_equal_the_recording_and_no_queries_is_empty(tmp_path):
    paths = make_tracker_inputs("tapnet", tmp_path)
    inputs = np.load(paths["inputs"])
    official = np.load(FIXTURES / "official_trackers" / "tapnet.npz")
    assert json.loads((FIXTURES / "official_trackers" / "tapnet.json").read_text())["tracker"] == "tapnet"
    tracker = build_point_tracker("tapnet", str(paths["checkpoint"]), device="cpu", window_frames=9)
    tracks, visible = tracker.track(inputs["frames"], inputs["queries"])  # windows [0, 9) and [1, 10)
    np.testing.assert_allclose(tracks, official["tracks"], rtol=0, atol=1e-3)
    np.testing.assert_array_equal(visible, official["visible"])
    tracks, visible = tracker.track(inputs["frames"][:3], np.zeros((0, 3), np.float32))
    assert tracks.shape == (3, 0, 2) and visible.shape == (3, 0)
    with pytest.raises(ValueError, match="window_frames must be an integer above 8"):
        TapNetTracker(paths["checkpoint"], device="cpu", window_frames=8)
