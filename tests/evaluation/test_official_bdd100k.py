"""BDD100K scoring against the authors' BDD100KEvaluator (tests/fixtures/official_bdd100k, recorded with
scripts/record/bdd100k.py from SysCV/sam-pt): synthetic BDD100K roots and seeded predictions (objects starting
late, vanishing and returning, short / medium / long objects, one first shown on the last frame, an object never
predicted, one predicted before it starts, an empty frame, 0/255 maps, each object's own overlapping masks, and
a sequence of 300 objects with ids above 255); `evaluation.bdd100k.evaluate_bdd100k` and ``python -m
evaluation.vos --dataset bdd100k`` must give every official number to 1e-9 and its files exactly."""
from __future__ import annotations

import json
import math
import shutil

import pytest

from datasets.registry import read_videos
from evaluation.bdd100k import GLOBAL_COLUMNS, PER_OBJECT_COLUMNS, evaluate_bdd100k, length_class
from evaluation.record import ResultsRecord
from evaluation.scoring import PredictionError
from evaluation.vos import main
from tests.helpers import FIXTURES
from tests.inputs import make_bdd100k_inputs

FIXTURES = FIXTURES / "official_bdd100k"
ATOL = 1e-9
#: mode -> (ground-truth root, predictions) among the inputs
RUNS = {"default": ("gt", "pred"), "overlapping": ("gt", "overlapping"), "wide": ("wide_gt", "wide_pred")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_bdd100k_inputs(tmp_path_factory.mktemp("bdd100k"))


@pytest.fixture(scope="module")
def recorded():
    recording = json.loads((FIXTURES / "bdd100k.json").read_text())
    assert recording["official_commit"] == "874ff7e73d6ab05418a494d7a02ca233c0b31e8c"
    return recording["modes"]


def equal(theirs, mine) -> bool:
    if theirs is None:  # the tool's NaN: None per object, NaN among our global numbers
        return mine is None or (isinstance(mine, float) and math.isnan(mine))
    if isinstance(theirs, str):
        return theirs == mine
    return abs(mine - theirs) <= ATOL


def test_recording_covers_the_cases(recorded):
    rows = recorded["default"]["per_object"]
    assert list(recorded["default"]["global"]) == list(GLOBAL_COLUMNS)
    assert {row["short-medium-long"] for row in rows.values()} == {"short", "medium", "long"}
    assert rows["synth-000_5"]["n_frames"] == 1 and rows["synth-000_3"]["nonvisible_frames"] > 0
    assert rows["synth-000_4"]["J-Mean-NonVis"] is not None and rows["synth-000_1"]["J-Mean-NonVis"] is None
    assert rows["synth-002_1"] == recorded["overlapping"]["per_object"]["synth-002_1"]  # 0/255 maps read as id 1
    assert recorded["default"]["global"]["J-Mean"] != recorded["overlapping"]["global"]["J-Mean"]
    assert len(recorded["wide"]["per_object"]) == 300 and recorded["wide"]["global"]["J-Mean-Long"] is None


@pytest.mark.parametrize("mode", list(RUNS))
def test_evaluate_bdd100k_equals_official(inputs, recorded, mode):
    root, predictions = RUNS[mode]
    ours = evaluate_bdd100k(read_videos("bdd100k", inputs[root], "val"), inputs[predictions], workers=1)
    official = recorded[mode]
    assert ours.overlapping == (mode == "overlapping")
    for name, value in official["global"].items():
        assert equal(value, ours.metrics[name]), name
    assert list(ours.per_object) == list(official["per_object"])
    for key, row in official["per_object"].items():
        assert list(row) == list(PER_OBJECT_COLUMNS)
        row = dict(row)
        assert row.pop("short-medium-long") == length_class(ours.per_object[key]["visible_frames"])
        for name, value in row.items():
            assert equal(value, ours.per_object[key][name]), (key, name)
    assert ours.global_csv() == official["files"]["global_results.csv"]
    assert ours.per_sequence_csv() == official["files"]["per-sequence_results.csv"]


def test_command_line_with_two_workers_writes_official_numbers_and_files(inputs, recorded, tmp_path):
    argv = ["--dataset", "bdd100k", "--root", str(inputs["gt"]), "--split", "val", "--predictions",
            str(inputs["overlapping"]), "--output", str(tmp_path), "--workers", "2"]
    assert main(argv) == 0
    record = ResultsRecord.read(tmp_path / "results.json")
    assert (record.dataset, record.split, record.num_videos) == ("bdd100k", "val", 3)
    official = recorded["overlapping"]
    assert list(record.global_metrics) == list(GLOBAL_COLUMNS)
    assert all(equal(value, record.global_metrics[name]) for name, value in official["global"].items())
    assert record.per_object["synth-001_4"]["visible_frames"] == 14
    for name, text in official["files"].items():
        assert (tmp_path / name).read_text() == text


def test_bad_predictions_name_the_file(inputs, tmp_path):
    videos = read_videos("bdd100k", inputs["gt"], "val")
    pred = tmp_path / "pred"
    shutil.copytree(inputs["pred"], pred)
    (pred / "synth-001" / "synth-001-0000009.png").unlink()
    with pytest.raises(PredictionError, match="no prediction .*synth-001-0000009.png"):
        evaluate_bdd100k(videos, pred, workers=1)
    shutil.copy(inputs["pred"] / "synth-000" / "synth-000-0000009.png", pred / "synth-001" / "synth-001-0000009.png")
    with pytest.raises(PredictionError, match="synth-001-0000009.png holds an id above 4"):
        evaluate_bdd100k(videos[1:2], pred, workers=1)
