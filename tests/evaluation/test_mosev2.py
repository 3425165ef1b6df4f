"""`evaluation.mosev2` beyond the official recording: perfect predictions, the errors for missing or malformed
predictions and ground truth, the segment and radius rules on hand-made cases, a video too short to score
(J = F = 0, as in the official tool) and a split without any disappearance (NaN, as in the official tool)."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from skimage.morphology import disk

from datasets.errors import DatasetError
from datasets.png import write_label_png
from datasets.registry import read_videos
from datasets.synthetic import generate
from evaluation.davis_metrics import disk_kernel
from evaluation.mosev2 import boundary_radii, evaluate_mosev2, frame_scores, object_row, segments
from evaluation.scoring import PredictionError

TINY = dict(num_videos=2, num_frames=30, height=48, width=64, num_objects=2)


@pytest.fixture
def root(tmp_path):
    return generate(tmp_path / "mosev2", "mosev2", **TINY).root


@pytest.fixture
def perfect(root, tmp_path):
    """Predictions equal to the ground truth: a copy of the annotation folders."""
    shutil.copytree(root / "valid" / "Annotations", tmp_path / "pred")
    return tmp_path / "pred"


def test_perfect_predictions_score_one(root, perfect):
    result = evaluate_mosev2(read_videos("mosev2", root, "valid"), perfect, workers=1)
    assert all(value == 1.0 for value in result.metrics.values())
    assert list(result.per_object) == ["synth-000_1", "synth-000_2", "synth-001_1", "synth-001_2"]
    assert result.per_object["synth-000_2"]["reappear_J"] == 1.0 and result.per_object["synth-000_1"]["frames"] == 28


def test_missing_or_malformed_inputs_are_errors(root, perfect):
    videos = read_videos("mosev2", root, "valid")
    (perfect / "synth-001" / "00011.png").unlink()
    with pytest.raises(PredictionError, match="synth-001/00011.png"):
        evaluate_mosev2(videos, perfect, workers=1)
    write_label_png(perfect / "synth-001" / "00011.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(PredictionError, match="is 32x24 but the ground truth is 64x48"):
        evaluate_mosev2(videos, perfect, workers=2)
    shutil.rmtree(perfect / "synth-001")
    with pytest.raises(PredictionError, match="no prediction folder"):
        evaluate_mosev2(videos, perfect, workers=1)
    (root / "valid" / "Annotations" / "synth-000" / "00005.png").unlink()
    with pytest.raises(DatasetError, match="frame 00005 has no annotation .* the first frame only"):
        evaluate_mosev2(read_videos("mosev2", root, "valid"), perfect, workers=1)


def test_segments_follow_the_runs_of_empty_ground_truth():
    empty = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1], bool)
    disappear, reappear = segments(empty)
    assert [(s.start, s.stop) for s in disappear] == [(4, 5), (6, 8), (9, 10)]  # the run at 0 is not one
    assert [(s.start, s.stop) for s in reappear] == [(2, 4), (5, 6), (8, 9)]
    assert segments(np.zeros(5, bool)) == ([], [])
    j = np.arange(10) / 10
    row = object_row(j, j, j, empty)
    assert row["disappear_J"] == pytest.approx((0.4 + 0.65 + 0.9) / 3)
    assert row["reappear_J&F_new"] == pytest.approx((0.25 + 0.5 + 0.8) / 3)


def test_radii_and_frame_scores():
    assert boundary_radii((120, 160), 4) == (2.0, 1.0)  # small object: classic ceil(1.6), adaptive ceil(0.2)
    assert boundary_radii((120, 160), 400) == (1.6, 1.6)  # large: both the unrounded 0.008 * diagonal
    assert boundary_radii((120, 160), 0) == (1.6, 1.6)  # empty GT
    for radius in (1.6, 7.836, 3.0):
        assert np.array_equal(disk_kernel(radius), disk(radius))  # the official skimage disk, even-sized too
    gt = np.zeros((120, 160), np.uint8)
    pred = gt.copy()
    pred[10:20, 10:20] = 1
    assert frame_scores(gt, pred, 1) == (1 / 101, 0.0, 0.0, True)  # J = (0 + 1) / (100 + 1) on an empty GT
    assert frame_scores(gt, gt, 1) == (1.0, 1.0, 1.0, True)


def test_short_video_scores_zero_and_no_disappearance_gives_nan(root, perfect):
    meta_path = root / "valid" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["synth-000"]["objects"] = ["1"]
    meta_path.write_text(json.dumps(meta))
    result = evaluate_mosev2(read_videos("mosev2", root, "valid", select=lambda names: names[:1]), perfect, workers=1)
    assert result.metrics["J"] == 1.0 and math.isnan(result.metrics["disappear_J&F_new"])
    assert "disappear_J&F_new: nan" in result.scores_txt()
    for t in range(2, 30):
        for folder in ("JPEGImages", "Annotations"):
            next((root / "valid" / folder / "synth-000").glob(f"{t:05d}.*")).unlink()
    meta["videos"]["synth-000"]["length"] = 2
    meta_path.write_text(json.dumps(meta))
    result = evaluate_mosev2(read_videos("mosev2", root, "valid", select=lambda names: names[:1]), perfect, workers=1)
    assert result.per_object["synth-000_1"]["J"] == 0.0 and result.per_object["synth-000_1"]["frames"] == 0
