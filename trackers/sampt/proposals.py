"""First-frame object proposals for open-world video instance segmentation (UVO, paper Sec. 4.2).

SAM-PT's VIS evaluation asks SAM's automatic mask generator for up to 100 masks on the first frame and
tracks each one as an object. A proposer turns one (H, W, 3) uint8 RGB frame into `Proposals`:
(N, H, W) bool masks with (N,) scores, highest score first.

- ``sam-automatic`` (`SamAutomaticProposer`): SAM's automatic mask generator over OUR `Segmenter`
  interface, with the settings SAM-PT's VIS evaluation uses (its ``configs/vis_eval_root.yaml``: 32 points
  per side, predicted-IoU threshold 0.88, stability threshold 0.95 with offset 1.0, box NMS 0.7, one
  crop layer (``crop_n_layers: 0``), no small-region post-processing, first 100 masks). Per batch of grid
  points: one decoder call with one positive point per prompt, ``multimask_output=True`` as SAM's
  generator does (3 masks per point for SAM; HQ-SAM's decoder returns its best one); keep masks whose
  predicted IoU is > ``pred_iou_thresh``; upscale the logits to the frame; keep masks whose stability score
  (area of logits > threshold + offset over area of logits > threshold - offset) is >= the threshold; box
  NMS over all kept masks by predicted IoU; the first ``max_masks``. ``multimask_output=False`` uses the
  plain `Segmenter.predict` (one mask per point) and so works with every backend.
- ``gt-first-frame`` (`GtFirstFrameProposer`): the ground truth's masks on the first frame (every track
  present there; score 1), a weight-free oracle for the embedded default and tests.
- ``felzenszwalb`` (`FelzenszwalbProposer`): a classical over-segmentation (scikit-image Felzenszwalb
  graph segmentation) whose regions are the proposals, largest first, with a constant score.

`build_proposer(name, segmenter=None, **options)` builds one by name (`PROPOSERS`).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from trackers.segmenters.base import Embedding, Segmenter

PROPOSERS = ("sam-automatic", "gt-first-frame", "felzenszwalb")


@dataclass
class Proposals:
    """Object proposals on one frame.

    Attributes:
        masks: (N, H, W) bool, none of them empty.
        scores: (N,) float32, non-increasing.
    """

    masks: np.ndarray
    scores: np.ndarray

    def __post_init__(self):
        self.masks = np.asarray(self.masks, bool)
        self.scores = np.asarray(self.scores, np.float32)
        if self.masks.ndim != 3 or self.scores.shape != (len(self.masks),):
            raise ValueError(f"proposals need (N, H, W) masks and (N,) scores, got {self.masks.shape} and "
                             f"{self.scores.shape}")

    def __len__(self) -> int:
        return len(self.masks)


class Proposer(ABC):
    """Makes first-frame object proposals."""

    #: whether `propose` needs the video (its ground truth)
    needs_video: bool = False

    @abstractmethod
    def propose(self, frame: np.ndarray, video=None) -> Proposals:
        """Proposals on ``frame`` ((H, W, 3) uint8 RGB, the video's first frame)."""


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"proposals need an (H, W, 3) uint8 RGB frame, got shape {frame.shape} dtype {frame.dtype}")
    return frame


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------------ SAM's generator
def point_grid(points_per_side: int) -> np.ndarray:
    """(n * n, 2) float64 (x, y) in [0, 1]: cell centres of an n x n grid, x varying fastest (SAM's grid)."""
    n = _positive_int("points_per_side", points_per_side)
    offset = 1.0 / (2 * n)
    side = np.linspace(offset, 1 - offset, n)
    xs, ys = np.meshgrid(side, side)
    return np.stack([xs.reshape(-1), ys.reshape(-1)], axis=-1)


