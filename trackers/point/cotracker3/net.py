"""The CoTracker3 network (facebookresearch/co-tracker @82e02e8) and its offline and online video passes.

Parameter and buffer names equal the official state dict (188 entries). The offline and online models
differ only in the length of the ``time_emb`` buffer: (1, 60, 1110) offline, (1, 16, 1110) online.

Conventions (one video, no batch dimension):
  - ``video`` (T, 3, H, W) float RGB in [0, 255] at the model resolution (H, W multiples of 4).
  - ``queries`` (N, 3) float (t, x, y) in pixels of that resolution, t an integer frame index.
  - feature maps are at 1/4 resolution; track coordinates inside the passes are in feature-grid pixels
    (image pixels / 4), with pixel centres at integer coordinates (``align_corners=True`` convention).
  - each track carries a visibility and a confidence logit; the passes return their sigmoids.

How a window of frames is refined (``CoTracker3Net.refine``), ``iters`` times:
  1. 4-D correlation, per pyramid level: the 7x7 neighbourhood of each track's current position in each
     frame is correlated with the 7x7 neighbourhood of the query point in its query frame (L2-normalised
     features), a 49x49 = 2401-vector, mapped to 256 channels by ``corr_mlp``; 4 levels -> 1024.
  2. token = [visibility logit, confidence logit, 1024 correlation channels, ``posenc`` of the displacement
     to the next and from the previous frame (84)] + the sinusoidal time embedding = 1110 channels.
  3. the update transformer returns increments of position, visibility and confidence.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from trackers.point.encoder import BasicEncoder
from trackers.point.cotracker3.blocks import Mlp, UpdateTransformer

STRIDE = 4
LATENT_DIM = 128
CORR_LEVELS = 4
CORR_RADIUS = 3
TOKEN_DIM = 1110
OFFLINE_WINDOW = 60
ONLINE_WINDOW = 16
ENCODER_CHUNK = 16  # frames per encoder call; each frame's features are independent of the others


def posenc(x: torch.Tensor, num_octaves: int = 10) -> torch.Tensor:
    """(..., D) -> (..., D + 2 * D * num_octaves): x, then sin(2^k x) and cos(2^k x) for k < num_octaves.

    The sines (and then the cosines) are ordered octave-major: [2^0 x_0 .. 2^0 x_{D-1}, 2^1 x_0, ...].
    """
    scales = 2.0 ** torch.arange(num_octaves, dtype=x.dtype, device=x.device)
    scaled = (x[..., None, :] * scales[:, None]).flatten(-2)
    return torch.cat([x, torch.sin(scaled), torch.sin(scaled + 0.5 * math.pi)], dim=-1)


def sincos_time_embedding(dim: int, length: int) -> torch.Tensor:
    """(1, length, dim) float32: [sin(t w_i), cos(t w_i)] with w_i = 10000^(-i / (dim/2)), t = 0 .. length-1."""
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = torch.arange(length, dtype=torch.float64)[:, None] * frequencies[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)[None].float()


def neighbourhood_offsets(radius: int, device: torch.device) -> torch.Tensor:
    """((2r+1)^2, 2) offsets (dx, dy); entry a*(2r+1)+b is (a - r, b - r): x varies slowest, as in the official model."""
    steps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    dx, dy = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dx, dy], dim=-1).reshape(-1, 2)


def to_grid_sample_units(points: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Pixel coordinates (..., k) ordered like ``sizes`` reversed ((x, y) or (x, y, t)) -> [-1, 1] (align_corners=True)."""
    factors = torch.tensor([2.0 / max(size - 1, 1) for size in reversed(sizes)], device=points.device)
    return points * factors - 1


