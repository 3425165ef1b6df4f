"""The PIPS network (Harley et al., ECCV 2022, "Particle Video Revisited"), written from the paper and the
structure of the official checkpoint: refines the trajectories of independent points over one window of S
frames.

One window, B batches, N points:
  1. `fnet` (`BasicEncoder`) turns each frame into 128-channel features at 1/stride resolution.
  2. A point's appearance feature is read bilinearly at its position in the window's first frame
     (positions clamped to the feature map) or given (`feat_init`), and copied to all S frames.
  3. `iters` times: local correlations between each frame's point feature and the 4-level feature pyramid
     of that frame (7x7 bilinear taps at each level, zero outside the map, divided by sqrt(128)), the point
     features and a sin/cos embedding of (displacement from frame 0, time) are concatenated per frame and
     mixed across time and channels by an MLP-Mixer over the whole window, which returns an update of
     every frame's position and feature. The first frame's position stays fixed.
  4. A linear head on the final features gives visibility logits.

Module and parameter names equal the official state dict (200 keys; see `reference/keys/pips_keys.txt`),
and S (the window) is baked into the weights: the mixer's time mixing is a kernel-1 Conv1d over S
channels and its head outputs S*(128+2) values.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trackers.point.encoder import BasicEncoder

LATENT_DIM = 128
CORR_LEVELS = 4
CORR_RADIUS = 3
EMBED_DIM = 64  # sin/cos channels per embedded coordinate
MIXER_DIM = 512
MIXER_DEPTH = 12
MIXER_EXPANSION = 4
CORR_DIM = CORR_LEVELS * (2 * CORR_RADIUS + 1) ** 2
MIXER_INPUT_DIM = LATENT_DIM + CORR_DIM + 3 * EMBED_DIM + 3


class _PreNormResidual(nn.Module):
    """``x + fn(LayerNorm(x))`` on (M, S, D) tokens; ``fn`` mixes over time (Conv1d) or channels (Linear)."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fn(self.norm(x))


def _mlp(first: nn.Module, second: nn.Module) -> nn.Sequential:
    # Indices 0 and 3 hold the weights, as in the official state dict (2 was a zero-rate dropout).
    return nn.Sequential(first, nn.GELU(), nn.Identity(), second)


class _MeanOverTime(nn.Module):
    """(M, S, D) -> (M, D): mean over the window's frames (parameter-free)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


class DeltaBlock(nn.Module):
    """MLP-Mixer mapping per-frame inputs (M, S, 519) to per-frame updates (M, S, 2 + 128).

    ``to_delta`` indices: 0 input Linear, 1-12 mixer blocks (time mixing ``.0``, channel mixing ``.1``),
    13 LayerNorm, 14 mean over time, 15 output Linear to S*130.
    """

    def __init__(self, window: int):
        super().__init__()
        self.window = window
        hidden_time, hidden_dim = window * MIXER_EXPANSION, MIXER_DIM * MIXER_EXPANSION
        blocks = [
            nn.Sequential(
                _PreNormResidual(MIXER_DIM, _mlp(nn.Conv1d(window, hidden_time, 1), nn.Conv1d(hidden_time, window, 1))),
                _PreNormResidual(MIXER_DIM, _mlp(nn.Linear(MIXER_DIM, hidden_dim), nn.Linear(hidden_dim, MIXER_DIM))),
            )
            for _ in range(MIXER_DEPTH)
        ]
        self.to_delta = nn.Sequential(
            nn.Linear(MIXER_INPUT_DIM, MIXER_DIM),
            *blocks,
            nn.LayerNorm(MIXER_DIM),
            _MeanOverTime(),
            nn.Linear(MIXER_DIM, window * (LATENT_DIM + 2)),
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(M, S, 519) -> (M, S, 130): position update (2) then feature update (128) per frame."""
        return self.to_delta(tokens).reshape(tokens.shape[0], self.window, LATENT_DIM + 2)


