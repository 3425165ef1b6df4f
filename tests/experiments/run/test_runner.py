"""The Hydra runner end to end on a tiny synthetic DAVIS-layout dataset (weight-free lk + grabcut):
multi-seed summary, wandb offline files, kill-and-resume, shards + merge, a multirun sweep table,
per-video failures, and the error messages for bad names and missing data."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.run.outputs import is_complete, mark_complete
from tests.helpers import FAST, REPO, run_app, tiny_davis


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tiny_davis(tmp_path_factory.mktemp("data") / "DAVIS", full_resolution=True)


def pngs(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted((run_dir / "predictions").rglob("*.png"))}


@pytest.fixture(scope="module")
def reference_run(data_root, tmp_path_factory) -> Path:
    """One uninterrupted, unsharded run that other tests compare against."""
    run_dir = tmp_path_factory.mktemp("reference")
    run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}")
    return run_dir


def test_single_run_writes_predictions_csvs_and_provenance(reference_run, data_root):
    results = json.loads((reference_run / "results.json").read_text())
    assert results["schema_version"] == 2 and results["task"] == "vos"
    assert results["seed"] == 0 and results["dataset"] == "davis17" and results["split"] == "val"
    assert len(results["git_commit"]) >= 7 and "torch" in results["packages"]
    assert results["config"]["model"]["iterative_refinement_iterations"] == 1
    assert set(results["videos"]) == {"synth-000", "synth-001"}
    assert all(info["fps"] > 0 and info["peak_rss_bytes"] > 0 for info in results["videos"].values())
    assert results["num_videos_evaluated"] == 2 and results["num_videos_failed"] == 0
    assert 0.3 < results["metrics"]["global"]["J&F-Mean"] <= 1.0
    header = (reference_run / "global_results-val.csv").read_text().splitlines()[0]
    assert header == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert len(pngs(reference_run)) == 12
    assert (reference_run / "run.log").read_text().count("frames in") == 2
    assert "configs: dataset=davis17 experiment=null model=sampt tracker=lk segmenter=grabcut" in (
        reference_run / "run.log").read_text()


def test_the_run_keeps_per_frame_scores_whose_means_are_the_per_object_means(reference_run):
    import numpy as np

    per_object = json.loads((reference_run / "results.json").read_text())["metrics"]["per_object"]
    lines = (reference_run / "per-frame_results-val.csv").read_text().splitlines()
    assert lines[0] == "video,object,frame,J,F"
    rows: dict[str, list[tuple[float, float]]] = {}
    for line in lines[1:]:
        video, object_id, _, j, f = line.split(",")
        rows.setdefault(f"{video}_{object_id}", []).append((float(j), float(f)))
    assert list(rows) == list(per_object)
    for key, values in rows.items():
        assert len(values) == 4  # frames 1..T-2 of the 6-frame videos
        assert abs(np.mean([j for j, _ in values]) - per_object[key]["J-Mean"]) < 1e-9
        assert abs(np.mean([f for _, f in values]) - per_object[key]["F-Mean"]) < 1e-9


def test_rerun_skips_complete_videos_and_changed_config_redoes_them(reference_run, data_root, tmp_path):
    again = run_app(*FAST, f"dataset.root={data_root}", f"output_dir={reference_run}")
    assert again.stdout.count("J&F-Mean") == 1
    results = json.loads((reference_run / "results.json").read_text())
    assert sorted(results["videos_skipped_complete"]) == ["synth-000", "synth-001"] and results["videos"] == {}
    # a marker from another config is never reused
    video_dir = tmp_path / "v"
    mark_complete(video_dir, "aaaa")
    assert is_complete(video_dir, "aaaa") and not is_complete(video_dir, "bbbb")


def test_kill_and_resume_gives_the_same_outputs(reference_run, data_root, tmp_path):
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "experiments.run", *FAST, f"dataset.root={data_root}", f"output_dir={run_dir}"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    marker = run_dir / "predictions" / "synth-000" / ".complete"
    deadline = time.time() + 300
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert marker.exists(), "the first video never completed"
    assert not (run_dir / "results.json").exists()
    # simulate a half-written second video as a kill mid-video leaves it
    partial = run_dir / "predictions" / "synth-001"
    partial.mkdir(parents=True, exist_ok=True)
    (partial / "00000.png").write_bytes(b"half a png")
    run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["videos_skipped_complete"] == ["synth-000"] and list(results["videos"]) == ["synth-001"]
    assert pngs(run_dir) == pngs(reference_run)
    reference = json.loads((reference_run / "results.json").read_text())["metrics"]
    assert results["metrics"]["global"] == reference["global"]


def test_shards_then_merge_equal_the_unsharded_run(reference_run, data_root, tmp_path):
    run_dir = tmp_path / "sharded"
    for shard in (0, 1):
        run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}", f"shard={shard}", "num_shards=2")
    shard0 = json.loads((run_dir / "results-shard0of2.json").read_text())
    assert list(shard0["videos"]) == ["synth-000"] and shard0["metrics"] is None
    merged = run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}", "mode=merge")
    assert "J&F-Mean" in merged.stdout
    results = json.loads((run_dir / "results.json").read_text())
    reference = json.loads((reference_run / "results.json").read_text())
    assert results["merged_from_shards"] and results["metrics"] == reference["metrics"]
    assert pngs(run_dir) == pngs(reference_run)


def test_merge_refuses_incomplete_shards(data_root, tmp_path):
    run_dir = tmp_path / "half"
    run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}", "shard=0", "num_shards=2")
    result = run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}", "mode=merge", check=False)
    assert result.returncode == 2
    assert "1 of 2 videos are not complete" in result.stderr and "synth-001" in result.stderr


def test_multi_seed_summary_and_wandb_offline(data_root, tmp_path):
    run_dir = tmp_path / "seeds"
    overrides = [o for o in FAST if not o.startswith("logging.wandb")]
    run_app(*overrides, f"dataset.root={data_root}", f"output_dir={run_dir}", "seeds=[0,1]", "videos=[synth-000]",
            env={"WANDB_MODE": "offline"})
    for seed in (0, 1):
        results = json.loads((run_dir / f"seed_{seed}" / "results.json").read_text())
        assert results["seed"] == seed
        assert list((run_dir / f"seed_{seed}" / "wandb").glob("offline-run-*")), "no offline wandb run written"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    stats = summary["metrics"]["J&F-Mean"]
    assert stats["mean"] == pytest.approx(sum(stats["values"]) / 2)
    assert (run_dir / "summary.csv").read_text().startswith("metric,mean,std,seed_0,seed_1")


def test_multirun_sweep_writes_one_table_and_a_plot(data_root, tmp_path):
    sweep_dir = tmp_path / "sweep"
    overrides = [o for o in FAST if not o.startswith("model.iterative")]
    run_app("-m", *overrides, f"dataset.root={data_root}", f"output_dir={sweep_dir}", "videos=[synth-000]",
            "model.iterative_refinement_iterations=0,1")
    table = (sweep_dir / "sweep_results.csv").read_text().splitlines()
    assert len(table) == 3 and "model.iterative_refinement_iterations" in table[0] and "J&F-Mean" in table[0]
    assert (sweep_dir / "sweep_model.iterative_refinement_iterations.png").is_file()
    report = (sweep_dir / "report" / "index.html").read_text()  # links to each run's own report
    assert all(f"../{job}/report/index.html" in report and (sweep_dir / job / "report" / "index.html").is_file()
               for job in ("0", "1"))
    assert (sweep_dir / "report" / "sweep_model.iterative_refinement_iterations.png").is_file()


def test_a_failing_video_is_recorded_and_the_run_exits_nonzero(data_root, tmp_path):
    broken = tmp_path / "broken"
    tiny_davis(broken)
    frame = broken / "JPEGImages" / "480p" / "synth-000" / "00003.jpg"
    frame.write_bytes(b"not a jpeg")
    run_dir = tmp_path / "run"
    result = run_app(*FAST, f"dataset.root={broken}", f"output_dir={run_dir}", check=False)
    assert result.returncode == 1 and "1 video(s) failed" in result.stderr
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["videos_failed"]) == ["synth-000"] and str(frame) in results["videos_failed"]["synth-000"]
    assert list(results["videos"]) == ["synth-001"] and results["metrics"] is None
    stopped = run_app(*FAST, f"dataset.root={broken}", f"output_dir={tmp_path / 'fast'}", "fail_fast=true",
                      check=False)
    assert stopped.returncode != 0 and not (tmp_path / "fast" / "results.json").exists()


def test_bad_names_and_missing_data_get_clear_errors(data_root, tmp_path):
    unknown = run_app("dataset=nope", check=False)
    assert unknown.returncode != 0 and "davis17" in unknown.stderr  # Hydra lists the valid options
    missing = run_app(*FAST, f"dataset.root={tmp_path / 'absent'}", f"output_dir={tmp_path / 'run'}", check=False)
    assert missing.returncode == 2
    assert "not found" in missing.stderr and "make data DATASET=davis17" in missing.stderr
    bad_knob = run_app(*FAST, f"dataset.root={data_root}", f"output_dir={tmp_path / 'run2'}",
                       "model.positive_point_selection_method=nearest", check=False)
    assert bad_knob.returncode == 2 and "kmedoids" in bad_knob.stderr


def test_paper_preset_runs_with_pips_from_an_official_format_checkpoint(data_root, tmp_path):
    """`experiment=paper/sampt` (the paper's PIPS tracker) loads a checkpoint written in the official format and
    works as the authors' evaluation: Full-Resolution frames and first masks, resized to a 1024 long side,
    label maps written at the 480p annotation size. The segmenter is swapped for the weight-free one since
    no SAM ViT-H weights exist here."""
    import torch

    from datasets.png import read_label_png
    from trackers.point.pips.net import PipsNet

    torch.manual_seed(0)
    checkpoint = tmp_path / "model-000200000.pth"
    torch.save({"model_state_dict": PipsNet().state_dict(), "optimizer_state_dict": {}}, checkpoint)
    run_dir = tmp_path / "paper"
    run_app(*FAST, "experiment=paper/sampt", f"dataset.root={data_root}", f"tracker.checkpoint={checkpoint}",
            "segmenter=grabcut", f"output_dir={run_dir}", "videos=[synth-000]", "device=cpu")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["config"]["tracker"]["name"] == "pips" and results["metrics"] is not None
    assert results["config"]["longest_side"] == 1024
    assert results["config"]["dataset"]["options"]["frames_resolution"] == "Full-Resolution"
    # Full-Resolution synthetic frames are 160x224: the working size is SAM's 1024 long side
    assert results["videos"]["synth-000"]["working_size"] == [731, 1024]
    written = pngs(run_dir)
    assert len(written) == 6
    assert all(read_label_png(run_dir / name).shape == (80, 112) for name in written)


def test_native_size_run_keeps_the_480p_frames(reference_run):
    """The embedded default's way (longest_side=null): frames at their own size, no Full-Resolution."""
    results = json.loads((reference_run / "results.json").read_text())
    assert results["config"]["longest_side"] is None
    assert results["config"]["dataset"]["options"]["frames_resolution"] is None
    scores = json.loads((reference_run / "predictions" / "synth-000" / "scores.json").read_text())
    assert scores["working_size"] == [80, 112]


def test_uvo_vis_run_writes_results_json_scores_and_resumes(tmp_path):
    """`dataset=uvo_synthetic`: first-frame proposals, SAM-PT propagation, a YouTube-VIS results json,
    the twelve AP/AR numbers in results.json; a re-run skips every video."""
    run_dir = tmp_path / "vis"
    overrides = [o for o in FAST if not o.startswith("dataset=")]
    args = (*overrides, "dataset=uvo_synthetic", f"paths.cache_dir={tmp_path / 'cache'}", f"output_dir={run_dir}")
    run_app(*args)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == "vis" and sorted(results["videos"]) == ["synth-000", "synth-001"]
    assert set(results["metrics"]["global"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100",
                                                 "ARs", "ARm", "ARl"}
    assert results["metrics"]["global"]["AR100"] > 0.2
    report = (run_dir / "report" / "index.html").read_text()  # the AP/AR table and the PR curve
    assert f"<td>{results['metrics']['global']['AP']:.3f}</td>" in report
    assert (run_dir / "report" / "precision_recall.png").is_file()
    assert (run_dir / "precision_recall.csv").is_file()  # the report draws the curve the scoring stored
    tracks = json.loads((run_dir / "uvo_results.json").read_text())
    assert tracks and all(set(t) == {"video_id", "score", "category_id", "segmentations"} for t in tracks)
    first = (run_dir / "uvo_results.json").read_bytes()
    run_app(*args)
    again = json.loads((run_dir / "results.json").read_text())
    assert sorted(again["videos_skipped_complete"]) == ["synth-000", "synth-001"]
    assert (run_dir / "uvo_results.json").read_bytes() == first


def test_sweep_through_the_submitit_local_launcher(data_root, tmp_path):
    """The cluster launch path (hydra-submitit-launcher), run with submitit's local executor."""
    sweep_dir = tmp_path / "submitit"
    run_app("-m", "hydra/launcher=submitit_local", *FAST, f"dataset.root={data_root}", f"output_dir={sweep_dir}",
            "videos=[synth-000]", "seed=0,1")
    results = sorted(sweep_dir.glob("*/results.json"))
    assert len(results) == 2 and {json.loads(p.read_text())["seed"] for p in results} == {0, 1}
    assert len((sweep_dir / "sweep_results.csv").read_text().splitlines()) == 3
