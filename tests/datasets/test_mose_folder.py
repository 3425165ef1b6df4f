"""MOSE and generic-folder readers on synthetic data in their layouts, and their errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.folder import FolderReader
from datasets.mose import MoseReader
from datasets.png import write_label_png
from datasets.registry import build_reader
from datasets.synthetic import generate

TINY = dict(num_videos=2, num_frames=6, height=48, width=64)


@pytest.fixture(scope="module")
def mose(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("mose") / "mose", "mose", object_ids=[3, 8], **TINY)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("folder") / "mine", "folder", num_objects=3,
                    **{**TINY, "num_frames": 8})


@pytest.fixture
def broken_mose(tmp_path, mose):
    shutil.copytree(mose.root, tmp_path / "mose")
    return tmp_path / "mose"


@pytest.fixture
def broken_folder(tmp_path, folder):
    shutil.copytree(folder.root, tmp_path / "mine")
    return tmp_path / "mine"


def test_mose_valid_first_frame_only(mose):
    reader = build_reader("mose", mose.root, split="val")
    assert isinstance(reader, MoseReader) and reader.split == "valid"
    assert reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-001")
    assert video.object_ids == [3, 8] and all(o.first_frame == 0 for o in video.objects)
    assert sorted(video.annotation_paths) == [0]
    assert video.frames_to_write == list(range(6))
    np.testing.assert_array_equal(video.first_mask(8), mose.videos["synth-001"].labels[0] == 8)


def test_mose_train_every_frame_and_unknown_ids(tmp_path):
    info = generate(tmp_path / "mose", "mose", split="train", **TINY)
    reader = MoseReader(info.root, split="train")
    video = reader.video("synth-000")
    assert sorted(video.annotation_paths) == list(range(6))
    np.testing.assert_array_equal(video.annotation(5), info.videos["synth-000"].labels[5])
    labels = info.videos["synth-000"].labels[4].copy()
    labels[:3, :3] = 9
    write_label_png(info.root / "train" / "Annotations" / "synth-000" / "00004.png", labels)
    with pytest.raises(DatasetError, match=r"00004.png of video synth-000 contains object ids \[9\]"):
        reader.video("synth-000").annotation(4)
    (info.root / "train" / "Annotations" / "synth-000" / "00002.png").unlink()
    with pytest.raises(DatasetError, match="1 frames have no annotation"):
        reader.video("synth-000")


def test_mose_errors(tmp_path, broken_mose):
    with pytest.raises(DatasetLayoutError, match="no folder for split 'train'") as error:
        MoseReader(broken_mose, split="train")
    assert "<split>/Annotations/<video>" in str(error.value)
    first = broken_mose / "valid" / "Annotations" / "synth-000" / "00000.png"
    write_label_png(first, np.zeros((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="has no object"):
        MoseReader(broken_mose).video("synth-000")
    Image.fromarray(np.full((48, 64, 3), 200, np.uint8)).save(first)
    with pytest.raises(DatasetError, match="not an indexed"):
        MoseReader(broken_mose).video("synth-000")
    write_label_png(first, np.ones((48, 60), np.uint8))
    with pytest.raises(DatasetError, match="frame .* is 64x48 but annotation .* is 60x48"):
        MoseReader(broken_mose).video("synth-000")
    first.unlink()
    with pytest.raises(DatasetError, match="no annotation PNGs in .*synth-000"):
        MoseReader(broken_mose).video("synth-000")
    write_label_png(broken_mose / "valid" / "Annotations" / "synth-000" / "00003.png", np.ones((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="first frame 00000 has no annotation"):
        MoseReader(broken_mose).video("synth-000")
    shutil.rmtree(broken_mose / "valid" / "Annotations")
    with pytest.raises(DatasetLayoutError, match="Annotations"):
        MoseReader(broken_mose)


def test_folder_objects_may_start_late(folder):
    reader = build_reader("folder", folder.root, split="all")
    assert reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    truth = folder.videos["synth-000"]
    assert video.object_ids == [1, 2, 3]
    assert [o.first_frame for o in video.objects] == [o.first_frame for o in truth.objects] == [0, 1, 0]
    assert sorted(video.annotation_paths) == [0, 1]
    assert video.frames_to_write == list(range(8))
    np.testing.assert_array_equal(video.first_mask(2), truth.labels[1] == 2)


def test_folder_split_list_png_frames_and_void(broken_folder):
    (broken_folder / "ImageSets").mkdir()
    (broken_folder / "ImageSets" / "mine.txt").write_text("synth-001\n")
    assert FolderReader(broken_folder, split="mine").sequences == ["synth-001"]
    with pytest.raises(DatasetLayoutError, match="use split=all"):
        FolderReader(broken_folder, split="val")
    frames = broken_folder / "JPEGImages" / "synth-001"
    for jpg in sorted(frames.glob("*.jpg")):
        Image.open(jpg).save(jpg.with_suffix(".png"))
        jpg.unlink()
    labels = np.zeros((48, 64), np.uint8)
    labels[10:20, 10:20] = 4
    labels[30:34, 30:34] = 255
    write_label_png(broken_folder / "Annotations" / "synth-001" / "00000.png", labels)
    video = FolderReader(broken_folder, split="mine", void_label=255).video("synth-001")
    assert video.frame_paths[0].suffix == ".png"
    first_frames = {obj.id: obj.first_frame for obj in video.objects}
    assert first_frames[4] == 0 and 255 not in first_frames  # ids of the later annotation start there
    assert video.annotation(0)[31, 31] == 0


def test_folder_errors(broken_folder):
    annotations = broken_folder / "Annotations" / "synth-000"
    write_label_png(annotations / "00002.png", np.ones((40, 64), np.uint8))
    with pytest.raises(DatasetError, match="must have one size"):
        FolderReader(broken_folder).video("synth-000")
    (annotations / "00002.png").unlink()
    (annotations / "00007.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="corrupt or unreadable image: .*00007.png"):
        FolderReader(broken_folder).video("synth-000")
    (annotations / "00007.png").unlink()
    write_label_png(annotations / "00000.png", np.zeros((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="has no object"):
        FolderReader(broken_folder).video("synth-000")
    (annotations / "00000.png").unlink()
    with pytest.raises(DatasetError, match="first frame's mask is required"):
        FolderReader(broken_folder).video("synth-000")
    write_label_png(annotations / "00099.png", np.ones((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="no matching frame: 00099"):
        FolderReader(broken_folder).video("synth-000")
    shutil.rmtree(broken_folder / "JPEGImages")
    with pytest.raises(DatasetLayoutError, match="JPEGImages"):
        FolderReader(broken_folder)
