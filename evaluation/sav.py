"""SA-V scoring (val / test), equal to the official SA-V evaluator.

Command line (through the VOS evaluator)::

    python -m evaluation.vos --dataset sav --root ROOT --split {val,test} --predictions DIR [--output DIR]
        [--workers N] [--do-not-skip-first-and-last-frame]

Python: :func:`evaluate_sav` on the `datasets.sav.SavVideo` objects of `datasets.sav.SavReader`, returning
a `SavResult`. Predictions: ``DIR/<video>/<obj:03d>/<frame:05d>.png`` (binary: any nonzero pixel is the
object) for every annotated frame of every object.

What the official tool does (facebookresearch/sam2 at commit 2b90b9f5ceec907a1c18123530e92e794ad901a4,
``sav_dataset/sav_evaluator.py`` and ``sav_dataset/utils/sav_benchmark.py``, run with its defaults), and
what this module does; ``tests/evaluation/test_official_sav.py`` compares with its recorded output
(``tests/fixtures/official_sav``) to 1e-9:

* Videos: the official tool scores the ground-truth video folders that also have a prediction folder;
  here the split's list ``sav_<split>.txt`` (every listed video must be predicted, see below).
* Objects: every folder under the video's ground-truth folder; frames: the PNG files of the object's
  own ground-truth folder, sorted; the first and last of them are skipped unless
  ``--do_not_skip_first_and_last_frame`` (here ``skip_first_and_last=False``). Prediction object folders
  and frames the ground truth lacks are never read.
* A frame counts for an object from the first evaluated frame where the ground truth or the prediction
  shows it (earlier frames are left out, not scored as J = F = 1); from then on every evaluated frame
  counts, both empty giving J = 1 and F = 1.
* J = |P & G| / |P | G|; F is the DAVIS boundary F with tolerance ceil(0.008 * sqrt(H^2 + W^2)) pixels,
  seg2bmap boundaries, a disk dilation and the DAVIS empty-boundary rules: exactly
  `evaluation.davis_metrics.mask_scores`, reused here.
* Object score: mean over its counted frames of J and of F; global J and F: flat means over all objects
  of all videos; J&F = (J + F) / 2. The official tool prints percentages (x 100, one decimal) and a
  ``results.csv``; here every value is an unrounded fraction.
* A mask PNG with more than two values is an error in both (the official tool asserts); masks are
  binarised with ``> 0``; a prediction of another size is an error in both.

Where this module differs, on purpose (the official tool has no defined answer):

* A missing prediction PNG: the official tool stops on an assertion; here a `PredictionError` names
  the file, before anything is scored.
* A ground-truth video without a prediction folder: the official tool (without ``--strict``) silently
  scores only the videos present in both folders; here it is a `PredictionError` (a partial score would
  look like a full one).
* An object whose ground truth is empty on every evaluated frame: the official tool stops on an
  assertion; here the object is left out of the means, with a warning, and listed in
  ``SavResult.objects_without_gt``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from datasets.errors import DatasetError
from datasets.sav import SavVideo, read_binary_mask
from evaluation.davis_metrics import boundary_radius, mask_scores
from evaluation.scoring import OwnRulesResult, PredictionError, map_videos, prediction_folder, read_and_score

log = logging.getLogger(__name__)

SAV_PREDICTION_LAYOUT = "PREDICTIONS/<video>/<obj:03d>/<frame:05d>.png   (binary masks, one per object and annotated frame)"
GLOBAL_NAMES = ("J&F", "J", "F")


@dataclass
class SavResult(OwnRulesResult):
    """Scores of one SA-V evaluation.

    Attributes:
        metrics: ``{"J&F", "J", "F"}`` unrounded fractions (flat means over the scored objects).
        per_object: ``"<video>_<obj:03d>"`` -> ``{"J&F", "J", "F", "frames"}`` (frames: the counted frames).
        objects_without_gt: ``"<video>_<obj:03d>"`` of objects empty in the GT on every evaluated frame.
    """

    dataset: ClassVar[str] = "sav"
    objects_without_gt: list[str] = field(default_factory=list)

    def extra(self) -> dict:
        return {"objects_without_gt": self.objects_without_gt} if self.objects_without_gt else {}


def prediction_mask_path(predictions_dir: Path, video: SavVideo, object_id: int, index: int) -> Path:
    """``predictions_dir/<video>/<obj:03d>/<frame>.png`` of ``object_id`` on frame ``index``."""
    return predictions_dir / video.name / video.object_folder(object_id) / f"{video.frame_names[index]}.png"


def evaluated_frames(video: SavVideo, object_id: int, skip_first_and_last: bool) -> list[int]:
    """The object's annotated frame indices, sorted, without the first and last when ``skip_first_and_last``."""
    frames = sorted(video.object_masks[object_id])
    return frames[1:-1] if skip_first_and_last else frames


def check_sav_predictions(videos: Sequence[SavVideo], predictions_dir: Path, skip_first_and_last: bool) -> None:
    """Fail before any scoring when a video folder or an evaluated frame's prediction PNG is missing."""
    for video in videos:
        if not (predictions_dir / video.name).is_dir():
            raise PredictionError(f"video {video.name}: no prediction folder {predictions_dir / video.name}\n"
                                  f"expected layout:\n{SAV_PREDICTION_LAYOUT}")
        for object_id in video.object_ids:
            for index in evaluated_frames(video, object_id, skip_first_and_last):
                path = prediction_mask_path(predictions_dir, video, object_id, index)
                if not path.is_file():
                    raise PredictionError(f"video {video.name}: object {video.object_folder(object_id)} has no "
                                          f"prediction {path}; every annotated frame must be predicted\n"
                                          f"expected layout:\n{SAV_PREDICTION_LAYOUT}")


