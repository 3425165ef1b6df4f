"""The point-prompted image segmenter interface (SAM and friends) and its registry.

A segmenter embeds a frame once (`embed`), then answers many prompts on that embedding (`predict`),
batched over objects. SAM-PT calls `embed` once per frame and reuses the embedding for every object,
every pass and every refinement iteration.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trackers.registry import check_options, load_entry

# name -> "module:factory"; imported only when built.
SEGMENTERS: dict[str, str] = {
    "sam_vit_h": "trackers.segmenters.sam:build_sam_vit_h",
    "sam_vit_l": "trackers.segmenters.sam:build_sam_vit_l",
    "sam_vit_b": "trackers.segmenters.sam:build_sam_vit_b",
    "hqsam_vit_h": "trackers.segmenters.sam:build_hqsam_vit_h",
    "hqsam_vit_l": "trackers.segmenters.sam:build_hqsam_vit_l",
    "hqsam_vit_b": "trackers.segmenters.sam:build_hqsam_vit_b",
    "hqsam_vit_tiny": "trackers.segmenters.sam:build_hqsam_vit_tiny",
    "mobilesam": "trackers.segmenters.sam:build_mobilesam",
    "sam2_hiera_l": "trackers.segmenters.sam2:build_sam2_hiera_l",
    "sam2_hiera_b+": "trackers.segmenters.sam2:build_sam2_hiera_b_plus",
    "sam2_hiera_s": "trackers.segmenters.sam2:build_sam2_hiera_s",
    "sam2_hiera_t": "trackers.segmenters.sam2:build_sam2_hiera_t",
    "grabcut": "trackers.segmenters.grabcut:GrabCutSegmenter",
}


@dataclass
class Embedding:
    """One embedded frame.

    Attributes:
        features: backend-specific image features (e.g. SAM's (1, 256, 64, 64) tensor, plus HQ-SAM's
            interm features), kept on the segmenter's device.
        original_size: (H, W) of the frame that was embedded.
        input_size: (h, w) of the frame after resizing its longest side to the model's input size.
        extra: anything else the backend needs (e.g. the frame itself for weight-free backends).
    """

    features: Any
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    extra: Any = None


@dataclass
class Prediction:
    """Output of `Segmenter.predict` for M prompts (objects).

    Attributes:
        low_res_logits: (M, 1, 256, 256) float32 mask logits at SAM's low resolution; feed back as
            ``mask_input`` of the next pass.
        iou: (M,) float32 predicted IoU of each mask.
    """

    low_res_logits: torch.Tensor
    iou: torch.Tensor


class Segmenter(ABC):
    """Point-prompted image segmenter: embed once, then predict for many prompts."""

    #: side length of the square low-resolution logits (SAM: 256)
    low_res_size: int = 256

    #: frames per image-encoder call in `embed_many` (backends that batch set it, e.g. SAM on CUDA)
    embed_batch_size: int = 1

    @abstractmethod
    def embed(self, frame: np.ndarray) -> Embedding:
        """Embed one (H, W, 3) uint8 RGB frame."""

    def embed_many(self, frames: list[np.ndarray]) -> list[Embedding]:
        """Embed several (H, W, 3) uint8 RGB frames of one size; equal to `embed` on each.

        Backends whose encoder gains from batching override this (one encoder call per
        ``embed_batch_size`` frames); the frame loop asks for ``embed_batch_size`` frames at a time.
        """
        return [self.embed(frame) for frame in frames]

    @abstractmethod
    def predict(
        self,
        embedding: Embedding,
        points: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
    ) -> Prediction:
        """Predict one mask per prompt, batched over M prompts.

        Args:
            embedding: from `embed`.
            points: (M, P, 2) float pixel (x, y) in the original frame, or None.
            labels: (M, P) int, 1 positive, 0 negative, -1 padding (ignored point), or None.
            boxes: (M, 4) float pixel (x0, y0, x1, y1) in the original frame, or None.
            mask_input: (M, 1, 256, 256) float low-res logits from a previous pass, or None.

        Returns:
            `Prediction` with (M, 1, 256, 256) low-res logits and (M,) predicted IoU
            (single-mask output, ``multimask_output=False``).
        """

    @abstractmethod
    def upscale(self, embedding: Embedding, low_res_logits: torch.Tensor) -> torch.Tensor:
        """(M, 1, 256, 256) low-res logits -> (M, H, W) float32 logits at the original frame size."""


#: frames per image-encoder call on CUDA when ``embed_batch_size`` is not given
CUDA_EMBED_BATCH_SIZE = 8


def default_embed_batch_size(device: torch.device, embed_batch_size: int | None) -> int:
    """``embed_batch_size`` checked (an integer >= 1), or the device's default for None."""
    if embed_batch_size is None:
        return CUDA_EMBED_BATCH_SIZE if device.type == "cuda" else 1
    if isinstance(embed_batch_size, bool) or int(embed_batch_size) != embed_batch_size or embed_batch_size < 1:
        raise ValueError(f"embed_batch_size must be an integer >= 1 (or null for the device default), "
                         f"got {embed_batch_size!r}")
    return int(embed_batch_size)


def frame_batches(frames, batch_size: int) -> list[list[np.ndarray]]:
    """Check (H, W, 3) uint8 RGB frames of one size and split them into lists of at most ``batch_size``."""
    frames = [np.asarray(frame) for frame in frames]
    for frame in frames:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"embed expects (H, W, 3) uint8 RGB frames, got shape {frame.shape} dtype {frame.dtype}")
        if frame.shape != frames[0].shape:
            raise ValueError(f"embed_many needs frames of one size, got {frames[0].shape} and {frame.shape}")
    return [frames[start:start + batch_size] for start in range(0, len(frames), batch_size)]


def batch_item(value, index: int):
    """Item ``index`` of a batched encoder output (a tensor, a list/tuple of tensors, or None), batch dim kept."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return type(value)(batch_item(item, index) for item in value)
    return value[index:index + 1]


class BatchEncoderSegmenter(Segmenter):
    """A segmenter whose image encoder takes a batch of frames: `embed` is one frame's batch and
    `embed_many` splits the frames into batches of ``embed_batch_size``; backends implement `embed_batch`."""

    def embed(self, frame: np.ndarray) -> Embedding:
        """Embed one (H, W, 3) uint8 RGB frame (see the backend's `embed_batch` for the features)."""
        return self.embed_batch(frame_batches([frame], 1)[0])[0]

    def embed_many(self, frames: list[np.ndarray]) -> list[Embedding]:
        """Embed T (H, W, 3) uint8 RGB frames of one size, ``embed_batch_size`` per encoder call; each
        embedding is `embed` of its frame (up to float rounding), with features of batch size 1."""
        return [embedding for batch in frame_batches(frames, self.embed_batch_size)
                for embedding in self.embed_batch(batch)]

    @abstractmethod
    def embed_batch(self, frames: list[np.ndarray]) -> list[Embedding]:
        """One image-encoder call on B checked (H, W, 3) uint8 RGB frames of one size -> B embeddings whose
        features have batch size 1."""


def build_segmenter(name: str, checkpoint: str | None = None, **options) -> Segmenter:
    """Build the segmenter ``name`` (see `SEGMENTERS`)."""
    if name not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {name!r}; valid names: {', '.join(sorted(SEGMENTERS))}")
    factory = load_entry("segmenter", name, SEGMENTERS[name])
    check_options("segmenter", name, factory, options)
    if name == "grabcut":
        if checkpoint is not None:
            raise ValueError("segmenter 'grabcut' is weight-free and takes no checkpoint")
        return factory(**options)
    return factory(checkpoint=checkpoint, **options)
