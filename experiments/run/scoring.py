"""The one scoring step of a run, after prediction, for either task.

VOS: `evaluation.vos.evaluate_vos` on ``<run>/predictions`` when every frame has ground truth; writes the
official CSVs and ``per-frame_results-<split>.csv`` into the run folder. VIS: `evaluation.vis.score_vis`
on ``<run>/uvo_results.json`` against the ground truth restricted to the run's videos, when it has
annotations; writes ``results.csv`` and ``precision_recall.csv`` into the run folder. Either returns the
``metrics`` of the run's `evaluation.record.ResultsRecord`, or None (not scorable: the reason is logged).
The caller decides whether to score at all (a shard is not scored, a merge scores once, a failed video
stops scoring).
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

log = logging.getLogger("sampt")


def score_predictions(cfg: DictConfig, videos: list, run_dir: Path, predicted: dict) -> dict | None:
    """Score the run's predictions of ``videos`` (task ``cfg.dataset.task``); ``predicted`` is the
    prediction step's record (for VIS its ``results_json``). Returns the metrics dict or None."""
    if cfg.dataset.get("task", "vos") == "vis":
        return score_vis(videos, predicted.get("results_json"), run_dir)
    return score_vos(cfg, videos, run_dir)


def score_vos(cfg: DictConfig, videos: list, run_dir: Path) -> dict | None:
    """J&F of ``<run>/predictions`` (CSVs written into ``run_dir``), or None without full ground truth."""
    from evaluation.vos import evaluate_vos
    from experiments.run.videos import has_full_ground_truth

    if not has_full_ground_truth(videos):
        log.info("split %s has no full ground truth: predictions written, not scored", cfg.dataset.split)
        return None
    result = evaluate_vos(videos, run_dir / "predictions", workers=int(cfg.eval_workers),
                          dataset=cfg.dataset.name, split=cfg.dataset.split)
    result.write(run_dir)
    log.info("%s", result.global_table())
    return result.to_dict()


def score_vis(videos: list, results_json: str | Path | None, run_dir: Path | None = None) -> dict | None:
    """The 12 AP/AR numbers of ``results_json`` (``{"global": ...}``), or None without annotations; with
    ``run_dir``, ``results.csv`` and ``precision_recall.csv`` are written there (`evaluation.vis.VisResult.write`)."""
    from evaluation.vis import score_vis as score_results
    from experiments.run.vis import gt_subset

    gt_json = getattr(videos[0], "gt_json", None) if videos else None
    if results_json is None or gt_json is None:
        log.info("no results json or no ground-truth json: not scored")
        return None
    gt = gt_subset(gt_json, {int(video.video_id) for video in videos})
    if not gt["annotations"]:
        log.info("%s has no annotations: results written, not scored", gt_json)
        return None
    result = score_results(gt, results_json)
    if run_dir is not None:
        result.write(run_dir)
    metrics = result.metrics
    log.info("%s", "  ".join(f"{key} {value:.3f}" for key, value in metrics.items()))
    return {"global": metrics}
