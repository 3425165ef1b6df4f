"""`fold_conv_bn`: TinyViT's convolution + batch-norm pairs as one convolution, the same function."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trackers import onednn
from trackers.segmenters.conv_bn import fold_conv_bn
from trackers.segmenters.sam import SamSegmenter
from trackers.segmenters.sam_models import build_tiny_sam, build_tiny_tinyvit_sam


def with_random_statistics(sam: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Batch norms with non-trivial running statistics and affine parameters (fresh ones are the identity)."""
    generator = torch.Generator().manual_seed(seed)
    for module in sam.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(size, generator=generator))
            module.bias.data.copy_(torch.randn(size, generator=generator) * 0.3)
    return sam


@pytest.mark.parametrize("channels_last", [False, True])
def test_folded_encoder_equals_the_stock_one(channels_last):
    frame = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    stock = SamSegmenter.from_model(with_random_statistics(build_tiny_tinyvit_sam(seed=1), 3),
                                    fold_batchnorm=False, channels_last=channels_last)
    folded = SamSegmenter.from_model(with_random_statistics(build_tiny_tinyvit_sam(seed=1), 3),
                                     channels_last=channels_last)
    assert not any(type(m).__name__.startswith("Folded") for m in stock.sam.modules())
    assert sum(type(m).__name__ == "FoldedConv2d_BN" for m in folded.sam.modules()) > 5
    want, got = stock.embed(frame).features["image"], folded.embed(frame).features["image"]
    assert want.abs().max() > 0.1
    torch.testing.assert_close(got, want, rtol=0, atol=2e-5 * float(want.abs().max()))


def test_training_mode_runs_the_modules_and_loaded_weights_are_seen():
    sam = with_random_statistics(build_tiny_tinyvit_sam(seed=2), 4)
    reference = with_random_statistics(build_tiny_tinyvit_sam(seed=2), 4)
    assert fold_conv_bn(sam.image_encoder) > 5 and fold_conv_bn(build_tiny_sam(seed=0)) == 0
    images = torch.randn(2, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        # training mode: batch statistics, exactly the stock modules' computation
        assert torch.equal(sam.image_encoder.train()(images)[0], reference.image_encoder.train()(images)[0])
        other = with_random_statistics(build_tiny_tinyvit_sam(seed=5), 6)
        sam.load_state_dict(other.state_dict())
        torch.testing.assert_close(sam.image_encoder.eval()(images[:1])[0], other.image_encoder.eval()(images[:1])[0],
                                   rtol=0, atol=1e-4)


@pytest.mark.skipif(onednn._LINEAR_POINTWISE is None, reason="this PyTorch has no oneDNN")
def test_onednn_fold_applies_the_gelu_after_mbconv_and_patch_embed_convolutions():
    stock = with_random_statistics(build_tiny_tinyvit_sam(seed=7), 8).image_encoder.eval()
    fast = with_random_statistics(build_tiny_tinyvit_sam(seed=7), 8).image_encoder.eval()
    fold_conv_bn(fast, onednn=True)
    folded = [m for m in fast.modules() if getattr(m, "gelu_after", False)]
    mbconvs = [m for m in fast.modules() if type(m).__name__ == "MBConv"]
    # MBConv: conv1 and conv2 take their GELU, conv3 (a residual sum before its GELU) does not; PatchEmbed: one
    assert mbconvs and len(folded) == 2 * len(mbconvs) + 1
    assert all(isinstance(m.act1, torch.nn.Identity) and isinstance(m.act2, torch.nn.Identity) for m in mbconvs)
    assert all(type(m.act3) is torch.nn.GELU and not getattr(m.conv3, "gelu_after", False) for m in mbconvs)
    images = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        # training mode: exactly the stock modules' computation, the folded GELU included
        assert torch.equal(fast.train()(images)[0], stock.train()(images)[0])
        want = stock.eval()(images)[0]
        for layout in (torch.contiguous_format, torch.channels_last):
            got = fast.eval().to(memory_format=layout)(images.contiguous(memory_format=layout))[0]
            torch.testing.assert_close(got, want, rtol=0, atol=2e-5 * float(want.abs().max()))
