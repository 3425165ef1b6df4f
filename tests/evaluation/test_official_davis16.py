"""DAVIS 2016 J&F as the authors score it (tests/fixtures/official_davis16, recorded with
scripts/record/davis16.py from hkchengrex/davis2016-evaluation, the public DAVIS 2016 fork of the DAVIS 2017
evaluator with the ``year="2016"`` argument the authors' ``sam_pt/vos_eval/davis2017eval.py`` passes; their
pinned fork was not available to record): a synthetic DAVIS 2017 trainval root listed in
``ImageSets/2016/val.txt`` (every object of a frame is the foreground), binary 0/255 predictions; every
per-frame value, per-sequence statistic and global number must equal the recorded one to 1e-12."""
from __future__ import annotations

import json

import pytest

from datasets.registry import build_reader
from evaluation.vos import evaluate_vos
from tests.evaluation.test_official_davis import assert_per_frame_equal, assert_per_object_and_global_equal
from tests.helpers import FIXTURES
from tests.inputs import make_davis16_inputs

FIXTURE = FIXTURES / "official_davis16" / "davis16.json"


@pytest.fixture(scope="module")
def official() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    inputs = make_davis16_inputs(tmp_path_factory.mktemp("official_davis16"))
    videos = list(build_reader("davis16", inputs["root"], "val"))
    return evaluate_vos(videos, inputs["predictions"], workers=1)


def test_per_frame_equal_official(ours, official):
    assert_per_frame_equal(ours, official)


def test_per_sequence_and_global_equal_official(ours, official):
    assert_per_object_and_global_equal(ours, official)
    # the inputs exercise the rules: imperfect scores, an empty frame and a video never predicted (J = 0)
    assert 0.1 < official["global"]["J&F-Mean"] < 0.9
    assert all(value == 0.0 for value in official["per_frame"]["synth-002_1"]["J"])
