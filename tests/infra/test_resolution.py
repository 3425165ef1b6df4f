"""The working resolution (infra.resolution) against the code the authors' evaluation calls:
SAM's ResizeLongestSide for frames and shapes, PyTorch's nearest interpolation for masks; the DAVIS
readers' Full-Resolution frame source; a run at a working resolution writes 480p label maps."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

from datasets.davis import Davis16Reader, Davis17Reader
from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import read_label_png, write_label_png
from datasets.synthetic import generate
from infra.resolution import (
    WorkingVideo, longest_side_shape, mirror, mirror_points, nearest_source_indices, resize_frame, resize_mask_nearest,
)

SIZES = [(480, 854), (1080, 1920), (2160, 4096), (720, 1280), (1080, 1440), (576, 1024), (1280, 720),
         (481, 853), (333, 517), (96, 128), (10, 700), (1024, 1024), (37, 29)]


@pytest.mark.parametrize("longest", [1024, 512, 720, 100])
def test_shape_equals_sams_preprocess_shape(longest):
    for height, width in SIZES:
        assert longest_side_shape(height, width, longest) == ResizeLongestSide.get_preprocess_shape(
            height, width, longest), (height, width, longest)


def test_bad_longest_side_is_a_clear_error():
    for bad in (0, 8, 10.5, True, "1024"):
        with pytest.raises(ValueError, match="longest_side must be an integer >= 16"):
            longest_side_shape(480, 854, bad)


@pytest.mark.parametrize("size", [(480, 854), (1080, 1920), (333, 517), (576, 1024)])
def test_frame_resize_is_bit_identical_to_sams_apply_image(size):
    rng = np.random.default_rng(sum(size))
    frame = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    frame[: size[0] // 2] = np.linspace(0, 255, size[1], dtype=np.uint8)[None, :, None]  # smooth + noise
    expected = ResizeLongestSide(1024).apply_image(frame)
    ours = resize_frame(frame, longest_side_shape(*size, 1024))
    assert ours.dtype == np.uint8 and ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)
    assert resize_frame(frame, size) is frame  # no work at the same size


def test_mask_nearest_is_bit_identical_to_torch_interpolate():
    rng = np.random.default_rng(0)
    pairs = [(480, 854, 576, 1024), (1080, 1920, 576, 1024), (576, 1024, 480, 854), (576, 1024, 1080, 1920),
             (48, 64, 96, 128), (50, 70, 50, 70), (2160, 4096, 540, 1024), (333, 517, 1000, 7), (7, 9, 5, 21)]
    for height, width, out_h, out_w in pairs:
        mask = rng.random((height, width)) > 0.5
        expected = F.interpolate(torch.from_numpy(mask)[None, None].float(), (out_h, out_w), mode="nearest")[0, 0]
        ours = resize_mask_nearest(mask, (out_h, out_w))
        assert ours.dtype == bool and ours.shape == (out_h, out_w)
        np.testing.assert_array_equal(ours, expected.numpy() > 0.5, err_msg=str((height, width, out_h, out_w)))
    # every source/target length up to 300 along one axis, the indices torch picks
    for source in range(1, 300, 7):
        for target in range(1, 300, 3):
            probe = torch.arange(source, dtype=torch.float32)[None, None, None, :]
            torch_index = F.interpolate(probe, (1, target), mode="nearest")[0, 0, 0].long().numpy()
            np.testing.assert_array_equal(nearest_source_indices(source, target), torch_index)


@pytest.fixture(scope="module")
def davis17(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("wr") / "DAVIS", "davis17", num_videos=1, num_frames=4, height=48,
                    width=64, full_resolution=True)


def test_working_video_reads_full_resolution_first_masks(davis17):
    """As the authors' reader: Full-Resolution frames and first masks, resized to the working size."""
    video = Davis17Reader(davis17.root, frames_resolution="Full-Resolution").video("synth-000")
    assert video.size == (48, 64) and video.frame_size == (96, 128)
    assert video.first_mask_paths[0].parent.parent.name == "Full-Resolution"
    full_labels = read_label_png(video.first_mask_paths[0])
    np.testing.assert_array_equal(video.first_mask(2), full_labels == 2)
    source = WorkingVideo(video, 200)
    assert source.frame_size == (150, 200) and source.source_size == (96, 128)
    assert source.frame(1).shape == (150, 200, 3)
    np.testing.assert_array_equal(source.frame(1), resize_frame(video.frame(1), (150, 200)))
    masks = source.first_masks()
    assert sorted(masks) == [1, 2] and masks[1][0] == 0
    np.testing.assert_array_equal(masks[2][1], resize_mask_nearest(full_labels == 2, (150, 200)))
    native = WorkingVideo(video, None)
    assert native.frame_size == (96, 128) and native.frame(0) is not None


