"""LVOS v1 / v2 scoring (valid / test, semi-supervised), equal to the official LVOS evaluator.

Command line (through the VOS evaluator)::

    python -m evaluation.vos --dataset lvos --root ROOT --split {valid,test} --predictions DIR [--output DIR]
        [--workers N] [--rounded]

Python: :func:`evaluate_lvos` on the `datasets.lvos.LvosVideo` objects of `datasets.lvos.LvosReader`,
returning an `LvosResult`. Predictions: ``DIR/<video>/<frame:08d>.png``, indexed label maps with the
ground-truth ids, for every frame of every object's ``frame_range``.

What the official tool does (LingyiHongfd/lvos-evaluation at commit 25cb02d1455b5d0c964a9836ff5242fb51df55ee,
``evaluation_method.py`` with its defaults, ``lvos/evaluation.py`` (semi-supervised), ``lvos/lvos_seperate.py``,
``lvos/results.py``, ``lvos/metrics.py``, ``lvos/utils.py``), and what this module does;
``tests/evaluation/test_official_lvos.py`` compares with its recorded output (``tests/fixtures/official_lvos``)
to 1e-9:

* Videos: every video of ``<split>_meta.json``, sorted; objects: its ``objects`` keys in file order. The
  per-object name is ``<video>_<position + 1>`` (position in that order, not the id; equal for ids 1..N).
* Frames: for an object with ``frame_range`` (start, end, frame_nums) the tool holds ``frame_nums - 2``
  slots, walks ``range(start, end, 5)`` with a counter from 0 and scores every frame except counter 0 and
  counter ``frame_nums - 1``; slots no frame reached stay 0 and count as J = F = 0 (a range longer than
  ``frame_nums`` or ``frame_nums`` < 2 makes it fail; here a `DatasetError`; ``frame_nums`` 2 leaves no slot:
  NaN scores, as in the tool, which then make the global means NaN).
* Masks: ground truth and prediction are read raw and compared with the object id (``== id``); no void
  (the tool's void maps are always empty, value 255 is simply not the object); prediction ids the ground
  truth lacks are never read. J = |P & G| / |P | G| (1 when both are empty); F is the DAVIS boundary F of
  its default pure-Python ``seg2bmap`` (the optional Cython op gives other numbers and is not matched):
  exactly `evaluation.davis_metrics.mask_scores`, reused here.
* Object scores: J and F = mean over the slots; V = sqrt(round(sum((mean(JF) - JF)^2) / slots, 4)) with
  JF the per-slot (J + F) / 2 (the tool rounds the variance to 4 decimals before the square root; kept,
  it is part of V).
* Seen / unseen: the video is unseen when ``unseen_videos.txt`` lists it (the tool reads the copy in its
  working folder; here ``ROOT/<split>/unseen_videos.txt``). X-seen-Mean and X-unseen-Mean are flat means
  over the objects of seen / unseen videos; X-Mean = (seen + unseen) / 2 and J&F-Mean = the mean of the
  four J / F means (so a split without unseen videos gives NaN, as in the tool).
* Outputs: the tool writes ``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv`` into
  the prediction folder, rounded to 3 decimals (``%.3f``); here the same files beside ``results.json``
  (which holds every value unrounded); ``--rounded`` prints the global table rounded as the tool does.

Where this module differs, on purpose: a missing prediction folder or PNG, a prediction of another size
or an RGB prediction stops the tool (exit or assertion) or crashes it; here a `PredictionError` names the
file before anything is scored.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from datasets.errors import DatasetError
from datasets.lvos import LvosVideo, frame_name
from evaluation.davis_metrics import boundary_radius, mask_scores
from evaluation.scoring import (OwnRulesResult, PredictionError, csv_text, format_3f, map_videos, nan_mean,
                                prediction_folder, read_and_score, read_prediction_labels, require_predictions)

log = logging.getLogger(__name__)

LVOS_PREDICTION_LAYOUT = "PREDICTIONS/<video>/<frame:08d>.png   (indexed PNGs at annotation size, ids as in the GT)"
GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-seen-Mean", "J-unseen-Mean", "F-Mean", "F-seen-Mean", "F-unseen-Mean",
                  "V-Mean", "V-seen-Mean", "V-unseen-Mean")
PER_SEQUENCE_COLUMNS = ("Sequence", "J-Mean", "F-Mean", "V-Mean")


def scored_slots(video: LvosVideo, object_id: int) -> list[tuple[int, int]]:
    """``(slot, frame number)`` pairs the official loop scores for ``object_id`` (slots 0..frame_nums-3)."""
    span = video.ranges[object_id]
    if span.frame_nums < 2:
        raise DatasetError(f"video {video.name}: object {object_id} has frame_nums {span.frame_nums}; scoring needs "
                           "at least 2 (the official tool fails on it)")
    pairs = [(counter - 1, number) for counter, number in enumerate(span.frames)
             if counter not in (0, span.frame_nums - 1)]
    if pairs and pairs[-1][0] >= span.frame_nums - 2:
        raise DatasetError(f"video {video.name}: object {object_id}'s frame_range {span} has "
                           f"{len(span.frames)} frames in range(start, end, 5), more than frame_nums; fix the "
                           "meta file (the official tool fails on it)")
    return pairs


def prediction_path(predictions_dir: Path, video: LvosVideo, number: int) -> Path:
    return predictions_dir / video.name / f"{frame_name(number)}.png"


def scored_numbers(video: LvosVideo) -> list[int]:
    """Every frame number some object scores, sorted."""
    return sorted({number for i in video.meta_order for _, number in scored_slots(video, i)})


def check_lvos_predictions(videos: Sequence[LvosVideo], predictions_dir: Path) -> None:
    """Fail before any scoring when a video's prediction folder or a scored frame's PNG is missing."""
    for video in videos:
        require_predictions(video.name, predictions_dir / video.name,
                            [prediction_path(predictions_dir, video, number) for number in scored_numbers(video)],
                            "every scored frame must be predicted", LVOS_PREDICTION_LAYOUT)


def read_prediction(predictions_dir: Path, video: LvosVideo, number: int) -> np.ndarray:
    """(H, W) uint8 predicted label map of frame ``number``; `PredictionError` naming the file."""
    return read_prediction_labels(prediction_path(predictions_dir, video, number), video.name, video.size)


def object_row(j: np.ndarray, f: np.ndarray, unseen: bool) -> dict:
    """One object's official statistics from its (slots,) J and F: means, V (variance rounded to 4 decimals);
    NaN for an object without slots (frame_nums 2), as in the official tool."""
    if j.size == 0:
        return {"J": math.nan, "F": math.nan, "J&F": math.nan, "V": math.nan, "slots": 0, "unseen": unseen}
    jf = (j + f) / 2
    variance = np.nansum((np.nanmean(jf) - jf) ** 2) / jf.shape[0]
    j_mean, f_mean = float(np.nanmean(j)), float(np.nanmean(f))
    return {"J": j_mean, "F": f_mean, "J&F": (j_mean + f_mean) / 2, "V": math.sqrt(round(variance, 4)),
            "slots": int(j.shape[0]), "unseen": unseen}


def evaluate_lvos_video(video: LvosVideo, predictions_dir: str | Path) -> dict[str, dict]:
    """``"<video>_<position>"`` -> `object_row` of every object (meta order). Each ground-truth and
    prediction PNG is read once, for all objects scored on it."""
    predictions_dir = Path(predictions_dir)
    radius = boundary_radius(tuple(video.size))
    slots = {i: dict((number, slot) for slot, number in scored_slots(video, i)) for i in video.meta_order}
    j = {i: np.zeros(video.ranges[i].frame_nums - 2) for i in video.meta_order}
    f = {i: np.zeros(video.ranges[i].frame_nums - 2) for i in video.meta_order}
    for number in scored_numbers(video):
        gt = video.annotation(video.frame_index(number))
        pred = read_prediction(predictions_dir, video, number)
        for i in video.meta_order:
            if number in slots[i]:
                j[i][slots[i][number]], f[i][slots[i][number]] = mask_scores(gt == i, pred == i, radius)
    return {f"{video.name}_{position + 1}": object_row(j[i], f[i], bool(video.unseen))
            for position, i in enumerate(video.meta_order)}


@dataclass
class LvosResult(OwnRulesResult):
    """Scores of one LVOS evaluation: ``metrics`` the official global columns (`GLOBAL_COLUMNS`; NaN where
    the tool gives NaN, e.g. no unseen video), ``per_object`` ``"<video>_<position>"`` -> ``{"J", "F",
    "J&F", "V", "slots", "unseen"}``."""

    dataset: ClassVar[str] = "lvos"

    def global_csv(self) -> str:
        """``global_results-<split>.csv`` text as the tool writes it (``%.3f``)."""
        return csv_text([GLOBAL_COLUMNS, [format_3f(self.metrics[c]) for c in GLOBAL_COLUMNS]])

    def per_sequence_csv(self) -> str:
        """``per-sequence_results-<split>.csv`` text as the tool writes it (one row per object, ``%.3f``)."""
        return csv_text([PER_SEQUENCE_COLUMNS] + [[key, format_3f(row["J"]), format_3f(row["F"]), format_3f(row["V"])]
                                                  for key, row in self.per_object.items()])

    def official_files(self, split: str) -> list[tuple[str, str]]:
        """The two official CSVs (``global_results-<split>.csv``, ``per-sequence_results-<split>.csv``)."""
        return [(f"global_results-{split}.csv", self.global_csv()),
                (f"per-sequence_results-{split}.csv", self.per_sequence_csv())]


def evaluate_lvos(videos: Sequence[LvosVideo], predictions_dir: str | Path, workers: int | None = None,
                  progress: bool = False) -> LvosResult:
    """Score LVOS predictions in ``predictions_dir`` (``<dir>/<video>/<frame:08d>.png``).

    Args:
        videos: the `LvosVideo` objects to score (e.g. ``read_videos("lvos", root, split)``); each needs
            ``unseen`` set (the split's ``unseen_videos.txt``).
        workers: processes scoring videos in parallel (default ``min(8, cpu count)``; 1 = in-process).
        progress: show a tqdm bar over videos (stderr).

    Raises:
        PredictionError: a missing prediction folder or PNG, a wrong size or an RGB prediction.
        DatasetError: no videos, or no unseen list.
    """
    videos = list(videos)
    predictions_dir = prediction_folder(videos, predictions_dir, "LVOS", LVOS_PREDICTION_LAYOUT)
    if any(video.unseen is None for video in videos):
        raise DatasetError("LVOS scoring needs the split's unseen_videos.txt (ROOT/<split>/unseen_videos.txt, "
                           "one name per line; copy it from the official evaluation tool) to tell seen from unseen")
    check_lvos_predictions(videos, predictions_dir)
    results = map_videos(evaluate_lvos_video, videos, (predictions_dir,), workers, progress)
    per_object = {key: row for rows in results for key, row in rows.items()}
    return LvosResult(global_scores(per_object), per_object)


def global_scores(per_object: dict[str, dict]) -> dict[str, float]:
    """The official global columns from the per-object rows (seen / unseen means, then their means)."""
    means = {}
    for name in ("J", "F", "V"):
        means[f"{name}-seen-Mean"] = nan_mean([row[name] for row in per_object.values() if not row["unseen"]])
        means[f"{name}-unseen-Mean"] = nan_mean([row[name] for row in per_object.values() if row["unseen"]])
        means[f"{name}-Mean"] = (means[f"{name}-seen-Mean"] + means[f"{name}-unseen-Mean"]) / 2
    means["J&F-Mean"] = ((means["J-seen-Mean"] + means["F-seen-Mean"])
                         + (means["J-unseen-Mean"] + means["F-unseen-Mean"])) / 4.0
    return {column: means[column] for column in GLOBAL_COLUMNS}


def run_cli(args) -> int:
    """``python -m evaluation.vos --dataset lvos ...`` (parsed by `evaluation.vos.parse_args`): score, write
    ``results.json`` and the official CSVs into ``--output`` (default ``--predictions``), print the scores."""
    scored = read_and_score("lvos", args, evaluate_lvos)
    if scored is None:
        return 2
    videos, result, paths = scored
    form = "{:.3f}" if args.rounded else "{}"
    for column in GLOBAL_COLUMNS:
        print(f"{column}: {form.format(result.metrics[column])}")
    print(f"{len(result.per_object)} objects in {len(videos)} videos; written: " + ", ".join(map(str, paths)))
    return 0
