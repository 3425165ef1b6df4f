"""Class-agnostic VIS AP/AR (evaluation.vis, evaluation.vis_metrics): hand-computed cases, IO, CLI, errors."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from types import SimpleNamespace

from evaluation.vis import (VisInputError, default_output_dir, encode_mask, evaluate_vis, load_ground_truth,
                            load_results, main, read_precision_recall_csv, score_vis)
from evaluation.vis_metrics import STAT_NAMES, match_video, spatiotemporal_ious, track_area
from reference.vis import pairwise_ious_reference

# pycocotools' decode on numpy 2
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def box(height: int, width: int, y: int, x: int, h: int, w: int) -> np.ndarray:
    """(height, width) bool mask with a filled h x w box at (y, x)."""
    mask = np.zeros((height, width), bool)
    mask[y:y + h, x:x + w] = True
    return mask


def make_gt(videos: dict[int, tuple[int, int, int]], tracks: list[dict]) -> dict:
    """GT json: ``videos`` {id: (height, width, length)}; ``tracks`` dicts with ``video_id``, ``masks``
    (per frame mask or None) and optional ``iscrowd``, ``areas`` (default: mask areas), ``id``."""
    annotations = []
    for n, track in enumerate(tracks):
        masks = track["masks"]
        areas = track.get("areas", [None if m is None else int(m.sum()) for m in masks])
        annotations.append({
            "id": track.get("id", n + 1), "video_id": track["video_id"], "category_id": track.get("category_id", 1),
            "iscrowd": track.get("iscrowd", 0), "areas": areas, "bboxes": [None] * len(masks),
            "segmentations": [None if m is None else encode_mask(m) for m in masks],
        })
    return {
        "info": {},
        "videos": [{"id": v, "height": h, "width": w, "length": t,
                    "file_names": [f"v{v}/{i}.png" for i in range(t)]} for v, (h, w, t) in videos.items()],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "object"}],
    }


def track_entry(video_id: int, score: float, masks: list, category_id: int = 1) -> dict:
    """One results-json track built by hand (an all-False mask stays an RLE, as a foreign results file may have
    it); the runs' files are written by `experiments.tools.submission.write_uvo_results`."""
    return {"video_id": video_id, "score": score, "category_id": category_id,
            "segmentations": [None if m is None else encode_mask(m) for m in masks]}


def write_tracks(path, tracks: list[dict]):
    path.write_text(json.dumps(tracks))
    return path


def check(metrics: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-12), key


# ------------------------------------------------------------------------------------------ hand cases
def test_perfect_detection_scores_one():
    small, medium = box(300, 300, 0, 0, 20, 30), box(300, 300, 50, 50, 150, 150)
    gt = make_gt({1: (300, 300, 3), 2: (300, 300, 2)}, [
        {"video_id": 1, "masks": [small, small, None]},
        {"video_id": 1, "masks": [medium, None, medium]},
        {"video_id": 2, "masks": [small, small]},
    ])
    results = [track_entry(a["video_id"], 0.9, [None if s is None else mask_utils.decode(
        {"size": s["size"], "counts": s["counts"].encode()}) for s in a["segmentations"]])
        for a in gt["annotations"]]
    metrics = evaluate_vis(gt, results)  # AR1: video 1 has two GT tracks, one detection per video counts
    check(metrics, {"AP": 1, "AP50": 1, "AP75": 1, "APs": 1, "APm": 1, "APl": -1,
                    "AR1": 2 / 3, "AR10": 1, "AR100": 1, "ARs": 1, "ARm": 1, "ARl": -1})
    assert list(metrics) == list(STAT_NAMES)


@pytest.mark.parametrize("shift, iou, matched_thresholds", [(1, 90 / 110, 7), (2, 80 / 120, 4), (5, 50 / 150, 0)])
def test_shifted_mask_is_matched_below_its_iou(shift, iou, matched_thresholds):
    gt_mask, det_mask = box(20, 20, 5, 5, 10, 10), box(20, 20, 5, 5 + shift, 10, 10)
    gt = make_gt({1: (20, 20, 2)}, [{"video_id": 1, "masks": [gt_mask, gt_mask]}])
    results = [track_entry(1, 0.7, [det_mask, det_mask])]
    videos = load_ground_truth(gt)
    tracks, _ = load_results(results, videos)[1]
    assert spatiotemporal_ious(tracks, videos[1].segmentations, 2)[0, 0] == pytest.approx(iou, abs=1e-15)
    fraction = matched_thresholds / 10
    check(evaluate_vis(gt, results), {"AP": fraction, "AP50": float(matched_thresholds > 0),
                                      "AP75": float(iou >= 0.75), "AR100": fraction, "AR1": fraction})