class CoTracker3Net(nn.Module):
    """CoTracker3 weights and per-window computation; see the module docstring for conventions.

    Args:
        window_len: length of the ``time_emb`` buffer (60 offline, 16 online).
        model_resolution: (H, W) the network runs at; it scales the motion encoding (official: (384, 512)).
    """

    def __init__(self, window_len: int, model_resolution: tuple[int, int] = (384, 512)):
        super().__init__()
        height, width = model_resolution
        if height % STRIDE or width % STRIDE:
            raise ValueError(f"model_resolution {model_resolution} must be multiples of {STRIDE}")
        self.model_resolution = (int(height), int(width))
        self.fnet = BasicEncoder(output_dim=LATENT_DIM, stride=STRIDE)
        self.updateformer = UpdateTransformer(input_dim=TOKEN_DIM, hidden_size=384, num_heads=8, depth=3,
                                              num_virtual_tracks=64)
        side = 2 * CORR_RADIUS + 1
        self.corr_mlp = Mlp(side ** 4, 384, 256)
        self.register_buffer("time_emb", sincos_time_embedding(TOKEN_DIM, window_len))

    @property
    def window_len(self) -> int:
        return self.time_emb.shape[1]

    # ---- features --------------------------------------------------------------------------------
    def encode(self, video: torch.Tensor) -> list[torch.Tensor]:
        """(T, 3, H, W) RGB in [0, 255] -> feature pyramid: CORR_LEVELS tensors (T, 128, H/4/2^l, W/4/2^l).

        Level 0 is the encoder output L2-normalised over channels; each next level is a 2x2 average pool.
        """
        normalised = 2 * (video / 255.0) - 1.0
        fmaps = torch.cat([self.fnet(chunk) for chunk in normalised.split(ENCODER_CHUNK)])
        norm = torch.sqrt(torch.clamp(fmaps.square().sum(dim=1, keepdim=True), min=1e-12))
        pyramid = [fmaps / norm]
        for _ in range(CORR_LEVELS - 1):
            pyramid.append(F.avg_pool2d(pyramid[-1], 2, stride=2))
        return pyramid

    def query_neighbourhoods(self, pyramid: list[torch.Tensor], queries: torch.Tensor) -> list[torch.Tensor]:
        """Features around each query point in its query frame: per level (N, 49, 128).

        ``queries`` (N, 3) (t, x, y) in model pixels. Sampled with a 5-D trilinear ``grid_sample`` (border
        padding; t is an integer so only the query frame contributes).
        """
        offsets = neighbourhood_offsets(CORR_RADIUS, queries.device)
        frames = queries[:, :1].round()
        neighbourhoods = []
        for level, fmaps in enumerate(pyramid):
            centres = queries[:, 1:3] / (STRIDE * 2 ** level)
            xy = centres[:, None, :] + offsets[None]  # (N, 49, 2)
            xyt = torch.cat([xy, frames[:, None, :].expand(-1, xy.shape[1], -1)], dim=-1)
            volume = fmaps.permute(1, 0, 2, 3)[None]  # (1, C, T, h, w)
            grid = to_grid_sample_units(xyt, tuple(volume.shape[2:]))[None, :, :, None]  # (1, N, 49, 1, 3)
            sampled = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
            neighbourhoods.append(sampled[0, :, :, :, 0].permute(1, 2, 0))  # (N, 49, C)
        return neighbourhoods

    def correlation_embedding(self, pyramid: list[torch.Tensor], coords: torch.Tensor,
                              neighbourhoods: list[torch.Tensor]) -> torch.Tensor:
        """4-D correlation features (S, N, 1024) of tracks ``coords`` (S, N, 2) (feature-grid pixels, level 0).

        ``pyramid``: per level (S, 128, h, w) for the S frames of the window; ``neighbourhoods``: per level
        (N, 49, 128) query features (zero for queries not yet reached).
        """
        offsets = neighbourhood_offsets(CORR_RADIUS, coords.device)
        embeddings = []
        for level, (fmaps, query_feats) in enumerate(zip(pyramid, neighbourhoods)):
            xy = coords[:, :, None, :] / 2 ** level + offsets  # (S, N, 49, 2)
            grid = to_grid_sample_units(xy, tuple(fmaps.shape[2:]))
            local = F.grid_sample(fmaps, grid, mode="bilinear", padding_mode="border", align_corners=True)
            correlation = torch.einsum("scnk,ncl->snkl", local, query_feats.transpose(1, 2))  # (S, N, 49, 49)
            embeddings.append(self.corr_mlp(correlation.flatten(2)))
        return torch.cat(embeddings, dim=-1)

    def time_embedding(self, length: int) -> torch.Tensor:
        """(1, length, 1110): ``time_emb`` as stored if ``length`` equals its length, else linearly resampled."""
        if length == self.time_emb.shape[1]:
            return self.time_emb
        resampled = F.interpolate(self.time_emb.float().permute(0, 2, 1), size=length, mode="linear")
        return resampled.permute(0, 2, 1).to(self.time_emb.dtype)

    # ---- refinement ------------------------------------------------------------------------------
    def refine(self, pyramid: list[torch.Tensor], neighbourhoods: list[torch.Tensor], coords: torch.Tensor,
               vis: torch.Tensor, conf: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run ``iters`` updates on one window of S frames.

        Args:
            pyramid: per level (S, 128, h, w).
            neighbourhoods: per level (N, 49, 128).
            coords: (S, N, 2) initial tracks in feature-grid pixels.
            vis, conf: (S, N) initial visibility and confidence logits.
        Returns:
            coords (S, N, 2) feature-grid pixels, vis (S, N) and conf (S, N) logits after the last update.
        """
        num_frames = coords.shape[0]
        height, width = self.model_resolution
        motion_scale = torch.tensor([width / STRIDE, height / STRIDE], device=coords.device)
        time_embedding = self.time_embedding(num_frames)[0]  # (S, 1110)
        for _ in range(iters):
            correlation = self.correlation_embedding(pyramid, coords, neighbourhoods)
            to_next = F.pad(coords[:-1] - coords[1:], (0, 0, 0, 0, 0, 1))
            from_previous = F.pad(coords[1:] - coords[:-1], (0, 0, 0, 0, 1, 0))
            motion = posenc(torch.cat([to_next, from_previous], dim=-1) / motion_scale.repeat(2))
            tokens = torch.cat([vis[..., None], conf[..., None], correlation, motion], dim=-1)  # (S, N, 1110)
            delta = self.updateformer(tokens.transpose(0, 1) + time_embedding).transpose(0, 1)  # (S, N, 4)
            coords = coords + delta[..., :2]
            vis = vis + delta[..., 2]
            conf = conf + delta[..., 3]
        return coords, vis, conf


def track_offline(net: CoTracker3Net, pyramid: list[torch.Tensor], queries: torch.Tensor,
                  iters: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The offline pass: one window over the whole video, every track starting at its query position.

    Args:
        pyramid: ``net.encode(video)`` of the T frames.
        queries: (N, 3) (t, x, y) model pixels.
    Returns:
        tracks (T, N, 2) model pixels, visibility (T, N) and confidence (T, N) probabilities.
    """
    num_frames = pyramid[0].shape[0]
    neighbourhoods = net.query_neighbourhoods(pyramid, queries)
    coords = (queries[:, 1:3] / STRIDE)[None].expand(num_frames, -1, -1)
    zeros = coords.new_zeros(coords.shape[:2])
    coords, vis, conf = net.refine(pyramid, neighbourhoods, coords, zeros, zeros, iters)
    return coords * STRIDE, torch.sigmoid(vis), torch.sigmoid(conf)


def online_window_starts(num_frames: int, window_len: int) -> list[int]:
    """First frames of the online windows: 0, step, 2 step, ... while a window still brings new frames."""
    step = window_len // 2
    starts = [0]
    while starts[-1] + window_len < num_frames:
        starts.append(starts[-1] + step)
    return starts


def track_online(net: CoTracker3Net, features: Callable[[torch.Tensor], list[torch.Tensor]], num_frames: int,
                 queries: torch.Tensor, iters: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The online pass, equal to feeding the official online model window by window
    (`tests/trackers/point/test_official_trackers.py`).

    Windows of S = ``net.window_len`` frames start every S/2 frames (a short last window is padded by
    repeating its last frame). In the window starting at ``start``:
      - a query's features are read when its frame first enters a window (frames ``[start + S/2, start + S)``,
        all S frames for the first window), from that window's S frames at the frame's index in the window, as
        the official model does; before that the query has zero features;
      - a query with t < start + S/2 starts from the previous window's positions and logits on the
        overlapping S/2 frames, held constant on the new S/2 frames; any other query starts at its query
        position with zero logits on all S frames;
      - the window's predictions overwrite the frames it covers.
    Only the current window's features are asked for, so memory does not grow with ``num_frames``.

    Args:
        features: (S,) frame indices -> ``net.encode`` pyramid of those frames, per level (S, 128, h, w)
            (`trackers.point.windows.WindowFeatures`).
        num_frames: T.
        queries: (N, 3) (t, x, y) model pixels.
    Returns:
        as `track_offline`.
    """
    window, step = net.window_len, net.window_len // 2
    query_frames = queries[:, 0].round()
    neighbourhoods = None  # per level (N, 49, 128), filled in as the queries' frames are reached
    start_coords = (queries[:, 1:3] / STRIDE)[None].expand(window, -1, -1)
    tracks = queries.new_zeros(num_frames, len(queries), 2)
    vis_logits = queries.new_zeros(num_frames, len(queries))
    conf_logits = queries.new_zeros(num_frames, len(queries))
    for start in online_window_starts(num_frames, window):
        stop = min(start + window, num_frames)
        frames = torch.arange(start, start + window).clamp(max=stop - 1)  # the short last window repeats its last
        window_pyramid = features(frames)
        new = ((query_frames >= (start + step if start else 0)) & (query_frames < start + window))[:, None, None]
        relative = torch.cat([queries[:, :1] - start, queries[:, 1:]], dim=1)
        sampled = net.query_neighbourhoods(window_pyramid, relative)
        if neighbourhoods is None:
            neighbourhoods = [level * new for level in sampled]
        else:
            neighbourhoods = [known + level * new for known, level in zip(neighbourhoods, sampled)]
        coords = start_coords
        vis = conf = queries.new_zeros(window, len(queries))
        if start > 0:
            carried = query_frames < start + step  # (N,)
            held = [tracks[start:start + step] / STRIDE, vis_logits[start:start + step], conf_logits[start:start + step]]
            held = [torch.cat([h, h[-1:].expand(window - step, *h.shape[1:])]) for h in held]
            coords = torch.where(carried[None, :, None], held[0], coords)
            vis = torch.where(carried[None], held[1], vis)
            conf = torch.where(carried[None], held[2], conf)
        coords, vis, conf = net.refine(window_pyramid, neighbourhoods, coords, vis, conf, iters)
        count = stop - start
        tracks[start:stop] = coords[:count] * STRIDE
        vis_logits[start:stop] = vis[:count]
        conf_logits[start:stop] = conf[:count]
    return tracks, torch.sigmoid(vis_logits), torch.sigmoid(conf_logits)
