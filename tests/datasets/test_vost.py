"""VOST reader on synthetic data in the VOST layout: sparse annotations, void read as background, objects
1..N from the first annotation (a late object starts on its first annotated frame that shows it),
frames_to_write, and errors for broken layouts."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError
from datasets.png import read_label_png, write_label_png
from datasets.registry import build_reader
from datasets.synthetic import generate
from datasets.vost import VostReader

TINY = dict(num_videos=2, num_frames=48, height=48, width=64, num_objects=3)


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("vost") / "vost", "vost", **TINY)


@pytest.fixture
def broken(tmp_path, val):
    root = tmp_path / "vost"
    shutil.copytree(val.root, root)
    return root


def test_val_objects_frames_and_void(val):
    reader = build_reader("vost", val.root, split="val")
    assert isinstance(reader, VostReader) and reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    truth = val.videos["synth-000"]
    assert video.dataset == "vost" and video.num_frames == 48 and video.size == (48, 64)
    assert video.frames_to_write == list(range(0, 48, 5)) == sorted(video.annotation_paths)
    assert video.object_ids == [1, 2, 3]
    assert [o.first_frame for o in video.objects] == [0, 10, 0]  # object 2 starts late
    for index in video.frames_to_write:
        raw = read_label_png(video.annotation_paths[index])
        assert (raw == 255).any()  # a void ring around object 1
        np.testing.assert_array_equal(video.annotation(index), truth.labels[index])  # void read as background
    np.testing.assert_array_equal(video.first_mask(2), truth.labels[10] == 2)


def test_objects_are_one_to_the_first_annotations_largest_id(broken):
    first = broken / "Annotations" / "synth-000" / "00000.png"
    labels = read_label_png(first)
    write_label_png(first, np.where(labels == 3, 0, labels).astype(np.uint8))
    video = build_reader("vost", broken, split="val").video("synth-000")
    # N = 1: ids 2 (late, absent from the first annotation) and 3 of later annotations are no objects
    assert video.object_ids == [1]
    assert (video.annotation(25) == 2).any() and video.frames_to_write == list(range(0, 48, 5))


def test_errors_name_the_missing_list_and_empty_first_annotation(broken):
    with pytest.raises(DatasetError, match="test.txt"):
        build_reader("vost", broken, split="test")
    first = broken / "Annotations" / "synth-001" / "00000.png"
    write_label_png(first, np.where(read_label_png(first) == 255, 255, 0).astype(np.uint8))
    with pytest.raises(DatasetError, match="no object"):
        build_reader("vost", broken, split="val").video("synth-001")
