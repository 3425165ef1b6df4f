"""The CoTracker v1 network (Karaev et al. 2023, "CoTracker: It is Better to Track Together", sections 3.1-3.3;
facebookresearch/co-tracker tag v1.0, ``cotracker/models/core/cotracker/``) and its sliding-window pass.

Parameter names equal the official ``cotracker_stride_4_wind_8.pth`` state dict (150 entries): ``fnet.*`` (the
RAFT-style encoder shared with PIPS, `trackers.point.encoder`), ``updateformer.*`` (input projection, 6 time and
6 space attention blocks with timm-style ``attn.qkv`` / ``attn.proj`` / ``mlp.fc1`` / ``mlp.fc2``, flow head),
and the PIPS-like heads ``norm``, ``ffeat_updater.0``, ``vis_predictor.0``.

Conventions (one video, no batch dimension): frames (S, 3, H, W) RGB in [0, 255] at the model resolution;
features at 1/4 resolution; track coordinates inside the pass in feature-grid pixels (image pixels / 4, pixel
centres at integers); S = 8 frames per window, a window every 4 frames.

How one window is refined (`CoTrackerV1Net.refine`), ``iters`` times, for the n points it holds:
  1. correlations of each point's feature in each frame with the 4-level pyramid of that frame, 7x7 taps around
     its current position (`trackers.point.pips.net.local_correlation`, as in PIPS): 196 channels;
  2. token = [displacement from the window's first frame and its sin/cos embedding (130), correlations (196),
     point feature (128), 2 channels of track mask and starting visibility logits (`interleaved_status`)]
     = 456 channels, plus a 2-D
     sin/cos embedding of the point's position in the window's first frame and a 1-D one of the frame index;
  3. the update transformer (attention over time per point, then over points per frame) returns a position
     and a feature update per frame; the features are updated through ``norm`` and ``ffeat_updater``.
After the last update ``vis_predictor`` maps the features to visibility logits.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from trackers.point.cotracker3.blocks import Mlp
from trackers.point.cotracker3.net import sincos_time_embedding
from trackers.point.encoder import BasicEncoder
from trackers.point.pips.net import local_correlation, sample_features_clamped, sincos_embedding_3d

STRIDE = 4
WINDOW = 8
LATENT_DIM = 128
TOKEN_DIM = 456
HIDDEN_DIM = 384
NUM_HEADS = 8
DEPTH = 6  # time blocks, and as many space blocks (one after each time block)
#: visibility logit a point starts with in its first window (sigmoid close to 1)
START_VISIBILITY_LOGIT = 10.0


class Attention(nn.Module):
    """timm-style multi-head self-attention: one ``qkv`` projection, softmax(q k^T / sqrt(d)) v, ``proj``.

    (B, L, D) -> (B, L, D).
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query, key, value = self.qkv(x).unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(query, key, value)
        return self.proj(out.transpose(1, 2).flatten(2))


class AttentionBlock(nn.Module):
    """Pre-norm block (LayerNorm without affine, eps 1e-6): x + attn(norm(x)), then + mlp(norm(x)); (B, L, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), tanh_gelu=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class UpdateFormer(nn.Module):
    """Tokens (n, S, 456) (points x frames) -> updates (n, S, 130): position (2) then feature (128).

    Each of the ``DEPTH`` steps attends over the S frames of each point, then over the n points of each frame.
    """

    def __init__(self):
        super().__init__()
        self.input_transform = nn.Linear(TOKEN_DIM, HIDDEN_DIM)
        self.time_blocks = nn.ModuleList(AttentionBlock(HIDDEN_DIM, NUM_HEADS) for _ in range(DEPTH))
        self.space_blocks = nn.ModuleList(AttentionBlock(HIDDEN_DIM, NUM_HEADS) for _ in range(DEPTH))
        self.flow_head = nn.Linear(HIDDEN_DIM, LATENT_DIM + 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.input_transform(tokens)
        for time_block, space_block in zip(self.time_blocks, self.space_blocks):
            x = time_block(x)
            x = space_block(x.transpose(0, 1)).transpose(0, 1)
        return self.flow_head(x)


def position_embedding_map(height: int, width: int) -> torch.Tensor:
    """(456, height, width) float32: at grid pixel (x, y), [sin/cos embedding of x (228), of y (228)] with the
    frequencies of `sincos_time_embedding` (the official 2-D embedding, whose first half encodes x)."""
    half = TOKEN_DIM // 2
    along_x = sincos_time_embedding(half, width)[0]  # (W, 228)
    along_y = sincos_time_embedding(half, height)[0]  # (H, 228)
    grid = torch.cat([along_x[None].expand(height, -1, -1), along_y[:, None].expand(-1, width, -1)], dim=-1)
    return grid.permute(2, 0, 1).contiguous()


def interleaved_status(track_mask: torch.Tensor, vis_logits: torch.Tensor) -> torch.Tensor:
    """The 2 status channels of the tokens, (S, n) mask and logits -> (S, n, 2), laid out as the official model
    does: it concatenates the two (n, S) maps along the points (2n, S) and reads the result as (n, S, 2), so
    token (s, i) holds the entries 2 (i S + s) and 2 (i S + s) + 1 of that flattened (2n, S) array, i.e. of
    point 2 (i S + s) // S and frame 2 (i S + s) % S (mask rows first), not the point's own mask and logit."""
    frames, points = track_mask.shape
    stacked = torch.cat([track_mask.T, vis_logits.T])  # (2n, S)
    return stacked.reshape(points, frames, 2).transpose(0, 1)


