"""The PIPS++ network (Zheng et al., ICCV 2023, "PointOdyssey"; aharley/pips2), written from the paper and
the structure of the official checkpoint: refines the trajectories of independent points over one window
of any number S >= 2 of frames.

One window, N points, positions in feature pixels (pixels / stride):
  1. `fnet` (the PIPS `BasicEncoder`, stride 8) turns each frame into 128-channel features.
  2. Three sets of point features per frame: the query feature (read at frame 0, or carried over from the
     previous window) and, from the second iteration on, the features read at the point's current
     position two and four frames earlier (index clamped to frame 0). In the first iteration those two
     are the query feature too, or the ones carried over.
  3. ``iters`` times: for each feature set, 7x7 bilinear correlation taps on the 4-level pyramid of each
     frame around the current position (3 x 196 values), plus a sin/cos embedding of the frame-to-frame
     motion (the last motion repeated for the last frame), go through a 1-D ResNet over time
     (`DeltaBlock`) that returns a position update for every frame. Frame 0 stays fixed.
  4. No visibility head: every point is reported visible (as SAM-PT does).

Module and parameter names equal the official state dict (82 keys, 17.6M parameters; see
`reference/keys/pips2_keys.txt`). ``norm`` is part of the checkpoint but unused.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trackers.point.encoder import BasicEncoder
from trackers.point.pips.net import CORR_DIM, LATENT_DIM, local_correlation, sample_features_clamped

FLOW_EMBED_DIM = 128  # sin/cos channels of the motion embedding (x and y: sin, cos; 32 frequencies each)
DELTA_INPUT_DIM = 3 * CORR_DIM + FLOW_EMBED_DIM + 2  # 718
KERNEL = 3
BASE_CHANNELS = 128
# (in, out) channels of the 8 residual blocks: doubled at blocks 2, 4 and 6 (128 -> 1024)
BLOCK_CHANNELS = ((128, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 1024), (1024, 1024))


class SameConv1d(nn.Module):
    """Stride-1 ``Conv1d`` over time with zero 'same' padding ((k-1)//2 left, the rest right):
    (M, Cin, S) -> (M, Cout, S). The convolution is the attribute ``conv`` (official parameter names)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = KERNEL):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.pad_left = (kernel_size - 1) // 2
        self.pad_right = kernel_size - 1 - self.pad_left

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.pad_left, self.pad_right)))


