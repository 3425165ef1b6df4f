"""DAVIS 2016 / 2017 readers on synthetic data in their layouts (480p and full-resolution frames), on the
real OSVOS masks of ../shared/data arranged as a DAVIS folder, and their errors for broken layouts."""
from __future__ import annotations

import shutil
import numpy as np
import pytest
from PIL import Image

from datasets.davis import Davis16Reader, Davis17Reader
from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import read_label_png, write_label_png
from datasets.registry import build_reader
from datasets.synthetic import generate

TINY = dict(num_videos=2, num_frames=6, height=48, width=64)


@pytest.fixture(scope="module")
def davis17(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("davis17") / "DAVIS", "davis17", full_resolution=True, **TINY)


@pytest.fixture(scope="module")
def davis16(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("davis16") / "DAVIS", "davis16", full_resolution=True, **TINY)


@pytest.fixture
def broken(tmp_path, davis17):
    """A private copy of the DAVIS 2017 folder to break."""
    root = tmp_path / "DAVIS"
    shutil.copytree(davis17.root, root)
    return root


def test_davis17_reads_synthetic_layout(davis17):
    reader = build_reader("davis17", davis17.root, split="val")
    assert reader.sequences == ["synth-000", "synth-001"] and len(reader) == 2
    for video, truth in zip(reader, davis17.videos.values()):
        assert video.name == truth.name and video.dataset == "davis17"
        assert video.object_ids == [1, 2] and all(o.first_frame == 0 for o in video.objects)
        assert video.size == (48, 64) and video.frame_size == (48, 64)
        assert video.frames_to_write == list(range(6))
        for t in range(6):
            np.testing.assert_array_equal(video.annotation(t), truth.labels[t])
        frame = video.frame(0)
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        np.testing.assert_array_equal(video.first_mask(2), truth.labels[0] == 2)


def test_davis17_full_resolution_frames_with_480p_annotations(davis17):
    reader = Davis17Reader(davis17.root, split="val", frames_resolution="Full-Resolution")
    video = reader.video("synth-000")
    assert video.frame_size == (96, 128) and video.size == (48, 64)
    assert video.frame(3).shape == (96, 128, 3)
    full = Davis17Reader(davis17.root, split="val", resolution="Full-Resolution").video("synth-000")
    assert full.size == (96, 128) and full.object_ids == [1, 2]


def test_davis16_reads_binary_layout(davis16):
    reader = build_reader("davis16", davis16.root, split="val")
    video = reader.video("synth-001")
    truth = davis16.videos["synth-001"]
    assert video.object_ids == [1] and video.binary
    assert set(np.unique(read_label_png(video.annotation_paths[0]))) <= {0, 255}
    for t in range(6):
        np.testing.assert_array_equal(video.annotation(t), (truth.labels[t] > 0).astype(np.uint8))
    hd = Davis16Reader(davis16.root, split="val", resolution="1080p").video("synth-001")
    assert hd.size == (96, 128) and hd.frame_size == (96, 128)


def test_real_osvos_masks_through_the_davis17_reader(tmp_path, shared_data):
    """The 30 real OSVOS mask sequences arranged (symlinks) as a DAVIS 2017 val folder; the PNG masks
    double as frames (the reader takes .png frames), so sizes match."""
    source = shared_data / "davis17_val_results" / "osvos"
    names = sorted(p.name for p in source.iterdir() if p.is_dir())
    for kind in ("JPEGImages", "Annotations"):
        (tmp_path / kind / "480p").mkdir(parents=True)
        for name in names:
            (tmp_path / kind / "480p" / name).symlink_to(source / name, target_is_directory=True)
    (tmp_path / "ImageSets" / "2017").mkdir(parents=True)
    (tmp_path / "ImageSets" / "2017" / "val.txt").write_text("\n".join(names) + "\n")
    reader = Davis17Reader(tmp_path, split="val")
    assert len(reader) == 30
    videos = list(reader)
    assert sum(len(v.objects) for v in videos) == 61  # DAVIS 2017 val has 61 objects
    video = reader.video("bike-packing")
    assert video.size == (480, 910) and video.num_frames == len(list((source / "bike-packing").glob("*.png")))
    raw = np.asarray(Image.open(source / "bike-packing" / "00010.png"))
    np.testing.assert_array_equal(video.annotation(10), np.where(raw == 255, 0, raw))
    for obj in video.objects:
        assert video.first_mask(obj.id).any()


def test_missing_root_and_folders_show_the_expected_tree(tmp_path, broken):
    with pytest.raises(DatasetLayoutError, match="expected layout") as error:
        Davis17Reader(tmp_path / "nowhere")
    assert "nowhere" in str(error.value)
    shutil.rmtree(broken / "Annotations" / "480p" / "synth-001")
    with pytest.raises(DatasetLayoutError) as error:
        Davis17Reader(broken).video("synth-001")
    assert str(broken / "Annotations" / "480p" / "synth-001") in str(error.value)
    assert "JPEGImages/<resolution>/<sequence>" in str(error.value)
    (broken / "ImageSets" / "2017" / "val.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="val.txt"):
        Davis17Reader(broken)


def test_missing_frame_is_a_frame_count_mismatch(broken):
    (broken / "JPEGImages" / "480p" / "synth-000" / "00003.jpg").unlink()
    with pytest.raises(DatasetError, match="no matching frame: 00003"):
        Davis17Reader(broken).video("synth-000")


def test_corrupt_and_rgb_annotations(broken):
    (broken / "Annotations" / "480p" / "synth-000" / "00004.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    video = Davis17Reader(broken).video("synth-000")
    with pytest.raises(DatasetError, match="corrupt or unreadable image: .*00004.png"):
        video.annotation(4)
    first = broken / "Annotations" / "480p" / "synth-001" / "00000.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8), mode="RGB").save(first)
    with pytest.raises(DatasetError, match="not an indexed"):
        Davis17Reader(broken).video("synth-001")


def test_empty_first_mask_and_size_mismatch(broken):
    write_label_png(broken / "Annotations" / "480p" / "synth-000" / "00000.png", np.zeros((48, 64), np.uint8))
    with pytest.raises(DatasetError, match="has no object"):
        Davis17Reader(broken).video("synth-000")
    write_label_png(broken / "Annotations" / "480p" / "synth-001" / "00000.png", np.ones((40, 64), np.uint8))
    with pytest.raises(DatasetError, match="64x48 but annotation .* is 64x40"):
        Davis17Reader(broken).video("synth-001")
