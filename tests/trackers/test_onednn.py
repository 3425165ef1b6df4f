"""`trackers.onednn`: linear layers through oneDNN on the CPU, the same function as ``F.linear`` (+ GELU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trackers import onednn
from trackers.segmenters.sam import SamSegmenter
from trackers.segmenters.sam_lean_decoder import LeanMaskDecoder
from trackers.segmenters.sam_models import build_tiny_sam, build_tiny_tinyvit_sam

needs_onednn = pytest.mark.skipif(onednn._LINEAR_POINTWISE is None, reason="this PyTorch has no oneDNN")


def _tensors(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 50, 64, generator=generator)
    weight = torch.randn(40, 64, generator=generator) * 0.2
    bias = torch.randn(40, generator=generator)
    return x, weight, bias


@needs_onednn
@pytest.mark.parametrize("gelu", [False, True])
@pytest.mark.parametrize("layout", ["contiguous", "sliced", "transposed"])
def test_linear_equals_f_linear_up_to_rounding(gelu, layout):
    x, weight, bias = _tensors()
    if layout == "sliced":  # a view into a wider tensor, as the decoder's projections are
        x = torch.cat([x, torch.randn(3, 50, 16)], dim=2)[..., :64]
    elif layout == "transposed":
        x = x.transpose(0, 1).contiguous().transpose(0, 1)
    want = F.linear(x, weight, bias)
    want = F.gelu(want) if gelu else want
    with torch.no_grad():
        got = onednn.linear(x, weight, bias, gelu=gelu)
        no_bias = onednn.linear(x, weight)
    assert onednn.runs_onednn(x, weight)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * float(want.abs().max()))
    torch.testing.assert_close(no_bias, F.linear(x, weight), rtol=0, atol=1e-5 * float(want.abs().max()))


def test_linear_leaves_autograd_autocast_other_dtypes_and_opt_out_to_f_linear():
    x, weight, bias = _tensors(1)
    trained = weight.clone().requires_grad_()
    assert not onednn.runs_onednn(x, trained)  # a gradient to record
    out = onednn.linear(x, trained, bias)
    out.sum().backward()
    assert trained.grad is not None and torch.equal(out, F.linear(x, trained, bias))
    assert not onednn.runs_onednn(x.double(), weight.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not onednn.runs_onednn(x, weight)
        assert onednn.linear(x, weight, bias).dtype == torch.bfloat16  # autocast's own choice, as F.linear
    with torch.no_grad():
        assert torch.equal(onednn.linear(x, weight, bias, gelu=True, onednn=False), F.gelu(F.linear(x, weight, bias)))


class _Mlp(nn.Module):
    """TinyViT's ``Mlp`` shape: norm -> fc1 -> act -> drop -> fc2."""

    def __init__(self, act: nn.Module):
        super().__init__()
        self.norm, self.fc1, self.act, self.fc2 = nn.LayerNorm(16), nn.Linear(16, 64), act, nn.Linear(64, 16)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(self.norm(x))))))


@needs_onednn
def test_use_onednn_linears_folds_exact_gelu_only_and_keeps_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(_Mlp(nn.GELU()), _Mlp(nn.GELU(approximate="tanh")), nn.Linear(16, 8))
    reference = nn.Sequential(_Mlp(nn.GELU()), _Mlp(nn.GELU(approximate="tanh")), nn.Linear(16, 8))
    reference.load_state_dict(model.state_dict())
    keys = list(model.state_dict())
    # 5 linear layers, one of them with its GELU folded in
    assert onednn.use_onednn_linears(model) == 5
    assert type(model[0].fc1) is onednn.OneDnnLinearGelu and isinstance(model[0].act, nn.Identity)
    assert type(model[1].fc1) is onednn.OneDnnLinear and type(model[1].act) is nn.GELU  # tanh GELU: not folded
    assert type(model[2]) is onednn.OneDnnLinear and list(model.state_dict()) == keys
    x = torch.randn(4, 30, 16)
    with torch.no_grad():
        want = reference(x)
        torch.testing.assert_close(model(x), want, rtol=0, atol=1e-5 * float(want.abs().max()))
        other = nn.Sequential(_Mlp(nn.GELU()), _Mlp(nn.GELU(approximate="tanh")), nn.Linear(16, 8))
        model.load_state_dict(other.state_dict())  # loaded weights are seen
        torch.testing.assert_close(model(x), other(x), rtol=0, atol=1e-5 * float(other(x).abs().max()))


@needs_onednn
def test_segmenter_with_onednn_linears_embeds_and_decodes_as_without():
    frame = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    plain = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=1), onednn_linear=False)
    fast = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=1))
    assert not any(isinstance(m, onednn.OneDnnLinear) for m in plain.sam.modules()) and not plain.lean.onednn
    assert any(isinstance(m, onednn.OneDnnLinearGelu) for m in fast.sam.image_encoder.modules()) and fast.lean.onednn
    want, got = plain.embed(frame), fast.embed(frame)
    scale = float(want.features["image"].abs().max())
    torch.testing.assert_close(got.features["image"], want.features["image"], rtol=0, atol=2e-5 * scale)
    coords = torch.tensor([[[40.0, 30.0], [100.0, 60.0]]] * 2)
    labels = torch.tensor([[1, 0], [1, 1]])
    masks = torch.randn(2, 1, 256, 256, generator=torch.Generator().manual_seed(2))
    want = plain.predict(want, coords, labels, None, masks)
    got = fast.predict(got, coords, labels, None, masks)
    torch.testing.assert_close(got.low_res_logits, want.low_res_logits, rtol=0,
                               atol=1e-4 * float(want.low_res_logits.abs().max()))


@needs_onednn
def test_lean_decoder_through_onednn_equals_it_through_f_linear():
    sam = build_tiny_sam(seed=3)
    generator = torch.Generator().manual_seed(4)
    embedding = torch.randn(1, sam.prompt_encoder.embed_dim, 64, 64, generator=generator)
    sparse = torch.randn(3, 5, sam.prompt_encoder.embed_dim, generator=generator)
    masks = torch.randn(3, 1, 256, 256, generator=generator)
    plain = LeanMaskDecoder(sam.prompt_encoder, sam.mask_decoder, onednn=False)
    fast = LeanMaskDecoder(sam.prompt_encoder, sam.mask_decoder)
    with torch.no_grad():
        for mask_input in (None, masks):
            want_logits, want_iou = plain(plain.frame(embedding), sparse, mask_input)
            got_logits, got_iou = fast(fast.frame(embedding), sparse, mask_input)
            scale = float(want_logits.abs().max())
            torch.testing.assert_close(got_logits, want_logits, rtol=0, atol=1e-5 * scale)
            torch.testing.assert_close(got_iou, want_iou, rtol=0, atol=1e-5)
