"""TinyViT's window attention a block of windows and one head at a time (a speed option of `SamSegmenter`).

TinyViT's ``Attention`` (MobileSAM's and Light HQ-SAM's image encoder) runs every window and head of a stage in
one batched product: at the 1024 working size its third stage scores 25 windows x 5 heads x 196 x 196 pairs
(19 MB), and the scale, the attention bias and the softmax then pass over that tensor out of cache, one
after the other. `blocked_forward` computes the same function for a block of windows and one head at a time,
with blocks of at most `SCORE_BLOCK_BYTES` of scores, so each block's scores stay in the core's cache through
those steps. Each head's queries, keys and values are read as strided views of the ``qkv`` product (no copies),
and every step is the official one on the same numbers: the product, ``* scale``, ``+ bias``, the softmax, the
product with the values.

Eval mode only (the bias table ``ab`` is the one ``Attention.train(False)`` registers); in training mode, or
when a gradient is being recorded, the module runs its own ``forward``.
"""
from __future__ import annotations

import torch
from torch import nn

from trackers.segmenters.swap import swap_forward

#: the most bytes of attention scores computed at once (one head, a block of windows): measured fastest on
#: MobileSAM's stages against 256 KiB and 2 MiB (docs/benchmarks.md, fifth pass)
SCORE_BLOCK_BYTES = 768 * 1024


def _is_tinyvit_attention(module: nn.Module) -> bool:
    """TinyViT's ``Attention`` (``segment_anything_hq``'s or ``mobile_sam``'s): a ``qkv`` and ``proj`` linear pair
    with ``key_dim``, ``d``, ``num_heads``, ``scale`` and an ``attention_biases`` table (swapped or not)."""
    named = type(module).__name__ in ("Attention", "BlockedAttention")
    return named and all(
        hasattr(module, name) for name in ("qkv", "proj", "norm", "key_dim", "d", "num_heads", "scale",
                                           "attention_biases"))


def blocked_forward(self, x: torch.Tensor) -> torch.Tensor:
    """TinyViT ``Attention.forward`` a block of windows and one head at a time: (W, N, C) windows of N tokens ->
    (W, N, C)."""
    if self.training or (torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())):
        return super(type(self), self).forward(x)
    windows, tokens, _ = x.shape
    heads, key_dim, value_dim = self.num_heads, self.key_dim, self.d
    per_head = 2 * key_dim + value_dim  # qkv's columns per head: [q | k | v]
    qkv = self.qkv(self.norm(x))  # (W, N, heads * per_head)
    out = qkv.new_empty(windows, tokens, heads * value_dim)
    block = max(1, SCORE_BLOCK_BYTES // (tokens * tokens * qkv.element_size()))
    for start in range(0, windows, block):
        rows = slice(start, start + block)
        for head in range(heads):
            first = head * per_head
            q = qkv[rows, :, first:first + key_dim]
            k = qkv[rows, :, first + key_dim:first + 2 * key_dim]
            v = qkv[rows, :, first + 2 * key_dim:first + per_head]
            scores = torch.bmm(q, k.transpose(1, 2)).mul_(self.scale).add_(self.ab[head])  # (w, N, N)
            out[rows, :, head * value_dim:(head + 1) * value_dim] = torch.bmm(scores.softmax(dim=-1), v)
    return self.proj(out)


def use_blocked_window_attention(module: nn.Module) -> int:
    """Make every TinyViT ``Attention`` in ``module`` run `blocked_forward` (in place); returns how many."""
    return swap_forward(module, _is_tinyvit_attention, blocked_forward, "Blocked")