def stability_score(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """(B, H, W) logits -> (B,) area(logits > threshold + offset) / area(logits > threshold - offset).

    An empty outer mask gives NaN (0 / 0), which no stability threshold keeps (as in SAM).
    """
    inner = (logits > threshold + offset).sum(dim=(-2, -1), dtype=torch.int64)
    outer = (logits > threshold - offset).sum(dim=(-2, -1), dtype=torch.int64)
    return inner.double() / outer.double()


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool -> (B, 4) float32 (x0, y0, x1, y1), inclusive pixel bounds; [0, 0, 0, 0] for an empty mask."""
    if len(masks) == 0:
        return torch.zeros((0, 4), dtype=torch.float32)
    height, width = masks.shape[-2:]
    rows = masks.any(dim=-1)  # (B, H)
    cols = masks.any(dim=-2)  # (B, W)
    row_index = torch.arange(height, device=masks.device)
    col_index = torch.arange(width, device=masks.device)
    y0 = torch.where(rows, row_index, height).min(dim=-1).values
    y1 = torch.where(rows, row_index, -1).max(dim=-1).values
    x0 = torch.where(cols, col_index, width).min(dim=-1).values
    x1 = torch.where(cols, col_index, -1).max(dim=-1).values
    boxes = torch.stack([x0, y0, x1, y1], dim=-1).float()
    empty = ~rows.any(dim=-1)
    boxes[empty] = 0.0
    return boxes


def predict_multimask(segmenter: Segmenter, embedding: Embedding, points: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's decoder with ``multimask_output=True`` on single positive points, through a `SamSegmenter`.

    Args:
        points: (B, 2) float pixel (x, y) in the original frame.

    Returns:
        low-res logits (B * K, 1, 256, 256) float32 and predicted IoU (B * K,) float32, point-major
        (K = 3 for SAM's decoder; HQ-SAM's decoder picks its best mask, K = 1), as SAM's generator flattens them.
    """
    from trackers.segmenters.sam import SamSegmenter

    if not isinstance(segmenter, SamSegmenter):
        raise ValueError(f"multimask_output=True needs a SAM-family segmenter (SamSegmenter); got "
                         f"{type(segmenter).__name__}. Use multimask_output=false to propose with the plain "
                         "single-mask Segmenter.predict")
    device = segmenter.device
    points = torch.as_tensor(points, dtype=torch.float32, device=device)
    coords = segmenter.to_input_coords(points[:, None, :], embedding.original_size)
    labels = torch.ones(coords.shape[:2], dtype=torch.int32, device=device)
    with torch.inference_mode():
        sparse, dense = segmenter.sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        args = dict(image_embeddings=embedding.features["image"], image_pe=segmenter.sam.prompt_encoder.get_dense_pe(),
                    sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True)
        if segmenter.is_hq:
            args.update(hq_token_only=segmenter.hq_token_only, interm_embeddings=embedding.features["interm"])
        with segmenter._autocast():
            low_res, iou = segmenter.sam.mask_decoder(**args)
    low_res = low_res.float()
    return low_res.reshape(-1, 1, *low_res.shape[-2:]), iou.float().reshape(-1)


class SamAutomaticProposer(Proposer):
    """SAM's automatic mask generator (one crop) over a `Segmenter`; see the module docstring.

    Args:
        segmenter: the SAM backend (the same model SAM-PT prompts, as in the authors' VIS evaluation).
        points_per_side: grid of n x n single-point prompts (SAM-PT: 32).
        points_per_batch: prompts per decoder call (SAM-PT: 64; only speed and memory depend on it).
        pred_iou_thresh: keep masks with predicted IoU > this (SAM-PT: 0.88); <= 0 keeps all (as SAM).
        stability_score_thresh: keep masks with stability score >= this (SAM-PT: 0.95); <= 0 keeps all.
        stability_score_offset: logit offset of the stability score (SAM-PT: 1.0).
        box_nms_thresh: box-IoU threshold of the non-maximum suppression (SAM-PT: 0.7).
        max_masks: keep at most this many non-empty masks, best predicted IoU first (SAM-PT: 100).
        multimask_output: three masks per point as SAM's generator (SAM-PT: true; SAM-family backends
            only); false: one mask per point through `Segmenter.predict` (any backend).
        mask_threshold: logit threshold of a mask (SAM: 0.0).
    """

    def __init__(self, segmenter: Segmenter, points_per_side: int = 32, points_per_batch: int = 64,
                 pred_iou_thresh: float = 0.88, stability_score_thresh: float = 0.95,
                 stability_score_offset: float = 1.0, box_nms_thresh: float = 0.7, max_masks: int = 100,
                 multimask_output: bool = True, mask_threshold: float = 0.0):
        if segmenter is None:
            raise ValueError("the sam-automatic proposer needs a segmenter (the SAM model SAM-PT uses)")
        self.segmenter = segmenter
        self.points_per_side = _positive_int("points_per_side", points_per_side)
        self.points_per_batch = _positive_int("points_per_batch", points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        if not 0.0 <= box_nms_thresh <= 1.0:
            raise ValueError(f"box_nms_thresh must be in [0, 1], got {box_nms_thresh!r}")
        self.box_nms_thresh = float(box_nms_thresh)
        self.max_masks = _positive_int("max_masks", max_masks)
        self.multimask_output = bool(multimask_output)
        self.mask_threshold = float(mask_threshold)
        if self.multimask_output:
            from trackers.segmenters.sam import SamSegmenter

            if not isinstance(segmenter, SamSegmenter):
                raise ValueError(f"multimask_output=True needs a SAM-family segmenter; got {type(segmenter).__name__} "
                                 "(set multimask_output=false to use its single-mask predict)")

    def _predict(self, embedding: Embedding, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.multimask_output:
            return predict_multimask(self.segmenter, embedding, points)
        labels = torch.ones((len(points), 1), dtype=torch.int64)
        prediction = self.segmenter.predict(embedding, points[:, None, :], labels)
        return prediction.low_res_logits.float(), prediction.iou.float()

    def propose(self, frame: np.ndarray, video=None) -> Proposals:
        import torchvision

        frame = _check_frame(frame)
        height, width = frame.shape[:2]
        embedding = self.segmenter.embed(frame)
        grid = torch.from_numpy(point_grid(self.points_per_side) * np.array([width, height])).float()
        kept_masks, kept_iou, kept_boxes = [], [], []
        for start in range(0, len(grid), self.points_per_batch):
            low_res, iou = self._predict(embedding, grid[start:start + self.points_per_batch])
            # as SAM's generator: a threshold <= 0 switches its filter off
            keep = (iou > self.pred_iou_thresh) if self.pred_iou_thresh > 0 else torch.ones_like(iou, dtype=torch.bool)
            keep = keep.nonzero().flatten()
            if len(keep) == 0:
                continue
            logits = self.segmenter.upscale(embedding, low_res[keep]).float()
            iou = iou[keep]
            if self.stability_score_thresh > 0:
                stability = stability_score(logits, self.mask_threshold, self.stability_score_offset)
                stable = (stability >= self.stability_score_thresh).nonzero().flatten()
                logits, iou = logits[stable], iou[stable]
            if len(logits) == 0:
                continue
            masks = (logits > self.mask_threshold).cpu()
            kept_masks.append(masks)
            kept_iou.append(iou.cpu())
            kept_boxes.append(mask_boxes(masks))
        if not kept_masks:
            return Proposals(np.zeros((0, height, width), bool), np.zeros(0, np.float32))
        masks, iou, boxes = torch.cat(kept_masks), torch.cat(kept_iou), torch.cat(kept_boxes)
        order = torchvision.ops.batched_nms(boxes, iou, torch.zeros(len(boxes), dtype=torch.int64),
                                            iou_threshold=self.box_nms_thresh)
        masks, scores = masks[order].numpy(), iou[order].numpy()
        # an empty mask cannot be tracked (SAM's generator keeps it only when its filters are switched off)
        nonempty = masks.reshape(len(masks), -1).any(axis=1)
        return Proposals(masks[nonempty][: self.max_masks], scores[nonempty][: self.max_masks])


# ------------------------------------------------------------------------------------ weight-free
class GtFirstFrameProposer(Proposer):
    """Every ground-truth track present on the first frame, with score 1 (an oracle, for tests and demos).

    Needs the video: a `datasets.uvo.UvoVideo` (``track_masks(0)``, overlapping masks kept) or any
    `datasets.video.Video` (objects whose first frame is 0, ``first_mask``). Masks are given at the
    video's annotation size; ``propose`` resizes them (nearest) to the frame when it differs.
    """

    needs_video = True

    def __init__(self, score: float = 1.0):
        self.score = float(score)

    def propose(self, frame: np.ndarray, video=None) -> Proposals:
        import cv2

        frame = _check_frame(frame)
        if video is None:
            raise ValueError("the gt-first-frame proposer needs the video (its ground truth); pass video=")
        if hasattr(video, "track_masks"):
            masks = video.track_masks(0)
        else:
            masks = np.stack([video.first_mask(obj.id) for obj in video.objects if obj.first_frame == 0]
                             or [np.zeros(video.size, bool)])
        masks = masks[masks.reshape(len(masks), -1).any(axis=1)]
        height, width = frame.shape[:2]
        if masks.shape[1:] != (height, width):
            masks = np.stack([cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
                              for m in masks]).astype(bool) if len(masks) else np.zeros((0, height, width), bool)
            masks = masks[masks.reshape(len(masks), -1).any(axis=1)]
        return Proposals(masks, np.full(len(masks), self.score, np.float32))


class FelzenszwalbProposer(Proposer):
    """Felzenszwalb-Huttenlocher graph over-segmentation regions as proposals (weight-free).

    Args:
        scale, sigma, min_size: `skimage.segmentation.felzenszwalb` parameters (min_size in pixels).
        min_area_fraction: drop regions smaller than this fraction of the frame.
        max_masks: keep the largest regions, at most this many.
        score: the constant score of every proposal.
    """

    def __init__(self, scale: float = 300.0, sigma: float = 0.8, min_size: int = 50,
                 min_area_fraction: float = 0.002, max_masks: int = 100, score: float = 1.0):
        self.scale = float(scale)
        self.sigma = float(sigma)
        self.min_size = _positive_int("min_size", min_size)
        if not 0.0 <= min_area_fraction < 1.0:
            raise ValueError(f"min_area_fraction must be in [0, 1), got {min_area_fraction!r}")
        self.min_area_fraction = float(min_area_fraction)
        self.max_masks = _positive_int("max_masks", max_masks)
        self.score = float(score)

    def propose(self, frame: np.ndarray, video=None) -> Proposals:
        from skimage.segmentation import felzenszwalb

        frame = _check_frame(frame)
        regions = felzenszwalb(frame, scale=self.scale, sigma=self.sigma, min_size=self.min_size)
        labels, areas = np.unique(regions, return_counts=True)
        minimum = math.ceil(self.min_area_fraction * regions.size)
        order = np.argsort(-areas, kind="stable")
        chosen = [labels[i] for i in order if areas[i] >= max(minimum, 1)][: self.max_masks]
        masks = np.stack([regions == label for label in chosen]) if chosen else np.zeros((0,) + regions.shape, bool)
        return Proposals(masks, np.full(len(masks), self.score, np.float32))


def build_proposer(name: str, segmenter: Segmenter | None = None, **options) -> Proposer:
    """A proposer by name (`PROPOSERS`); ``segmenter`` is used by ``sam-automatic`` only."""
    if name == "sam-automatic":
        return SamAutomaticProposer(segmenter, **options)
    if name == "gt-first-frame":
        return GtFirstFrameProposer(**options)
    if name == "felzenszwalb":
        return FelzenszwalbProposer(**options)
    raise ValueError(f"unknown proposer {name!r}; valid names: {', '.join(PROPOSERS)}")
