"""End to end: SAM-PT with the weight-free Lucas-Kanade tracker and GrabCut on a synthetic clip."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.synthetic import render_video
from trackers.point.opencv import LucasKanadeTracker
from trackers.sampt.model import SamPt
from trackers.segmenters.grabcut import GrabCutSegmenter
from reference.runs import segment_video


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


@pytest.mark.parametrize("reinit", [False, True])
def test_lk_grabcut_segments_a_moving_textured_object(reinit):
    clip = render_video(np.random.SeedSequence(3), "e2e", 8, 180, 240, [1], late_start=0)
    truth = clip.truth
    first = {obj.id: (0, truth.labels[0] == obj.id) for obj in truth.objects}
    sampt = SamPt(LucasKanadeTracker(), GrabCutSegmenter(), iterative_refinement_iterations=1,
                  use_point_reinit=reinit, reinit_horizon=4, reinit_point_tracker_horizon=6,
                  reinit_variant="reinit-on-horizon-and-sync-masks")
    result = segment_video(sampt, clip.frames, first, "e2e")
    ious = [_iou(result.labels[t] == obj.id, truth.labels[t] == obj.id)
            for obj in truth.objects for t in range(1, truth.num_frames)]
    assert np.mean(ious) > 0.6, ious
    assert set(result.scores) == {1} and all(0 <= s <= 1 for s in result.scores.values())
