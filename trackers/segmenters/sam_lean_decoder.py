"""A leaner forward pass of SAM's mask decoder, with the same weights and the same results.

`segment_anything`'s ``MaskDecoder.forward`` is written for one image and a few prompts. SAM-PT calls it
~14 times per object per frame (two prompt passes + 12 refinement iterations), so its per-call waste
adds up. `LeanMaskDecoder` computes the same function (``multimask_output=False``) from the modules'
own parameters (read at call time, so loading a checkpoint afterwards is seen) and differs only in how
the work is laid out. Per frame (`LeanMaskDecoder.frame`, cached with the embedding):

- the image embedding as tokens (1, 4096, C), and the image-side projections of the first layer (the
  token-to-image keys and values, the image-to-token queries), with the positional encoding added;
- the positional encoding's part of the later layers' image-side keys and queries;
- the image embedding's part of the second layer's image-side projections (`SecondLayerInputs`).

Per call, with B prompts:

- a mask input enters the first layer's image-side projections through the 16-channel features before
  the prompt encoder's last 1x1 convolution (B x 4096 x 16 products instead of B x 4096 x C: that
  convolution and the projections are linear, so they are composed once per call);
- the first layer's image-side residual (its image-to-token output projection + the mask path's 1x1
  convolution + the image embedding) is one product over [attention output | mask features];
- the second layer's three image-side projections act on the first layer's ``norm4`` output, which is an
  affine function of that product's inputs and of its mean: they run as one product over those inputs
  and the mean (K = D + 17 instead of C), scaled by the norm's reciprocal deviation (`SecondLayerInputs`);
- each layer after the second runs its three image-side projections as one product;
- the final token-to-image attention is computed for the two tokens whose output is read (the IoU token
  and the single-mask token), with the keys' projection moved onto those queries and the values'
  projection applied after the attention (its rows sum to one), so no 4096 x C projection runs;
- the upscaling's two 2x2 stride-2 transposed convolutions run as products on the token layout, with
  their ``LayerNorm2d`` over the last axis, and the hypernetwork's product before the pixels are
  rearranged to 256 x 256;
- attention runs through ``scaled_dot_product_attention``, except the image-to-token attention (4096
  queries over a few keys), which runs one head at a time as two products and a softmax;
- the large products run through oneDNN on CPU (`trackers.onednn`; ``onednn``).

Every operation is the stock decoder's, reassociated; results equal the stock decoder up to float32
rounding (tests/trackers/segmenters/test_sam_lean_decoder.py). Only the plain SAM decoder (SAM ViT-B/L/H,
MobileSAM) is supported: `supports` says whether a module qualifies; HQ-SAM's decoder (an extra HQ token
and feature fusion) runs through its own ``forward``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trackers.onednn import is_exact_gelu, linear

#: (H, W) of SAM's image embedding (its 4096 tokens)
EMBEDDING_HW = (64, 64)
#: tokens per block of the output upscaling (intermediates of 16 x this x C/8 floats; with oneDNN's products
#: 1024 measured fastest, against 256 and 4096: docs/benchmarks.md, fourth pass)
UPSCALING_BLOCK = 1024


def supports(mask_decoder: torch.nn.Module) -> bool:
    """True for ``segment_anything``'s plain ``MaskDecoder`` with a ``TwoWayTransformer`` (not HQ-SAM's)."""
    from segment_anything.modeling.mask_decoder import MaskDecoder
    from segment_anything.modeling.transformer import TwoWayTransformer

    return type(mask_decoder) is MaskDecoder and type(mask_decoder.transformer) is TwoWayTransformer


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, heads * d) -> (B, heads, N, d) view."""
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head attention of projected tensors: q (B or 1, Nq, D), k, v (B or 1, Nk, D) -> (B, Nq, D)."""
    q, k, v = (_heads(x, heads) for x in (q, k, v))
    batch = max(q.shape[0], k.shape[0])
    q, k, v = (x.expand(batch, -1, -1, -1) for x in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, Nq, d)
    b, _, n, d = out.shape
    return out.transpose(1, 2).reshape(b, n, heads * d)


def _attend_few_keys(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """`_attend` for many queries over a few keys (the image-to-token attention: 4096 image tokens over the
    prompt's tokens), one head at a time: q (B or 1, Nq, D), k, v (B, Nk, D) -> (B, Nq, D), written into ``out``
    (a (B, Nq, D) view) when given. The fused kernel of ``scaled_dot_product_attention`` is built for long key
    sequences and is slower here. The scores are laid out keys-major, (B, Nk, Nq), so that the softmax over the
    few keys runs along the queries' contiguous axis instead of over rows of Nk numbers."""
    batch, keys, dim = k.shape
    d = dim // heads
    q = q.expand(batch, -1, -1)
    k = k * d ** -0.5
    out = q.new_empty(batch, q.shape[1], dim) if out is None else out
    for h in range(heads):
        part = slice(h * d, (h + 1) * d)
        weights = torch.bmm(k[..., part], q[..., part].transpose(1, 2)).softmax(dim=1)  # (B, Nk, Nq)
        out[..., part] = torch.bmm(weights.transpose(1, 2), v[..., part])
    return out


def _image_side_weights(layer) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer's image-side projections stacked: token-to-image keys and values, image-to-token queries.

    Returns weight (3D, C) and bias (3D,): rows [k | v | q] of ``layer``'s two cross attentions.
    """
    t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
    weight = torch.cat([t2i.k_proj.weight, t2i.v_proj.weight, i2t.q_proj.weight])
    bias = torch.cat([t2i.k_proj.bias, t2i.v_proj.bias, i2t.q_proj.bias])
    return weight, bias


def _layer_norm_2d(x: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    """SAM's ``LayerNorm2d`` (over the channels of a contiguous (B, C, H, W)) with five elementwise kernels."""
    centred = x - x.mean(1, keepdim=True)
    out = centred * torch.rsqrt(centred.square().mean(1, keepdim=True) + norm.eps)
    return torch.addcmul(norm.bias[:, None, None], out, norm.weight[:, None, None])


@dataclass
class SecondLayerInputs:
    """The first layer's image-side residual and the second layer's image-side projections, composed with what
    produces them (per frame; `LeanMaskDecoder._first_residual`, `LeanMaskDecoder._second_projection`).

    Per call the first layer's image tokens before ``norm4`` are ``x = X @ residual_weight.T + residual_bias +
    image``, with X (B, 4096, K) = [image-to-token attention output (D) | the mask input's features (c) | 0]; and
    with mu, rho the mean and reciprocal deviation ``norm4`` takes from x (its gamma, beta), the second layer's
    stacked projections of ``norm4(x)`` are ``rho * (X' @ weight.T + bias + base) + shift``, X' = X with mu in its
    last column: ``norm4(x) @ W.T = rho * ((x - mu) @ (W gamma).T) + W beta``, with ``x @ (W gamma).T`` expanded.

    Attributes:
        residual_weight: (C, K) [first layer's image-to-token output projection | the prompt encoder's last 1x1
            convolution | 0].
        residual_bias: {has mask input: (C,)} the output projection's bias + the mask path's bias (the
            convolution's bias, or ``no_mask_embed`` without a mask input).
        weight: (3D, K) [(W gamma) @ residual_weight's first K - 1 columns | -(W gamma) @ 1].
        bias: {has mask input: (3D,)} ``(W gamma) @ residual_bias``.
        base: (1, 4096, 3D) ``image @ (W gamma).T``.
        shift: (1, 4096, 3D) ``W beta`` + the second layer's positional part and biases (`FrameTokens.later`).
    """

    residual_weight: torch.Tensor
    residual_bias: dict[bool, torch.Tensor]
    weight: torch.Tensor
    bias: dict[bool, torch.Tensor]
    base: torch.Tensor
    shift: torch.Tensor


@dataclass
class FrameTokens:
    """The per-frame part of the decoder's work (`LeanMaskDecoder.frame`).

    Attributes:
        image: (1, 4096, C) image embedding as tokens.
        pe: (1, 4096, C) dense positional encoding as tokens (``PromptEncoder.get_dense_pe``).
        first: {has mask input: (1, 4096, 3D)} the first layer's image-side projections of the image embedding
            + the mask path's constant (``no_mask_embed`` without a mask input, the prompt encoder's last
            convolution's bias with one), biases included: [keys (with the positional encoding) | values |
            image-to-token queries (with it)].
        later: per later layer, (1, 4096, 3D) its stacked projection of the positional encoding into the
            keys and queries slots (zeros in the values slot), biases included.
        second: the composed first residual and second layer's projections (`SecondLayerInputs`).
        key: the parameters' identity when this was computed (recomputed when a checkpoint is loaded).
    """

    image: torch.Tensor
    pe: torch.Tensor
    first: dict[bool, torch.Tensor]
    later: list[torch.Tensor]
    second: SecondLayerInputs
    key: tuple


class LeanMaskDecoder:
    """SAM's prompt-encoder dense path + mask decoder (single-mask output) over token-layout tensors.

    Args:
        prompt_encoder: the model's ``PromptEncoder`` (for the mask input, ``no_mask_embed`` and the
            dense positional encoding).
        mask_decoder: a plain SAM ``MaskDecoder`` (`supports` must be True).
        onednn: run the large products (the composed first residual and second-layer projections, each later
            layer's image-side projections, the image-to-token output projection, the upscaling) through
            `trackers.onednn.linear` (oneDNN on CPU, with the upscaling's last GELU applied as its product
            writes); False: PyTorch's own ``F.linear`` everywhere.
    """

    def __init__(self, prompt_encoder: torch.nn.Module, mask_decoder: torch.nn.Module, onednn: bool = True):
        if not supports(mask_decoder):
            raise TypeError(f"LeanMaskDecoder needs segment_anything's plain MaskDecoder, got {type(mask_decoder).__name__}")
        self.prompt_encoder, self.decoder = prompt_encoder, mask_decoder
        self.onednn = bool(onednn)

    def _parameters_key(self) -> tuple:
        modules = (self.prompt_encoder, self.decoder)
        return tuple((p.device, p.dtype, p.data_ptr(), p._version) for m in modules for p in m.parameters())

    def frame(self, image_embedding: torch.Tensor, cached: FrameTokens | None = None) -> FrameTokens:
        """(1, C, 64, 64) encoder output -> its `FrameTokens` (``cached`` when its parameters are current)."""
        key = self._parameters_key()
        if cached is not None and cached.key == key:
            return cached
        image = image_embedding.flatten(2).transpose(1, 2).contiguous()  # (1, 4096, C)
        position = self.prompt_encoder.get_dense_pe().flatten(2).transpose(1, 2)  # (1, 4096, C)
        first_w, first_b = _image_side_weights(self.decoder.transformer.layers[0])
        d = first_w.shape[0] // 3
        first = F.linear(image + position, first_w, first_b)
        first[..., d:2 * d] = F.linear(image, first_w[d:2 * d], first_b[d:2 * d])  # the values: no position
        constants = self._dense_constants()
        first = {has_mask: first + F.linear(constant, first_w) for has_mask, constant in constants.items()}
        later = []
        for layer in self.decoder.transformer.layers[1:]:
            weight, bias = _image_side_weights(layer)
            projected = F.linear(position, weight, bias)
            projected[..., d:2 * d] = bias[d:2 * d]
            later.append(projected)
        return FrameTokens(image=image, pe=position, first=first, later=later,
                           second=self._second_layer_inputs(image, later[:1]), key=key)

    def _dense_constants(self) -> dict[bool, torch.Tensor]:
        """{has mask input: (C,)} the constant part of the prompt encoder's dense embedding: ``no_mask_embed``
        without a mask input, its last 1x1 convolution's bias with one."""
        encoder = self.prompt_encoder
        return {False: encoder.no_mask_embed.weight[0], True: encoder.mask_downscaling[-1].bias}

    def _second_layer_inputs(self, image: torch.Tensor, later: list[torch.Tensor]) -> SecondLayerInputs:
        """`SecondLayerInputs` of ``image`` (1, 4096, C); ``later``: the second layer's `FrameTokens.later` entry
        (none for a one-layer decoder: then only the residual's part)."""
        layers = self.decoder.transformer.layers
        out_proj, norm = layers[0].cross_attn_image_to_token.out_proj, layers[0].norm4
        last = self.prompt_encoder.mask_downscaling[-1]
        to_dense = last.weight[:, :, 0, 0]  # (C, c)
        zero = to_dense.new_zeros(to_dense.shape[0], 1)
        residual_weight = torch.cat([out_proj.weight, to_dense, zero], dim=1)  # (C, K)
        residual_bias = {has_mask: out_proj.bias + constant for has_mask, constant in self._dense_constants().items()}
        if not later:
            empty = image.new_empty(0)
            return SecondLayerInputs(residual_weight, residual_bias, empty, {}, empty, empty)
        weight, _ = _image_side_weights(layers[1])
        scaled = weight * norm.weight  # (3D, C): W gamma
        composed = torch.cat([scaled @ residual_weight[:, :-1], -scaled.sum(1, keepdim=True)], dim=1)  # (3D, K)
        bias = {has_mask: scaled @ b for has_mask, b in residual_bias.items()}
        return SecondLayerInputs(residual_weight, residual_bias, composed, bias, base=F.linear(image, scaled),
                                 shift=later[0] + weight @ norm.bias)

    def _mask_features(self, mask_input: torch.Tensor) -> torch.Tensor:
        """(B, 1, 256, 256) mask logits -> (B, 4096, c) features before the prompt encoder's last 1x1 conv."""
        conv1, norm1, act1, conv2, norm2, act2, _ = self.prompt_encoder.mask_downscaling
        features = act2(_layer_norm_2d(conv2(act1(_layer_norm_2d(conv1(mask_input), norm1))), norm2))
        return features.flatten(2).transpose(1, 2)

    def _first_layer_inputs(self, frame: FrameTokens, mask_input: torch.Tensor | None, batch: int):
        """The first layer's stacked image-side projections (B or 1, 4096, 3D), and the `SecondLayerInputs` X
        (B, 4096, K) with the mask input's features in place (zeros without one) and the rest to be filled."""
        weight, _ = _image_side_weights(self.decoder.transformer.layers[0])
        last = self.prompt_encoder.mask_downscaling[-1]
        channels, features_at = last.weight.shape[1], weight.shape[0] // 3
        inputs = frame.image.new_empty(batch, frame.image.shape[1], features_at + channels + 1)
        if mask_input is None:
            inputs[..., features_at:].zero_()
            return frame.first[False], inputs
        features = self._mask_features(mask_input)  # (B, 4096, c)
        inputs[..., features_at:-1] = features
        inputs[..., -1] = 0
        # the 1x1 conv and the projections composed: c -> 3D
        composed = last.weight[:, :, 0, 0].t() @ weight.t()
        projected = torch.baddbmm(frame.first[True], features, composed[None].expand(batch, -1, -1))
        return projected, inputs

    def _first_residual(self, frame: FrameTokens, inputs: torch.Tensor, has_mask: bool):
        """The first layer's image tokens after ``norm4`` (B, 4096, C), with ``norm4``'s mean written into the
        last column of ``inputs`` (X of `SecondLayerInputs`), and its reciprocal deviations (B, 4096, 1)."""
        second, norm = frame.second, self.decoder.transformer.layers[0].norm4
        summed = linear(inputs, second.residual_weight, second.residual_bias[has_mask], onednn=self.onednn)
        keys, mean, rstd = torch.native_layer_norm(summed.add_(frame.image), norm.normalized_shape, norm.weight,
                                                   norm.bias, norm.eps)
        inputs[..., -1] = mean[..., 0]
        return keys, rstd

    def _second_projection(self, frame: FrameTokens, inputs: torch.Tensor, rstd: torch.Tensor,
                           has_mask: bool) -> torch.Tensor:
        """The second layer's stacked image-side projections (B, 4096, 3D) from X (`SecondLayerInputs`)."""
        second = frame.second
        projected = linear(inputs, second.weight, second.bias[has_mask], onednn=self.onednn)
        return projected.add_(second.base).mul_(rstd).add_(second.shift)

    def _layer(self, layer, queries, prompt, projected, first: bool, out: torch.Tensor | None = None):
        """One ``TwoWayAttentionBlock`` with the image side's projections given, up to its image-to-token
        attention: returns (queries, that attention's output before its output projection (B, 4096, D), written
        into ``out`` when given)."""
        heads = layer.cross_attn_token_to_image.num_heads
        d = projected.shape[2] // 3
        if first and layer.skip_first_layer_pe:
            queries = layer.norm1(layer.self_attn(q=queries, k=queries, v=queries))
        else:
            q = queries + prompt
            queries = layer.norm1(queries + layer.self_attn(q=q, k=q, v=queries))
        t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
        attended = _attend(t2i.q_proj(queries + prompt), projected[..., :d], projected[..., d:2 * d], heads)
        queries = layer.norm2(queries + t2i.out_proj(attended))
        queries = layer.norm3(queries + layer.mlp(queries))
        tokens = queries + prompt
        return queries, _attend_few_keys(projected[..., 2 * d:], i2t.k_proj(tokens), i2t.v_proj(queries), heads, out)

    def _final_attention(self, queries, prompt, keys, position) -> torch.Tensor:
        """The final token-to-image attention for the IoU and single-mask tokens: (B, 2, C).

        The keys' projection is moved onto the two queries, and the values' projection applied after the
        attention; the keys' bias adds a constant to each query's scores, which the softmax removes.
        """
        attention = self.decoder.transformer.final_attn_token_to_image
        heads = attention.num_heads
        q = _heads(attention.q_proj(queries[:, :2] + prompt[:, :2]), heads)  # (B, h, 2, d)
        batch, _, _, d = q.shape
        w_k = attention.k_proj.weight.view(heads, d, -1)  # (h, d, C)
        w_v = attention.v_proj.weight.view(heads, d, -1)
        folded = torch.einsum("bhqd,hdc->bhqc", q, w_k).reshape(batch, heads * 2, -1) * d ** -0.5
        scores = torch.bmm(folded, (keys + position).transpose(1, 2))  # (B, 2h, 4096)
        context = torch.bmm(scores.softmax(dim=-1), keys).view(batch, heads, 2, -1)  # (B, h, 2, C)
        out = torch.einsum("bhqc,hdc->bqhd", context, w_v) + attention.v_proj.bias.view(heads, d)
        return attention.out_proj(out.reshape(batch, 2, heads * d))

    def _upscaled_logits(self, keys: torch.Tensor, hyper: torch.Tensor) -> torch.Tensor:
        """Output upscaling and the hypernetwork's product: keys (B, 4096, C), hyper (B, C/8) -> (B, 1, 256, 256).

        A 2x2 stride-2 transposed convolution maps each input pixel to 4 output pixels independently, so
        both run as products on the tokens: (R, C) -> (R, 4, C/4) -> (R, 4, 4, C/8), in blocks of
        `UPSCALING_BLOCK` tokens of one prompt so that each block's intermediates stay in cache.
        """
        conv1, norm, act1, conv2, act2 = self.decoder.output_upscaling
        batch, tokens, _ = keys.shape
        mid = conv1.weight.shape[1]
        # weight (C_in, C_out, 2, 2) -> ((dy, dx, C_out), C_in), a linear layer's (out, in): output channels last
        weight1, bias1 = conv1.weight.permute(2, 3, 1, 0).reshape(-1, conv1.weight.shape[0]), conv1.bias.repeat(4)
        weight2, bias2 = conv2.weight.permute(2, 3, 1, 0).reshape(-1, mid), conv2.bias.repeat(4)
        fold_gelu = is_exact_gelu(act2)  # SAM's default activation
        blocks = []
        for b in range(batch):
            for start in range(0, tokens, UPSCALING_BLOCK):
                block = keys[b, start:start + UPSCALING_BLOCK]  # (R, C)
                up = linear(block, weight1, bias1, onednn=self.onednn).view(-1, mid)  # (R * 4, C/4)
                up = act1(F.layer_norm(up, (mid,), norm.weight, norm.bias, norm.eps))
                up = linear(up, weight2, bias2, gelu=fold_gelu, onednn=self.onednn)
                up = (up if fold_gelu else act2(up)).view(-1, weight2.shape[0] // 4)  # (R * 16, C/8)
                blocks.append(torch.mv(up, hyper[b]))
        height, width = EMBEDDING_HW
        # (B, y, x, dy1, dx1, dy2, dx2) -> (B, y, dy1, dy2, x, dx1, dx2)
        logits = torch.cat(blocks).view(batch, height, width, 2, 2, 2, 2).permute(0, 1, 3, 5, 2, 4, 6)
        return logits.reshape(batch, 1, height * 4, width * 4)

    def __call__(self, frame: FrameTokens, sparse: torch.Tensor, mask_input: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks for B prompts on one image.

        Args:
            frame: the image's `FrameTokens` (`frame`).
            sparse: (B, Np, C) sparse prompt embeddings (``PromptEncoder`` points and boxes).
            mask_input: (B, 1, 256, 256) low-res logits of a previous pass, or None.

        Returns:
            low-res logits (B, 1, 256, 256) and predicted IoU (B,) of the single-mask output, as
            ``MaskDecoder(..., multimask_output=False)``.
        """
        decoder, transformer = self.decoder, self.decoder.transformer
        batch, has_mask = sparse.shape[0], mask_input is not None
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        prompt = torch.cat([output_tokens[None].expand(batch, -1, -1), sparse], dim=1)  # (B, Nt, C)
        projected, inputs = self._first_layer_inputs(frame, mask_input, batch)
        dim = projected.shape[2] // 3
        queries, _ = self._layer(transformer.layers[0], prompt, prompt, projected, True, out=inputs[..., :dim])
        keys, rstd = self._first_residual(frame, inputs, has_mask)
        for index, (layer, position) in enumerate(zip(transformer.layers[1:], frame.later)):
            if index == 0:
                projected = self._second_projection(frame, inputs, rstd, has_mask)
            else:
                projected = linear(keys, _image_side_weights(layer)[0], onednn=self.onednn).add_(position)
            queries, attended = self._layer(layer, queries, prompt, projected, first=False)
            out_proj = layer.cross_attn_image_to_token.out_proj
            update = linear(attended, out_proj.weight, out_proj.bias, onednn=self.onednn)
            keys = layer.norm4(update.add_(keys))  # the residual sum in the fresh product's memory
        queries = transformer.norm_final_attn(queries[:, :2] + self._final_attention(queries, prompt, keys, frame.pe))
        iou = decoder.iou_prediction_head(queries[:, 0])[:, 0]
        hyper = decoder.output_hypernetworks_mlps[0](queries[:, 1])  # (B, C / 8)
        return self._upscaled_logits(keys, hyper), iou
