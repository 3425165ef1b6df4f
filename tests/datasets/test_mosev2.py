"""MOSEv2 reader on synthetic data in the MOSEv2 layout: meta.json (length, size, object ids as a list or a
mapping, meta order), every frame annotated or only the first (the public valid split), late objects,
frames_to_write, and errors for broken layouts."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.mosev2 import Mosev2Reader
from datasets.registry import build_reader
from datasets.synthetic import generate

TINY = dict(num_videos=2, num_frames=40, height=48, width=64, num_objects=3)


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("mosev2") / "mosev2", "mosev2", **TINY)


@pytest.fixture
def broken(tmp_path, valid):
    root = tmp_path / "mosev2"
    shutil.copytree(valid.root, root)
    return root


def test_valid_objects_frames_and_labels(valid):
    reader = build_reader("mosev2", valid.root, split="val")
    assert isinstance(reader, Mosev2Reader) and reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    truth = valid.videos["synth-000"]
    assert video.dataset == "mosev2" and video.num_frames == 40 and video.size == (48, 64)
    assert video.frame_names[0] == "00000" and video.frames_to_write == list(range(40))
    assert [(o.id, o.first_frame) for o in video.objects] == [(1, 0), (2, 8), (3, 0)]
    assert video.meta_ids == ["1", "2", "3"] and len(video.annotation_paths) == 40
    assert np.array_equal(video.annotation(25), truth.labels[25])
    assert np.array_equal(video.first_mask(2), truth.labels[8] == 2)


def test_first_frame_annotations_and_meta_forms(broken):
    for png in sorted((broken / "valid" / "Annotations" / "synth-001").glob("*.png"))[1:]:
        png.unlink()  # the public valid split: the first frame's mask only
    meta_path = broken / "valid" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["synth-001"]["objects"] = {"3": {}, "1": {}}
    meta_path.write_text(json.dumps(meta))
    video = Mosev2Reader(broken).video("synth-001")
    assert [(o.id, o.first_frame) for o in video.objects] == [(1, 0), (3, 0)] and video.meta_ids == ["3", "1"]
    assert sorted(video.annotation_paths) == [0] and video.frames_to_write == list(range(40))
    meta["videos"]["synth-001"]["objects"] = ["1", "2"]  # object 2 is on no annotated frame
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"objects \[2\] of .*meta.json appear in no annotation"):
        Mosev2Reader(broken).video("synth-001")


def test_broken_layouts_name_the_file(broken):
    with pytest.raises(DatasetError, match="split 'train' is unknown"):
        Mosev2Reader(broken, "train")
    meta_path = broken / "valid" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["synth-000"]["length"] = 41
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="has length 41 but .*synth-000 holds 40 frames"):
        Mosev2Reader(broken).video("synth-000")
    meta["videos"]["synth-000"].update(length=40, width=65)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="00000.png is 64x48 but .*meta.json gives video synth-000 65x48"):
        Mosev2Reader(broken).video("synth-000")
    meta["videos"]["synth-000"].update(width=64, objects=["1", "x"])
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="must be distinct integer ids"):
        Mosev2Reader(broken).video("synth-000")
    del meta["videos"]["synth-000"]["height"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="needs integer length, height and width"):
        Mosev2Reader(broken).video("synth-000")
    meta_path.unlink()
    with pytest.raises(DatasetError, match="meta.json is missing"):
        Mosev2Reader(broken)
    shutil.rmtree(broken / "valid" / "JPEGImages")
    with pytest.raises(DatasetLayoutError):
        Mosev2Reader(broken)
