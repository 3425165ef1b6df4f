"""LV1/LV3 scoring = the DAVIS 2017 rules on a DAVIS-layout copy holding only the annotated frames (what XMem
scores LV with: davis2017-evaluation on its long_video_davis copies): same per-frame, per-object and global scores,
the first and last annotated frames dropped, other frames never read."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from datasets.png import write_label_png
from datasets.registry import read_videos
from datasets.synthetic import generate
from evaluation.scoring import PredictionError
from evaluation.vos import evaluate_vos

# 16 frames: annotated 0, 5, 10, 15 (LV3: 48 frames, 10 annotated)
TINY = dict(num_videos=2, num_frames=16, height=48, width=64)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("lv") / "long_video_set", "long_video", **TINY).root


def _predict(videos, out):
    """Imperfect predictions on the annotated frames: each ground truth eroded by a frame-dependent amount."""
    for video in videos:
        for index in video.frames_to_write:
            labels = video.annotation(index)
            kernel = np.ones((1 + 2 * (index % 3), 1 + 2 * (index % 3)), np.uint8)
            eroded = np.zeros_like(labels)
            for object_id in video.object_ids:
                eroded[cv2.erode((labels == object_id).astype(np.uint8), kernel) > 0] = object_id
            write_label_png(out / video.name / f"{video.frame_names[index]}.png", eroded)


def _davis_copy(videos, davis):
    """The DAVIS 2017 layout with the annotated frames only (XMem's long_video_davis)."""
    for video in videos:
        for index in video.frames_to_write:
            name = video.frame_names[index]
            for kind, path in (("JPEGImages", video.frame_paths[index]),
                               ("Annotations", video.annotation_paths[index])):
                target = davis / kind / "480p" / video.name / f"{name}{path.suffix}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{video.name}\n" for video in videos))


@pytest.mark.parametrize("reader", ["lv1", "lv3"])
def test_scores_equal_the_davis_rules_on_the_annotated_frames(root, reader, tmp_path):
    videos = read_videos(reader, root, "val")
    _predict(videos, tmp_path / "pred")
    ours = evaluate_vos(videos, tmp_path / "pred", workers=1, dataset=reader, split="val")
    _davis_copy(videos, tmp_path / "davis")
    davis = evaluate_vos(read_videos("davis17", tmp_path / "davis", "val"), tmp_path / "pred", workers=1)
    assert ours.global_scores == davis.global_scores and ours.per_object == davis.per_object
    annotated = [videos[0].frame_names[i] for i in videos[0].frames_to_write]
    assert ours.videos[0].frame_names == annotated[1:-1]
    assert ours.global_scores["J-Mean"] < 1.0


def test_every_scored_annotated_frame_needs_a_prediction(root, tmp_path):
    videos = read_videos("lv1", root, "val")
    _predict(videos, tmp_path / "pred")
    (tmp_path / "pred" / videos[0].name / "00000.png").unlink()  # the first annotated frame is not scored
    evaluate_vos(videos, tmp_path / "pred", workers=1)
    (tmp_path / "pred" / videos[0].name / "00010.png").unlink()
    with pytest.raises(PredictionError, match="frame 00010 has no prediction"):
        evaluate_vos(videos, tmp_path / "pred", workers=1)
