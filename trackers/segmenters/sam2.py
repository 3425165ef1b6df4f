"""SAM 2.1 image models behind the `Segmenter` interface, via the ``sam2`` package (facebookresearch/sam2).

The flow is ``SAM2ImagePredictor``'s (sam2 1.1.0):

- `embed`: the frame is resized to ``image_size`` x ``image_size`` (1024, aspect ratio NOT kept, bilinear
  with antialias), scaled to [0, 1] and normalised with the ImageNet mean/std; ``forward_image`` (Hiera +
  FPN, with the decoder's ``conv_s0``/``conv_s1`` applied to the two high-resolution levels), then
  ``no_mem_embed`` is added to the lowest-resolution level (image mode, no memory).
- `embed_many`: the same for several frames of one size, ``embed_batch_size`` frames per ``forward_image``
  call (as `trackers.segmenters.sam.SamSegmenter.embed_many`; default: several on CUDA, 1 elsewhere).
- `predict`: prompts in original-frame pixels are scaled by ``image_size / W`` and ``image_size / H``; a box
  becomes two leading points labelled 2 and 3; ONE prompt-encoder + mask-decoder call for all M prompts
  with the high-resolution features, ``multimask_output=False`` (the decoder then falls back to the best
  multimask output when the single mask is unstable, as SAM 2 does for its image predictor).
- `upscale`: bilinear resize of the low-res logits to the original frame (no hole/sprinkle filling:
  the predictor's defaults ``max_hole_area=max_sprinkle_area=0``).

Frame convention: SAM 2's 256x256 low-res logits cover the whole frame stretched to a square (no
padding), unlike SAM's padded frame; they are only meant for `upscale` and ``mask_input`` of this backend.
``Prediction.low_res_logits`` are the decoder's raw logits (so `upscale` equals the predictor's
full-resolution logits exactly); ``mask_input`` is clamped to [-32, 32] as the predictor clamps the
low-res logits it hands back for re-prompting, so feeding ours back equals feeding the predictor's
(``tests/trackers/segmenters/test_segmenters.py``, ``test_sam2_equals_sam2_image_predictor``, runs the installed ``sam2``).

The ``sam2`` package is optional: its PyPI sdist builds a CUDA extension by default (and, with build
isolation, pulls its own torch). Install it with ``pip install wheel iopath && SAM2_BUILD_CUDA=0 pip
install --no-deps --no-build-isolation sam2==1.1.0`` (a pure-Python wheel; the extension only serves the
optional hole filling, unused here). Without it, the ``build_sam2_*`` factories raise
`Sam2UnavailableError` saying so.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trackers.checkpoints import (
    CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)
from trackers.registry import forwards_options_to
from trackers.segmenters.base import (
    BatchEncoderSegmenter, Embedding, Prediction, batch_item, default_embed_batch_size,
)
from trackers.segmenters.prompts import check_prompts, empty_prediction

SAM2_INSTALL_HINT = (
    "SAM 2 segmenters need the `sam2` package (facebookresearch/sam2, PyPI sam2==1.1.0), which is not "
    "installed in this environment. Install it (pure Python, without its optional CUDA extension) with "
    "`pip install wheel iopath && SAM2_BUILD_CUDA=0 pip install --no-deps --no-build-isolation sam2==1.1.0`."
)
LOW_RES_CLAMP = 32.0  # SAM2ImagePredictor clamps the low-res logits it returns to [-32, 32]
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


class Sam2UnavailableError(ImportError):
    """The ``sam2`` package is not installed."""


def _import_sam2():
    try:
        import sam2
        import sam2.modeling.backbones.hieradet  # noqa: F401  (needs iopath)
        import sam2.modeling.sam2_base  # noqa: F401
        from hydra.utils import instantiate
        from omegaconf import OmegaConf
    except ImportError as error:
        raise Sam2UnavailableError(f"{SAM2_INSTALL_HINT} (import failed: {error})") from None
    return sam2, instantiate, OmegaConf


def sam2_available() -> bool:
    try:
        _import_sam2()
    except Sam2UnavailableError:
        return False
    return True


_SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
# name -> (config in the sam2 package, official checkpoint). No md5 is published for these files.
SAM2_MODELS: dict[str, tuple[str, CheckpointInfo]] = {
    name: (config, register(CheckpointInfo(name, filename, _SAM2_URL + filename)))
    for name, config, filename in (
        ("sam2_hiera_l", "sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
        ("sam2_hiera_b+", "sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
        ("sam2_hiera_s", "sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
        ("sam2_hiera_t", "sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    )
}


def _load_config(config: str, overrides: dict | None = None):
    """The model config ``config`` of the installed sam2 package as an OmegaConf node (no Hydra global state)."""
    sam2, _, OmegaConf = _import_sam2()
    path = Path(sam2.__path__[0]) / "configs" / config
    if not path.is_file():
        raise FileNotFoundError(f"sam2 config {path} not found; the installed sam2 package is not 1.1.0?")
    cfg = OmegaConf.load(path)
    # SAM 2's build_sam2(apply_postprocessing=True), used for the image predictor: fall back to the best
    # multimask output when the single-mask output is unstable.
    cfg.model.sam_mask_decoder_extra_args = {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    }
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.create({"model": overrides}))
    OmegaConf.resolve(cfg)
    return cfg


def build_sam2_module(name: str) -> torch.nn.Module:
    """The official SAM 2.1 architecture ``name`` (a key of `SAM2_MODELS`), randomly initialised, eval mode."""
    if name not in SAM2_MODELS:
        raise ValueError(f"unknown SAM 2 model {name!r}; valid: {', '.join(SAM2_MODELS)}")
    _, instantiate, _ = _import_sam2()
    return instantiate(_load_config(SAM2_MODELS[name][0]).model, _recursive_=True).eval()


def build_tiny_sam2(seed: int = 0, embed_dim: int = 8) -> torch.nn.Module:
    """A tiny random-initialised real SAM 2.1 model for tests (deterministic for ``seed``).

    The Hiera-T config with an ``embed_dim``-wide trunk of one windowed-attention block per stage, one memory
    attention layer; real 1024 input, (1, 256, 64, 64) embedding, 256x256 low-res masks and SAM 2 decoder.
    """
    _, instantiate, _ = _import_sam2()
    overrides = {
        "image_encoder": {
            "trunk": {"embed_dim": embed_dim, "num_heads": 1, "stages": [1, 1, 1, 1], "global_att_blocks": []},
            "neck": {"backbone_channel_list": [embed_dim * 8, embed_dim * 4, embed_dim * 2, embed_dim]},
        },
        "memory_attention": {"num_layers": 1},
    }
    with torch.random.fork_rng(devices=[]):  # CPU generator only
        torch.manual_seed(seed)
        model = instantiate(_load_config("sam2.1/sam2.1_hiera_t.yaml", overrides).model, _recursive_=True)
    return model.eval()


def load_sam2_checkpoint(module: torch.nn.Module, info: CheckpointInfo, path: str | Path | None) -> Path:
    """Load an official SAM 2 file (a dict whose ``"model"`` is the state dict) strictly; return its path."""
    path = require_checkpoint(path, info)
    state_dict = read_state_dict(path, info.filename, key="model")
    load_state_dict_strict(module, state_dict, path)
    return path


class Sam2Segmenter(BatchEncoderSegmenter):
    """SAM 2 image model behind the `Segmenter` interface (see the module docstring).

    Args:
        model: a ``sam2.modeling.sam2_base.SAM2Base``.
        device: where to run; None keeps the module's current device.
        autocast_bf16: bfloat16 autocast (a speed option, off by default: float32 as the authors run SAM).
            Outputs are float32.
        compile: ``torch.compile`` the image encoder (on CPU too, where the first call compiles for minutes; the
            compiled encoder is kept for every later frame and video of this segmenter).
        embed_batch_size: frames per image-encoder call in `embed_many`; None: several on CUDA
            (`trackers.segmenters.base.CUDA_EMBED_BATCH_SIZE`), 1 elsewhere.

    All returned tensors live on ``self.device``.
    """

    def __init__(self, model: torch.nn.Module, device=None, autocast_bf16: bool = False, compile: bool = False,
                 embed_batch_size: int | None = None):
        for part in ("forward_image", "sam_prompt_encoder", "sam_mask_decoder", "no_mem_embed"):
            if not hasattr(model, part):
                raise TypeError(f"Sam2Segmenter needs a sam2 SAM2Base module; {type(model).__name__} has no {part!r}")
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(self.device).eval()
        self.autocast_bf16 = bool(autocast_bf16)
        self.embed_batch_size = default_embed_batch_size(self.device, embed_batch_size)
        self.img_size = int(self.model.image_size)
        sizes = [self.img_size // 4, self.img_size // 8, self.img_size // 16]
        self._feature_sizes = [(s, s) for s in sizes]
        self._forward_image = self.model.forward_image
        self.compiled = bool(compile)  # the frame loop then runs one frame at a time (one compiling thread)
        if compile:
            self._forward_image = torch.compile(self.model.forward_image)

    @classmethod
    def from_model(
        cls, model: torch.nn.Module, device=None, autocast_bf16: bool = False, **options
    ) -> "Sam2Segmenter":
        """Wrap an already built ``SAM2Base`` module (see the class docstring for ``options``)."""
        return cls(model, device=device, autocast_bf16=autocast_bf16, **options)

    def _autocast(self):
        if not self.autocast_bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def embed_batch(self, frames: list[np.ndarray]) -> list[Embedding]:
        """One ``forward_image`` call on B (H, W, 3) uint8 RGB frames of one size -> B embeddings.

        ``Embedding.features``: ``"image"`` (1, 256, 64, 64) and ``"high_res"`` [(1, 32, 256, 256),
        (1, 64, 128, 128)] for the real models.
        """
        count = len(frames)
        with torch.inference_mode():
            # contiguous (B, 3, H, W), as SAM2ImagePredictor makes it: float rounding depends on the layout
            images = torch.from_numpy(np.stack(frames)).to(self.device).permute(0, 3, 1, 2).contiguous().float() / 255.0
            size = (self.img_size, self.img_size)
            images = F.interpolate(images, size, mode="bilinear", align_corners=False, antialias=True)
            mean = torch.tensor(IMAGE_MEAN, device=self.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGE_STD, device=self.device).view(1, 3, 1, 1)
            images = (images - mean) / std
            with self._autocast():
                backbone_out = self._forward_image(images)
                _, vision_feats, _, _ = self.model._prepare_backbone_features(backbone_out)
                if self.model.directly_add_no_mem_embed:
                    vision_feats[-1] = vision_feats[-1] + self.model.no_mem_embed
            # (HW, B, C) per level -> (B, C, H, W), highest resolution first
            feats = [
                feat.permute(1, 2, 0).reshape(count, -1, *size)
                for feat, size in zip(vision_feats[::-1], self._feature_sizes[::-1])
            ][::-1]
        original_size = (int(frames[0].shape[0]), int(frames[0].shape[1]))
        return [Embedding(features={"image": batch_item(feats[-1], i), "high_res": batch_item(feats[:-1], i)},
                          original_size=original_size, input_size=(self.img_size, self.img_size))
                for i in range(count)]

    def to_input_coords(self, coords: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        """(..., 2) pixel (x, y) in the original frame -> the same in the square model input."""
        height, width = original_size
        coords = coords.clone().to(torch.float32)
        coords[..., 0] = coords[..., 0] / width
        coords[..., 1] = coords[..., 1] / height
        return coords * self.img_size

    def predict(self, embedding: Embedding, points, labels, boxes=None, mask_input=None) -> Prediction:
        """Masks for M prompts in one decoder call; see `Segmenter.predict` for shapes."""
        if not isinstance(embedding.features, dict) or "high_res" not in embedding.features:
            raise TypeError("embedding was not produced by Sam2Segmenter.embed")
        points = None if points is None else torch.as_tensor(points).to(self.device, torch.float32)
        labels = None if labels is None else torch.as_tensor(labels).to(self.device, torch.int32)
        boxes = None if boxes is None else torch.as_tensor(boxes).to(self.device, torch.float32)
        mask_input = None if mask_input is None else torch.as_tensor(mask_input).to(self.device, torch.float32)
        count = check_prompts(points, labels, boxes, mask_input, self.low_res_size)
        if count == 0:
            return empty_prediction(self.low_res_size, self.device)
        with torch.inference_mode():
            point_prompt = None
            if points is not None:
                point_prompt = (self.to_input_coords(points, embedding.original_size), labels)
            if boxes is not None:
                corners = self.to_input_coords(boxes.reshape(-1, 2, 2), embedding.original_size)
                corner_labels = torch.tensor([[2, 3]], dtype=torch.int32, device=self.device).repeat(count, 1)
                if point_prompt is None:
                    point_prompt = (corners, corner_labels)
                else:
                    point_prompt = (
                        torch.cat([corners, point_prompt[0]], 1),
                        torch.cat([corner_labels, point_prompt[1]], 1),
                    )
            if mask_input is not None:
                mask_input = mask_input.clamp(-LOW_RES_CLAMP, LOW_RES_CLAMP)
            # prompt encoder and positional encodings in float32 (random-Fourier phases lose precision in bf16)
            sparse, dense = self.model.sam_prompt_encoder(points=point_prompt, boxes=None, masks=mask_input)
            image_pe = self.model.sam_prompt_encoder.get_dense_pe()
            with self._autocast():
                low_res, iou, _, _ = self.model.sam_mask_decoder(
                    image_embeddings=embedding.features["image"],
                    image_pe=image_pe,
                    sparse_prompt_embeddings=sparse,
                    dense_prompt_embeddings=dense,
                    multimask_output=False,
                    repeat_image=count > 1,
                    high_res_features=embedding.features["high_res"],
                )
        return Prediction(low_res_logits=low_res.float(), iou=iou[:, 0].float())

    def upscale(self, embedding: Embedding, low_res_logits: torch.Tensor) -> torch.Tensor:
        """(M, 1, 256, 256) low-res logits -> (M, H, W) float32 logits at the original frame size."""
        if low_res_logits.ndim != 4 or low_res_logits.shape[1] != 1:
            raise ValueError(f"low_res_logits must be (M, 1, 256, 256), got shape {tuple(low_res_logits.shape)}")
        with torch.inference_mode():
            logits = low_res_logits.to(device=self.device, dtype=torch.float32)
            masks = F.interpolate(logits, embedding.original_size, mode="bilinear", align_corners=False)
        return masks[:, 0]


def _build(name: str, checkpoint, device, **options) -> Sam2Segmenter:
    _import_sam2()  # a clear error before anything else when sam2 is missing
    info = SAM2_MODELS[name][1]
    path = require_checkpoint(checkpoint, info)
    model = build_sam2_module(name)
    load_sam2_checkpoint(model, info, path)
    return Sam2Segmenter.from_model(model, device=device, **options)


@forwards_options_to(Sam2Segmenter)
def build_sam2_hiera_l(checkpoint=None, device=None, **options) -> Sam2Segmenter:
    """SAM 2.1 Hiera-L from the official ``sam2.1_hiera_large.pt``."""
    return _build("sam2_hiera_l", checkpoint, device, **options)


@forwards_options_to(Sam2Segmenter)
def build_sam2_hiera_b_plus(checkpoint=None, device=None, **options) -> Sam2Segmenter:
    """SAM 2.1 Hiera-B+ from the official ``sam2.1_hiera_base_plus.pt``."""
    return _build("sam2_hiera_b+", checkpoint, device, **options)


@forwards_options_to(Sam2Segmenter)
def build_sam2_hiera_s(checkpoint=None, device=None, **options) -> Sam2Segmenter:
    """SAM 2.1 Hiera-S from the official ``sam2.1_hiera_small.pt``."""
    return _build("sam2_hiera_s", checkpoint, device, **options)


@forwards_options_to(Sam2Segmenter)
def build_sam2_hiera_t(checkpoint=None, device=None, **options) -> Sam2Segmenter:
    """SAM 2.1 Hiera-T from the official ``sam2.1_hiera_tiny.pt``."""
    return _build("sam2_hiera_t", checkpoint, device, **options)
