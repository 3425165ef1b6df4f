"""`GrabCutSegmenter`: a weight-free point-prompted segmenter built on OpenCV's GrabCut.

Per object, GrabCut (colour GMMs + graph cut) runs on the frame downscaled so its longest side is
``work_long_side`` pixels, initialised from the prompts (later rules override earlier ones):

1. everything "probable background";
2. ``mask_input`` (previous low-res logits, mapped back to the frame): logit > 0 "probable foreground",
   else "probable background"; without a mask input, the convex hull of the positive points, dilated by
   ``hull_margin`` x the working long side, is "probable foreground";
3. the box: outside it "sure background"; without mask input the inside of the box is "probable
   foreground" (points-only prompts keep the hull from step 2);
4. a disc of ``probable_radius`` around each positive point "probable foreground", then a disc of
   ``point_radius`` "sure foreground"; a disc of ``point_radius`` around each negative point "sure
   background". Labels -1 are padding and ignored.

Output follows SAM's conventions so SAM-PT can swap it in: (M, 1, 256, 256) logits in SAM's low-res frame
(the frame resized to longest side 1024, padded to 1024x1024, scaled to 256), so `upscale` is SAM's
``postprocess_masks`` geometry. The logits are the signed distance to the GrabCut mask boundary in
working pixels (positive inside), clipped to +-``logit_clip``.

Predicted "IoU" (a heuristic confidence in [0, 1], not a learned quantity): the mean of the prompt
agreements that apply: the fraction of (non-padding) points whose label agrees with the mask (positive
inside, negative outside); the IoU of the mask's bounding box with the box prompt; the IoU of the mask
with the mask input (> 0). An empty mask scores 0.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from trackers.segmenters.base import Embedding, Prediction, Segmenter
from trackers.segmenters.prompts import (
    check_prompts,
    empty_prediction,
    resized_shape,
    logits_to_low_res,
    low_res_to_size,
    sam_postprocess,
)

SAM_IMAGE_SIZE = 1024


class GrabCutSegmenter(Segmenter):
    """Weight-free GrabCut segmenter with SAM's prompt and output conventions (see the module docstring).

    Args:
        work_long_side: longest side (pixels) of the frame GrabCut works on; smaller is faster.
        iterations: GrabCut iterations per object.
        point_radius: radius of the sure fg/bg discs, as a fraction of the working long side (>= 1 px).
        probable_radius: radius of the probable-fg discs around positive points (fraction of the long side).
        hull_margin: dilation of the positive points' convex hull (fraction of the long side).
        logit_clip: absolute clip of the signed-distance logits.
        roi_margin: GrabCut runs on the bounding box of the initial foreground grown by this fraction of
            its size on each side (pixels outside stay background; faster for small objects); None: the
            whole working frame.
        seed: OpenCV RNG seed set before each GrabCut call (its GMM init uses k-means), for reproducibility.
    """

    def __init__(
        self,
        work_long_side: int = 256,
        iterations: int = 3,
        point_radius: float = 0.01,
        probable_radius: float = 0.04,
        hull_margin: float = 0.04,
        logit_clip: float = 8.0,
        roi_margin: float | None = 1.0,
        seed: int = 0,
    ):
        if work_long_side < 16:
            raise ValueError(f"work_long_side must be >= 16 pixels, got {work_long_side}")
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.work_long_side = int(work_long_side)
        self.iterations = int(iterations)
        self.point_radius = float(point_radius)
        self.probable_radius = float(probable_radius)
        self.hull_margin = float(hull_margin)
        self.logit_clip = float(logit_clip)
        if roi_margin is not None and roi_margin < 0:
            raise ValueError(f"roi_margin must be >= 0 or None, got {roi_margin}")
        self.roi_margin = roi_margin
        self.seed = int(seed)

    def embed(self, frame: np.ndarray) -> Embedding:
        """Keep the (h, w, 3) working-resolution frame (GrabCut has no learned features)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"embed expects an (H, W, 3) uint8 RGB frame, got shape {frame.shape} dtype {frame.dtype}")
        height, width = frame.shape[:2]
        work_h, work_w = resized_shape(height, width, self.work_long_side)
        work = cv2.resize(np.ascontiguousarray(frame), (work_w, work_h), interpolation=cv2.INTER_AREA)
        return Embedding(
            features=np.ascontiguousarray(work),
            original_size=(height, width),
            input_size=resized_shape(height, width, SAM_IMAGE_SIZE),
        )

    def _px(self, fraction: float) -> int:
        return max(1, int(round(fraction * self.work_long_side)))

    def predict(self, embedding: Embedding, points, labels, boxes=None, mask_input=None) -> Prediction:
        """See `Segmenter.predict`: (M, 1, 256, 256) float32 logits and (M,) float32 confidence, CPU tensors."""
        if not isinstance(embedding.features, np.ndarray):
            raise TypeError("embedding was not produced by GrabCutSegmenter.embed")
        points = None if points is None else torch.as_tensor(points).detach().cpu().float()
        labels = None if labels is None else torch.as_tensor(labels).detach().cpu().long()
        boxes = None if boxes is None else torch.as_tensor(boxes).detach().cpu().float()
        mask_input = None if mask_input is None else torch.as_tensor(mask_input).detach().cpu().float()
        count = check_prompts(points, labels, boxes, mask_input, self.low_res_size)
        if count == 0:
            return empty_prediction(self.low_res_size)
        work = embedding.features
        work_h, work_w = work.shape[:2]
        height, width = embedding.original_size
        scale = np.array([work_w / width, work_h / height], dtype=np.float64)
        previous = None
        if mask_input is not None:
            previous = low_res_to_size(mask_input, embedding.input_size, (work_h, work_w), SAM_IMAGE_SIZE)
            previous = previous[:, 0].numpy() > 0
        logits = np.empty((count, work_h, work_w), dtype=np.float32)
        scores = np.empty(count, dtype=np.float32)
        for m in range(count):
            obj_points = obj_labels = None
            if points is not None:
                keep = labels[m] >= 0
                obj_points = points[m][keep].numpy().astype(np.float64) * scale
                obj_labels = labels[m][keep].numpy()
            box = None if boxes is None else boxes[m].numpy().astype(np.float64) * np.tile(scale, 2)
            prev = None if previous is None else previous[m]
            mask = self._segment(work, obj_points, obj_labels, box, prev)
            logits[m] = self._signed_distance(mask)
            scores[m] = self._confidence(mask, obj_points, obj_labels, box, prev)
        low_res = logits_to_low_res(
            torch.from_numpy(logits)[:, None], embedding.input_size, self.low_res_size, SAM_IMAGE_SIZE, -self.logit_clip
        )
        return Prediction(low_res_logits=low_res.float(), iou=torch.from_numpy(scores))

    def _initial_labels(self, shape, points, labels, box, previous) -> np.ndarray:
        height, width = shape
        init = np.full(shape, cv2.GC_PR_BGD, dtype=np.uint8)
        positives = np.zeros((0, 2)) if points is None else points[labels == 1]
        if previous is not None:
            init[previous] = cv2.GC_PR_FGD
        elif len(positives):
            hull = cv2.convexHull(np.round(positives).astype(np.int32).reshape(-1, 1, 2))
            cv2.fillConvexPoly(init, hull, int(cv2.GC_PR_FGD))
            margin = self._px(self.hull_margin)
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
            grown = cv2.dilate((init == cv2.GC_PR_FGD).astype(np.uint8), kernel) > 0
            init[grown] = cv2.GC_PR_FGD
        if box is not None:
            x0, y0, x1, y1 = box
            cols, rows = np.arange(width) + 0.5, np.arange(height) + 0.5
            inside = ((rows >= y0) & (rows <= y1))[:, None] & ((cols >= x0) & (cols <= x1))[None, :]
            if previous is None and not len(positives):
                init[inside] = cv2.GC_PR_FGD
            init[~inside] = cv2.GC_BGD
        if points is not None:
            for (x, y), label in zip(points, labels):
                center = (int(round(x)), int(round(y)))
                if label == 1:
                    cv2.circle(init, center, self._px(self.probable_radius), int(cv2.GC_PR_FGD), -1)
            for (x, y), label in zip(points, labels):
                center = (int(round(x)), int(round(y)))
                value = cv2.GC_FGD if label == 1 else cv2.GC_BGD
                cv2.circle(init, center, self._px(self.point_radius), int(value), -1)
        return init

    def _segment(self, work, points, labels, box, previous) -> np.ndarray:
        """(h, w) bool GrabCut mask at working resolution."""
        init = self._initial_labels(work.shape[:2], points, labels, box, previous)
        foreground = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
        if not foreground.any():
            return foreground  # nothing prompts a foreground: empty mask
        window = self._roi(foreground, init)
        sub_init = np.ascontiguousarray(init[window])
        if not ((sub_init == cv2.GC_BGD) | (sub_init == cv2.GC_PR_BGD)).any():
            return foreground  # no background sample to learn from: the prompted region itself
        cv2.setRNGSeed(self.seed)
        bgd_model, fgd_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(np.ascontiguousarray(work[window]), sub_init, None, bgd_model, fgd_model, self.iterations,
                    cv2.GC_INIT_WITH_MASK)
        mask = np.zeros(foreground.shape, bool)
        mask[window] = (sub_init == cv2.GC_FGD) | (sub_init == cv2.GC_PR_FGD)
        return mask

    def _roi(self, foreground: np.ndarray, init: np.ndarray) -> tuple[slice, slice]:
        """The window GrabCut runs on: the bounding box of the initial foreground grown by ``roi_margin`` x
        its size on each side (whole frame for ``roi_margin`` None, or when the window would hold no
        background sample)."""
        height, width = foreground.shape
        whole = (slice(0, height), slice(0, width))
        if self.roi_margin is None:
            return whole
        rows, cols = np.nonzero(foreground)
        grow_y = int(np.ceil(self.roi_margin * (rows.max() - rows.min() + 1)))
        grow_x = int(np.ceil(self.roi_margin * (cols.max() - cols.min() + 1)))
        window = (
            slice(max(0, rows.min() - grow_y), min(height, rows.max() + 1 + grow_y)),
            slice(max(0, cols.min() - grow_x), min(width, cols.max() + 1 + grow_x)),
        )
        sub = init[window]
        return window if ((sub == cv2.GC_BGD) | (sub == cv2.GC_PR_BGD)).any() else whole

    def _signed_distance(self, mask: np.ndarray) -> np.ndarray:
        """(h, w) float32: distance to the mask boundary, positive inside, clipped to +-logit_clip."""
        if not mask.any():
            return np.full(mask.shape, -self.logit_clip, np.float32)
        if mask.all():
            return np.full(mask.shape, self.logit_clip, np.float32)
        inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
        outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        signed = np.where(mask, inside - 0.5, 0.5 - outside)
        return np.clip(signed, -self.logit_clip, self.logit_clip).astype(np.float32)

    @staticmethod
    def _confidence(mask, points, labels, box, previous) -> float:
        if not mask.any():
            return 0.0
        checks = []
        if points is not None and len(points):
            height, width = mask.shape
            cols = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
            rows = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
            checks.append(float(np.mean(mask[rows, cols] == (labels == 1))))
        if box is not None:
            rows, cols = np.nonzero(mask)
            found = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float64)
            checks.append(_box_iou(found, box))
        if previous is not None:
            union = np.logical_or(mask, previous).sum()
            checks.append(float(np.logical_and(mask, previous).sum() / union) if union else 0.0)
        return float(np.mean(checks)) if checks else 0.0

    def upscale(self, embedding: Embedding, low_res_logits: torch.Tensor) -> torch.Tensor:
        """(M, 1, 256, 256) low-res logits -> (M, H, W) float32 logits (SAM's postprocess geometry)."""
        if low_res_logits.ndim != 4 or low_res_logits.shape[1] != 1:
            raise ValueError(f"low_res_logits must be (M, 1, 256, 256), got shape {tuple(low_res_logits.shape)}")
        logits = low_res_logits.detach().cpu().float()
        return sam_postprocess(logits, embedding.input_size, embedding.original_size, SAM_IMAGE_SIZE)[:, 0]


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return float(intersection / union) if union > 0 else 0.0
