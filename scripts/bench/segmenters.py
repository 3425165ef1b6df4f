"""Speed of the segmenter backends on one CPU thread: `embed` and batched `predict` of the tiny random SAM
(`build_tiny_sam`, the real 1024 input and decoder geometry), of the weight-free GrabCut and, when the sam2
package is installed, of the tiny random SAM 2.1 (`build_tiny_sam2`), on a 480x854
synthetic frame with M = 5 objects of 8 positive + 1 negative points (predict also with box + mask input,
as SAM-PT's refinement passes do).

    python -m scripts.bench.segmenters
"""
from __future__ import annotations

import time

import numpy as np
import torch

HEIGHT, WIDTH, NUM_OBJECTS, NUM_POSITIVE = 480, 854, 5, 8
REPEATS = 3


def _frame_and_prompts(seed: int = 0):
    """(H, W, 3) uint8 frame with NUM_OBJECTS textured discs; (M, 9, 2) points, (M, 9) labels, (M, 4) boxes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    frame = (rng.normal(0, 15, (HEIGHT, WIDTH, 3)) + np.array([40, 120, 160])).clip(0, 255)
    points, boxes = [], []
    for m in range(NUM_OBJECTS):
        cx, cy, radius = 110 + 160 * m, 160 + 40 * (m % 3), 55
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 < radius**2
        frame[inside] = (rng.normal(0, 15, (inside.sum(), 3)) + np.array([200, 60 + 30 * m, 30])).clip(0, 255)
        angles = rng.uniform(0, 2 * np.pi, NUM_POSITIVE)
        radii = rng.uniform(0, 0.8 * radius, NUM_POSITIVE)
        positive = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        points.append(np.concatenate([positive, [[cx, cy + 2.5 * radius]]]))
        boxes.append([cx - radius, cy - radius, cx + radius, cy + radius])
    labels = torch.tensor([[1] * NUM_POSITIVE + [0]] * NUM_OBJECTS)
    return (
        frame.astype(np.uint8),
        torch.tensor(np.array(points), dtype=torch.float32),
        labels,
        torch.tensor(boxes, dtype=torch.float32),
    )


def _best_of(function, repeats: int = REPEATS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _bench(name: str, segmenter, frame, points, labels, boxes) -> None:
    embed_s, embedding = _best_of(lambda: segmenter.embed(frame))
    points_s, first = _best_of(lambda: segmenter.predict(embedding, points, labels))
    refine_s, _ = _best_of(lambda: segmenter.predict(embedding, points, labels, boxes, first.low_res_logits))
    upscale_s, _ = _best_of(lambda: segmenter.upscale(embedding, first.low_res_logits))
    print(
        f"{name:10s} embed {embed_s * 1e3:8.1f} ms | predict M={len(points)} points {points_s * 1e3:7.1f} ms, "
        f"+box+mask {refine_s * 1e3:7.1f} ms | upscale {upscale_s * 1e3:6.1f} ms"
    )


def main() -> None:
    from trackers.segmenters.grabcut import GrabCutSegmenter
    from trackers.segmenters.sam import SamSegmenter, build_tiny_sam

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        frame, points, labels, boxes = _frame_and_prompts()
        print(f"frame {HEIGHT}x{WIDTH}, {NUM_OBJECTS} objects x {points.shape[1]} points, best of {REPEATS}, 1 thread")
        _bench("tiny SAM", SamSegmenter.from_model(build_tiny_sam(seed=0)), frame, points, labels, boxes)
        _bench("GrabCut", GrabCutSegmenter(), frame, points, labels, boxes)
        from trackers.segmenters.sam2 import Sam2Segmenter, build_tiny_sam2, sam2_available

        if sam2_available():
            _bench("tiny SAM 2", Sam2Segmenter.from_model(build_tiny_sam2(seed=0)), frame, points, labels, boxes)
        else:
            print("tiny SAM 2 skipped: the sam2 package is not installed")
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
