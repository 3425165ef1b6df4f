"""The run path of SA-V, LVOS, VOST and MOSEv2 (issue 25): each dataset config runs SAM-PT end to end on a synthetic copy
of the official layout, writes the prediction layout its evaluator reads, and scores it as the evaluator's CLI
does; SA-V's per-object masks come from each object's own logits and may overlap."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.png import read_label_png
from datasets.registry import read_videos
from datasets.sav import read_binary_mask
from datasets.synthetic import generate
from evaluation.record import ResultsRecord
from evaluation.vos import main as evaluate_cli
from experiments.reports.report import write_report
from experiments.run.summary import summarize_seeds, write_summary
from experiments.run.vos import predict_video
from tests.fakes import DiskSegmenter, ScriptedTracker
from tests.helpers import run_app
from trackers.sampt.model import SamPt

# layout -> frames per video: enough annotated frames for each scorer (VOST and LVOS drop the first and last)
# and for object 2 to start late
FRAMES = {"sav": 16, "lvos": 20, "vost": 16, "mosev2": 16, "bdd100k": 12}
# VOST's objects are the ids up to the largest id of the first annotation: the late object needs a lower id
OBJECT_IDS = {"vost": [2, 1]}


def written(video_dir) -> set[str]:
    """Relative paths of the prediction PNGs under ``video_dir``."""
    return {path.relative_to(video_dir).as_posix() for path in video_dir.rglob("*.png")}


def expected_files(dataset: str, video) -> set[str]:
    """The files the dataset's evaluator reads: per-object masks for SA-V, label maps otherwise."""
    frames = [video.frame_names[t] for t in video.frames_to_write]
    if dataset == "sav":
        return {f"{video.object_folder(i)}/{frame}.png" for i in video.object_ids for frame in frames}
    return {f"{frame}.png" for frame in frames}


@pytest.mark.parametrize("dataset", ["sav", "lvos", "vost", "mosev2", "bdd100k"])
def test_dataset_config_runs_end_to_end_and_scores_as_the_official_cli(dataset, tmp_path):
    info = generate(tmp_path / "data", dataset, num_videos=1, num_frames=FRAMES[dataset], height=48, width=64, seed=2,
                    object_ids=OBJECT_IDS.get(dataset))
    run = tmp_path / "run"
    run_app(f"dataset={dataset}", f"dataset.root={info.root}", f"output_dir={run}", "logging.wandb.enabled=false",
            "logging.report=false", "logging.progress=false", "logging.visualize.num_videos=0", "eval_workers=1",
            "model.iterative_refinement_iterations=0")
    videos = read_videos(dataset, info.root, info.split)
    assert any(obj.first_frame > 0 for video in videos for obj in video.objects), "an object starts late"
    for video in videos:
        assert written(run / "predictions" / video.name) == expected_files(dataset, video)
        late = [obj for obj in video.objects if obj.first_frame > 0]
        if dataset != "sav":  # the late object is prompted on its first annotated frame: its mask is pasted there
            labels = read_label_png(run / "predictions" / video.name / f"{video.frame_names[late[0].first_frame]}.png")
            np.testing.assert_array_equal(labels == late[0].id, video.first_mask(late[0].id))
    record = json.loads((run / "results.json").read_text())
    assert record["dataset"] == dataset and record["metrics"] is not None
    assert evaluate_cli(["--dataset", dataset, "--root", str(info.root), "--split", info.split, "--predictions",
                         str(run / "predictions"), "--output", str(tmp_path / "cli"), "--workers", "1"]) == 0
    official = json.loads((tmp_path / "cli" / "results.json").read_text())["metrics"]
    assert record["metrics"]["global"] == official["global"]
    assert record["metrics"]["per_object"] == official["per_object"]
    official_file = {"lvos": f"global_results-{info.split}.csv", "vost": f"global_results-{info.split}.csv",
                     "mosev2": "scores.txt", "bdd100k": "global_results.csv"}.get(dataset)
    if official_file:  # the files the official tool writes are in the run folder
        assert (run / official_file).is_file()
    page = write_report(run).read_text()  # the report copes with the benchmark's own metric names
    assert "keeps per-object scores only" in page and videos[0].name in page


@pytest.mark.parametrize("names", [("J&F", "J", "F"), ("J&F-Mean", "J-seen-Mean", "J-unseen-Mean"),
                                   ("J-Mean", "J_last-Mean", "J-Decay")])
def test_multi_seed_summary_of_each_benchmarks_metric_names(names, tmp_path):
    records = {seed: ResultsRecord(task="vos", dataset="x", split="val",
                                   metrics={"global": {**{n: 0.5 + seed / 10 for n in names}, "V-unseen-Mean": None}})
               for seed in (0, 1)}
    summary = summarize_seeds(records)
    write_summary(tmp_path, summary)
    table = (tmp_path / "summary.csv").read_text().splitlines()
    assert table[0] == "metric,mean,std,seed_0,seed_1" and [line.split(",")[0] for line in table[1:]] == list(names)
    assert summary["metrics"][names[0]]["mean"] == pytest.approx(0.55)


