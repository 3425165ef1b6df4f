"""Benchmark: DAVIS J&F scoring, `evaluation.vos` (fast) vs `reference.davis_metrics` (official-style).

Both score the same masks in the same run; printed: seconds per 1000 frames for each and the speed-up.
Masks: with the OSVOS results of the official DAVIS 2017 evaluation package present in ``shared/data/davis17_val_results`` beside the repository, those masks arranged as a DAVIS root serve as
ground truth and RVOS masks (ids above the GT object count removed) as predictions; otherwise random
blob masks. The set is small (about a minute on 2 cores).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from datasets.png import read_label_png, write_label_png
from tests.inputs import build_davis_root, random_blob_labels, strip_extra_ids

REPO = Path(__file__).resolve().parents[2]
SHARED_RESULTS = REPO.parent / "shared" / "data" / "davis17_val_results"
BENCH_SEQUENCES = ("bike-packing", "dogs-jump", "india", "judo", "pigs")
BENCH_FRAMES = 40


def build_synthetic(root: Path, pred_dir: Path, videos: int = 5, frames: int = BENCH_FRAMES, seed: int = 0):
    """Random blob ground truth (DAVIS root) and perturbed predictions; returns the sequence names."""
    rng = np.random.default_rng(seed)
    names = [f"blobs{i}" for i in range(videos)]
    gt_dir = Path(root) / "gt"
    for name in names:
        count = int(rng.integers(1, 4))
        gt = random_blob_labels(np.random.default_rng(rng.integers(1 << 31)), (480, 854), count, frames, 0.0)
        pred = random_blob_labels(np.random.default_rng(rng.integers(1 << 31)), (480, 854), count, frames, 4.0)
        for t in range(frames):
            write_label_png(gt_dir / name / f"{t:05d}.png", gt[t])
            write_label_png(Path(pred_dir) / name / f"{t:05d}.png", pred[t])
    build_davis_root(gt_dir, Path(root) / "davis", names)
    return names


def reference_evaluate(videos, predictions_dir: Path) -> dict[str, tuple]:
    """Official-style evaluation (whole sequences as float64 stacks) -> {"<seq>_<k>": (J stats, F stats)}."""
    from reference.davis_metrics import reference_sequence, reference_statistics

    out = {}
    for video in videos:
        frames = range(1, video.num_frames - 1)
        gt = [video.annotation(i) for i in frames]
        pred = [read_label_png(Path(predictions_dir) / video.name / f"{video.frame_names[i]}.png") for i in frames]
        j, f = reference_sequence(gt, pred, len(video.objects))
        for k in range(len(video.objects)):
            out[f"{video.name}_{k + 1}"] = (reference_statistics(j[k]), reference_statistics(f[k]))
    return out


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from datasets.registry import build_reader
    from evaluation.vos import evaluate_vos

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        tmp = Path(tmp)
        if SHARED_RESULTS.is_dir():
            source = f"real DAVIS 2017 val masks (osvos as GT, rvos as predictions), {len(BENCH_SEQUENCES)} sequences"
            root = build_davis_root(SHARED_RESULTS / "osvos", tmp / "davis", BENCH_SEQUENCES, max_frames=BENCH_FRAMES)
            pred_dir = strip_extra_ids(SHARED_RESULTS / "rvos", root, tmp / "pred", BENCH_SEQUENCES)
        else:
            source = "synthetic blob masks (shared data absent)"
            build_synthetic(tmp, tmp / "pred")
            root, pred_dir = tmp / "davis", tmp / "pred"
        videos = list(build_reader("davis17", root, "val"))
        frames = sum(v.num_frames - 2 for v in videos)
        objects = sum(len(v.objects) for v in videos)
        print(f"{source}: {len(videos)} videos, {frames} scored frames, {objects} objects")

        def timed(function):
            wall, cpu = time.perf_counter(), time.process_time()
            value = function()
            return value, time.perf_counter() - wall, time.process_time() - cpu

        fast, fast_s, fast_cpu = timed(lambda: evaluate_vos(videos, pred_dir, workers=1))
        fast2, fast2_s, _ = timed(lambda: evaluate_vos(videos, pred_dir, workers=2))
        ref, ref_s, ref_cpu = timed(lambda: reference_evaluate(videos, pred_dir))
        diff = 0.0
        for key, (jstats, fstats) in ref.items():
            ours = fast.per_object[key]
            mine = [ours[c] for c in ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")]
            diff = max(diff, float(np.nanmax(np.abs(np.array(mine) - np.array(jstats + fstats)))))
        assert fast.per_object == fast2.per_object, "workers=1 and workers=2 disagree"
        per_k = 1000.0 / frames
        print(f"reference (official-style): {ref_s * per_k:8.2f} s / 1000 frames (cpu {ref_cpu * per_k:.2f} s)")
        print(f"evaluation.vos workers=1:   {fast_s * per_k:8.2f} s / 1000 frames (cpu {fast_cpu * per_k:.2f} s)"
              f"   speed-up {ref_s / fast_s:5.1f}x wall, {ref_cpu / fast_cpu:5.1f}x cpu")
        print(f"evaluation.vos workers=2:   {fast2_s * per_k:8.2f} s / 1000 frames"
              f"   speed-up {ref_s / fast2_s:5.1f}x wall (includes starting 2 processes)")
        print(f"max |ours - reference| over per-object statistics: {diff:.2e}")
        if diff > 1e-6:
            print("ERROR: fast and reference scores differ", file=sys.stderr)
            raise SystemExit(1)


if __name__ == "__main__":
    main()