def sincos_embedding_3d(xyz: torch.Tensor, channels: int = EMBED_DIM) -> torch.Tensor:
    """(M, S, 3) -> (M, S, 3 * channels + 3): for each coordinate v, interleaved sin(v f_k), cos(v f_k)
    with f_k = 2k * 1000 / channels, then the raw coordinates."""
    freqs = torch.arange(0, channels, 2, device=xyz.device, dtype=torch.float32) * (1000.0 / channels)
    angles = xyz[..., None] * freqs  # (M, S, 3, channels / 2)
    waves = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-3)  # (M, S, 3 * channels)
    return torch.cat([waves, xyz], dim=-1)


def feature_pyramid(fmaps: torch.Tensor, levels: int = CORR_LEVELS) -> list[torch.Tensor]:
    """(..., C, h, w) features -> ``levels`` maps, each 2x2-average-pooled from the previous one."""
    pyramid = [fmaps]
    for _ in range(levels - 1):
        last = pyramid[-1]
        pooled = F.avg_pool2d(last.flatten(0, -4), 2, stride=2)
        pyramid.append(pooled.reshape(*last.shape[:-2], *pooled.shape[-2:]))
    return pyramid


def sample_features_clamped(fmaps: torch.Tensor, frame: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear read of ``fmaps`` (T, C, h, w) at per-point frame indices ``frame`` (N,) and feature-pixel
    positions ``xy`` (N, 2) -> (N, C). Neighbour indices are clamped to the map (edge values beyond it)."""
    _, _, height, width = fmaps.shape
    x, y = xy[:, 0], xy[:, 1]
    x0, y0 = torch.floor(x), torch.floor(y)
    x1, y1 = x0 + 1, y0 + 1
    xs = [v.clamp(0, width - 1).long() for v in (x0, x1)]
    ys = [v.clamp(0, height - 1).long() for v in (y0, y1)]
    weights = {
        (0, 0): (x1 - x) * (y1 - y),
        (1, 0): (x - x0) * (y1 - y),
        (0, 1): (x1 - x) * (y - y0),
        (1, 1): (x - x0) * (y - y0),
    }
    out = 0
    for (i, j), weight in weights.items():
        out = out + weight[:, None] * fmaps[frame, :, ys[j], xs[i]]
    return out


def _tap_offsets(radius: int, device) -> torch.Tensor:
    """(K, 2) (dx, dy) offsets of the (2r+1)^2 correlation taps; dx varies slowest (the official order)."""
    steps = torch.linspace(-radius, radius, 2 * radius + 1, device=device)
    dx, dy = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dx, dy], dim=-1).reshape(-1, 2)


def local_correlation(pyramid: list[torch.Tensor], feats: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Correlation of point features with the feature pyramid around each point.

    Args:
        pyramid: per level (F, C, h_l, w_l) feature maps of F frames.
        feats: (F, N, C) point feature per frame.
        coords: (F, N, 2) point position per frame in level-0 feature pixels (x, y).

    Returns:
        (F, N, levels * (2r+1)^2): for each level, dot(feat, bilinear(features) at coords / 2^l + offset)
        / sqrt(C), with ``align_corners=True`` sampling and zeros outside the map.
    """
    frames, points, channels = feats.shape
    offsets = _tap_offsets(CORR_RADIUS, coords.device)
    out = []
    for level, fmaps in enumerate(pyramid):
        height, width = fmaps.shape[-2:]
        taps = coords[:, :, None, :] / 2**level + offsets  # (F, N, K, 2)
        grid = torch.stack([2 * taps[..., 0] / (width - 1) - 1, 2 * taps[..., 1] / (height - 1) - 1], dim=-1)
        sampled = F.grid_sample(fmaps, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        out.append(torch.einsum("fcnk,fnc->fnk", sampled, feats))  # sampled: (F, C, N, K)
    return torch.cat(out, dim=-1) / math.sqrt(channels)


class PipsNet(nn.Module):
    """The PIPS model; ``window`` (S) must be 8 to load the official weights."""

    def __init__(self, window: int = 8, stride: int = 4):
        super().__init__()
        self.window = window
        self.stride = stride
        self.fnet = BasicEncoder(output_dim=LATENT_DIM, stride=stride)
        self.delta_block = DeltaBlock(window)
        self.norm = nn.GroupNorm(1, LATENT_DIM)
        self.ffeat_updater = nn.Sequential(nn.Linear(LATENT_DIM, LATENT_DIM), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(LATENT_DIM, 1))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(F, 3, H, W) RGB in 0-255 (any float or uint8) -> (F, 128, H // stride, W // stride) features."""
        return self.fnet(2 * (frames.float() / 255.0) - 1.0)

    def refine(
        self, pyramid: list[torch.Tensor], xy: torch.Tensor, feat_init: torch.Tensor, iters: int
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Track points through one window, starting from its first frame.

        Args:
            pyramid: per level (B, S, C, h_l, w_l) features of the window (see `feature_pyramid`).
            xy: (B, N, 2) pixel (x, y) of the points in the window's first frame.
            feat_init: (B, N, C) appearance feature of each point.
            iters: number of refinement iterations.

        Returns:
            trajectories: ``iters`` tensors (B, S, N, 2), pixel (x, y) after each iteration; frame 0 is ``xy``.
            visibility_logits: (B, S, N).
        """
        batch, window = pyramid[0].shape[:2]
        if window != self.window:
            raise ValueError(f"the model was built for windows of {self.window} frames, got {window}")
        points = xy.shape[1]
        flat_pyramid = [level.flatten(0, 1) for level in pyramid]  # (B*S, C, h, w)
        start = xy / float(self.stride)
        coords = start[:, None].expand(batch, window, points, 2).clone()  # (B, S, N, 2) feature pixels
        feats = feat_init[:, None].expand(batch, window, points, LATENT_DIM).reshape(batch * window, points, -1)
        times = torch.linspace(0, window, window, device=xy.device).reshape(1, window, 1)
        trajectories = []
        for _ in range(iters):
            corr = local_correlation(flat_pyramid, feats, coords.flatten(0, 1))  # (B*S, N, K)
            # per point and frame tokens: (B*N, S, D)
            corr = corr.reshape(batch, window, points, -1).transpose(1, 2).flatten(0, 1)
            point_feats = feats.reshape(batch, window, points, -1).transpose(1, 2).flatten(0, 1)
            flows = (coords - coords[:, :1]).transpose(1, 2).flatten(0, 1)  # (B*N, S, 2)
            motion = torch.cat([flows, times.expand(batch * points, window, 1)], dim=-1)
            tokens = torch.cat([point_feats, corr, sincos_embedding_3d(motion)], dim=-1)
            delta = self.delta_block(tokens)  # (B*N, S, 130)
            delta_feats = delta[..., 2:].reshape(-1, LATENT_DIM)
            point_feats = point_feats.reshape(-1, LATENT_DIM) + self.ffeat_updater(self.norm(delta_feats))
            feats = point_feats.reshape(batch, points, window, -1).transpose(1, 2).flatten(0, 1)
            coords = coords + delta[..., :2].reshape(batch, points, window, 2).transpose(1, 2)
            coords[:, 0] = start
            trajectories.append(coords * self.stride)
        visibility = self.vis_predictor(feats).reshape(batch, window, points)
        return trajectories, visibility

    def forward(
        self, xy: torch.Tensor, frames: torch.Tensor, iters: int = 6, feat_init: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """One window from scratch.

        Args:
            xy: (B, N, 2) pixel (x, y) of the points in frame 0.
            frames: (B, S, 3, H, W) RGB in 0-255.
            iters: refinement iterations.
            feat_init: (B, N, 128) point features; None reads them from frame 0 at ``xy``.

        Returns:
            trajectories: ``iters`` tensors (B, S, N, 2) in pixels; visibility logits (B, S, N);
            the point features used (B, N, 128).
        """
        batch, window = frames.shape[:2]
        fmaps = self.encode(frames.flatten(0, 1))
        fmaps = fmaps.reshape(batch, window, *fmaps.shape[1:])
        if feat_init is None:
            first = torch.arange(batch, device=xy.device).repeat_interleave(xy.shape[1])
            feat_init = sample_features_clamped(fmaps[:, 0], first, xy.reshape(-1, 2) / float(self.stride))
            feat_init = feat_init.reshape(batch, xy.shape[1], LATENT_DIM)
        trajectories, visibility = self.refine(feature_pyramid(fmaps), xy, feat_init, iters)
        return trajectories, visibility, feat_init
