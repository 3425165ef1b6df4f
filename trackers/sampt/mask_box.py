"""Bounding boxes of SAM's full-resolution masks, computed from low-resolution logits without upscaling.

SAM-PT's iterative refinement prompts SAM with the bounding box of the current mask at the original
frame resolution: ``mask = postprocess(low_res_logits) > 0`` where ``postprocess`` is SAM's two bilinear
resizes (256 -> 1024 square, crop to the resized-frame size, resize to the frame size). Upscaling every
object's logits on every refinement iteration dominates the cost of the SAM step, so `MaskBoxFinder`
evaluates the full-resolution logits only where the box edges can be: a bilinear output pixel is a convex
combination of its input taps, so it can only be positive where one of its low-resolution taps is
positive; the edges are found by scanning candidate rows/columns from the outside in, computing only
those rows/columns with the same per-pixel arithmetic as PyTorch's CPU bilinear kernel
(``(v00 * wx0 + v01 * wx1) * wy0 + (v10 * wx0 + v11 * wx1) * wy1`` in float32).
"""
from __future__ import annotations

import numpy as np
import torch


def bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source taps of a 1-D bilinear resize (``align_corners=False``), as PyTorch computes them.

    Returns:
        i0, i1: (out_size,) int64 source indices; w0, w1: (out_size,) float32 weights.
    """
    scale = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    src = np.maximum(scale * (dst + np.float32(0.5)) - np.float32(0.5), np.float32(0.0))
    i0 = src.astype(np.int64)
    w1 = np.clip(src - i0.astype(np.float32), np.float32(0.0), np.float32(1.0))
    w0 = np.float32(1.0) - w1
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    return i0, i1, w0, w1


def _resample(values: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    """Bilinear samples of the 2-D ``values`` at the given row and column taps (PyTorch's order)."""
    r0, r1, wr0, wr1 = rows
    c0, c1, wc0, wc1 = cols
    upper, lower = values[r0], values[r1]
    top = upper[:, c0] * wc0 + upper[:, c1] * wc1
    bottom = lower[:, c0] * wc0 + lower[:, c1] * wc1
    return top * wr0[:, None] + bottom * wr1[:, None]


class MaskBoxFinder:
    """Bounding boxes of ``upscale(low_res_logits) > 0`` for one (input size, frame size) pair.

    Args:
        low_res_size: side of the square low-res logits (SAM: 256).
        model_size: side of the square model input (SAM: 1024).
        input_size: (h, w) of the frame resized so its longest side is ``model_size``.
        frame_size: (H, W) of the original frame.
        chunk: rows/columns computed per scan step.
    """

    def __init__(self, low_res_size: int, model_size: int, input_size: tuple[int, int],
                 frame_size: tuple[int, int], chunk: int = 4):
        self.frame_size = tuple(int(v) for v in frame_size)
        self.chunk = chunk
        self._axes = []
        for axis in range(2):
            s0, s1, v0, v1 = bilinear_taps(low_res_size, model_size)  # stage 1 over the square
            t0, t1, u0, u1 = bilinear_taps(int(input_size[axis]), self.frame_size[axis])  # stage 2 after crop
            self._axes.append({"stage1": (s0, s1, v0, v1), "stage2": (t0, t1, u0, u1)})

    def _candidates(self, axis: int, positive_low_res: np.ndarray) -> np.ndarray:
        """Full-res indices along ``axis`` whose low-res support touches a positive low-res index."""
        s0, s1, _, _ = self._axes[axis]["stage1"]
        t0, t1, _, _ = self._axes[axis]["stage2"]
        stage1_hit = positive_low_res[s0] | positive_low_res[s1]
        full_hit = stage1_hit[t0] | stage1_hit[t1]
        return np.flatnonzero(full_hit)

    def _taps(self, axis: int, full_indices: np.ndarray):
        """Stage-1 taps of the stage-1 samples that ``full_indices`` read, and the stage-2 taps into them."""
        s0, s1, v0, v1 = self._axes[axis]["stage1"]
        t0, t1, u0, u1 = self._axes[axis]["stage2"]
        needed = np.concatenate([t0[full_indices], t1[full_indices]])
        n = len(full_indices)
        stage2 = (np.arange(n), np.arange(n, 2 * n), u0[full_indices], u1[full_indices])
        stage1 = (s0[needed], s1[needed], v0[needed], v1[needed])
        return stage1, stage2

    def _full_values(self, logits: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Full-resolution logits at rows ``ys`` x columns ``xs`` of one (256, 256) logit map."""
        row1, row2 = self._taps(0, ys)
        col1, col2 = self._taps(1, xs)
        stage1 = _resample(logits, row1, col1)
        return _resample(stage1, row2, col2)

    def _first_hit(self, logits, scan, other, scan_axis: int) -> int | None:
        """Position in ``scan`` of the first full-res row (axis 0) / column (axis 1) with a positive pixel."""
        for start in range(0, len(scan), self.chunk):
            part = scan[start:start + self.chunk]
            if scan_axis == 0:
                hits = (self._full_values(logits, part, other) > 0).any(axis=1)
            else:
                hits = (self._full_values(logits, other, part) > 0).any(axis=0)
            found = np.flatnonzero(hits)
            if len(found):
                return int(part[found[0]])
        return None

    def _edges(self, logits, scan, other, scan_axis: int) -> tuple[int, int] | None:
        """First and last positive row (axis 0) / column (axis 1) among the candidates ``scan`` (ascending).

        The outermost ``chunk`` candidates on both sides are evaluated together (where the edges almost
        always are); an edge not among them is found by scanning further in.
        """
        if len(scan) == 0 or len(other) == 0:  # positives only in the padding that the crop removes
            return None
        k = self.chunk
        outer = np.unique(np.concatenate([scan[:k], scan[-k:]]))
        values = self._full_values(logits, outer, other) if scan_axis == 0 else self._full_values(logits, other, outer)
        hit = outer[(values > 0).any(axis=1 - scan_axis)]
        low = hit[hit <= scan[:k][-1]]
        high = hit[hit >= scan[-k:][0]]
        first = int(low[0]) if len(low) else self._first_hit(logits, scan[k:], other, scan_axis)
        if first is None:
            return None
        last = int(high[-1]) if len(high) else self._first_hit(logits, scan[:-k][::-1], other, scan_axis)
        return first, last

    def box(self, logits: np.ndarray) -> tuple[tuple[int, int, int, int] | None, int]:
        """Box of one (256, 256) float32 logit map's full-resolution mask.

        Returns:
            ((x0, y0, x1, y1) inclusive pixel bounds, or None when the mask is empty,
             the mask's pixel count clipped to 2: 0, 1 or 2 meaning ">= 2").
        """
        positive = logits > 0
        if not positive.any():
            return None, 0
        rows = self._candidates(0, positive.any(axis=1))
        cols = self._candidates(1, positive.any(axis=0))
        ys = self._edges(logits, rows, cols, 0)
        if ys is None:
            return None, 0
        xs = self._edges(logits, cols, rows, 1)
        (y0, y1), (x0, x1) = ys, xs
        count = 2 if (y1 > y0 or x1 > x0) else 1
        return (x0, y0, x1, y1), count

    def full_logits(self, logits: np.ndarray, rows: np.ndarray | None = None, cols: np.ndarray | None = None
                    ) -> np.ndarray:
        """(256, 256) -> full-resolution float32 logits at ``rows`` x ``cols`` (default: the whole (H, W))."""
        rows = np.arange(self.frame_size[0]) if rows is None else np.asarray(rows)
        cols = np.arange(self.frame_size[1]) if cols is None else np.asarray(cols)
        return self._full_values(np.asarray(logits, np.float32), rows, cols)

    def boxes(self, low_res_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes of M masks.

        Args:
            low_res_logits: (M, 1, 256, 256) float32 logits.

        Returns:
            boxes: (M, 4) float32 (x0, y0, x1, y1) inclusive pixel bounds (zeros for an empty mask);
            counts: (M,) int64 pixel counts clipped to 2 (0, 1, or 2 for ">= 2").
        """
        logits = low_res_logits.detach().to("cpu", torch.float32).numpy()
        boxes = np.zeros((len(logits), 4), dtype=np.float32)
        counts = np.zeros(len(logits), dtype=np.int64)
        for index, one in enumerate(logits[:, 0]):
            box, count = self.box(one)
            counts[index] = count
            if box is not None:
                boxes[index] = box
        return torch.from_numpy(boxes), torch.from_numpy(counts)


class UpscalingBoxFinder:
    """Boxes from the segmenter's own full-resolution upscaling, for segmenters whose low-res -> frame
    geometry is not SAM's (e.g. SAM 2 resizes the low-res logits straight to the frame size)."""

    def __init__(self, upscale, embedding):
        self._upscale = upscale
        self._embedding = embedding

    def boxes(self, low_res_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Same contract as `MaskBoxFinder.boxes`."""
        masks = self._upscale(self._embedding, low_res_logits).detach().cpu() > 0
        boxes = torch.zeros((len(masks), 4), dtype=torch.float32)
        counts = torch.zeros(len(masks), dtype=torch.int64)
        for index, mask in enumerate(masks):
            counts[index] = min(int(mask.sum()), 2)
            if counts[index]:
                ys, xs = torch.nonzero(mask, as_tuple=True)
                boxes[index] = torch.tensor([xs.min(), ys.min(), xs.max(), ys.max()], dtype=torch.float32)
        return boxes, counts


def has_sam_geometry(upscale, embedding, low_res_size: int, model_size: int) -> bool:
    """Whether ``upscale(embedding, (1, 1, s, s))`` is SAM's two-stage bilinear resize, checked on a random map."""
    probe = torch.randn((1, 1, low_res_size, low_res_size), generator=torch.Generator().manual_seed(0))
    theirs = upscale(embedding, probe)[0].detach().cpu().float().numpy()
    if theirs.shape != tuple(embedding.original_size):
        return False
    height, width = theirs.shape  # every 5th row and column (and the last) are plenty to tell geometries apart
    rows = np.unique(np.r_[np.arange(0, height, 5), height - 1])
    cols = np.unique(np.r_[np.arange(0, width, 5), width - 1])
    finder = MaskBoxFinder(low_res_size, model_size, embedding.input_size, embedding.original_size)
    ours = finder.full_logits(probe[0, 0].numpy(), rows, cols)
    return bool(np.abs(theirs[np.ix_(rows, cols)] - ours).max() <= 1e-4)
