"""SAM-PT-reinit (paper Appendix A): reinit frame choice per variant, horizons, stopping, both directions."""
from __future__ import annotations

import numpy as np
import pytest

from tests.fakes import DiskSegmenter, Recorder, ScriptedTracker, frames_with_ids
from trackers.sampt.reinit import REINIT_VARIANTS, choose_reinit_offsets
from trackers.sampt.model import SamPt
from reference.runs import segment_points_with_reinit, segment_video

NAN = np.nan


def test_variant_a_uses_the_horizon_end_or_syncs_with_the_next_query_frame():
    areas = np.full((2, 7), 500.0)
    assert choose_reinit_offsets("reinit-on-horizon-and-sync-masks", areas, np.array([500, 500]), 8, None).tolist() == [6, 6]
    assert choose_reinit_offsets("reinit-on-horizon-and-sync-masks", areas, np.array([500, 500]), 8, 3).tolist() == [3, 3]


def test_variant_b_takes_the_median_area_among_candidates():
    # h = 8: the first 8 // 4 = 2 frames and areas <= 25 px are no candidates
    areas = np.array([[1000, 1000, 300, 200, 20, 400, 50]], np.float64)
    assert choose_reinit_offsets("reinit-at-median-of-area-diff", areas, np.array([0]), 8, None).tolist() == [3]
    areas = np.array([[1000, 1000, 300, 200, 400, 50, 500]], np.float64)  # median of 5 candidates: 300
    assert choose_reinit_offsets("reinit-at-median-of-area-diff", areas, np.array([0]), 8, None).tolist() == [2]


def test_variant_c_takes_the_area_closest_to_the_start_area():
    areas = np.array([[210, 210, 300, 200, 26, 25, 500]], np.float64)
    assert choose_reinit_offsets("reinit-on-similar-mask-area", areas, np.array([210]), 8, None).tolist() == [3]
    assert choose_reinit_offsets("reinit-on-similar-mask-area", areas, np.array([20]), 8, None).tolist() == [4]


def test_variant_d_minimises_summed_relative_difference_with_a_sync_bonus():
    areas = np.array([[100, 100, 100, 150, 190, 300, 100],
                      [200, 200, 200, 150, 100, 300, 250]], np.float64)
    start = np.array([100, 200])
    assert choose_reinit_offsets("reinit-on-similar-mask-area-and-sync-masks", areas, start, 8, None).tolist() == [2, 2]
    # the bonus (36) outweighs any relative difference here
    assert choose_reinit_offsets("reinit-on-similar-mask-area-and-sync-masks", areas, start, 8, 5).tolist() == [5, 5]
    assert choose_reinit_offsets("reinit-on-similar-mask-area-and-sync-masks", areas, start, 8, 40).tolist() == [2, 2]


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="valid variants"):
        choose_reinit_offsets("E", np.ones((1, 3)), np.ones(1), 4, None)


def _square(height=48, width=64):
    mask = np.zeros((height, width), bool)
    mask[14:34, 20:44] = True
    return mask


def _reinit_sampt(variant, tracker, segmenter, horizon=4, tracker_horizon=6, **knobs):
    return SamPt(tracker, segmenter, use_point_reinit=True, reinit_variant=variant, reinit_horizon=horizon,
                 reinit_point_tracker_horizon=tracker_horizon, iterative_refinement_iterations=0, **knobs)


class QueryRecordingTracker(ScriptedTracker):
    """`ScriptedTracker` that keeps the queries of every call."""

    def track(self, frames, queries):
        self.queries = getattr(self, "queries", []) + [np.asarray(queries).copy()]
        return super().track(frames, queries)


def test_variant_a_reinitialises_on_the_horizon_and_embeds_each_frame_once():
    tracker, seg = ScriptedTracker(), Recorder(DiskSegmenter(radius=8))
    sampt = _reinit_sampt("reinit-on-horizon-and-sync-masks", tracker, seg)
    result = segment_video(sampt, frames_with_ids(10), {1: (0, _square())}, "v")
    # (clip length, first frame of the clip): starts 0, 0 + 1 + (4 - 2) = 3, 6; tracker horizon 6
    assert [(c[0], c[3]) for c in tracker.calls] == [(6, 0), (6, 3), (4, 6)]
    assert all((c[2] == 0).all() for c in tracker.calls)
    assert seg.embeds == 10
    assert (result.labels == 1).any(axis=(1, 2)).all()


