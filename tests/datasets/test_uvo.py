"""UVO reader: synthetic UVO layout, RLE round trips (compressed, uncompressed, polygons), overlapping
tracks, and errors for broken json / frames."""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.registry import build_reader
from datasets.synthetic import encode_rle, generate
from datasets.uvo import UvoReader, decode_segmentation

TINY = dict(num_videos=2, num_frames=6, height=48, width=64)


@pytest.fixture(scope="module")
def uvo(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("uvo") / "UVOv1.0", "uvo", **TINY)


@pytest.fixture
def broken(tmp_path, uvo):
    shutil.copytree(uvo.root, tmp_path / "UVOv1.0")
    return tmp_path / "UVOv1.0"


def _json_path(root):
    return root / "VideoDenseSet" / "UVO_video_val_dense.json"


def _edit(root, change):
    data = json.loads(_json_path(root).read_text())
    change(data)
    _json_path(root).write_text(json.dumps(data))


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """Test-side reference encoder: column-major run lengths starting with a run of zeros."""
    flat = mask.flatten(order="F").astype(np.uint8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"size": list(mask.shape), "counts": counts}


def test_reads_synthetic_uvo(uvo):
    reader = build_reader("uvo", uvo.root, split="val")
    assert isinstance(reader, UvoReader) and reader.gt_json == _json_path(uvo.root) and reader.gt_json.is_file()
    assert reader.sequences == ["synth-000", "synth-001"]
    video = reader.video("synth-001")
    truth = uvo.videos["synth-001"]
    assert video.video_id == reader.video_id("synth-001") == 2 and video.gt_json == reader.gt_json
    assert video.frame_names == [str(t) for t in range(6)] and video.frame_paths[0].suffix == ".png"
    assert video.object_ids == [1, 2] and video.track_ids == [3, 4]
    assert [o.first_frame for o in video.objects] == [o.first_frame for o in truth.objects] == [0, 1]
    assert all(video.has_annotation(t) for t in range(6)) and not video.has_annotation(6)
    for t in range(6):
        np.testing.assert_array_equal(video.annotation(t), truth.labels[t])
        masks = video.track_masks(t)
        assert masks.shape == (2, 48, 64) and masks.dtype == bool
        np.testing.assert_array_equal(masks[1], truth.labels[t] == 2)
    np.testing.assert_array_equal(video.first_mask(2), truth.labels[1] == 2)
    assert video.frame(0).shape == (48, 64, 3)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools under numpy 2
def test_rle_round_trip_compressed_uncompressed_and_polygon():
    rng = np.random.default_rng(0)
    mask = rng.random((37, 53)) > 0.6
    mask[0, 0] = True  # a run of ones first: counts starts with 0
    compressed = encode_rle(mask)
    assert isinstance(compressed["counts"], str) and compressed["size"] == [37, 53]
    np.testing.assert_array_equal(decode_segmentation(compressed, 37, 53, "t"), mask)
    np.testing.assert_array_equal(decode_segmentation(_uncompressed_rle(mask), 37, 53, "t"), mask)
    square = [[10.0, 5.0, 30.0, 5.0, 30.0, 20.0, 10.0, 20.0]]
    polygon = decode_segmentation(square, 37, 53, "t")
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(square, 37, 53))).astype(bool)
    np.testing.assert_array_equal(polygon, expected)
    assert polygon[10:18, 12:28].all() and not polygon[25:].any()
    assert not decode_segmentation(None, 37, 53, "t").any()


def test_overlapping_tracks_smaller_mask_wins(broken):
    big = np.zeros((48, 64), bool)
    big[5:40, 5:50] = True
    small = np.zeros((48, 64), bool)
    small[10:20, 10:20] = True

    def overlap(data):
        tracks = [a for a in data["annotations"] if a["video_id"] == 1]
        tracks[0]["segmentations"][2] = _uncompressed_rle(small)  # object 1: small, uncompressed RLE
        tracks[1]["segmentations"][2] = encode_rle(big)           # object 2: big, drawn first
    _edit(broken, overlap)
    video = UvoReader(broken).video("synth-000")
    masks = video.track_masks(2)
    np.testing.assert_array_equal(masks[0], small)
    np.testing.assert_array_equal(masks[1], big)
    labels = video.annotation(2)
    assert (labels[small] == 1).all() and (labels[big & ~small] == 2).all() and (labels[~big] == 0).all()


def test_absent_track_is_left_out_with_a_warning(broken, caplog):
    def blank(data):
        data["annotations"][0]["segmentations"] = [None] * 6
    _edit(broken, blank)
    with caplog.at_level(logging.WARNING):
        video = UvoReader(broken).video("synth-000")
    assert video.track_ids == [2] and video.object_ids == [1]
    assert "absent on every frame" in caplog.text


def test_layout_errors(tmp_path, broken):
    with pytest.raises(DatasetLayoutError, match="UVO_video_train_dense.json") as error:
        UvoReader(broken, split="train")
    assert "uvo_videos_dense_frames/<ytid>" in str(error.value)
    (broken / "uvo_videos_dense_frames" / "synth-001" / "4.png").unlink()
    with pytest.raises(DatasetError, match=r"1 of 6 frames are missing, first: .*synth-001/4.png"):
        UvoReader(broken).video("synth-001")
    shutil.rmtree(broken / "uvo_videos_dense_frames")
    with pytest.raises(DatasetLayoutError, match="uvo_videos_dense_frames"):
        UvoReader(broken)


def test_json_errors(broken):
    def short(data):
        data["annotations"][1]["segmentations"] = data["annotations"][1]["segmentations"][:4]
    _edit(broken, short)
    with pytest.raises(DatasetError, match="has 4 segmentations for 6 frames"):
        UvoReader(broken).video("synth-000")

    def wrong_size(data):
        data["annotations"][1]["segmentations"] = [None] * 6
        data["annotations"][1]["segmentations"][3] = encode_rle(np.ones((40, 64), bool))
    _edit(broken, wrong_size)
    video = UvoReader(broken).video("synth-000")
    with pytest.raises(DatasetError, match=r"track 2, frame 3: RLE size \[40, 64\] differs"):
        video.track_masks(3)

    def garbage(data):
        data["annotations"][1]["segmentations"][3] = {"size": [48, 64], "counts": 17}
    _edit(broken, garbage)
    with pytest.raises(DatasetError, match="'counts' must be a string or a list"):
        UvoReader(broken).video("synth-000").annotation(3)

    def frame_size(data):
        data["videos"][0]["width"] = 70
    _edit(broken, frame_size)
    with pytest.raises(DatasetError, match="is 64x48 but .* says video synth-000 is 70x48"):
        UvoReader(broken).video("synth-000")

    def length(data):
        data["videos"][0]["length"] = 7
    _edit(broken, length)
    with pytest.raises(DatasetError, match="has length 7 but 6 file_names"):
        UvoReader(broken)
    _json_path(broken).write_text("[1, 2")
    with pytest.raises(DatasetError, match="not valid JSON"):
        UvoReader(broken)
