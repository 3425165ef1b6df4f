"""`LeanMaskDecoder` computes SAM's mask decoder (single-mask output) exactly as ``MaskDecoder.forward``."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer

from trackers.segmenters.sam import SamSegmenter, build_tiny_hqsam, build_tiny_sam
from trackers.segmenters.sam_lean_decoder import LeanMaskDecoder, supports


def full_width_decoder(seed: int = 0) -> tuple[PromptEncoder, MaskDecoder]:
    """SAM ViT-B/L/H's prompt encoder and mask decoder (256 channels, depth 2, 8 heads), random weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        prompt_encoder = PromptEncoder(embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                                       mask_in_chans=16)
        decoder = MaskDecoder(num_multimask_outputs=3, transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
                              transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8))
    return prompt_encoder.eval(), decoder.eval()


def with_random_norms(decoder: MaskDecoder, seed: int) -> MaskDecoder:
    """Every LayerNorm of the decoder with random affine parameters (fresh ones are the identity, which would hide
    a composed product that dropped a norm's gamma or beta)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in decoder.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1 + 0.5 * torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.5 * torch.randn(module.bias.shape, generator=generator))
    return decoder


def random_prompts(batch: int, points: int, seed: int, box: bool, mask: bool):
    generator = torch.Generator().manual_seed(seed)
    coords = torch.rand(batch, points, 2, generator=generator) * 1024
    labels = torch.randint(0, 2, (batch, points), generator=generator)
    if points > 2:
        labels[:, -1] = -1  # padding entries, as batched prompts carry
    corner = torch.rand(batch, 2, generator=generator) * 500
    boxes = torch.cat([corner, corner + 100 + torch.rand(batch, 2, generator=generator) * 400], dim=1) if box else None
    mask_input = torch.randn(batch, 1, 256, 256, generator=generator) * 4 if mask else None
    return ((coords, labels) if points else None), boxes, mask_input


def stock_and_lean(prompt_encoder, decoder, image, point_prompt, boxes, mask_input):
    with torch.inference_mode():
        sparse, dense = prompt_encoder(points=point_prompt, boxes=boxes, masks=mask_input)
        want_logits, want_iou = decoder(image_embeddings=image, image_pe=prompt_encoder.get_dense_pe(),
                                        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                        multimask_output=False)
        lean = LeanMaskDecoder(prompt_encoder, decoder)
        got_logits, got_iou = lean(lean.frame(image), sparse, mask_input)
    return (want_logits, want_iou[:, 0]), (got_logits, got_iou)


@pytest.mark.parametrize("width", ["tiny", "full"])
@pytest.mark.parametrize("batch,points,box,mask", [
    (1, 3, False, False), (3, 9, False, True), (5, 41, True, True), (2, 0, True, False), (4, 6, True, False),
])
def test_lean_decoder_equals_mask_decoder(width, batch, points, box, mask):
    if width == "tiny":
        sam = build_tiny_sam(seed=2)
        prompt_encoder, decoder, channels = sam.prompt_encoder, sam.mask_decoder, 32
    else:
        (prompt_encoder, decoder), channels = full_width_decoder(seed=1), 256
    image = torch.randn(1, channels, 64, 64, generator=torch.Generator().manual_seed(batch + points))
    point_prompt, boxes, mask_input = random_prompts(batch, points, seed=points, box=box, mask=mask)
    (want_logits, want_iou), (got_logits, got_iou) = stock_and_lean(
        prompt_encoder, decoder, image, point_prompt, boxes, mask_input)
    assert got_logits.shape == want_logits.shape == (batch, 1, 256, 256) and got_iou.shape == (batch,)
    scale = float(want_logits.abs().max())
    torch.testing.assert_close(got_logits, want_logits, rtol=0, atol=2e-6 * max(scale, 1.0))
    torch.testing.assert_close(got_iou, want_iou, rtol=0, atol=1e-5)
    near_zero = want_logits.abs() < 1e-4
    assert torch.equal((got_logits > 0) | near_zero, (want_logits > 0) | near_zero)
    if batch > 1:  # different prompts really give different masks
        assert not torch.allclose(want_logits[0], want_logits[1])


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("mask", [False, True])
def test_lean_decoder_with_affine_norms_and_offset_tokens(depth, mask):
    """The composed first residual and second-layer projections (`SecondLayerInputs`) carry ``norm4``'s gamma,
    beta and mean: random norms, an embedding whose tokens have a large common offset (so the mean is far from
    zero), and a third layer that runs the plain projection after the composed one."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(depth)
        prompt_encoder = PromptEncoder(embed_dim=64, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                                       mask_in_chans=16).eval()
        decoder = MaskDecoder(transformer_dim=64, transformer=TwoWayTransformer(
            depth=depth, embedding_dim=64, mlp_dim=128, num_heads=4)).eval()
    with_random_norms(decoder, seed=depth)
    image = torch.randn(1, 64, 64, 64, generator=torch.Generator().manual_seed(7)) + 5.0
    point_prompt, boxes, mask_input = random_prompts(3, 5, seed=11, box=True, mask=mask)
    (want_logits, want_iou), (got_logits, got_iou) = stock_and_lean(
        prompt_encoder, decoder, image, point_prompt, boxes, mask_input)
    scale = float(want_logits.abs().max())
    assert scale > 0.1
    torch.testing.assert_close(got_logits, want_logits, rtol=0, atol=2e-6 * max(scale, 1.0))
    torch.testing.assert_close(got_iou, want_iou, rtol=0, atol=1e-5)


