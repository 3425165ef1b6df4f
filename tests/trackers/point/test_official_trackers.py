"""Point trackers against the official ones (tests/fixtures/official_trackers, recorded with
scripts/record/trackers.py: SAM-PT's own trackers from SysCV/sam-pt (CoTracker v1 included), CoTracker3 from
facebookresearch/co-tracker, TAPIR and BootsTAPIR from google-deepmind/tapnet, TAPIR through SAM-PT's JAX
wrapper and TAP-Net through SAM-PT's JAX
wrapper): the same synthetic clip, queries on the first, a middle and the last frame, the same random (damped) weights;
``build_point_tracker(...).track`` must give the official tracks to 1e-3 px and the same visibility."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.inputs import TRACKERS, make_tracker_inputs as make_inputs
from trackers.point.base import build_point_tracker
from tests.helpers import FIXTURES

FIXTURES = FIXTURES / "official_trackers"
TRACK_ATOL_PX = 1e-3
#: SAM-PT's PIPS++ tracker predicts no visibility (all ones)
WITHOUT_VISIBILITY = {"pips2"}


@pytest.mark.parametrize("tracker", ["pips", "pips2", "raft"])
def test_tracks_equal_official(tracker, tmp_path):
    check_equals_official(tracker, tmp_path)


@pytest.mark.parametrize("tracker", ["cotracker3_offline", pytest.param("cotracker3_online", marks=pytest.mark.slow),
                                     "cotracker_v1", "tapir", "bootstapir", "tapnet",
                                     pytest.param("tapir_long", marks=pytest.mark.slow), "tapir_authors"])
def test_cotracker3_tapir_equal_official(tracker, tmp_path):
    check_equals_official(tracker, tmp_path)


def check_equals_official(tracker: str, tmp_path: Path) -> None:
    """Our ``tracker`` (with the recording's options) on the regenerated inputs against its fixture."""
    official = np.load(FIXTURES / f"{tracker}.npz")
    info = json.loads((FIXTURES / f"{tracker}.json").read_text())
    # the recording was stable: a 1e-7 change of one official weight moved no track by 1e-4 px
    assert info["sensitivity"]["max_track_change_px"] < 1e-4 and info["sensitivity"]["visibility_changes"] == 0
    paths = make_inputs(tracker, tmp_path)
    inputs = np.load(paths["inputs"])
    # the options that select the official behaviour where ours differs (e.g. RAFT's chaining="sampt")
    options = TRACKERS[tracker].get("options", {})
    name = TRACKERS[tracker].get("tracker", tracker)  # `tapir_long` is `tapir` on a long clip, in windows
    tracks, visible = build_point_tracker(name, str(paths["checkpoint"]), device="cpu", **options).track(
        inputs["frames"], inputs["queries"])
    np.testing.assert_allclose(tracks, official["tracks"], rtol=0, atol=TRACK_ATOL_PX)
    np.testing.assert_array_equal(visible, official["visible"])
    # not a trivial recording: points move and (for trackers with visibility) some are hidden
    assert np.abs(official["tracks"] - official["tracks"][:1]).max() > 1.0
    if tracker in WITHOUT_VISIBILITY:
        assert official["visible"].all()
    else:
        assert 0 < official["visible"].mean() < 1
