"""The demo: a synthetic clip written as MP4, query points file, masks / overlay / json out; streaming."""
import gc
import json
import tracemalloc

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datasets.png import read_label_png
from datasets.synthetic import generate
from experiments.apps import demo
from experiments.apps.points_file import points_from_arguments, write_points_file, QueryPoints
from datasets.video_file import VideoSource
from infra import cpu_runtime
from infra.resolution import WorkingVideo
from trackers.point.opencv import LucasKanadeTracker
from trackers.segmenters.base import Embedding, Prediction, Segmenter


def write_mp4(path, frames, fps=10):
    writer = imageio.get_writer(path, fps=fps, codec="libx264", quality=9, macro_block_size=2,
                                ffmpeg_log_level="error")
    for frame in frames:
        writer.append_data(frame)
    writer.close()


@pytest.fixture(scope="module")
def synthetic_clip(tmp_path_factory):
    """A 10-frame 120x160 synthetic video with object 2 starting on frame 4, as MP4, with its truth."""
    root = tmp_path_factory.mktemp("clip")
    info = generate(root / "data", "folder", num_videos=1, num_frames=10, late_start=True,
                    crosser_leaves_frame=False)
    truth = next(iter(info.videos.values()))
    from datasets.png import read_frame

    frames = [read_frame(p) for p in sorted((info.root / "JPEGImages" / truth.name).glob("*.jpg"))]
    write_mp4(root / "clip.mp4", frames)
    return root / "clip.mp4", truth, np.stack(frames)


def test_demo_on_a_frames_folder_at_a_reduced_working_size(synthetic_clip, tmp_path):
    path, truth, _ = synthetic_clip
    folder = path.parent / "data" / "JPEGImages" / truth.name
    xy = centre_points(truth.labels[0] == 1, 2)
    out = tmp_path / "folder"
    assert demo.main(["--video", str(folder), "--point", "0;" + " ".join(f"{x},{y}" for x, y in xy), "--out",
                      str(out), "--tracker", "lk", "--segmenter", "grabcut", "--longest-side", "80",
                      "--refinement-iterations", "0"]) == 0
    data = json.loads((out / "demo.json").read_text())
    assert data["frame_size"] == [120, 160] and data["working_size"] == [60, 80]
    np.testing.assert_allclose(data["tracks"][0][0], xy, atol=0.01)  # video pixels, not working pixels
    mask = read_label_png(out / "masks" / "00000.png")
    assert mask.shape == (120, 160)
    assert ((mask == 1) & (truth.labels[0] == 1)).sum() > 0.5 * (mask == 1).sum() > 0
    reader = imageio.get_reader(out / "overlay.mp4")
    assert reader.get_data(0).shape == (60, 80, 3)
    reader.close()


def centre_points(mask, count):
    """``count`` k-medoid points of the mask (deterministic)."""
    from trackers.sampt.query_points import kmedoids_points

    return kmedoids_points(mask, count, np.random.default_rng(0))


def test_video_source_reads_mp4_and_folders(synthetic_clip, tmp_path):
    path, truth, frames = synthetic_clip
    source = VideoSource(path)
    assert (source.num_frames, source.frame_size, source.fps, source.name) == (10, (120, 160), 10.0, "clip")
    assert np.abs(source.frame(7).astype(int) - frames[7]).mean() < 6  # lossy codec
    assert np.abs(source.frame(2).astype(int) - frames[2]).mean() < 6  # going back reopens the file
    small = WorkingVideo(VideoSource(path), longest_side=80)
    assert small.frame(0).shape == (60, 80, 3) and small.scale == 0.5
    with pytest.raises(FileNotFoundError, match="video not found"):
        VideoSource(tmp_path / "absent.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no frame images"):
        VideoSource(tmp_path / "empty")


