"""The simulated interactive correction protocol: annotator choices, point updates, budgets, CLI."""
import json

import numpy as np
import pytest
import torch

from datasets.synthetic import generate
from experiments.apps import interactive
from experiments.apps.interactive import (Correction, InteractiveSettings, PointSet, apply_correction, choose_correction,
                                     dbscan_labels, error_region_point, simulate_object)
from trackers.point.opencv import LucasKanadeTracker
from trackers.sampt.model import SamPt
from trackers.segmenters.grabcut import GrabCutSegmenter


def clicks(seed: int = 0) -> torch.Generator:
    """The annotator's generator (`error_region_point`'s random subsamples)."""
    return torch.Generator().manual_seed(seed)


def square(shape, y0, x0, size):
    mask = np.zeros(shape, bool)
    mask[y0:y0 + size, x0:x0 + size] = True
    return mask


# ----------------------------------------------------------------------------------------- annotator
def test_removes_a_wrong_negative_point_first():
    gt = square((50, 50), 10, 10, 20)
    pred = square((50, 50), 10, 10, 15)
    points = np.array([[40, 40], [15, 15], [45, 5], [20, 20]], np.float32)  # pos off, neg on, pos off, neg on
    labels = np.array([1, 0, 1, 0])
    visible = np.array([True, True, True, True])
    choice = choose_correction(pred, gt, points, visible, labels, clicks())
    assert (choice.action, choice.kind, choice.point) == ("remove", "negative", 1)
    visible[1] = False  # an invisible point is not judged
    choice = choose_correction(pred, gt, points, visible, labels, clicks())
    assert (choice.action, choice.kind, choice.point) == ("remove", "negative", 3)
    visible[3] = False
    choice = choose_correction(pred, gt, points, visible, labels, clicks())
    assert (choice.action, choice.kind, choice.point) == ("remove", "positive", 0)


def test_adds_a_positive_point_in_the_largest_false_negative_region():
    gt = square((100, 100), 10, 10, 30) | square((100, 100), 70, 70, 8)
    pred = np.zeros((100, 100), bool)
    pred[10:40, 10:14] = True  # a sliver of the big square is found
    points = np.array([[12, 20], [90, 5]], np.float32)  # a correct positive and a correct negative
    choice = choose_correction(pred, gt, points, np.ones(2, bool), np.array([1, 0]), clicks())
    assert (choice.action, choice.kind, choice.point) == ("add", "positive", 2)
    x, y = choice.xy
    assert 14 <= x < 40 and 10 <= y < 40  # inside the big false-negative region, not the small square


def test_adds_a_negative_point_when_false_positives_dominate():
    gt = square((60, 60), 5, 5, 10)
    pred = gt | square((60, 60), 30, 30, 20)
    choice = choose_correction(pred, gt, np.array([[8, 8]], np.float32), np.ones(1, bool), np.array([1]), clicks())
    assert (choice.action, choice.kind, choice.point) == ("add", "negative", 1)
    x, y = choice.xy
    assert 30 <= x < 50 and 30 <= y < 50
    with pytest.raises(ValueError, match="nothing to correct"):
        choose_correction(gt, gt, np.zeros((0, 2)), np.zeros(0, bool), np.zeros(0), clicks())


def test_error_region_point_picks_the_largest_cluster():
    mask = square((120, 120), 5, 5, 12) | square((120, 120), 60, 50, 40)
    for seed in range(3):
        x, y = error_region_point(mask, clicks(seed))
        assert 50 <= x < 90 and 60 <= y < 100
    tiny = square((120, 120), 3, 3, 2)  # no DBSCAN cluster (fewer than 10 neighbours): the mask itself
    x, y = error_region_point(tiny, clicks())
    assert tiny[int(y), int(x)]


def test_dbscan_labels():
    rng = np.random.default_rng(0)
    group_a = rng.normal(0, 0.3, (30, 2))
    group_b = rng.normal(10, 0.3, (20, 2))
    lonely = np.array([[5.0, 5.0]])
    edge = np.array([[0.0, 1.9]])  # within eps of group a's core points but with few neighbours
    labels = dbscan_labels(np.concatenate([group_a, group_b, lonely, edge]), eps=1.0, min_samples=5)
    assert len(set(labels[:30])) == 1 and len(set(labels[30:50])) == 1 and labels[0] != labels[30]
    assert labels[50] == -1
    assert labels[51] in (labels[0], -1)
    assert (dbscan_labels(np.zeros((0, 2)), 1.0, 3) == np.zeros(0)).all()


