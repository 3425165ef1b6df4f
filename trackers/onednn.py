"""Linear layers, and convolutions followed by a GELU, through oneDNN on the CPU (a speed option of the
segmenters; the same function).

PyTorch runs ``F.linear`` on a CPU through its BLAS (MKL in the PyPI wheels). On the AMD EPYC CPUs of this
project's machines MKL's float32 products reach 75-90 GFLOP/s on one thread, oneDNN's (``mkldnn``, which
PyTorch ships for its convolutions and for ``torch.compile``'s CPU kernels) 95-107 GFLOP/s on the same shapes
(docs/benchmarks.md). `linear` sends a float32 CPU product without autograd to oneDNN's linear primitive
(``torch.ops.mkldnn._linear_pointwise``), optionally with the exact (erf) GELU applied as it writes its output
(one pass over the activations fewer). Results are float32 products summed in another order: equal up to
float32 rounding. Anything else (another device or dtype, autograd, a PyTorch built without oneDNN) runs
``F.linear`` (+ ``F.gelu``), which computes the same function.

`use_onednn_linears` makes a module's ``nn.Linear`` layers run through `linear` (in place, parameters and
state-dict keys unchanged), and folds the GELU of each MLP written as ``fc1 -> act -> fc2`` into ``fc1``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _pointwise_op():
    """oneDNN's linear + pointwise primitive, or None in a PyTorch built without oneDNN."""
    if not torch.backends.mkldnn.is_available():
        return None
    return getattr(torch.ops.mkldnn, "_linear_pointwise", None)


_LINEAR_POINTWISE = _pointwise_op()
_CONV_POINTWISE = getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if _LINEAR_POINTWISE else None


def runs_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether `linear` sends this product to oneDNN: float32 on the CPU, no gradient to record, no autocast."""
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    return (_LINEAR_POINTWISE is not None and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and not needs_grad and not torch.is_autocast_enabled("cpu"))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           gelu: bool = False, onednn: bool = True) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, then the exact GELU when ``gelu``: x (..., K), weight (M, K) -> (..., M).
    Through oneDNN where `runs_onednn` and ``onednn``; ``onednn=False``: always ``F.linear``."""
    if onednn and runs_onednn(x, weight):
        return _LINEAR_POINTWISE(x, weight, bias, "gelu" if gelu else "none", [], "none" if gelu else "")
    out = F.linear(x, weight, bias)
    return F.gelu(out) if gelu else out


def conv2d_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple, padding: tuple,
                dilation: tuple, groups: int, onednn: bool = True) -> torch.Tensor:
    """``F.gelu(F.conv2d(x, weight, bias, stride, padding, dilation, groups))`` (exact GELU), through oneDNN's
    convolution with the GELU applied as it writes its output where `runs_onednn` and ``onednn``:
    x (B, Cin, H, W), weight (Cout, Cin / groups, kh, kw) -> (B, Cout, H', W')."""
    if onednn and _CONV_POINTWISE is not None and runs_onednn(x, weight):
        return _CONV_POINTWISE(x, weight, bias, list(padding), list(stride), list(dilation), groups, "gelu", [],
                               "none")
    return F.gelu(F.conv2d(x, weight, bias, stride, padding, dilation, groups))


class OneDnnLinear(nn.Linear):
    """``nn.Linear`` computed by `linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class OneDnnLinearGelu(nn.Linear):
    """``nn.Linear`` followed by the exact GELU, computed by `linear` (an MLP's ``fc1`` whose ``act`` was folded in)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias, gelu=True)


def is_exact_gelu(module: nn.Module | None) -> bool:
    """Whether ``module`` is an ``nn.GELU`` with the exact (erf) form, the one `linear` can apply."""
    return type(module) is nn.GELU and module.approximate == "none"


def _folds_gelu(module: nn.Module) -> bool:
    """An MLP written as ``fc1`` (``nn.Linear``) -> ``act`` (exact ``nn.GELU``) -> ``fc2`` (TinyViT's ``Mlp``)."""
    return (type(getattr(module, "fc1", None)) is nn.Linear and type(getattr(module, "fc2", None)) is nn.Linear
            and is_exact_gelu(getattr(module, "act", None)))


def use_onednn_linears(module: nn.Module) -> int:
    """Make every plain ``nn.Linear`` in ``module`` run through `linear` (in place); returns how many layers.

    An MLP with ``fc1``, ``act`` (exact GELU) and ``fc2`` gets ``fc1`` as `OneDnnLinearGelu` and ``act`` as
    ``nn.Identity``: the module must apply ``act`` right after ``fc1`` (as TinyViT's ``Mlp`` does, with a
    dropout of 0 between them in eval mode).
    """
    count = 0
    for child in list(module.modules()):
        if _folds_gelu(child):
            child.fc1.__class__ = OneDnnLinearGelu
            child.act = nn.Identity()
            count += 1
    for child in module.modules():
        if type(child) is nn.Linear:
            child.__class__ = OneDnnLinear
            count += 1
    return count