@pytest.mark.parametrize("frame_workers", [1, 4])
def test_demo_on_synthetic_mp4(synthetic_clip, tmp_path, capsys, monkeypatch, frame_workers):
    """With 4 frame workers, the frame loop reads 4 frames ahead of the one it hands over: the read-ahead still
    keeps every frame the overlay draws."""
    monkeypatch.setattr(cpu_runtime, "_frame_workers", frame_workers)
    path, truth, _ = synthetic_clip
    opened = []
    open_container = demo.VideoSource._open
    monkeypatch.setattr(demo.VideoSource, "_open", lambda self: opened.append(1) or open_container(self))
    write_masks, opened_while_writing = demo.write_masks, []

    def counted_write_masks(*args, **kwargs):
        before = len(opened)
        result = write_masks(*args, **kwargs)
        opened_while_writing.append(len(opened) - before)
        return result

    monkeypatch.setattr(demo, "write_masks", counted_write_masks)
    late = truth.object(2).first_frame
    assert late > 0
    query = QueryPoints(np.stack([
        np.concatenate([np.full((3, 1), t, np.float32), centre_points(truth.labels[t] == obj, 3)], axis=1)
        for obj, t in ((1, 0), (2, late))]), num_positive=3)
    points_path = tmp_path / "points.txt"
    write_points_file(points_path, query)
    out = tmp_path / "out"
    assert demo.main(["--video", str(path), "--points", str(points_path), "--out", str(out),
                      "--checkpoint-dir", str(tmp_path / "none"), "--longest-side", "0"]) == 0
    said = capsys.readouterr().out
    assert "weight-free tracker 'lk'" in said and "weight-free segmenter 'grabcut'" in said

    masks = [read_label_png(out / "masks" / f"{t:05d}.png") for t in range(10)]
    assert all(m.shape == (120, 160) for m in masks)
    assert not any((masks[t] == 2).any() for t in range(late))  # background before its query frame
    data = json.loads((out / "demo.json").read_text())
    visible = np.asarray(data["visible"])  # (T, M, P)
    for k, obj in enumerate((1, 2)):
        first = truth.object(obj).first_frame
        tracked = [t for t in range(first, 10) if visible[t, k].any()]
        assert truth.object(obj).first_frame in tracked
        ious = [((masks[t] == obj) & (truth.labels[t] == obj)).sum()
                / ((masks[t] == obj) | (truth.labels[t] == obj)).sum() for t in tracked]
        assert np.mean(ious) > 0.5, (obj, ious)
        # no visible point of the object (LK lost them under the occluder): no mask for it (SAM-PT's rule)
        assert not any((masks[t] == obj).any() for t in range(10) if t not in tracked)

    reader = imageio.get_reader(out / "overlay.mp4")
    assert reader.count_frames() == 10
    reader.close()
    # the overlay draws each frame the frame loop read ahead: while masks are written the decoder restarts at
    # most once, for frame 0 (drawing through the plain reader, behind the read-ahead, reopened the file for
    # most frames). Tracking backward from object 2's query frame reopens it per backward step: an MP4 is
    # decoded forward only.
    assert opened_while_writing[0] <= 1, opened_while_writing
    assert data["weight_free"] and data["tracker"] == "lk" and data["segmenter"] == "grabcut"
    assert np.asarray(data["tracks"]).shape == (10, 2, 3, 2)
    assert np.asarray(data["visible"]).shape == (10, 2, 3)
    iou = data["iou"]
    assert all(iou[t][1] is None for t in range(late)) and iou[late + 1][1] is not None
    assert [o["first_frame"] for o in data["objects"]] == [0, late]
    np.testing.assert_allclose(data["tracks"][late][1], query.points[1, :, 1:], atol=0.01)


def test_default_working_size_is_the_authors_demo_default():
    """The authors' demo (SysCV/sam-pt configs/demo.yaml) resizes the longest side to 1024; 0 keeps the size."""
    assert demo.parse_args(["--video", "v.mp4", "--point", "0;1,1"]).longest_side == 1024
    assert demo.parse_args(["--video", "v.mp4", "--point", "0;1,1", "--longest-side", "0"]).longest_side == 0


def test_command_line_points_and_errors(synthetic_clip, tmp_path, capsys):
    path, truth, _ = synthetic_clip
    x, y = centre_points(truth.labels[0] == 1, 1)[0]
    out = tmp_path / "cli"
    assert demo.main(["--video", str(path), "--point", f"0;{x},{y}", "--out", str(out), "--tracker", "lk",
                      "--segmenter", "grabcut", "--no-overlay", "--refinement-iterations", "0",
                      "--longest-side", "0"]) == 0
    assert len(list((out / "masks").glob("*.png"))) == 10 and not (out / "overlay.mp4").exists()
    (out / "masks" / "00042.png").write_bytes(b"stale")  # from an earlier, longer video
    assert demo.main(["--video", str(path), "--point", f"0;{x},{y}", "--out", str(out), "--tracker", "lk",
                      "--segmenter", "grabcut", "--no-overlay", "--refinement-iterations", "0",
                      "--longest-side", "0"]) == 0
    assert len(list((out / "masks").glob("*.png"))) == 10
    assert "replacing the 11 masks of a previous run" in capsys.readouterr().out
    capsys.readouterr()
    assert demo.main(["--video", str(path), "--point", "12;5,5", "--out", str(out)]) == 2
    assert "object 1 starts on frame 12 but the video has 10 frames" in capsys.readouterr().err
    assert demo.main(["--video", str(path), "--point", "0;500,5", "--out", str(out)]) == 2
    assert "outside the 160x120 frame" in capsys.readouterr().err
    assert demo.main(["--video", str(path), "--point", "0;5,5", "--out", str(out), "--tracker", "pips",
                      "--checkpoint-tracker", str(tmp_path / "absent.pth")]) == 2
    assert "checkpoint file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("1\n0;1,2\n0;1,2,3\n")
    assert demo.main(["--video", str(path), "--points", str(bad), "--out", str(out)]) == 2
    assert f"{bad}, line 3" in capsys.readouterr().err


