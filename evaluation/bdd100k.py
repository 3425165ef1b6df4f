"""BDD100K VOS scoring (the authors' conversion of MOTS 2020 val), equal to the authors' BDD100K evaluator.

Command line (through the VOS evaluator)::

    python -m evaluation.vos --dataset bdd100k --root ROOT --split val --predictions DIR [--output DIR] [--workers N]

Python: :func:`evaluate_bdd100k` on the `datasets.bdd100k.Bdd100kVideo` objects of `datasets.bdd100k.Bdd100kReader`,
returning a `Bdd100kResult`. Predictions: ``DIR/<seq>/<frame>.png`` label maps with the ground-truth ids (16-bit
PNGs for ids above 255) for every frame; or, the tool's ``--object_overlapping_allowed`` mode, each object's own
mask ``DIR/<seq>/<obj:03d>/<frame>.png`` (binary, any nonzero pixel; what a run with
``dataset.save_overlapping_masks`` writes): the mode follows the layout of the first sequence's folder.

What the official tool does (SysCV/sam-pt at commit 874ff7e, ``sam_pt/vos_eval/bdd100keval.py``,
``BDD100KEvaluator`` with its defaults, J and F of davis2017-evaluation's ``db_eval_iou`` / ``db_eval_boundary``
and ``db_statistics``), and what this module does; ``tests/evaluation/test_official_bdd100k.py`` compares with
its recorded output (``tests/fixtures/official_bdd100k``) to 1e-9:

* Sequences: the ``Annotations`` folders, sorted; objects: ids 1..N, N the largest id of the sequence (the
  reader checks every id appears). Ground truth and prediction are compared with the id (``== id``), no void.
* Frames: an object is scored from the frame after the ground truth first shows it to the last frame. Its
  ``n_frames`` counts those frames plus its first one, ``visible_frames`` those where the ground truth shows it
  plus its first one, ``nonvisible_frames`` the rest. An object first shown on the last frame gets J = F = 1
  (all, visible and non-visible), ``n_frames`` = ``visible_frames`` = 1.
* Per frame: DAVIS J (1 when both masks are empty) and F (tolerance ceil(0.008 * diagonal)):
  `evaluation.davis_metrics.mask_scores`, reused here. Per object: Mean / Recall / Decay of J and F over its
  frames (`evaluation.davis_metrics.object_statistics`), and the mean J and F over its visible (``-Vis``) and
  non-visible (``-NonVis``) frames (NaN without such frames).
* Global (its ``global_results.csv``): flat means over all objects of all sequences: ``J-Mean``,
  ``J-Recall``, ``J-Decay``, ``F-*`` likewise (NaN Decays, objects of one scored frame, make them NaN);
  ``-Vis`` / ``-NonVis`` means skip NaN; ``-Short``, ``-Medium``, ``-Long`` are the means of ``J-Mean`` and
  ``F-Mean`` over the objects with ``visible_frames`` < 5, 5..29, >= 30 (NaN for none); each ``J&F`` is half
  the J plus half the F.
* Label maps whose values over the whole sequence are exactly {0, 255} are divided by 255 (object 1); a
  prediction id above N stops the tool (here a `PredictionError` naming the file).
* Outputs: ``global_results.csv`` (a pandas Series of one-element lists: ``<column>,[np.float64(<repr>)]``, as
  the tool writes it under numpy 2) and ``per-sequence_results.csv`` (one row per object ``<seq>_<id>``,
  ``%.3f``, NaN empty) beside ``results.json``, which holds every value unrounded.

Where this module differs, on purpose: a missing prediction PNG is read by the tool as an empty mask (when the
folder holds another frame) and a missing sequence folder stops it; here a `PredictionError` names the file
before anything is scored. The tool asserts that no annotation holds 255 (DAVIS's void), which stops every
sequence of 255 objects or more; here ids above 255 are scored like any other (recorded with that assertion
lifted). The tool's other result formats (SegGPT ``.pt`` files) are not read.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np
from scipy import ndimage

from datasets.bdd100k import Bdd100kVideo
from evaluation.davis_metrics import boundary_radius, mask_scores, object_statistics
from evaluation.scoring import (OwnRulesResult, PredictionError, csv_text, format_3f, map_videos, nan_mean,
                                prediction_folder, read_and_score, read_prediction_labels, require_predictions)

BDD100K_PREDICTION_LAYOUT = """\
PREDICTIONS/<seq>/<frame>.png           (label maps at annotation size, ids as in the GT), or
PREDICTIONS/<seq>/<obj:03d>/<frame>.png (each object's own mask: the overlapping mode)"""
#: the official global columns, in the order of its ``global_results.csv``
GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay",
                  "J&F-Mean-Vis", "J-Mean-Vis", "F-Mean-Vis", "J&F-Mean-NonVis", "J-Mean-NonVis", "F-Mean-NonVis",
                  "J&F-Mean-Short", "J-Mean-Short", "F-Mean-Short", "J&F-Mean-Medium", "J-Mean-Medium",
                  "F-Mean-Medium", "J&F-Mean-Long", "J-Mean-Long", "F-Mean-Long")
