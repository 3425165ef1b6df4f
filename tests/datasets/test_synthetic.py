"""The synthetic benchmark generator: determinism, known motion, occlusion / exits / late starts, layouts,
the embedded default cache, and that its objects suit weight-free trackers and segmenters."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets import synthetic
from datasets.registry import build_reader
from datasets.synthetic import LAYOUTS, READER_FOR_LAYOUT, embedded_default, generate

TINY = dict(num_videos=2, num_frames=6, height=48, width=64)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_seed_gives_identical_bytes(tmp_path, layout):
    generate(tmp_path / "a", layout, seed=3, **TINY)
    generate(tmp_path / "b", layout, seed=3, **TINY)
    generate(tmp_path / "c", layout, seed=4, **TINY)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a and a == b
    assert a.keys() == c.keys() and a != c


def test_video_content_does_not_depend_on_number_of_videos(tmp_path):
    one = generate(tmp_path / "one", "davis17", seed=1, **{**TINY, "num_videos": 1})
    two = generate(tmp_path / "two", "davis17", seed=1, **TINY)
    np.testing.assert_array_equal(one.videos["synth-000"].labels, two.videos["synth-000"].labels)


def test_frames_are_jpeg_quality_95(tmp_path):
    generate(tmp_path, "davis17", **TINY)
    frames = sorted((tmp_path / "JPEGImages" / "480p" / "synth-000").iterdir())
    assert [p.suffix for p in frames] == [".jpg"] * 6
    assert frames[0].read_bytes()[:2] == b"\xff\xd8"


def test_ground_truth_has_occlusion_exit_reentry_and_late_start(tmp_path):
    info = generate(tmp_path, "folder", num_videos=1, num_frames=16, height=96, width=128, num_objects=3)
    video = info.videos["synth-000"]
    anchor, crosser, drifter = video.objects
    assert (anchor.first_frame, crosser.first_frame, drifter.first_frame) == (0, 3, 0)
    assert crosser.z > anchor.z
    area = video.visible_area(crosser.id)
    assert (area[: crosser.first_frame] == 0).all() and area[crosser.first_frame] > 0
    gone = np.flatnonzero(area == 0)
    gone = gone[gone > crosser.first_frame]
    assert len(gone) and area[gone[-1] + 1:].min() > 0, "the crosser leaves the frame and comes back"
    full_anchor = video.full_masks[0].reshape(16, -1).sum(axis=1)
    assert (video.visible_area(anchor.id) < 0.8 * full_anchor).any(), "the crosser occludes the anchor"
    # labels are the z-ordered composition of the full masks
    np.testing.assert_array_equal(video.labels > 0, video.full_masks.any(axis=0))


def test_point_motion_follows_the_rendered_object(tmp_path):
    info = generate(tmp_path, "davis17", num_videos=1, num_frames=10, height=96, width=128, num_objects=1)
    video = info.videos["synth-000"]
    inner = cv2.erode(video.full_masks[0, 0].astype(np.uint8), np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(inner)
    xy0 = np.stack([xs, ys], axis=1).astype(np.float64)
    for t1 in range(1, 10):
        xy1 = info.point_motion("synth-000", 1, 0, xy0, t1)
        assert video.point_visible(1, t1, xy1).mean() > 0.99
    # composition and identity
    np.testing.assert_allclose(video.point_motion(1, 0, xy0, 0), xy0, atol=1e-9)
    via = video.point_motion(1, 4, video.point_motion(1, 0, xy0, 4), 9)
    np.testing.assert_allclose(via, video.point_motion(1, 0, xy0, 9), atol=1e-9)


def test_affines_contain_rotation_and_scale(tmp_path):
    info = generate(tmp_path, "davis17", num_videos=1, num_frames=12, height=96, width=128)
    for obj in info.videos["synth-000"].objects:
        linear = obj.affines[:, :, :2]
        scales = np.sqrt(np.abs(np.linalg.det(linear)))
        angles = np.arctan2(linear[:, 1, 0], linear[:, 0, 0])
        assert np.ptp(scales) > 0.02 and np.ptp(np.unwrap(angles)) > 1e-3


def test_lucas_kanade_recovers_the_known_motion(tmp_path):
    info = generate(tmp_path, "davis17", num_videos=1, num_frames=20, height=120, width=160, num_objects=2)
    video = info.videos["synth-000"]
    frames = [cv2.imread(str(tmp_path / "JPEGImages/480p/synth-000" / f"{t:05d}.jpg"), cv2.IMREAD_GRAYSCALE)
              for t in range(2)]
    for obj in video.objects:
        inner = cv2.erode((video.labels[0] == obj.id).astype(np.uint8), np.ones((7, 7), np.uint8))
        corners = cv2.goodFeaturesToTrack(frames[0], 30, 0.01, 3, mask=inner)
        assert corners is not None and len(corners) >= 8, "objects carry trackable texture"
        moved, status, _ = cv2.calcOpticalFlowPyrLK(frames[0], frames[1], corners, None, winSize=(15, 15))
        truth = video.point_motion(obj.id, 0, corners.reshape(-1, 2), 1)
        keep = (status.ravel() == 1) & video.point_visible(obj.id, 1, truth)
        error = np.linalg.norm(moved.reshape(-1, 2)[keep] - truth[keep], axis=1)
        assert keep.sum() >= 8 and np.median(error) < 0.5


def test_grabcut_separates_objects_from_background(tmp_path):
    info = generate(tmp_path, "davis17", num_videos=1, num_frames=1, height=120, width=160, num_objects=2)
    video = info.videos["synth-000"]
    frame = cv2.imread(str(tmp_path / "JPEGImages/480p/synth-000/00000.jpg"))
    for obj in video.objects:
        truth = video.labels[0] == obj.id
        ys, xs = np.nonzero(truth)
        x0, y0 = max(xs.min() - 4, 0), max(ys.min() - 4, 0)
        rect = (int(x0), int(y0), int(xs.max() + 5 - x0), int(ys.max() + 5 - y0))
        mask = np.zeros(truth.shape, np.uint8)
        cv2.setRNGSeed(0)
        cv2.grabCut(frame, mask, rect, np.zeros((1, 65)), np.zeros((1, 65)), 3, cv2.GC_INIT_WITH_RECT)
        predicted = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        iou = (predicted & truth).sum() / (predicted | truth).sum()
        assert iou > 0.8, f"object {obj.id}: GrabCut IoU {iou:.2f}"


def test_layout_rules_are_enforced(tmp_path):
    with pytest.raises(ValueError, match="unknown layout"):
        generate(tmp_path / "x", "kitti")
    with pytest.raises(ValueError, match="1..N"):
        generate(tmp_path / "x", "davis17", object_ids=[2, 5])
    with pytest.raises(ValueError, match="late_start"):
        generate(tmp_path / "x", "mose", late_start=True)
    generate(tmp_path / "y", "mose", **TINY)
    with pytest.raises(FileExistsError):
        generate(tmp_path / "y", "mose", **TINY)


def test_cli_writes_a_layout(tmp_path):
    synthetic.main(["--layout", "ytvos", "--out", str(tmp_path / "yt"), "--seed", "2", "--num-videos", "1",
                    "--num-frames", "6", "--height", "48", "--width", "64"])
    assert (tmp_path / "yt" / "valid" / "meta.json").is_file()
    assert len(list((tmp_path / "yt" / "valid_all_frames" / "JPEGImages" / "synth-000").iterdir())) == 6
    assert len(list((tmp_path / "yt" / "valid" / "JPEGImages" / "synth-000").iterdir())) == 2


def test_embedded_default_is_built_once_and_rebuilt_when_incomplete(tmp_path):
    root = embedded_default(tmp_path)
    assert (root / synthetic.COMPLETE_MARKER).is_file()
    names = (root / "ImageSets" / "2017" / "val.txt").read_text().split()
    assert len(names) == 3
    frames = sorted((root / "JPEGImages" / "480p" / names[0]).iterdir())
    assert len(frames) == 20 and cv2.imread(str(frames[0])).shape == (240, 320, 3)
    stamp = frames[0].stat().st_mtime_ns
    assert embedded_default(tmp_path) == root and frames[0].stat().st_mtime_ns == stamp  # cached
    (root / synthetic.COMPLETE_MARKER).unlink()
    frames[3].unlink()
    assert embedded_default(tmp_path) == root
    assert frames[3].is_file() and (root / synthetic.COMPLETE_MARKER).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [root.name], "no temporary folders left behind"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_reads_back_with_its_reader(tmp_path, layout):
    info = generate(tmp_path, layout, **{**TINY, "num_frames": 11})
    reader = build_reader(READER_FOR_LAYOUT[layout], info.root, split=info.split)
    assert list(reader.sequences) == list(info.videos)
    for video in reader:
        truth = info.videos[video.name]
        expected = [1] if layout == "davis16" else [o.id for o in truth.objects]
        if layout == "vost":  # objects 1..N, N the first annotation's largest id: a late last object is none
            expected = list(range(1, max(o.id for o in truth.objects if o.first_frame == 0) + 1))
        assert video.object_ids == expected
        for obj in video.objects:
            assert video.first_mask(obj.id).any()


def test_long_davis_writer_equals_generate(tmp_path):
    """`write_long_davis` draws frame by frame and writes the same files as `generate` (one DAVIS video)."""
    from datasets.synthetic import write_long_davis

    generate(tmp_path / "a", "davis17", num_videos=1, num_frames=6, height=48, width=64, num_objects=3,
             crosser_leaves_frame=False)
    write_long_davis(tmp_path / "b", 6, 48, 64, 3)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert len(files) == 13
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