def read_prediction_mask(predictions_dir: Path, video: SavVideo, object_id: int, index: int) -> np.ndarray:
    """(H, W) bool prediction of ``object_id`` on frame ``index``; `PredictionError` naming the file."""
    path = prediction_mask_path(predictions_dir, video, object_id, index)
    try:
        mask = read_binary_mask(path)
    except DatasetError as error:
        raise PredictionError(f"video {video.name}: {error}") from None
    if mask.shape != tuple(video.size):
        raise PredictionError(f"video {video.name}: prediction {path} is {mask.shape[1]}x{mask.shape[0]} but the "
                              f"ground truth is {video.size[1]}x{video.size[0]} (W x H); write masks at that size")
    return mask


def object_scores(video: SavVideo, object_id: int, predictions_dir: Path,
                  skip_first_and_last: bool) -> tuple[list[float], list[float], bool]:
    """Per-frame J and F of one object over its counted frames (streamed one frame at a time), and whether
    its ground truth shows it on any evaluated frame."""
    radius = boundary_radius(tuple(video.size))
    j, f = [], []
    started = gt_seen = False
    for index in evaluated_frames(video, object_id, skip_first_and_last):
        gt = video.object_mask(object_id, index)
        pred = read_prediction_mask(predictions_dir, video, object_id, index)
        gt_any = bool(gt.any())
        gt_seen = gt_seen or gt_any
        started = started or gt_any or bool(pred.any())
        if started:
            j_value, f_value = mask_scores(gt, pred, radius)
            j.append(j_value)
            f.append(f_value)
    return j, f, gt_seen


def evaluate_sav_video(video: SavVideo, predictions_dir: str | Path,
                       skip_first_and_last: bool = True) -> dict[str, dict[str, float] | None]:
    """``"<video>_<obj:03d>"`` -> ``{"J&F", "J", "F", "frames"}`` of every object; None for an object
    that the ground truth never shows on its evaluated frames."""
    rows: dict[str, dict[str, float] | None] = {}
    for object_id in video.object_ids:
        j, f, gt_seen = object_scores(video, object_id, Path(predictions_dir), skip_first_and_last)
        key = f"{video.name}_{video.object_folder(object_id)}"
        if not gt_seen:
            rows[key] = None
            continue
        j_mean, f_mean = float(np.mean(j)), float(np.mean(f))
        rows[key] = {"J&F": (j_mean + f_mean) / 2.0, "J": j_mean, "F": f_mean, "frames": len(j)}
    return rows


def evaluate_sav(videos: Sequence[SavVideo], predictions_dir: str | Path, workers: int | None = None,
                 skip_first_and_last: bool = True, progress: bool = False) -> SavResult:
    """Score SA-V predictions in ``predictions_dir`` (``<dir>/<video>/<obj:03d>/<frame>.png``).

    Args:
        videos: the `SavVideo` objects to score (e.g. ``read_videos("sav", root, split)``).
        workers: processes scoring videos in parallel (default ``min(8, cpu count)``; 1 = in-process).
        skip_first_and_last: drop each object's first and last annotated frame (official default).
        progress: show a tqdm bar over videos (stderr).

    Raises:
        PredictionError: a missing prediction folder or PNG, a wrong size or a non-binary mask.
    """
    videos = list(videos)
    predictions_dir = prediction_folder(videos, predictions_dir, "SA-V", SAV_PREDICTION_LAYOUT)
    check_sav_predictions(videos, predictions_dir, skip_first_and_last)
    results = map_videos(evaluate_sav_video, videos, (predictions_dir, skip_first_and_last), workers, progress)
    return _summarise(results)


def _summarise(results: list[dict[str, dict[str, float] | None]]) -> SavResult:
    """Flat means over the scored objects of every video (the official global score)."""
    per_object = {key: row for rows in results for key, row in rows.items() if row is not None}
    missing = [key for rows in results for key, row in rows.items() if row is None]
    if missing:
        log.warning("%d objects are empty in the ground truth on every evaluated frame and are not scored: %s",
                    len(missing), ", ".join(missing[:5]))
    if not per_object:
        raise DatasetError("no SA-V object has ground truth on its evaluated frames; nothing to score")
    j = float(np.mean([row["J"] for row in per_object.values()]))
    f = float(np.mean([row["F"] for row in per_object.values()]))
    return SavResult({"J&F": (j + f) / 2.0, "J": j, "F": f}, per_object, missing)


def run_cli(args) -> int:
    """``python -m evaluation.vos --dataset sav ...`` (parsed by `evaluation.vos.parse_args`): score, write
    ``results.json`` into ``--output`` (default ``--predictions``), print the global scores."""
    scored = read_and_score("sav", args, evaluate_sav, skip_first_and_last=not args.do_not_skip_first_and_last_frame)
    if scored is None:
        return 2
    videos, result, (path,) = scored
    print("  ".join(f"{name}: {result.metrics[name]:.6f}" for name in GLOBAL_NAMES))
    print(f"{len(result.per_object)} objects in {len(videos)} videos; written: {path}")
    return 0
