"""Straightforward SA-V J/F reference, written from the rules in `evaluation.sav`'s docstring.

It walks the folders the way the official SA-V evaluator does (every object folder of every ground-truth
video, its PNG files sorted, first and last skipped unless asked), reads every mask twice as a whole
image and scores full frames with `reference.davis_metrics` (boundary maps and skimage disks rebuilt on
every call), one process. It is the baseline of the SA-V scoring benchmark (``scripts/bench/sav.py``)
when no official checkout is given. Do not use it for real evaluations.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from reference.davis_metrics import reference_f, reference_iou


def reference_object(gt_folder: Path, pred_folder: Path, skip_first_and_last: bool) -> tuple[list, list, bool]:
    """Per-frame J and F of one object from the first frame the GT or prediction shows it, and whether the
    GT shows it on any evaluated frame."""
    names = sorted(p.name for p in gt_folder.iterdir() if p.suffix == ".png")
    if skip_first_and_last:
        names = names[1:-1]
    j, f, started, seen = [], [], False, False
    for name in names:
        gt = np.array(Image.open(gt_folder / name)) > 0
        pred = np.array(Image.open(pred_folder / name)) > 0
        seen = seen or bool(gt.any())
        started = started or bool(gt.any()) or bool(pred.any())
        if started:
            j.append(reference_iou(gt, pred))
            f.append(reference_f(gt, pred))
    return j, f, seen


def reference_sav(annotations: Path, predictions: Path, videos: list[str],
                  skip_first_and_last: bool = True) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """({"J&F", "J", "F"}, {"<video>_<obj>": {"J", "F"}}) of the ``videos`` under ``annotations``
    (``<video>/<obj:03d>/<frame>.png``), as fractions; objects the GT never shows are left out."""
    per_object = {}
    for video in videos:
        for folder in sorted(p for p in (Path(annotations) / video).iterdir() if p.is_dir()):
            j, f, seen = reference_object(folder, Path(predictions) / video / folder.name, skip_first_and_last)
            if seen:
                per_object[f"{video}_{folder.name}"] = {"J": float(np.mean(j)), "F": float(np.mean(f))}
    j_mean = float(np.mean([row["J"] for row in per_object.values()]))
    f_mean = float(np.mean([row["F"] for row in per_object.values()]))
    return {"J&F": (j_mean + f_mean) / 2, "J": j_mean, "F": f_mean}, per_object
