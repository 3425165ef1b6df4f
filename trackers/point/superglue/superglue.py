"""SuperGlue (Sarlin et al., CVPR 2020): matches two sets of SuperPoint keypoints.

Our implementation of the matcher of magicleap/SuperGluePretrainedNetwork (`models/superglue.py` @ ddcf11f,
vendored in SysCV/sam-pt @ 874ff7e), with its parameter names so that the official ``superglue_outdoor.pth``
loads strictly:
  - ``kenc.encoder``: keypoint encoder, 1x1 convolutions 3 -> 32 -> 64 -> 128 -> 256 -> 256 with batch norm
    and ReLU between them, over (normalised x, normalised y, score); added to the descriptors;
  - ``gnn.layers.<i>``: 18 attentional propagation layers, alternately self and cross: 4-head attention
    (``attn.proj.0/1/2`` query/key/value, ``attn.merge``; channel c belongs to head c mod 4) and an MLP
    ``mlp`` 512 -> 512 (batch norm, ReLU) -> 256 over [x, message], added residually; both images update
    from the same previous state;
  - ``final_proj``: 1x1 projection; scores = <d0, d1> / sqrt(256);
  - ``bin_score``: the dustbin score of the log-space Sinkhorn optimal transport (`optimal_transport`);
  - matches: mutual best pairs of the transport whose exp(score) exceeds ``match_threshold``.
Batch norm runs in inference mode (running statistics), as SAM-PT runs the matcher (``.eval()``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trackers.point.superglue.superpoint import Features

ENCODER_CHANNELS = (3, 32, 64, 128, 256, 256)
NUM_LAYERS = 18
NUM_HEADS = 4


@dataclass(frozen=True)
class SuperGlueSettings:
    """The matcher's settings (SAM-PT's ``superglue.yaml``: sinkhorn_iterations 20, match_threshold 0.2)."""

    sinkhorn_iterations: int = 20
    match_threshold: float = 0.2

    def __post_init__(self):
        if int(self.sinkhorn_iterations) != self.sinkhorn_iterations or self.sinkhorn_iterations < 0:
            raise ValueError(f"sinkhorn_iterations must be an integer >= 0, got {self.sinkhorn_iterations!r}")
        if not 0 <= self.match_threshold < 1:
            raise ValueError(f"match_threshold must be in [0, 1), got {self.match_threshold!r}")


def pointwise_mlp(channels: tuple[int, ...]) -> nn.Sequential:
    """1x1 convolutions through ``channels`` with batch norm and ReLU after all but the last (index layout
    conv, bn, relu, conv, ... as the official names expect); the last bias starts at 0."""
    layers: list[nn.Module] = []
    for index, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        layers.append(nn.Conv1d(cin, cout, kernel_size=1, bias=True))
        if index < len(channels) - 2:
            layers += [nn.BatchNorm1d(cout), nn.ReLU()]
    nn.init.constant_(layers[-1].bias, 0.0)
    return nn.Sequential(*layers)


class KeypointEncoder(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.encoder = pointwise_mlp(ENCODER_CHANNELS[:-1] + (dim,))

    def forward(self, positions: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """(B, K, 2) normalised positions, (B, K) scores -> (B, dim, K)."""
        return self.encoder(torch.cat([positions.transpose(1, 2), scores[:, None]], dim=1))


class MultiHeadAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.merge = nn.Conv1d(dim, dim, kernel_size=1)
        self.proj = nn.ModuleList([nn.Conv1d(dim, dim, kernel_size=1) for _ in range(3)])

    def forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """(B, D, N) queries from ``x``, keys/values from (B, D, M) ``source`` -> (B, D, N)."""
        batch, dim = x.shape[:2]
        query, key, value = (layer(t).view(batch, dim // self.heads, self.heads, -1)
                             for layer, t in zip(self.proj, (x, source, source)))
        logits = torch.einsum("bdhn,bdhm->bhnm", query, key) / (dim // self.heads) ** 0.5
        message = torch.einsum("bhnm,bdhm->bdhn", torch.softmax(logits, dim=-1), value)
        return self.merge(message.contiguous().view(batch, dim, -1))


class Propagation(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attn = MultiHeadAttention(dim, heads)
        self.mlp = pointwise_mlp((2 * dim, 2 * dim, dim))

    def forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([x, self.attn(x, source)], dim=1))


class Gnn(nn.Module):
    def __init__(self, dim: int, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList([Propagation(dim, NUM_HEADS) for _ in range(num_layers)])

    def forward(self, desc0: torch.Tensor, desc1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Even layers attend within each image, odd layers across the two."""
        for index, layer in enumerate(self.layers):
            source0, source1 = (desc0, desc1) if index % 2 == 0 else (desc1, desc0)
            desc0, desc1 = desc0 + layer(desc0, source0), desc1 + layer(desc1, source1)
        return desc0, desc1


