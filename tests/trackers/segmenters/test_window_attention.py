"""`blocked_forward`: TinyViT's window attention a block of windows and one head at a time, the same function."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trackers.segmenters import window_attention
from trackers.segmenters.sam import SamSegmenter
from trackers.segmenters.sam_models import build_tiny_sam, build_tiny_tinyvit_sam
from trackers.segmenters.window_attention import use_blocked_window_attention


def tinyvit_attention(seed: int, dim: int = 48, key_dim: int = 8, heads: int = 3, window: int = 7) -> torch.nn.Module:
    """A TinyViT ``Attention`` (``segment_anything_hq``'s) with random weights and attention biases (fresh ones
    are zeros, which would hide a bias taken from the wrong head)."""
    from segment_anything_hq.modeling.tiny_vit_sam import Attention

    torch.manual_seed(seed)
    module = Attention(dim, key_dim, num_heads=heads, attn_ratio=1, resolution=(window, window))
    with torch.no_grad():
        module.attention_biases.normal_(0, 2.0)
        module.norm.weight.normal_(1, 0.3)
    module.eval()  # registers the bias table ``ab`` (this ``train`` override returns None, not the module)
    return module


@pytest.mark.parametrize("block_bytes", [1, 5000, 10 ** 9])  # a window at a time, ragged blocks, all at once
def test_blocked_attention_equals_the_official_forward(monkeypatch, block_bytes):
    monkeypatch.setattr(window_attention, "SCORE_BLOCK_BYTES", block_bytes)
    official = tinyvit_attention(seed=0)
    blocked = tinyvit_attention(seed=0)
    assert use_blocked_window_attention(blocked) == 1 and type(blocked).__name__ == "BlockedAttention"
    windows = torch.randn(11, 49, 48, generator=torch.Generator().manual_seed(1))  # 11 windows of 7x7 tokens
    with torch.inference_mode():
        want, got = official(windows), blocked(windows)
    assert want.abs().max() > 0.1
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_training_mode_and_gradients_run_the_official_forward():
    official, blocked = tinyvit_attention(seed=2), tinyvit_attention(seed=2)
    official.train(), blocked.train()
    use_blocked_window_attention(blocked)
    windows = torch.randn(4, 49, 48, generator=torch.Generator().manual_seed(3))
    want, got = official(windows), blocked(windows)
    assert torch.equal(got, want)
    got.square().sum().backward()
    assert blocked.attention_biases.grad is not None and blocked.attention_biases.grad.abs().max() > 0


def test_swaps_every_tinyvit_attention_once():
    encoder = build_tiny_tinyvit_sam(seed=0).image_encoder
    count = use_blocked_window_attention(encoder)
    assert count == sum(type(m).__name__ == "BlockedAttention" for m in encoder.modules()) == 3  # one block in stages 2-4
    assert use_blocked_window_attention(encoder) == count  # already swapped: no deeper subclass
    assert all(type(m).__name__ != "BlockedBlockedAttention" for m in encoder.modules())
    assert use_blocked_window_attention(build_tiny_sam(seed=0)) == 0  # the ViT encoder has none


def test_segmenter_option_gives_the_same_embedding_and_stays_off_when_compiled():
    frame = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    stock = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=1), blocked_attention=False)
    blocked = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=1))
    assert not any(type(m).__name__ == "BlockedAttention" for m in stock.sam.modules())
    assert sum(type(m).__name__ == "BlockedAttention" for m in blocked.sam.modules()) == 3
    want, got = stock.embed(frame).features["image"], blocked.embed(frame).features["image"]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6 * float(want.abs().max()))
    compiled = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=1), compile=True)
    assert not any(type(m).__name__ == "BlockedAttention" for m in compiled.sam.modules())
