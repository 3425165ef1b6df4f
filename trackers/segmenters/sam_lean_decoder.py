"""A leaner forward pass of SAM's mask decoder, with the same weights and the same results.

`segment_anything`'s ``MaskDecoder.forward`` is written for one image and a few prompts. SAM-PT calls it
~14 times per object per frame (two prompt passes + 12 refinement iterations), so its per-call waste
adds up. `LeanMaskDecoder` computes the same function (``multimask_output=False``) from the modules'
own parameters (read at call time, so loading a checkpoint afterwards is seen) and differs only in how
the work is laid out:

- the image embedding is flattened to tokens (1, 4096, C) once per frame (`image_tokens`), and the
  dense positional encoding once per decoder, instead of ``repeat_interleave``-ing both for every
  prompt of every call and attending over transposed (non-contiguous) views;
- without a mask input the image-side keys of the first layer are shared by all prompts (broadcast, not
  copied);
- attention runs through ``scaled_dot_product_attention`` on contiguous projections;
- the mask input's last 1x1 convolution writes the token layout directly; the upscaling convolutions run
  on a channels-last view of the tokens and their ``LayerNorm2d`` on that layout;
- only the single-mask output (mask token 0) is multiplied out to 256x256.

Every tensor operation is the stock decoder's, reassociated; results equal the stock decoder up to
float32 rounding (|logit difference| ~1e-6; tests/trackers/segmenters/test_sam_lean_decoder.py). Only the plain SAM
decoder (SAM ViT-B/L/H, MobileSAM) is supported: `supports` says whether a module qualifies; HQ-SAM's
decoder (an extra HQ token and feature fusion) runs through its own ``forward``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: (H, W) of SAM's image embedding (its 4096 tokens)
EMBEDDING_HW = (64, 64)


def supports(mask_decoder: torch.nn.Module) -> bool:
    """True for ``segment_anything``'s plain ``MaskDecoder`` with a ``TwoWayTransformer`` (not HQ-SAM's)."""
    from segment_anything.modeling.mask_decoder import MaskDecoder
    from segment_anything.modeling.transformer import TwoWayTransformer

    return type(mask_decoder) is MaskDecoder and type(mask_decoder.transformer) is TwoWayTransformer


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, heads * d) -> (B, heads, N, d) view."""
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def _layer_norm_2d(x: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    """SAM's ``LayerNorm2d`` (over the channels of (B, C, H, W)) in fewer passes over memory.

    A channels-last tensor (what the transposed convolutions return for a token-layout input) goes
    through ``F.layer_norm`` on its (B, H, W, C) view (faster than the stock module);
    a contiguous one is normalised with five elementwise kernels instead of the stock module's nine.
    """
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        out = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), norm.weight, norm.bias, norm.eps)
        return out.permute(0, 3, 1, 2)
    centred = x - x.mean(1, keepdim=True)
    out = centred * torch.rsqrt(centred.square().mean(1, keepdim=True) + norm.eps)
    return torch.addcmul(norm.bias[:, None, None], out, norm.weight[:, None, None])


