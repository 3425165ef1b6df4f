"""`Segmenter.embed_many` of the SAM backends: one image-encoder call per ``embed_batch_size`` frames, each
embedding equal to `embed` of its frame (tiny random models of the real architectures, on CPU), and the
option's device defaults and checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trackers.segmenters.base import CUDA_EMBED_BATCH_SIZE, default_embed_batch_size
from trackers.segmenters.sam import SamSegmenter
from trackers.segmenters.sam_models import build_tiny_hqsam, build_tiny_sam, build_tiny_tinyvit_sam


def _frames(count: int = 3, height: int = 60, width: int = 84) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def _count_encoder_batches(module: torch.nn.Module) -> list[int]:
    """Record the batch size of every forward call of ``module`` (a forward pre-hook)."""
    sizes: list[int] = []
    module.register_forward_pre_hook(lambda _, inputs: sizes.append(int(inputs[0].shape[0])))
    return sizes


def _assert_features_close(got, want) -> None:
    if want is None:
        assert got is None
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            _assert_features_close(a, b)
    else:
        assert got.shape == want.shape and got.shape[0] == 1
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build", [build_tiny_sam, build_tiny_hqsam, build_tiny_tinyvit_sam],
                         ids=["sam", "hqsam-interm", "tinyvit"])
def test_sam_embed_many_equals_embed_on_each_frame(build):
    segmenter = SamSegmenter.from_model(build(seed=0), embed_batch_size=2)
    batches = _count_encoder_batches(segmenter.sam.image_encoder)
    frames = _frames()
    many = segmenter.embed_many(frames)
    assert batches == [2, 1]  # 3 frames in calls of at most 2
    ones = [segmenter.embed(frame) for frame in frames]
    assert batches[2:] == [1, 1, 1]
    assert len(many) == len(frames)
    for got, want in zip(many, ones):
        assert (got.original_size, got.input_size) == (want.original_size, want.input_size) == ((60, 84), (731, 1024))
        _assert_features_close(got.features["image"], want.features["image"])
        _assert_features_close(got.features["interm"], want.features["interm"])
    # the embeddings answer prompts as the one-by-one ones do
    points, labels = torch.tensor([[[20.0, 30.0], [50.0, 10.0]]]), torch.tensor([[1, 0]])
    got = segmenter.predict(many[2], points, labels)
    want = segmenter.predict(ones[2], points, labels)
    torch.testing.assert_close(got.low_res_logits, want.low_res_logits, rtol=1e-4, atol=1e-4)


def test_sam2_embed_many_equals_embed_on_each_frame():
    from trackers.segmenters.sam2 import SAM2_INSTALL_HINT, Sam2Segmenter, build_tiny_sam2, sam2_available

    if not sam2_available():
        pytest.skip(SAM2_INSTALL_HINT)
    segmenter = Sam2Segmenter.from_model(build_tiny_sam2(seed=0), embed_batch_size=2)
    batches = _count_encoder_batches(segmenter.model.image_encoder)
    frames = _frames()
    many = segmenter.embed_many(frames)
    assert batches == [2, 1]
    for frame, got in zip(frames, many):
        want = segmenter.embed(frame)
        _assert_features_close(got.features["image"], want.features["image"])
        _assert_features_close(got.features["high_res"], want.features["high_res"])
        assert got.original_size == want.original_size == (60, 84)


def test_embed_batch_size_defaults_to_one_on_cpu_and_batches_on_cuda():
    assert SamSegmenter.from_model(build_tiny_sam(seed=0)).embed_batch_size == 1
    assert default_embed_batch_size(torch.device("cpu"), None) == 1
    assert default_embed_batch_size(torch.device("cuda"), None) == CUDA_EMBED_BATCH_SIZE > 1
    assert default_embed_batch_size(torch.device("cpu"), 4) == 4
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="embed_batch_size must be an integer >= 1"):
            SamSegmenter.from_model(build_tiny_sam(seed=0), embed_batch_size=bad)


def test_embed_many_checks_its_frames():
    segmenter = SamSegmenter.from_model(build_tiny_sam(seed=0), embed_batch_size=4)
    small, large = _frames(1)[0], _frames(1, 64, 96)[0]
    with pytest.raises(ValueError, match="frames of one size"):
        segmenter.embed_many([small, large])
    with pytest.raises(ValueError, match="uint8 RGB"):
        segmenter.embed_many([small.astype(np.float32)])
    assert segmenter.embed_many([]) == []