def test_missing_frames_spatiotemporal_iou():
    # frames: 0 GT only, 1-2 both (GT box 10x10, det shifted by 2 -> I 80, U 120), 3 det only, 4 neither,
    # 5 det present with an empty mask (area 0) and GT absent
    g, d, empty = box(20, 20, 5, 5, 10, 10), box(20, 20, 5, 7, 10, 10), np.zeros((20, 20), bool)
    gt_masks = [g, g, g, None, None, None]
    det_masks = [None, d, d, d, None, empty]
    gt = make_gt({1: (20, 20, 6)}, [{"video_id": 1, "masks": gt_masks}])
    results = [track_entry(1, 1.0, det_masks)]
    videos = load_ground_truth(gt)
    tracks, _ = load_results(results, videos)[1]
    expected = (80 + 80) / (100 + 120 + 120 + 100)
    assert spatiotemporal_ious(tracks, videos[1].segmentations, 6)[0, 0] == pytest.approx(expected, abs=1e-15)
    assert pairwise_ious_reference(tracks, videos[1].segmentations)[0, 0] == pytest.approx(expected, abs=1e-15)
    check(evaluate_vis(gt, results), {"AP": 0, "AR100": 0})  # 0.364 is below every threshold


def test_union_zero_gives_iou_zero():
    empty = np.zeros((8, 8), bool)
    gt = make_gt({1: (8, 8, 2)}, [{"video_id": 1, "masks": [empty, None], "areas": [None, None]}])
    videos = load_ground_truth(gt)
    tracks, _ = load_results([track_entry(1, 0.5, [empty, None])], videos)[1]
    assert spatiotemporal_ious(tracks, videos[1].segmentations, 2)[0, 0] == 0.0


def test_vectorised_ious_equal_pair_by_pair_loop():
    rng = np.random.default_rng(3)
    frames = 5

    def random_track():
        return [None if rng.random() < 0.25 else encode_mask(box(30, 40, *rng.integers(0, 20, 2), *rng.integers(0, 20, 2)))
                for _ in range(frames)]

    gt = make_gt({1: (30, 40, frames)}, [])
    videos = load_ground_truth(gt)
    det_tracks, _ = load_results([{"video_id": 1, "score": 0.1, "segmentations": random_track()} for _ in range(12)],
                                 videos)[1]
    gt_tracks, _ = load_results([{"video_id": 1, "score": 0.1, "segmentations": random_track()} for _ in range(7)],
                                videos)[1]
    fast = spatiotemporal_ious(det_tracks, gt_tracks, frames)
    assert fast.shape == (12, 7) and fast.max() > 0
    np.testing.assert_array_equal(fast, pairwise_ious_reference(det_tracks, gt_tracks))


def test_empty_results_score_zero_or_minus_one():
    small = box(40, 40, 0, 0, 10, 10)
    gt = make_gt({1: (40, 40, 2), 2: (40, 40, 1)}, [{"video_id": 1, "masks": [small, small]}])
    metrics = evaluate_vis(gt, [])
    check(metrics, {**{k: 0 for k in ("AP", "AP50", "AP75", "APs", "AR1", "AR10", "AR100", "ARs")},
                    "APm": -1, "APl": -1, "ARm": -1, "ARl": -1})
    no_gt = make_gt({1: (40, 40, 2)}, [])
    assert set(evaluate_vis(no_gt, []).values()) == {-1.0}


def test_area_ranges_at_the_boundaries_use_the_json_areas():
    mask = box(16, 16, 0, 0, 4, 4)

    def scores(area):
        gt = make_gt({1: (16, 16, 2)}, [{"video_id": 1, "masks": [mask, mask], "areas": [area, None]}])
        return evaluate_vis(gt, [track_entry(1, 0.5, [mask, mask])])

    check(scores(128 ** 2), {"APs": 1, "APm": 1, "APl": -1, "ARs": 1, "ARm": 1, "ARl": -1})  # inclusive both
    check(scores(128 ** 2 + 1), {"APs": -1, "APm": 1, "APl": -1})
    check(scores(256 ** 2), {"APs": -1, "APm": 1, "APl": 1, "ARl": 1})
    check(scores(256 ** 2 + 0.5), {"APm": -1, "APl": 1})
    assert track_area([None, 0, 10, 20]) == 15.0 and track_area([None, 0]) == 0.0


