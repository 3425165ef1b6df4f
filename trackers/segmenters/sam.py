"""`SamSegmenter`: the `Segmenter` interface over a `segment_anything` / `segment_anything_hq` ``Sam`` module.

One wrapper serves SAM (ViT-H/L/B), HQ-SAM (ViT-H/L/B), Light HQ-SAM (TinyViT) and MobileSAM (TinyViT
encoder + SAM decoder): they share SAM's image pre-processing, prompt encoder and low-res mask frame.

- `embed`: resize the frame so its longest side is ``sam.image_encoder.img_size`` (1024) with the same
  bilinear PIL resize `segment_anything.utils.transforms.ResizeLongestSide.apply_image` uses, normalise
  and pad (``sam.preprocess``), one image-encoder pass. Encoders that return ``(features, interm)``
  (HQ-SAM's ViT and the TinyViT) keep the intermediate features for the HQ decoder.
- `embed_many`: the same for several frames of one size, ``embed_batch_size`` frames per image-encoder
  call (the encoder dominates the cost on a GPU; on CUDA it defaults to
  `trackers.segmenters.base.CUDA_EMBED_BATCH_SIZE`, elsewhere to 1). Each frame's embedding equals its `embed` up to float rounding (SAM's encoder treats the frames
  of a batch independently).
- `predict`: prompts given in original-frame pixels are scaled to the resized input exactly as
  ``ResizeLongestSide.apply_coords`` / ``apply_boxes`` do, then ONE prompt-encoder + mask-decoder call
  for all M prompts with ``multimask_output=False``. The result equals
  ``SamPredictor.predict_torch(...)`` for the same prompts (see tests/trackers/segmenters/test_segmenters.py). Plain SAM
  decoders (SAM, MobileSAM) run through `LeanMaskDecoder` by default: the same function with the work
  laid out for many calls per frame (same results up to float32 rounding, faster; docs/benchmarks.md).
- `upscale`: ``sam.postprocess_masks`` (remove padding, resize to the original frame).

The official-checkpoint factories (``build_sam_vit_h`` ... ``build_mobilesam``) live at the bottom of
this module; the architectures themselves are built in `trackers.segmenters.sam_models`.
"""
from __future__ import annotations

import contextlib
import inspect
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trackers.checkpoints import require_checkpoint
from trackers.registry import forwards_options_to
from trackers.segmenters.base import (
    BatchEncoderSegmenter, Embedding, Prediction, batch_item, default_embed_batch_size,
)
from trackers.segmenters.prompts import check_prompts, empty_prediction, resized_shape
from trackers.onednn import use_onednn_linears
from trackers.segmenters.conv_bn import fold_conv_bn
from trackers.segmenters.sam_lean_decoder import LeanMaskDecoder
from trackers.segmenters.sam_lean_decoder import supports as lean_decoder_supports
from trackers.segmenters.window_attention import use_blocked_window_attention
from trackers.segmenters.sam_models import (  # noqa: F401  (build_tiny_* are part of this module's API)
    SAM_CHECKPOINTS,
    build_sam_module,
    build_tiny_hqsam,
    build_tiny_sam,
    load_official_checkpoint,
)


def _as_float_tensor(value, name: str, device: torch.device) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64, torch.int16, torch.uint8)):
        raise TypeError(f"{name} must be a numeric tensor, got dtype {tensor.dtype}")
    return tensor.to(device=device, dtype=torch.float32)