def test_auto_models_use_a_found_checkpoint(tmp_path):
    said = []
    assert demo.resolve_model("segmenter", "auto", None, tmp_path, said.append) == ("grabcut", None)
    assert "no sam_vit_h checkpoint" in said[-1]
    (tmp_path / "sam_vit_h_4b8939.pth").write_bytes(b"")
    assert demo.resolve_model("segmenter", "auto", None, tmp_path, said.append) == (
        "sam_vit_h", str(tmp_path / "sam_vit_h_4b8939.pth"))
    assert demo.resolve_model("tracker", "auto", "x.pth", tmp_path, said.append) == ("pips", "x.pth")
    assert demo.resolve_model("tracker", "raft", None, tmp_path, said.append) == ("raft", None)


def test_auto_finds_the_checkpoint_where_the_config_puts_it(tmp_path):
    said = []
    assert demo.resolve_model("tracker", "auto", None, tmp_path, said.append) == ("lk", None)
    assert "model-000200000.pth" in said[0]  # configs/tracker/pips.yaml's file name, under the checkpoint dir
    (tmp_path / "model-000200000.pth").write_bytes(b"")
    assert demo.resolve_model("tracker", "auto", None, tmp_path, said.append) == (
        "pips", str(tmp_path / "model-000200000.pth"))
    assert demo.resolve_model("segmenter", "sam_vit_b", "x.pth", tmp_path) == ("sam_vit_b", "x.pth")


def test_demo_models_come_from_the_configs():
    query = points_from_arguments(["0;40,40 60,50 10,10"], num_positive=2)
    cfg = demo.demo_config("lk", "grabcut", query, refinement_iterations=3, seed=5)
    assert (cfg.tracker.name, cfg.segmenter.name, cfg.seed) == ("lk", "grabcut", 5)
    assert cfg.tracker.options.win_size == 15  # configs/tracker/lk.yaml applies
    assert (cfg.model.positive_points_per_mask, cfg.model.negative_points_per_mask,
            cfg.model.iterative_refinement_iterations) == (2, 1, 3)


class ArraySource:
    """Frames made on demand (a long clip never held in memory): a textured image moving 1 px / frame."""

    def __init__(self, num_frames, height=48, width=64):
        rng = np.random.default_rng(0)
        import cv2

        self.base = cv2.GaussianBlur((rng.random((height, width + num_frames, 3)) * 255).astype(np.uint8), (0, 0), 1.5)
        self.num_frames, self.width = num_frames, width

    def frame(self, t):
        return np.ascontiguousarray(self.base[:, t:t + self.width])

    def stack(self, start, end):
        return np.stack([self.frame(t) for t in range(start, end)])


class DiskSegmenter(Segmenter):
    """Cheap stand-in for SAM: a disk around the mean positive point."""

    def embed(self, frame):
        height, width = frame.shape[:2]
        longest = max(height, width)
        return Embedding(None, (height, width), (1024 * height // longest, 1024 * width // longest))

    def predict(self, embedding, points, labels, boxes=None, mask_input=None):
        height, width = embedding.original_size
        yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
        logits = []
        for coords, label in zip(points, labels):
            centre = coords[label == 1].float().mean(0) * 256 / torch.tensor([width, height])
            logits.append(6.0 - ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2).sqrt())
        return Prediction(torch.stack(logits)[:, None], torch.ones(len(logits)))

    def upscale(self, embedding, low_res_logits):
        return F.interpolate(low_res_logits, embedding.original_size, mode="bilinear", align_corners=False)[:, 0]


def test_peak_memory_does_not_grow_with_video_length(tmp_path, monkeypatch):
    from trackers.sampt.model import SamPt

    def cheap_sampt(cfg, seed, device):
        return SamPt(LucasKanadeTracker(), DiskSegmenter(), positive_points_per_mask=cfg.model.positive_points_per_mask,
                     negative_points_per_mask=cfg.model.negative_points_per_mask, iterative_refinement_iterations=0,
                     seed=0)

    monkeypatch.setattr(demo, "build_sampt", cheap_sampt)
    long_source = ArraySource(200, 96, 128)
    for count in (50, 200):
        write_mp4(tmp_path / f"clip{count}.mp4", [long_source.frame(t) for t in range(count)])
    query = points_from_arguments(["0;40,40 60,50"])
    # warm up with the same calls: one-time growth (imports, caches, Python's table of interned path names,
    # which grows in steps of megabytes) is not the video's
    for count in (50, 200):
        demo.run_demo(tmp_path / f"clip{count}.mp4", query, tmp_path / f"out{count}", longest_side=None,
                      say=lambda _: None)
    peaks = {}
    for count in (50, 200):
        # collect first: cyclic garbage left by earlier work (Hydra's config copies) is otherwise freed at a
        # moment of the collector's choosing, which moved the peak by up to 1 MB between runs
        gc.collect()
        tracemalloc.start()
        demo.run_demo(tmp_path / f"clip{count}.mp4", query, tmp_path / f"out{count}", longest_side=None,
                      say=lambda _: None)
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(list((tmp_path / f"out{count}" / "masks").glob("*.png"))) == count
    few_frames = 8 * 96 * 128 * 3
    assert peaks[200] < peaks[50] + few_frames, peaks  # 4x the frames, (almost) the same peak
    assert peaks[200] < 200 * 96 * 128 * 3 / 2, peaks  # far below holding the frames