def test_unmatched_detection_outside_the_area_range_is_ignored():
    small, large = box(300, 300, 0, 0, 10, 10), box(300, 300, 30, 30, 260, 260)
    gt = make_gt({1: (300, 300, 1)}, [{"video_id": 1, "masks": [small]}])
    results = [track_entry(1, 0.9, [large]), track_entry(1, 0.5, [small])]
    # all: [FP, TP] -> precision 0.5 at every recall level; small: the large FP is ignored
    check(evaluate_vis(gt, results), {"AP": 0.5, "APs": 1, "APm": -1, "APl": -1, "AR100": 1, "ARs": 1})


def test_crowd_ground_truth_is_ignored():
    a, b = box(40, 40, 0, 0, 10, 10), box(40, 40, 20, 20, 10, 10)
    gt = make_gt({1: (40, 40, 1)}, [{"video_id": 1, "masks": [a], "iscrowd": 1}, {"video_id": 1, "masks": [b]}])
    # two detections on the crowd GT (both matched to it, hence ignored) rank above the real one
    results = [track_entry(1, 0.9, [a]), track_entry(1, 0.8, [a]), track_entry(1, 0.5, [b])]
    check(evaluate_vis(gt, results), {"AP": 1, "AR1": 0, "AR10": 1, "AR100": 1})
    gt["annotations"][0]["iscrowd"] = 0  # now the second detection on it is a false positive
    check(evaluate_vis(gt, results), {"AP": (51 + 50 * 2 / 3) / 101, "AR100": 1})
    only_crowd = make_gt({1: (40, 40, 1)}, [{"video_id": 1, "masks": [a], "iscrowd": 1}])
    assert set(evaluate_vis(only_crowd, results[:1]).values()) == {-1.0}


def test_max_dets_cut_and_ranking():
    target = box(64, 64, 0, 0, 8, 8)
    gt = make_gt({1: (64, 64, 1)}, [{"video_id": 1, "masks": [target]}])
    miss = [track_entry(1, 0.9, [box(64, 64, 40, 40, 8, 8)]) for _ in range(100)]
    hit = track_entry(1, 0.1, [target])
    check(evaluate_vis(gt, miss + [hit]), {"AP": 0, "AR100": 0, "AR10": 0})  # 101st is cut before IoUs
    ranked = [track_entry(1, 0.9 - 0.01 * i, [box(64, 64, 40, 40, 8, 8)]) for i in range(4)] + [hit]
    ranked[-1]["score"] = 0.5
    check(evaluate_vis(gt, ranked), {"AR1": 0, "AR10": 1, "AR100": 1, "AP": 0.2})


def test_equal_scores_keep_file_order():
    target = box(32, 32, 0, 0, 8, 8)
    gt = make_gt({1: (32, 32, 1)}, [{"video_id": 1, "masks": [target]}])
    fp, tp = track_entry(1, 0.5, [box(32, 32, 20, 20, 8, 8)]), track_entry(1, 0.5, [target])
    check(evaluate_vis(gt, [fp, tp]), {"AP": 0.5, "AR100": 1, "AR1": 0})
    check(evaluate_vis(gt, [tp, fp]), {"AP": 1, "AR100": 1, "AR1": 1})


def test_matching_prefers_free_regular_gt_and_the_last_of_equal_ious():
    thresholds = np.array([0.5])
    no_ignore, crowd = np.zeros((1, 2), bool), np.zeros(2, bool)
    assert match_video(np.array([[0.6, 0.6]]), no_ignore, crowd, thresholds).tolist() == [[1]]
    ignore_first = np.array([[True, False]])
    assert match_video(np.array([[0.9, 0.6]]), ignore_first, crowd, thresholds).tolist() == [[1]]
    assert match_video(np.array([[0.9, 0.4]]), ignore_first, crowd, thresholds).tolist() == [[0]]
    two = np.array([[0.8, 0.7], [0.8, 0.7]])
    assert match_video(two, no_ignore, crowd, thresholds).tolist() == [[0, 1]]
    assert match_video(two, no_ignore, np.array([True, False]), thresholds).tolist() == [[0, 0]]
    assert match_video(two, no_ignore, crowd, np.array([0.75])).tolist() == [[0, -1]]