def test_late_objects_are_prompted_on_their_first_annotated_frame_and_sav_masks_overlap(tmp_path):
    """Per-object masks: empty before an object's first annotated frame, its given mask there, and each
    object's own mask after (two disks that cover each other are both written, no argmax)."""
    info = generate(tmp_path / "sav", "sav", num_videos=1, num_frames=16, height=48, width=64, seed=2)
    video = read_videos("sav", info.root, "val")[0]
    late = next(obj for obj in video.objects if obj.first_frame > 0)
    sampt = SamPt(ScriptedTracker(), DiskSegmenter(radius=40), iterative_refinement_iterations=0, seed=0)
    predict_video(sampt, video, tmp_path / "pred", overlapping=True)

    def mask(object_id, t):
        return read_binary_mask(tmp_path / "pred" / video.object_folder(object_id) / f"{video.frame_names[t]}.png")

    for t in video.frames_to_write:
        if t < late.first_frame:
            assert not mask(late.id, t).any()
    np.testing.assert_array_equal(mask(late.id, late.first_frame), video.first_mask(late.id))
    after = [t for t in video.frames_to_write if t > late.first_frame]
    overlaps = [t for t in after if (mask(video.object_ids[0], t) & mask(late.id, t)).any()]
    assert overlaps, "two 40-pixel disks on a 64x48 frame overlap"
    png = read_label_png(tmp_path / "pred" / video.object_folder(late.id) / f"{video.frame_names[after[0]]}.png")
    assert set(np.unique(png)) <= {0, 1}


@pytest.mark.parametrize("dataset", ["lv1", "lv3"])
def test_long_video_config_runs_end_to_end_and_scores_the_annotated_frames(dataset, tmp_path):
    """LV1/LV3 (XMem's long_video_set): every frame tracked, label maps written on the annotated frames only,
    scored by the DAVIS rules on them as the CLI scores them."""
    info = generate(tmp_path / "long_video_set", "long_video", num_videos=1, num_frames=11, height=48, width=64, seed=2)
    run = tmp_path / "run"
    run_app(f"dataset={dataset}", f"dataset.root={info.root}", f"output_dir={run}", "logging.wandb.enabled=false",
            "logging.report=false", "logging.progress=false", "logging.visualize.num_videos=0", "eval_workers=1",
            "model.iterative_refinement_iterations=0")
    video = read_videos(dataset, info.root, "val")[0]
    assert written(run / "predictions" / video.name) == {f"{video.frame_names[t]}.png" for t in video.annotation_paths}
    assert len(video.annotation_paths) < video.num_frames
    record = json.loads((run / "results.json").read_text())
    assert evaluate_cli(["--dataset", dataset, "--root", str(info.root), "--split", "val", "--predictions",
                         str(run / "predictions"), "--output", str(tmp_path / "cli"), "--workers", "1"]) == 0
    official = json.loads((tmp_path / "cli" / "results.json").read_text())["metrics"]
    assert record["metrics"]["global"] == official["global"]
    scored = [line.split(",")[2] for line in (run / "per-frame_results-val.csv").read_text().splitlines()[1:]]
    annotated = [video.frame_names[t] for t in sorted(video.annotation_paths)]
    assert sorted(set(scored)) == annotated[1:-1]


def test_ytvos_test_split_is_predicted_not_scored_and_zipped_as_valid(tmp_path):
    """dataset.split=test on ytvos18: predictions on the meta.json frames, no score (first-appearance masks only),
    and `make submission ... SPLIT=test` zips Annotations/<video>/<frame>.png as for the valid server."""
    import zipfile

    from experiments.tools.submission import main as submission_cli

    info = generate(tmp_path / "YouTube2018", "ytvos", split="test", num_videos=1, num_frames=11, height=48,
                    width=64, seed=2)
    run = tmp_path / "run"
    run_app("dataset=ytvos18", "dataset.split=test", f"dataset.root={info.root}", f"output_dir={run}",
            "logging.wandb.enabled=false", "logging.report=false", "logging.progress=false",
            "logging.visualize.num_videos=0", "model.iterative_refinement_iterations=0")
    assert json.loads((run / "results.json").read_text())["metrics"] is None
    video = read_videos("ytvos18", info.root, "test")[0]
    assert submission_cli(["--dataset", "ytvos18", "--root", str(info.root), "--split", "test", "--run", str(run)]) == 0
    with zipfile.ZipFile(run / "submission-ytvos18.zip") as archive:
        pngs = {name for name in archive.namelist() if name.endswith(".png")}
    assert pngs == {f"Annotations/{video.name}/{video.frame_names[t]}.png" for t in video.frames_to_write}


def test_bdd100k_overlapping_masks_are_scored_as_the_overlapping_mode(tmp_path):
    """BDD100K with ``dataset.save_overlapping_masks``: each object's own mask is written and the run scores
    them as the authors' evaluator's ``--object_overlapping_allowed`` mode, as the command line does."""
    info = generate(tmp_path / "data", "bdd100k", num_videos=1, num_frames=12, height=48, width=64, seed=2)
    run = tmp_path / "run"
    run_app("dataset=bdd100k", f"dataset.root={info.root}", f"output_dir={run}", "dataset.save_overlapping_masks=true",
            "logging.wandb.enabled=false", "logging.report=false", "logging.progress=false",
            "logging.visualize.num_videos=0", "eval_workers=1", "model.iterative_refinement_iterations=0")
    video = read_videos("bdd100k", info.root, "val")[0]
    assert written(run / "predictions" / video.name) == expected_files("sav", video)  # per-object masks
    record = json.loads((run / "results.json").read_text())
    assert evaluate_cli(["--dataset", "bdd100k", "--root", str(info.root), "--split", "val", "--predictions",
                         str(run / "predictions"), "--output", str(tmp_path / "cli"), "--workers", "1"]) == 0
    official = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert official["object_overlapping_allowed"] is True
    assert record["metrics"] == official["metrics"]