def test_weights_loaded_after_construction_are_used():
    """Parameters are read at call time, and the cached positional encoding follows a reload."""
    sam, other = build_tiny_sam(seed=0), build_tiny_sam(seed=5)
    segmenter = SamSegmenter.from_model(sam)
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    points, labels = torch.tensor([[[40.0, 30.0], [90.0, 70.0]]]), torch.tensor([[1, 0]])
    before = segmenter.predict(segmenter.embed(frame), points, labels)
    sam.load_state_dict(other.state_dict())
    after = segmenter.predict(segmenter.embed(frame), points, labels)
    stock = SamSegmenter.from_model(other, lean_decoder=False)
    want = stock.predict(stock.embed(frame), points, labels)
    assert not torch.allclose(before.low_res_logits, after.low_res_logits)
    torch.testing.assert_close(after.low_res_logits, want.low_res_logits, rtol=0, atol=1e-5)


def test_segmenter_uses_the_lean_decoder_only_where_it_applies():
    sam, hq = build_tiny_sam(seed=0), build_tiny_hqsam(seed=0)
    assert supports(sam.mask_decoder) and not supports(hq.mask_decoder)
    assert SamSegmenter.from_model(sam).lean is not None
    assert SamSegmenter.from_model(sam, lean_decoder=False).lean is None
    assert SamSegmenter.from_model(hq).lean is None
    with pytest.raises(ValueError, match="lean_decoder=True needs a plain SAM MaskDecoder"):
        SamSegmenter.from_model(hq, lean_decoder=True)
    with pytest.raises(TypeError, match="plain MaskDecoder"):
        LeanMaskDecoder(hq.prompt_encoder, hq.mask_decoder)


@pytest.mark.parametrize("prompt", ["points", "box", "mask_only"])
def test_segmenter_lean_and_stock_paths_agree(prompt):
    """Through `SamSegmenter.predict`, including a mask input with no sparse prompt at all."""
    sam = build_tiny_sam(seed=3)
    frame = np.random.default_rng(1).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    points = torch.tensor([[[70.0, 40.0], [140.0, 80.0]], [[100.0, 60.0], [5.0, 110.0]]])
    labels = torch.tensor([[1, 0], [1, 1]])
    boxes = torch.tensor([[60.0, 30.0, 150.0, 90.0], [20.0, 10.0, 180.0, 115.0]])
    mask_input = torch.randn(2, 1, 256, 256, generator=torch.Generator().manual_seed(0)) * 3
    args = {"points": (points, labels, None, None), "box": (None, None, boxes, mask_input),
            "mask_only": (None, None, None, mask_input)}[prompt]
    results = []
    for lean in (True, False):
        segmenter = SamSegmenter.from_model(sam, lean_decoder=lean)
        results.append(segmenter.predict(segmenter.embed(frame), *args))
    torch.testing.assert_close(results[0].low_res_logits, results[1].low_res_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(results[0].iou, results[1].iou, rtol=0, atol=1e-6)


def test_an_embeddings_cached_frame_part_follows_a_reload():
    """The frame's share of the decoder (first layer's image-side projections) is cached with the embedding
    and recomputed when the decoder's weights change after it was made."""
    sam, other = build_tiny_sam(seed=0), build_tiny_sam(seed=5)
    segmenter = SamSegmenter.from_model(sam)
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    points, labels = torch.tensor([[[40.0, 30.0], [90.0, 70.0]]]), torch.tensor([[1, 0]])
    embedding = segmenter.embed(frame)
    first = segmenter.predict(embedding, points, labels)
    cached = embedding.features["lean"]
    assert segmenter.predict(embedding, points, labels) is not None and embedding.features["lean"] is cached
    decoder_only = {k: v for k, v in other.state_dict().items() if not k.startswith("image_encoder")}
    sam.load_state_dict(decoder_only, strict=False)
    after = segmenter.predict(embedding, points, labels)
    assert embedding.features["lean"] is not cached
    stock = SamSegmenter.from_model(sam, lean_decoder=False)
    want = stock.predict(embedding, points, labels)
    assert not torch.allclose(first.low_res_logits, after.low_res_logits)
    torch.testing.assert_close(after.low_res_logits, want.low_res_logits, rtol=0, atol=1e-5)
