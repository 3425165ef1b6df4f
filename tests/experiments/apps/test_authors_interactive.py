"""The interactive point-correction protocol against the authors' ``SamPtInteractive`` (tests/fixtures/
authors_interactive, recorded with scripts/record/authors_interactive.py from SysCV/sam-pt's
sam_pt/vos_eval/eval.py): the same synthetic DAVIS video (two objects, six frames, 108x192), the same random
PIPS and tiny SAM, online, offline and without point tracking; per object our interaction sequence must be
theirs, our IoU curves theirs to float rounding and our final masks theirs on every pixel but one (the
measured float-rounding bound below)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.helpers import FIXTURES
from tests.inputs import (
    AUTHORS_INTERACTIVE_KNOBS, AUTHORS_INTERACTIVE_MODES, AUTHORS_INTERACTIVE_SEED, AUTHORS_SAM_SEED,
    AUTHORS_VIDEO_NAME, make_authors_interactive_inputs,
)

FIXTURE = FIXTURES / "authors_interactive"
RECORDING = json.loads((FIXTURE / "recording.json").read_text())
#: measured when recorded (one torch thread, as the tests run): every interaction, click, pass and final mask
#: equal except one pixel (offline, object 2, frame 1, after its last interaction), where one SAM logit falls
#: on the other side of 0 by float rounding (at two threads ours gave that pixel too); that pixel moves the
#: frame's IoU by 2.2e-6 and the mean over frames by 4e-7
IOU_BOUND = 1e-5
MAX_PIXELS_DIFFERING = 2


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    return make_authors_interactive_inputs(tmp_path_factory.mktemp("authors_interactive_inputs"))


def run_ours(inputs: dict, mode: str, out) -> tuple[dict, dict]:
    """Our `simulate_video` on the recorded video in ``mode`` -> (its summary, {"object_<id>": (T, H, W) bool})."""
    from datasets.davis import Davis17Reader
    from experiments.apps.interactive import InteractiveSettings, simulate_video
    from trackers.point.pips.tracker import PipsTracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.sam import SamSegmenter
    from trackers.segmenters.sam_models import build_tiny_sam

    their = AUTHORS_INTERACTIVE_MODES[mode]  # their offline sweep is one list for the run (the option's doc)
    settings = InteractiveSettings(
        interactions_max=their.get("interactions_max", 300),
        interactions_max_per_frame=their["interactions_max_per_frame"],
        online=their.get("online", False), online_iou_threshold=their.get("online_interactive_iou_threshold", 0.9),
        disable_point_tracking=their.get("disable_point_tracking", False), shared_offline_sweep=True)
    sam = build_tiny_sam(seed=AUTHORS_SAM_SEED)
    sam.load_state_dict(torch.load(inputs["tiny_sam"], map_location="cpu"), strict=True)
    # as configs/model/sampt_interactive.yaml: no IoU threshold, no mask without a positive point; their
    # refinement box is not transformed to SAM's 1024 input (a no-op at a 1024 working size only)
    sampt = SamPt(PipsTracker(checkpoint=inputs["pips"], device="cpu"), SamSegmenter.from_model(sam, device="cpu"),
                  seed=0, **{**AUTHORS_INTERACTIVE_KNOBS, "sam_iou_threshold": 0.0,
                             "empty_mask_without_positive_point": True, "untransformed_refinement_box": True})
    video = Davis17Reader(inputs["davis"], split="val").video(AUTHORS_VIDEO_NAME)
    summary = simulate_video(sampt, video, settings, out, seed=AUTHORS_INTERACTIVE_SEED)
    masks = np.load(out / AUTHORS_VIDEO_NAME / "masks.npz")
    return summary, {key: masks[key] for key in masks.files}


def test_the_recording_runs_every_kind_of_correction_on_several_frames():
    for mode, entry in RECORDING["modes"].items():
        total = {}
        for counts in entry["interactions"]:
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        assert total["add positive"] > 0 and total["add negative"] > 0 and total["frames"] >= 4, (mode, total)
        if mode != "no_tracking":  # without tracking, a point exists on its own frame only: nothing to remove
            assert total.get("remove positive", 0) + total.get("remove negative", 0) > 0, (mode, total)


def compare_object(ours: dict, theirs: dict) -> None:
    """One object's interaction sequence (identical), clicks (identical), IoU curve and passes (float bound)."""
    sequence = [(e["action"], e["type"], e["frame"], e["point"], e["interactions_left"], e["threshold"])
                for e in ours["history"]]
    assert sequence == [(e["action"], e["type"], e["frame_idx"], e["point_idx"], e["interaction_idx"],
                         e["current_iou_threshold"]) for e in theirs["history"]]
    assert [e["xy"] for e in ours["history"] if e["action"] == "add"] == [c["xy"] for c in theirs["clicks"]]
    for name, their_name in (("iou_before", "iou_before"), ("iou_after", "iou_after"),
                             ("overall_iou_before", "overall_iou_before"), ("overall_iou_after", "overall_iou_after")):
        np.testing.assert_allclose([e[name] for e in ours["history"]], [e[their_name] for e in theirs["history"]],
                                   atol=IOU_BOUND, err_msg=name)
    for key in ("threshold", "achieved_threshold", "before", "after"):
        np.testing.assert_allclose(ours["curve"][key], theirs["curve"][key], atol=IOU_BOUND, err_msg=key)
    assert [p["threshold"] for p in ours["passes"]] == [p["threshold"] for p in theirs["passes"]]
    np.testing.assert_allclose([p["frame_ious"] for p in ours["passes"]], [p["frame_ious"] for p in theirs["passes"]],
                               atol=IOU_BOUND)


@pytest.mark.parametrize("mode", [mode if mode != "no_tracking" else pytest.param(mode, marks=pytest.mark.slow)
                                  for mode in AUTHORS_INTERACTIVE_MODES])
def test_interactive_simulation_equals_the_authors(mode, inputs, tmp_path):
    summary, masks = run_ours(inputs, mode, tmp_path)
    theirs = RECORDING["modes"][mode]["objects"]
    their_masks = np.load(FIXTURE / "masks.npz")[f"{mode}_masks"]
    assert [obj["id"] for obj in summary["objects"]] == list(range(1, len(theirs) + 1))
    for index, (ours, their) in enumerate(zip(summary["objects"], theirs)):
        compare_object(ours, their)
        mine = masks[f"object_{ours['id']}"]
        assert mine.shape == their_masks[index].shape
        assert (mine != their_masks[index]).sum() <= MAX_PIXELS_DIFFERING, (mode, ours["id"])
