"""Benchmark of the whole `make eval` path: ours vs the straightforward reference, in one run.

Both paths run SAM-PT on the same video with the same models and write the same PNGs: decoding the
Full-Resolution JPEG frames and resizing them to the working size, query points, point tracking, the SAM
step, the merge into label maps at the annotation size, PNG writing.

- ours: `experiments.run.vos.predict_video` (what ``make eval`` runs per video);
- reference: `reference.pipeline.reference_predict_video` (all frames in memory, PIPS chained as SAM-PT's
  PIPS wrapper chains it: every call encodes its window's 8 frames and a query window is run twice, one
  decoder call per object per pass, float64 full-resolution logits of the whole clip, PNGs written at the
  end).

Video and models (`scripts.bench.pipeline`): a synthetic DAVIS 2017 video of ``--frames`` frames with
5 objects, 480x854 annotations and 960x1708 Full-Resolution frames, read through the configuration of
``make eval DATASET=davis17`` (``experiment=paper/sampt``: 1024 working size, 8 positive + 1 negative points,
12 refinement iterations); PIPS with damped random weights; the tiny random SAM (`build_tiny_sam`, SAM's
real input and decoder geometry, 32 channels) with its predicted IoU raised so masks pass the 0.7 threshold.

Printed: frames per second of each path (the two alternated ``--repeats`` times in one process, the best
round of each kept: robust to other load on the machine) and their CPU seconds per frame, the speed-up
(also without the point tracking, where the two differ in how often PIPS runs on a window), where the time goes (exclusive seconds per
frame of each stage, `scripts.bench.pipeline.StageTimer`) and how far the label maps agree; exits with
status 1 when they differ beyond float rounding (`MIN_PIXEL_AGREEMENT`, `MIN_OBJECT_IOU`).

    python -m scripts.bench.e2e [--frames 8] [--repeats 2] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts.bench.pipeline import (
    StageTimer, build_model, mean_object_iou, random_pips, read_labels, shift_iou, synthetic_davis_video, timed_stages,
)

METHODS = ("ours", "reference")
#: ours batches the decoder over objects, the reference calls it per object: float32 rounding of the two
#: differs in the last bits, which can flip a pixel whose logit is within ~1e-6 of a decision (the label
#: maps are identical with one decoder call per object: tests/scripts/test_bench_e2e.py)
MIN_PIXEL_AGREEMENT, MIN_OBJECT_IOU = 0.9999, 0.999


def _run(method: str, sampt, video, out_dir: Path, longest_side) -> tuple[float, float, StageTimer]:
    """One whole video by ``method``; returns (wall seconds, process CPU seconds, per-stage timer)."""
    from experiments.run.vos import predict_video
    from reference.pipeline import reference_predict_video

    out_dir.mkdir(parents=True, exist_ok=True)
    timer = StageTimer()
    with timed_stages(timer, sampt):
        start, cpu = time.perf_counter(), time.process_time()
        if method == "ours":
            predict_video(sampt, video, out_dir, longest_side=longest_side)
        else:
            reference_predict_video(sampt, video, out_dir, longest_side=longest_side)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, timer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8, help="frames of the synthetic video")
    parser.add_argument("--height", type=int, default=480, help="annotation height (frames are 2x)")
    parser.add_argument("--width", type=int, default=854, help="annotation width (frames are 2x)")
    parser.add_argument("--longest-side", type=int, default=None,
                        help="working size (default: the preset's, the authors' 1024)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timing rounds (best of each)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return parser.parse_args([] if argv is None else argv)


def measure(args: argparse.Namespace):
    """Both paths on the synthetic video, ``args.repeats`` alternating rounds -> (best run per method, label
    maps per method, the video, its config, the stored frames' size)."""
    from trackers.segmenters.sam import SamSegmenter, build_tiny_sam

    with tempfile.TemporaryDirectory(prefix="bench_e2e_") as tmp:
        tmp = Path(tmp)
        overrides = [] if args.longest_side is None else [f"longest_side={args.longest_side}"]
        cfg, video = synthetic_davis_video(tmp / "data", args.frames, args.height, args.width, 5, 0, *overrides)
        segmenter = SamSegmenter.from_model(shift_iou(build_tiny_sam(seed=0)), device="cpu")
        sampt = build_model(cfg, segmenter, random_pips(cfg, "cpu"))
        best: dict[str, tuple[float, float, StageTimer]] = {}
        for round_ in range(args.repeats):
            for method in METHODS:
                run = _run(method, sampt, video, tmp / f"{method}{round_}", cfg.longest_side)
                if method not in best or run[0] < best[method][0]:
                    best[method] = run
        labels = {method: read_labels(tmp / f"{method}0", video) for method in METHODS}
        return best, labels, video, cfg, list(video.frame_size)


def summarize(best: dict, labels: dict, video, cfg, frames_size: list, threads: int) -> dict:
    """The json summary: fps, CPU time, stage times, call counts, speed-ups and label-map agreement."""
    frames = video.num_frames
    stages = {method: {name: value / frames for name, value in best[method][2].table(best[method][0]).items()}
              for method in METHODS}
    summary = {
        "video": f"{frames} frames, {len(video.objects)} objects, {video.size[0]}x{video.size[1]} annotations, "
                 f"{frames_size[0]}x{frames_size[1]} frames, working longest side {cfg.longest_side}",
        "torch_threads": threads,
        "fps": {method: frames / best[method][0] for method in METHODS},
        "cpu_seconds_per_frame": {method: best[method][1] / frames for method in METHODS},
        "seconds_per_frame_in": stages,
        "decoder_calls_per_frame": {method: best[method][2].calls.get("SAM decoder", 0) / frames for method in METHODS},
        # ours encodes chunks of up to 8 frames, each frame once per direction; the reference 8 frames per call
        "tracker_encoder_calls_per_frame": {method: best[method][2].calls.get("tracker encoder", 0) / frames
                                            for method in METHODS},
        "differing_pixels": int((labels["ours"] != labels["reference"]).sum()),
        "pixel_agreement": float((labels["ours"] == labels["reference"]).mean()),
        "mean_object_iou": mean_object_iou(labels["ours"], labels["reference"]),
    }
    summary["speedup"] = summary["fps"]["ours"] / summary["fps"]["reference"]
    summary["cpu_speedup"] = summary["cpu_seconds_per_frame"]["reference"] / summary["cpu_seconds_per_frame"]["ours"]
    # the speed-up of everything but the point tracker (the same network and chaining in both paths)
    tracking = {method: stages[method]["point tracking"] + stages[method]["tracker encoder"] for method in METHODS}
    rest = {method: 1 / summary["fps"][method] - tracking[method] for method in METHODS}
    summary["speedup_without_tracking"] = rest["reference"] / rest["ours"]
    return summary


def report(summary: dict, repeats: int, size: int) -> bool:
    """Print the summary; returns whether the label maps agree (up to float rounding)."""
    stages = summary["seconds_per_frame_in"]
    close = summary["pixel_agreement"] >= MIN_PIXEL_AGREEMENT and summary["mean_object_iou"] >= MIN_OBJECT_IOU
    print(f"whole make-eval path (decode .. PNG writing) on {summary['video']}; random PIPS + tiny SAM, "
          f"{summary['torch_threads']} torch thread(s), best of {repeats}")
    for method in METHODS:
        print(f"  {method:9s}: {summary['fps'][method]:7.3f} fps ({1 / summary['fps'][method]:.3f} s/frame wall, "
              f"{summary['cpu_seconds_per_frame'][method]:.3f} s/frame CPU, "
              f"{summary['decoder_calls_per_frame'][method]:.1f} decoder calls/frame, "
              f"{summary['tracker_encoder_calls_per_frame'][method]:.2f} PIPS encoder calls/frame)")
    print(f"  speed-up of ours: {summary['speedup']:.2f}x wall, {summary['cpu_speedup']:.2f}x CPU; "
          f"{summary['speedup_without_tracking']:.2f}x wall without the point tracking")
    print(f"  {'stage (s/frame)':16s} {'ours':>8s} {'reference':>10s}")
    for name in stages["ours"]:
        print(f"  {name:16s} {stages['ours'][name]:8.4f} {stages['reference'].get(name, 0.0):10.4f}")
    differing = summary["differing_pixels"]
    verdict = "equal" if differing == 0 else "equal up to float rounding" if close else "DIFFERENT"
    print(f"  label maps: {verdict} ({differing} of {size} pixels differ: agreement "
          f"{100 * summary['pixel_agreement']:.5f}%, mean object IoU {summary['mean_object_iou']:.6f})")
    print(json.dumps(summary))
    return close


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    best, labels, video, cfg, frames_size = measure(args)
    summary = summarize(best, labels, video, cfg, frames_size, args.threads)
    if not report(summary, args.repeats, labels["ours"].size):
        print("ERROR: ours and the reference wrote different label maps", file=sys.stderr)
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
