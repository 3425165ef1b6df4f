"""SAM-PT demo on any video: query points in, indexed PNG masks, an overlay MP4 and a json out.

    python -m experiments.apps.demo --video clip.mp4 --points points.txt [--out DIR]
    python -m experiments.apps.demo --video frames_dir --point "0;120,80 130,90" --point "5;40,40" --num-positive 2

Inputs: an MP4 (read with PyAV, no system ffmpeg) or a folder of frame images; query points from a file
in the authors' demo format (`experiments.apps.points_file`) or from ``--point`` arguments, one object per
line/argument, each starting on its own frame. As in the authors' demo (``demo/demo.py``), the points of
a line are that object's query points (the first K positive, the rest negative), SAM-PT is built with
``positive_points_per_mask = K`` and ``negative_points_per_mask = P - K``, and an object's mask is
background before its query frame. There is no given mask, so no mask is pasted on the query frame.

Models: ``--tracker auto`` / ``--segmenter auto`` (default) use PIPS / SAM ViT-H when their official
checkpoint is found (given with ``--checkpoint-*`` or at ``checkpoints/<official file name>``) and the
weight-free `lk` tracker / `grabcut` segmenter otherwise, saying so; any registered name may be given.

Outputs in ``--out``: ``masks/<frame:05d>.png`` (indexed PNGs, DAVIS palette, at the video's size),
``overlay.mp4`` (masks and points, positive circles / negative crosses, invisible points hollow grey, at
the working size), ``demo.json`` (tracks (T, M, P, 2) and visibility (T, M, P) in video pixels, the
per-frame predicted IoU (T, M) with null where the segmenter was not prompted, per-object scores).

Models are built from the same Hydra configs as `make eval` (`configs/tracker/<name>.yaml`,
`configs/segmenter/<name>.yaml`, the model's knobs of `configs/model/`), with the demo's choices as overrides.

Memory (long videos): frames are never all in memory. `trackers.sampt.model.SamPt.run_video` tracks the points
with the tracker's own windows (forward and backward from each object's query frame, as the authors' demo; a
point tracked backward before its object's query frame still serves as the other objects' negative point)
and then streams the frames again one at a time, writing each mask and overlay frame as it goes. Peak memory
is one tracker window plus the tracks themselves (T x M x P x 2 floats). An MP4 is decoded forward only: tracking
backward from a late query frame reopens it once per backward step (give a folder of frames for videos where
objects start late). ``--longest-side`` sets the working
resolution (default 1024, the authors' demo ``longest_side_length``; 0 keeps the video's size); masks are
still written at the video's size.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from datasets.png import write_label_png
from datasets.video_file import VideoSource
from experiments.apps.points_file import PointsFileError, QueryPoints, points_from_arguments, read_points_file
from infra.files import write_json_atomic
from experiments.run.schema import compose_config, quoted
from experiments.run.vos import build_sampt, resolve_device
from infra.resolution import WorkingVideo
from trackers.checkpoints import CheckpointError
from trackers.sampt.engine import VideoObjects

LOG = logging.getLogger(__name__)

#: (auto choice with a checkpoint, weight-free choice without one)
AUTO_TRACKER = ("pips", "lk")
AUTO_SEGMENTER = ("sam_vit_h", "grabcut")


# ----------------------------------------------------------------------------------------- models
def resolve_model(role: str, name: str, checkpoint: str | None, checkpoint_dir: str | Path = "checkpoints",
                  say=print) -> tuple[str, str | None]:
    """Pick the model for ``role`` ("tracker" or "segmenter"): (name, checkpoint path or None).

    ``name`` "auto" takes the neural default when a checkpoint is given or found where its config
    (``configs/<role>/<name>.yaml``) puts it under ``checkpoint_dir``, else the weight-free default, and says
    which through ``say``.
    """
    if name != "auto":
        return name, checkpoint
    neural, weight_free = AUTO_TRACKER if role == "tracker" else AUTO_SEGMENTER
    if checkpoint is not None:
        return neural, checkpoint
    path = Path(compose_config(f"{role}={neural}", f"paths.checkpoint_dir={checkpoint_dir}")[role].checkpoint)
    if path.is_file():
        say(f"{role}: found the {neural} checkpoint {path}; using {neural}")
        return neural, str(path)
    say(f"{role}: no {neural} checkpoint given or found at {path}; running the weight-free {role} "
        f"'{weight_free}' (far below SAM-PT's quality; pass --{role} {neural} --checkpoint-{role} FILE "
        f"for the real one)")
    return weight_free, None


def demo_config(tracker: str, segmenter: str, query: QueryPoints, checkpoint_tracker: str | None = None,
                checkpoint_segmenter: str | None = None, checkpoint_dir: str | Path = "checkpoints",
                seed: int = 72, refinement_iterations: int = 12):
    """The run config of the demo: `configs/eval.yaml` with the chosen tracker and segmenter, and SAM-PT's
    points per mask set from the query points (the first K of each object positive, as the authors' demo)."""
    num_points = query.points.shape[1]
    overrides = [f"tracker={tracker}", f"segmenter={segmenter}", f"paths.checkpoint_dir={quoted(checkpoint_dir)}",
                 f"model.positive_points_per_mask={query.num_positive}",
                 f"model.negative_points_per_mask={num_points - query.num_positive}",
                 f"model.iterative_refinement_iterations={refinement_iterations}", f"seed={seed}"]
    for role, path in (("tracker", checkpoint_tracker), ("segmenter", checkpoint_segmenter)):
        if path is not None:
            overrides.append(f"{role}.checkpoint={quoted(path)}")
    return compose_config(*overrides)


# ----------------------------------------------------------------------------------------- demo
def json_floats(values: np.ndarray, decimals: int = 4):
    """Nested lists with NaN -> None (json null), rounded."""
    rounded = np.round(np.asarray(values, np.float64), decimals)
    return np.where(np.isnan(rounded), None, rounded).tolist()


def run_demo(video: str | Path, query: QueryPoints, out: str | Path, tracker: str = "auto",
             segmenter: str = "auto", checkpoint_tracker: str | None = None,
             checkpoint_segmenter: str | None = None, checkpoint_dir: str | Path = "checkpoints",
             longest_side: int | None = 1024, overlay: bool = True, seed: int = 72,
             refinement_iterations: int = 12, say=print) -> dict:
    """Segment the objects given by ``query`` (points in video pixels) through ``video``; write ``out``.

    Returns:
        the summary written to ``out/demo.json`` (without the per-frame arrays).
    """
    out = Path(out)
    source = VideoSource(video)
    query.check_video(source.num_frames, source.frame_size, source=str(video))
    tracker, checkpoint_tracker = resolve_model("tracker", tracker, checkpoint_tracker, checkpoint_dir, say)
    segmenter, checkpoint_segmenter = resolve_model("segmenter", segmenter, checkpoint_segmenter, checkpoint_dir, say)
    cfg = demo_config(tracker, segmenter, query, checkpoint_tracker, checkpoint_segmenter, checkpoint_dir, seed,
                      refinement_iterations)
    sampt = build_sampt(cfg, seed, resolve_device(cfg.device))
    working = WorkingVideo(source, longest_side)
    points = query.points.copy()
    points[..., 1:3] *= working.scale
    num_objects, num_points, _ = points.shape
    say(f"{source.path}: {source.num_frames} frames {source.frame_size[1]}x{source.frame_size[0]} "
        f"(working {working.frame_size[1]}x{working.frame_size[0]}), {num_objects} object(s) x {num_points} "
        f"point(s) ({query.num_positive} positive); tracker {tracker}, segmenter {segmenter}")
    started = time.perf_counter()
    objects = VideoObjects(list(range(1, num_objects + 1)), query.first_frames, query_points=points)
    run = sampt.run_video(working, objects, source.name)
    tracking_s = time.perf_counter() - started
    started = time.perf_counter()
    try:
        masks_dir = write_masks(run, out, source, query.num_positive, overlay, say)
    finally:
        source.close()
    summary = {
        "video": str(video), "num_frames": source.num_frames, "fps": source.fps,
        "frame_size": list(source.frame_size), "working_size": list(working.frame_size),
        "tracker": tracker, "segmenter": segmenter,
        "weight_free": tracker == AUTO_TRACKER[1] and segmenter == AUTO_SEGMENTER[1],
        "num_positive": query.num_positive,
        "objects": [{"id": obj, "first_frame": int(query.first_frames[k]), "query_points": query.points[k, :, 1:3].tolist(),
                     "score": None if np.isnan(run.scores[obj]) else round(float(run.scores[obj]), 4)}
                    for k, obj in enumerate(run.object_ids)],
        "seconds": {"tracking": round(tracking_s, 3), "segmentation": round(time.perf_counter() - started, 3)},
    }
    write_json_atomic(out / "demo.json", {
        **summary,
        "tracks": json_floats(run.tracks / working.scale, 2),  # (T, M, P, 2) video pixels
        "visible": run.visible.tolist(),  # (T, M, P)
        "iou": json_floats(run.iou),  # (T, M) predicted IoU per frame
    })
    say(f"wrote {source.num_frames} masks to {masks_dir}, {'overlay.mp4, ' if overlay else ''}demo.json in {out}")
    return summary


def write_masks(run, out: Path, source: VideoSource, num_positive: int, overlay: bool, say=print) -> Path:
    """Iterate ``run`` (a `trackers.sampt.engine.VideoRun`): ``out/masks/<t:05d>.png`` at the video's size
    (a previous run's masks there are removed first) and, with ``overlay``, ``out/overlay.mp4``."""
    from experiments.visualize import OverlayVideoWriter

    masks_dir = out / "masks"
    stale = sorted(masks_dir.glob("*.png")) if masks_dir.is_dir() else []
    if stale:  # a previous run's masks (maybe of a longer video) must not survive next to the new ones
        say(f"replacing the {len(stale)} masks of a previous run in {masks_dir}")
        for path in stale:
            path.unlink()
    masks_dir.mkdir(parents=True, exist_ok=True)
    writer = OverlayVideoWriter(out / "overlay.mp4", fps=max(1, round(source.fps)),
                                num_positive=num_positive) if overlay else None
    try:
        for t, labels in run.label_maps(source.frame_size):
            write_label_png(masks_dir / f"{t:05d}.png", labels)
            if writer is not None:
                writer.add(t, labels, run)
    finally:
        if writer is not None:
            writer.close()
    return masks_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sampt-demo", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, help="MP4 (or any container PyAV reads) or a folder of frames")
    parser.add_argument("--points", help="query points file in the SAM-PT demo format")
    parser.add_argument("--point", action="append", default=[], metavar="'t;x,y x,y ...'",
                        help="one object's query points (repeat per object), instead of --points")
    parser.add_argument("--num-positive", type=int, help="positive points per object for --point (default: all)")
    parser.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    parser.add_argument("--tracker", default="auto", help="point tracker name, or auto (pips if its checkpoint "
                                                          "is found, else the weight-free lk)")
    parser.add_argument("--segmenter", default="auto", help="segmenter name, or auto (sam_vit_h if its checkpoint "
                                                            "is found, else the weight-free grabcut)")
    parser.add_argument("--checkpoint-tracker", help="checkpoint file of the point tracker")
    parser.add_argument("--checkpoint-segmenter", help="checkpoint file of the segmenter")
    parser.add_argument("--checkpoint-dir", default=os.environ.get("CHECKPOINT_DIR", "checkpoints"),
                        help="where auto looks for checkpoints (default: $CHECKPOINT_DIR or checkpoints)")
    parser.add_argument("--longest-side", type=int, default=1024,
                        help="working resolution: longest side in pixels (default 1024, the authors' demo; "
                             "0 = the video's own size)")
    parser.add_argument("--refinement-iterations", type=int, default=12, help="SAM-PT iterative refinement passes")
    parser.add_argument("--seed", type=int, default=72)
    parser.add_argument("--no-overlay", action="store_true", help="skip the overlay MP4")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if bool(args.points) == bool(args.point):
            raise PointsFileError("give query points with either --points FILE or --point 't;x,y ...' (not both)")
        if args.points:
            if args.num_positive is not None:
                raise PointsFileError("--num-positive is for --point; a points file gives it on its first line")
            query = read_points_file(args.points)
        else:
            query = points_from_arguments(args.point, args.num_positive)
        run_demo(args.video, query, args.out, tracker=args.tracker, segmenter=args.segmenter,
                 checkpoint_tracker=args.checkpoint_tracker, checkpoint_segmenter=args.checkpoint_segmenter,
                 checkpoint_dir=args.checkpoint_dir, longest_side=args.longest_side or None,
                 overlay=not args.no_overlay, seed=args.seed, refinement_iterations=args.refinement_iterations)
    except (PointsFileError, FileNotFoundError, ValueError, NotImplementedError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
