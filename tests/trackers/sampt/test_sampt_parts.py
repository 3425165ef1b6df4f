"""SAM-PT building blocks: patch-similarity filtering (step 5) and the exact refinement-box finder."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.fakes import DiskSegmenter
from trackers.sampt.mask_box import MaskBoxFinder, UpscalingBoxFinder
from trackers.sampt.patch_similarity import filter_tracks, patch_offsets, sample_patches, lab_frame
from trackers.point.base import PointTracker
from trackers.sampt.model import SamPt
from reference.runs import segment_video


def _two_colour_frames(num_frames=6, height=40, width=80):
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    frames[:, :, :40] = (200, 30, 30)
    frames[:, :, 40:] = (30, 30, 200)
    return frames


def test_patch_offsets_and_sampling_at_pixel_centres():
    assert patch_offsets(3).shape == (9, 2)
    with pytest.raises(ValueError, match="odd"):
        patch_offsets(2)
    frame = np.zeros((5, 5, 3), np.uint8)
    frame[2, 2] = 255
    lab = lab_frame(frame, swap_red_blue=False)
    centre = sample_patches(lab, torch.tensor([[2.0, 2.0]]), 1)
    assert centre[0, 0] == pytest.approx(100.0, abs=1e-3)  # L of white at the exact pixel centre


def test_filtering_rejects_from_the_first_dissimilar_frame_away_from_the_query():
    frames = _two_colour_frames()
    queries = np.array([[0, 10, 20], [5, 10, 20]], np.float32)
    tracks = np.tile(np.array([10, 20], np.float32), (6, 2, 1))
    tracks[3, 0] = (60, 20)  # point 0 (query frame 0) jumps onto blue at frame 3, then comes back
    tracks[2, 1] = (60, 20)  # point 1 (query frame 5) is on blue at frame 2, going backward
    visible = np.ones((6, 2), bool)
    out = filter_tracks(lambda t: frames[t], 6, queries, tracks, visible, patch_size=3, threshold=0.01)
    assert out[:, 0].tolist() == [True, True, True, False, False, False]
    assert out[:, 1].tolist() == [False, False, False, True, True, True]


def test_filtering_keeps_similar_points_and_invisible_points_stay_invisible():
    frames = _two_colour_frames()
    queries = np.array([[0, 10, 20]], np.float32)
    tracks = np.tile(np.array([12, 22], np.float32), (6, 1, 1))
    visible = np.ones((6, 1), bool)
    visible[2] = False
    out = filter_tracks(lambda t: frames[t], 6, queries, tracks, visible)
    assert out[:, 0].tolist() == [True, True, False, True, True, True]


class _JumpTracker(PointTracker):
    """Points stay put, except that every point jumps 40 px right from frame 3 on."""

    def track(self, frames, queries):
        tracks = np.repeat(np.asarray(queries, np.float32)[None, :, 1:], len(frames), axis=0)
        tracks[3:, :, 0] += 40
        return tracks, np.ones(tracks.shape[:2], bool)


def test_sampt_patch_filtering_marks_points_invisible_from_then_on():
    frames = _two_colour_frames()
    mask = np.zeros((40, 80), bool)
    mask[10:30, 5:30] = True  # a red object; its points jump onto blue at frame 3
    on = SamPt(_JumpTracker(), DiskSegmenter(), use_patch_matching_filtering=True, iterative_refinement_iterations=0)
    result = segment_video(on, frames, {1: (0, mask)}, "v")
    positives = result.visible[:, result.point_positive]
    assert positives[:3].all() and not positives[3:].any()
    off = SamPt(_JumpTracker(), DiskSegmenter(), iterative_refinement_iterations=0)
    assert segment_video(off, frames, {1: (0, mask)}, "v").visible[3:, :8].any()


def _reference_box(low_res, input_size, frame_size):
    full = F.interpolate(low_res[None, None], (1024, 1024), mode="bilinear", align_corners=False)
    full = full[..., :input_size[0], :input_size[1]]
    mask = F.interpolate(full, frame_size, mode="bilinear", align_corners=False)[0, 0] > 0
    if not mask.any():
        return None, 0
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())), min(int(mask.sum()), 2)


@pytest.mark.parametrize("input_size,frame_size", [((576, 1024), (480, 854)), ((1024, 768), (100, 75)),
                                                   ((576, 1024), (576, 1024))])
def test_mask_box_finder_equals_full_upscaling(input_size, frame_size):
    rng = torch.Generator().manual_seed(0)
    finder = MaskBoxFinder(256, 1024, input_size, frame_size)
    ys, xs = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    for case in range(30):
        if case % 3 == 0:
            centre, radius = torch.rand(2, generator=rng) * 256, float(torch.rand(1, generator=rng)) * 50
            logits = radius - torch.sqrt((ys - centre[0]) ** 2 + (xs - centre[1]) ** 2)
            logits += torch.randn(256, 256, generator=rng)
        elif case % 3 == 1:
            logits = -torch.rand(256, 256, generator=rng) * 4
            where = torch.randint(0, 256, (2, 2), generator=rng)
            logits[where[0], where[1]] = torch.rand(2, generator=rng)
        else:
            logits = torch.randn(256, 256, generator=rng) * 3 - 7
        assert finder.box(logits.numpy()) == _reference_box(logits, input_size, frame_size), case


def test_mask_box_finder_counts_empty_single_and_more():
    finder = MaskBoxFinder(256, 1024, (1024, 1024), (1024, 1024))
    logits = -torch.ones(1, 1, 256, 256)
    boxes, counts = finder.boxes(logits)
    assert counts.tolist() == [0]
    logits[0, 0, 100, 100] = 0.01  # upscaled x4: only the pixels nearest the centre stay positive
    box, count = finder.box(logits[0, 0].numpy())
    assert (box, count) == _reference_box(logits[0, 0], (1024, 1024), (1024, 1024))


class _DirectUpscale(DiskSegmenter):
    """Disk masks, but low-res logits resized straight to the frame (SAM 2's geometry)."""

    def upscale(self, embedding, low_res_logits):
        return F.interpolate(low_res_logits.float(), embedding.original_size, mode="bilinear", align_corners=False)[:, 0]


def test_refinement_boxes_follow_the_segmenters_own_upscaling():
    from tests.fakes import Recorder, frames_with_ids

    points = np.full((1, 9, 2), 30.0, np.float32)
    for segmenter in (DiskSegmenter(radius=6), _DirectUpscale(radius=6)):
        seg = Recorder(segmenter)
        sampt = SamPt(None, seg, iterative_refinement_iterations=1)
        embedding = seg.embed(frames_with_ids(1)[0])
        sampt.segment_frame(embedding, points, np.ones((1, 9), bool), np.random.default_rng(0))
        mask = segmenter.upscale(embedding, segmenter.predict(embedding, torch.from_numpy(points),
                                                              torch.tensor([[1] * 8 + [0]])).low_res_logits)[0] > 0
        ys, xs = np.nonzero(mask.numpy())
        np.testing.assert_array_equal(seg.calls[-1].boxes[0], [xs.min(), ys.min(), xs.max(), ys.max()])
    assert isinstance(SamPt(None, _DirectUpscale()).box_finder(embedding), UpscalingBoxFinder)
    assert isinstance(SamPt(None, DiskSegmenter()).box_finder(embedding), MaskBoxFinder)
