"""SA-V reader on synthetic data in the SA-V layout: 24 fps frames, masks every 4th frame, objects that
start late or leave and come back, frames_to_write, label maps, and errors for broken layouts."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import write_label_png
from datasets.registry import build_reader
from datasets.sav import SavReader
from datasets.synthetic import generate

TINY = dict(num_videos=2, num_frames=48, height=48, width=64, num_objects=3)


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("sav") / "sav", "sav", **TINY)


@pytest.fixture
def broken(tmp_path, val):
    root = tmp_path / "sav"
    shutil.copytree(val.root, root)
    return root


def _annotations(root, video="synth-000"):
    return root / "sav_val" / "Annotations_6fps" / video


def test_val_objects_frames_and_masks(val):
    reader = build_reader("sav", val.root, split="val")
    assert isinstance(reader, SavReader) and reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    truth = val.videos["synth-000"]
    assert video.dataset == "sav" and video.num_frames == 48 and video.size == (48, 64)
    assert video.frames_to_write == list(range(0, 48, 4)) == sorted(video.annotation_paths)
    assert video.object_ids == [1, 2, 3] and [video.object_folder(i) for i in video.object_ids] == ["000", "001", "002"]
    assert [o.first_frame for o in video.objects] == [0, 12, 0]  # folder 001 starts late
    areas = [int(video.object_mask(2, i).sum()) for i in video.frames_to_write]
    assert areas[:3] == [0, 0, 0] and 0 in areas[4:] and areas[-1] > 0  # it leaves the frame and comes back
    for index in video.frames_to_write:
        np.testing.assert_array_equal(video.annotation(index), truth.labels[index])
    np.testing.assert_array_equal(video.first_mask(2), truth.labels[12] == 2)


def test_errors_name_the_problem(broken):
    with pytest.raises(DatasetError, match="split 'train'"):
        SavReader(broken, split="train")
    (broken / "sav_val" / "sav_val.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="sav_val.txt"):
        SavReader(broken, split="val")


def test_bad_object_folder_and_masks(broken):
    (_annotations(broken) / "extra").mkdir()
    with pytest.raises(DatasetError, match="<obj:03d>"):
        SavReader(broken, "val").video("synth-000")
    (_annotations(broken) / "extra").rmdir()
    three = np.zeros((48, 64), np.uint8)
    three[:4, :4], three[5:9, 5:9] = 1, 2
    write_label_png(_annotations(broken) / "000" / "00004.png", three)
    with pytest.raises(DatasetError, match="00004.png has 3 values"):
        SavReader(broken, "val").video("synth-000").annotation(4)
    write_label_png(_annotations(broken) / "000" / "00099.png", np.zeros((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="have no frame"):
        SavReader(broken, "val").video("synth-000")


def test_object_without_any_mask_is_an_error(broken):
    for path in (_annotations(broken, "synth-001") / "000").iterdir():
        write_label_png(path, np.zeros((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="001/000: every mask is empty"):
        SavReader(broken, "val").video("synth-001")
