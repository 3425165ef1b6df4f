"""Prompt validation and SAM's frame geometry, shared by the segmenter backends."""
from __future__ import annotations

import math

import torch

from trackers.segmenters.base import Prediction


def empty_prediction(low_res_size: int = 256, device: torch.device | str = "cpu") -> Prediction:
    """The `Prediction` for M = 0 prompts: (0, 1, s, s) logits and (0,) IoU."""
    return Prediction(
        low_res_logits=torch.zeros((0, 1, low_res_size, low_res_size), dtype=torch.float32, device=device),
        iou=torch.zeros((0,), dtype=torch.float32, device=device),
    )


def resized_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) of an (height, width) frame resized so its longest side is ``long_side`` (SAM's rounding)."""
    scale = long_side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def check_prompts(
    points: torch.Tensor | None,
    labels: torch.Tensor | None,
    boxes: torch.Tensor | None,
    mask_input: torch.Tensor | None,
    low_res_size: int = 256,
) -> int:
    """Check the shapes of one `Segmenter.predict` call's prompts and return the number of objects M.

    points (M, P, 2), labels (M, P), boxes (M, 4), mask_input (M, 1, low_res_size, low_res_size); each may
    be None (points and labels together), at least one must be given. Raises ValueError naming the problem.
    """
    counts = {}
    if (points is None) != (labels is None):
        raise ValueError("points and labels must be given together (both None for no point prompts)")
    if points is not None:
        if points.ndim != 3 or points.shape[-1] != 2:
            raise ValueError(f"points must be (M, P, 2) pixel (x, y), got shape {tuple(points.shape)}")
        if tuple(labels.shape) != tuple(points.shape[:2]):
            raise ValueError(f"labels must be (M, P) = {tuple(points.shape[:2])}, got shape {tuple(labels.shape)}")
        counts["points"] = points.shape[0]
    if boxes is not None:
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must be (M, 4) pixel (x0, y0, x1, y1), got shape {tuple(boxes.shape)}")
        counts["boxes"] = boxes.shape[0]
    if mask_input is not None:
        size = low_res_size
        if mask_input.ndim != 4 or tuple(mask_input.shape[1:]) != (1, size, size):
            raise ValueError(f"mask_input must be (M, 1, {size}, {size}) logits, got shape {tuple(mask_input.shape)}")
        counts["mask_input"] = mask_input.shape[0]
    if not counts:
        raise ValueError("predict needs at least one prompt: points+labels, boxes or mask_input")
    if len(set(counts.values())) != 1:
        raise ValueError(f"prompts disagree on the number of objects M: {counts}")
    return next(iter(counts.values()))


def sam_postprocess(
    low_res_logits: torch.Tensor, input_size: tuple[int, int], output_size: tuple[int, int], img_size: int = 1024
) -> torch.Tensor:
    """SAM's low-res -> frame geometry (as ``Sam.postprocess_masks``), usable without a SAM module.

    (M, 1, s, s) logits over the padded ``img_size`` square (the frame resized to ``input_size`` in its
    top-left corner) -> bilinear to ``img_size``, crop to ``input_size``, bilinear to ``output_size``:
    (M, 1, *output_size).
    """
    import torch.nn.functional as F

    masks = F.interpolate(low_res_logits, (img_size, img_size), mode="bilinear", align_corners=False)
    masks = masks[..., : input_size[0], : input_size[1]]
    return F.interpolate(masks, output_size, mode="bilinear", align_corners=False)


def low_res_valid_size(input_size: tuple[int, int], low_res_size: int = 256, img_size: int = 1024) -> tuple[int, int]:
    """(h, w) of the part of SAM's low-res square that covers the frame (the rest is padding)."""
    scale = low_res_size / img_size
    return (min(low_res_size, math.ceil(input_size[0] * scale)), min(low_res_size, math.ceil(input_size[1] * scale)))


def low_res_to_size(low_res_logits: torch.Tensor, input_size: tuple[int, int], output_size: tuple[int, int],
                    img_size: int = 1024) -> torch.Tensor:
    """Cheap approximation of `sam_postprocess` for weight-free backends: crop the (M, 1, s, s) low-res
    logits to the frame's part and resize it straight to ``output_size`` -> (M, 1, *output_size)."""
    import torch.nn.functional as F

    h, w = low_res_valid_size(input_size, low_res_logits.shape[-1], img_size)
    return F.interpolate(low_res_logits[..., :h, :w], output_size, mode="bilinear", align_corners=False)


def logits_to_low_res(logits: torch.Tensor, input_size: tuple[int, int], low_res_size: int = 256,
                      img_size: int = 1024, pad_value: float = -20.0) -> torch.Tensor:
    """Inverse of `low_res_to_size` for weight-free backends: (M, 1, h, w) frame logits resized straight to the frame's part of the low-res square, the rest padded -> (M, 1, s, s)."""
    import torch.nn.functional as F

    h, w = low_res_valid_size(input_size, low_res_size, img_size)
    resized = F.interpolate(logits, (h, w), mode="bilinear", align_corners=False)
    return F.pad(resized, (0, low_res_size - w, 0, low_res_size - h), value=pad_value)
