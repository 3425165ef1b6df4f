"""VOST scoring, equal to the official VOST evaluator.

Command line (through the VOS evaluator)::

    python -m evaluation.vos --dataset vost --root ROOT --split val --predictions DIR [--output DIR]
        [--workers N] [--rounded]

Python: :func:`evaluate_vost` on the `Video` objects of `datasets.vost.VostReader`, returning a
`VostResult`. Predictions: ``DIR/<video>/<frame>.png`` (indexed PNG, pixel value = object id) for every
annotated frame.

What the official tool does (TRI-ML/VOST at commit fe274574cb03c8a3ea83e121dd76e20b703781fd,
``evaluation/evaluation_method.py`` with ``evaluation/source/{dataset,evaluation,metrics,results,utils}.py``),
and what this module does; ``tests/evaluation/test_official_vost.py`` compares with its recorded output
(``tests/fixtures/official_vost``) to 1e-9:

* Videos: the names of ``ImageSets/<split>.txt``; frames: the video's annotation PNGs sorted by name,
  the first and the last of them dropped (n evaluated frames; at least three annotations are needed).
* Objects: ids 1..N with N the largest id of the first annotation once void (255) is set to 0; an id
  above N (in a later annotation or in a prediction) is no object.
* Void: 255 pixels of the ground truth become background; they are NOT excluded from J (the official
  ``db_eval_iou`` is called without void pixels), so a predicted pixel on void is a false positive.
* J per object and frame = |P & G| / |P | G|, 1 where both are empty.
* Per object: Mean, Recall (fraction of frames with J > 0.5) and Decay (mean J of the first of four bins
  minus that of the last, the DAVIS bins with their uint8 wrap: `evaluation.davis_metrics.object_statistics`,
  reused) over all n frames (J) and over frames floor(0.75 n) .. n - 1 (J_last).
* Global: flat means over all objects of all videos of each of the six numbers, named as the official
  global CSV columns ``J-Mean J-Recall J-Decay J_last-Mean J_last-Recall J_last-Decay``. The official
  tool writes ``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv`` (per object:
  ``<video>_<id>``, J-Mean, J_last-Mean) rounded to 3 decimals into the prediction folder; here
  ``results.json`` holds the unrounded fractions, the two CSVs (same names, same rounding) are written
  beside it, and ``--rounded`` prints the rounded table.

Where this module differs, on purpose (the official tool has no defined answer):

* A missing prediction PNG (the official tool prints and exits with status 0) or a prediction of another
  size (an assertion) is a `PredictionError` naming the file, before anything is scored.
* A video with fewer than three annotations (the official tool fails with an IndexError) is a
  `DatasetError` naming the folder.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import floor
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from datasets.errors import DatasetError
from datasets.video import Video
from evaluation.davis_metrics import object_statistics
from evaluation.scoring import (OwnRulesResult, PredictionError, map_videos, prediction_folder, read_and_score,
                                read_prediction_labels)

VOST_PREDICTION_LAYOUT = "PREDICTIONS/<video>/<frame>.png   (indexed PNGs, pixel value = object id, every annotated frame)"
GLOBAL_NAMES = ("J-Mean", "J-Recall", "J-Decay", "J_last-Mean", "J_last-Recall", "J_last-Decay")
LAST_FRACTION = 0.75


@dataclass
class VostResult(OwnRulesResult):
    """Scores of one VOST evaluation: ``metrics`` the six `GLOBAL_NAMES` (flat means over all objects),
    ``per_object`` ``"<video>_<id>"`` -> the six `GLOBAL_NAMES` of that object (fractions)."""

    dataset: ClassVar[str] = "vost"

    def official_files(self, split: str) -> list[tuple[str, str]]:
        """The official ``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv`` (3 decimals)."""
        glob = ",".join(GLOBAL_NAMES) + "\n" + ",".join(_r(self.metrics[n]) for n in GLOBAL_NAMES) + "\n"
        rows = [f"{key},{_r(row['J-Mean'])},{_r(row['J_last-Mean'])}\n" for key, row in self.per_object.items()]
        return [(f"global_results-{split}.csv", glob),
                (f"per-sequence_results-{split}.csv", "Sequence,J-Mean,J_last-Mean\n" + "".join(rows))]


def _r(value: float) -> str:
    """A value as the official CSVs write it (``%.3f``; NaN as empty, as pandas writes it)."""
    return "" if np.isnan(value) else f"{value:.3f}"


def evaluated_frames(video: Video) -> list[int]:
    """The annotated frame indices in annotation-name order, without the first and the last."""
    annotated = sorted(video.annotation_paths, key=lambda i: video.annotation_paths[i].name)
    if len(annotated) < 3:
        raise DatasetError(f"video {video.name}: {len(annotated)} annotations in "
                           f"{next(iter(video.annotation_paths.values())).parent}; VOST scoring drops the first and "
                           "last annotated frame and needs at least three")
    return annotated[1:-1]


def prediction_path(predictions_dir: Path, video: Video, index: int) -> Path:
    """``predictions_dir/<video>/<annotation name>.png`` of annotated frame ``index``."""
    return predictions_dir / video.name / video.annotation_paths[index].name


def check_vost_predictions(videos: Sequence[Video], predictions_dir: Path) -> None:
    """Fail before any scoring when an evaluated frame's prediction PNG is missing."""
    for video in videos:
        for index in evaluated_frames(video):
            path = prediction_path(predictions_dir, video, index)
            if not path.is_file():
                raise PredictionError(f"video {video.name}: no prediction {path}; every annotated frame must be "
                                      f"predicted\nexpected layout:\n{VOST_PREDICTION_LAYOUT}")


