"""Class-agnostic VIS scoring against the official YouTube-VIS evaluator as SAM-PT runs it for UVO
(tests/fixtures/official_vis, recorded with scripts/record/vis.py from SysCV/sam-pt's copy of the
YouTube-VIS API): two seeded (ground truth, results) pairs; `evaluation.vis.evaluate_vis` and the
``python -m evaluation.vis`` command line must give all 12 official numbers to 1e-12."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.vis import evaluate_vis, main
from evaluation.vis_metrics import STAT_NAMES
from tests.inputs import VIS_PAIRS as PAIRS, make_vis_inputs as make_inputs
from tests.helpers import FIXTURES

FIXTURES = FIXTURES / "official_vis"
ATOL = 1e-12
#: recorded setting -> the ground-truth file it scored
SETTINGS = {"sam_pt": "gt", "uvo_script": "gt", "uvo_script_two_categories": "gt_two_categories"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("vis"))


@pytest.fixture(scope="module")
def official():
    return json.loads((FIXTURES / "vis.json").read_text())


def _cases(official):
    for key, numbers in official["scores"].items():
        pair, setting = key.split("/")
        yield key, pair, SETTINGS[setting], numbers


def test_recording_covers_the_cases(official):
    assert tuple(official["stat_names"]) == STAT_NAMES
    assert {key.split("/")[0] for key in official["scores"]} == set(PAIRS)
    assert official["official_commit"] == "874ff7e73d6ab05418a494d7a02ca233c0b31e8c"
    for key, numbers in official["scores"].items():
        values = np.array([numbers[name] for name in STAT_NAMES])
        # every number is informative: no area range without GT, none at 0 or 1
        assert ((values > 0) & (values < 1)).all(), key
        assert numbers["AR1"] < numbers["AR10"] <= numbers["AR100"], key
    # pair 2 has a video with more than 100 detections: AR10 < AR100 there
    assert official["scores"]["pair2/sam_pt"]["AR10"] < official["scores"]["pair2/sam_pt"]["AR100"]


def test_evaluate_vis_equals_official(inputs, official):
    for key, pair, gt, numbers in _cases(official):
        ours = evaluate_vis(str(inputs[f"{pair}_{gt}"]), str(inputs[f"{pair}_results"]))
        for name in STAT_NAMES:
            assert abs(ours[name] - numbers[name]) <= ATOL, (key, name, ours[name], numbers[name])


def test_command_line_writes_official_numbers(inputs, official, tmp_path):
    numbers = official["scores"]["pair2/sam_pt"]
    assert main(["--gt", str(inputs["pair2_gt"]), "--results", str(inputs["pair2_results"]),
                 "--output", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "results.json").read_text())["metrics"]["global"]
    for name in STAT_NAMES:
        assert abs(written[name] - numbers[name]) <= ATOL, name
