"""Straightforward LVOS J/F/V reference, written from the rules in `evaluation.lvos`'s docstring.

It walks the meta file the way the official LVOS evaluator does (videos sorted, objects in file order, each
object's ``range(start, end, 5)`` with the first and counter ``frame_nums - 1`` skipped, unreached slots 0),
reads the ground-truth and prediction PNG again for every object, and scores full frames with
`reference.davis_metrics` (boundary maps and skimage disks rebuilt on every call), one process. It is the
baseline of the LVOS scoring benchmark (``scripts/bench/lvos.py``) when no official checkout is given. Do
not use it for real evaluations.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from reference.davis_metrics import reference_f, reference_iou


def reference_object(split_dir: Path, predictions: Path, video: str, key: str, span: dict) -> dict[str, float]:
    """{"J", "F", "V"} of object ``key`` of ``video`` with meta ``frame_range`` ``span``."""
    count = int(span["frame_nums"])
    j, f = np.zeros(count - 2), np.zeros(count - 2)
    for counter, number in enumerate(range(int(span["start"]), int(span["end"]), 5)):
        if counter in (0, count - 1):
            continue
        gt = np.array(Image.open(split_dir / "Annotations" / video / f"{number:08d}.png")) == int(key)
        pred = np.array(Image.open(predictions / video / f"{number:08d}.png")) == int(key)
        j[counter - 1], f[counter - 1] = reference_iou(gt, pred), reference_f(gt, pred)
    jf = (j + f) / 2
    return {"J": float(np.mean(j)), "F": float(np.mean(f)),
            "V": math.sqrt(round(np.sum((np.mean(jf) - jf) ** 2) / jf.size, 4))}


def reference_lvos(split_dir: Path, predictions: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(global columns, {"<video>_<position>": {"J", "F", "V"}}) of every video of ``split_dir``'s meta file,
    as fractions; seen / unseen from ``split_dir/unseen_videos.txt``."""
    split_dir, predictions = Path(split_dir), Path(predictions)
    meta = json.loads((split_dir / f"{split_dir.name}_meta.json").read_text())["videos"]
    unseen = set((split_dir / "unseen_videos.txt").read_text().split())
    per_object, groups = {}, {False: [], True: []}
    for video in sorted(meta):
        for position, (key, value) in enumerate(meta[video]["objects"].items()):
            row = reference_object(split_dir, predictions, video, key, value["frame_range"])
            per_object[f"{video}_{position + 1}"] = row
            groups[video in unseen].append(row)
    scores = {}
    for name in ("J", "F", "V"):
        scores[f"{name}-seen-Mean"] = float(np.mean([row[name] for row in groups[False]]))
        scores[f"{name}-unseen-Mean"] = float(np.mean([row[name] for row in groups[True]]))
        scores[f"{name}-Mean"] = (scores[f"{name}-seen-Mean"] + scores[f"{name}-unseen-Mean"]) / 2
    scores["J&F-Mean"] = (scores["J-seen-Mean"] + scores["F-seen-Mean"] + scores["J-unseen-Mean"]
                          + scores["F-unseen-Mean"]) / 4
    return scores, per_object
