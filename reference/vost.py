"""Straightforward VOST J reference, written from the rules in `evaluation.vost`'s docstring.

It walks the folders as the official VOST evaluator does (the split list, each video's annotation PNGs
sorted by name, the first and last dropped), reads every ground-truth and prediction PNG once per object
as a whole image and scores full frames with `reference.davis_metrics.reference_iou` and
`reference_statistics`, one process. It is the baseline of the VOST scoring benchmark
(``scripts/bench/vost.py``) when no official checkout is given. Do not use it for real evaluations.
"""
from __future__ import annotations

from math import floor
from pathlib import Path

import numpy as np
from PIL import Image

from reference.davis_metrics import reference_iou, reference_statistics

NAMES = ("J-Mean", "J-Recall", "J-Decay", "J_last-Mean", "J_last-Recall", "J_last-Decay")


def reference_video(gt_folder: Path, pred_folder: Path) -> dict[str, dict[str, float]]:
    """``"<video>_<id>"`` -> the six `NAMES` of every object 1..N of one video."""
    names = sorted(p.name for p in gt_folder.iterdir() if p.suffix == ".png")
    first = np.array(Image.open(gt_folder / names[0]))
    count = int(np.where(first == 255, 0, first).max())
    names = names[1:-1]
    last = int(floor(len(names) * 0.75))
    rows = {}
    for object_id in range(1, count + 1):
        j = []
        for name in names:
            gt = np.array(Image.open(gt_folder / name))
            pred = np.array(Image.open(pred_folder / name))
            j.append(reference_iou(np.where(gt == 255, 0, gt) == object_id, pred == object_id))
        values = reference_statistics(np.array(j)) + reference_statistics(np.array(j[last:]))
        rows[f"{gt_folder.name}_{object_id}"] = dict(zip(NAMES, map(float, values)))
    return rows


def reference_vost(root: Path, predictions: Path, split: str = "val"
                   ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(global {NAMES}, per_object {"<video>_<id>": {NAMES}}) of ``root``'s ``split``, as fractions."""
    videos = (Path(root) / "ImageSets" / f"{split}.txt").read_text().split()
    per_object = {}
    for video in videos:
        per_object.update(reference_video(Path(root) / "Annotations" / video, Path(predictions) / video))
    return {name: float(np.mean([row[name] for row in per_object.values()])) for name in NAMES}, per_object