# --------------------------------------------------------------------------------------------- json IO
def test_results_json_round_trip_through_pycocotools(tmp_path):
    """The runs' writer (`write_uvo_results`) -> pycocotools decodes the masks -> the scorer reads the file."""
    from experiments.run.outputs import UvoTrack
    from experiments.tools.submission import write_uvo_results

    rng = np.random.default_rng(0)
    masks = [rng.random((12, 17)) < 0.4, None, np.zeros((12, 17), bool)]
    video = SimpleNamespace(name="v4", video_id=4, num_frames=3, size=(12, 17), frame_names=["0", "1", "2"])
    path = write_uvo_results([video], [UvoTrack("v4", 0.25, masks)], tmp_path / "res.json")
    data = json.loads(path.read_text())
    assert isinstance(data[0]["segmentations"][0]["counts"], str) and data[0]["segmentations"][1] is None
    assert data[0]["segmentations"][2] is None  # an all-False mask is written as absent
    for mask, rle in zip(masks, data[0]["segmentations"]):
        if rle is not None:
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
            np.testing.assert_array_equal(decoded.astype(bool), mask)
            assert int(mask_utils.area({"size": rle["size"], "counts": rle["counts"]})) == mask.sum()
    gt = make_gt({4: (12, 17, 3)}, [{"video_id": 4, "masks": masks}])
    tracks, scores = load_results(path, load_ground_truth(gt))[4]
    assert scores == [0.25] and tracks[0][1] is None and isinstance(tracks[0][0]["counts"], bytes)
    assert evaluate_vis(gt, path) == evaluate_vis(gt, data)
    check(evaluate_vis(gt, path), {"AP": 1, "AR100": 1})


def test_ground_truth_polygons_and_uncompressed_rle_are_read():
    mask = box(10, 12, 2, 3, 4, 5)
    gt = make_gt({1: (10, 12, 2)}, [{"video_id": 1, "masks": [mask, mask]}])
    flat = mask.T.reshape(-1).astype(int)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, flat, -1])))
    gt["annotations"][0]["segmentations"][0] = {"size": [10, 12], "counts": runs.tolist()}  # starts with 0s
    gt["annotations"][0]["segmentations"][1] = [[3, 2, 8, 2, 8, 6, 3, 6]]  # polygon
    track = load_ground_truth(gt)[1].segmentations[0]
    np.testing.assert_array_equal(mask_utils.decode(track[0]).astype(bool), mask)
    assert mask_utils.area(track[1]) > 0