#: the official per-object columns (``per-sequence_results.csv`` after ``Sequence``)
PER_OBJECT_COLUMNS = ("J-Mean", "F-Mean", "J-Mean-Vis", "F-Mean-Vis", "J-Mean-NonVis", "F-Mean-NonVis", "n_frames",
                      "visible_frames", "nonvisible_frames", "short-medium-long")
SHORT_OBJECT_THRESHOLD = 5  # visible frames below: a short object
LONG_OBJECT_THRESHOLD = 30  # visible frames from: a long object


def label_map_path(predictions_dir: Path, video: Bdd100kVideo, index: int) -> Path:
    return predictions_dir / video.name / f"{video.frame_names[index]}.png"


def object_mask_path(predictions_dir: Path, video: Bdd100kVideo, object_id: int, index: int) -> Path:
    return predictions_dir / video.name / video.object_folder(object_id) / f"{video.frame_names[index]}.png"


def is_overlapping(videos: Sequence[Bdd100kVideo], predictions_dir: Path) -> bool:
    """The overlapping mode: the first sequence's prediction folder holds per-object folders."""
    folder = predictions_dir / videos[0].name
    return folder.is_dir() and any(entry.is_dir() for entry in folder.iterdir())


def check_bdd100k_predictions(videos: Sequence[Bdd100kVideo], predictions_dir: Path, overlapping: bool) -> None:
    """Fail before any scoring when a sequence's prediction folder or one of its PNGs is missing."""
    for video in videos:
        frames = range(video.num_frames)
        paths = ([object_mask_path(predictions_dir, video, i, t) for i in video.object_ids for t in frames]
                 if overlapping else [label_map_path(predictions_dir, video, t) for t in frames])
        require_predictions(video.name, predictions_dir / video.name, paths,
                            "every frame (of every object, in the overlapping mode) must be predicted",
                            BDD100K_PREDICTION_LAYOUT)


