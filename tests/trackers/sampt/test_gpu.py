"""CUDA checks of the SAM step (skipped without a CUDA device): fp32 masks on the GPU equal those on the CPU,
bf16 autocast masks stay within IoU 0.99 of fp32, and batched encoder calls equal one-by-one ones there.

Tiny random SAM (`tests.fakes.tiny_sam_segmenter`, the real SAM geometry) on frames with
moving textured discs, prompted by SAM-PT's SAM step (`reference.runs.segment_tracks`: 8 positive + 1 negative
point per object, 12 refinement iterations) with points on the discs.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.fakes import tiny_sam_segmenter
from trackers.sampt.model import SamPt
from trackers.segmenters.sam import SamSegmenter
from reference.runs import segment_tracks

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

NUM_FRAMES, HEIGHT, WIDTH, NUM_OBJECTS = 4, 96, 160, 3


def _scene(seed: int = 0):
    """(T, H, W, 3) uint8 frames with NUM_OBJECTS textured discs; (T, M, 9, 2) tracks, (T, M, 9) visible."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    frames = rng.integers(40, 90, (NUM_FRAMES, HEIGHT, WIDTH, 3)).astype(np.uint8)
    tracks = np.zeros((NUM_FRAMES, NUM_OBJECTS, 9, 2), np.float32)
    for m in range(NUM_OBJECTS):
        offsets = rng.uniform(-8, 8, (8, 2))
        for t in range(NUM_FRAMES):
            cx, cy = 30 + 50 * m + 2 * t, 45 + t
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 < 14 ** 2
            frames[t][disc] = rng.integers(150, 255, (disc.sum(), 3))
            tracks[t, m, :8] = offsets + (cx, cy)
            tracks[t, m, 8] = (cx, 85)  # the negative point, below the disc
    return frames, tracks, np.ones(tracks.shape[:3], bool)


def _masks(device: str, bf16: bool = False) -> np.ndarray:
    """(M, T, H, W) bool masks of the SAM step on the scene."""
    base = tiny_sam_segmenter()
    segmenter = SamSegmenter.from_model(base.sam, device=device, autocast_bf16=bf16)
    frames, tracks, visible = _scene()
    masks, _ = segment_tracks(SamPt(None, segmenter), frames, tracks, visible, 8)
    return masks


def _mean_iou(a: np.ndarray, b: np.ndarray) -> float:
    pairs = zip(a.reshape(-1, HEIGHT * WIDTH), b.reshape(-1, HEIGHT * WIDTH))
    ious = [(x & y).sum() / (x | y).sum() for x, y in pairs if (x | y).any()]
    return float(np.mean(ious))


@pytest.fixture(scope="module")
def cpu_fp32() -> np.ndarray:
    masks = _masks("cpu")
    assert masks.any() and not masks.all()
    return masks


def test_cuda_fp32_masks_equal_cpu_fp32_masks(cpu_fp32):
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    try:
        cuda = _masks("cuda")
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    # float32 kernels differ between devices in their last bits: a logit within ~1e-6 of 0 may flip
    assert (cuda == cpu_fp32).mean() >= 0.9999, (cuda != cpu_fp32).sum()
    assert _mean_iou(cuda, cpu_fp32) >= 0.999


def test_cuda_bf16_masks_within_iou_099_of_fp32(cpu_fp32):
    bf16 = _masks("cuda", bf16=True)
    assert _mean_iou(bf16, cpu_fp32) >= 0.99


def test_cuda_embed_many_equals_embed():
    segmenter = SamSegmenter.from_model(tiny_sam_segmenter().sam, device="cuda")
    assert segmenter.embed_batch_size > 1  # the CUDA default batches the encoder
    frames, _, _ = _scene()
    many = segmenter.embed_many(list(frames))
    for frame, got in zip(frames, many):
        want = segmenter.embed(frame)
        torch.testing.assert_close(got.features["image"], want.features["image"], rtol=1e-3, atol=1e-4)
        assert got.features["image"].device.type == "cuda"
