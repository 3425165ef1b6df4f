"""YouTube-VOS readers on synthetic data in the YouTube-VOS layout: 6 fps vs all frames, frames_to_write,
objects starting late, non-contiguous ids, the meta.json cross-checks and errors for broken layouts."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import write_label_png
from datasets.registry import build_reader
from datasets.synthetic import generate
from datasets.ytvos import YouTubeVOS2018Reader, YouTubeVOS2019Reader

# 16 frames at 30 fps -> the 6 fps frames 0, 5, 10, 15; object 5 starts on frame 5
TINY = dict(num_videos=2, num_frames=16, height=48, width=64, object_ids=[2, 5])


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("ytvos") / "yt", "ytvos", **TINY)


@pytest.fixture
def broken(tmp_path, valid):
    root = tmp_path / "yt"
    shutil.copytree(valid.root, root)
    return root


def _meta(root):
    return json.loads((root / "valid" / "meta.json").read_text())


def _write_meta(root, meta):
    (root / "valid" / "meta.json").write_text(json.dumps(meta))


def test_valid_6fps_frames(valid):
    reader = build_reader("ytvos18", valid.root, split="valid")
    assert isinstance(reader, YouTubeVOS2018Reader) and reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-000")
    assert video.dataset == "ytvos18"
    assert video.frame_names == ["00000", "00005", "00010", "00015"]
    assert video.object_ids == [2, 5]
    assert [o.first_frame for o in video.objects] == [0, 1]  # object 5 first appears on 00005
    assert sorted(video.annotation_paths) == [0, 1]
    assert video.frames_to_write == [0, 1, 2, 3]
    truth = valid.videos["synth-000"]
    np.testing.assert_array_equal(video.first_mask(5), truth.labels[5] == 5)
    np.testing.assert_array_equal(video.first_mask(2), truth.labels[0] == 2)
    assert reader.object_categories("synth-000") == {2: "synthetic", 5: "synthetic"}


def test_all_frames_keep_6fps_frames_to_write(valid):
    reader = YouTubeVOS2019Reader(valid.root, split="val", all_frames=True)
    video = reader.video("synth-001")
    assert video.dataset == "ytvos19" and video.num_frames == 16
    assert video.frames_to_write == [0, 5, 10, 15]
    assert [o.first_frame for o in video.objects] == [0, 5]
    assert sorted(video.annotation_paths) == [0, 5]
    assert video.frame(7).shape == (48, 64, 3)


def test_all_frames_also_found_where_xmem_and_sampt_put_them(broken):
    (broken / "all_frames").mkdir()
    (broken / "valid_all_frames").rename(broken / "all_frames" / "valid_all_frames")
    video = YouTubeVOS2018Reader(broken, all_frames=True).video("synth-000")
    assert video.num_frames == 16
    shutil.rmtree(broken / "all_frames")
    with pytest.raises(DatasetLayoutError, match="valid_all_frames"):
        YouTubeVOS2018Reader(broken, all_frames=True)


def test_frames_to_write_is_the_union_of_meta_frames(broken):
    meta = _meta(broken)
    objects = meta["videos"]["synth-000"]["objects"]
    objects["2"]["frames"] = ["00000", "00005"]
    objects["5"]["frames"] = ["00005", "00015"]
    _write_meta(broken, meta)
    video = YouTubeVOS2018Reader(broken, all_frames=True).video("synth-000")
    assert video.frames_to_write == [0, 5, 15]


def test_train_split_has_dense_annotations(tmp_path):
    info = generate(tmp_path / "yt", "ytvos", split="train", **TINY)
    video = YouTubeVOS2018Reader(info.root, split="train").video("synth-000")
    assert sorted(video.annotation_paths) == [0, 1, 2, 3]
    truth = info.videos["synth-000"]
    for index, t in enumerate([0, 5, 10, 15]):
        np.testing.assert_array_equal(video.annotation(index), truth.labels[t])


def test_meta_cross_check(broken):
    meta = _meta(broken)
    meta["videos"]["synth-000"]["objects"]["5"]["frames"] = ["00010", "00015"]
    _write_meta(broken, meta)
    with pytest.raises(DatasetError, match="object 5 first appears in annotation 00005.png but .* 00010"):
        YouTubeVOS2018Reader(broken).video("synth-000")
    video = YouTubeVOS2018Reader(broken, strict_meta=False).video("synth-000")
    assert video.objects[1].first_frame == 1


def test_unknown_id_and_object_never_annotated(broken):
    path = broken / "valid" / "Annotations" / "synth-000" / "00005.png"
    labels = np.zeros((48, 64), np.uint8)
    labels[:4, :4] = 7
    write_label_png(path, labels)
    with pytest.raises(DatasetError, match="contains object id 7"):
        YouTubeVOS2018Reader(broken).video("synth-000")
    path.unlink()
    with pytest.raises(DatasetError, match=r"objects \[5\] .* appear in no annotation PNG"):
        YouTubeVOS2018Reader(broken).video("synth-000")


def test_missing_meta_and_missing_frame(broken):
    (broken / "valid" / "JPEGImages" / "synth-001" / "00010.jpg").unlink()
    with pytest.raises(DatasetError, match=r"have no image .* \(first: 00010\)"):
        YouTubeVOS2018Reader(broken).video("synth-001")
    (broken / "valid" / "meta.json").unlink()
    with pytest.raises(DatasetLayoutError, match="meta.json") as error:
        YouTubeVOS2018Reader(broken)
    assert "<split>/Annotations/<video>" in str(error.value)
    with pytest.raises(DatasetLayoutError, match="no folder for split 'test'"):
        YouTubeVOS2018Reader(broken, split="test")


def test_size_mismatch_and_corrupt_meta(broken):
    write_label_png(broken / "valid" / "Annotations" / "synth-000" / "00005.png", np.full((40, 64), 5, np.uint8))
    with pytest.raises(DatasetError, match="all annotations of a video must have one size"):
        YouTubeVOS2018Reader(broken).video("synth-000")
    (broken / "valid" / "meta.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        YouTubeVOS2018Reader(broken)


def test_test_split_reads_as_valid_from_the_authors_all_frames_folder(tmp_path, valid):
    """YouTube-VOS test ships what valid ships (first-appearance masks, meta.json, test_all_frames); the
    authors' evaluator reads both alike, its all frames from all_frames/test_all_frames."""
    info = generate(tmp_path / "yt", "ytvos", split="test", **TINY)
    assert sorted(p.name for p in info.root.iterdir()) == ["test", "test_all_frames"]
    (info.root / "all_frames").mkdir()
    (info.root / "test_all_frames").rename(info.root / "all_frames" / "test_all_frames")
    for all_frames in (False, True):
        test = build_reader("ytvos18", info.root, split="test", all_frames=all_frames).video("synth-001")
        reference = build_reader("ytvos18", valid.root, split="valid", all_frames=all_frames).video("synth-001")
        assert test.frame_names == reference.frame_names and test.objects == reference.objects
        assert test.frames_to_write == reference.frames_to_write
        assert sorted(test.annotation_paths) == sorted(reference.annotation_paths) != test.frames_to_write
        np.testing.assert_array_equal(test.first_mask(5), reference.first_mask(5))
