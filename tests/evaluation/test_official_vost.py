"""VOST scoring against the official VOST evaluator (tests/fixtures/official_vost, recorded with
scripts/record/vost.py from TRI-ML/VOST's ``evaluation/``): a synthetic VOST val root (sparse annotations,
void, a late object that leaves and comes back) and seeded predictions (an object never predicted, one
predicted early, one over void, an id the GT lacks); `evaluation.vost.evaluate_vost` and
``python -m evaluation.vos --dataset vost`` must give every official number to 1e-9."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.png import read_label_png
from datasets.registry import read_videos
from evaluation.record import ResultsRecord
from evaluation.vos import main
from evaluation.vost import GLOBAL_NAMES, evaluate_vost, evaluated_frames
from tests.helpers import FIXTURES
from tests.inputs import VOST_CASES, VOST_EXTRA_ID, make_vost_inputs

FIXTURES = FIXTURES / "official_vost"
ATOL = 1e-9


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_vost_inputs(tmp_path_factory.mktemp("vost"))


@pytest.fixture(scope="module")
def videos(inputs):
    return read_videos("vost", inputs["gt"], "val")


@pytest.fixture(scope="module")
def official():
    return json.loads((FIXTURES / "vost.json").read_text())


def test_recording_covers_the_cases(official, videos, inputs):
    assert official["official_commit"] == "fe274574cb03c8a3ea83e121dd76e20b703781fd"
    per_object = official["scores"]["per_object"]
    assert set(per_object) == {f"{v.name}_{i}" for v in videos for i in v.object_ids}
    absent = "_".join(map(str, next(key for key, case in VOST_CASES.items() if case == "absent")))
    assert per_object[absent]["J-Mean"] == 0.0
    video = videos[0]
    raw = [read_label_png(video.annotation_paths[i]) for i in evaluated_frames(video)]
    assert all((labels == 255).any() for labels in raw)  # void on every scored frame
    assert any(obj.first_frame > 0 for obj in video.objects)  # a late object
    areas = [int((video.annotation(i) == 2).sum()) for i in video.frames_to_write]
    assert 0 in areas[areas.index(next(a for a in areas if a)):] and areas[-1] > 0  # leaves and comes back
    pred = read_label_png(inputs["pred"] / "synth-002" / f"{videos[2].frame_names[5]}.png")
    assert (pred == VOST_EXTRA_ID).any()


def test_evaluate_vost_equals_official(videos, inputs, official):
    recorded = official["scores"]
    ours = evaluate_vost(videos, inputs["pred"], workers=1)
    for name in GLOBAL_NAMES:
        assert abs(ours.metrics[name] - recorded["global"][name]) <= ATOL, name
    assert list(ours.per_object) == list(recorded["per_object"])
    for key, values in recorded["per_object"].items():
        for name, value in values.items():
            assert abs(ours.per_object[key][name] - value) <= ATOL, (key, name)


def test_command_line_with_two_workers_writes_official_numbers_and_csvs(inputs, official, tmp_path, capsys):
    argv = ["--dataset", "vost", "--root", str(inputs["gt"]), "--split", "val", "--predictions",
            str(inputs["pred"]), "--output", str(tmp_path), "--workers", "2", "--rounded"]
    assert main(argv) == 0
    record = ResultsRecord.read(tmp_path / "results.json")
    assert (record.dataset, record.split, record.num_videos) == ("vost", "val", 3)
    recorded = official["scores"]
    assert np.allclose([record.global_metrics[n] for n in GLOBAL_NAMES],
                       [recorded["global"][n] for n in GLOBAL_NAMES], rtol=0, atol=ATOL)
    assert set(record.per_object) == set(recorded["per_object"])
    for name in official["csvs"]:
        assert (tmp_path / name).read_text() == (FIXTURES / name).read_text(), name
    table = (FIXTURES / official["csvs"][0]).read_text().splitlines()[1].split(",")
    assert " ".join(table) in " ".join(capsys.readouterr().out.split())  # --rounded: the official table


def test_missing_prediction_names_the_file(videos, inputs, tmp_path):
    import shutil

    from evaluation.scoring import PredictionError

    shutil.copytree(inputs["pred"], tmp_path / "pred")
    victim = tmp_path / "pred" / "synth-001" / f"{videos[1].frame_names[10]}.png"
    victim.unlink()
    with pytest.raises(PredictionError, match=str(victim)):
        evaluate_vost(videos, tmp_path / "pred", workers=1)


def test_a_video_with_two_annotations_is_an_error_naming_its_folder(inputs, tmp_path):
    import shutil

    from datasets.errors import DatasetError

    root = tmp_path / "gt"
    shutil.copytree(inputs["gt"], root)
    folder = root / "Annotations" / "synth-000"
    for png in sorted(folder.iterdir())[2:]:
        png.unlink()
    with pytest.raises(DatasetError, match="needs at least three"):
        evaluate_vost(read_videos("vost", root, "val"), inputs["pred"], workers=1)


def test_rounded_is_for_vost_only(inputs, tmp_path, capsys):
    argv = ["--dataset", "davis17", "--root", str(inputs["gt"]), "--split", "val", "--predictions",
            str(inputs["pred"]), "--rounded"]
    assert main(argv) == 2 and "--rounded is for --dataset vost, lvos and mosev2 only" in capsys.readouterr().err
