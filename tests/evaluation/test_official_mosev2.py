"""MOSEv2 scoring against the official MOSEv2 evaluator (tests/fixtures/official_mosev2, recorded with
scripts/record/mosev2.py from henghuiding/MOSE-api): a synthetic MOSEv2 valid root and seeded predictions
(objects absent on the first frames, several disappearance / reappearance segments, a disappearance to the
end, a tiny object, meta objects as a list out of id order and as a mapping, an object never predicted, one
predicted before it starts, an empty predicted frame, a predicted id and video the GT lacks);
`evaluation.mosev2.evaluate_mosev2` and ``python -m evaluation.vos --dataset mosev2`` must give every official
number to 1e-9 and its rounded files exactly."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.registry import read_videos
from evaluation.mosev2 import GLOBAL_KEYS, boundary_radii, evaluate_mosev2, scored_frames, segments
from evaluation.record import ResultsRecord
from evaluation.vos import main
from tests.helpers import FIXTURES
from tests.inputs import MOSEV2_CASES, MOSEV2_TINY, make_mosev2_inputs

FIXTURES = FIXTURES / "official_mosev2"
ATOL = 1e-9


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_mosev2_inputs(tmp_path_factory.mktemp("mosev2"))


@pytest.fixture(scope="module")
def videos(inputs):
    return read_videos("mosev2", inputs["gt"], "valid")


@pytest.fixture(scope="module")
def recorded():
    return json.loads((FIXTURES / "mosev2.json").read_text())


def test_recording_covers_the_cases(recorded, videos):
    official = recorded["scores"]
    assert recorded["official_commit"] == "241977ae2ceceee054fa2a2c8a2690838c451369"
    assert list(official["global"]) == list(GLOBAL_KEYS)
    assert videos[0].meta_ids == ["3", "1", "2"] and any(obj.first_frame > 1 for obj in videos[0].objects)
    flags = {(v.name, obj.id): np.array([not (v.annotation(i) == obj.id).any() for i in scored_frames(v)])
             for v in videos for obj in v.objects}
    assert max(len(segments(empty)[0]) for empty in flags.values()) >= 2  # several disappearances
    assert any(empty[0] for empty in flags.values()) and any(empty[-1] for empty in flags.values())
    tiny, video = MOSEV2_TINY
    row = official["per_object"][f"{video}_{tiny}"]
    assert boundary_radii(videos[2].size, 4) == (2.0, 1.0) and row["F"] > row["F_new"]
    assert any(row["disappear_J&F_new"] is None for row in official["per_object"].values())
    absent = next(key for key, case in MOSEV2_CASES.items() if case == "absent")
    assert official["per_object"][f"{absent[0]}_{absent[1]}"]["reappear_J&F_new"] < 0.05


def test_evaluate_mosev2_equals_official(videos, inputs, recorded):
    official = recorded["scores"]
    ours = evaluate_mosev2(videos, inputs["pred"], workers=1)
    for name, value in official["global"].items():
        assert abs(ours.metrics[name] - value) <= ATOL, name
    assert set(ours.per_object) == set(official["per_object"])
    for key, values in official["per_object"].items():
        for name, value in values.items():
            theirs, mine = value, ours.per_object[key][name]
            assert (theirs is None) == (mine is None), (key, name)
            assert theirs is None or abs(mine - theirs) <= ATOL, (key, name)


def test_command_line_with_two_workers_writes_official_numbers_and_files(inputs, recorded, tmp_path, capsys):
    argv = ["--dataset", "mosev2", "--root", str(inputs["gt"]), "--split", "valid", "--predictions",
            str(inputs["pred"]), "--output", str(tmp_path), "--workers", "2", "--rounded"]
    assert main(argv) == 0
    record = ResultsRecord.read(tmp_path / "results.json")
    assert (record.dataset, record.split, record.num_videos) == ("mosev2", "valid", 3)
    official = recorded["scores"]
    assert np.allclose([record.global_metrics[n] for n in GLOBAL_KEYS], [official["global"][n] for n in GLOBAL_KEYS],
                       rtol=0, atol=ATOL)
    assert set(record.per_object) == set(official["per_object"])
    assert (tmp_path / "scores.txt").read_text() == recorded["rounded"]["scores.txt"]
    assert recorded["rounded"]["scores.txt"] in capsys.readouterr().out  # --rounded: the official table
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics.pop("total_time") >= 0 and metrics == recorded["rounded"]["metrics.json"]
