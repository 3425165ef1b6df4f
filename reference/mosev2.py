"""Straightforward MOSEv2 reference, written from the rules in `evaluation.mosev2`'s docstring.

It walks the meta file (videos sorted, objects in file order), reads the ground-truth and prediction PNG again
for every object and frame 1..length-2, scores full frames (the smoothed J, and the boundary F of
`reference.davis_metrics` at the classic and the adaptive radius, skimage disks rebuilt on every call), finds
the disappearance / reappearance segments with a plain loop over the frames, and averages flat over the
objects, in one process. It is the baseline of the MOSEv2 scoring benchmark (``scripts/bench/mosev2.py``) when
no official checkout is given. Do not use it for real evaluations.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from reference.davis_metrics import reference_f


def reference_frame(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float, float, bool]:
    """(J, F_new, F, GT empty) of two (H, W) bool masks."""
    union = int(np.sum(gt | pred))
    j = 1.0 if union == 0 else (int(np.sum(gt & pred)) + 1) / (union + 1)
    limit = 0.008 * math.hypot(*gt.shape)
    area = int(gt.sum())
    adaptive = min(limit, math.ceil(0.1 * (math.sqrt(area) if area else math.hypot(*gt.shape))))
    if adaptive < limit:
        f_new, f = reference_f(gt, pred, radius=adaptive), reference_f(gt, pred, radius=math.ceil(limit))
    else:
        f_new = f = reference_f(gt, pred, radius=limit)
    return j, f_new, f, area == 0


def reference_segments(j: list[float], f: list[float], empty: list[bool]) -> tuple[list, list]:
    """([(J, F_new) mean of each disappearance segment], [... of each reappearance segment])."""
    disappear, reappear, current = [], [], None
    for t in range(len(empty)):
        if t == 0 or empty[t] != empty[t - 1]:
            current = None if t == 0 else ([], [])
            if current is not None:
                (disappear if empty[t] else reappear).append(current)
        if current is not None:
            current[0].append(j[t])
            current[1].append(f[t])
    return ([(np.mean(a), np.mean(b)) for a, b in disappear], [(np.mean(a), np.mean(b)) for a, b in reappear])


def reference_object(split_dir: Path, predictions: Path, video: str, length: int, key: str) -> dict:
    """One object's {J, F_new, F, disappear: [...], reappear: [...]} (segment (J, F_new) means)."""
    scores = []
    for t in range(1, length - 1):
        gt = np.array(Image.open(split_dir / "Annotations" / video / f"{t:05d}.png")) == int(key)
        pred = np.array(Image.open(predictions / video / f"{t:05d}.png")) == int(key)
        scores.append(reference_frame(gt, pred))
    if not scores:
        return {"J": 0.0, "F_new": 0.0, "F": 0.0, "disappear": [], "reappear": []}
    j, f_new, f, empty = (list(column) for column in zip(*scores))
    disappear, reappear = reference_segments(j, f_new, empty)
    return {"J": np.mean(j), "F_new": np.mean(f_new), "F": np.mean(f), "disappear": disappear, "reappear": reappear}


def _pair_mean(pairs: list) -> tuple[float | None, float | None]:
    return (None, None) if not pairs else (float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs])))


def reference_mosev2(split_dir: Path, predictions: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(global numbers, {"<video>_<id>": {J, F_new, F}}) of every video of ``split_dir/meta.json``, as fractions."""
    split_dir, predictions = Path(split_dir), Path(predictions)
    meta = json.loads((split_dir / "meta.json").read_text())["videos"]
    per_object, segment_means = {}, {"disappear": [], "reappear": []}
    for video in sorted(meta):
        for key in meta[video]["objects"]:
            row = reference_object(split_dir, predictions, video, int(meta[video]["length"]), str(key))
            per_object[f"{video}_{key}"] = {name: float(row[name]) for name in ("J", "F_new", "F")}
            for kind in segment_means:
                if row[kind]:
                    segment_means[kind].append(_pair_mean(row[kind]))
    j, f_new, f = (float(np.mean([row[n] for row in per_object.values()])) for n in ("J", "F_new", "F"))
    scores = {"J&F_new": (j + f_new) / 2, "J": j, "F_new": f_new, "F": f, "J&F": (j + f) / 2}
    for kind, pairs in segment_means.items():
        mean_j, mean_f = _pair_mean(pairs)
        scores[f"{kind}_J&F_new"] = math.nan if mean_j is None else (mean_j + mean_f) / 2
    return scores, per_object
