"""The channels-last memory layout for the point trackers' convolutional networks (a speed option).

`to_channels_last` stores a network's 4-D weights as (C_out, kH, kW, C_in) in memory, so its convolutions take
oneDNN's channels-last kernels on CPU instead of reordering every input (and, for 1x1 and depthwise
convolutions in NCHW, instead of the ``_slow_conv2d_forward`` path). The official encoders normalise with
``InstanceNorm2d``, whose kernel reshapes its input to (1, B * C, H, W) and so copies a channels-last tensor
back to NCHW at every layer (which cost more than the layout gains); `to_channels_last` therefore also swaps each
``InstanceNorm2d`` without running statistics for `ChannelsLastInstanceNorm2d`, the same function computed by
``F.group_norm`` with one group per channel, whose CPU kernel reads channels-last tensors as they are.

The function is unchanged; the float rounding is not (sums in another order), so the trackers keep the option
off where a recorded official fixture moves with it (each tracker's docstring says which).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelsLastInstanceNorm2d(nn.InstanceNorm2d):
    """`nn.InstanceNorm2d` (no running statistics; optional affine ``weight``/``bias`` of shape (C,)) as
    group norm with C groups: (B, C, H, W) -> (B, C, H, W), in the input's memory layout. The same parameter
    names as `nn.InstanceNorm2d`, so a state dict loads into either."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.num_features, self.weight, self.bias, self.eps)


def to_channels_last(module: nn.Module) -> nn.Module:
    """``module`` in place with its 4-D parameters channels-last and every `nn.InstanceNorm2d` that keeps no
    running statistics made a `ChannelsLastInstanceNorm2d`; returns ``module``."""
    for child in module.modules():
        if type(child) is nn.InstanceNorm2d and not child.track_running_stats:
            child.__class__ = ChannelsLastInstanceNorm2d
    return module.to(memory_format=torch.channels_last)
