"""The SuperGlue point tracker against SAM-PT's ``SuperGluePointTracker`` (tests/fixtures/official_superglue,
recorded with scripts/record/superglue.py on the same synthetic clip, masks, queries and shaped random
weights), its checkpoint loading, its point draws, and how `SamPt` hands it the reference masks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.helpers import FIXTURES
from tests.inputs import SUPERGLUE_DRAW_SEED, SUPERGLUE_POSITIVE, make_superglue_inputs, superglue_inputs
from trackers.checkpoints import CheckpointError
from trackers.point.base import PointTracker, ReferenceMasks, build_point_tracker
from trackers.point.superglue.tracker import draw_points

FIXTURE = FIXTURES / "official_superglue"
TRACK_ATOL_PX = 1e-3


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return make_superglue_inputs(tmp_path_factory.mktemp("superglue"))


def test_tracks_equal_official(checkpoints):
    official = np.load(FIXTURE / "superglue.npz")
    info = json.loads((FIXTURE / "superglue.json").read_text())
    # the recording was stable: a 1e-7 change of one official weight changed no output
    assert info["sensitivity"]["max_track_change_px"] == 0 and info["sensitivity"]["visibility_changes"] == 0
    inputs = np.load(checkpoints["inputs"])
    tracker = build_point_tracker("superglue", str(checkpoints["superglue"]), device="cpu")
    tracks, visible = tracker.track(inputs["frames"], inputs["queries"],
                                    reference=ReferenceMasks(inputs["masks"], SUPERGLUE_POSITIVE, SUPERGLUE_DRAW_SEED))
    np.testing.assert_allclose(tracks, official["tracks"], rtol=0, atol=TRACK_ATOL_PX)
    np.testing.assert_array_equal(visible, official["visible"])
    # not trivial: the reference frame keeps the queries (not visible), later frames draw positives inside and
    # negatives outside each mask, the small third mask runs out of candidates (padded, not visible)
    np.testing.assert_array_equal(official["tracks"][0], inputs["queries"][:, 1:])
    assert not official["visible"][0].any() and official["visible"][1:].mean() > 0.8
    assert (official["tracks"][1:][~official["visible"][1:]] == -1).all() and not official["visible"][1:].all()
    points = official["tracks"][1:].reshape(5, 3, 5, 2).astype(int)
    seen = official["visible"][1:].reshape(5, 3, 5)
    for m, mask in enumerate(inputs["masks"]):
        inside = mask[points[:, m, :, 1], points[:, m, :, 0]]
        assert inside[:, :SUPERGLUE_POSITIVE][seen[:, m, :SUPERGLUE_POSITIVE]].all()
        assert not inside[:, SUPERGLUE_POSITIVE:][seen[:, m, SUPERGLUE_POSITIVE:]].any()


def test_loads_official_layout_strictly_and_names_missing_files(checkpoints, tmp_path):
    superpoint = torch.load(checkpoints["superpoint"])
    superpoint.pop("convDb.bias")
    (tmp_path / "superglue_outdoor.pth").write_bytes(checkpoints["superglue"].read_bytes())
    torch.save(superpoint, tmp_path / "superpoint_v1.pth")
    with pytest.raises(CheckpointError, match=r"superpoint_v1\.pth does not match SuperPoint: 1 missing keys"):
        build_point_tracker("superglue", str(tmp_path / "superglue_outdoor.pth"))
    (tmp_path / "superpoint_v1.pth").unlink()
    with pytest.raises(CheckpointError, match=r"superpoint_v1\.pth(.|\n)*make checkpoints MODEL=superpoint`"):
        build_point_tracker("superglue", str(tmp_path / "superglue_outdoor.pth"))
    with pytest.raises(CheckpointError, match=r"missing\.pth(.|\n)*make checkpoints MODEL=superglue_outdoor`"):
        build_point_tracker("superglue", str(tmp_path / "missing.pth"),
                            superpoint_checkpoint=str(checkpoints["superpoint"]))


def test_superglue_file_without_batch_norm_counters_loads(checkpoints, tmp_path):
    state = torch.load(checkpoints["superglue"])
    state = {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "superglue_outdoor.pth")
    build_point_tracker("superglue", str(tmp_path / "superglue_outdoor.pth"),
                        superpoint_checkpoint=str(checkpoints["superpoint"]))


def test_draw_points_with_replacement_and_padding():
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    candidates = np.array([[1.0, 1.0], [2.0, 8.0], [3.5, 4.9]], np.float32)  # in, out, in (truncated y 4)
    draws = np.random.RandomState(0)
    points, visible = draw_points(candidates, mask, 4, 2, draws)
    expected = np.random.RandomState(0)
    inside = candidates[[0, 2]][expected.choice(2, size=2)]
    outside = candidates[[1]][expected.choice(1, size=1)]
    np.testing.assert_array_equal(points, np.concatenate([inside, [[-1, -1], [-1, -1]], outside, [[-1, -1]]]))
    np.testing.assert_array_equal(visible, [True, True, False, False, True, False])


def test_reference_masks_are_checked():
    queries = np.zeros((6, 3), np.float32)
    with pytest.raises(ValueError, match="frame size"):
        ReferenceMasks(np.ones((2, 4, 4), bool), 2, 0).check(queries, (5, 4))
    with pytest.raises(ValueError, match="not P points for each of the 4 masks"):
        ReferenceMasks(np.ones((4, 4, 4), bool), 1, 0).check(queries, (4, 4))
    queries[1, 0] = 1
    with pytest.raises(ValueError, match="share one query frame"):
        ReferenceMasks(np.ones((2, 4, 4), bool), 1, 0).check(queries, (4, 4))


class MaskedTracker(PointTracker):
    """Records what `SamPt.track_objects` hands a tracker with `uses_reference_masks`."""

    uses_reference_masks = True

    def track(self, frames, queries, reference=None):
        self.reference = reference
        return np.repeat(queries[None, :, 1:], len(frames), axis=0), np.ones((len(frames), len(queries)), bool)


def test_sampt_passes_reference_masks():
    from trackers.sampt.model import SamPt

    frames, masks, queries = superglue_inputs()
    sampt = SamPt(MaskedTracker(), None, positive_points_per_mask=3, negative_points_per_mask=2)
    rng = np.random.default_rng(1)
    sampt.track_objects(frames, queries.reshape(3, 5, 3), list(masks), rng)
    reference = sampt.point_tracker.reference
    np.testing.assert_array_equal(reference.masks, masks)
    assert reference.num_positive == 3 and reference.seed == np.random.default_rng(1).integers(2 ** 32)
    with pytest.raises(ValueError, match="chooses each frame's points from the objects' masks"):
        sampt.track_objects(frames, queries.reshape(3, 5, 3))


def test_runs_in_sampt_with_the_first_masks(checkpoints):
    """The whole run path (query points, tracking with the reference masks, SAM on the drawn points)."""
    from tests.fakes import tiny_sam_segmenter
    from trackers.sampt.engine import VideoObjects
    from trackers.sampt.model import SamPt

    frames, masks, _ = superglue_inputs()
    tracker = build_point_tracker("superglue", str(checkpoints["superglue"]), device="cpu")
    sampt = SamPt(tracker, tiny_sam_segmenter(), positive_points_per_mask=3, negative_points_per_mask=0,
                  iterative_refinement_iterations=0)
    run = sampt.run_video(frames[:3], VideoObjects.from_masks({1: (0, masks[0]), 2: (0, masks[1])}), "clip")
    labels = dict(run.label_maps())
    assert sorted(labels) == [0, 1, 2] and run.tracks.shape == (3, 2, 3, 2)
    assert not run.visible[0].any() and run.visible[1:].any()
    np.testing.assert_array_equal(labels[0][masks[0]], 1)
