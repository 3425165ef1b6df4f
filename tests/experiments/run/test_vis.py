"""First-frame proposals (trackers.sampt.proposals) and the UVO VIS pipeline (experiments.run.vis)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from datasets.synthetic import generate
from datasets.uvo import UvoReader
from experiments.run.vis import (
    NOT_PROMPTED_SCORE,
    RESULTS_FILE,
    RleMasks,
    run_vis,
    run_vis_video,
    track_scores,
)
from infra.resolution import working_shape
from trackers.sampt.proposals import (
    FelzenszwalbProposer,
    GtFirstFrameProposer,
    SamAutomaticProposer,
    build_proposer,
    mask_boxes,
    point_grid,
    stability_score,
)


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def uvo_root(tmp_path_factory):
    """2 videos x 8 frames, 128x96, 3 objects all present on frame 0 (easy for weight-free models)."""
    root = tmp_path_factory.mktemp("uvo")
    generate(root, "uvo", num_videos=2, num_frames=8, height=96, width=128, num_objects=3, late_start=False,
             crosser_leaves_frame=False)
    return root


@pytest.fixture(scope="module")
def uvo_videos(uvo_root):
    return list(UvoReader(uvo_root, "val"))


@pytest.fixture(scope="module")
def sampt():
    from trackers.point.base import build_point_tracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.base import build_segmenter

    return SamPt(build_point_tracker("lk"), build_segmenter("grabcut"), iterative_refinement_iterations=0,
                 add_other_objects_positive_points_as_negative_points=False)


@pytest.fixture(scope="module")
def tiny_sam_segmenter():
    """A tiny random SAM whose mask logits are scaled up (x100) so stability scores spread over [0, 1]."""
    from trackers.segmenters.sam import SamSegmenter, build_tiny_sam

    sam = build_tiny_sam(seed=2)
    with torch.no_grad():
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight *= 100.0
    return SamSegmenter(sam, device="cpu")


def _frame():
    rng = np.random.default_rng(0)
    frame = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    frame[20:60, 30:80] = [200, 30, 30]
    return frame


# ------------------------------------------------------------------------------------------ proposals
def test_point_grid_stability_and_boxes():
    assert np.allclose(point_grid(2), [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    logits = torch.full((2, 4, 5), -5.0)
    logits[0, :2, :] = 3.0       # 10 px > 1, 10 px > -1
    logits[0, 2, :] = 0.5        # 5 more px > -1 only
    logits[1] = -5.0             # empty: 0 / 0
    score = stability_score(logits, 0.0, 1.0)
    assert score[0].item() == pytest.approx(10 / 15) and torch.isnan(score[1])
    boxes = mask_boxes(logits > 0)
    assert boxes.tolist() == [[0, 0, 4, 2], [0, 0, 0, 0]]


def test_sam_automatic_equals_segment_anything_generator(tiny_sam_segmenter):
    """Same masks, order and predicted IoUs as segment_anything's generator (one crop, multimask) with the
    IoU, stability (offset) and NMS filters all cutting."""
    from segment_anything import SamAutomaticMaskGenerator

    frame = _frame()
    settings = dict(points_per_side=8, pred_iou_thresh=0.15, stability_score_thresh=0.97, stability_score_offset=0.01,
                    box_nms_thresh=0.7)
    official = SamAutomaticMaskGenerator(tiny_sam_segmenter.sam, points_per_batch=64, crop_n_layers=0,
                                         min_mask_region_area=0, **settings).generate(frame)
    ours = SamAutomaticProposer(tiny_sam_segmenter, points_per_batch=16, max_masks=100, **settings).propose(frame)
    no_iou = SamAutomaticProposer(tiny_sam_segmenter, **dict(settings, pred_iou_thresh=0)).propose(frame)
    no_stability = SamAutomaticProposer(tiny_sam_segmenter, **dict(settings, stability_score_thresh=0)).propose(frame)
    assert 0 < len(ours) < min(len(no_iou), len(no_stability))  # both filters did cut
    assert len(ours) == len(official)
    for record, mask, score in zip(official, ours.masks, ours.scores):
        assert np.array_equal(record["segmentation"], mask)
        assert score == pytest.approx(record["predicted_iou"], abs=1e-6)
    assert (ours.scores > 0.15).all() and (np.diff(ours.scores) <= 0).all()
    top = SamAutomaticProposer(tiny_sam_segmenter, points_per_batch=64, max_masks=2, **settings).propose(frame)
    assert len(top) == 2 and np.array_equal(top.masks, ours.masks[:2])


def test_sam_automatic_hq_decoder_equals_segment_anything_hq_generator():
    """HQ-SAM's decoder returns its best mask (plus the HQ token's) for multimask prompts: one per point."""
    from segment_anything_hq import SamAutomaticMaskGenerator

    from trackers.segmenters.sam import SamSegmenter, build_tiny_hqsam

    sam = build_tiny_hqsam(seed=1)
    frame = _frame()
    settings = dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.7)
    official = [r for r in SamAutomaticMaskGenerator(sam, **settings).generate(frame) if r["area"] > 0]
    ours = SamAutomaticProposer(SamSegmenter(sam, device="cpu"), **settings).propose(frame)
    assert len(ours) == len(official) > 0
    for record, mask, score in zip(official, ours.masks, ours.scores):
        assert np.array_equal(record["segmentation"], mask)
        assert score == pytest.approx(record["predicted_iou"], abs=1e-6)


class DiscSegmenter:
    """A fake square-frame segmenter: each point prompt gives a disc whose radius grows with x, whose logit
    slope (hence stability) grows with y, and whose predicted IoU grows with x (single-mask output)."""

    low_res_size = 256

    def __init__(self, size: int = 64):
        self.size = size

    def embed(self, frame):
        from trackers.segmenters.base import Embedding

        return Embedding(None, frame.shape[:2], (1024, 1024))

    @staticmethod
    def disc(x, y, size):
        radius, slope = (8 + 24 * x / size) * size / 64, 0.3 + 4 * y / size
        yy, xx = np.mgrid[0:size, 0:size] + 0.5
        return slope * (radius - np.hypot(xx - x - 0.5, yy - y - 0.5)), 0.8 + 0.2 * x / size

    def predict(self, embedding, points, labels, boxes=None, mask_input=None):
        from trackers.segmenters.base import Prediction

        logits, ious = zip(*(self.disc(float(x), float(y), 256) for x, y in np.asarray(points)[:, 0] * 256 / self.size))
        return Prediction(torch.tensor(np.stack(logits), dtype=torch.float32)[:, None],
                          torch.tensor(ious, dtype=torch.float32))

    def upscale(self, embedding, low_res_logits):
        return torch.nn.functional.interpolate(low_res_logits, (self.size, self.size), mode="bilinear")[:, 0]


def test_sam_automatic_thresholds_nms_and_max_masks_on_disc_masks():
    from torchvision.ops import box_iou

    segmenter = DiscSegmenter()
    frame = np.zeros((64, 64, 3), np.uint8)
    settings = dict(points_per_side=8, pred_iou_thresh=0.88, stability_score_thresh=0.96, box_nms_thresh=0.7,
                    multimask_output=False, max_masks=100)
    kept = SamAutomaticProposer(segmenter, **settings).propose(frame)
    everything = SamAutomaticProposer(segmenter, **dict(settings, pred_iou_thresh=0, stability_score_thresh=0,
                                                        box_nms_thresh=1.0)).propose(frame)
    no_nms = SamAutomaticProposer(segmenter, **dict(settings, box_nms_thresh=1.0)).propose(frame)
    iou_only = SamAutomaticProposer(segmenter, **dict(settings, stability_score_thresh=0, box_nms_thresh=1.0)
                                    ).propose(frame)
    assert len(everything) == 64 and 1 < len(kept) < len(no_nms) < len(iou_only) < 64  # every filter cuts
    assert (kept.scores > 0.88).all() and (np.diff(kept.scores) <= 0).all()
    logits = segmenter.upscale(None, torch.from_numpy(np.stack([
        segmenter.disc(x, y, 256)[0] for x, y in point_grid(8) * 256]).astype(np.float32))[:, None])
    stable = {tuple(np.flatnonzero(m)[:3]) for m, s in zip((logits > 0).numpy(), stability_score(logits, 0, 1.0))
              if s >= 0.96}
    assert all(tuple(np.flatnonzero(m)[:3]) in stable for m in kept.masks)
    boxes = mask_boxes(torch.from_numpy(kept.masks))
    overlaps = box_iou(boxes, boxes) - torch.eye(len(boxes))
    assert overlaps.max() <= 0.7
    top = SamAutomaticProposer(segmenter, **dict(settings, max_masks=2)).propose(frame)
    assert len(top) == 2 and np.array_equal(top.masks, kept.masks[:2])


def test_sam_automatic_single_mask_path_and_errors(tiny_sam_segmenter):
    frame = _frame()
    proposals = SamAutomaticProposer(tiny_sam_segmenter, points_per_side=4, pred_iou_thresh=0, stability_score_thresh=0,
                                     multimask_output=False).propose(frame)
    assert proposals.masks.shape[1:] == frame.shape[:2] and proposals.masks.reshape(len(proposals), -1).any(1).all()
    from trackers.segmenters.grabcut import GrabCutSegmenter

    with pytest.raises(ValueError, match="multimask_output"):
        SamAutomaticProposer(GrabCutSegmenter())
    with pytest.raises(ValueError, match="unknown proposer"):
        build_proposer("nope")
    with pytest.raises(ValueError, match="points_per_side"):
        SamAutomaticProposer(tiny_sam_segmenter, points_per_side=0)


def test_gt_first_frame_proposer_takes_tracks_present_on_frame_zero(tmp_path):
    generate(tmp_path, "uvo", num_videos=1, num_frames=6, height=48, width=64, num_objects=3)  # object 2 starts late
    video = next(iter(UvoReader(tmp_path, "val")))
    proposals = build_proposer("gt-first-frame").propose(video.frame(0), video=video)
    masks = video.track_masks(0)
    present = masks.reshape(len(masks), -1).any(1)
    assert present.sum() == 2 and len(proposals) == 2
    assert np.array_equal(proposals.masks, masks[present]) and (proposals.scores == 1).all()
    small = GtFirstFrameProposer().propose(video.frame(0)[::2, ::2].copy(), video=video)
    assert small.masks.shape == (2, 24, 32)
    with pytest.raises(ValueError, match="needs the video"):
        GtFirstFrameProposer().propose(video.frame(0))


def test_felzenszwalb_proposer():
    proposals = FelzenszwalbProposer(max_masks=5).propose(_frame())
    assert 1 <= len(proposals) <= 5
    areas = proposals.masks.reshape(len(proposals), -1).sum(1)
    assert (areas > 0).all() and (np.diff(areas) <= 0).all() and (proposals.scores == 1).all()
    assert not (proposals.masks.sum(0) > 1).any()  # regions of one segmentation do not overlap


# ------------------------------------------------------------------------------------------ pipeline
def test_track_scores_and_working_size():
    iou = np.array([[0.9, np.nan, np.nan], [0.7, 0.8, np.nan]])
    assert np.allclose(track_scores(iou, "mean-all-frames"), [0.8, NOT_PROMPTED_SCORE, NOT_PROMPTED_SCORE])
    assert np.allclose(track_scores(iou, "mean-predicted"), [0.8, 0.8, NOT_PROMPTED_SCORE])
    with pytest.raises(ValueError, match="score_mode"):
        track_scores(iou, "max")
    stopped = np.array([[True, True, False], [False, True, False]])  # reinit: frames after a stop do not count
    assert np.allclose(track_scores(iou, "mean-all-frames", stopped), [0.9, NOT_PROMPTED_SCORE, NOT_PROMPTED_SCORE])
    assert np.allclose(track_scores(iou, "mean-predicted", stopped), [0.9, 0.8, NOT_PROMPTED_SCORE])
    # Detectron2's ResizeShortestEdge(360, 1333), the authors' VIS frame size
    assert working_shape(480, 854, short_side=360) == (360, 641)
    assert working_shape(480, 854) == (480, 854)
    assert working_shape(100, 2000, short_side=360, max_size=1333) == (67, 1333)
    with pytest.raises(ValueError, match="not both"):
        working_shape(480, 854, longest_side=1024, short_side=360)


def test_run_vis_writes_valid_results_the_scoring_step_scores_them_and_it_resumes(uvo_videos, sampt, tmp_path):
    from experiments.run.scoring import score_vis

    proposer = build_proposer("gt-first-frame")
    record = run_vis(uvo_videos, sampt, proposer, tmp_path, config_hash="h1", masks_batch_size=100)
    assert not record["failed"] and sorted(record["done"]) == [v.name for v in uvo_videos]
    results = json.loads((tmp_path / RESULTS_FILE).read_text())
    assert len(results) == 6  # 3 proposals per video
    by_id = {v.video_id: v for v in uvo_videos}
    for entry in results:
        video = by_id[entry["video_id"]]
        assert entry["category_id"] == 1 and np.isfinite(entry["score"])
        assert len(entry["segmentations"]) == video.num_frames
        for rle in entry["segmentations"]:
            if rle is None:
                continue
            assert rle["size"] == list(video.size) and isinstance(rle["counts"], str)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                mask = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            assert mask.any()
            again = mask_utils.encode(np.asfortranarray(mask))
            assert again["counts"].decode() == rle["counts"]
    assert "metrics" not in record  # run_vis predicts; the run's one scoring step scores
    metrics = score_vis(uvo_videos, record["results_json"])["global"]
    assert set(metrics) == {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
    assert metrics["AR100"] > 0.5 and metrics["AP"] > 0.3
    assert all((tmp_path / "predictions" / v.name / ".complete").is_file() for v in uvo_videos)
    before = (tmp_path / RESULTS_FILE).read_bytes()
    again = run_vis(uvo_videos, sampt, proposer, tmp_path, config_hash="h1")
    assert sorted(again["skipped"]) == [v.name for v in uvo_videos] and not again["done"]
    assert (tmp_path / RESULTS_FILE).read_bytes() == before
    assert score_vis(uvo_videos, again["results_json"])["global"] == metrics
    redo = run_vis(uvo_videos[:1], sampt, proposer, tmp_path / "other", config_hash="h2")
    assert list(redo["done"]) == [uvo_videos[0].name]


def test_tracks_keep_overlapping_masks_and_absent_frames_are_null(uvo_videos, sampt):
    video = uvo_videos[0]
    tracks = run_vis_video(sampt, build_proposer("gt-first-frame"), video)
    assert len(tracks) == 3 and all(isinstance(t.masks, RleMasks) for t in tracks)
    masks = [[t.masks[i] for i in range(video.num_frames)] for t in tracks]
    assert all(m is None or (m.shape == tuple(video.size) and m.any()) for per in masks for m in per)
    # per-track masks, not a label map: on frame 0 each track covers most of its own proposal
    first = video.track_masks(0)
    for k in range(3):
        assert masks[k][0] is not None and (masks[k][0] & first[k]).sum() > 0.5 * first[k].sum()


def test_masks_batch_size_does_not_change_tracks(uvo_videos, sampt):
    proposer = build_proposer("gt-first-frame")
    one = run_vis_video(sampt, proposer, uvo_videos[1], masks_batch_size=1)
    all_ = run_vis_video(sampt, proposer, uvo_videos[1], masks_batch_size=3)
    assert [t.score for t in one] == [t.score for t in all_]
    assert [t.masks.segmentations for t in one] == [t.masks.segmentations for t in all_]
    with pytest.raises(ValueError, match="masks_batch_size"):
        run_vis_video(sampt, proposer, uvo_videos[1], masks_batch_size=0)


def test_working_frames_resize_writes_masks_at_annotation_size(uvo_videos, sampt):
    video = uvo_videos[0]
    tracks = run_vis_video(sampt, build_proposer("gt-first-frame"), video, masks_batch_size=2, frame_short_side=64)
    assert len(tracks) == 3
    present = [m for t in tracks for m in t.masks if m is not None]
    assert present and all(m.shape == tuple(video.size) for m in present)


def test_run_vis_dataset_from_hydra_config(tmp_path):
    from hydra import compose, initialize_config_dir

    from experiments.run.vis import run_vis_dataset
    from pathlib import Path

    configs = str(Path(__file__).resolve().parents[3] / "configs")
    with initialize_config_dir(config_dir=configs, version_base="1.3"):
        cfg = compose(config_name="eval", overrides=[
            "dataset=uvo_synthetic", f"paths.cache_dir={tmp_path / 'cache'}", "device=cpu", "limit_videos=1",
            "model.iterative_refinement_iterations=0", "logging.progress=false"])
        uvo = compose(config_name="eval", overrides=["dataset=uvo"])
    assert uvo.dataset.task == "vis" and uvo.dataset.vis.proposer == "sam-automatic"
    assert uvo.dataset.vis.proposer_options.points_per_side == 32
    videos, record = run_vis_dataset(cfg, tmp_path / "run", "hash")
    assert [video.name for video in videos] == list(record["done"]) and len(videos) == 1
    assert (tmp_path / "run" / RESULTS_FILE).is_file()


def test_reinit_tracks(uvo_videos):
    from trackers.point.base import build_point_tracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.base import build_segmenter

    reinit = SamPt(build_point_tracker("lk"), build_segmenter("grabcut"), iterative_refinement_iterations=0,
                   add_other_objects_positive_points_as_negative_points=False, use_point_reinit=True,
                   reinit_horizon=4, reinit_point_tracker_horizon=4, reinit_variant="reinit-on-horizon-and-sync-masks")
    video = uvo_videos[0]
    tracks = run_vis_video(reinit, build_proposer("gt-first-frame"), video, masks_batch_size=2)
    assert len(tracks) == 3 and all(len(t.masks) == video.num_frames for t in tracks)
    assert tracks[0].masks[0] is not None and np.isfinite([t.score for t in tracks]).all()
