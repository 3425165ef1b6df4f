"""`evaluation.sav` beyond the official recording: perfect predictions, the errors for missing or malformed
predictions (the official tool stops on an assertion or silently drops a video), and objects whose ground
truth is empty on every evaluated frame (the official tool stops on an assertion; here they are left out)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets.png import write_label_png
from datasets.registry import read_videos
from datasets.synthetic import generate
from evaluation.record import ResultsRecord
from evaluation.sav import evaluate_sav
from evaluation.scoring import PredictionError
from evaluation.vos import main

TINY = dict(num_videos=2, num_frames=24, height=48, width=64, num_objects=2)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("sav") / "sav", "sav", **TINY).root


@pytest.fixture
def perfect(root, tmp_path):
    """Predictions equal to the ground truth: a copy of the annotation folders."""
    shutil.copytree(root / "sav_val" / "Annotations_6fps", tmp_path / "pred")
    return tmp_path / "pred"


def test_perfect_predictions_score_one(root, perfect):
    result = evaluate_sav(read_videos("sav", root, "val"), perfect, workers=1)
    assert result.metrics == {"J&F": 1.0, "J": 1.0, "F": 1.0}
    assert set(result.per_object) == {"synth-000_000", "synth-000_001", "synth-001_000", "synth-001_001"}


def test_missing_or_malformed_predictions_are_errors(root, perfect):
    videos = read_videos("sav", root, "val")
    (perfect / "synth-001" / "001" / "00008.png").unlink()
    with pytest.raises(PredictionError, match="synth-001/001/00008.png"):
        evaluate_sav(videos, perfect, workers=1)
    write_label_png(perfect / "synth-001" / "001" / "00008.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(PredictionError, match="is 32x24 but the ground truth is 64x48"):
        evaluate_sav(videos, perfect, workers=2)
    shutil.rmtree(perfect / "synth-001")
    with pytest.raises(PredictionError, match="no prediction folder"):
        evaluate_sav(videos, perfect, workers=1)


def test_object_without_ground_truth_on_evaluated_frames_is_left_out(root, perfect, tmp_path):
    gt = tmp_path / "gt"
    shutil.copytree(root, gt)
    folder = gt / "sav_val" / "Annotations_6fps" / "synth-000" / "000"
    for path in sorted(folder.iterdir())[1:]:  # visible on the first annotated frame only, which is skipped
        write_label_png(path, np.zeros((48, 64), np.uint8))
    assert main(["--dataset", "sav", "--root", str(gt), "--split", "val", "--predictions", str(perfect),
                 "--output", str(tmp_path / "out"), "--workers", "1"]) == 0
    record = ResultsRecord.read(tmp_path / "out" / "results.json")
    assert record.extra["objects_without_gt"] == ["synth-000_000"]
    assert "synth-000_000" not in record.per_object and len(record.per_object) == 3
    # the prediction still shows it on later frames (J = 0 there), but it does not count
    assert record.global_metrics["J&F"] == 1.0


def test_skip_flag_is_for_sav_only(capsys):
    assert main(["--dataset", "davis17", "--root", "x", "--split", "val", "--predictions", "y",
                 "--do-not-skip-first-and-last-frame"]) == 2
    assert "for --dataset sav only" in capsys.readouterr().err