@pytest.mark.parametrize("variant", REINIT_VARIANTS)
def test_every_variant_runs_within_its_horizons(variant):
    tracker, seg = ScriptedTracker(), Recorder(DiskSegmenter(radius=8))
    sampt = _reinit_sampt(variant, tracker, seg, horizon=4, tracker_horizon=5)
    result = segment_video(sampt, frames_with_ids(12), {1: (0, _square()), 2: (1, np.roll(_square(), 20, 1))}, "v")
    starts = [c[3] for c in tracker.calls]
    assert starts[0] == 0 and all(length <= 5 for length, *_ in tracker.calls)
    for c in tracker.calls:
        assert c[0] == min(5, 12 - c[3])
    # a new start lies within the previous reinit horizon: gaps of 1 .. horizon - 1 frames per object
    assert len(tracker.calls) >= 4
    assert (result.labels[1:] == 2).any(axis=(1, 2)).all() and not (result.labels[0] == 2).any()
    assert seg.embeds == 12


def test_with_the_papers_rule_an_empty_mask_at_the_reinit_frame_stops_the_object():
    tracker = ScriptedTracker()
    seg = DiskSegmenter(radius=8, empty_from=2)
    sampt = _reinit_sampt("reinit-on-horizon-and-sync-masks", tracker, seg, reinit_tiny_masks="stop")
    result = segment_video(sampt, frames_with_ids(10), {1: (0, _square())}, "v")
    assert len(tracker.calls) == 1  # reinit frame 3 has an empty mask: no further tracking
    assert (result.labels[1] == 1).any() and not (result.labels[2:] == 1).any()
    assert np.isnan(result.iou[4:, 0]).all()


def test_by_default_an_empty_reinit_mask_gives_positive_points_at_the_origin_as_the_authors_code():
    """The authors' validity check never fires: an empty reinit mask is re-sampled, its positive points at
    (0, 0) (their k-medoids of an empty mask), its negative points from the whole frame; tracking goes on."""

    tracker = QueryRecordingTracker()
    seg = DiskSegmenter(radius=8, empty_from=2)
    sampt = _reinit_sampt("reinit-on-horizon-and-sync-masks", tracker, seg)
    result = segment_video(sampt, frames_with_ids(10), {1: (0, _square())}, "v")
    assert [(c[0], c[3]) for c in tracker.calls] == [(6, 0), (6, 3), (4, 6)]  # not stopped
    again = tracker.queries[1]  # (P, 3) clip-local (t, x, y): 8 positives then 1 negative
    np.testing.assert_array_equal(again[:8], 0.0)
    assert again[8, 1:].any()  # the negative point is sampled from the (whole) frame
    assert not (result.labels[2:] == 1).any()  # positives at the corner are invisible (border rule)


def test_reinit_runs_forward_and_on_the_flipped_video():
    tracker, seg = ScriptedTracker(), DiskSegmenter(radius=8)
    sampt = _reinit_sampt("reinit-on-horizon-and-sync-masks", tracker, seg)
    queries = np.array([[[4, 30, 20]] * 8 + [[4, 5, 5]]], np.float32)
    out = segment_points_with_reinit(sampt, frames_with_ids(8), queries)
    # (clip length, first video frame of the clip): forward from frame 4 to the end, then the flipped
    # video from frame 4 back (horizon 4: reinit at flipped frame 3 + 1 + 2 = 6, i.e. video frame 1)
    assert [(c[0], c[3]) for c in tracker.calls] == [(4, 4), (5, 4), (2, 1)]
    assert out.has_mask.all() and out.predicted.all()
    assert not np.isnan(out.tracks).any()


def test_a_mask_covering_the_whole_frame_gives_negative_points_at_the_origin_as_the_authors_code():
    """No negative point can be sampled outside the reinit mask: the authors' samplers give (0, 0) for the empty
    complement and tracking goes on (it used to stop the object here)."""
    tracker = QueryRecordingTracker()
    sampt = _reinit_sampt("reinit-on-horizon-and-sync-masks", tracker, DiskSegmenter(radius=1000))
    result = segment_video(sampt, frames_with_ids(10), {1: (0, _square())}, "v")
    assert [(c[0], c[3]) for c in tracker.calls] == [(6, 0), (6, 3), (4, 6)]
    again = tracker.queries[1]
    assert again[:8, 1:].any() and (again[8, 1:] == 0).all()
    assert (result.labels[1:] == 1).all()


def test_a_rejected_reinit_mask_is_empty_as_the_authors_code():
    """SAM's IoU below the threshold rejects the mask at reinit frame 3: new query points come from an empty
    mask (positives at (0, 0)), not from the rejected mask's logits (the authors' rejected masks are -inf)."""
    tracker = QueryRecordingTracker()
    seg = DiskSegmenter(radius=8, iou_by_frame={3: 0.5})
    sampt = _reinit_sampt("reinit-on-horizon-and-sync-masks", tracker, seg)
    result = segment_video(sampt, frames_with_ids(10), {1: (0, _square())}, "v")
    assert [(c[0], c[3]) for c in tracker.calls] == [(6, 0), (6, 3), (4, 6)]
    np.testing.assert_array_equal(tracker.queries[1][:8], 0.0)
    assert (result.labels[1:3] == 1).any() and not (result.labels[3:] == 1).any()