def test_mirrored_working_video_mirrors_as_the_authors_flip(davis17):
    """``flip`` in the authors' order (their loader resizes frames, then eval.py:186-188 mirrors them and the
    first masks, which are resized after): frames resized, then mirrored; first masks mirrored, then resized."""
    video = Davis17Reader(davis17.root, frames_resolution="Full-Resolution").video("synth-000")
    source, mirrored = WorkingVideo(video, 200), WorkingVideo(video, 200, mirrored=True)
    np.testing.assert_array_equal(mirrored.frame(2), resize_frame(video.frame(2), (150, 200))[:, ::-1])
    np.testing.assert_array_equal(mirrored.first_mask(2), resize_mask_nearest(video.first_mask(2)[:, ::-1], (150, 200)))
    assert not np.array_equal(mirrored.frame(2), source.frame(2))
    assert mirror(np.arange(6).reshape(2, 3)).tolist() == [[2, 1, 0], [5, 4, 3]]
    points = np.array([[[0.0, 3.0], [199.0, 7.5], [10.25, 0.0]]], np.float32)
    assert mirror_points(points, 200)[0, :, 0].tolist() == [199.0, 0.0, 188.75]
    np.testing.assert_array_equal(mirror_points(mirror_points(points, 200), 200), points)


def test_full_resolution_falls_back_to_1080p_and_missing_folders_name_the_make_target(tmp_path, davis17):
    davis16 = generate(tmp_path / "D16", "davis16", num_videos=1, num_frames=3, height=24, width=32,
                       full_resolution=True)
    reader = Davis16Reader(davis16.root, frames_resolution="Full-Resolution")
    assert reader.frames_resolution == "1080p"
    video = reader.video("synth-000")
    assert video.frame_size == (48, 64) and video.first_mask(1).shape == (48, 64)
    only_480p = generate(tmp_path / "D17", "davis17", num_videos=1, num_frames=3, height=24, width=32)
    with pytest.raises(DatasetLayoutError, match=r"JPEGImages/Full-Resolution.*make data DATASET=davis17_full"):
        Davis17Reader(only_480p.root, frames_resolution="Full-Resolution")
    with pytest.raises(DatasetLayoutError, match="davis17_testdev_full"):
        Davis17Reader(only_480p.root, split="test-dev", frames_resolution="Full-Resolution")


def test_empty_full_resolution_first_mask_names_the_file(tmp_path, davis17):
    import shutil

    root = tmp_path / "DAVIS"
    shutil.copytree(davis17.root, root)
    path = root / "Annotations" / "Full-Resolution" / "synth-000" / "00000.png"
    labels = read_label_png(path)
    write_label_png(path, np.where(labels == 2, 0, labels).astype(np.uint8))
    video = Davis17Reader(root, frames_resolution="Full-Resolution").video("synth-000")
    with pytest.raises(DatasetError, match=r"object 2 has an empty first mask in .*Full-Resolution.*00000\.png"):
        WorkingVideo(video, 128).first_masks()


def test_youtube_vos_late_objects_get_the_authors_round_trip_on_their_first_frame(tmp_path):
    """YouTube-VOS-style objects that start later: on each object's first frame the written label map is
    its annotation resized nearest to the working size and back (the authors' query-frame overwrite),
    and before that frame the object is background."""
    from datasets.registry import build_reader
    from experiments.run.vos import predict_video
    from tests.fakes import DiskSegmenter, ScriptedTracker
    from trackers.sampt.model import SamPt

    info = generate(tmp_path / "YT", "ytvos", num_videos=1, num_frames=12, height=90, width=160, late_start=True)
    video = build_reader("ytvos18", info.root, split="valid", all_frames=True).video("synth-000")
    late = [obj for obj in video.objects if obj.first_frame > 0]
    assert late, "the synthetic video must have an object that starts later"
    sampt = SamPt(ScriptedTracker(), DiskSegmenter(radius=6), iterative_refinement_iterations=1, seed=0)
    out = tmp_path / "pred"
    info = predict_video(sampt, video, out, longest_side=100)  # below the annotation size: a lossy round trip
    assert info["working_size"] == [56, 100]
    differs = 0
    for obj in video.objects:
        t0 = obj.first_frame
        written = read_label_png(out / f"{video.frame_names[t0]}.png")
        assert written.shape == video.size
        round_trip = resize_mask_nearest(resize_mask_nearest(video.first_mask(obj.id), (56, 100)), video.size)
        np.testing.assert_array_equal(written == obj.id, round_trip)
        differs += int((round_trip != video.first_mask(obj.id)).any())
        for t in range(t0):
            if t in video.frames_to_write:
                assert not (read_label_png(out / f"{video.frame_names[t]}.png") == obj.id).any()
    assert differs  # the written first-frame mask is the round trip, not the annotation
