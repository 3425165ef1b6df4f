"""Test doubles for the SAM-PT tests: a recording wrapper around any segmenter, a deterministic disk
segmenter (fast, controllable masks and IoU), a scripted point tracker, and the tiny random SAM."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from infra.frames import as_frame_source
from trackers.point.base import PointTracker
from trackers.segmenters.base import Embedding, Prediction, Segmenter


@dataclass
class Call:
    """One `predict` call: (M, P) labels, points, whether a box / mask input was given."""

    points: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray | None
    has_mask_input: bool


class Recorder(Segmenter):
    """Wraps a segmenter, recording every `embed` and `predict` call."""

    def __init__(self, inner: Segmenter):
        self.inner = inner
        self.low_res_size = inner.low_res_size
        self.embeds = 0
        self.calls: list[Call] = []

    def embed(self, frame):
        self.embeds += 1
        return self.inner.embed(frame)

    def predict(self, embedding, points, labels, boxes=None, mask_input=None):
        self.calls.append(Call(np.asarray(points), np.asarray(labels), None if boxes is None else np.asarray(boxes),
                               mask_input is not None))
        return self.inner.predict(embedding, points, labels, boxes, mask_input)

    def upscale(self, embedding, low_res_logits):
        return self.inner.upscale(embedding, low_res_logits)


class Unbatched(Recorder):
    """Splits every batched `predict` into one call per prompt (the authors' way)."""

    def predict(self, embedding, points, labels, boxes=None, mask_input=None):
        outs = [self.inner.predict(embedding, points[i:i + 1], labels[i:i + 1],
                                   None if boxes is None else boxes[i:i + 1],
                                   None if mask_input is None else mask_input[i:i + 1]) for i in range(len(points))]
        return Prediction(torch.cat([o.low_res_logits for o in outs]), torch.cat([o.iou for o in outs]))


def sam_postprocess(low_res: torch.Tensor, input_size, original_size, model_size: int = 1024) -> torch.Tensor:
    """SAM's ``postprocess_masks``: (M, 1, 256, 256) -> (M, H, W)."""
    up = F.interpolate(low_res.float(), (model_size, model_size), mode="bilinear", align_corners=False)
    up = up[..., :input_size[0], :input_size[1]]
    return F.interpolate(up, tuple(original_size), mode="bilinear", align_corners=False)[:, 0]


class DiskSegmenter(Segmenter):
    """Deterministic stand-in for SAM: the mask is a disk of ``radius`` frame pixels around the mean of the
    positive points (empty without positive points); predicted IoU is ``iou`` (or ``iou_by_frame[t]``).
    ``empty_from`` makes every mask empty from that embedded frame on (frames identified by ``frame[0,0,0]``)."""

    def __init__(self, radius: float = 8.0, iou: float = 0.9, iou_by_frame: dict | None = None,
                 empty_from: int | None = None):
        self.radius, self.iou, self.iou_by_frame, self.empty_from = radius, iou, iou_by_frame or {}, empty_from

    def embed(self, frame):
        height, width = frame.shape[:2]
        scale = 1024 / max(height, width)
        input_size = (int(height * scale + 0.5), int(width * scale + 0.5))
        return Embedding(features=None, original_size=(height, width), input_size=input_size,
                         extra=int(frame[0, 0, 0]))

    def predict(self, embedding, points, labels, boxes=None, mask_input=None):
        count = len(points) if points is not None else len(boxes)
        height, width = embedding.original_size
        scale = embedding.input_size[0] / height
        ys, xs = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
        logits = torch.full((count, 1, 256, 256), -10.0)
        frame_id = embedding.extra
        for m in range(count):
            positive = torch.as_tensor(points[m])[torch.as_tensor(labels[m]) == 1]
            if len(positive) == 0 or (self.empty_from is not None and frame_id >= self.empty_from):
                continue
            cx, cy = (positive.float().mean(0) * scale / 4 - 0.5 + 0.5 / 4).tolist()
            radius = self.radius * scale / 4
            logits[m, 0] = radius - torch.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
        iou = torch.full((count,), float(self.iou_by_frame.get(frame_id, self.iou)))
        return Prediction(low_res_logits=logits, iou=iou)

    def upscale(self, embedding, low_res_logits):
        return sam_postprocess(low_res_logits, embedding.input_size, embedding.original_size)


@dataclass
class ScriptedTracker(PointTracker):
    """Points stay at their query position (visible everywhere); records every call's (T, N, query ts)."""

    calls: list = field(default_factory=list)

    def track(self, frames, queries):
        queries = np.asarray(queries, np.float32)
        first = as_frame_source(frames).frame(0)  # frames may be a FrameSource (read on demand)
        self.calls.append((len(frames), len(queries), queries[:, 0].copy(), int(first[0, 0, 0])))
        tracks = np.repeat(queries[None, :, 1:], len(frames), axis=0)
        return tracks.astype(np.float32), np.ones(tracks.shape[:2], bool)


def frames_with_ids(num_frames: int, height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8 noise frames whose pixel [0, 0, 0] is the frame index (for the doubles above)."""
    frames = np.random.default_rng(seed).integers(0, 255, (num_frames, height, width, 3), dtype=np.uint8)
    frames[:, 0, 0, 0] = np.arange(num_frames)
    return frames


def tiny_sam_segmenter(iou_bias: float = 0.8):
    """The tiny random SAM behind `SamSegmenter`, its predicted IoU shifted so masks pass 0.7."""
    from trackers.segmenters.sam import SamSegmenter, build_tiny_sam

    sam = build_tiny_sam(seed=0)
    with torch.no_grad():
        sam.mask_decoder.iou_prediction_head.layers[-1].bias += iou_bias
    return SamSegmenter.from_model(sam)
