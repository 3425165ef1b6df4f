"""Benchmark: class-agnostic VIS scoring (`evaluation.vis_metrics`) on one UVO-sized video.

Data (made once, not timed): 20 GT tracks and 100 detection tracks (mostly jittered copies of GT
tracks, some random) of moving elliptic blobs over 90 frames of 480x640, as compressed RLE; tracks are
absent on some frames. Timed: the whole evaluation of the video (IoUs, matching, accumulation,
summary; seconds per video, best of 3), the vectorised IoU matrix alone (best of 3), and the pair-by-pair
Python IoU loop (`reference.vis`, one run) on the same tracks; printed: seconds and speed-ups.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from evaluation.vis_metrics import VideoTracks, evaluate_tracks, spatiotemporal_ious, track_area, track_frame_areas
from reference.vis import pairwise_ious_reference

HEIGHT, WIDTH, FRAMES, NUM_GT, NUM_DET = 480, 640, 90, 20, 100


def _encode(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def blob_tracks(rng: np.random.Generator, params: np.ndarray) -> list[list]:
    """One track per row of ``params`` (N, 6) = (centre y, x, radius y, x, velocity y, x): an ellipse moving
    linearly, absent on about 10% of the frames; each frame a compressed RLE dict or None."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    tracks = []
    for cy, cx, ry, rx, vy, vx in params:
        present = rng.random(FRAMES) < 0.9
        track = []
        for t in range(FRAMES):
            mask = ((yy - cy - vy * t) / ry) ** 2 + ((xx - cx - vx * t) / rx) ** 2 <= 1
            track.append(_encode(mask) if present[t] else None)
        tracks.append(track)
    return tracks


def make_video(seed: int = 0) -> VideoTracks:
    """20 GT tracks; 100 detections: 3 noisy copies of every GT track's motion (60) and 40 random."""
    rng = np.random.default_rng(seed)
    low, high = (40, 40, 10, 10, -1.5, -1.5), (HEIGHT - 40, WIDTH - 40, 110, 110, 1.5, 1.5)
    gt_params = rng.uniform(low, high, (NUM_GT, 6))
    copies = np.repeat(gt_params, 3, axis=0)
    noisy = copies + rng.normal(0, 1, copies.shape) * np.array([6, 6, 6, 6, 0.05, 0.05])
    det_params = np.concatenate([noisy, rng.uniform(low, high, (NUM_DET - len(noisy), 6))])
    det_params[:, 2:4] = np.maximum(det_params[:, 2:4], 3)
    gt = blob_tracks(rng, gt_params)
    return VideoTracks(
        video_id=1, num_frames=FRAMES, gt_segmentations=gt,
        gt_areas=np.array([track_area(track_frame_areas(track)) for track in gt]),
        gt_crowd=np.zeros(NUM_GT, bool), gt_ids=np.arange(1, NUM_GT + 1),
        det_segmentations=blob_tracks(rng, det_params), det_scores=rng.random(NUM_DET),
    )


def _best_of(repeats: int, function, *args):
    """(smallest wall time in seconds over ``repeats`` calls, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    video = make_video()
    ours, metrics = _best_of(3, evaluate_tracks, [video])
    ours_iou, fast = _best_of(3, spatiotemporal_ious, video.det_segmentations, video.gt_segmentations, FRAMES)
    reference_iou, slow = _best_of(1, pairwise_ious_reference, video.det_segmentations, video.gt_segmentations)
    if not np.array_equal(fast, slow):
        raise AssertionError(f"IoU matrices differ: max abs diff {np.abs(fast - slow).max()}")
    print(f"VIS scoring, {NUM_DET} detections x {NUM_GT} GT tracks x {FRAMES} frames ({HEIGHT}x{WIDTH}), "
          "best of 3 (reference: 1 run):")
    print(f"  evaluation.vis_metrics, whole evaluation: {ours:.3f} s per video  (AR100 {metrics['AR100']:.3f})")
    print(f"  IoU matrix, vectorised per frame:         {ours_iou:.3f} s per video")
    print(f"  IoU matrix, pair-by-pair Python loop:     {reference_iou:.3f} s per video")
    print(f"  speed-up of the IoUs: {reference_iou / ours_iou:.1f}x; whole evaluation vs reference IoUs alone: "
          f"{reference_iou / ours:.1f}x")


if __name__ == "__main__":
    main()
