"""`evaluation.lvos` beyond the official recording: perfect predictions, the errors for missing or malformed
predictions (the official tool exits or crashes), a split without the unseen list, a split without unseen
videos (NaN, as in the official tool) and a meta range longer than its frame_nums."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError
from datasets.png import write_label_png
from datasets.registry import read_videos
from datasets.synthetic import generate
from evaluation.lvos import evaluate_lvos
from evaluation.scoring import PredictionError

TINY = dict(num_videos=2, num_frames=30, height=48, width=64, num_objects=2)


@pytest.fixture
def root(tmp_path):
    return generate(tmp_path / "lvos", "lvos", **TINY).root


@pytest.fixture
def perfect(root, tmp_path):
    """Predictions equal to the ground truth: a copy of the annotation folders."""
    shutil.copytree(root / "valid" / "Annotations", tmp_path / "pred")
    return tmp_path / "pred"


def test_perfect_predictions_score_one(root, perfect):
    result = evaluate_lvos(read_videos("lvos", root, "valid"), perfect, workers=1)
    assert result.metrics["J&F-Mean"] == 1.0 and result.metrics["V-Mean"] == 0.0
    assert set(result.per_object) == {"synth-000_1", "synth-000_2", "synth-001_1", "synth-001_2"}
    assert [row["unseen"] for row in result.per_object.values()] == [False, False, True, True]


def test_missing_or_malformed_predictions_are_errors(root, perfect):
    videos = read_videos("lvos", root, "valid")
    (perfect / "synth-001" / "00000011.png").unlink()
    with pytest.raises(PredictionError, match="synth-001/00000011.png"):
        evaluate_lvos(videos, perfect, workers=1)
    write_label_png(perfect / "synth-001" / "00000011.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(PredictionError, match="is 32x24 but the ground truth is 64x48"):
        evaluate_lvos(videos, perfect, workers=2)
    shutil.rmtree(perfect / "synth-001")
    with pytest.raises(PredictionError, match="no prediction folder"):
        evaluate_lvos(videos, perfect, workers=1)


def test_unseen_list_missing_or_empty(root, perfect):
    (root / "valid" / "unseen_videos.txt").unlink()
    with pytest.raises(DatasetError, match="unseen_videos.txt"):
        evaluate_lvos(read_videos("lvos", root, "valid"), perfect, workers=1)
    (root / "valid" / "unseen_videos.txt").write_text("")
    result = evaluate_lvos(read_videos("lvos", root, "valid"), perfect, workers=1)
    assert result.metrics["J-seen-Mean"] == 1.0 and math.isnan(result.metrics["J&F-Mean"])


def test_range_longer_than_frame_nums_is_an_error(root, perfect):
    meta_path = root / "valid" / "valid_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["synth-000"]["objects"]["1"]["frame_range"]["frame_nums"] = 4
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="more than frame_nums"):
        evaluate_lvos(read_videos("lvos", root, "valid"), perfect, workers=1)


def test_objects_without_slots_score_nan_as_the_official_tool(root, perfect):
    meta_path = root / "valid" / "valid_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["synth-000"]["objects"]["1"]["frame_range"].update(end="00000007", frame_nums=2)
    meta_path.write_text(json.dumps(meta))
    result = evaluate_lvos(read_videos("lvos", root, "valid"), perfect, workers=1)
    assert math.isnan(result.per_object["synth-000_1"]["J"]) and result.per_object["synth-000_1"]["slots"] == 0
    assert math.isnan(result.metrics["J-seen-Mean"]) and result.metrics["J-unseen-Mean"] == 1.0
    meta["videos"]["synth-000"]["objects"]["1"]["frame_range"]["frame_nums"] = 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="frame_nums 1"):
        evaluate_lvos(read_videos("lvos", root, "valid"), perfect, workers=1)