# ----------------------------------------------------------------------------------------- points
@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    info = generate(tmp_path_factory.mktemp("interactive") / "d17", "davis17", num_videos=1, num_frames=6,
                    height=96, width=128, num_objects=1)
    from datasets.registry import build_reader

    reader = build_reader("davis17", info.root, info.split)
    video = reader.video(reader.sequences[0])
    frames = np.stack(list(video.iter_frames()))
    gt = np.stack([video.annotation(t) == 1 for t in range(video.num_frames)])
    return info, frames, gt


def make_sampt(**knobs):
    # the knobs of configs/model/sampt_interactive.yaml
    return SamPt(LucasKanadeTracker(), GrabCutSegmenter(), positive_points_per_mask=1, negative_points_per_mask=0,
                 iterative_refinement_iterations=0, sam_iou_threshold=0.0,
                 add_other_objects_positive_points_as_negative_points=False, empty_mask_without_positive_point=True,
                 **knobs)


def test_apply_correction(small_video):
    _, frames, gt = small_video
    sampt = make_sampt()
    ys, xs = np.nonzero(gt[0])
    tracks, visible = sampt.track_objects(frames, np.array([[[0, xs.mean(), ys.mean()]]], np.float32))
    points = PointSet(tracks[:, 0], visible[:, 0], np.array([1]))
    removed = apply_correction(sampt, frames, points, 3, Correction("remove", "positive", 0))
    assert removed.visible[:3, 0].tolist() == points.visible[:3, 0].tolist() and not removed.visible[3:, 0].any()
    assert points.visible[3:, 0].any()  # the input is not modified
    ys, xs = np.nonzero(gt[2])
    xy = np.array([xs[0] + 2, ys[0] + 2], np.float32)
    added = apply_correction(sampt, frames, points, 2, Correction("add", "negative", 1, xy))
    assert added.labels.tolist() == [1, 0] and added.tracks.shape == (6, 2, 2)
    assert not added.visible[:2, 1].any() and added.visible[2, 1]
    np.testing.assert_array_equal(added.tracks[2, 1], xy)
    assert added.visible[3:, 1].any()  # tracked onward
    single = apply_correction(sampt, frames, points, 2, Correction("add", "positive", 1, xy), True)
    assert single.visible[:, 1].tolist() == [False, False, True, False, False, False]


# ----------------------------------------------------------------------------------------- protocol
def visits(history):
    """Consecutive interactions on the same frame within one threshold pass."""
    runs, previous = [], None
    for entry in history:
        key = (entry["threshold"], entry["frame"])
        if key == previous:
            runs[-1] += 1
        else:
            runs.append(1)
        previous = key
    return runs


