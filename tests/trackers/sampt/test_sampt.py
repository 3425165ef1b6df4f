"""SAM-PT prompting (paper Sec. 3.2 step 3), merging of the objects' masks, knobs, determinism and the embed-once rule."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.fakes import DiskSegmenter, Recorder, ScriptedTracker, Unbatched, frames_with_ids, tiny_sam_segmenter
from trackers.sampt.model import SamPt
from reference.sampt import reference_segment_tracks
from reference.runs import segment_tracks, segment_video


def _points(num_objects=1, num_points=9, seed=0, height=48, width=64):
    rng = np.random.default_rng(seed)
    xy = np.stack([rng.uniform(10, width - 10, (num_objects, num_points)),
                   rng.uniform(10, height - 10, (num_objects, num_points))], -1)
    return xy.astype(np.float32)


def _frame_call(sampt, points, visible, frame=None):
    frame = frames_with_ids(1)[0] if frame is None else frame
    embedding = sampt.segmenter.embed(frame)
    return sampt.segment_frame(embedding, points, visible, np.random.default_rng(0))


def test_no_visible_point_gives_empty_mask_without_calling_sam():
    seg = Recorder(DiskSegmenter())
    sampt = SamPt(None, seg)
    out = _frame_call(sampt, _points(2), np.zeros((2, 9), bool))
    assert not out.predicted.any() and not out.has_mask.any() and np.isnan(out.iou).all()
    assert seg.calls == []


def test_only_negative_visible_prompts_sam_with_no_point_in_pass_one_by_default():
    seg = Recorder(DiskSegmenter())
    sampt = SamPt(None, seg, iterative_refinement_iterations=3)
    visible = np.zeros((1, 9), bool)
    visible[0, 8] = True  # the negative point only
    out = _frame_call(sampt, _points(1), visible)
    assert out.predicted[0]
    assert seg.calls[0].points.shape == (1, 0, 2) and not seg.calls[0].has_mask_input
    assert seg.calls[1].labels.tolist() == [[0]] and seg.calls[1].has_mask_input
    assert len(seg.calls) == 2  # the disk segmenter gives an empty mask without positives: refinement stops


def test_only_negative_visible_option_gives_empty_mask():
    seg = Recorder(DiskSegmenter())
    sampt = SamPt(None, seg, empty_mask_without_positive_point=True)
    visible = np.zeros((1, 9), bool)
    visible[0, 8] = True
    out = _frame_call(sampt, _points(1), visible)
    assert not out.predicted[0] and seg.calls == []


def test_two_passes_negative_points_and_other_objects_as_negatives():
    seg = Recorder(DiskSegmenter())
    sampt = SamPt(None, seg, iterative_refinement_iterations=2)
    points = _points(2)
    visible = np.ones((2, 9), bool)
    visible[1, 3] = False  # object 1 has one positive point less
    _frame_call(sampt, points, visible)
    # pass 1: positives only, one call per prompt length (8 and 7 visible positives)
    pass1 = [c for c in seg.calls if not c.has_mask_input]
    assert sorted(c.labels.shape[1] for c in pass1) == [7, 8]
    assert all((c.labels == 1).all() for c in pass1)
    # pass 2 for object 0: 8 positives, 1 negative, then object 1's 7 visible positives as negatives
    pass2 = [c for c in seg.calls if c.has_mask_input and c.boxes is None]
    assert len(pass2) == 1 and pass2[0].labels.shape == (2, 16)  # same prompt length -> one batched call
    assert pass2[0].labels[0].tolist() == [1] * 8 + [0] + [0] * 7
    np.testing.assert_allclose(pass2[0].points[0, :9], points[0])
    np.testing.assert_allclose(pass2[0].points[0, 9:], points[1, :8][visible[1, :8]])
    assert pass2[0].labels[1].tolist() == [1] * 7 + [0] + [0] * 8
    np.testing.assert_allclose(pass2[0].points[1, 8:], points[0, :8])
    refinement = [c for c in seg.calls if c.boxes is not None]
    assert sum(c.labels.shape[0] for c in refinement) == 2 * 2


def test_other_objects_negatives_can_be_disabled_and_capped():
    points, visible = _points(3), np.ones((3, 9), bool)
    seg = Recorder(DiskSegmenter())
    _frame_call(SamPt(None, seg, iterative_refinement_iterations=0,
                      add_other_objects_positive_points_as_negative_points=False), points, visible)
    assert {c.labels.shape[1] for c in seg.calls} == {8, 9}
    seg = Recorder(DiskSegmenter())
    _frame_call(SamPt(None, seg, iterative_refinement_iterations=0, max_other_objects_positive_points=3),
                points, visible)
    pass2 = [c for c in seg.calls if c.has_mask_input]
    assert [c.labels.shape for c in pass2] == [(3, 12)]
    for m in range(3):
        others = np.concatenate([points[o, :8] for o in range(3) if o != m])
        extra = pass2[0].points[m, 9:]
        assert all(any(np.allclose(e, o) for o in others) for e in extra)
        assert len({tuple(e) for e in extra}) == 3


@pytest.mark.parametrize("iterations", [0, 1, 4])
def test_refinement_iterations_count_decoder_calls(iterations):
    seg = Recorder(DiskSegmenter(radius=8))
    _frame_call(SamPt(None, seg, iterative_refinement_iterations=iterations), _points(1), np.ones((1, 9), bool))
    assert len(seg.calls) == 2 + iterations
    assert [c.boxes is not None for c in seg.calls] == [False, False] + [True] * iterations


def test_refinement_stops_when_mask_has_fewer_than_two_pixels():
    seg = Recorder(DiskSegmenter(radius=0.3))  # at most one full-resolution pixel
    _frame_call(SamPt(None, seg, iterative_refinement_iterations=12), _points(1), np.ones((1, 9), bool))
    assert len(seg.calls) == 2


def test_refinement_box_is_the_full_resolution_mask_box():
    seg = Recorder(DiskSegmenter(radius=6))
    sampt = SamPt(None, seg, iterative_refinement_iterations=1)
    points = np.full((1, 9, 2), 30.0, np.float32)
    frame = frames_with_ids(1)[0]
    embedding = seg.embed(frame)
    out = sampt.segment_frame(embedding, points, np.ones((1, 9), bool), np.random.default_rng(0))
    pass2_mask = seg.inner.upscale(embedding, seg.inner.predict(embedding, torch.from_numpy(points),
                                                                torch.tensor([[1] * 8 + [0]])).low_res_logits)[0] > 0
    ys, xs = np.nonzero(pass2_mask.numpy())
    np.testing.assert_array_equal(seg.calls[-1].boxes[0], [xs.min(), ys.min(), xs.max(), ys.max()])
    assert out.has_mask[0]


def test_iou_threshold_empties_mask_but_score_counts():
    seg = DiskSegmenter(iou=0.5)
    out = _frame_call(SamPt(None, seg, iterative_refinement_iterations=0), _points(1), np.ones((1, 9), bool))
    assert out.predicted[0] and not out.has_mask[0] and out.iou[0] == pytest.approx(0.5)
    out = _frame_call(SamPt(None, seg, iterative_refinement_iterations=0, sam_iou_threshold=0.4), _points(1),
                      np.ones((1, 9), bool))
    assert out.has_mask[0]


def test_negative_iou_threshold_keeps_every_mask():
    """The authors' threshold takes any number: below every predicted IoU (random weights predict negative
    ones), no mask is emptied; a threshold above 1 empties every mask."""
    seg = DiskSegmenter(iou=-0.3)
    kept = _frame_call(SamPt(None, seg, iterative_refinement_iterations=0, sam_iou_threshold=-1.0), _points(1),
                       np.ones((1, 9), bool))
    assert kept.has_mask[0] and kept.iou[0] == pytest.approx(-0.3)
    emptied = _frame_call(SamPt(None, DiskSegmenter(iou=0.99), iterative_refinement_iterations=0,
                                sam_iou_threshold=1.5), _points(1), np.ones((1, 9), bool))
    assert emptied.predicted[0] and not emptied.has_mask[0]


def test_border_rule_marks_points_near_the_border_invisible():
    sampt = SamPt(ScriptedTracker(), DiskSegmenter())
    tracks = np.array([[0.5, 20], [0.7, 20], [63.5, 20], [63.3, 20], [30, 0.4], [30, 47.6], [30, 20]], np.float32)
    inside = sampt.inside_border(tracks, 48, 64)
    # 1% of 64 = 0.64 px, of 48 = 0.48 px
    assert inside.tolist() == [False, True, False, True, False, False, True]


def test_knob_validation_lists_choices():
    with pytest.raises(ValueError, match="kmedoids"):
        SamPt(None, DiskSegmenter(), positive_point_selection_method="kmeans")
    with pytest.raises(ValueError, match="reinit-on-horizon-and-sync-masks"):
        SamPt(None, DiskSegmenter(), reinit_variant="A")
    with pytest.raises(ValueError, match="must be >= reinit_horizon"):
        SamPt(None, DiskSegmenter(), reinit_point_tracker_horizon=8, reinit_horizon=16)
    with pytest.raises(ValueError, match="odd"):
        SamPt(None, DiskSegmenter(), patch_size=4)
    for bad in (float("nan"), "0.7", True):
        with pytest.raises(ValueError, match="sam_iou_threshold must be a finite number"):
            SamPt(None, DiskSegmenter(), sam_iou_threshold=bad)
    with pytest.raises(ValueError, match="by-prompt-length"):
        SamPt(None, DiskSegmenter(), decoder_batching="loop")


def _square_masks(height=48, width=64):
    a = np.zeros((height, width), bool)
    a[10:24, 8:24] = True
    b = np.zeros((height, width), bool)
    b[26:40, 36:56] = True
    return a, b


def test_segment_video_embeds_each_frame_once_and_late_objects_are_background_before_their_frame():
    seg = Recorder(DiskSegmenter(radius=5))
    sampt = SamPt(ScriptedTracker(), seg, iterative_refinement_iterations=1)
    frames = frames_with_ids(6)
    a, b = _square_masks()
    result = segment_video(sampt, frames, {3: (0, a), 7: (2, b)}, "video")
    assert seg.embeds == 6
    assert result.labels.shape == (6, 48, 64) and result.labels.dtype == np.uint8
    assert set(np.unique(result.labels)) <= {0, 3, 7}
    assert not (result.labels[:2] == 7).any() and (result.labels[2:] == 7).any()
    np.testing.assert_array_equal(result.labels[0] == 3, a)  # the given mask on the first frame
    np.testing.assert_array_equal(result.labels[2] == 7, b & (result.labels[2] != 3))
    # object 7 is not prompted before frame 2, yet its (backward-tracked) positives are object 3's negatives
    assert [c.labels.shape[0] for c in seg.calls[:3]] == [1, 1, 1]
    assert seg.calls[1].labels.shape[1] == 9 + 8
    assert np.isnan(result.iou[:2, 1]).all() and not np.isnan(result.iou[2:, 1]).any()
    assert set(result.scores) == {3, 7} and result.scores[3] == pytest.approx(0.9)
    assert result.tracks.shape == (6, 18, 2) and result.visible.shape == (6, 18)
    assert result.point_objects.tolist() == [3] * 9 + [7] * 9
    assert result.point_positive.tolist() == ([True] * 8 + [False]) * 2


def test_frames_before_every_object_are_not_embedded():
    seg = Recorder(DiskSegmenter(radius=5))
    a, _ = _square_masks()
    result = segment_video(SamPt(ScriptedTracker(), seg, iterative_refinement_iterations=0), 
        frames_with_ids(5), {1: (3, a)}, "v")
    assert seg.embeds == 2 and not result.labels[:3].any()


def test_merge_is_softmax_against_zero_background_then_argmax():
    seg = DiskSegmenter()
    sampt = SamPt(None, seg)
    frame = frames_with_ids(1)[0]
    embedding = seg.embed(frame)
    from trackers.sampt.prompting import FramePrediction

    low = torch.full((2, 1, 256, 256), -5.0)
    low[0, 0, :100, :128] = 2.0
    low[1, 0, :, 64:] = 3.0  # object 2 wins where both are positive
    pred = FramePrediction(low, np.array([True, True]), np.array([True, True]), np.array([0.9, 0.9], np.float32))
    labels = sampt.merge_frame(embedding, pred, [4, 9], np.array([0, 0]), [None, None], t=1)
    full = seg.upscale(embedding, low).numpy()
    expected = np.where(full.max(0) > 0, np.array([4, 9])[full.argmax(0)], 0)
    np.testing.assert_array_equal(labels, expected)
    resized = sampt.merge_frame(embedding, pred, [4, 9], np.array([0, 0]), [None, None], t=1, output_size=(24, 32))
    assert resized.shape == (24, 32) and set(np.unique(resized)) == {0, 4, 9}
    wide = sampt.merge_frame(embedding, pred, [4, 300], np.array([0, 0]), [None, None], t=1)  # BDD100K ids > 255
    np.testing.assert_array_equal(wide, np.where(labels == 9, 300, labels.astype(np.int64)))


def test_probabilities_are_the_merges_softmax_with_absent_objects_at_zero():
    """`frame_probabilities` (save_scores): background first, objects in order; an object without a mask or before
    its first frame is 0; its `label_map` is `merge_frame`."""
    seg = DiskSegmenter()
    sampt = SamPt(None, seg)
    embedding = seg.embed(frames_with_ids(1)[0])
    from trackers.sampt.prompting import FramePrediction

    low = torch.full((3, 1, 256, 256), -5.0)
    low[0, 0, :100, :128] = 2.0
    low[2, 0, :, 64:] = 3.0
    pred = FramePrediction(low, np.array([True, False, True]), np.array([True, False, True]),
                           np.full(3, 0.9, np.float32))
    for first_frames in (np.array([0, 0, 0]), np.array([0, 0, 2])):
        probabilities = sampt.frame_probabilities(embedding, pred, first_frames, None, t=1)
        assert probabilities.shape == (4,) + embedding.original_size
        torch.testing.assert_close(probabilities.sum(0), torch.ones(embedding.original_size))
        assert not probabilities[2].any() and probabilities[3].any() == (first_frames[2] <= 1)
        full = torch.cat([torch.zeros((1,) + embedding.original_size), seg.upscale(embedding, low[[0, 2]])])
        if first_frames[2] <= 1:
            torch.testing.assert_close(probabilities[[0, 1, 3]], torch.softmax(full, 0))
        np.testing.assert_array_equal(SamPt.label_map(probabilities, [4, 7, 9]),
                                      sampt.merge_frame(embedding, pred, [4, 7, 9], first_frames, None, t=1))


def test_same_seed_same_result_and_seed_changes_query_points():
    frames = frames_with_ids(3)
    a, b = _square_masks()
    runs = [segment_video(SamPt(ScriptedTracker(), DiskSegmenter(), seed=s, iterative_refinement_iterations=1), 
        frames, {1: (0, a), 2: (0, b)}, "clip") for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0].labels, runs[1].labels)
    np.testing.assert_array_equal(runs[0].query_points, runs[1].query_points)
    assert not np.array_equal(runs[0].query_points, runs[2].query_points)


def test_segment_video_rejects_bad_inputs():
    sampt = SamPt(ScriptedTracker(), DiskSegmenter())
    frames = frames_with_ids(3)
    a, _ = _square_masks()
    with pytest.raises(ValueError, match="first frame"):
        segment_video(sampt, frames, {1: (5, a)}, "v")
    with pytest.raises(ValueError, match="mask is"):
        segment_video(sampt, frames, {1: (0, a[:10])}, "v")
    with pytest.raises(ValueError, match="1..255"):
        segment_video(sampt, frames, {0: (0, a)}, "v")
    with pytest.raises(ValueError, match="no object"):
        segment_video(sampt, frames, {}, "v")


# ------------------------------------------------------------------------------------------ tiny SAM
@pytest.fixture(scope="module")
def tiny_sam():
    return tiny_sam_segmenter()


def _random_tracks(num_frames=2, num_objects=3, num_points=9, height=48, width=64, seed=3):
    rng = np.random.default_rng(seed)
    tracks = np.stack([rng.uniform(2, width - 2, (num_frames, num_objects, num_points)),
                       rng.uniform(2, height - 2, (num_frames, num_objects, num_points))], -1).astype(np.float32)
    visible = rng.random((num_frames, num_objects, num_points)) > 0.3
    visible[1, 0, :8] = False
    return tracks, visible


def test_segment_tracks_equals_the_straightforward_reference_on_tiny_sam(tiny_sam):
    frames = frames_with_ids(2)
    tracks, visible = _random_tracks()
    seg = Unbatched(tiny_sam)
    masks, iou = segment_tracks(SamPt(None, seg, iterative_refinement_iterations=3), frames, tracks, visible, 8)
    ref_masks, ref_iou = reference_segment_tracks(tiny_sam, frames, tracks, visible, 8, refinement_iterations=3)
    assert masks.any()
    np.testing.assert_array_equal(masks, ref_masks)
    np.testing.assert_array_equal(iou, ref_iou)
    batched, _ = segment_tracks(SamPt(None, tiny_sam, iterative_refinement_iterations=3), frames, tracks, visible, 8)
    inter = (batched & ref_masks).sum()
    union = (batched | ref_masks).sum()
    assert inter / union > 0.999


def test_segment_tracks_is_deterministic_and_checks_shapes(tiny_sam):
    frames = frames_with_ids(2)
    tracks, visible = _random_tracks(num_objects=2)
    sampt = SamPt(None, tiny_sam, iterative_refinement_iterations=1, max_other_objects_positive_points=2, seed=1)
    first = segment_tracks(sampt, frames, tracks, visible, 8)
    second = segment_tracks(sampt, frames, tracks, visible, 8)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    with pytest.raises(ValueError, match=r"visible \(2, 1, 9\) must be \(T=2, M=2, P, 2\) / \(T, M, P\)"):
        segment_tracks(sampt, frames, tracks, visible[:, :1], 8)
    with pytest.raises(ValueError, match=r"num_positive=10 must be an integer in \[0, 9\]"):
        segment_tracks(sampt, frames, tracks, visible, 10)


def test_first_argmax_equals_torch_argmax_with_ties():
    from trackers.sampt.model import _first_argmax

    values = torch.tensor([[[0.2, 0.5, 0.1]], [[0.2, 0.1, 0.7]], [[0.6, 0.5, 0.7]]])
    assert _first_argmax(values).tolist() == values.argmax(dim=0).tolist() == [[2, 0, 1]]
