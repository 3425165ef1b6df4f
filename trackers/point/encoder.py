"""The RAFT-style convolutional feature encoder shared by PIPS and CoTracker (their `fnet`).

A 7x7 stride-2 stem, four residual stages (64, 96, 128, 128 channels at strides 2, 4, 8, 16 of the
input), each stage's output resized bilinearly (``align_corners=True``) to ``(H // stride, W // stride)``,
concatenated, and mixed by a 3x3 then a 1x1 convolution. Every normalisation is an `InstanceNorm2d`
without affine parameters or running statistics, so a frame's features depend on that frame only: a
video can be encoded in any chunking and the result is the same.

Parameter names and shapes equal the official `fnet.*` entries of the PIPS and CoTracker checkpoints
(with ``output_dim=128``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and a (strided 1x1 conv) shortcut: (B, Cin, H, W) -> (B, C, H', W')."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.norm1 = nn.InstanceNorm2d(channels)
        self.norm2 = nn.InstanceNorm2d(channels)
        self.downsample = None
        if stride != 1:
            self.norm3 = nn.InstanceNorm2d(channels)
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride), self.norm3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(shortcut + y)


class BasicEncoder(nn.Module):
    """Image features at 1/``stride`` resolution.

    Input (B, 3, H, W) images normalised to [-1, 1]; output (B, output_dim, H // stride, W // stride).
    """

    def __init__(self, output_dim: int = 128, stride: int = 4, input_dim: int = 3):
        super().__init__()
        self.stride = stride
        stem = output_dim // 2
        widths = (output_dim // 2, output_dim // 4 * 3, output_dim, output_dim)
        self.conv1 = nn.Conv2d(input_dim, stem, kernel_size=7, stride=2, padding=3)
        self.norm1 = nn.InstanceNorm2d(stem)
        self.relu1 = nn.ReLU(inplace=True)
        in_channels = stem
        for index, (width, layer_stride) in enumerate(zip(widths, (1, 2, 2, 2)), start=1):
            stage = nn.Sequential(ResidualBlock(in_channels, width, layer_stride), ResidualBlock(width, width, 1))
            self.add_module(f"layer{index}", stage)
            in_channels = width
        self.conv2 = nn.Conv2d(sum(widths), output_dim * 2, kernel_size=3, padding=1)
        self.norm2 = nn.InstanceNorm2d(output_dim * 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(output_dim * 2, output_dim, kernel_size=1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        size = (height // self.stride, width // self.stride)
        x = self.relu1(self.norm1(self.conv1(images)))
        stages = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            stages.append(F.interpolate(x, size, mode="bilinear", align_corners=True))
        x = self.relu2(self.norm2(self.conv2(torch.cat(stages, dim=1))))
        return self.conv3(x)
