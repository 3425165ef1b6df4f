"""The one scoring step of a run, after prediction, for either task.

VOS: the scorer of the dataset (`evaluation.vos.OWN_RULES`: reader -> the scorer equal to its official evaluator;
any other dataset: `evaluation.vos.evaluate_vos`, the DAVIS rules) on ``<run>/predictions`` when every frame
the run writes has ground truth; the scorer's official CSVs (``global_results-<split>.csv``, ...) are written
into the run folder. VIS: `evaluation.vis.score_vis` on ``<run>/uvo_results.json`` against the ground truth
restricted to the run's videos, when it has annotations; writes ``results.csv`` and ``precision_recall.csv``
into the run folder. Either returns the ``metrics`` of the run's `evaluation.record.ResultsRecord`
(``{"global": {official name: value}, ...}``; the names differ per benchmark), or None (not scorable: the
reason is logged). The caller decides whether to score at all (a shard is not scored, a merge scores once,
a failed video stops scoring).
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
    """The metrics of ``<run>/predictions`` by the dataset's scorer (its CSVs written into ``run_dir``), or
    None when a frame the run writes has no ground truth (the split is scored on a server, if anywhere)."""
    from evaluation.vos import OWN_RULES
    from experiments.run.videos import has_ground_truth

    if not has_ground_truth(videos):
        log.info("split %s of %s has no ground truth for the frames it predicts (first-frame masks only): "
                 "predictions written, not scored", cfg.dataset.split, cfg.dataset.name)
        return None
    predictions, workers, split = run_dir / "predictions", int(cfg.eval_workers), cfg.dataset.split
    if cfg.dataset.reader in OWN_RULES:
        return score_own_rules(videos, predictions, run_dir, workers, cfg.dataset.reader, split)
    return score_davis_rules(videos, predictions, run_dir, workers, cfg.dataset.name, split)


def score_davis_rules(videos: list, predictions: Path, run_dir: Path, workers: int, dataset: str,
                      split: str) -> dict:
    """`evaluation.vos.evaluate_vos` (DAVIS, MOSE, folder layouts; LV1/LV3 on their annotated frames): the DAVIS
    CSVs and ``per-frame_results-<split>.csv``; metrics ``J&F-Mean``, ``J-Mean``, ... and per-object rows."""
    from evaluation.vos import evaluate_vos

    result = evaluate_vos(videos, predictions, workers=workers, dataset=dataset, split=split)
    result.write(run_dir)
    log.info("%s", result.global_table())
    return result.to_dict()


def score_own_rules(videos: list, predictions: Path, run_dir: Path, workers: int, reader: str, split: str) -> dict:
    """The scorer of ``reader`` in `evaluation.vos.OWN_RULES` (equal to its benchmark's official evaluator):
    the files the official tool writes go into ``run_dir``; returns the record's metrics (NaN -> None)."""
    import importlib

    from evaluation.scoring import write_files
    from evaluation.vos import OWN_RULES

    module, scorer = OWN_RULES[reader]
    result = getattr(importlib.import_module(module), scorer)(videos, predictions, workers=workers)
    write_files(run_dir, result.official_files(split))
    log.info("%s", "  ".join(f"{name} {value:.4f}" for name, value in result.metrics.items()))
    return result.record(split, len(videos)).metrics


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
