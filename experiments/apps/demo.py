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

Memory (long videos): frames are never all in memory. Tracking runs over chunks of ``--chunk-frames``
frames (consecutive chunks share one frame): each chunk's frames are decoded, the tracker tracks the
points that are still tracked (queried at the chunk's first frame at their last position) and the
objects that start inside the chunk, and the chunk is dropped. The SAM step then streams the frames again
one at a time, writing each mask and overlay frame as it goes. Peak memory is one chunk of frames
(chunk x h x w x 3 bytes plus the tracker's working copies) plus the tracks themselves (T x M x P x 2
floats, a few hundred kB for a 2-minute video), so it does not grow with the video's frame count beyond
those small per-frame arrays. Approximations, stated: (1) tracking is forward only from each object's
query frame (the authors track backward too, which only matters before the query frame where the mask
is background anyway, except that those backward-tracked points then act as other objects' negative
points: here they do not); (2) a point lost (not visible) at a chunk's last frame stays lost for the rest
of the video. For `lk` both are exact with respect to its forward sweep: it steps frame pair by frame
pair and never re-finds a lost point, so chunked tracking equals tracking the whole video at once
(checked in tests/experiments/apps/test_demo.py). For window-based neural trackers (PIPS, CoTracker) a chunk boundary also
cuts their temporal context and a point occluded at a boundary is not recovered later; use a large
``--chunk-frames`` with them when memory allows. ``--longest-side`` sets the working resolution of both
steps (default 1024, the authors' demo ``longest_side_length``; 0 keeps the video's size); masks are still
written at the video's size.
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
from experiments.run.outputs import write_json_atomic
from experiments.apps.points_file import PointsFileError, QueryPoints, points_from_arguments, read_points_file
from datasets.video_file import VideoSource
from trackers.checkpoints import CheckpointError

LOG = logging.getLogger(__name__)

#: (auto choice with a checkpoint, weight-free choice without one)
AUTO_TRACKER = ("pips", "lk")
AUTO_SEGMENTER = ("sam_vit_h", "grabcut")


# ----------------------------------------------------------------------------------------- models
#: official checkpoint file names of the auto choices (as registered in trackers.point.pips.tracker and
#: trackers.segmenters.sam_models; kept here so that "auto" does not import the heavy model modules)
AUTO_CHECKPOINT_FILES = {"pips": "model-000200000.pth", "sam_vit_h": "sam_vit_h_4b8939.pth"}


def resolve_model(role: str, name: str, checkpoint: str | None, checkpoint_dir: str | Path = "checkpoints",
                  say=print) -> tuple[str, str | None]:
    """Pick the model for ``role`` ("tracker" or "segmenter"): (name, checkpoint path or None).

    ``name`` "auto" takes the neural default when a checkpoint is given or found in ``checkpoint_dir``,
    else the weight-free default, and says which through ``say``.
    """
    if name != "auto":
        return name, checkpoint
    neural, weight_free = AUTO_TRACKER if role == "tracker" else AUTO_SEGMENTER
    if checkpoint is not None:
        return neural, checkpoint
    path = Path(checkpoint_dir) / AUTO_CHECKPOINT_FILES[neural]
    if path.is_file():
        say(f"{role}: found the {neural} checkpoint {path}; using {neural}")
        return neural, str(path)
    say(f"{role}: no {neural} checkpoint given or found at {path}; running the weight-free {role} "
        f"'{weight_free}' (far below SAM-PT's quality; pass --{role} {neural} --checkpoint-{role} FILE "
        f"for the real one)")
    return weight_free, None


def build_sampt(tracker: str, segmenter: str, num_positive: int, num_points: int,
                checkpoint_tracker: str | None = None, checkpoint_segmenter: str | None = None, **knobs):
    """A `trackers.sampt.model.SamPt` for query points of ``num_points`` per object, the first ``num_positive``
    positive (as the authors' demo sets the model's positive/negative points per mask)."""
    from trackers.point.base import build_point_tracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.base import build_segmenter

    return SamPt(build_point_tracker(tracker, checkpoint_tracker), build_segmenter(segmenter, checkpoint_segmenter),
                 positive_points_per_mask=num_positive, negative_points_per_mask=num_points - num_positive,
                 use_first_mask_on_query_frame=False, **knobs)


# ----------------------------------------------------------------------------------------- tracking
def track_streamed(point_tracker, source, query_points: np.ndarray, chunk_frames: int = 48
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Track query points forward through ``source`` one chunk of frames at a time (module docstring).

    Args:
        point_tracker: a `trackers.point.base.PointTracker`.
        source: has ``num_frames`` and ``stack(start, end) -> (end - start, H, W, 3) uint8``.
        query_points: (M, P, 3) float (t, x, y) in working pixels; an object's points share their t.
        chunk_frames: frames per chunk (>= 2); consecutive chunks share one frame.

    Returns:
        tracks (T, M, P, 2) float32 and visible (T, M, P) bool. Before an object's query frame its points
        hold their query position and are not visible; a lost point keeps its last position, not visible.
    """
    if int(chunk_frames) != chunk_frames or chunk_frames < 2:
        raise ValueError(f"chunk_frames must be an integer >= 2, got {chunk_frames!r}")
    query_points = np.asarray(query_points, np.float32)
    num_objects, num_points, _ = query_points.shape
    num_frames = int(source.num_frames)
    first = query_points[:, 0, 0].astype(np.int64)
    tracks = np.repeat(query_points[None, :, :, 1:3], num_frames, axis=0).astype(np.float32)
    visible = np.zeros((num_frames, num_objects, num_points), bool)
    position = query_points[:, :, 1:3].copy()
    alive = np.zeros((num_objects, num_points), bool)
    started = np.zeros(num_objects, bool)
    start = 0
    while True:
        end = min(start + chunk_frames, num_frames)
        starting = ~started & (first >= start) & (first < end)
        was_started = started.copy()
        carried = alive & was_started[:, None]
        if starting.any() or carried.any():
            local_t = np.where(started, 0, first - start)[:, None].repeat(num_points, 1)
            queried = carried | starting[:, None]
            queries = np.concatenate([local_t[..., None].astype(np.float32), position], axis=-1)[queried]
            chunk_tracks, chunk_visible = point_tracker.track(source.stack(start, end), queries)
            chunk_tracks = np.asarray(chunk_tracks, np.float32)
            after_query = np.arange(end - start)[:, None] >= queries[None, :, 0]
            rows = np.nonzero(queried)
            window = tracks[start:end]  # views: writes go into tracks / visible
            window_visible = visible[start:end]
            window[:, rows[0], rows[1]] = np.where(after_query[..., None], chunk_tracks, window[:, rows[0], rows[1]])
            window_visible[:, rows[0], rows[1]] = np.asarray(chunk_visible, bool) & after_query
            started |= starting
        # points of started objects not tracked in this chunk (lost earlier) keep their last position
        lost = was_started[:, None] & ~alive
        if lost.any():
            tracks[start + 1:end][:, lost] = position[lost]
        position = tracks[end - 1].copy()
        alive = visible[end - 1] & started[:, None]
        if end == num_frames:
            break
        start = end - 1
    return tracks, visible


# ----------------------------------------------------------------------------------------- demo
def json_floats(values: np.ndarray, decimals: int = 4):
    """Nested lists with NaN -> None (json null), rounded."""
    rounded = np.round(np.asarray(values, np.float64), decimals)
    return np.where(np.isnan(rounded), None, rounded).tolist()


def run_demo(video: str | Path, query: QueryPoints, out: str | Path, tracker: str = "auto",
             segmenter: str = "auto", checkpoint_tracker: str | None = None,
             checkpoint_segmenter: str | None = None, checkpoint_dir: str | Path = "checkpoints",
             chunk_frames: int = 48, longest_side: int | None = 1024, overlay: bool = True, seed: int = 72,
             say=print, **knobs) -> dict:
    """Segment the objects given by ``query`` (points in video pixels) through ``video``; write ``out``.

    Returns:
        the summary written to ``out/demo.json`` (without the per-frame arrays).
    """
    from experiments.visualize import OverlayVideoWriter

    out = Path(out)
    source = VideoSource(video, longest_side)
    query.check_video(source.num_frames, source.original_size, source=str(video))
    tracker, checkpoint_tracker = resolve_model("tracker", tracker, checkpoint_tracker, checkpoint_dir, say)
    segmenter, checkpoint_segmenter = resolve_model("segmenter", segmenter, checkpoint_segmenter, checkpoint_dir, say)
    num_objects, num_points, _ = query.points.shape
    sampt = build_sampt(tracker, segmenter, query.num_positive, num_points, checkpoint_tracker,
                        checkpoint_segmenter, seed=seed, **knobs)
    working_points = query.points.copy()
    working_points[..., 1:3] *= source.scale
    say(f"{source.path}: {source.num_frames} frames {source.original_size[1]}x{source.original_size[0]} "
        f"(working {source.frame_size[1]}x{source.frame_size[0]}), {num_objects} object(s) x {num_points} "
        f"point(s) ({query.num_positive} positive); tracker {tracker}, segmenter {segmenter}")
    started = time.perf_counter()
    tracks, visible = track_streamed(sampt.point_tracker, source, working_points, chunk_frames)
    visible &= sampt.inside_border(tracks, *source.frame_size)
    tracking_s = time.perf_counter() - started

    object_ids = list(range(1, num_objects + 1))
    first_frames = query.first_frames
    empty = [np.zeros(source.frame_size, bool)] * num_objects  # no given mask (nothing is pasted)
    run = sampt.run_from_tracks(source, object_ids, first_frames, empty, tracks, visible,
                                video_name=Path(video).stem)
    masks_dir = out / "masks"
    stale = sorted(masks_dir.glob("*.png")) if masks_dir.is_dir() else []
    if stale:  # a previous run's masks (maybe of a longer video) must not survive next to the new ones
        say(f"replacing the {len(stale)} masks of a previous run in {masks_dir}")
        for path in stale:
            path.unlink()
    masks_dir.mkdir(parents=True, exist_ok=True)
    writer = OverlayVideoWriter(out / "overlay.mp4", fps=max(1, round(source.fps)),
                                num_positive=query.num_positive) if overlay else None
    started = time.perf_counter()
    try:
        for t, labels in run.label_maps(source.original_size):
            write_label_png(masks_dir / f"{t:05d}.png", labels)
            if writer is not None:
                writer.add(t, labels, run)
    finally:
        if writer is not None:
            writer.close()
        source.close()
    segmentation_s = time.perf_counter() - started

    scores = run.scores
    summary = {
        "video": str(video),
        "num_frames": source.num_frames,
        "fps": source.fps,
        "frame_size": list(source.original_size),
        "working_size": list(source.frame_size),
        "tracker": tracker,
        "segmenter": segmenter,
        "weight_free": tracker == AUTO_TRACKER[1] and segmenter == AUTO_SEGMENTER[1],
        "chunk_frames": chunk_frames,
        "num_positive": query.num_positive,
        "objects": [{"id": obj, "first_frame": int(first_frames[k]),
                     "query_points": query.points[k, :, 1:3].tolist(),
                     "score": None if np.isnan(scores[obj]) else round(float(scores[obj]), 4)}
                    for k, obj in enumerate(object_ids)],
        "seconds": {"tracking": round(tracking_s, 3), "segmentation": round(segmentation_s, 3)},
    }
    write_json_atomic(out / "demo.json", {
        **summary,
        "tracks": json_floats(tracks / source.scale, 2),  # (T, M, P, 2) video pixels
        "visible": visible.tolist(),  # (T, M, P)
        "iou": json_floats(run.iou),  # (T, M) predicted IoU per frame
    })
    say(f"wrote {source.num_frames} masks to {masks_dir}, {'overlay.mp4, ' if overlay else ''}demo.json in {out}")
    return summary


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
    parser.add_argument("--chunk-frames", type=int, default=48, help="frames tracked at once (memory bound)")
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
                 checkpoint_dir=args.checkpoint_dir, chunk_frames=args.chunk_frames,
                 longest_side=args.longest_side or None, overlay=not args.no_overlay, seed=args.seed,
                 iterative_refinement_iterations=args.refinement_iterations)
    except (PointsFileError, FileNotFoundError, ValueError, NotImplementedError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
