"""The whole VOS path against the authors' own evaluation (tests/fixtures/authors_eval, recorded with
scripts/record/authors_eval.py from SysCV/sam-pt's sam_pt/vos_eval/eval.py): the same synthetic
DAVIS video (Full-Resolution frames, 1024 working size), the same random PIPS and tiny SAM weights, the
same knobs; our label maps must be the authors' label maps."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.davis import Davis17Reader
from datasets.png import read_label_png, write_label_png
from tests.inputs import AUTHORS_KNOBS as KNOBS, AUTHORS_SAM_SEED as SAM_SEED, AUTHORS_VIDEO_NAME as VIDEO_NAME
from tests.inputs import make_authors_eval_inputs as make_inputs
from tests.helpers import FIXTURES

FIXTURE = FIXTURES / "authors_eval"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    return make_inputs(tmp_path_factory.mktemp("authors_inputs"))


@pytest.fixture(scope="module")
def authors() -> np.ndarray:
    """(T, H, W) uint8 label maps the authors' evaluation wrote."""
    return np.load(FIXTURE / "labels.npz")["labels"]


def run_ours(inputs: dict, out: Path, longest_side: int | None = 1024, options: dict | None = None,
             segmenter_options: dict | None = None, **overrides) -> np.ndarray:
    """Our label maps (T, H, W) uint8 of the recorded video (with ``overlapping``: per-object masks (T, M, H, W));
    ``options``: `predict_video` keywords (flip, ...); ``segmenter_options``: `SamSegmenter` options
    (``lean_decoder``, ...); ``overrides``: SAM-PT knobs over `AUTHORS_KNOBS`."""
    from experiments.run.vos import predict_video
    from trackers.point.pips.tracker import PipsTracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.sam import SamSegmenter
    from trackers.segmenters.sam_models import build_tiny_sam

    resolution = "Full-Resolution" if longest_side else None
    video = Davis17Reader(inputs["davis"], split="val", frames_resolution=resolution).video(VIDEO_NAME)
    sam = build_tiny_sam(seed=SAM_SEED)
    sam.load_state_dict(torch.load(inputs["tiny_sam"], map_location="cpu"), strict=True)
    segmenter = SamSegmenter.from_model(sam, device="cpu", **(segmenter_options or {}))
    sampt = SamPt(PipsTracker(checkpoint=inputs["pips"], device="cpu"), segmenter, seed=0, **{**KNOBS, **overrides})
    info = predict_video(sampt, video, out, longest_side=longest_side, **(options or {}))
    assert info["working_size"] == ([round(216 * longest_side / 384), longest_side] if longest_side else [108, 192])
    if (options or {}).get("overlapping"):
        return np.stack([[read_label_png(out / video.object_folder(obj) / f"{name}.png") for obj in video.object_ids]
                         for name in video.frame_names])
    return np.stack([read_label_png(out / f"{name}.png") for name in video.frame_names])


@pytest.fixture(scope="module")
def ours(inputs, tmp_path_factory) -> np.ndarray:
    return run_ours(inputs, tmp_path_factory.mktemp("ours"))


def object_ious(a: np.ndarray, b: np.ndarray) -> list[float]:
    """IoU of each object id of either map on each frame (frames where neither has it are skipped)."""
    ious = []
    for t in range(len(a)):
        for obj in set(np.unique(a[t])) | set(np.unique(b[t])) - {0}:
            union = ((a[t] == obj) | (b[t] == obj)).sum()
            ious.append(((a[t] == obj) & (b[t] == obj)).sum() / union)
    return ious


def test_the_recording_is_not_trivial(authors):
    """Random weights can give empty or whole-frame masks: most object masks cover 1%-90% of the frame."""
    recording = json.loads((FIXTURE / "recording.json").read_text())
    assert recording["labels_shape"] == list(authors.shape) == [4, 108, 192]
    later = authors[1:]  # frame 0 is the given mask
    shares = [(later[t] == obj).mean() for t in range(len(later)) for obj in (1, 2)]
    assert sum(0.01 <= s <= 0.9 for s in shares) >= len(shares) // 2, shares


def test_label_maps_equal_the_authors_evaluation(ours, authors):
    assert ours.shape == authors.shape
    ious = object_ious(ours, authors)
    same = (ours == authors).mean()
    # recorded: identical on every pixel; the bar is mean IoU >= 0.99 and >= 99.5% identical pixels
    assert np.mean(ious) >= 0.995 and same >= 0.999, (np.mean(ious), same)


def test_davis_scores_equal_the_authors_evaluation(ours, authors, inputs, tmp_path):
    from evaluation.vos import evaluate_vos

    video = Davis17Reader(inputs["davis"], split="val").video(VIDEO_NAME)
    scores = {}
    for name, labels in (("ours", ours), ("authors", authors)):
        for t, frame in enumerate(video.frame_names):
            write_label_png(tmp_path / name / VIDEO_NAME / f"{frame}.png", labels[t])
        scores[name] = evaluate_vos([video], tmp_path / name, workers=1).global_scores["J&F-Mean"]
    assert abs(scores["ours"] - scores["authors"]) <= 0.005, scores


def test_native_size_differs_from_the_authors_path(inputs, authors, tmp_path):
    """The check has teeth: the same run at the 480p native size (longest_side=None) is not the authors'."""
    native = run_ours(inputs, tmp_path / "native", longest_side=None)
    assert (native == authors).mean() < 0.995 or np.mean(object_ious(native, authors)) < 0.99
