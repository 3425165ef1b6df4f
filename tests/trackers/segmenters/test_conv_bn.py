"""`fold_conv_bn`: TinyViT's convolution + batch-norm pairs as one convolution, the same function."""
from __future__ import annotations

import numpy as np
import pytest
import torch

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
