"""SAM-family architectures (official configurations and tiny random test builds) and their checkpoints.

Modules are assembled from the ``segment_anything`` (SAM) and ``segment_anything_hq`` (HQ-SAM) pip
packages, so their ``state_dict`` keys are the official ones:

- SAM ViT-H/L/B: ``segment_anything`` ImageEncoderViT + PromptEncoder + MaskDecoder.
- HQ-SAM ViT-H/L/B: ``segment_anything_hq`` ImageEncoderViT (returns the interm features) + MaskDecoderHQ.
- Light HQ-SAM: ``segment_anything_hq`` TinyViT-5M + MaskDecoderHQ (vit_dim 160).
- MobileSAM: ``segment_anything_hq``'s TinyViT-5M + a plain ``segment_anything`` PromptEncoder and
  MaskDecoder, inside a ``segment_anything`` Sam. Why this path: MobileSAM's own package is not on PyPI
  under a usable name and the project installs only from PyPI; Light HQ-SAM ships the same TinyViT-5M
  encoder (same constructor arguments, same parameter names) in ``segment_anything_hq``, and MobileSAM's
  prompt encoder / mask decoder are SAM's unchanged. The parameter names and shapes of this assembly
  were checked to equal those of ChaoningZhang/MobileSAM's ``setup_model()`` (mobile_sam/build_sam.py's
  ``build_sam_vit_t``), the module ``mobile_sam.pt`` was saved from; loading is strict, so a mismatch
  would fail loudly.

`load_official_checkpoint` loads an official file strictly; a missing file raises `CheckpointError`
naming the file, its official source, md5 and ``make checkpoints MODEL=<key>``.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import warnings

import torch
from segment_anything import modeling as sam_modeling

with warnings.catch_warnings():  # its TinyViT re-registers timm model names and uses deprecated timm paths
    warnings.simplefilter("ignore")
    from segment_anything_hq import modeling as hq_modeling

from trackers.checkpoints import (
    CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)

# md5 sums: as published by SAM-PT (docs/03-prepare-checkpoints.md, "the md5 sums of the checkpoints we
# have used"); the SAM file names also embed the first 6 hex digits of their md5. The HQ-SAM and MobileSAM
# URLs are the official ones pinned to the revisions SAM-PT downloads (the md5s are of those files);
# the unpinned links are https://huggingface.co/lkeab/hq-sam/resolve/main/<file> and
# https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt.
_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
_HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/67ab82412bc794d5ce2e9799b8b6a3c0a8cfe1d2/"
_HQ_TINY_URL = "https://huggingface.co/lkeab/hq-sam/resolve/a3a77cd0a2e5e50eaa76faccf61b964732d9b35f/"
_MOBILESAM_URL = "https://github.com/ChaoningZhang/MobileSAM/raw/01ea8d0f5590082f0c1ceb0a3e2272593f20154b/weights/"
SAM_CHECKPOINTS: dict[str, CheckpointInfo] = {
    key: register(CheckpointInfo(key, filename, url + filename, md5))
    for key, filename, url, md5 in (
        ("sam_vit_h", "sam_vit_h_4b8939.pth", _SAM_URL, "4b8939a88964f0f4ff5f5b2642c598a6"),
        ("sam_vit_l", "sam_vit_l_0b3195.pth", _SAM_URL, "0b3195507c641ddb6910d2bb5adee89c"),
        ("sam_vit_b", "sam_vit_b_01ec64.pth", _SAM_URL, "01ec64d29a2fca3f0661936605ae66f8"),
        ("hqsam_vit_h", "sam_hq_vit_h.pth", _HQ_URL, "3560f6b6a5a6edacd814a1325c39640a"),
        ("hqsam_vit_l", "sam_hq_vit_l.pth", _HQ_URL, "08947267966e4264fb39523eccc33f86"),
        ("hqsam_vit_b", "sam_hq_vit_b.pth", _HQ_URL, "c6b8953247bcfdc8bb8ef91e36a6cacc"),
        ("hqsam_vit_tiny", "sam_hq_vit_tiny.pth", _HQ_TINY_URL, "3a661ab92d4088ccd6232fa542998a65"),
        ("mobilesam", "mobile_sam.pt", _MOBILESAM_URL, "f3c0d8cda613564d499310dab6c812cd"),
    )
}

IMAGE_SIZE = 1024  # model input side (longest side of the resized frame)
PATCH_SIZE = 16
PIXEL_MEAN = [123.675, 116.28, 103.53]
PIXEL_STD = [58.395, 57.12, 57.375]

# ViT encoders: embed_dim, depth, num_heads, global_attn_indexes
_VIT = {
    "vit_h": (1280, 32, 16, (7, 15, 23, 31)),
    "vit_l": (1024, 24, 16, (5, 11, 17, 23)),
    "vit_b": (768, 12, 12, (2, 5, 8, 11)),
}
# TinyViT-5M (MobileSAM and Light HQ-SAM): embed_dims, depths, num_heads, window_sizes
_TINYVIT_5M = ([64, 128, 160, 320], [2, 2, 6, 2], [2, 4, 5, 10], [7, 7, 14, 7])


def _vit_encoder(package, embed_dim, depth, num_heads, global_attn, window_size=14, out_chans=256):
    return package.ImageEncoderViT(
        depth=depth,
        embed_dim=embed_dim,
        img_size=IMAGE_SIZE,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=num_heads,
        patch_size=PATCH_SIZE,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=tuple(global_attn),
        window_size=window_size,
        out_chans=out_chans,
    )


def _tinyvit_encoder(embed_dims, depths, num_heads, window_sizes, mlp_ratio=4.0):
    return hq_modeling.TinyViT(
        img_size=IMAGE_SIZE,
        in_chans=3,
        num_classes=1000,
        embed_dims=list(embed_dims),
        depths=list(depths),
        num_heads=list(num_heads),
        window_sizes=list(window_sizes),
        mlp_ratio=mlp_ratio,
        drop_rate=0.0,
        drop_path_rate=0.0,
        use_checkpoint=False,
        mbconv_expand_ratio=4.0,
        local_conv_size=3,
        layer_lr_decay=0.8,
    )


def _prompt_encoder(package, embed_dim=256):
    side = IMAGE_SIZE // PATCH_SIZE
    return package.PromptEncoder(
        embed_dim=embed_dim,
        image_embedding_size=(side, side),
        input_image_size=(IMAGE_SIZE, IMAGE_SIZE),
        mask_in_chans=16,
    )


def _mask_decoder(package, hq_vit_dim=None, embed_dim=256, depth=2, mlp_dim=2048, num_heads=8, iou_hidden=256):
    transformer = package.TwoWayTransformer(depth=depth, embedding_dim=embed_dim, mlp_dim=mlp_dim, num_heads=num_heads)
    common = dict(
        num_multimask_outputs=3,
        transformer=transformer,
        transformer_dim=embed_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=iou_hidden,
    )
    if hq_vit_dim is None:
        return package.MaskDecoder(**common)
    return package.MaskDecoderHQ(**common, vit_dim=hq_vit_dim)


def build_sam_module(arch: str) -> torch.nn.Module:
    """The official architecture ``arch`` (a key of `SAM_CHECKPOINTS`), randomly initialised, in eval mode."""
    if arch.startswith("sam_vit_"):
        embed_dim, depth, heads, global_attn = _VIT[arch[len("sam_"):]]
        sam = sam_modeling.Sam(
            image_encoder=_vit_encoder(sam_modeling, embed_dim, depth, heads, global_attn),
            prompt_encoder=_prompt_encoder(sam_modeling),
            mask_decoder=_mask_decoder(sam_modeling),
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
        )
    elif arch in ("hqsam_vit_h", "hqsam_vit_l", "hqsam_vit_b"):
        embed_dim, depth, heads, global_attn = _VIT[arch[len("hqsam_"):]]
        sam = hq_modeling.Sam(
            image_encoder=_vit_encoder(hq_modeling, embed_dim, depth, heads, global_attn),
            prompt_encoder=_prompt_encoder(hq_modeling),
            mask_decoder=_mask_decoder(hq_modeling, hq_vit_dim=embed_dim),
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
        )
    elif arch == "hqsam_vit_tiny":
        sam = hq_modeling.Sam(
            image_encoder=_tinyvit_encoder(*_TINYVIT_5M),
            prompt_encoder=_prompt_encoder(hq_modeling),
            mask_decoder=_mask_decoder(hq_modeling, hq_vit_dim=_TINYVIT_5M[0][2]),
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
        )
    elif arch == "mobilesam":
        sam = sam_modeling.Sam(
            image_encoder=_tinyvit_encoder(*_TINYVIT_5M),
            prompt_encoder=_prompt_encoder(sam_modeling),
            mask_decoder=_mask_decoder(sam_modeling),
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
        )
    else:
        raise ValueError(f"unknown SAM architecture {arch!r}; valid: {', '.join(sorted(SAM_CHECKPOINTS))}")
    return sam.eval()


def build_tiny_sam(
    seed: int = 0,
    encoder_depth: int = 1,
    embed_dim: int = 32,
    num_heads: int = 2,
    window_size: int = 14,
    global_attn_indexes: tuple[int, ...] | None = None,
    prompt_embed_dim: int = 32,
    decoder_depth: int = 1,
    decoder_mlp_dim: int = 64,
    hq: bool = False,
) -> torch.nn.Module:
    """A tiny random-initialised real ``Sam`` for tests, deterministic for a ``seed``.

    Real modules with the real 1024 input, 16-pixel patches, (1, prompt_embed_dim, 64, 64) embedding and
    256x256 low-res masks; only the widths/depths are reduced. ``hq=True`` builds HQ-SAM (the HQ ViT,
    which returns interm features from its global-attention blocks, and MaskDecoderHQ); it needs at least
    one global-attention block in ``global_attn_indexes``. ``global_attn_indexes`` None: windowed
    attention only for SAM (fast), block 0 global for HQ-SAM (slower: global attention over the 4096 patch
    tokens).
    """
    if global_attn_indexes is None:
        global_attn_indexes = (0,) if hq else ()
    if hq and not global_attn_indexes:
        raise ValueError("an HQ-SAM encoder needs at least one global-attention block (global_attn_indexes)")
    package = hq_modeling if hq else sam_modeling
    with torch.random.fork_rng(devices=[]):  # CPU generator only
        torch.manual_seed(seed)
        sam = package.Sam(
            image_encoder=_vit_encoder(
                package, embed_dim, encoder_depth, num_heads, global_attn_indexes, window_size, prompt_embed_dim
            ),
            prompt_encoder=_prompt_encoder(package, prompt_embed_dim),
            mask_decoder=_mask_decoder(
                package,
                hq_vit_dim=embed_dim if hq else None,
                embed_dim=prompt_embed_dim,
                depth=decoder_depth,
                mlp_dim=decoder_mlp_dim,
                num_heads=num_heads,
                iou_hidden=prompt_embed_dim,
            ),
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
        )
        # SAM zero-initialises the relative-position tables; randomise them so outputs depend on them.
        for name, parameter in sam.named_parameters():
            if "rel_pos" in name:
                torch.nn.init.normal_(parameter, std=0.02)
    return sam.eval()


def build_tiny_hqsam(seed: int = 0, **options) -> torch.nn.Module:
    """`build_tiny_sam` with ``hq=True``: a tiny random HQ-SAM (HQ ViT encoder + MaskDecoderHQ)."""
    return build_tiny_sam(seed=seed, hq=True, **options)


def build_tiny_tinyvit_sam(seed: int = 0, hq: bool = False) -> torch.nn.Module:
    """A tiny random TinyViT-encoder model: MobileSAM-style (``hq=False``) or Light HQ-SAM (``hq=True``).

    TinyViT with widths (8, 16, 24, 320) (TinyViT keeps the 64x64 resolution in the last stage only for
    a last width of 320, 448 or 576), one block per stage, MLP ratio 1; real 1024 input, 64x64 output.
    """
    dims = ([8, 16, 24, 320], [1, 1, 1, 1], [1, 1, 1, 2], [7, 7, 14, 7])
    package = hq_modeling if hq else sam_modeling
    with torch.random.fork_rng(devices=[]):  # CPU generator only
        torch.manual_seed(seed)
        sam = package.Sam(
            image_encoder=_tinyvit_encoder(*dims, mlp_ratio=1.0),
            prompt_encoder=_prompt_encoder(package),
            mask_decoder=_mask_decoder(package, hq_vit_dim=dims[0][2] if hq else None, depth=1, mlp_dim=256),
            pixel_mean=PIXEL_MEAN,
            pixel_std=PIXEL_STD,
        )
    return sam.eval()


def load_official_checkpoint(
    module: torch.nn.Module, info: CheckpointInfo, path: str | Path | None, verify_md5: bool = False
) -> Path:
    """Load the official file ``info`` (a plain state dict) into ``module`` strictly; return its path.

    ``path`` None means ``checkpoints/<filename>``. Raises `CheckpointError` when the file is missing
    (naming file, source, md5 and make target), unreadable, not a state dict, or its keys/shapes differ.
    """
    path = require_checkpoint(path, info, verify_md5=verify_md5)
    state_dict = read_state_dict(path, info.filename)
    load_state_dict_strict(module, state_dict, path)
    return path
