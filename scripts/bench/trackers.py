"""Speed of the weight-free point trackers: seconds per frame of `lk` and `flow` for 64 points on a 50-frame
480x854 synthetic video (a textured square translating and rotating over a textured background).

``--neural``: `pips`, `cotracker_v1`, `superglue` and `tapnet` (or those of ``--trackers``) with random weights
(damped PIPS as in the tests; CoTracker v1 seeded, `scripts.bench.tracker_memory.build_random`, its default options;
TAP-Net's recording weights, `tests.inputs.seeded_tapnet_state`, its default options; SuperGlue's shaped
weights of `tests.inputs.superglue_states`, keypoints capped at ``--keypoints``, since these random SuperPoint
weights find one every ~25 px) on the first ``--frames`` frames, on the CPU, one torch thread; the
square's frame-0 box is SuperGlue's reference mask (8 positive points, as Tab. 2a). Not part of `make bench`
(`scripts.bench.stages` relates the trackers' time to their counted FLOPs and the machine's peak)."""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from scripts.bench.tracker_memory import build_random
from trackers.point.base import build_point_tracker

NUM_FRAMES, HEIGHT, WIDTH, NUM_POINTS = 50, 480, 854, 64
NEURAL = ("pips", "cotracker_v1", "superglue", "tapnet")


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


def neural(frames: np.ndarray, queries: np.ndarray, keypoints: list[int], trackers=NEURAL) -> None:
    """Print seconds per frame of the random-weight ``trackers`` (of `NEURAL`; `superglue` once per keypoint cap)
    on ``frames``, for the frame-0 ``queries``."""
    import torch

    from tests.inputs import damped_pips_state, seeded_tapnet_state, superglue_states, write_tapnet_checkpoint
    from trackers.point.base import ReferenceMasks
    from trackers.point.pips.net import PipsNet
    from trackers.point.pips.tracker import PipsTracker

    torch.set_num_threads(1)
    net = PipsNet(window=8, stride=4)
    net.load_state_dict(damped_pips_state(0))
    first = queries[queries[:, 0] == 0]
    if "pips" in trackers:
        timed("pips", len(frames), lambda: PipsTracker(net=net, device="cpu").track(frames, first))
    with tempfile.TemporaryDirectory() as folder:
        if "cotracker_v1" in trackers:
            cotracker = build_random("cotracker_v1", Path(folder))
            timed("cotracker_v1", len(frames), lambda: cotracker.track(frames, first))
        if "tapnet" in trackers:
            write_tapnet_checkpoint(seeded_tapnet_state(), Path(folder) / "checkpoint_wo_optstate.npy")
            tapnet = build_point_tracker("tapnet", str(Path(folder) / "checkpoint_wo_optstate.npy"), device="cpu")
            timed("tapnet", len(frames), lambda: tapnet.track(frames, first))
    if "superglue" not in trackers:
        return
    mask = np.zeros((1,) + frames.shape[1:3], bool)
    x0, y0 = first[:, 1:].min(0).astype(int)
    x1, y1 = first[:, 1:].max(0).astype(int)
    mask[0, y0:y1 + 1, x0:x1 + 1] = True
    with tempfile.TemporaryDirectory() as folder:
        superpoint, superglue = superglue_states()
        torch.save(superpoint, Path(folder) / "superpoint_v1.pth")
        torch.save(superglue, Path(folder) / "superglue_outdoor.pth")
        for cap in keypoints:
            tracker = build_point_tracker("superglue", str(Path(folder) / "superglue_outdoor.pth"), device="cpu",
                                          max_keypoints=cap)
            reference = ReferenceMasks(mask, 8, 0)
            timed(f"superglue ({cap} keypoints)", len(frames),
                  lambda: tracker.track(frames, first[:8], reference=reference))


def timed(name: str, num_frames: int, run) -> None:
    start = time.perf_counter()
    _, visible = run()
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds / num_frames:.3f} s/frame  ({seconds:.1f} s for {num_frames} frames, "
          f"{visible.mean():.1%} of point-frames visible)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neural", action="store_true",
                        help="time pips, cotracker_v1, superglue and tapnet instead (random weights)")
    parser.add_argument("--trackers", nargs="+", choices=NEURAL, default=list(NEURAL), help="--neural: which")
    parser.add_argument("--frames", type=int, default=8, help="--neural: frames of the video to track")
    parser.add_argument("--keypoints", type=int, nargs="+", default=[1024, 2048], help="--neural: SuperPoint caps")
    args = parser.parse_args(argv or [])
    frames, queries = synthetic_video()
    if args.neural:
        print(f"{args.frames} frames {HEIGHT}x{WIDTH}, CPU, 1 torch thread")
        neural(frames[:args.frames], queries, args.keypoints, args.trackers)
        return
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
