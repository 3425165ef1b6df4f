"""The UVO VIS pipeline against the authors' own (tests/fixtures/authors_vis, recorded with
scripts/record/authors_vis.py from SysCV/sam-pt's sam_pt/vis_eval/eval.py and
sam_pt/modeling/vis_to_vos_adapter.py): the same synthetic UVO video at their 360-pixel short side, the same
automatic-mask-generator settings, random PIPS and tiny SAM; our proposals, detections (every pixel of every
mask, scores, categories) and VIS metrics must be theirs."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from scripts.record.authors_vis import AUTHORS_VIS_KNOBS, GENERATOR
from tests.helpers import FIXTURES
from tests.inputs import AUTHORS_VIS_VIDEO, make_authors_vis_inputs, unpack_masks, vis_tiny_sam

FIXTURE = FIXTURES / "authors_vis"
#: their score is a float32 mean of float32 IoUs, ours a float64 mean of the same values: float32 rounding
SCORE_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    return make_authors_vis_inputs(tmp_path_factory.mktemp("authors_vis_inputs"))


@pytest.fixture(scope="module")
def parts(inputs):
    from datasets.uvo import UvoReader
    from trackers.point.pips.tracker import PipsTracker
    from trackers.sampt.model import SamPt
    from trackers.sampt.proposals import SamAutomaticProposer
    from trackers.segmenters.sam import SamSegmenter

    video = UvoReader(inputs["uvo"], split="val").video("synth-000")
    segmenter = SamSegmenter.from_model(vis_tiny_sam(state_path=inputs["tiny_sam"]), device="cpu")
    sampt = SamPt(PipsTracker(checkpoint=inputs["pips"], device="cpu"), segmenter, seed=0, **AUTHORS_VIS_KNOBS)
    return video, sampt, SamAutomaticProposer(segmenter, **GENERATOR)


@pytest.fixture(scope="module")
def ours(parts) -> list[dict]:
    """Our results json entries (`experiments.tools.submission.uvo_results`) of `run_vis_video`."""
    from experiments.run.vis import run_vis_video
    from experiments.tools.submission import uvo_results

    video, sampt, proposer = parts
    tracks = run_vis_video(sampt, proposer, video, masks_batch_size=100, frame_short_side=360, frame_max_size=1333)
    return uvo_results([video], tracks)


def theirs() -> list[dict]:
    return json.loads((FIXTURE / "results.json").read_text())


def decode(segmentation, shape) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if segmentation is None:
        return np.zeros(shape, bool)
    return mask_utils.decode({**segmentation, "counts": segmentation["counts"].encode()}).astype(bool)


def test_the_recording_is_not_trivial():
    """Two overlapping proposals (of 48 masks, after their IoU, stability and NMS filters), tracks that cover
    5%-95% of each frame."""
    recording = json.loads((FIXTURE / "recording.json").read_text())
    assert recording["num_proposals"] == recording["num_detections"] == 2
    recorded = np.load(FIXTURE / "proposals.npz")
    masks = unpack_masks(recorded["masks"], recorded["shape"])
    assert masks.shape == (2, 360, 640) and (masks[0] & masks[1]).any()  # overlapping proposals
    shape = (AUTHORS_VIS_VIDEO["height"], AUTHORS_VIS_VIDEO["width"])
    areas = [decode(s, shape).mean() for entry in theirs() for s in entry["segmentations"]]
    assert all(0.05 < a < 0.95 for a in areas), areas


def test_proposals_equal_the_authors_generator(parts, inputs):
    video, _, proposer = parts
    frame = Image.open(inputs["uvo"] / "uvo_videos_dense_frames" / "synth-000" / "0.png").convert("RGB")
    proposals = proposer.propose(np.asarray(frame.resize((640, 360), Image.BILINEAR)))
    recorded = np.load(FIXTURE / "proposals.npz")
    assert np.array_equal(proposals.masks, unpack_masks(recorded["masks"], recorded["shape"]))
    np.testing.assert_allclose(proposals.scores, recorded["predicted_iou"], rtol=0, atol=1e-6)


def test_detections_equal_the_authors_pipeline(ours):
    recorded = theirs()
    assert len(ours) == len(recorded)
    shape = (AUTHORS_VIS_VIDEO["height"], AUTHORS_VIS_VIDEO["width"])
    for mine, their in zip(ours, recorded):
        assert (mine["video_id"], mine["category_id"]) == (their["video_id"], their["category_id"])
        assert abs(mine["score"] - their["score"]) <= SCORE_TOLERANCE, (mine["score"], their["score"])
        assert len(mine["segmentations"]) == len(their["segmentations"])
        for a, b in zip(mine["segmentations"], their["segmentations"]):
            assert np.array_equal(decode(a, shape), decode(b, shape))


def test_metrics_equal_the_authors_evaluator(ours, inputs):
    from evaluation.vis import evaluate_vis

    gt = inputs["uvo"] / "VideoDenseSet" / "UVO_video_val_dense.json"
    recorded = json.loads((FIXTURE / "recording.json").read_text())["metrics"]
    metrics = evaluate_vis(gt, ours)
    assert set(metrics) == set(recorded)
    for name, value in recorded.items():
        # theirs in percent, NaN where COCOeval says -1 (no GT of that size: Detectron2's _derive_coco_results)
        expected = -1.0 if math.isnan(value) else value / 100
        assert abs(metrics[name] - expected) < 1e-12, (name, metrics[name], value)
