"""LVOS reader on synthetic data in the LVOS layout: frames numbered from 00000001, label maps every 5th frame,
objects and their frame ranges from the meta file (late objects, meta order), seen / unseen, frames_to_write,
and errors for broken layouts."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.lvos import LvosRange, LvosReader
from datasets.registry import build_reader
from datasets.synthetic import generate

TINY = dict(num_videos=2, num_frames=60, height=48, width=64, num_objects=3)


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("lvos") / "lvos", "lvos", **TINY)


@pytest.fixture
def broken(tmp_path, valid):
    root = tmp_path / "lvos"
    shutil.copytree(valid.root, root)
    return root


def test_valid_objects_frames_and_labels(valid):
    reader = build_reader("lvos", valid.root, split="valid")
    assert isinstance(reader, LvosReader) and reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    truth = valid.videos["synth-000"]
    assert video.dataset == "lvos" and video.num_frames == 60 and video.size == (48, 64)
    assert video.frame_names[0] == "00000001" and video.frame_names[-1] == "00000060"
    assert video.frames_to_write == list(range(0, 55, 5))  # the last annotated frame (t = 55) ends the ranges
    assert video.ranges[1] == LvosRange(1, 56, 12) and video.ranges[2].start == 16
    assert [(o.id, o.first_frame) for o in video.objects] == [(1, 0), (2, 15), (3, 0)]
    assert video.meta_order == [1, 2, 3] and video.unseen is False and reader.video("synth-001").unseen is True
    assert np.array_equal(video.annotation(15), truth.labels[15])
    assert np.array_equal(video.first_mask(2), truth.labels[15] == 2)


def test_broken_layouts_name_the_file(broken):
    with pytest.raises(DatasetError, match="split 'val' is unknown"):
        LvosReader(broken, "val")
    (broken / "valid" / "Annotations" / "synth-000" / "00000011.png").unlink()
    with pytest.raises(DatasetError, match="synth-000/00000011"):
        LvosReader(broken, "valid").video("synth-000")
    meta_path = broken / "valid" / "valid_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["synth-001"]["objects"]["1"]["frame_range"]["start"] = "00000091"
    meta["videos"]["synth-001"]["objects"]["1"]["frame_range"]["end"] = "00000096"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="frame 00000091, which has no image"):
        LvosReader(broken, "valid").video("synth-001")
    del meta["videos"]["synth-001"]["objects"]["2"]["frame_range"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="frame_range"):
        LvosReader(broken, "valid").video("synth-001")
    meta_path.unlink()
    with pytest.raises(DatasetError, match="valid_meta.json is missing"):
        LvosReader(broken, "valid")
    shutil.rmtree(broken / "valid" / "JPEGImages")
    with pytest.raises(DatasetLayoutError):
        LvosReader(broken, "valid")
