"""Long-Time Video readers (LV1, LV3) on a synthetic copy of XMem's long_video_set layout: objects from the first
annotation PNG only, predictions on the annotated frames, LV3 = forward, backward, forward, lazy frames, and
errors that name the file and the fix."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import read_label_png, write_label_png
from datasets.registry import build_reader
from datasets.synthetic import LONG_VIDEO_STRIDE, bounce_frame, generate
from datasets.video import Video

# 11 frames: label maps on frames 0, 5, 10 (LV3: 33 frames, 7 of them annotated)
TINY = dict(num_videos=2, num_frames=11, height=48, width=64)


@pytest.fixture(scope="module")
def info(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("lv") / "long_video_set", "long_video", **TINY)


@pytest.fixture
def copy(tmp_path, info):
    root = tmp_path / "long_video_set"
    shutil.copytree(info.root, root)
    return root


def test_lv1_objects_from_the_first_png_and_predictions_on_the_annotated_frames(info):
    reader = build_reader("lv1", info.root, "val")
    assert reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    truth = info.videos["synth-000"]
    assert type(video) is Video and video.num_frames == 11 and video.frame_names[:2] == ["00000", "00001"]
    assert video.frames_to_write == [0, 5, 10] and sorted(video.annotation_paths) == [0, 5, 10]
    assert [(obj.id, obj.first_frame) for obj in video.objects] == [(1, 0), (2, 0)]
    assert video.void_label == 255 and video.size == (48, 64)
    np.testing.assert_array_equal(video.first_mask(2), truth.labels[0] == 2)
    np.testing.assert_array_equal(video.annotation(10), truth.labels[10])


def test_lv3_plays_each_video_forward_backward_forward(info):
    video = build_reader("lv3", info.root, "val").video("synth-001")
    truth = info.videos["synth-001"]
    assert video.num_frames == 33 and video.frame_names[-1] == "00032"
    expected = [k for k in range(33) if bounce_frame(k, 11) % LONG_VIDEO_STRIDE == 0]
    assert video.frames_to_write == expected == [0, 5, 10, 15, 20, 25, 30]
    assert [bounce_frame(k, 11) for k in (10, 11, 15, 20, 21)] == [10, 9, 5, 0, 1]
    np.testing.assert_array_equal(video.annotation(15), truth.labels[5])
    lv1 = build_reader("lv1", info.root, "val").video("synth-001")
    np.testing.assert_array_equal(video.frame(12), lv1.frame(8))


def test_later_ids_are_ground_truth_only_and_a_late_first_png_starts_every_object_there(copy):
    folder = copy / "long_video" / "Annotations" / "synth-000"
    labels = read_label_png(folder / "00010.png").copy()
    labels[:4, :4] = 3  # an id first seen later is no object (the authors read the first PNG only)
    write_label_png(folder / "00010.png", labels)
    (folder / "00000.png").unlink()
    video = build_reader("lv1", copy, "val").video("synth-000")
    assert [(obj.id, obj.first_frame) for obj in video.objects] == [(1, 5), (2, 5)]
    assert video.frames_to_write == [5, 10]


def test_frames_are_decoded_only_when_asked(info, monkeypatch):
    """Building the videos reads no frame: the run streams them one at a time as for every dataset."""
    import datasets.video

    decoded = []
    monkeypatch.setattr(datasets.video, "read_frame", lambda path: decoded.append(path) or np.zeros((1, 1, 3)))
    videos = list(build_reader("lv3", info.root, "val"))
    assert len(videos) == 2 and not decoded
    next(videos[0].iter_frames())
    assert len(decoded) == 1


def test_errors_name_the_file_and_the_fix(copy):
    with pytest.raises(DatasetError, match="one split, val"):
        build_reader("lv1", copy, "test")
    shutil.rmtree(copy / "long_video_x3")
    with pytest.raises(DatasetLayoutError, match="make data DATASET=lv3"):
        build_reader("lv3", copy, "val")
    first = copy / "long_video" / "Annotations" / "synth-000" / "00000.png"
    labels = read_label_png(first).copy()
    write_label_png(first, np.where(labels == 1, 0, labels).astype(np.uint8))
    with pytest.raises(DatasetError, match=r"00000.png has ids up to 2 but not \[1\].*relabel"):
        build_reader("lv1", copy, "val").video("synth-000")
    shutil.copy(first, first.parent / "00099.png")
    with pytest.raises(DatasetError, match="have no matching frame: 00099"):
        build_reader("lv1", copy, "val").video("synth-000")
