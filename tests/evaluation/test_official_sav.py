"""SA-V scoring against the official SA-V evaluator (tests/fixtures/official_sav, recorded with
scripts/record/sav.py from facebookresearch/sam2's ``sav_dataset``): a synthetic SA-V val root and seeded
predictions (late objects, an object never predicted, one predicted early, 0/1 masks, a predicted object
and video the GT lacks), with and without skipping the first and last annotated frame;
`evaluation.sav.evaluate_sav` and ``python -m evaluation.vos --dataset sav`` must give every official
number to 1e-9 (the official tool reports percentages: ours x 100)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.registry import read_videos
from evaluation.record import ResultsRecord
from evaluation.sav import evaluate_sav, evaluated_frames, read_prediction_mask
from evaluation.vos import main
from tests.helpers import FIXTURES
from tests.inputs import SAV_CASES, SAV_SETTINGS, make_sav_inputs

FIXTURES = FIXTURES / "official_sav"
ATOL = 1e-9


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_sav_inputs(tmp_path_factory.mktemp("sav"))


@pytest.fixture(scope="module")
def videos(inputs):
    return read_videos("sav", inputs["gt"], "val")


@pytest.fixture(scope="module")
def official():
    return json.loads((FIXTURES / "sav.json").read_text())


def test_recording_covers_the_cases(official, videos, inputs):
    assert official["official_commit"] == "2b90b9f5ceec907a1c18123530e92e794ad901a4"
    assert official["settings"] == SAV_SETTINGS
    for setting in SAV_SETTINGS:
        per_object = official["scores"][setting]["per_object"]
        assert set(per_object) == {f"{v.name}_{v.object_folder(i)}" for v in videos for i in v.object_ids}
        absent = "_".join(next(key for key, case in SAV_CASES.items() if case == "absent"))
        assert per_object[absent] == {"J": 0.0, "F": 0.0}
    # the GT has late objects, and some evaluated frame is empty in both GT and prediction
    assert any(obj.first_frame > 0 for video in videos for obj in video.objects)
    both_empty = [(video.name, object_id, index) for video in videos for object_id in video.object_ids
                  for index in evaluated_frames(video, object_id, True)
                  if not video.object_mask(object_id, index).any()
                  and not read_prediction_mask(inputs["pred"], video, object_id, index).any()]
    assert both_empty


@pytest.mark.parametrize("setting", list(SAV_SETTINGS))
def test_evaluate_sav_equals_official(videos, inputs, official, setting):
    recorded = official["scores"][setting]
    ours = evaluate_sav(videos, inputs["pred"], workers=1, skip_first_and_last=SAV_SETTINGS[setting])
    for name, value in recorded["global"].items():
        assert abs(ours.metrics[name] * 100 - value) <= ATOL, (setting, name)
    assert set(ours.per_object) == set(recorded["per_object"])
    for key, values in recorded["per_object"].items():
        for name, value in values.items():
            assert abs(ours.per_object[key][name] * 100 - value) <= ATOL, (setting, key, name)


def test_skipping_changes_the_counted_frames(videos, inputs):
    skip = evaluate_sav(videos, inputs["pred"], workers=1)
    keep = evaluate_sav(videos, inputs["pred"], workers=1, skip_first_and_last=False)
    added = {key: keep.per_object[key]["frames"] - row["frames"] for key, row in skip.per_object.items()}
    # the last annotated frame always comes back; the first only counts for objects shown on it
    assert set(added.values()) == {1, 2}


def test_command_line_with_two_workers_writes_official_numbers(inputs, official, tmp_path):
    argv = ["--dataset", "sav", "--root", str(inputs["gt"]), "--split", "val", "--predictions",
            str(inputs["pred"]), "--output", str(tmp_path), "--workers", "2", "--do-not-skip-first-and-last-frame"]
    assert main(argv) == 0
    record = ResultsRecord.read(tmp_path / "results.json")
    assert (record.dataset, record.split, record.num_videos) == ("sav", "val", 3)
    recorded = official["scores"]["no_skip"]
    assert np.allclose([record.global_metrics[n] * 100 for n in ("J&F", "J", "F")],
                       [recorded["global"][n] for n in ("J&F", "J", "F")], rtol=0, atol=ATOL)
    assert set(record.per_object) == set(recorded["per_object"])