def test_online_protocol_respects_the_budgets(small_video):
    _, frames, gt = small_video
    sampt = make_sampt()
    ys, xs = np.nonzero(gt[0])
    query = np.array([[0, xs[len(xs) // 2], ys[len(ys) // 2]]], np.float32)
    settings = InteractiveSettings(interactions_max=6, interactions_max_per_frame=2, online=True,
                                   online_iou_threshold=0.99)
    result = simulate_object(sampt, frames, gt, query, settings, np.random.default_rng(0), clicks())
    assert len(result.history) == 5  # 6 minus the query point: a 0.99 threshold is never reached first
    assert result.interactions_used == 6
    assert max(visits(result.history)) <= 2
    assert [e["interactions_left"] for e in result.history] == [5, 4, 3, 2, 1]
    assert result.frame_ious.shape == (6,) and result.final_iou == pytest.approx(result.frame_ious.mean())
    for entry in result.history:
        if entry["action"] == "add":
            assert result.points.visible.shape[1] > entry["point"]
    # the overall IoU after one interaction is the next one's before
    for before, after in zip(result.history[1:], result.history[:-1]):
        assert before["overall_iou_before"] == after["overall_iou_after"]


def test_offline_sweep_restarts_per_threshold(small_video):
    _, frames, gt = small_video
    sampt = make_sampt()
    ys, xs = np.nonzero(gt[0])
    query = np.array([[0, xs[len(xs) // 2], ys[len(ys) // 2]]], np.float32)
    settings = InteractiveSettings(interactions_max=40, interactions_max_per_frame=2,
                                   offline_iou_thresholds=(0.1, 0.5, 0.97))
    result = simulate_object(sampt, frames, gt, query, settings, np.random.default_rng(0), clicks())
    thresholds = [entry["threshold"] for entry in result.history]
    assert thresholds == sorted(thresholds)
    assert [p["threshold"] for p in result.passes] == [0.1, 0.5, 0.97][:len(result.passes)]
    assert len(result.passes) >= 2
    for finished in result.passes:  # a completed pass visits every frame
        assert len(finished["frame_ious"]) == 6
    assert result.final_iou >= max(p["mean_iou"] for p in result.passes) - 1e-9
    assert result.interactions_used <= 40


def test_no_tracking_baseline(small_video):
    _, frames, gt = small_video
    sampt = make_sampt()
    settings = InteractiveSettings(interactions_max=300, interactions_max_per_frame=2, online=True,
                                   disable_point_tracking=True)
    result = simulate_object(sampt, frames, gt, np.zeros((1, 3)), settings, np.random.default_rng(0), clicks())
    assert result.interactions_used <= 2 * 6
    assert max(visits(result.history)) <= 2
    assert {e["threshold"] for e in result.history} == {1.0}
    assert all(e["action"] == "add" for e in result.history)
    added = result.points.visible[:, 1:]
    assert (added.sum(axis=0) == 1).all()  # every point exists on its own frame only
    assert all(e["overall_iou_after"] == result.history[0]["overall_iou_before"] for e in result.history)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="interactions_max_per_frame must be an integer >= 1"):
        InteractiveSettings(interactions_max_per_frame=0)
    with pytest.raises(ValueError, match="online_iou_threshold"):
        InteractiveSettings(online_iou_threshold=1.5)


def test_command_line_writes_json_and_plot(small_video, tmp_path, capsys):
    info, _, _ = small_video
    out = tmp_path / "out"
    assert interactive.main(["--dataset", "davis17", "--root", str(info.root), "--split", info.split,
                             "--out", str(out), "--online", "--threshold", "0.8", "--interactions-max", "8",
                             "--mp4"]) == 0
    video_dir = next(out.iterdir())
    data = json.loads((video_dir / "interactive.json").read_text())
    assert data["settings"]["online"] and data["settings"]["interactions_max"] == 8
    curve = data["objects"][0]["curve"]
    assert curve["interactions"] == list(range(2, 2 + len(curve["after"])))
    assert len(data["objects"][0]["history"]) == len(curve["after"])
    assert (video_dir / "iou_vs_interactions.png").stat().st_size > 1000
    assert (video_dir / "object_1.mp4").stat().st_size > 0
    assert "mean final IoU" in capsys.readouterr().out


def test_command_line_needs_dense_ground_truth(tmp_path, capsys):
    info = generate(tmp_path / "folder", "folder", num_videos=1, num_frames=4, height=48, width=64,
                    num_objects=1)
    assert interactive.main(["--dataset", "folder", "--root", str(info.root), "--split", info.split,
                             "--out", str(tmp_path / "out")]) == 2
    assert "needs ground truth on every frame" in capsys.readouterr().err


def test_prompts_keep_the_points_own_order():
    """The protocol's points are prompted in their order (added points mix the labels), as the authors'."""
    from trackers.sampt.engine import VideoObjects
    from trackers.sampt.prompting import PromptSettings, build_prompts

    points = np.arange(8, dtype=np.float32).reshape(1, 4, 2)
    visible = np.array([[True, True, False, True]])
    settings = PromptSettings(num_positive=2, point_labels=(1, 0, 0, 1), other_objects_as_negatives=False)
    (coords, labels), = build_prompts(points, visible, np.ones(1, bool), settings, np.random.default_rng(0))
    np.testing.assert_array_equal(coords, points[0, [0, 1, 3]])
    assert labels.tolist() == [1, 0, 1]
    tracks, shown = np.zeros((2, 1, 4, 2), np.float32), np.ones((2, 1, 4), bool)
    with pytest.raises(ValueError, match="point_labels"):
        VideoObjects([1], np.zeros(1, np.int64), tracks=tracks, visible=shown, num_positive=1,
                     point_labels=np.array([1, 0, 0, 1])).check(2, (8, 8), "v")