def _instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Normalise (M, C, S) over time per sample and channel (no affine parameters, eps 1e-5)."""
    return F.instance_norm(x, eps=1e-5)


class ResidualBlock1d(nn.Module):
    """Pre-activation residual block over time: (M, Cin, S) -> (M, Cout, S).

    ``x + conv2(relu(norm(conv1(relu(norm(x))))))``, without the first norm/relu in the first block; when
    Cout > Cin the shortcut is ``x`` zero-padded with (Cout-Cin)//2 channels before and the rest after.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool = False):
        super().__init__()
        self.in_channels, self.out_channels, self.first = in_channels, out_channels, first
        self.conv1 = SameConv1d(in_channels, out_channels)
        self.conv2 = SameConv1d(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.first else F.relu(_instance_norm(x))
        out = self.conv2(F.relu(_instance_norm(self.conv1(out))))
        extra = self.out_channels - self.in_channels
        shortcut = F.pad(x, (0, 0, extra // 2, extra - extra // 2)) if extra else x
        return out + shortcut


def flow_embedding(flows: torch.Tensor) -> torch.Tensor:
    """(M, S, 2) motions (dx, dy) -> (M, S, 130): sin(dx w), cos(dx w), sin(dy w), cos(dy w) for the 32
    frequencies w_k = 10000^(-k/31), then the raw (dx, dy)."""
    quarter = FLOW_EMBED_DIM // 4
    omega = torch.arange(quarter, device=flows.device) / (quarter - 1)
    omega = 1.0 / (10000 ** omega)
    x = flows[..., 0:1] * omega
    y = flows[..., 1:2] * omega
    return torch.cat([x.sin(), x.cos(), y.sin(), y.cos(), flows], dim=-1)


class DeltaBlock(nn.Module):
    """1-D ResNet over time: (M, S, 718) per-frame correlations and motion embedding -> (M, S, 2) updates."""

    def __init__(self):
        super().__init__()
        self.first_block_conv = SameConv1d(DELTA_INPUT_DIM, BASE_CHANNELS)
        self.basicblock_list = nn.ModuleList(
            ResidualBlock1d(cin, cout, first=index == 0) for index, (cin, cout) in enumerate(BLOCK_CHANNELS)
        )
        self.dense = nn.Linear(BLOCK_CHANNELS[-1][1], 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.first_block_conv(tokens.transpose(1, 2)))
        for block in self.basicblock_list:
            x = block(x)
        return self.dense(F.relu(x).transpose(1, 2))


PointFeatures = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class Pips2Net(nn.Module):
    """The PIPS++ model (official weights were trained with stride 8)."""

    def __init__(self, stride: int = 8):
        super().__init__()
        self.stride = stride
        self.fnet = BasicEncoder(output_dim=LATENT_DIM, stride=stride)
        self.delta_block = DeltaBlock()
        self.norm = nn.GroupNorm(1, LATENT_DIM)  # in the official checkpoint, never used

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(F, 3, H, W) RGB in 0-255 (any float or uint8) -> (F, 128, H // stride, W // stride) features."""
        return self.fnet(2 * (frames.float() / 255.0) - 1.0)

    def refine(
        self,
        pyramid: list[torch.Tensor],
        trajectory: torch.Tensor,
        feat_init: PointFeatures | None,
        iters: int,
        beautify: bool = False,
    ) -> tuple[torch.Tensor, PointFeatures]:
        """Refine the trajectories of N points through one window of S frames.

        Args:
            pyramid: per level (S, C, h_l, w_l) features of the window's frames (see `feature_pyramid`).
            trajectory: (S, N, 2) initial pixel (x, y) per frame; frame 0 (the start) stays fixed.
            feat_init: None (read the query feature at frame 0) or the three (S', N, C) point-feature sets
                returned for the previous window (S' >= S; the first S frames are used).
            iters: refinement iterations (>= 1).
            beautify: halve the updates of the iterations after 3/4 of ``iters`` (official option).

        Returns:
            trajectory (S, N, 2) in pixels after the last iteration, and the point features
            (query, two frames back, four frames back), each (S, N, C), to carry to the next window.
        """
        fmaps = pyramid[0]
        window, points = trajectory.shape[:2]
        if window < 2:
            raise ValueError(f"a PIPS++ window needs at least 2 frames, got {window}")
        coords = trajectory / float(self.stride)
        start = coords[0].clone()
        if feat_init is None:
            query = sample_features_clamped(fmaps, torch.zeros(points, dtype=torch.long, device=fmaps.device), start)
            feats = [query[None].expand(window, points, LATENT_DIM)] * 3
        else:
            feats = [feat[:window] for feat in feat_init]
        steps = torch.arange(window, device=fmaps.device)
        earlier = [(steps - back).clamp(min=0) for back in (2, 4)]
        for iteration in range(iters):
            if iteration >= 1:
                feats[1], feats[2] = (self._features_at(fmaps, frames, coords) for frames in earlier)
            corr = torch.cat([local_correlation(pyramid, feat, coords) for feat in feats], dim=-1)  # (S, N, 588)
            flows = coords[1:] - coords[:-1]
            flows = torch.cat([flows, flows[-1:]], dim=0)  # (S, N, 2)
            tokens = torch.cat([corr, flow_embedding(flows)], dim=-1).transpose(0, 1)  # (N, S, 718)
            delta = self.delta_block(tokens).transpose(0, 1)  # (S, N, 2)
            if beautify and iteration > 3 * iters // 4:
                delta = delta * 0.5
            coords = coords + delta
            coords[0] = start
        return coords * self.stride, (feats[0], feats[1], feats[2])

    @staticmethod
    def _features_at(fmaps: torch.Tensor, frames: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Features (S, N, C) of each point at its position in frame ``frames[s]`` (S,) of ``fmaps`` (S, C, h, w);
        ``coords`` (S, N, 2) in feature pixels (edge-clamped bilinear)."""
        window, points = coords.shape[:2]
        frame_index = frames.repeat_interleave(points)
        sampled = sample_features_clamped(fmaps, frame_index, coords[frames].reshape(-1, 2))
        return sampled.reshape(window, points, -1)
