"""Speed of the weight-free point trackers: seconds per frame of `lk` and `flow` for 64 points on a 50-frame
480x854 synthetic video (a textured square translating and rotating over a textured background).

The neural trackers (SuperGlue included) are timed by `scripts.bench.stages` (``--stages trk:<name>``), which
relates their time to their counted FLOPs and the machine's peak."""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from trackers.point.base import build_point_tracker

NUM_FRAMES, HEIGHT, WIDTH, NUM_POINTS = 50, 480, 854, 64


def synthetic_video(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) uint8 frames and (N, 3) queries (t, x, y) on the moving object: half on frame 0, half on
    frame 10 (the last if earlier), so both sweep directions run (the flow tracker computes 2 DIS flows per
    frame pair a sweep needs, here 49 + 10 pairs)."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.random((HEIGHT, WIDTH)).astype(np.float32), (0, 0), 4.0)
    background = cv2.normalize(background, None, 40, 200, cv2.NORM_MINMAX)
    size = 160
    texture = cv2.normalize(cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 1.5),
                            None, 0, 255, cv2.NORM_MINMAX)
    alpha = np.ones((size, size), np.float32)
    frames, affines = [], []
    for t in range(NUM_FRAMES):
        affine = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), 0.5 * t, 1.0)
        affine[:, 2] += (150 + 8.0 * t, 120 + 3.0 * t)
        cover = cv2.warpAffine(alpha, affine, (WIDTH, HEIGHT))
        image = background * (1 - cover) + cv2.warpAffine(texture, affine, (WIDTH, HEIGHT)) * cover
        frames.append(np.repeat(np.clip(image + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
        affines.append(affine)
    queries = []
    for t in (0, min(10, NUM_FRAMES - 1)):
        local = rng.uniform(20, size - 20, (NUM_POINTS // 2, 2))
        xy = local @ affines[t][:, :2].T + affines[t][:, 2]
        queries.append(np.concatenate([np.full((len(xy), 1), t), xy], axis=1))
    return np.stack(frames), np.concatenate(queries).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv or [])
    frames, queries = synthetic_video()
    print(f"{NUM_FRAMES} frames {HEIGHT}x{WIDTH}, {len(queries)} points, OpenCV threads: {cv2.getNumThreads()}")
    for name in ("lk", "flow"):
        tracker = build_point_tracker(name)
        start = time.perf_counter()
        _, visible = tracker.track(frames, queries)
        seconds = time.perf_counter() - start
        print(f"{name:5s} {seconds / NUM_FRAMES:.4f} s/frame  ({seconds:.2f} s total, "
              f"{visible.mean():.1%} of point-frames visible)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
