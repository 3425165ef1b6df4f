"""BDD100K VOS reader on synthetic data in the layout of the authors' conversion: frames and label maps named
``<seq>-<t:07d>`` from 1, every frame annotated, late objects prompted by their first mask only, 16-bit
annotations with ids above 255, and errors for broken layouts."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets.bdd100k import Bdd100kReader
from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import read_label_png, write_label_png
from datasets.registry import build_reader
from datasets.synthetic import generate

TINY = dict(num_videos=2, num_frames=16, height=48, width=64, num_objects=3)


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("bdd") / "bdd100k", "bdd100k", **TINY)


@pytest.fixture
def broken(tmp_path, val):
    root = tmp_path / "bdd100k"
    shutil.copytree(val.root, root)
    return root


def test_objects_frames_and_first_masks(val):
    reader = build_reader("bdd100k", val.root, split="val")
    assert isinstance(reader, Bdd100kReader) and reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-001")
    truth = val.videos["synth-001"]
    assert video.dataset == "bdd100k" and video.num_frames == 16 and video.size == (48, 64)
    assert video.frame_names[:2] == ["synth-001-0000001", "synth-001-0000002"]
    assert video.frames_to_write == list(range(16)) and len(video.annotation_paths) == 16
    late = truth.object(2).first_frame
    assert late > 0 and [(o.id, o.first_frame) for o in video.objects] == [(1, 0), (2, late), (3, 0)]
    assert np.array_equal(video.annotation(9), truth.labels[9])
    assert np.array_equal(video.first_mask(2), truth.labels[late] == 2)  # the prompt: its first mask only


def test_ids_above_255_in_16_bit_annotations(broken):
    folder = broken / "val" / "Annotations" / "synth-000"
    for path in sorted(folder.glob("*.png")):
        labels = read_label_png(path).astype(np.int64)
        labels[labels == 3] = 300  # ids 1..300: the other ids appear as small blocks on frame 5
        if path.stem.endswith("0000006"):
            for k, object_id in enumerate(range(3, 300)):
                labels[1 + (k // 30) * 2 % 46, 2 * (k % 30)] = object_id
        write_label_png(path, labels)
    video = Bdd100kReader(broken, "val").video("synth-000")
    assert len(video.objects) == 300 and video.objects[-1].first_frame == 0
    assert video.objects[10].first_frame == 5 and video.annotation(5).dtype == np.uint16
    assert video.first_mask(300).sum() > 20


def test_broken_layouts_name_the_file(broken):
    with pytest.raises(DatasetLayoutError, match="no folder for split 'test'"):
        Bdd100kReader(broken, "test")
    folder = broken / "val" / "Annotations" / "synth-000"
    for path in folder.glob("*.png"):
        labels = read_label_png(path).copy()
        labels[labels == 2] = 0
        write_label_png(path, labels)
    with pytest.raises(DatasetError, match=r"synth-000.*must hold ids 1..N.*ids \[2\] appear on no frame"):
        Bdd100kReader(broken).video("synth-000")
    (broken / "val" / "Annotations" / "synth-001" / "synth-001-0000007.png").unlink()
    with pytest.raises(DatasetError, match="first missing: .*synth-001-0000007.png"):
        Bdd100kReader(broken).video("synth-001")
    shutil.rmtree(broken / "val" / "JPEGImages" / "synth-001")
    with pytest.raises(DatasetLayoutError, match="JPEGImages/synth-001"):
        Bdd100kReader(broken).video("synth-001")
