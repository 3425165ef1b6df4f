"""Transformer pieces of CoTracker3: MLPs, attention blocks and the update transformer.

Parameter names equal the official CoTracker3 state dict (facebookresearch/co-tracker @82e02e8), including
its misspelled ``virual_tracks``. Token layout used here: ``(N, T, D)`` = tracks x frames x channels
for one video (no batch dimension).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))`` on the last dimension: (..., in_features) -> (..., out_features).

    ``tanh_gelu`` selects the tanh approximation of GELU (the transformer blocks use it; the correlation
    MLP uses the exact GELU).
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: int | None = None, tanh_gelu: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU(approximate="tanh" if tanh_gelu else "none")
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head attention of queries ``x`` (B, Lq, D) over ``context`` (B, Lk, D) (default: ``x``) -> (B, Lq, D).

    One projection for queries (``to_q``), one joint projection for keys and values (``to_kv``, keys first),
    softmax scaled by 1/sqrt(head dim), no masking.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"attention width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.to_out = nn.Linear(dim, dim)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, heads, L, D / heads)."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        keys, values = self.to_kv(context).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(
            self._split_heads(self.to_q(x)), self._split_heads(keys), self._split_heads(values)
        )
        return self.to_out(out.transpose(1, 2).flatten(2))


def _plain_layer_norm(dim: int) -> nn.LayerNorm:
    """LayerNorm without learnt scale and shift, eps 1e-6."""
    return nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)


class SelfAttentionBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)). (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = _plain_layer_norm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = _plain_layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), tanh_gelu=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CrossAttentionBlock(nn.Module):
    """x (B, Lq, D) attends to context (B, Lk, D); the context goes through an affine LayerNorm (eps 1e-5)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = _plain_layer_norm(dim)
        self.norm_context = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, num_heads)
        self.norm2 = _plain_layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), tanh_gelu=True)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.cross_attn(self.norm1(x), self.norm_context(context))
        return x + self.mlp(self.norm2(x))


class UpdateTransformer(nn.Module):
    """CoTracker3's update transformer: per-track tokens (N, T, input_dim) -> updates (N, T, 4).

    The output channels are (dx, dy) in feature-grid pixels, then the visibility and confidence logit
    increments. ``num_virtual_tracks`` learnt tokens join the tracks; each of the ``depth`` layers runs
    attention over time for every track (virtual ones included), then, per frame, the virtual tracks read
    the real tracks (cross-attention), attend among themselves, and the real tracks read the virtual ones.
    """

    def __init__(self, input_dim: int = 1110, hidden_size: int = 384, num_heads: int = 8, depth: int = 3,
                 num_virtual_tracks: int = 64, mlp_ratio: float = 4.0):
        super().__init__()
        self.num_virtual_tracks = num_virtual_tracks
        self.input_transform = nn.Linear(input_dim, hidden_size)
        self.flow_head = nn.Linear(hidden_size, 2)
        self.vis_conf_head = nn.Linear(hidden_size, 2)
        self.virual_tracks = nn.Parameter(torch.randn(1, num_virtual_tracks, 1, hidden_size))
        self.time_blocks = nn.ModuleList(SelfAttentionBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth))
        self.space_virtual_blocks = nn.ModuleList(
            SelfAttentionBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)
        )
        self.space_point2virtual_blocks = nn.ModuleList(
            CrossAttentionBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)
        )
        self.space_virtual2point_blocks = nn.ModuleList(
            CrossAttentionBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """Random initialisation for untrained builds: Xavier linears, zero biases, near-zero output heads."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.flow_head.weight, std=0.001)
        nn.init.trunc_normal_(self.vis_conf_head.weight, std=0.001)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, T, input_dim) -> (N, T, 4)."""
        num_tracks, num_frames, _ = tokens.shape
        tokens = self.input_transform(tokens)
        virtual = self.virual_tracks[0].expand(-1, num_frames, -1)
        tokens = torch.cat([tokens, virtual], dim=0)  # (N + K, T, D)
        layers = zip(self.time_blocks, self.space_virtual2point_blocks, self.space_virtual_blocks,
                     self.space_point2virtual_blocks)
        for time_block, virtual_reads_points, virtual_block, points_read_virtual in layers:
            tokens = time_block(tokens)
            per_frame = tokens.transpose(0, 1)  # (T, N + K, D)
            points, virtual = per_frame[:, :num_tracks], per_frame[:, num_tracks:]
            virtual = virtual_reads_points(virtual, points)
            virtual = virtual_block(virtual)
            points = points_read_virtual(points, virtual)
            tokens = torch.cat([points, virtual], dim=1).transpose(0, 1)
        tokens = tokens[:num_tracks]
        return torch.cat([self.flow_head(tokens), self.vis_conf_head(tokens)], dim=-1)