def _crop(boxes: Sequence, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The union of the (y, x) slice pairs ``boxes`` (None: empty) grown by 2 pixels, clipped to ``shape``: the
    masks' J and F on it equal those on the whole frame (`evaluation.davis_metrics` crops the same way)."""
    found = [box for box in boxes if box is not None]
    y0, x0 = min(box[0].start for box in found), min(box[1].start for box in found)
    y1, x1 = max(box[0].stop for box in found), max(box[1].stop for box in found)
    return slice(max(y0 - 2, 0), min(y1 + 2, shape[0])), slice(max(x0 - 2, 0), min(x1 + 2, shape[1]))


def _score_frame(scores: np.ndarray, t: int, gt: np.ndarray, masks, first: np.ndarray, radius: float) -> None:
    """Fill ``scores[:, k, t]`` (J, F, GT visible) of every object k scored on frame ``t`` (``first[k] < t``).
    ``masks``: (H, W) label map (object k is ``== k + 1``) or object index -> (H, W) bool mask."""
    gt_boxes = ndimage.find_objects(gt, max_label=len(first))
    label_map = isinstance(masks, np.ndarray)
    pred_boxes = ndimage.find_objects(masks, max_label=len(first)) if label_map else None
    for k in np.flatnonzero(first < t):
        pred = None if label_map else masks[k]
        box = pred_boxes[k] if label_map else ndimage.find_objects(pred.view(np.uint8), max_label=1)[0]
        scores[2, k, t] = gt_boxes[k] is not None
        if gt_boxes[k] is None and box is None:
            scores[:2, k, t] = 1.0
            continue
        crop = _crop((gt_boxes[k], box), gt.shape)
        predicted = masks[crop] == k + 1 if label_map else pred[crop]
        scores[:2, k, t] = mask_scores(gt[crop] == k + 1, predicted, radius)


def _score_label_maps(video: Bdd100kVideo, predictions_dir: Path, divide: bool) -> tuple[np.ndarray, bool, Path | None]:
    """((3, N, T) J, F, visible; whether the maps hold exactly the values {0, 255}; the first map holding an id
    above N, or None). ``divide``: read 255 as 1 (the tool's rule for 0/255 maps)."""
    first = np.array([obj.first_frame for obj in video.objects])
    scores = np.full((3, len(first), video.num_frames), np.nan)
    radius = boundary_radius(tuple(video.size))
    seen, only_0_255, above = set(), True, None
    for t in range(video.num_frames):
        path = label_map_path(predictions_dir, video, t)
        pred = read_prediction_labels(path, video.name, video.size, wide=True)
        zero, full = pred == 0, pred == 255
        only_0_255 = only_0_255 and bool((zero | full).all())
        seen.update(value for value, flags in ((0, zero), (255, full)) if flags.any())
        if divide:
            pred = full.view(np.uint8)
        if above is None and int(pred.max(initial=0)) > len(first):
            above = path
        _score_frame(scores, t, video.annotation(t), pred, first, radius)
    return scores, only_0_255 and seen == {0, 255}, above


def _score_object_masks(video: Bdd100kVideo, predictions_dir: Path) -> np.ndarray:
    """(3, N, T) J, F, visible of each object's own predicted masks (the overlapping mode)."""
    from datasets.png import read_label_png

    first = np.array([obj.first_frame for obj in video.objects])
    scores = np.full((3, len(first), video.num_frames), np.nan)
    radius = boundary_radius(tuple(video.size))
    for t in range(video.num_frames):
        masks = {}
        for k in np.flatnonzero(first < t):
            path = object_mask_path(predictions_dir, video, k + 1, t)
            masks[k] = read_label_png(path) > 0
            if masks[k].shape != tuple(video.size):
                raise PredictionError(f"video {video.name}: prediction {path} is {masks[k].shape[1]}x"
                                      f"{masks[k].shape[0]} but the ground truth is {video.size[1]}x{video.size[0]}")
        _score_frame(scores, t, video.annotation(t), masks, first, radius)
    return scores


def _nanmean(values: np.ndarray) -> float:
    """``np.nanmean`` (NaN without a warning when no value is finite)."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def object_row(j: np.ndarray, f: np.ndarray, visible: np.ndarray, first: int) -> dict:
    """One object's numbers (`PER_OBJECT_COLUMNS` but ``short-medium-long``, `length_class` of ``visible_frames``;
    and the Recall / Decay columns; None for the mean over no visible / non-visible frame, the tool's NaN) from
    its (T,) per-frame J, F and GT-visible flags, scored from frame ``first + 1`` on."""
    if first == len(j) - 1:  # first shown on the last frame: the tool gives J = F = 1, visible and not
        j = f = np.ones(1)
        visible = nonvisible = np.ones(1, bool)
        counts = (1, 1)
    else:
        j, f, visible = j[first + 1:], f[first + 1:], visible[first + 1:] > 0
        nonvisible = ~visible
        counts = (len(j) + 1, int(visible.sum()) + 1)
    row = {}
    for name, values in (("J", j), ("F", f)):
        row[f"{name}-Mean"], row[f"{name}-Recall"], row[f"{name}-Decay"] = object_statistics(values)
        row[f"{name}-Mean-Vis"] = float(np.nanmean(values[visible])) if visible.any() else None
        row[f"{name}-Mean-NonVis"] = float(np.nanmean(values[nonvisible])) if nonvisible.any() else None
    row.update({"n_frames": counts[0], "visible_frames": counts[1], "nonvisible_frames": counts[0] - counts[1]})
    return row


def length_class(visible_frames: int) -> str:
    """The tool's ``short-medium-long`` column: by the object's visible frames."""
    return ("short" if visible_frames < SHORT_OBJECT_THRESHOLD else "medium" if visible_frames < LONG_OBJECT_THRESHOLD
            else "long")


def evaluate_bdd100k_video(video: Bdd100kVideo, predictions_dir: str | Path, overlapping: bool) -> dict[str, dict]:
    """``"<seq>_<id>"`` -> `object_row` of every object (ids 1..N). Each ground-truth and prediction PNG is read
    once (twice for label maps of only 0 and 255, read again as object 1)."""
    predictions_dir = Path(predictions_dir)
    if overlapping:
        scores = _score_object_masks(video, predictions_dir)
    else:
        scores, binary, above = _score_label_maps(video, predictions_dir, divide=False)
        if binary:
            scores, _, above = _score_label_maps(video, predictions_dir, divide=True)
        if above is not None:
            raise PredictionError(f"video {video.name}: prediction {above} holds an id above {len(video.objects)}, "
                                  "the largest ground-truth id; predictions must keep the ground-truth ids")
    return {f"{video.name}_{obj.id}": object_row(scores[0, k], scores[1, k], scores[2, k], obj.first_frame)
            for k, obj in enumerate(video.objects)}


def global_scores(per_object: dict[str, dict]) -> dict[str, float]:
    """The official global columns (`GLOBAL_COLUMNS`) from the per-object rows, as the tool computes them."""
    rows = list(per_object.values())

    def column(name: str) -> np.ndarray:
        return np.array([math.nan if row[name] is None else row[name] for row in rows], dtype=np.float64)

    scores = {}
    for name in ("J", "F"):
        for statistic in ("Mean", "Recall", "Decay"):
            scores[f"{name}-{statistic}"] = float(np.mean(column(f"{name}-{statistic}")))
        for part in ("Vis", "NonVis"):
            scores[f"{name}-Mean-{part}"] = _nanmean(column(f"{name}-Mean-{part}"))
    visible = column("visible_frames")
    groups = {"Short": visible < SHORT_OBJECT_THRESHOLD, "Long": visible >= LONG_OBJECT_THRESHOLD,
              "Medium": (visible >= SHORT_OBJECT_THRESHOLD) & (visible < LONG_OBJECT_THRESHOLD)}
    for group, selected in groups.items():
        for name in ("J", "F"):
            scores[f"{name}-Mean-{group}"] = nan_mean(column(f"{name}-Mean")[selected])
        scores[f"J&F-Mean-{group}"] = scores[f"J-Mean-{group}"] / 2. + scores[f"F-Mean-{group}"] / 2.
    scores["J&F-Mean"] = (scores["J-Mean"] + scores["F-Mean"]) / 2.
    for part in ("Vis", "NonVis"):
        scores[f"J&F-Mean-{part}"] = (scores[f"J-Mean-{part}"] + scores[f"F-Mean-{part}"]) / 2.
    return {name: scores[name] for name in GLOBAL_COLUMNS}


@dataclass
class Bdd100kResult(OwnRulesResult):
    """Scores of one BDD100K evaluation: ``metrics`` the official global columns (`GLOBAL_COLUMNS`, NaN where the
    tool gives NaN), ``per_object`` ``"<seq>_<id>"`` -> `object_row` (numbers or None); ``overlapping``: the mode."""

    dataset: ClassVar[str] = "bdd100k"
    overlapping: bool = False

    def extra(self) -> dict:
        return {"object_overlapping_allowed": self.overlapping}

    def global_csv(self) -> str:
        """``global_results.csv`` text as the tool writes it (pandas, numpy 2: a Series of one-element lists)."""
        return csv_text([("", "0")] + [(name, f"[np.float64({self.metrics[name]!r})]") for name in GLOBAL_COLUMNS])

    def per_sequence_csv(self) -> str:
        """``per-sequence_results.csv`` text as the tool writes it (one row per object, ``%.3f``, NaN empty)."""
        def cells(row: dict) -> list[str]:
            values = [row[name] for name in PER_OBJECT_COLUMNS[:-1]] + [length_class(row["visible_frames"])]
            return [str(value) if isinstance(value, (int, str)) else format_3f(value) for value in values]

        return csv_text([("Sequence",) + PER_OBJECT_COLUMNS] + [[key] + cells(row) for key, row in self.per_object.items()])

    def official_files(self, split: str) -> list[tuple[str, str]]:
        """``global_results.csv`` and ``per-sequence_results.csv``, as the tool writes them."""
        return [("global_results.csv", self.global_csv()), ("per-sequence_results.csv", self.per_sequence_csv())]


def evaluate_bdd100k(videos: Sequence[Bdd100kVideo], predictions_dir: str | Path, workers: int | None = None,
                     progress: bool = False, overlapping: bool | None = None) -> Bdd100kResult:
    """Score BDD100K predictions in ``predictions_dir``.

    Args:
        videos: the `Bdd100kVideo` objects to score (e.g. ``read_videos("bdd100k", root, "val")``).
        workers: processes scoring sequences in parallel (default ``min(8, cpu count)``; 1 = in-process).
        progress: show a tqdm bar over sequences (stderr).
        overlapping: the tool's ``object_overlapping_allowed`` mode (per-object masks); None: `is_overlapping`.

    Raises:
        PredictionError: a missing prediction folder or PNG, a wrong size, an RGB map or an id above the GT's.
        DatasetError: no videos.
    """
    videos = list(videos)
    predictions_dir = prediction_folder(videos, predictions_dir, "BDD100K", BDD100K_PREDICTION_LAYOUT)
    overlapping = is_overlapping(videos, predictions_dir) if overlapping is None else bool(overlapping)
    check_bdd100k_predictions(videos, predictions_dir, overlapping)
    results = map_videos(evaluate_bdd100k_video, videos, (predictions_dir, overlapping), workers, progress)
    per_object = {key: row for rows in results for key, row in rows.items()}
    return Bdd100kResult(global_scores(per_object), per_object, overlapping)


def run_cli(args) -> int:
    """``python -m evaluation.vos --dataset bdd100k ...`` (parsed by `evaluation.vos.parse_args`): score, write
    ``results.json`` and the official CSVs into ``--output`` (default ``--predictions``), print the scores."""
    scored = read_and_score("bdd100k", args, evaluate_bdd100k)
    if scored is None:
        return 2
    videos, result, paths = scored
    for name in GLOBAL_COLUMNS:
        print(f"{name}: {result.metrics[name]}")
    mode = " (overlapping masks)" if result.overlapping else ""
    print(f"{len(result.per_object)} objects in {len(videos)} videos{mode}; written: " + ", ".join(map(str, paths)))
    return 0