class SamSegmenter(BatchEncoderSegmenter):
    """SAM-family segmenter (SAM, HQ-SAM, Light HQ-SAM, MobileSAM) behind the `Segmenter` interface.

    Args:
        sam: a ``segment_anything.modeling.Sam`` or ``segment_anything_hq.modeling.Sam`` module.
        device: where to run; None keeps the module's current device.
        autocast_bf16: run encoder and decoder under bfloat16 autocast (a speed option; off by default so that
            results are float32 as the authors' evaluation, on any device).
            Outputs are always returned as float32.
        compile: ``torch.compile`` the image encoder (on CPU too; the first call compiles, which takes minutes
            on CPU, and the compiled encoder is kept for every later frame and video of this segmenter).
        channels_last: hold the image encoder's weights and input in the channels-last memory layout, which
            runs the convolutions of the TinyViT encoders (MobileSAM, Light HQ-SAM) through oneDNN's faster
            kernels on CPU. The same function; its float rounding differs from the contiguous layout the
            authors' ``SamPredictor`` uses (docs/benchmarks.md measures both).
        fold_batchnorm: run the TinyViT encoders' convolution + batch-norm pairs (MobileSAM, Light HQ-SAM) as one
            convolution each (`trackers.segmenters.conv_bn`; eval mode; the same function, other float rounding;
            the ViT encoders have none).
        onednn_linear: run the image encoder's linear layers and the lean decoder's large products through
            oneDNN on CPU (`trackers.onednn`: faster than PyTorch's BLAS there; the same function, other float
            rounding), with TinyViT's MLP activations applied as the products write their output; with
            ``fold_batchnorm`` also TinyViT's folded convolutions, with the GELU right after one applied as it
            writes (`trackers.segmenters.conv_bn`). No effect on other devices; with ``compile`` it applies to
            the decoder only.
        blocked_attention: run the TinyViT encoders' window attention (MobileSAM, Light HQ-SAM) a block of
            windows and one head at a time, so that each block's scores stay in cache
            (`trackers.segmenters.window_attention`; eval mode; the same steps on the same numbers). Not with
            ``compile`` (the compiler sees the official module).
        embed_batch_size: frames per image-encoder call in `embed_many`; None: `base.CUDA_EMBED_BATCH_SIZE`
            on CUDA, 1 elsewhere (on CPU a batch brings nothing and costs memory).
        hq_token_only: HQ decoders only. False (SAM-PT's setting: it calls HQ-SAM's ``predict_torch``
            with the default ``hq_token_only=False``) returns SAM's mask logits + the HQ-token logits;
            True returns the HQ-token logits alone. True with a plain SAM decoder raises ValueError.
        lean_decoder: run the mask decoder through `LeanMaskDecoder` (same results, less work per call).
            None: on where the decoder is a plain SAM ``MaskDecoder`` (SAM, MobileSAM), off for HQ-SAM
            (whose decoder runs its own forward); True with an HQ decoder raises ValueError; False runs
            ``MaskDecoder.forward`` as the original code does.

    All returned tensors live on ``self.device``.
    """

    def __init__(
        self,
        sam: torch.nn.Module,
        device: str | torch.device | None = None,
        autocast_bf16: bool = False,
        compile: bool = False,
        hq_token_only: bool = False,
        lean_decoder: bool | None = None,
        embed_batch_size: int | None = None,
        channels_last: bool = True,
        fold_batchnorm: bool = True,
        onednn_linear: bool = True,
        blocked_attention: bool = True,
    ):
        for part in ("image_encoder", "prompt_encoder", "mask_decoder", "preprocess", "postprocess_masks"):
            if not hasattr(sam, part):
                raise TypeError(
                    f"SamSegmenter needs a segment_anything Sam module; {type(sam).__name__} has no {part!r}"
                )
        self.device = torch.device(device) if device is not None else sam.pixel_mean.device
        self.sam = sam.to(self.device).eval()
        self.autocast_bf16 = bool(autocast_bf16)
        self.embed_batch_size = default_embed_batch_size(self.device, embed_batch_size)
        decoder_params = inspect.signature(self.sam.mask_decoder.forward).parameters
        self.is_hq = "interm_embeddings" in decoder_params
        if hq_token_only and not self.is_hq:
            raise ValueError("hq_token_only=True needs an HQ-SAM mask decoder; this model has a plain SAM decoder")
        self.hq_token_only = bool(hq_token_only)
        leanable = lean_decoder_supports(self.sam.mask_decoder)
        if lean_decoder and not leanable:
            raise ValueError(f"lean_decoder=True needs a plain SAM MaskDecoder; this model has "
                             f"{type(self.sam.mask_decoder).__name__} (use lean_decoder=null or false)")
        self.lean = LeanMaskDecoder(self.sam.prompt_encoder, self.sam.mask_decoder, onednn=onednn_linear) if (
            leanable if lean_decoder is None else lean_decoder) else None
        self.img_size = int(self.sam.image_encoder.img_size)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self._encoder = self.sam.image_encoder.to(memory_format=torch.channels_last) if channels_last else (
            self.sam.image_encoder)
        onednn = onednn_linear and not compile  # a compiled encoder's products are the compiler's to lower
        if fold_batchnorm:
            fold_conv_bn(self._encoder, onednn=onednn)
        if onednn:
            use_onednn_linears(self._encoder)
        if blocked_attention and not compile:
            use_blocked_window_attention(self._encoder)
        self.compiled = bool(compile)  # the frame loop then runs one frame at a time (one compiling thread)
        if compile:
            self._encoder = torch.compile(self._encoder)

    @classmethod
    def from_model(
        cls,
        sam: torch.nn.Module,
        device: str | torch.device | None = None,
        autocast_bf16: bool = False,
        **options,
    ) -> "SamSegmenter":
        """Wrap an already built ``Sam`` module (see the class docstring for ``options``)."""
        return cls(sam, device=device, autocast_bf16=autocast_bf16, **options)

    def _autocast(self):
        if not self.autocast_bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def resize_frame(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (h, w, 3) uint8 with longest side ``img_size`` (bilinear PIL resize, as SAM)."""
        height, width = frame.shape[:2]
        new_h, new_w = resized_shape(height, width, self.img_size)
        return np.array(Image.fromarray(frame).resize((new_w, new_h), Image.BILINEAR))

    def embed_batch(self, frames: list[np.ndarray]) -> list[Embedding]:
        """One image-encoder call on B (H, W, 3) uint8 RGB frames of one size -> B embeddings.

        ``Embedding.features`` is a dict: ``"image"`` (1, C, 64, 64) encoder output and ``"interm"``
        (the encoder's intermediate features for HQ decoders, else None). The lean decoder adds
        ``"lean"``, the frame's part of its work (`LeanMaskDecoder.frame`), on its first call.
        """
        if getattr(self.sam, "image_format", "RGB") == "BGR":
            frames = [frame[..., ::-1] for frame in frames]
        resized = np.stack([self.resize_frame(np.ascontiguousarray(frame)) for frame in frames])
        with torch.inference_mode():
            # contiguous (B, 3, h, w), as SamPredictor makes it: the encoder's float rounding depends on the layout
            images = torch.from_numpy(resized).to(self.device).permute(0, 3, 1, 2).contiguous().float()
            images = self.sam.preprocess(images).contiguous(memory_format=self.memory_format)
            with self._autocast():
                output = self._encoder(images)
        features, interm = (output[0], output[1]) if isinstance(output, (tuple, list)) else (output, None)
        original_size = (int(frames[0].shape[0]), int(frames[0].shape[1]))
        input_size = (int(resized.shape[1]), int(resized.shape[2]))
        return [Embedding(features={"image": batch_item(features, i), "interm": batch_item(interm, i)},
                          original_size=original_size, input_size=input_size)
                for i in range(len(frames))]

    def to_input_coords(self, coords: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        """(..., 2) pixel (x, y) in the original frame -> the same in the resized model input."""
        height, width = original_size
        new_h, new_w = resized_shape(height, width, self.img_size)
        coords = coords.clone().to(torch.float32)
        coords[..., 0] = coords[..., 0] * (new_w / width)
        coords[..., 1] = coords[..., 1] * (new_h / height)
        return coords

    def predict(
        self,
        embedding: Embedding,
        points: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
    ) -> Prediction:
        """Masks for M prompts in one decoder call; see `Segmenter.predict` for shapes.

        Returns (M, 1, 256, 256) float32 low-res logits and (M,) float32 predicted IoU, equal to
        ``SamPredictor.predict_torch(..., multimask_output=False)`` on the transformed prompts.
        """
        if not isinstance(embedding.features, dict) or "image" not in embedding.features:
            raise TypeError("embedding was not produced by SamSegmenter.embed")
        points = None if points is None else _as_float_tensor(points, "points", self.device)
        labels = None if labels is None else torch.as_tensor(labels).to(device=self.device, dtype=torch.int64)
        boxes = None if boxes is None else _as_float_tensor(boxes, "boxes", self.device)
        mask_input = None if mask_input is None else _as_float_tensor(mask_input, "mask_input", self.device)
        if check_prompts(points, labels, boxes, mask_input, self.low_res_size) == 0:
            return empty_prediction(self.low_res_size, self.device)
        with torch.inference_mode():
            point_prompt = None
            if points is not None:
                point_prompt = (self.to_input_coords(points, embedding.original_size), labels.to(torch.int32))
            if boxes is not None:
                boxes = self.to_input_coords(boxes.reshape(-1, 2, 2), embedding.original_size).reshape(-1, 4)
            if self.lean is not None:
                low_res, iou = self._predict_lean(embedding, point_prompt, boxes, mask_input)
            else:
                low_res, iou = self._predict_stock(embedding, point_prompt, boxes, mask_input)
        return Prediction(low_res_logits=low_res.float(), iou=iou.float())

    def _predict_stock(self, embedding: Embedding, point_prompt, boxes, mask_input):
        """``MaskDecoder.forward`` (SAM's code path): (M, 1, 256, 256) logits, (M,) IoU."""
        # prompt encoder and positional encodings in float32 (random-Fourier phases lose precision in bf16)
        sparse, dense = self.sam.prompt_encoder(points=point_prompt, boxes=boxes, masks=mask_input)
        decoder_args = dict(
            image_embeddings=embedding.features["image"],
            image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        if self.is_hq:
            if embedding.features["interm"] is None:
                raise ValueError("this HQ-SAM decoder needs the encoder's interm features; the embedding has none")
            decoder_args.update(hq_token_only=self.hq_token_only, interm_embeddings=embedding.features["interm"])
        with self._autocast():
            low_res, iou = self.sam.mask_decoder(**decoder_args)
        return low_res, iou[:, 0]

    def _predict_lean(self, embedding: Embedding, point_prompt, boxes, mask_input):
        """`LeanMaskDecoder` on the embedding's tokens: (M, 1, 256, 256) logits, (M,) IoU."""
        if point_prompt is None and boxes is None:  # mask input alone: no sparse prompt
            sparse = torch.empty((len(mask_input), 0, self.sam.prompt_encoder.embed_dim), device=self.device)
        else:  # prompt encoder in float32 (random-Fourier phases lose precision in bf16)
            sparse, _ = self.sam.prompt_encoder(points=point_prompt, boxes=boxes, masks=None)
        with self._autocast():  # the frame's part once per embedded frame, reused by every later call
            frame = self.lean.frame(embedding.features["image"], embedding.features.get("lean"))
            embedding.features["lean"] = frame
            return self.lean(frame, sparse, mask_input)

    def upscale(self, embedding: Embedding, low_res_logits: torch.Tensor) -> torch.Tensor:
        """(M, 1, 256, 256) low-res logits -> (M, H, W) float32 logits at the original frame size."""
        if low_res_logits.ndim != 4 or low_res_logits.shape[1] != 1:
            raise ValueError(f"low_res_logits must be (M, 1, 256, 256), got shape {tuple(low_res_logits.shape)}")
        with torch.inference_mode():
            logits = low_res_logits.to(device=self.device, dtype=torch.float32)
            masks = self.sam.postprocess_masks(logits, embedding.input_size, embedding.original_size)
        return masks[:, 0]


# --------------------------------------------------------------------------------------------------
# Official-checkpoint factories (names registered in trackers.segmenters.base.SEGMENTERS).


def _build_official(arch: str, checkpoint: str | Path | None, device, verify_md5: bool, **options) -> SamSegmenter:
    info = SAM_CHECKPOINTS[arch]
    path = require_checkpoint(checkpoint, info, verify_md5=verify_md5)  # fail fast, before building a large model
    sam = build_sam_module(arch)
    load_official_checkpoint(sam, info, path)
    return SamSegmenter.from_model(sam, device=device, **options)


@forwards_options_to(SamSegmenter)
def build_sam_vit_h(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """SAM ViT-H from the official ``sam_vit_h_4b8939.pth``."""
    return _build_official("sam_vit_h", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_sam_vit_l(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """SAM ViT-L from the official ``sam_vit_l_0b3195.pth``."""
    return _build_official("sam_vit_l", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_sam_vit_b(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """SAM ViT-B from the official ``sam_vit_b_01ec64.pth``."""
    return _build_official("sam_vit_b", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_hqsam_vit_h(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """HQ-SAM ViT-H from the official ``sam_hq_vit_h.pth`` (option ``hq_token_only``, default False)."""
    return _build_official("hqsam_vit_h", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_hqsam_vit_l(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """HQ-SAM ViT-L from the official ``sam_hq_vit_l.pth``."""
    return _build_official("hqsam_vit_l", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_hqsam_vit_b(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """HQ-SAM ViT-B from the official ``sam_hq_vit_b.pth``."""
    return _build_official("hqsam_vit_b", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_hqsam_vit_tiny(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """Light HQ-SAM (TinyViT-5M encoder + HQ decoder) from the official ``sam_hq_vit_tiny.pth``."""
    return _build_official("hqsam_vit_tiny", checkpoint, device, verify_md5, **options)


@forwards_options_to(SamSegmenter)
def build_mobilesam(checkpoint=None, device=None, verify_md5: bool = False, **options) -> SamSegmenter:
    """MobileSAM (TinyViT-5M encoder + SAM decoder) from the official ``mobile_sam.pt``."""
    return _build_official("mobilesam", checkpoint, device, verify_md5, **options)
