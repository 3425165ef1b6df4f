"""`evaluation.vos`: the CLI and Python API on tiny DAVIS layouts, error cases, and real DAVIS masks."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from datasets.errors import DatasetError
from datasets.png import write_frame, write_label_png
from datasets.registry import build_reader
from reference.davis_metrics import reference_sequence, reference_statistics
from evaluation.vos import GLOBAL_COLUMNS, OBJECT_COLUMNS, PredictionError, evaluate_vos, main, read_per_frame_csv
from tests.inputs import build_davis_root, random_blob_labels, strip_extra_ids

SHAPE = (24, 40)
FRAMES = 7


def make_davis(root: Path, pred: Path, year: str = "2017", seed: int = 0) -> dict:
    """Two sequences (2 and 1 objects) of FRAMES frames; GT with a void region; perturbed predictions."""
    rng = np.random.default_rng(seed)
    layout = {"alpha": 2, "beta": 1}
    for name, count in layout.items():
        gt = random_blob_labels(rng, SHAPE, count, FRAMES, 0.0)
        pr = random_blob_labels(rng, SHAPE, count, FRAMES, 2.0)
        for t in range(FRAMES):
            labels = gt[t].copy()
            if year == "2017":
                labels[0:2, 0:3] = 255  # void: background for semi-supervised scoring
                write_label_png(root / "Annotations" / "480p" / name / f"{t:05d}.png", labels)
            else:
                write_label_png(root / "Annotations" / "480p" / name / f"{t:05d}.png", (labels > 0) * 255)
            write_frame(root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg", np.zeros((*SHAPE, 3), np.uint8))
            out = pr[t] if year == "2017" else (pr[t] > 0) * 255
            write_label_png(pred / name / f"{t:05d}.png", out)
    (root / "ImageSets" / year).mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / year / "val.txt").write_text("alpha\nbeta\n")
    return layout


def reference_stats(root: Path, pred: Path, dataset: str = "davis17") -> dict[str, list[float]]:
    """Per-object statistics from the reference implementation (whole sequences, float64)."""
    from datasets.png import read_label_png

    out = {}
    for video in build_reader(dataset, root, "val"):
        frames = range(1, video.num_frames - 1)
        gt = [video.annotation(i) for i in frames]
        pr = [read_label_png(pred / video.name / f"{video.frame_names[i]}.png") for i in frames]
        if video.binary:
            pr = [(p > 0).astype(np.uint8) for p in pr]
        j, f = reference_sequence(gt, pr, len(video.objects))
        for k in range(len(video.objects)):
            out[f"{video.name}_{k + 1}"] = list(reference_statistics(j[k]) + reference_statistics(f[k]))
    return out


@pytest.fixture()
def davis17(tmp_path):
    root, pred = tmp_path / "DAVIS", tmp_path / "pred"
    make_davis(root, pred)
    return root, pred


def test_cli_end_to_end(davis17, tmp_path, capsys):
    root, pred = davis17
    out = tmp_path / "out"
    assert main(["--dataset", "davis17", "--root", str(root), "--split", "val", "--predictions", str(pred),
                 "--output", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Global results for val" in printed and "J&F-Mean" in printed

    lines = (out / "global_results-val.csv").read_text().splitlines()
    assert lines[0] == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert len(lines) == 2 and re.fullmatch(r"-?\d\.\d{3}(,-?\d\.\d{3}){6}", lines[1])

    rows = (out / "per-sequence_results-val.csv").read_text().splitlines()
    assert rows[0] == "Sequence,J-Mean,F-Mean"
    assert [r.split(",")[0] for r in rows[1:]] == ["alpha_1", "alpha_2", "beta_1"]
    assert all(re.fullmatch(r"\w+_\d,\d\.\d{3},\d\.\d{3}", r) for r in rows[1:])

    record = json.loads((out / "results.json").read_text())
    assert record["schema_version"] == 2 and record["task"] == "vos" and record["num_videos_evaluated"] == 2
    data = record["metrics"]
    assert set(data["global"]) == set(GLOBAL_COLUMNS)
    assert list(data["per_object"]) == ["alpha_1", "alpha_2", "beta_1"]
    assert all(set(v) == set(OBJECT_COLUMNS) for v in data["per_object"].values())
    assert data["dataset"] == "davis17" and data["split"] == "val"
    assert data["num_sequences"] == 2 and data["num_objects"] == 3

    expected = reference_stats(root, pred)
    for key, values in expected.items():
        ours = [data["per_object"][key][c] for c in OBJECT_COLUMNS]
        np.testing.assert_allclose(ours, values, rtol=0, atol=1e-12)
    j_mean = np.mean([v[0] for v in expected.values()])
    f_mean = np.mean([v[3] for v in expected.values()])
    assert data["global"]["J&F-Mean"] == pytest.approx((j_mean + f_mean) / 2, abs=1e-12)
    assert lines[1].split(",")[0] == "%.3f" % data["global"]["J&F-Mean"]


def test_outputs_are_recomputed_not_reused(davis17, tmp_path):
    root, pred = davis17
    (pred / "global_results-val.csv").write_text("J&F-Mean\n9.999\n")
    (pred / "per-sequence_results-val.csv").write_text("stale\n")
    (pred / "per-frame_results-val.csv").write_text("stale\n")
    assert main(["--dataset", "davis17", "--root", str(root), "--split", "val", "--predictions", str(pred),
                 "--workers", "1"]) == 0
    assert "9.999" not in (pred / "global_results-val.csv").read_text()
    assert (pred / "per-sequence_results-val.csv").read_text().startswith("Sequence,")
    assert (pred / "per-frame_results-val.csv").read_text().startswith("video,object,frame,J,F\n")
    assert not list(pred.glob(".*.tmp"))


def test_per_frame_csv_means_are_the_per_object_means(davis17, tmp_path):
    """``per-frame_results-<split>.csv``: exactly the scored frames of every object, at full precision, so
    each object's mean J and F equal results.json's J-Mean and F-Mean; it reads back bit-equal."""
    root, pred = davis17
    out = tmp_path / "out"
    assert main(["--dataset", "davis17", "--root", str(root), "--split", "val", "--predictions", str(pred),
                 "--output", str(out), "--workers", "1"]) == 0
    per_object = json.loads((out / "results.json").read_text())["metrics"]["per_object"]
    lines = (out / "per-frame_results-val.csv").read_text().splitlines()
    assert lines[0] == "video,object,frame,J,F"
    rows: dict[str, list] = {}
    for line in lines[1:]:
        video, object_id, frame, j, f = line.split(",")
        rows.setdefault(f"{video}_{object_id}", []).append((frame, float(j), float(f)))
    assert list(rows) == list(per_object)
    for key, values in rows.items():
        assert [frame for frame, _, _ in values] == [f"{t:05d}" for t in range(1, FRAMES - 1)]
        assert np.mean([j for _, j, _ in values]) == pytest.approx(per_object[key]["J-Mean"], abs=1e-9)
        assert np.mean([f for _, _, f in values]) == pytest.approx(per_object[key]["F-Mean"], abs=1e-9)
    videos = list(build_reader("davis17", root, "val"))
    result = evaluate_vos(videos, pred, workers=1, split="val")
    for stored, scored in zip(read_per_frame_csv(out / "per-frame_results-val.csv"), result.videos, strict=True):
        assert (stored.name, stored.object_ids, stored.frame_names) == (scored.name, scored.object_ids,
                                                                        scored.frame_names)
        assert np.array_equal(stored.j, scored.j) and np.array_equal(stored.f, scored.f)


def test_api_workers_agree_and_fewer_objects_are_empty(davis17):
    root, pred = davis17
    videos = list(build_reader("davis17", root, "val"))
    # object 2 of alpha never predicted -> scored as empty masks (J = 0 where GT has it)
    for png in (pred / "alpha").glob("*.png"):
        from datasets.png import read_label_png

        labels = read_label_png(png)
        write_label_png(png, np.where(labels == 2, 0, labels))
    one = evaluate_vos(videos, pred, workers=1, dataset="davis17", split="val")
    two = evaluate_vos(videos, pred, workers=2, dataset="davis17", split="val")
    assert one.per_object == two.per_object and one.global_scores == two.global_scores
    alpha = one.videos[0]
    assert alpha.name == "alpha" and alpha.object_ids == [1, 2]
    assert set(alpha.j[1]) <= {0.0, 1.0} and 0.0 in set(alpha.j[1])  # 1 only where GT lacks it too
    expected = reference_stats(root, pred)
    for key, values in expected.items():
        np.testing.assert_allclose([one.per_object[key][c] for c in OBJECT_COLUMNS], values, atol=1e-12)


def test_extra_object_id_is_an_error(davis17, tmp_path, capsys):
    root, pred = davis17
    bad = pred / "beta" / "00003.png"
    labels = np.zeros(SHAPE, np.uint8)
    labels[3, 3] = 2  # beta has one object
    write_label_png(bad, labels)
    out = tmp_path / "out"
    assert main(["--dataset", "davis17", "--root", str(root), "--split", "val", "--predictions", str(pred),
                 "--output", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "beta" in err and "00003" in err and str(bad) in err and "id 2" in err
    assert not out.exists()


def test_extra_id_in_unscored_frame_is_ignored(davis17):
    root, pred = davis17
    labels = np.full(SHAPE, 200, np.uint8)  # first and last frames are never read
    write_label_png(pred / "beta" / "00000.png", labels)
    write_label_png(pred / "beta" / f"{FRAMES - 1:05d}.png", labels)
    evaluate_vos(list(build_reader("davis17", root, "val")), pred, workers=1)


def test_missing_frame_is_an_error(davis17, tmp_path, capsys):
    root, pred = davis17
    missing = pred / "alpha" / "00002.png"
    missing.unlink()
    with pytest.raises(PredictionError, match=r"alpha.*00002.*alpha/00002\.png"):
        evaluate_vos(list(build_reader("davis17", root, "val")), pred, workers=1)
    out = tmp_path / "out"
    assert main(["--dataset", "davis17", "--root", str(root), "--split", "val", "--predictions", str(pred),
                 "--output", str(out)]) == 2
    assert str(missing) in capsys.readouterr().err and not out.exists()


def test_missing_video_folder_is_an_error(davis17):
    root, pred = davis17
    for png in (pred / "beta").glob("*.png"):
        png.unlink()
    (pred / "beta").rmdir()
    with pytest.raises(PredictionError, match="beta"):
        evaluate_vos(list(build_reader("davis17", root, "val")), pred, workers=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_wrong_size_is_an_error(davis17, workers):
    root, pred = davis17
    bad = pred / "alpha" / "00004.png"
    write_label_png(bad, np.zeros((SHAPE[0] + 1, SHAPE[1]), np.uint8))
    with pytest.raises(PredictionError, match=r"alpha.*00004.*00004\.png.*40x25.*40x24"):
        evaluate_vos(list(build_reader("davis17", root, "val")), pred, workers=workers)


def test_missing_ground_truth_frame_is_an_error_from_a_worker(davis17):
    root, pred = davis17
    videos = list(build_reader("davis17", root, "val"))
    del videos[1].annotation_paths[3]  # e.g. a split whose GT is withheld after the first frame
    with pytest.raises(DatasetError, match=r"beta.*00003.*no ground-truth"):
        evaluate_vos(videos, pred, workers=2)


def test_rgb_prediction_is_an_error(davis17):
    root, pred = davis17
    bad = pred / "alpha" / "00001.png"
    write_frame(bad, np.zeros((*SHAPE, 3), np.uint8))
    with pytest.raises(PredictionError, match=r"alpha.*00001.*indexed"):
        evaluate_vos(list(build_reader("davis17", root, "val")), pred, workers=1)


def test_davis16_binary_and_mean_over_sequences(tmp_path):
    root, pred = tmp_path / "DAVIS", tmp_path / "pred"
    make_davis(root, pred, year="2016")
    videos = list(build_reader("davis16", root, "val"))
    result = evaluate_vos(videos, pred, workers=1, dataset="davis16", split="val")
    assert list(result.per_object) == ["alpha_1", "beta_1"]  # all blobs merged into one object
    expected = reference_stats(root, pred, "davis16")
    for key, values in expected.items():
        np.testing.assert_allclose([result.per_object[key][c] for c in OBJECT_COLUMNS], values, atol=1e-12)
    for index, column in enumerate(OBJECT_COLUMNS):
        seq_means = [values[index] for values in expected.values()]
        assert result.global_scores[column] == pytest.approx(np.mean(seq_means), abs=1e-12)


def test_official_quirks_switch_changes_only_long_decay(davis17):
    root, pred = davis17
    videos = list(build_reader("davis17", root, "val"))
    on = evaluate_vos(videos, pred, workers=1)
    off = evaluate_vos(videos, pred, workers=1, official_quirks=False)
    assert on.per_object == off.per_object  # 5 scored frames: no wrap
    assert on.to_dict()["official_quirks"] is True and off.to_dict()["official_quirks"] is False


def test_real_masks_equal_reference(shared_data, tmp_path):
    """OSVOS masks as GT, RVOS masks (ids above the GT count removed) as predictions, 3 sequences."""
    sequences = ["bike-packing", "judo", "dogs-jump"]  # 6 scored frames each
    results = shared_data / "davis17_val_results"
    root = build_davis_root(results / "osvos", tmp_path / "DAVIS", sequences, max_frames=8)
    pred = strip_extra_ids(results / "rvos", root, tmp_path / "pred", sequences)
    videos = list(build_reader("davis17", root, "val"))
    result = evaluate_vos(videos, pred, workers=1)
    expected = reference_stats(root, pred)
    assert list(result.per_object) == list(expected)
    for key, values in expected.items():
        np.testing.assert_allclose([result.per_object[key][c] for c in OBJECT_COLUMNS], values, atol=1e-12)
    # predictions are not the GT: the scores are neither trivial 0 nor 1
    assert 0.0 < result.global_scores["J-Mean"] < 1.0


@pytest.mark.parametrize("layout, split", [("mose", "train"), ("davis17", "val"), ("davis16", "val")])
def test_cli_on_synthetic_layouts_with_perfect_predictions(tmp_path, layout, split):
    """Every reader the CLI supports (MOSE through its own reader): predicting the GT scores exactly 1."""
    from datasets.synthetic import generate

    root, pred = tmp_path / "data", tmp_path / "pred"
    generate(root, layout, num_videos=2, num_frames=6, height=48, width=64, split=split)
    for video in build_reader(layout, root, split):
        for index in range(video.num_frames):
            labels = video.annotation(index) * (255 if video.binary else 1)
            write_label_png(pred / video.name / f"{video.frame_names[index]}.png", labels)
    assert main(["--dataset", layout, "--root", str(root), "--split", split, "--predictions", str(pred),
                 "--workers", "1"]) == 0
    data = json.loads((pred / "results.json").read_text())["metrics"]
    assert data["num_sequences"] == 2 and data["global"] == {c: 1.0 for c in GLOBAL_COLUMNS} | {
        "J-Decay": 0.0, "F-Decay": 0.0}


def test_resolution_only_for_davis(tmp_path, capsys):
    assert main(["--dataset", "mose", "--root", str(tmp_path), "--split", "train", "--predictions", str(tmp_path),
                 "--resolution", "1080p"]) == 2
    assert "--resolution" in capsys.readouterr().err