class CoTrackerV1Net(nn.Module):
    """CoTracker v1 weights and the refinement of one window; see the module docstring."""

    def __init__(self):
        super().__init__()
        self.fnet = BasicEncoder(output_dim=LATENT_DIM, stride=STRIDE)
        self.updateformer = UpdateFormer()
        self.norm = nn.GroupNorm(1, LATENT_DIM)
        self.ffeat_updater = nn.Sequential(nn.Linear(LATENT_DIM, LATENT_DIM), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(LATENT_DIM, 1))

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(F, 3, H, W) RGB in [0, 255] -> (F, 128, H // 4, W // 4) features (not normalised)."""
        return self.fnet(2 * (video / 255.0) - 1.0)

    def refine(self, pyramid: list[torch.Tensor], coords: torch.Tensor, point_feats: torch.Tensor,
               vis_logits: torch.Tensor, track_mask: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine n tracks over one window of S frames.

        Args:
            pyramid: per level (S, 128, h, w) features of the window's frames (`feature_pyramid`).
            coords: (S, n, 2) initial tracks, feature-grid pixels.
            point_feats: (n, 128) each point's feature at its query.
            vis_logits: (S, n) visibility logits the window starts from (an input token only).
            track_mask: (S, n) 1 where the point is tracked in a frame not refined by an earlier window, else 0.
        Returns:
            coords (S, n, 2) feature-grid pixels after the last update and visibility logits (S, n).
        """
        frames, points = coords.shape[:2]
        height, width = pyramid[0].shape[-2:]
        position_map = position_embedding_map(height, width).to(coords.device)[None]
        position = sample_features_clamped(position_map, torch.zeros(points, dtype=torch.long, device=coords.device),
                                           coords[0])
        time = sincos_time_embedding(TOKEN_DIM, frames)[0].to(coords.device)  # (S, 456)
        status = interleaved_status(track_mask, vis_logits)  # (S, n, 2)
        feats = point_feats[None].expand(frames, points, LATENT_DIM)
        for _ in range(iters):
            correlation = local_correlation(pyramid, feats, coords)  # (S, n, 196)
            flow = sincos_embedding_3d(coords - coords[:1])  # (S, n, 130): embedding, then the displacement
            flow = torch.cat([flow[..., -2:], flow[..., :-2]], dim=-1)
            tokens = torch.cat([flow, correlation, feats, status], dim=-1) + position[None] + time[:, None]
            delta = self.updateformer(tokens.transpose(0, 1)).transpose(0, 1)  # (S, n, 130)
            feat_delta = self.ffeat_updater(self.norm(delta[..., 2:].reshape(-1, LATENT_DIM)))
            feats = feat_delta.reshape(frames, points, LATENT_DIM) + feats
            coords = coords + delta[..., :2]
        return coords, self.vis_predictor(feats)[..., 0]


def window_starts(num_frames: int) -> list[int]:
    """First frames of the windows: 0, 4, 8, ... while the start is before ``max(T, 8) - 4``."""
    return list(range(0, max(num_frames, WINDOW) - WINDOW // 2, WINDOW // 2))


def _window_start(query_xy: torch.Tensor, held_xy: torch.Tensor, held_logits: torch.Tensor, carried: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Starting tracks (8, n, 2) and visibility logits (8, n) of a window's n points: the query position (n, 2)
    and logit 10 on all frames, or for ``carried`` (n,) points the previous window's (4, n, 2) positions and
    (4, n) logits on the overlapping frames, the last of them held on the 4 new ones."""
    half = WINDOW // 2
    coords = query_xy[None].repeat(WINDOW, 1, 1)
    vis = torch.full((WINDOW, len(query_xy)), START_VISIBILITY_LOGIT, device=query_xy.device)
    coords[:, carried] = torch.cat([held_xy, held_xy[-1:].expand(half, -1, -1)])[:, carried]
    vis[:, carried] = torch.cat([held_logits, held_logits[-1:].expand(half, -1)])[:, carried]
    return coords, vis


def track_windows(net: CoTrackerV1Net, features: Callable[[torch.Tensor], list[torch.Tensor]], num_frames: int,
                  queries: torch.Tensor, iters: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward pass over the video in windows of 8 frames every 4 (the official ``CoTracker.forward``).

    A video shorter than 8 frames is treated as 8 frames, its last frame repeated (SAM-PT's
    ``CoTrackerForShortVideosWrapper``), as is the short last window of a longer one. A point joins the first
    window that holds its query frame t (``t < start + 8``): its feature is read at its query in frame t
    (`sample_features_clamped`), and it starts at its query position with visibility logit 10 on all 8 frames.
    In later windows it starts from the previous window's positions and logits on the 4 overlapping frames,
    the last of them held on the 4 new ones. The track mask is 1 on frames >= t that no earlier window of the
    point refined (and inside the padded video). Windows before the first query frame are skipped. Only the
    points a window holds attend to each other in it.

    Args:
        features: (8,) frame indices -> per level (8, 128, h, w) features of those frames
            (`trackers.point.windows.WindowFeatures` over `feature_pyramid` of `CoTrackerV1Net.encode`).
        num_frames: T.
        queries: (N, 3) (t, x, y) model pixels.
    Returns:
        tracks (T, N, 2) model pixels, visibility probabilities (T, N), and reached (T, N) bool: whether a
        window wrote the frame (False on frames before the first window holding the point; there tracks and
        visibilities are 0).
    """
    device, half = queries.device, WINDOW // 2
    length = max(num_frames, WINDOW)
    # the points in the official order, by query frame (stable): `interleaved_status` depends on it
    order = torch.sort(queries[:, 0].round().long(), stable=True).indices
    queries = queries[order]
    query_frames = queries[:, 0].round().long()
    start_xy = queries[:, 1:] / STRIDE
    tracks = queries.new_zeros(length, len(queries), 2)
    logits = queries.new_zeros(length, len(queries))
    reached = torch.zeros(length, len(queries), dtype=torch.bool, device=device)
    point_feats = queries.new_zeros(len(queries), LATENT_DIM)
    started = torch.zeros(len(queries), dtype=torch.bool, device=device)
    offsets = torch.arange(WINDOW, device=device)
    for start in window_starts(num_frames):
        inside = query_frames < start + WINDOW
        if not inside.any():
            continue
        pyramid = features((start + offsets).clamp(max=num_frames - 1).cpu())
        new = inside & ~started
        point_feats[new] = sample_features_clamped(pyramid[0], query_frames[new] - start, start_xy[new])
        index = torch.nonzero(inside).squeeze(1)
        carried = started[index]
        coords, vis = _window_start(start_xy[index], tracks[start:start + half, index] / STRIDE,
                                    logits[start:start + half, index], carried)
        frame = (start + offsets)[:, None]
        mask = (frame < length) & (frame >= query_frames[index]) & (~carried | (frame >= start + half))
        coords, vis = net.refine(pyramid, coords, point_feats[index], vis, mask.float(), iters)
        count = min(WINDOW, length - start)
        tracks[start:start + count, index] = coords[:count] * STRIDE
        logits[start:start + count, index] = vis[:count]
        reached[start:start + count, index] = True
        started |= inside
    inverse = torch.argsort(order)
    return tracks[:num_frames, inverse], torch.sigmoid(logits[:num_frames, inverse]), reached[:num_frames, inverse]
