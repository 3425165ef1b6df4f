"""The shared RAFT-style encoder: mixing a small stage at its own size equals resizing it first."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trackers.point import encoder
from trackers.point.encoder import BasicEncoder, conv3x3_of_upsampled


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape,size", [((36, 64), (144, 256)), ((9, 13), (37, 50)), ((1, 5), (4, 17))])
def test_mixing_at_the_small_size_equals_resizing_first(shape, size, channels_last):
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    x, weight = torch.randn(2, 8, *shape).contiguous(memory_format=layout), torch.randn(5, 8, 3, 3)
    direct = F.conv2d(F.interpolate(x, size, mode="bilinear", align_corners=True), weight, padding=1)
    mixed = conv3x3_of_upsampled(x, weight, size)
    assert torch.allclose(mixed, direct, atol=2e-5 * direct.abs().max())
    assert mixed.is_contiguous(memory_format=layout)  # the input's layout: no mixed-layout sum in the encoder


def test_only_stages_far_below_the_output_size_are_mixed_at_their_own_size():
    assert encoder._mixed_at_own_size(128, (36, 64), (144, 256))  # PIPS's stride-16 stage into stride 4
    assert not encoder._mixed_at_own_size(128, (72, 128), (144, 256))  # stride 8 into 4: not cheaper
    assert not encoder._mixed_at_own_size(128, (36, 64), (72, 128))  # PIPS++: stride 16 into 8
    assert not encoder._mixed_at_own_size(96, (144, 256), (144, 256))  # already at the output size


def test_the_encoder_equals_resizing_every_stage_first(monkeypatch):
    torch.manual_seed(0)
    net = BasicEncoder(stride=4).eval()
    images = torch.randn(1, 3, 160, 256)
    with torch.inference_mode():
        ours = net(images)
        monkeypatch.setattr(encoder, "_mixed_at_own_size", lambda *args: False)  # every stage resized first
        plain = net(images)
    assert torch.allclose(ours, plain, atol=1e-5 * plain.abs().max())
    assert not torch.equal(ours, plain)  # the small stage did take the other path
