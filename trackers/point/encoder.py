"""The RAFT-style convolutional feature encoder shared by PIPS and CoTracker (their `fnet`).

A 7x7 stride-2 stem, four residual stages (64, 96, 128, 128 channels at strides 2, 4, 8, 16 of the
input), each stage's output resized bilinearly (``align_corners=True``) to ``(H // stride, W // stride)``,
concatenated, and mixed by a 3x3 then a 1x1 convolution. Every normalisation is an `InstanceNorm2d`
without affine parameters or running statistics, so a frame's features depend on that frame only: a
video can be encoded in any chunking and the result is the same.

The 3x3 mixing convolution is linear in each stage's channels and so is the bilinear resize: a stage much
smaller than the output (stride 16 into stride 4: a quarter of the output's height and width) is mixed at
its own size and resized after (`conv3x3_of_upsampled`; 6 instead of 22 GFLOP a 576x1024 frame for PIPS).
The result is the same function; only float rounding differs.

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


def _shifted_interpolation(size_in: int, size_out: int, device) -> torch.Tensor:
    """(size_out, 3 * size_in) float32 [R_0 | R_1 | R_2]: R (size_out, size_in) is 1-D bilinear resizing with
    ``align_corners=True`` and R_k its rows shifted by k - 1 (zero rows past either end), as a 3-tap
    zero-padded convolution reads the resized signal."""
    scale = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    source = torch.arange(size_out, dtype=torch.float64) * scale
    low = source.floor().long().clamp(max=size_in - 1)
    high = (low + 1).clamp(max=size_in - 1)
    weight = source - low
    resize = torch.zeros(size_out + 2, size_in, dtype=torch.float64)  # one zero row past each end
    rows = torch.arange(1, size_out + 1)
    resize[rows, low] += 1 - weight
    resize[rows, high] += weight
    return torch.cat([resize[k:k + size_out] for k in range(3)], dim=1).to(device=device, dtype=torch.float32)


def conv3x3_of_upsampled(x: torch.Tensor, weight: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, size, mode="bilinear", align_corners=True), weight, padding=1)`` computed
    at ``x``'s size: the channels are mixed per tap first (9 * O maps of ``x``'s size), then each axis is
    resized with the tap's shift folded into its interpolation matrix (`_shifted_interpolation`). The work runs
    channels-last, (B, h, w, taps, O), so the result comes out channels-last.

    Args:
        x: (B, I, h, w); weight: (O, I, 3, 3); size: (H, W).

    Returns:
        (B, O, H, W), without bias, in ``x``'s memory layout (channels-last or contiguous).
    """
    batch, _, height, width = x.shape
    out_channels = weight.shape[0]
    # (B, h, w, ky, kx, O): every tap's channel mix at the input's size
    taps = torch.matmul(x.permute(0, 2, 3, 1), weight.permute(1, 2, 3, 0).reshape(-1, 9 * out_channels))
    taps = taps.view(batch, height, width, 3, 3, out_channels)
    columns = taps.permute(0, 1, 3, 4, 2, 5).reshape(batch * height * 3, 3 * width, out_channels)
    along_x = torch.matmul(_shifted_interpolation(width, size[1], x.device), columns)  # (B * h * ky, W, O)
    along_x = along_x.view(batch, height, 3, size[1] * out_channels).transpose(1, 2)
    along_x = along_x.reshape(batch, 3 * height, size[1] * out_channels)  # (B, ky * h, W * O)
    out = torch.matmul(_shifted_interpolation(height, size[0], x.device), along_x)  # (B, H, W * O)
    out = out.view(batch, *size, out_channels).permute(0, 3, 1, 2)  # (B, O, H, W) channels-last
    return out if x.is_contiguous(memory_format=torch.channels_last) else out.contiguous()


def _mixed_at_own_size(channels: int, shape: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether `conv3x3_of_upsampled` costs under half of resizing first, for ``channels`` maps of ``shape``
    (h, w) resized to ``size`` (H, W): multiply-adds per output channel, 9 h w I + 9 h w W + 3 H h W against
    9 H W I."""
    (h, w), (height, width) = shape, size
    own_size = 9 * h * w * channels + 9 * h * w * width + 3 * height * h * width
    return own_size < 9 * height * width * channels / 2


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
            stages.append(x)
        return self.conv3(self.relu2(self.norm2(self._mix(stages, size))))

    def _mix(self, stages: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """``conv2`` over the stages resized to ``size`` and concatenated; a stage far smaller than ``size``
        is mixed at its own size (`conv3x3_of_upsampled`)."""
        weights = torch.split(self.conv2.weight, [stage.shape[1] for stage in stages], dim=1)
        small = [_mixed_at_own_size(stage.shape[1], tuple(stage.shape[-2:]), size) for stage in stages]
        resized = [F.interpolate(stage, size, mode="bilinear", align_corners=True)
                   for stage, at_own in zip(stages, small) if not at_own]
        out = F.conv2d(torch.cat(resized, dim=1), torch.cat([w for w, at_own in zip(weights, small) if not at_own], 1),
                       self.conv2.bias, padding=1)
        for stage, weight, at_own in zip(stages, weights, small):
            if at_own:
                out.add_(conv3x3_of_upsampled(stage, weight, size))
        return out
