"""Straightforward BDD100K reference, written from the rules in `evaluation.bdd100k`'s docstring (label maps).

It loads each sequence's ground truth and predictions whole (every PNG as a full array), and for every id 1..N
finds its first frame, then scores every later frame on full frames with `reference.davis_metrics` (boundary maps
and skimage disks rebuilt on every call), splits the frames into visible and not, and averages flat over the
objects, in one process. It is the baseline of the BDD100K scoring benchmark (``scripts/bench/bdd100k.py``) when
no official checkout is given. Do not use it for real evaluations.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from reference.davis_metrics import reference_f, reference_iou, reference_statistics


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def reference_object(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """One object's numbers from its (T, H, W) bool ground-truth and predicted masks."""
    shown = [bool(frame.any()) for frame in gt]
    first = shown.index(True)
    if first == len(gt) - 1:
        j = f = [1.0]
        visible, nonvisible, n_frames, n_visible = [1.0], [1.0], 1, 1
    else:
        frames = range(first + 1, len(gt))
        j = [reference_iou(gt[t], pred[t]) for t in frames]
        f = [reference_f(gt[t], pred[t]) for t in frames]
        flags = [shown[t] for t in frames]
        n_frames, n_visible = len(j) + 1, sum(flags) + 1
    row = {"n_frames": n_frames, "visible_frames": n_visible, "nonvisible_frames": n_frames - n_visible}
    for name, values in (("J", j), ("F", f)):
        row[f"{name}-Mean"], row[f"{name}-Recall"], row[f"{name}-Decay"] = reference_statistics(np.array(values))
        if n_frames == 1:
            row[f"{name}-Mean-Vis"] = row[f"{name}-Mean-NonVis"] = 1.0
        else:
            row[f"{name}-Mean-Vis"] = _mean([v for v, s in zip(values, flags) if s] or [math.nan])
            row[f"{name}-Mean-NonVis"] = _mean([v for v, s in zip(values, flags) if not s] or [math.nan])
    return row


def reference_bdd100k(split_dir: Path, predictions: Path) -> tuple[dict[str, float], dict[str, dict]]:
    """(global columns, {"<seq>_<id>": numbers}) of the label-map ``predictions`` of every sequence of
    ``split_dir/Annotations``."""
    per_object = {}
    for sequence in sorted(p.name for p in (Path(split_dir) / "Annotations").iterdir()):
        names = sorted(p.name for p in (Path(split_dir) / "Annotations" / sequence).glob("*.png"))
        gt = np.stack([np.array(Image.open(Path(split_dir) / "Annotations" / sequence / n)) for n in names])
        pred = np.stack([np.array(Image.open(Path(predictions) / sequence / n)) for n in names]).astype(np.int64)
        if set(np.unique(pred).tolist()) == {0, 255}:
            pred = pred // 255
        for object_id in range(1, int(gt.max()) + 1):
            per_object[f"{sequence}_{object_id}"] = reference_object(gt == object_id, pred == object_id)
    rows = list(per_object.values())
    scores = {}
    for name in ("J", "F"):
        for column in ("Mean", "Recall", "Decay"):
            scores[f"{name}-{column}"] = float(np.mean([row[f"{name}-{column}"] for row in rows]))
        for part in ("Vis", "NonVis"):
            scores[f"{name}-Mean-{part}"] = _mean([row[f"{name}-Mean-{part}"] for row in rows])
        for group, low, high in (("Short", 0, 5), ("Medium", 5, 30), ("Long", 30, math.inf)):
            chosen = [row[f"{name}-Mean"] for row in rows if low <= row["visible_frames"] < high]
            scores[f"{name}-Mean-{group}"] = float(np.mean(chosen)) if chosen else math.nan
    for suffix in ("", "-Vis", "-NonVis", "-Short", "-Medium", "-Long"):
        scores[f"J&F-Mean{suffix}"] = (scores[f"J-Mean{suffix}"] + scores[f"F-Mean{suffix}"]) / 2
    return scores, per_object