def frame_iou(gt: np.ndarray, pred: np.ndarray, count: int) -> np.ndarray:
    """(count,) J of objects 1..count on one frame: ``gt`` and ``pred`` (H, W) uint8 label maps
    (void already 0 in ``gt``); 1 where an object is in neither."""
    gt_area = np.bincount(gt.ravel(), minlength=256)[1:count + 1]
    pred_area = np.bincount(pred.ravel(), minlength=256)[1:count + 1]
    inter = np.bincount(gt[gt == pred], minlength=256)[1:count + 1]
    union = gt_area + pred_area - inter
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def evaluate_vost_video(video: Video, predictions_dir: str | Path) -> dict[str, dict[str, float]]:
    """``"<video>_<id>"`` -> the six `GLOBAL_NAMES` of every object of ``video``."""
    frames = evaluated_frames(video)
    count = len(video.object_ids)
    j = np.empty((count, len(frames)))
    for column, index in enumerate(frames):
        gt = video.annotation(index)
        pred = read_prediction_labels(prediction_path(Path(predictions_dir), video, index), video.name, gt.shape)
        j[:, column] = frame_iou(gt, pred, count)
    last = int(floor(len(frames) * LAST_FRACTION))
    rows = {}
    for row, object_id in enumerate(video.object_ids):
        values = object_statistics(j[row]) + object_statistics(j[row, last:])
        rows[f"{video.name}_{object_id}"] = dict(zip(GLOBAL_NAMES, values))
    return rows


def evaluate_vost(videos: Sequence[Video], predictions_dir: str | Path, workers: int | None = None,
                  progress: bool = False) -> VostResult:
    """Score VOST predictions in ``predictions_dir`` (``<dir>/<video>/<frame>.png``).

    Args:
        videos: the videos to score (``read_videos("vost", root, split)``).
        workers: processes scoring videos in parallel (default ``min(8, cpu count)``; 1 = in-process).
        progress: show a tqdm bar over videos (stderr).

    Raises:
        PredictionError: a missing prediction folder or PNG, or one of the wrong size.
    """
    videos = list(videos)
    predictions_dir = prediction_folder(videos, predictions_dir, "VOST", VOST_PREDICTION_LAYOUT)
    check_vost_predictions(videos, predictions_dir)
    results = map_videos(evaluate_vost_video, videos, (predictions_dir,), workers, progress)
    per_object = {key: row for rows in results for key, row in rows.items()}
    metrics = {name: float(np.mean([row[name] for row in per_object.values()])) for name in GLOBAL_NAMES}
    return VostResult(metrics, per_object)


def run_cli(args) -> int:
    """``python -m evaluation.vos --dataset vost ...`` (parsed by `evaluation.vos.parse_args`): score, write
    ``results.json`` and the official CSVs into ``--output`` (default ``--predictions``), print the scores
    (unrounded; ``--rounded``: the official 3-decimal table)."""
    scored = read_and_score("vost", args, evaluate_vost)
    if scored is None:
        return 2
    videos, result, paths = scored
    print(" ".join(f"{name:>13}" for name in GLOBAL_NAMES))
    fmt = _r if args.rounded else (lambda value: f"{value:.10f}")
    print(" ".join(f"{fmt(result.metrics[name]):>13}" for name in GLOBAL_NAMES))
    print(f"{len(result.per_object)} objects in {len(videos)} videos; written: " + ", ".join(map(str, paths)))
    return 0
