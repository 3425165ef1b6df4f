"""MOSEv2 scoring (valid, semi-supervised), equal to the official MOSEv2 evaluator.

Command line (through the VOS evaluator)::

    python -m evaluation.vos --dataset mosev2 --root ROOT --split valid --predictions DIR [--output DIR]
        [--workers N] [--rounded]

Python: :func:`evaluate_mosev2` on the `datasets.mosev2.Mosev2Video` objects of `datasets.mosev2.Mosev2Reader`
(a root with every frame annotated), returning a `Mosev2Result`. Predictions: ``DIR/<video>/<frame:05d>.png``,
indexed label maps with the ground-truth ids, for every frame.

What the official tool does (henghuiding/MOSE-api at commit 241977ae2ceceee054fa2a2c8a2690838c451369,
``MOSEv2/sam2_rcms/tools/score.py`` with ``metricsv2.py``), and what this module does;
``tests/evaluation/test_official_mosev2.py`` compares with its recorded output (``tests/fixtures/official_mosev2``)
to 1e-9:

* Videos: the folders of ``Annotations`` (each must be in ``meta.json``, whose ``length`` must equal its file
  count); here the meta file's videos, sorted (every one needs its folders). Objects: the meta ``objects``
  entries in file order, compared with the masks as ``int(id)``; per-object names ``<video>_<id as written>``.
  Ids in the masks that the meta file does not list (e.g. a predicted object the GT lacks) are never read.
* Frames: the first and the last frame are not scored; frames 1..length-2 are (the tool splits them into
  chunks of 15 for its process pool; the chunks are only concatenated). The tool takes the frame names from the
  prediction folder's sorted listing; here from the video's frames (the same when every frame is predicted
  under its own name). A video of fewer than 3 frames scores nothing: its objects get J = F = 0.
* Masks: ground truth and prediction are compared with the id (``== id``); no void.
  J = (|P & G| + 1) / (|P | G| + 1), and 1 when both are empty (so a wrong prediction on an empty GT frame
  still gets 1 / (|P| + 1), not 0). Boundary maps and the empty-boundary rules are DAVIS's
  (`evaluation.davis_metrics.overlap_and_boundary_f`). With D = sqrt(H^2 + W^2) and L = 0.008 * D, the
  adaptive radius is r = min(L, ceil(0.1 * sqrt(|G|))) (ceil(0.1 * D) for an empty GT, so then r = L):
  when r < L, F_new uses radius r and F (classic) radius ceil(L); otherwise both use radius L itself,
  unrounded (skimage's disk of a non-integer radius, an even-sized, off-centre element; kept).
* Object scores: J, F_new, F = means over the scored frames. With E the frames whose GT is empty: each run
  of E-frames that does not start on the first scored frame is a disappearance segment, each run of
  non-E frames that follows an E-frame a reappearance segment (so an object absent on the first scored
  frames "reappears" when it appears); disappear_J / disappear_F_new = the mean over its disappearance
  segments of the segment's mean J / F_new (None without one), reappear_* likewise. The tool's per-object
  table: ``J&F_new`` = (J + F_new) / 2, ``J``, ``F_new``, ``disappear_J&F_new``, ``reappear_J&F_new``
  (the mean of the segment J and F_new), ``F``, ``J&F`` = (J + F) / 2.
* Global: flat means over all objects of all videos (not per video first): J, F_new, F; ``J&F_new`` =
  (mean J + mean F_new) / 2, ``J&F`` = (mean J + mean F) / 2; ``disappear_J&F_new`` = (mean disappear_J +
  mean disappear_F_new) / 2 over the objects that have a disappearance (NaN when none has: the tool's
  ``np.mean([])``), ``reappear_J&F_new`` likewise.
* Rounding: the tool writes percentages rounded to 0.01 (numpy rounding): per object into ``metrics.json``
  (with a ``total_time`` entry, its summed chunk seconds; here this scorer's summed video seconds), the global
  table into ``scores.txt`` (with a ``Copy-Paste`` line at 0.1); the global numbers are computed from the
  unrounded per-object values. Here the same two files beside ``results.json``, which holds every value as an
  unrounded fraction; ``--rounded`` prints the global table as ``scores.txt`` does.

Where this module differs, on purpose: a missing prediction folder makes the tool score that video's objects
0, and a missing prediction PNG, a prediction of another size or an RGB prediction stops it; here a
`PredictionError` names the file before anything is scored. The tool descends into the prediction folder when
it holds a single folder (so a one-video prediction folder breaks it); here the folder is used as given.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from datasets.errors import DatasetError
from datasets.mosev2 import Mosev2Video
from evaluation.davis_metrics import overlap_and_boundary_f
from evaluation.scoring import (OwnRulesResult, map_videos, nan_mean, prediction_folder, read_and_score,
                                read_prediction_labels, require_predictions)

MOSEV2_PREDICTION_LAYOUT = "PREDICTIONS/<video>/<frame:05d>.png   (indexed PNGs at annotation size, ids as in the GT)"
#: the official global keys, in the order of its ``scores.txt``
GLOBAL_KEYS = ("J&F_new", "J", "F_new", "disappear_J&F_new", "reappear_J&F_new", "F", "J&F")
AREA_TH = 0.1  # adaptive boundary tolerance: AREA_TH * sqrt(GT area)
DIAGONAL_TH = 0.008  # the classic (DAVIS) tolerance: DIAGONAL_TH * image diagonal


def scored_frames(video: Mosev2Video) -> range:
    """Frame indices the official tool scores: all but the first and the last."""
    return range(1, max(1, video.num_frames - 1))


def boundary_radii(size: tuple[int, int], gt_area: int) -> tuple[float, float]:
    """(classic F radius, adaptive F_new radius) in pixels for a frame of ``size`` = (H, W) whose GT mask has
    ``gt_area`` pixels (the official ``f_measure_adaptive`` with ``bound_th=0.1, mode='area'``)."""
    diagonal = math.sqrt(size[0] ** 2 + size[1] ** 2)
    limit = DIAGONAL_TH * diagonal
    base = math.sqrt(gt_area) if gt_area > 0 else diagonal
    adaptive = min(limit, float(math.ceil(AREA_TH * base)))
    if adaptive < limit:
        return float(math.ceil(limit)), adaptive
    return limit, limit


def prediction_path(predictions_dir: Path, video: Mosev2Video, index: int) -> Path:
    return predictions_dir / video.name / f"{video.frame_names[index]}.png"


def check_mosev2_inputs(videos: Sequence[Mosev2Video], predictions_dir: Path) -> None:
    """Fail before any scoring when a scored frame lacks its ground truth or its prediction PNG."""
    for video in videos:
        missing = [i for i in scored_frames(video) if i not in video.annotation_paths]
        if missing:
            raise DatasetError(f"video {video.name}: frame {video.frame_names[missing[0]]} has no annotation "
                               f"({len(missing)} scored frames lack one); scoring needs the full ground truth "
                               "(every frame annotated): the public valid split holds the first frame only")
        require_predictions(video.name, predictions_dir / video.name,
                            [prediction_path(predictions_dir, video, index) for index in scored_frames(video)],
                            "every frame must be predicted", MOSEV2_PREDICTION_LAYOUT)


def read_prediction(predictions_dir: Path, video: Mosev2Video, index: int) -> np.ndarray:
    """(H, W) uint8 predicted label map of frame ``index``; `PredictionError` naming the file."""
    return read_prediction_labels(prediction_path(predictions_dir, video, index), video.name, video.size)


def frame_scores(gt: np.ndarray, pred: np.ndarray, object_id: int) -> tuple[float, float, float, bool]:
    """(J, F_new, F, GT empty) of one object on one frame from (H, W) label maps."""
    g, p = gt == object_id, pred == object_id
    area = int(np.count_nonzero(g))
    classic, adaptive = boundary_radii(g.shape, area)
    radii = (classic,) if classic == adaptive else (classic, adaptive)
    intersection, union, f = overlap_and_boundary_f(g, p, radii)
    j = 1.0 if union == 0 else (intersection + 1) / (union + 1)
    return j, f[-1], f[0], area == 0


def segments(empty: np.ndarray) -> tuple[list[slice], list[slice]]:
    """(disappearance, reappearance) segments of an object from its (T,) bool empty-GT flags: runs of empty
    frames not starting at 0, and runs of non-empty frames that follow an empty frame."""
    changes = np.flatnonzero(empty[1:] != empty[:-1]) + 1
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [empty.size]])
    disappear = [slice(s, e) for s, e in zip(starts, ends) if empty[s] and s > 0]
    reappear = [slice(s, e) for s, e in zip(starts, ends) if not empty[s] and s > 0]
    return disappear, reappear


def _segment_means(j: np.ndarray, f: np.ndarray, runs: list[slice]) -> tuple[float | None, float | None]:
    if not runs:
        return None, None
    return float(np.mean([j[run].mean() for run in runs])), float(np.mean([f[run].mean() for run in runs]))


def _half_sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (a + b) / 2


def object_row(j: np.ndarray, f_new: np.ndarray, f: np.ndarray, empty: np.ndarray) -> dict:
    """One object's official per-object values (`GLOBAL_KEYS` names, fractions, None where the tool has
    None) and their parts (``disappear_J`` ...) from its (T,) per-frame J, F_new, F and empty-GT flags;
    T = 0 (a video of fewer than 3 frames) gives J = F_new = F = 0, as in the tool."""
    if j.size == 0:
        means, disappear, reappear = (0.0, 0.0, 0.0), (None, None), (None, None)
    else:
        means = (float(j.mean()), float(f_new.mean()), float(f.mean()))
        runs = segments(empty)
        disappear, reappear = _segment_means(j, f_new, runs[0]), _segment_means(j, f_new, runs[1])
    row = {"J&F_new": (means[0] + means[1]) / 2, "J": means[0], "F_new": means[1],
           "disappear_J&F_new": _half_sum(*disappear), "reappear_J&F_new": _half_sum(*reappear),
           "F": means[2], "J&F": (means[0] + means[2]) / 2}
    row.update({"disappear_J": disappear[0], "disappear_F_new": disappear[1], "reappear_J": reappear[0],
                "reappear_F_new": reappear[1], "frames": int(j.size)})
    return row


def evaluate_mosev2_video(video: Mosev2Video, predictions_dir: str | Path) -> tuple[dict[str, dict], float]:
    """(``"<video>_<id>"`` -> `object_row` of every object in meta order, seconds taken). Each ground-truth
    and prediction PNG is read once, for all objects."""
    start = time.perf_counter()
    predictions_dir = Path(predictions_dir)
    frames = scored_frames(video)
    values = np.zeros((len(video.meta_ids), 4, len(frames)))  # (objects, [J, F_new, F, empty], frames)
    for t, index in enumerate(frames):
        gt = video.annotation(index)
        pred = read_prediction(predictions_dir, video, index)
        for k, key in enumerate(video.meta_ids):
            values[k, :, t] = frame_scores(gt, pred, int(key))
    rows = {f"{video.name}_{key}": object_row(values[k, 0], values[k, 1], values[k, 2], values[k, 3] > 0)
            for k, key in enumerate(video.meta_ids)}
    return rows, time.perf_counter() - start


def global_scores(per_object: dict[str, dict]) -> dict[str, float]:
    """The official global numbers (`GLOBAL_KEYS`, fractions) from the per-object rows: flat means over the
    objects (segment means over the objects that have such segments)."""
    rows = list(per_object.values())
    j, f_new, f = (nan_mean([row[name] for row in rows]) for name in ("J", "F_new", "F"))
    parts = {name: nan_mean([row[name] for row in rows if row[name] is not None])
             for name in ("disappear_J", "disappear_F_new", "reappear_J", "reappear_F_new")}
    return {"J&F_new": (j + f_new) / 2, "J": j, "F_new": f_new,
            "disappear_J&F_new": (parts["disappear_J"] + parts["disappear_F_new"]) / 2,
            "reappear_J&F_new": (parts["reappear_J"] + parts["reappear_F_new"]) / 2,
            "F": f, "J&F": (j + f) / 2}


def rounded_percent(value: float | None) -> float | None:
    """``round(value * 100, 2)`` as the tool rounds its numpy values (numpy rounding); None stays None."""
    return None if value is None else float(np.round(np.float64(value) * 100, 2))


@dataclass
class Mosev2Result(OwnRulesResult):
    """Scores of one MOSEv2 evaluation.

    Attributes:
        metrics: the official global numbers (`GLOBAL_KEYS`), unrounded fractions (NaN where the tool gives
            NaN: no object with a disappearance / reappearance).
        per_object: ``"<video>_<id>"`` -> `object_row` (fractions; None where the tool has None).
        seconds: summed scoring seconds of the videos (the ``total_time`` of ``metrics.json``).
    """

    dataset: ClassVar[str] = "mosev2"
    seconds: float = 0.0

    def metrics_json(self) -> str:
        """``metrics.json`` text as the tool writes it: per object its 7 values in rounded percent, then
        ``total_time``."""
        table: dict = {key: {name: rounded_percent(row[name]) for name in GLOBAL_KEYS}
                       for key, row in self.per_object.items()}
        table["total_time"] = self.seconds
        return json.dumps(table, indent=4)

    def scores_txt(self) -> str:
        """``scores.txt`` text as the tool writes it: the global numbers in percent rounded to 0.01, then the
        ``Copy-Paste`` line (0.1)."""
        rounded = [rounded_percent(self.metrics[name]) for name in GLOBAL_KEYS]
        lines = [f"{name}: {value}" for name, value in zip(GLOBAL_KEYS, rounded)]
        return "\n".join(lines + ["Copy-Paste: " + ",".join(f"{value:.1f}" for value in rounded)]) + "\n"

    def official_files(self, split: str) -> list[tuple[str, str]]:
        """``metrics.json`` and ``scores.txt``, as the tool writes them."""
        return [("metrics.json", self.metrics_json()), ("scores.txt", self.scores_txt())]


def evaluate_mosev2(videos: Sequence[Mosev2Video], predictions_dir: str | Path, workers: int | None = None,
                    progress: bool = False) -> Mosev2Result:
    """Score MOSEv2 predictions in ``predictions_dir`` (``<dir>/<video>/<frame:05d>.png``).

    Args:
        videos: the `Mosev2Video` objects to score (e.g. ``read_videos("mosev2", root, "valid")`` on a root
            with every frame annotated).
        workers: processes scoring videos in parallel (default ``min(8, cpu count)``; 1 = in-process).
        progress: show a tqdm bar over videos (stderr).

    Raises:
        PredictionError: a missing prediction folder or PNG, a wrong size or an RGB prediction.
        DatasetError: no videos, or a scored frame without its annotation.
    """
    videos = list(videos)
    predictions_dir = prediction_folder(videos, predictions_dir, "MOSEv2", MOSEV2_PREDICTION_LAYOUT)
    check_mosev2_inputs(videos, predictions_dir)
    results = map_videos(evaluate_mosev2_video, videos, (predictions_dir,), workers, progress)
    per_object = {key: row for rows, _ in results for key, row in rows.items()}
    return Mosev2Result(global_scores(per_object), per_object, sum(seconds for _, seconds in results))


def run_cli(args) -> int:
    """``python -m evaluation.vos --dataset mosev2 ...`` (parsed by `evaluation.vos.parse_args`): score, write
    ``results.json``, ``metrics.json`` and ``scores.txt`` into ``--output`` (default ``--predictions``), print
    the scores (``--rounded``: as ``scores.txt``)."""
    scored = read_and_score("mosev2", args, evaluate_mosev2)
    if scored is None:
        return 2
    videos, result, paths = scored
    if args.rounded:
        print(result.scores_txt(), end="")
    else:
        for name in GLOBAL_KEYS:
            print(f"{name}: {result.metrics[name]}")
    print(f"{len(result.per_object)} objects in {len(videos)} videos; written: " + ", ".join(map(str, paths)))
    return 0
