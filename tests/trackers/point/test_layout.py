"""`trackers.point.layout.to_channels_last`: the same function as the official layout, in channels-last."""
from __future__ import annotations

import copy

import torch
from torch import nn

from trackers.point.encoder import BasicEncoder
from trackers.point.layout import ChannelsLastInstanceNorm2d, to_channels_last


def test_channels_last_encoder_computes_the_same_features_without_layout_copies():
    torch.manual_seed(0)
    official = BasicEncoder(output_dim=32, stride=4).eval()
    fast = to_channels_last(copy.deepcopy(official))
    norms = [m for m in fast.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(type(m) is ChannelsLastInstanceNorm2d for m in norms)
    assert fast.state_dict().keys() == official.state_dict().keys()  # checkpoints load into either
    images = torch.rand(2, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        expected, got = official(images), fast(images)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


def test_affine_instance_norm_keeps_its_parameters():
    torch.manual_seed(0)
    norm = nn.InstanceNorm2d(8, affine=True)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    x = torch.randn(3, 8, 5, 7)
    expected = norm(x)
    fast = to_channels_last(norm)
    torch.testing.assert_close(fast(x.contiguous(memory_format=torch.channels_last)), expected, rtol=0, atol=1e-5)
    running = to_channels_last(nn.InstanceNorm2d(8, track_running_stats=True))
    assert type(running) is nn.InstanceNorm2d  # running statistics: left as it is