def _attention(attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """SAM's ``Attention`` with ``scaled_dot_product_attention`` and broadcastable batches.

    queries (B or 1, Nq, C); keys, values (B or 1, Nk, C) -> (B, Nq, C). A side shared by every prompt
    (batch 1: the image side of the first layer without a mask input) is projected once.
    """
    heads = attention.num_heads
    q = _heads(attention.q_proj(queries), heads)
    k = _heads(attention.k_proj(keys), heads)
    v = _heads(attention.v_proj(values), heads)
    batch = max(q.shape[0], k.shape[0])
    q, k, v = (x.expand(batch, -1, -1, -1) for x in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, Nq, d)
    b, _, n, d = out.shape
    return attention.out_proj(out.transpose(1, 2).reshape(b, n, heads * d))


class LeanMaskDecoder:
    """SAM's prompt-encoder dense path + mask decoder (single-mask output) over token-layout tensors.

    Args:
        prompt_encoder: the model's ``PromptEncoder`` (for the mask input, ``no_mask_embed`` and the
            dense positional encoding).
        mask_decoder: a plain SAM ``MaskDecoder`` (`supports` must be True).
    """

    def __init__(self, prompt_encoder: torch.nn.Module, mask_decoder: torch.nn.Module):
        if not supports(mask_decoder):
            raise TypeError(f"LeanMaskDecoder needs segment_anything's plain MaskDecoder, got {type(mask_decoder).__name__}")
        self.prompt_encoder, self.decoder = prompt_encoder, mask_decoder
        self._position: tuple[tuple, torch.Tensor] | None = None  # (key of the PE matrix, tokens)

    def image_tokens(self, image_embedding: torch.Tensor) -> torch.Tensor:
        """(1, C, 64, 64) encoder output -> (1, 4096, C) contiguous tokens (once per frame)."""
        return image_embedding.flatten(2).transpose(1, 2).contiguous()

    def position_tokens(self) -> torch.Tensor:
        """(1, 4096, C) dense positional encoding (``PromptEncoder.get_dense_pe`` as tokens).

        Cached, and recomputed when the random-Fourier matrix changes (new device, dtype or loaded weights).
        """
        matrix = self.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
        key = (matrix.device, matrix.dtype, matrix.data_ptr(), matrix._version)
        if self._position is None or self._position[0] != key:
            with torch.inference_mode():
                tokens = self.prompt_encoder.get_dense_pe().flatten(2).transpose(1, 2).contiguous()
            self._position = (key, tokens)
        return self._position[1]

    def dense_tokens(self, mask_input: torch.Tensor | None) -> torch.Tensor:
        """(B, 1, 256, 256) mask logits (or None) -> (B or 1, 4096, C) dense prompt embedding as tokens."""
        if mask_input is None:
            return self.prompt_encoder.no_mask_embed.weight[None]  # (1, 1, C), broadcast over the tokens
        conv1, norm1, act1, conv2, norm2, act2, last = self.prompt_encoder.mask_downscaling
        features = act2(_layer_norm_2d(conv2(act1(_layer_norm_2d(conv1(mask_input), norm1))), norm2))  # (B, c, 64, 64)
        # the 1x1 convolution c -> C writes straight into the token layout
        batch = features.shape[0]
        return torch.baddbmm(last.bias[None, None], features.flatten(2).transpose(1, 2),
                             last.weight[:, :, 0, 0].t()[None].expand(batch, -1, -1))

    def __call__(self, image_tokens: torch.Tensor, sparse: torch.Tensor, mask_input: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks for B prompts on one image.

        Args:
            image_tokens: (1, 4096, C) from `image_tokens`.
            sparse: (B, Np, C) sparse prompt embeddings (``PromptEncoder`` points and boxes).
            mask_input: (B, 1, 256, 256) low-res logits of a previous pass, or None.

        Returns:
            low-res logits (B, 1, 256, 256) and predicted IoU (B,) of the single-mask output, as
            ``MaskDecoder(..., multimask_output=False)``.
        """
        decoder, transformer = self.decoder, self.decoder.transformer
        batch = sparse.shape[0]
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        prompt = torch.cat([output_tokens[None].expand(batch, -1, -1), sparse], dim=1)  # (B, Nt, C)
        position = self.position_tokens()
        keys = image_tokens + self.dense_tokens(mask_input)  # (B or 1, 4096, C)
        queries = prompt
        for layer in transformer.layers:
            if layer.skip_first_layer_pe:
                queries = layer.norm1(layer.self_attn(q=queries, k=queries, v=queries))
            else:
                q = queries + prompt
                queries = layer.norm1(queries + layer.self_attn(q=q, k=q, v=queries))
            keys_pe = keys + position
            queries = layer.norm2(queries + _attention(layer.cross_attn_token_to_image, queries + prompt,
                                                            keys_pe, keys))
            queries = layer.norm3(queries + layer.mlp(queries))
            update = _attention(layer.cross_attn_image_to_token, keys_pe,
                                     queries + prompt, queries)
            keys = layer.norm4(keys + update)
        queries = transformer.norm_final_attn(
            queries + _attention(transformer.final_attn_token_to_image, queries + prompt, keys + position, keys))
        iou = decoder.iou_prediction_head(queries[:, 0])[:, 0]
        hyper = decoder.output_hypernetworks_mlps[0](queries[:, 1])  # (B, C / 8)
        height, width = EMBEDDING_HW
        src = keys.transpose(1, 2).view(batch, keys.shape[2], height, width)  # channels-last view, no copy
        conv1, norm, act1, conv2, act2 = decoder.output_upscaling
        upscaled = act2(conv2(act1(_layer_norm_2d(conv1(src), norm))))  # (B, C / 8, 256, 256)
        side = upscaled.shape[-1]
        logits = torch.bmm(hyper[:, None], upscaled.flatten(2)).view(batch, 1, side, side)
        return logits, iou