# -------------------------------------------------------------------------------------------------- CLI
def test_cli_end_to_end(tmp_path, capsys):
    a, b = box(24, 24, 0, 0, 6, 6), box(24, 24, 10, 10, 8, 8)
    gt = make_gt({7: (24, 24, 2)}, [{"video_id": 7, "masks": [a, a]}, {"video_id": 7, "masks": [None, b]}])
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    results = write_tracks(tmp_path / "results.json", [track_entry(7, 0.8, [a, a]), track_entry(7, 0.3, [b, None])])
    out = tmp_path / "scores"
    assert main(["--gt", str(tmp_path / "gt.json"), "--results", str(results), "--output", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["task"] == "vis" and record["schema_version"] == 2
    written = record["metrics"]
    assert list(written["global"]) == list(STAT_NAMES)
    assert written["global"] == evaluate_vis(gt, json.loads(results.read_text()))
    assert written["num_videos"] == 1 and written["num_gt_tracks"] == 2 and written["num_detections"] == 2
    rows = list(csv.reader((out / "results.csv").read_text().splitlines()))
    assert rows[0] == list(STAT_NAMES) and [float(v) for v in rows[1]] == list(written["global"].values())
    recall, curves = read_precision_recall_csv(out / "precision_recall.csv")
    precision = score_vis(gt, json.loads(results.read_text())).precision
    assert np.array_equal(recall, np.linspace(0.0, 1.0, 101)) and len(curves) == 10
    assert np.array_equal(np.stack(list(curves.values())), precision[:, :, 0, -1])  # stored bit-equal
    printed = capsys.readouterr().out
    assert "AR100" in printed and "results.csv" in printed and "precision_recall.csv" in printed
    assert main(["--gt", str(tmp_path / "gt.json"), "--results", str(results)]) == 0
    assert (default_output_dir(results) / "results.json").is_file() and default_output_dir(results) != tmp_path


def test_cli_reports_bad_input(tmp_path, capsys):
    gt = make_gt({1: (8, 8, 2)}, [])
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps([{"video_id": 9, "score": 1, "segmentations": [None, None]}]))
    assert main(["--gt", str(tmp_path / "gt.json"), "--results", str(tmp_path / "res.json")]) == 2
    err = capsys.readouterr().err
    assert "track 0" in err and "unknown video_id 9" in err


# ----------------------------------------------------------------------------------------------- errors
@pytest.fixture
def gt_two_frames():
    return load_ground_truth(make_gt({1: (8, 8, 2)}, []))


@pytest.mark.parametrize("entry, message", [
    ({"video_id": 2, "score": 1, "segmentations": [None, None]}, r"track 1: unknown video_id 2.*ids \[1\]"),
    ({"video_id": 1, "score": 1, "segmentations": [None]}, "track 1 .*has 1 segmentations but the video has 2 frames"),
    ({"video_id": 1, "score": 1, "segmentations": [{"size": [8, 8], "counts": [64]}, None]},
     "track 1 .*frame 0: uncompressed RLE"),
    ({"video_id": 1, "score": 1, "segmentations": [None, encode_mask(np.ones((8, 9), bool))]},
     r"track 1 .*frame 1: RLE size \[8, 9\] differs"),
    ({"video_id": 1, "score": 1, "segmentations": [[[0, 0, 1, 1, 2, 2]], None]}, "track 1 .*polygons are not accepted"),
    ({"video_id": 1, "score": "high", "segmentations": [None, None]}, "track 1: score must be a finite number"),
    ({"video_id": 1, "segmentations": [None, None]}, "track 1 has no 'score'"),
])
def test_results_errors_name_the_track_and_the_fix(gt_two_frames, entry, message):
    good = {"video_id": 1, "score": 0.5, "segmentations": [None, None]}
    with pytest.raises(VisInputError, match=message):
        load_results([good, entry], gt_two_frames)


def test_ground_truth_errors():
    gt = make_gt({1: (8, 8, 2)}, [{"video_id": 1, "masks": [None, None]}])
    gt["categories"] = [{"id": 3}]
    with pytest.raises(VisInputError, match="category 1 is not among the GT categories"):
        load_ground_truth(gt)
    gt = make_gt({1: (8, 8, 2)}, [{"video_id": 1, "masks": [None]}])
    with pytest.raises(VisInputError, match="has 1 segmentations for a video of 2 frames"):
        load_ground_truth(gt)
    with pytest.raises(VisInputError, match="not a dict|must be a YouTube-VIS style json"):
        load_ground_truth({"videos": []})
    with pytest.raises(VisInputError, match="must be a json list of tracks"):
        load_results({"video_id": 1}, load_ground_truth(make_gt({1: (8, 8, 2)}, [])))


def test_synthetic_uvo_tracks_from_the_reader_score_perfectly(tmp_path):
    from datasets.synthetic import generate
    from datasets.uvo import UvoReader

    info = generate(tmp_path / "UVOv1.0", "uvo", num_videos=2, num_frames=5, height=48, width=64)
    reader = UvoReader(info.root)
    results = []
    for video in reader:
        per_frame = [video.track_masks(t) for t in range(video.num_frames)]  # (K, H, W) per frame
        for k in range(len(video.objects)):
            masks = [m[k] if m[k].any() else None for m in per_frame]
            results.append(track_entry(video.video_id, 0.9 - 0.1 * k, masks))
    metrics = evaluate_vis(reader.gt_json, results)
    check(metrics, {"AP": 1, "AP50": 1, "AP75": 1, "AR10": 1, "AR100": 1})
    shifted = [dict(r, segmentations=[None] + r["segmentations"][:-1]) for r in results]  # one frame late
    assert evaluate_vis(reader.gt_json, shifted)["AP"] < 1
