"""TinyViT's convolution + batch-norm pairs computed as one convolution (a speed option of `SamSegmenter`).

The TinyViT image encoders (MobileSAM, Light HQ-SAM) build every convolution as ``Conv2d_BN``: a bias-free
``Conv2d`` followed by a ``BatchNorm2d``. In eval mode the batch norm is the affine map
``y * s + (beta - mean * s)`` with ``s = gamma / sqrt(var + eps)``, so the pair is one convolution with weight
``w * s`` and that bias: one pass over the activations instead of two. The folded weights are computed from
the modules' own parameters at every call (a few thousand numbers), so loading weights later is seen. A 1x1
convolution on a channels-last input runs as a matrix product over its (B, H, W, C) view (on one thread
PyTorch would take its slow im2col-free path for it). In training mode the modules run as they are.

With ``onednn`` (`fold_conv_bn`), the products run through oneDNN on a CPU (`trackers.onednn`), and a GELU
that directly follows a pair (MBConv's ``conv1 -> act1`` and ``conv2 -> act2``, PatchEmbed's
``Conv2d_BN, GELU`` in its ``nn.Sequential``) is applied as the pair writes its output instead of in a pass of
its own: on MobileSAM's first stage, tensors of 256 x 256 x 256 floats.

The same function; the float rounding differs (weights scaled before the sums instead of after).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trackers.onednn import conv2d_gelu, is_exact_gelu, linear
from trackers.segmenters.swap import swap_forward



def _is_conv_bn(module: nn.Module) -> bool:
    """TinyViT's ``Conv2d_BN`` (``segment_anything_hq``'s or ``mobile_sam``'s): children ``c`` and ``bn``."""
    return (type(module).__name__ == "Conv2d_BN" and isinstance(getattr(module, "c", None), nn.Conv2d)
            and type(getattr(module, "bn", None)) is nn.BatchNorm2d and module.c.bias is None)


def _pointwise(conv: nn.Conv2d) -> bool:
    return conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1


def folded_forward(self, x: torch.Tensor) -> torch.Tensor:
    """``Conv2d_BN.forward`` with the batch norm folded into the convolution (and the exact GELU after it where
    `fold_conv_bn` folded one in): (B, Cin, H, W) -> (B, Cout, H', W')."""
    gelu, onednn = getattr(self, "gelu_after", False), getattr(self, "onednn", False)
    if self.training:
        out = nn.Sequential.forward(self, x)
        return F.gelu(out) if gelu else out
    conv, norm = self.c, self.bn
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    bias = norm.bias - norm.running_mean * scale
    weight = conv.weight * scale[:, None, None, None]
    if _pointwise(conv) and x.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4:
        return linear(x.permute(0, 2, 3, 1), weight[:, :, 0, 0], bias, gelu=gelu, onednn=onednn).permute(0, 3, 1, 2)
    if gelu:
        return conv2d_gelu(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups, onednn=onednn)
    return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def _gelu_followed_pairs(module: nn.Module):
    """(owner, conv name, act name) of the ``Conv2d_BN`` -> exact GELU steps TinyViT runs back to back: MBConv's
    conv1/act1 and conv2/act2, and adjacent children of an ``nn.Sequential`` (PatchEmbed)."""
    for owner in module.modules():
        if type(owner).__name__ == "MBConv":
            names = [("conv1", "act1"), ("conv2", "act2")]
        elif type(owner) is nn.Sequential:
            keys = list(owner._modules)
            names = list(zip(keys, keys[1:]))
        else:
            continue
        for conv, act in names:
            if _is_conv_bn(getattr(owner, conv, None)) and is_exact_gelu(getattr(owner, act, None)):
                yield owner, conv, act


def fold_conv_bn(module: nn.Module, onednn: bool = False) -> int:
    """Make every ``Conv2d_BN`` in ``module`` run `folded_forward` (in place); returns how many.

    ``onednn``: the folded convolutions run through oneDNN on a CPU (`trackers.onednn`), and each exact GELU
    that directly follows one (`_gelu_followed_pairs`) is applied by it and replaced by ``nn.Identity``.
    """
    if onednn:
        for owner, conv, act in list(_gelu_followed_pairs(module)):
            getattr(owner, conv).gelu_after = True
            setattr(owner, act, nn.Identity())
    for child in module.modules():
        if _is_conv_bn(child):
            child.onednn = onednn
    return swap_forward(module, _is_conv_bn, folded_forward, "Folded")
