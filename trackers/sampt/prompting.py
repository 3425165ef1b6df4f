"""SAM-PT's per-frame prompting of SAM with tracked points (paper Sec. 3.2, step 3 "Segmentation", Fig. 4).

For one frame and M objects, given each object's tracked points and visibilities:

- only visible points are used; an object with no visible point at all (its own or other objects'
  positive points used as negatives) gets no mask and no score;
- pass 1: the object's visible positive points -> low-res logits (when the object has negative points);
- pass 2: visible positive + negative points (+ other objects' visible positive points as negatives)
  with pass 1's low-res logits as ``mask_input`` (without negative points: one pass, no mask input);
- refinement: N more passes, each adding the box of the current full-resolution mask and the previous
  low-res logits, stopping (per object) when that mask has fewer than 2 pixels;
- a predicted IoU below the threshold empties the mask (the score still counts, as in the authors' code).

Objects are batched into one `Segmenter.predict` call per pass. SAM's decoder attends over all prompt
tokens, so padding a prompt changes its result; with ``batching="by-prompt-length"`` (default) objects
are grouped by prompt length (one call per distinct length, usually one) and each result equals an
unbatched call (SAM-PT's own per-object calls are recorded: ``tests/trackers/sampt/test_official_sam_step.py``);
``batching="padded"`` pads with ignored points (label -1) into exactly one call, which changes the results.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trackers.segmenters.base import Embedding, Segmenter

BATCHING_MODES = ("by-prompt-length", "padded")


@dataclass(frozen=True)
class PromptSettings:
    """How SAM is prompted on one frame.

    Attributes:
        num_positive: the first ``num_positive`` points of each object are positive, the rest negative.
        two_pass: pass 1 with positives only, then pass 2 with all points (the authors do this when
            ``negative_points_per_mask > 0``); otherwise one pass with all points.
        refinement_iterations: number of box-refinement passes after the last pass.
        iou_threshold: masks whose predicted IoU is below this are emptied.
        other_objects_as_negatives: add other objects' visible positive points as negative points.
        max_other_objects_points: cap on those points (random subset), None for no cap.
        empty_mask_without_positive_point: no mask when no own positive point is visible (the authors'
            code still prompts SAM then, with no point in pass 1).
        batching: one of `BATCHING_MODES`.
        untransformed_refinement_box: pass the refinement box's frame-pixel coordinates to SAM as if
            they were model-input coordinates, as the authors' code does (equal when the frame's longest
            side is already 1024, which is how the authors run it).
        point_labels: each point's label (1/0) in the given order instead of ``num_positive`` positives first
            (`trackers.sampt.engine.VideoObjects.point_labels`); None: positives first.
    """

    num_positive: int
    two_pass: bool = True
    refinement_iterations: int = 12
    iou_threshold: float = 0.7
    other_objects_as_negatives: bool = True
    max_other_objects_points: int | None = None
    empty_mask_without_positive_point: bool = False
    batching: str = "by-prompt-length"
    untransformed_refinement_box: bool = False
    point_labels: tuple[int, ...] | None = None


@dataclass
class FramePrediction:
    """SAM's answer for M objects on one frame.

    Attributes:
        low_res_logits: (M, 1, 256, 256) float32 final low-res logits (zeros where ``predicted`` is False).
        has_mask: (M,) bool, a mask was predicted and passed the IoU threshold.
        predicted: (M,) bool, SAM was prompted for the object (its IoU counts towards the score).
        iou: (M,) float32 final predicted IoU (NaN where not predicted).
    """

    low_res_logits: torch.Tensor
    has_mask: np.ndarray
    predicted: np.ndarray
    iou: np.ndarray


def build_prompts(points: np.ndarray, visible: np.ndarray, active: np.ndarray, settings: PromptSettings,
                  rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Each active object's visible prompt points and labels, in the authors' order.

    Args:
        points: (M, P, 2) float pixel (x, y) on this frame.
        visible: (M, P) bool.
        active: (M,) bool, objects to prompt (all objects' points still serve as other objects' negatives).

    Returns:
        per object: None (inactive, or no mask: nothing visible), or (coords (K, 2) float32, labels (K,) int64):
        own visible points (label 1 for the first ``num_positive``, else 0; or ``point_labels``), then other
        objects' visible positive points (label 0).
    """
    num_objects, num_points = visible.shape
    own_labels = (np.arange(num_points) < settings.num_positive if settings.point_labels is None
                  else np.asarray(settings.point_labels)).astype(np.int64)
    positive = own_labels == 1
    prompts: list[tuple[np.ndarray, np.ndarray] | None] = []
    for index in range(num_objects):
        if not active[index]:
            prompts.append(None)
            continue
        coords = [points[index][visible[index]]]
        labels = [own_labels[visible[index]]]
        if settings.other_objects_as_negatives and num_objects > 1:
            others = np.concatenate([
                points[other][positive & visible[other]]
                for other in range(num_objects) if other != index
            ])
            cap = settings.max_other_objects_points
            if cap is not None and len(others) > cap:
                others = others[rng.choice(len(others), cap, replace=False)]
            coords.append(others)
            labels.append(np.zeros(len(others), np.int64))
        coords_all = np.concatenate(coords).astype(np.float32).reshape(-1, 2)
        labels_all = np.concatenate(labels)
        no_point = len(coords_all) == 0
        no_positive = not (labels_all == 1).any()
        if no_point or (settings.empty_mask_without_positive_point and no_positive):
            prompts.append(None)
        else:
            prompts.append((coords_all, labels_all))
    return prompts