def optimal_transport(scores: torch.Tensor, bin_score: torch.Tensor, iterations: int) -> torch.Tensor:
    """(B, M, N) scores -> (B, M+1, N+1) log assignment (times M+N) after ``iterations`` log-space Sinkhorn
    steps, with a dustbin row and column of score ``bin_score`` and marginals 1 per keypoint, N (M) for the
    row (column) dustbin, all divided by M+N."""
    batch, m, n = scores.shape
    one = scores.new_tensor(1)
    count_m, count_n = (m * one).to(scores), (n * one).to(scores)
    augmented = torch.cat([torch.cat([scores, bin_score.expand(batch, m, 1)], -1),
                           torch.cat([bin_score.expand(batch, 1, n), bin_score.expand(batch, 1, 1)], -1)], 1)
    norm = -(count_m + count_n).log()
    log_mu = torch.cat([norm.expand(m), count_n.log()[None] + norm])[None].expand(batch, -1)
    log_nu = torch.cat([norm.expand(n), count_m.log()[None] + norm])[None].expand(batch, -1)
    u, v = torch.zeros_like(log_mu), torch.zeros_like(log_nu)
    for _ in range(iterations):
        u = log_mu - torch.logsumexp(augmented + v.unsqueeze(1), dim=2)
        v = log_nu - torch.logsumexp(augmented + u.unsqueeze(2), dim=1)
    return augmented + u.unsqueeze(2) + v.unsqueeze(1) - norm


def normalized_positions(keypoints: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """(K, 2) pixel (x, y) -> centred and divided by 0.7 * the longer image side."""
    height, width = image_size
    one = keypoints.new_tensor(1)
    size = torch.stack([one * width, one * height])[None]
    return (keypoints - size / 2) / (size.max(1, keepdim=True).values * 0.7)


@dataclass
class Matches:
    """Matches of image 0's K0 keypoints: ``matches`` (K0,) int64 index into image 1's keypoints or -1,
    ``scores`` (K0,) float32 matching confidence (0 where not a mutual best pair)."""

    matches: torch.Tensor
    scores: torch.Tensor


class SuperGlue(nn.Module):
    """SuperGlue with the official parameter names; ``forward(features0, features1) -> Matches``."""

    def __init__(self, settings: SuperGlueSettings | None = None, dim: int = 256):
        super().__init__()
        self.settings = settings or SuperGlueSettings()
        self.dim = dim
        self.kenc = KeypointEncoder(dim)
        self.gnn = Gnn(dim, NUM_LAYERS)
        self.final_proj = nn.Conv1d(dim, dim, kernel_size=1, bias=True)
        self.register_parameter("bin_score", nn.Parameter(torch.tensor(1.0)))

    def forward(self, features0: Features, features1: Features) -> Matches:
        k0, k1 = len(features0.keypoints), len(features1.keypoints)
        if k0 == 0 or k1 == 0:
            return Matches(torch.full((k0,), -1, dtype=torch.int64), torch.zeros(k0))
        descs = []
        for features in (features0, features1):
            positions = normalized_positions(features.keypoints, features.image_size)
            descs.append(features.descriptors[None] + self.kenc(positions[None], features.scores[None]))
        desc0, desc1 = self.gnn(*descs)
        scores = torch.einsum("bdn,bdm->bnm", self.final_proj(desc0), self.final_proj(desc1)) / self.dim ** 0.5
        scores = optimal_transport(scores, self.bin_score, self.settings.sinkhorn_iterations)[0, :-1, :-1]
        return mutual_matches(scores, self.settings.match_threshold)


def mutual_matches(scores: torch.Tensor, threshold: float) -> Matches:
    """(K0, K1) log assignment -> `Matches`: i matches j when each is the other's best and exp(score) > threshold."""
    best0, best1 = scores.max(1), scores.max(0)
    mutual = best1.indices[best0.indices] == torch.arange(len(best0.indices))
    confidence = torch.where(mutual, best0.values.exp(), scores.new_tensor(0))
    valid = mutual & (confidence > threshold)
    return Matches(torch.where(valid, best0.indices, torch.full_like(best0.indices, -1)), confidence)
