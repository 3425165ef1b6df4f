"""LVOS scoring against the official LVOS evaluator (tests/fixtures/official_lvos, recorded with
scripts/record/lvos.py from LingyiHongfd/lvos-evaluation): a synthetic LVOS valid root and seeded predictions
(late objects, objects that leave and come back, seen and unseen videos, the official loop's corner cases in
the meta file, a GT block of 255, an object never predicted, a predicted id and video the GT lacks);
`evaluation.lvos.evaluate_lvos` and ``python -m evaluation.vos --dataset lvos`` must give every official
number to 1e-9."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.registry import read_videos
from evaluation.lvos import GLOBAL_COLUMNS, evaluate_lvos, scored_slots
from evaluation.record import ResultsRecord
from evaluation.vos import main
from tests.helpers import FIXTURES
from tests.inputs import LVOS_CASES, make_lvos_inputs

FIXTURES = FIXTURES / "official_lvos"
ATOL = 1e-9


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_lvos_inputs(tmp_path_factory.mktemp("lvos"))


@pytest.fixture(scope="module")
def videos(inputs):
    return read_videos("lvos", inputs["gt"], "valid")


@pytest.fixture(scope="module")
def official():
    return json.loads((FIXTURES / "lvos.json").read_text())["scores"]


def test_recording_covers_the_cases(official, videos):
    assert json.loads((FIXTURES / "lvos.json").read_text())["official_commit"] == \
        "25cb02d1455b5d0c964a9836ff5242fb51df55ee"
    assert list(official["global"]) == list(GLOBAL_COLUMNS)
    assert {video.unseen for video in videos} == {True, False}
    assert any(obj.first_frame > 0 for video in videos for obj in video.objects)
    assert videos[0].meta_order == [3, 1, 2]
    # the loop's corner cases: a slot no frame reaches (frame_nums too large), a range reaching counter frame_nums-1
    spans = {(v.name, i): (len(scored_slots(v, i)), v.ranges[i]) for v in videos for i in v.meta_order}
    assert any(n < span.frame_nums - 2 for n, span in spans.values())
    assert any(len(span.frames) == span.frame_nums for _, span in spans.values())
    absent = next(key for key, case in LVOS_CASES.items() if case == "absent")
    position = videos[0].meta_order.index(absent[1]) + 1
    assert official["per_object"][f"{absent[0]}_{position}"]["J"] < 0.5


def test_evaluate_lvos_equals_official(videos, inputs, official):
    ours = evaluate_lvos(videos, inputs["pred"], workers=1)
    for name, value in official["global"].items():
        assert abs(ours.metrics[name] - value) <= ATOL, name
    assert list(ours.per_object) == list(official["per_object"])
    for key, values in official["per_object"].items():
        for name, value in values.items():
            assert abs(ours.per_object[key][name] - value) <= ATOL, (key, name)


def test_command_line_with_two_workers_writes_official_numbers(inputs, official, tmp_path):
    argv = ["--dataset", "lvos", "--root", str(inputs["gt"]), "--split", "valid", "--predictions",
            str(inputs["pred"]), "--output", str(tmp_path), "--workers", "2"]
    assert main(argv) == 0
    record = ResultsRecord.read(tmp_path / "results.json")
    assert (record.dataset, record.split, record.num_videos) == ("lvos", "valid", 3)
    assert np.allclose([record.global_metrics[n] for n in GLOBAL_COLUMNS],
                       [official["global"][n] for n in GLOBAL_COLUMNS], rtol=0, atol=ATOL)
    assert set(record.per_object) == set(official["per_object"])
    rounded = (tmp_path / "global_results-valid.csv").read_text().splitlines()
    assert rounded[0] == ",".join(GLOBAL_COLUMNS)
    assert rounded[1] == ",".join("%.3f" % official["global"][n] for n in GLOBAL_COLUMNS)
    assert (tmp_path / "per-sequence_results-valid.csv").read_text().startswith("Sequence,J-Mean,F-Mean,V-Mean\n")