def _predict(segmenter: Segmenter, embedding: Embedding, prompts: list[tuple[np.ndarray, np.ndarray]],
             boxes: torch.Tensor | None, mask_input: torch.Tensor | None, batching: str):
    """Run `Segmenter.predict` on K prompts; returns ((K, 1, 256, 256) logits, (K,) iou) in prompt order."""
    count = len(prompts)
    if batching == "padded":
        groups = [list(range(count))]
    else:
        by_length: dict[int, list[int]] = {}
        for index, (coords, _) in enumerate(prompts):
            by_length.setdefault(len(coords), []).append(index)
        groups = list(by_length.values())
    logits = [None] * count
    ious = [None] * count
    for group in groups:
        length = max(len(prompts[i][0]) for i in group)
        coords = np.zeros((len(group), length, 2), np.float32)
        labels = np.full((len(group), length), -1, np.int64)
        for row, index in enumerate(group):
            k = len(prompts[index][0])
            coords[row, :k] = prompts[index][0]
            labels[row, :k] = prompts[index][1]
        select = torch.as_tensor(group)
        prediction = segmenter.predict(
            embedding,
            torch.from_numpy(coords),
            torch.from_numpy(labels),
            None if boxes is None else boxes[select],
            None if mask_input is None else mask_input[select],
        )
        for row, index in enumerate(group):
            logits[index] = prediction.low_res_logits[row]
            ious[index] = prediction.iou[row]
    return torch.stack(logits), torch.stack(ious)


def _box_prompts(boxes: torch.Tensor, embedding: Embedding, untransformed: bool) -> torch.Tensor:
    """(K, 4) frame-pixel boxes -> what `Segmenter.predict` expects (see ``untransformed_refinement_box``)."""
    if not untransformed:
        return boxes
    height, width = embedding.original_size
    input_h, input_w = embedding.input_size
    scale = torch.tensor([width / input_w, height / input_h, width / input_w, height / input_h], dtype=torch.float32)
    return boxes * scale


def frame_prompts(points: np.ndarray, visible: np.ndarray, settings: PromptSettings, rng: np.random.Generator,
                  active: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """`build_prompts` for M objects on one frame: (M, P, 2) points, (M, P) visible, (M,) active or None for
    all. The frame's only use of ``rng`` (so prompts drawn frame by frame in order may be segmented in any)."""
    points = np.asarray(points, dtype=np.float32)
    visible = np.asarray(visible, dtype=bool)
    active = np.ones(len(points), bool) if active is None else np.asarray(active, bool)
    return build_prompts(points, visible, active, settings, rng)


def segment_prompts(segmenter: Segmenter, embedding: Embedding, prompts: list[tuple[np.ndarray, np.ndarray] | None],
                    settings: PromptSettings, box_finder) -> FramePrediction:
    """Prompt SAM for M objects on one embedded frame: ``prompts`` from `frame_prompts` (None: not prompted).

    Args:
        box_finder: `MaskBoxFinder` (or `UpscalingBoxFinder`) for this frame size (refinement boxes).
    """
    num_objects = len(prompts)
    size = segmenter.low_res_size
    low_res = torch.zeros((num_objects, 1, size, size), dtype=torch.float32)
    iou = np.full(num_objects, np.nan, np.float32)
    predicted = np.array([p is not None for p in prompts], bool)
    todo = [i for i in range(num_objects) if predicted[i]]
    if todo:
        full = [prompts[i] for i in todo]
        if settings.two_pass:
            positives = [(c[l == 1], l[l == 1]) for c, l in full]
            first, _ = _predict(segmenter, embedding, positives, None, None, settings.batching)
            logits, scores = _predict(segmenter, embedding, full, None, first, settings.batching)
        else:
            logits, scores = _predict(segmenter, embedding, full, None, None, settings.batching)
        logits, scores = logits.float(), scores.float()  # stay on the segmenter's device between passes
        current = list(range(len(todo)))  # positions in `todo` still refining
        for _ in range(settings.refinement_iterations):
            boxes, counts = box_finder.boxes(logits[current])
            keep = counts.numpy() >= 2
            current = [c for c, k in zip(current, keep) if k]
            if not current:
                break
            box_prompt = _box_prompts(boxes[torch.from_numpy(keep)], embedding, settings.untransformed_refinement_box)
            new_logits, new_scores = _predict(segmenter, embedding, [full[c] for c in current], box_prompt,
                                              logits[current], settings.batching)
            logits[current] = new_logits.float()
            scores[current] = new_scores.float()
        low_res[todo] = logits.cpu()
        iou[todo] = scores.cpu().numpy()
    has_mask = predicted & ~(iou < settings.iou_threshold)
    return FramePrediction(low_res_logits=low_res, has_mask=has_mask, predicted=predicted, iou=iou)
