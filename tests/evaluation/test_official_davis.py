"""J&F against the official DAVIS 2017 evaluator (tests/fixtures/official_davis, recorded with
scripts/record/davis.py from davisvideochallenge/davis2017-evaluation): real DAVIS masks as ground truth
(OSVOS, with void pixels on one sequence), perturbed predictions; every per-frame value, per-object
statistic and global number must equal the official one to 1e-12."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datasets.registry import build_reader
from reference.davis_metrics import reference_sequence, reference_statistics
from evaluation.vos import GLOBAL_COLUMNS, OBJECT_COLUMNS, evaluate_vos
from tests.inputs import DAVIS_SEQUENCES as SEQUENCES, make_davis_inputs as make_inputs
from tests.helpers import FIXTURES

FIXTURE = FIXTURES / "official_davis" / "davis17.json"
ATOL = 1e-12


@pytest.fixture(scope="module")
def official() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory) -> dict:
    return make_inputs(shared_data, tmp_path_factory.mktemp("official_davis"))


@pytest.fixture(scope="module")
def ours(inputs):
    videos = list(build_reader("davis17", inputs["root"], "val"))
    assert [video.name for video in videos] == list(SEQUENCES)
    return evaluate_vos(videos, inputs["predictions"], workers=1)


def assert_per_frame_equal(ours, official: dict) -> None:
    """Every per-frame J and F of ``ours`` (a `VosResult`) equals the recording ``official`` to `ATOL`."""
    frames = ours.per_frame()
    assert list(frames) == list(official["per_frame"])
    for key, values in official["per_frame"].items():
        np.testing.assert_allclose(frames[key]["J"], values["J"], rtol=0, atol=ATOL, err_msg=f"{key} J")
        np.testing.assert_allclose(frames[key]["F"], values["F"], rtol=0, atol=ATOL, err_msg=f"{key} F")


def assert_per_object_and_global_equal(ours, official: dict) -> None:
    """Every per-object statistic and global number of ``ours`` equals the recording ``official`` to `ATOL`."""
    assert list(ours.per_object) == list(official["per_object"])
    for key, stats in official["per_object"].items():
        np.testing.assert_allclose([ours.per_object[key][c] for c in OBJECT_COLUMNS],
                                   [stats[c] for c in OBJECT_COLUMNS], rtol=0, atol=ATOL, err_msg=key)
    np.testing.assert_allclose([ours.global_scores[c] for c in GLOBAL_COLUMNS],
                               [official["global"][c] for c in GLOBAL_COLUMNS], rtol=0, atol=ATOL)


def test_per_frame_equal_official(ours, official):
    assert_per_frame_equal(ours, official)


def test_per_object_and_global_equal_official(ours, official):
    assert_per_object_and_global_equal(ours, official)
    # the inputs exercise the rules: imperfect scores, empty predictions (J = 0) and false positives
    assert 0.3 < official["global"]["J&F-Mean"] < 0.9
    assert any(0.0 in values["J"] for values in official["per_frame"].values())


def test_reference_oracle_equal_official(inputs, official):
    """`reference.davis_metrics` (the whole-sequence oracle other tests compare with) on two sequences."""
    from datasets.png import read_label_png

    for video in build_reader("davis17", inputs["root"], "val"):
        if video.name not in ("judo", "shooting"):  # void pixels; 1152 wide (boundary radius 10)
            continue
        frames = range(1, video.num_frames - 1)
        gt = [video.annotation(i) for i in frames]
        pred = [read_label_png(inputs["predictions"] / video.name / f"{video.frame_names[i]}.png") for i in frames]
        j, f = reference_sequence(gt, pred, len(video.objects))
        for k in range(len(video.objects)):
            key = f"{video.name}_{k + 1}"
            np.testing.assert_allclose(j[k], official["per_frame"][key]["J"], rtol=0, atol=ATOL)
            np.testing.assert_allclose(f[k], official["per_frame"][key]["F"], rtol=0, atol=ATOL)
            stats = reference_statistics(j[k]) + reference_statistics(f[k])
            np.testing.assert_allclose(stats, [official["per_object"][key][c] for c in OBJECT_COLUMNS],
                                       rtol=0, atol=ATOL)
