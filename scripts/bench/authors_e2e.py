"""Benchmark: the whole authors' path, ours against the authors' own code, side by side (issue 27).

Method. Both run SAM-PT on the same DAVIS-layout clip with the same random weights and knobs, each in its own
fresh Python process (so neither inherits the other's allocator state or warm caches), one after the other, with
the same number of torch threads (``--threads``, default 1: the timing least disturbed by other load), in
``--repeats`` alternating rounds of which each side's fastest is kept:

- the clip: `tests.inputs.make_authors_real_size_inputs` (``--clip real``: 6 frames, 3 objects, 480x854
  annotations, 960x1708 Full-Resolution frames) or the same generator at the `scripts.bench.e2e` clip's size
  (``--clip e2e``: 8 frames, 5 objects);
- the models: damped random PIPS in the official checkpoint format and MobileSAM's architecture (the official
  ``segment_anything`` / ``segment_anything_hq`` modules, `trackers.segmenters.sam_models.build_sam_module`)
  with seeded random weights, its IoU head shifted so that SAM's 0.7 threshold keeps masks;
- the knobs: `tests.inputs.AUTHORS_KNOBS` (8 positive + 1 negative Shi-Tomasi points, 12 refinement
  iterations, IoU threshold 0.7) at the authors' working size, longest side 1024;
- theirs: SysCV/sam-pt's ``sam_pt/vos_eval/eval.py`` run unmodified in its process
  (`scripts.record.authors_eval.run_official_eval`; their SamPredictor, their PIPS wrapper), so this must run
  in a recording environment that imports their code (see tests/fixtures/authors_eval/README.md);
- ours: `experiments.run.vos.predict_video` with our defaults (channels-last encoder, lean decoder, ...) and
  the CPU settings ``make eval`` applies (`infra.cpu_runtime`: glibc keeps freed memory for reuse, and the
  frame loop runs one frame per thread, ``frame_workers: null``); theirs runs with the C library's defaults, or
  with the allocator setting too (``--theirs-keep-freed-memory``: how much of the gap that setting alone makes).

Printed: wall and process CPU seconds of each, the speed-up, and how far the label maps agree (pixels, and
IoU per object and frame).

    /path/to/recording-venv/bin/python -m scripts.bench.authors_e2e --official /path/to/sam-pt \\
        [--clip real|e2e] [--work /tmp/authors_e2e] [--threads 1] [--repeats 1] [--theirs-keep-freed-memory]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: the e2e bench's clip (`scripts.bench.e2e`: 8 frames, 5 objects, 480x854 annotations)
CLIPS = {"real": dict(num_videos=1, num_frames=6, num_objects=3, height=480, width=854, seed=12),
         "e2e": dict(num_videos=1, num_frames=8, num_objects=5, height=480, width=854, seed=12)}
MOBILESAM_SEED, MOBILESAM_IOU_BIAS = 0, 0.8


def bench_mobilesam(checkpoint: str):
    """MobileSAM's architecture (`build_sam_module`) with the bench's random weights, in eval mode."""
    import torch

    from trackers.segmenters.sam_models import build_sam_module

    sam = build_sam_module("mobilesam")
    sam.load_state_dict(torch.load(checkpoint, map_location="cpu"), strict=True)
    return sam.eval()


def official_mobilesam(checkpoint: str, **_unused):
    """Hydra target for the authors' ``sam_model``: `bench_mobilesam` with its encoder returning the embedding
    alone, as MobileSAM's own TinyViT does (``segment_anything_hq``'s also returns the HQ features, which
    ``segment_anything.SamPredictor`` does not take)."""
    import torch

    class EmbeddingOnly(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder, self.img_size = encoder, encoder.img_size

        def forward(self, images):
            return self.encoder(images)[0]

    sam = bench_mobilesam(checkpoint)
    sam.image_encoder = EmbeddingOnly(sam.image_encoder)
    return sam


def make_inputs(work: Path, clip: str) -> dict:
    """The clip, damped PIPS and the MobileSAM state dict (in the slot of the tiny SAM) under ``work``."""
    import torch

    from tests.inputs import make_authors_eval_inputs
    from trackers.segmenters.sam_models import build_sam_module

    paths = make_authors_eval_inputs(work, CLIPS[clip])
    torch.manual_seed(MOBILESAM_SEED)
    sam = build_sam_module("mobilesam")
    with torch.no_grad():
        sam.mask_decoder.iou_prediction_head.layers[-1].bias += MOBILESAM_IOU_BIAS
    torch.save(sam.state_dict(), paths["tiny_sam"])
    return paths


def run_theirs(official: Path, paths: dict, work: Path, threads: int) -> tuple[np.ndarray, float, float]:
    import torch

    from scripts.record.authors_eval import import_official_eval, run_official_eval
    from scripts.record.authors_reinit import install_kmedoids_stand_in
    from tests.inputs import AUTHORS_KNOBS

    install_kmedoids_stand_in()  # Shi-Tomasi picks every point with these knobs: k-medoids never runs
    official_eval = import_official_eval(official, work)
    torch.set_num_threads(threads)  # the recording import sets one thread
    start, cpu = time.perf_counter(), time.process_time()
    labels, _ = run_official_eval(official_eval, paths, {**AUTHORS_KNOBS, "use_point_reinit": False},
                                  work / "official_run", sam_target=f"{__name__}.official_mobilesam")
    return labels, time.perf_counter() - start, time.process_time() - cpu


def run_ours(paths: dict, work: Path) -> tuple[np.ndarray, float, float]:
    from datasets.davis import Davis17Reader
    from datasets.png import read_label_png
    from experiments.run.vos import predict_video
    from tests.inputs import AUTHORS_KNOBS, AUTHORS_VIDEO_NAME
    from trackers.point.pips.tracker import PipsTracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.sam import SamSegmenter

    video = Davis17Reader(paths["davis"], split="val", frames_resolution="Full-Resolution").video(
        AUTHORS_VIDEO_NAME)
    start, cpu = time.perf_counter(), time.process_time()
    sampt = SamPt(PipsTracker(checkpoint=paths["pips"], device="cpu"),
                  SamSegmenter.from_model(bench_mobilesam(str(paths["tiny_sam"])), device="cpu"), seed=0,
                  **AUTHORS_KNOBS)
    out = work / "ours"
    predict_video(sampt, video, out, longest_side=1024)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return np.stack([read_label_png(out / f"{name}.png") for name in video.frame_names]), seconds, cpu


def run_side(args: argparse.Namespace, work: Path) -> dict:
    """One side in this process (``--side``), with its CPU settings; its label maps go to ``<work>/<side>.npy``."""
    from infra import cpu_runtime

    paths = make_inputs(work, args.clip)
    keep_freed = args.side == "ours" or args.theirs_keep_freed_memory  # ours: what `make eval` applies
    # ours: one frame per thread in the frame loop, as `make eval` (frame_workers: null)
    settings = cpu_runtime.configure(args.threads, keep_freed, None if args.side == "ours" else 1)
    if args.side == "ours":
        labels, seconds, cpu = run_ours(paths, work)
    else:
        labels, seconds, cpu = run_theirs(args.official, paths, work, settings["threads"])
    np.save(work / f"{args.side}.npy", labels)
    return {"seconds": seconds, "cpu_seconds": cpu, **settings}


def run_in_child(args: argparse.Namespace, side: str) -> dict:
    """`run_side` in a fresh interpreter (its allocator and threads settings stay its own); its last line."""
    command = [sys.executable, "-m", "scripts.bench.authors_e2e", "--official", str(args.official), "--clip",
               args.clip, "--work", str(args.work), "--threads", str(args.threads), "--side", side]
    if args.theirs_keep_freed_memory:
        command.append("--theirs-keep-freed-memory")
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2]).stdout
    return json.loads(output.strip().splitlines()[-1])


def agreement(ours: np.ndarray, theirs: np.ndarray) -> dict:
    """Pixel agreement and IoU per object and frame (object-frames empty in both skipped)."""
    ious = []
    for obj in sorted((set(np.unique(theirs)) | set(np.unique(ours))) - {0}):
        for t in range(len(ours)):
            a, b = ours[t] == obj, theirs[t] == obj
            union = (a | b).sum()
            if union:
                ious.append((a & b).sum() / union)
    return {"pixels_equal": float((ours == theirs).mean()), "mean_iou": float(np.mean(ious)),
            "min_iou": float(np.min(ious))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="a checkout of SysCV/sam-pt (874ff7e)")
    parser.add_argument("--clip", choices=sorted(CLIPS), default="real")
    parser.add_argument("--work", type=Path, default=Path("/tmp/authors_e2e"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each side")
    parser.add_argument("--repeats", type=int, default=1, help="alternating rounds (the fastest of each side kept)")
    parser.add_argument("--theirs-keep-freed-memory", action="store_true",
                        help="run theirs with our allocator setting too (infra.cpu_runtime.keep_freed_memory)")
    parser.add_argument("--side", choices=("ours", "theirs"), help=argparse.SUPPRESS)  # the child processes'
    args = parser.parse_args(argv)
    work = (args.work / args.clip).resolve()
    if args.side is not None:
        print(json.dumps(run_side(args, work)))
        return {}
    rounds = {"ours": [], "theirs": []}
    for _ in range(args.repeats):  # alternating, each side's fastest round kept: robust to other load
        for side in ("ours", "theirs"):
            rounds[side].append(run_in_child(args, side))
            print(f"{side}: {rounds[side][-1]['seconds']:.1f} s wall, {rounds[side][-1]['cpu_seconds']:.1f} s CPU",
                  flush=True)
    ours, theirs = (min(rounds[side], key=lambda r: r["seconds"]) for side in ("ours", "theirs"))
    result = {"clip": CLIPS[args.clip], "threads": args.threads, "repeats": args.repeats,
              "theirs_keep_freed_memory": args.theirs_keep_freed_memory, "theirs_s": theirs["seconds"],
              "theirs_cpu_s": theirs["cpu_seconds"], "ours_s": ours["seconds"], "ours_cpu_s": ours["cpu_seconds"],
              "speedup_wall": theirs["seconds"] / ours["seconds"],
              "speedup_cpu": theirs["cpu_seconds"] / ours["cpu_seconds"],
              **agreement(np.load(work / "ours.npy"), np.load(work / "theirs.npy"))}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
