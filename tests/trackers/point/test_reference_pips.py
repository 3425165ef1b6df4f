"""`reference.pips.ReferencePips` (PIPS chained as SAM-PT's wrapper chains it, the baseline tracker of the
end-to-end benchmark) against the official recording and against our `PipsTracker`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from reference.pips import ReferencePips
from tests.inputs import make_tracker_inputs as make_inputs
from trackers.point.base import build_point_tracker
from tests.helpers import FIXTURES

FIXTURES = FIXTURES / "official_trackers"


class CountingNet(torch.nn.Module):
    """A `PipsNet` that records the first-frame index (by identity of the window's first frame) of every call."""

    def __init__(self, net):
        super().__init__()
        self.net, self.window, self.stride, self.calls = net, net.window, net.stride, []

    def forward(self, xy, frames, iters=6, feat_init=None):
        self.calls.append((frames.shape[1], feat_init is None))
        return self.net(xy, frames, iters, feat_init)


def test_reference_pips_equals_the_official_recording_and_ours(tmp_path):
    """On the official PIPS fixture's inputs (queries on the first, a middle and the last frame): the
    reference gives SAM-PT's tracks and visibility, and so does ours; the reference made one network call per
    window start, plus one per query window for the query points' features, every call encoding 8 frames."""
    official = np.load(FIXTURES / "pips.npz")
    paths = make_inputs("pips", tmp_path)
    inputs = np.load(paths["inputs"])
    ours = build_point_tracker("pips", str(paths["checkpoint"]), device="cpu")
    counting = CountingNet(ours.net)
    reference = ReferencePips(counting)
    tracks, visible = reference.track(inputs["frames"], inputs["queries"])
    np.testing.assert_allclose(tracks, official["tracks"], rtol=0, atol=1e-3)
    np.testing.assert_array_equal(visible, official["visible"])
    our_tracks, our_visible = ours.track(inputs["frames"], inputs["queries"])
    np.testing.assert_allclose(our_tracks, tracks, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(our_visible, visible)
    query_frames = set(np.round(inputs["queries"][:, 0]).astype(int).tolist())
    feat_init_calls = sum(1 for _, first in counting.calls if first)
    # a query frame's window runs the feat_init pass, in each direction where it is not the last frame
    num_frames = len(inputs["frames"])
    expected = sum(t < num_frames - 1 for t in query_frames) + sum(t > 0 for t in query_frames)
    assert feat_init_calls == expected
    assert all(window == 8 for window, _ in counting.calls)
    assert len(counting.calls) - feat_init_calls > len(query_frames)  # chains went on past the first window


def test_next_window_search_equals_ours():
    """SAM-PT's search (step back from the window's end, lower the threshold by 0.02 when passing its start)
    and `PipsTracker._jump` (the same rule without a search) choose the same next frame, also when no
    frame is above 0.9 and the threshold must be lowered several times."""
    from trackers.point.pips.net import PipsNet
    from trackers.point.pips.tracker import PipsTracker

    generator = torch.Generator().manual_seed(0)
    ours = PipsTracker(net=PipsNet(), device="cpu")
    reference = ReferencePips(ours.net)
    frame, real, points = 3, 8, 400
    probs = torch.zeros(20, points)
    window = torch.rand(real - 1, points, generator=generator)
    window *= torch.rand(1, points, generator=generator)  # many windows entirely below 0.9
    window[:, :5] = torch.tensor([0.9, 0.88, 0.5, 0.0, 1.0])[None]  # on a threshold, and the extremes
    probs[frame + 1:frame + real] = window
    here = torch.ones(points, dtype=torch.bool)
    chosen = reference._next_frames(probs, frame, real, here)
    np.testing.assert_array_equal(chosen.numpy(), (frame + ours._jump(window)).numpy())
    assert len(set((chosen - frame).tolist())) == real - 1  # every offset 1 .. 7 occurs
