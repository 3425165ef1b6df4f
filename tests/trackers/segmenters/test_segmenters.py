"""Segmenter backends: SAM-family wrapper equal to the official predictors, checkpoint loading, GrabCut."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything import SamPredictor

from trackers.segmenters.base import Prediction
from trackers.segmenters.sam import SamSegmenter, build_tiny_hqsam, build_tiny_sam


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    """A (120, 200, 3) non-square frame: prompts must be rescaled differently in x and y."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    image[30:90, 60:150] = (200, 40, 40)
    return image


@pytest.fixture(scope="module")
def tiny_sam():
    return build_tiny_sam(seed=0)


@pytest.fixture(scope="module")
def tiny_hqsam():
    return build_tiny_hqsam(seed=0)


def batched_prompts():
    """Three objects: (3, 3, 2) points with -1 padding, (3,) boxes, (3, 1, 256, 256) mask inputs."""
    points = torch.tensor(
        [[[70.0, 40.0], [140.0, 80.0], [10.0, 10.0]], [[100.0, 60.0], [5.0, 110.0], [0.0, 0.0]], [[190.0, 5.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    labels = torch.tensor([[1, 1, 0], [1, 0, -1], [1, -1, -1]])
    boxes = torch.tensor([[60.0, 30.0, 150.0, 90.0], [20.0, 10.0, 180.0, 115.0], [150.0, 0.0, 199.0, 30.0]])
    mask_input = torch.randn(3, 1, 256, 256, generator=torch.Generator().manual_seed(1)) * 3
    return points, labels, boxes, mask_input


def official_predict(predictor, points, labels, boxes, mask_input, **kwargs):
    """SamPredictor.predict_torch on prompts transformed with its own ResizeLongestSide."""
    size = predictor.original_size
    coords = None if points is None else predictor.transform.apply_coords_torch(points, size)
    box = None if boxes is None else predictor.transform.apply_boxes_torch(boxes, size)
    masks, iou, low_res = predictor.predict_torch(
        coords, labels, box, mask_input, multimask_output=False, return_logits=True, **kwargs
    )
    return masks[:, 0], iou[:, 0], low_res


def test_tiny_sam_is_deterministic_for_a_seed():
    first, second, other = build_tiny_sam(seed=3), build_tiny_sam(seed=3), build_tiny_sam(seed=4)
    for (name, a), b, c in zip(first.state_dict().items(), second.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(first.parameters(), other.parameters()))


def test_embedding_equals_sam_predictor(tiny_sam, frame):
    segmenter = SamSegmenter.from_model(tiny_sam)
    embedding = segmenter.embed(frame)
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(frame)
    assert embedding.original_size == (120, 200)
    assert embedding.input_size == tuple(predictor.input_size) == (614, 1024)
    assert embedding.features["image"].shape == (1, 32, 64, 64)
    assert torch.equal(embedding.features["image"], predictor.features)


@pytest.mark.parametrize("prompt", ["points", "points+box", "box", "points+mask", "all"])
def test_single_prompt_equals_sam_predictor(tiny_sam, frame, prompt):
    segmenter = SamSegmenter.from_model(tiny_sam)
    embedding = segmenter.embed(frame)
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(frame)
    points, labels, boxes, mask_input = (value[:1] for value in batched_prompts())
    if "points" not in prompt and prompt != "all":
        points = labels = None
    if "box" not in prompt and prompt != "all":
        boxes = None
    if "mask" not in prompt and prompt != "all":
        mask_input = None
    ours = segmenter.predict(embedding, points, labels, boxes, mask_input)
    masks, iou, low_res = official_predict(predictor, points, labels, boxes, mask_input)
    assert isinstance(ours, Prediction)
    assert ours.low_res_logits.shape == (1, 1, 256, 256) and ours.iou.shape == (1,)
    assert ours.low_res_logits.dtype == torch.float32 and ours.iou.dtype == torch.float32
    torch.testing.assert_close(ours.low_res_logits, low_res, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.iou, iou, rtol=0, atol=1e-6)
    upscaled = segmenter.upscale(embedding, ours.low_res_logits)
    assert upscaled.shape == (1, 120, 200)
    torch.testing.assert_close(upscaled, masks, rtol=0, atol=1e-6)
    assert ours.low_res_logits.std() > 1e-3  # not a constant map


def test_numpy_predict_path_agrees(tiny_sam, frame):
    """SamPredictor.predict (numpy prompts, float64 coordinate transform) gives the same mask."""
    segmenter = SamSegmenter.from_model(tiny_sam)
    embedding = segmenter.embed(frame)
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(frame)
    points, labels, boxes, _ = batched_prompts()
    masks, iou, low_res = predictor.predict(
        points[0].numpy(), labels[0].numpy(), boxes[0].numpy(), multimask_output=False, return_logits=True
    )
    ours = segmenter.predict(embedding, points[:1], labels[:1], boxes[:1])
    np.testing.assert_allclose(ours.low_res_logits[0].numpy(), low_res, atol=1e-4)
    np.testing.assert_allclose(ours.iou.numpy(), iou, atol=1e-5)


def test_batched_prompts_equal_one_decoder_call_and_per_prompt_calls(tiny_sam, frame):
    segmenter = SamSegmenter.from_model(tiny_sam)
    embedding = segmenter.embed(frame)
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(frame)
    points, labels, boxes, mask_input = batched_prompts()
    ours = segmenter.predict(embedding, points, labels, boxes, mask_input)
    assert ours.low_res_logits.shape == (3, 1, 256, 256) and ours.iou.shape == (3,)
    _, iou, low_res = official_predict(predictor, points, labels, boxes, mask_input)
    torch.testing.assert_close(ours.low_res_logits, low_res, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.iou, iou, rtol=0, atol=1e-6)
    for m in range(3):
        single = segmenter.predict(embedding, points[m : m + 1], labels[m : m + 1], boxes[m : m + 1], mask_input[m : m + 1])
        torch.testing.assert_close(single.low_res_logits, ours.low_res_logits[m : m + 1], rtol=0, atol=1e-5)
        torch.testing.assert_close(single.iou, ours.iou[m : m + 1], rtol=0, atol=1e-5)
    # the objects really are different prompts
    assert not torch.allclose(ours.low_res_logits[0], ours.low_res_logits[1])


@pytest.mark.parametrize("hq_token_only", [False, True])
def test_hqsam_equals_hq_predictor(tiny_hqsam, frame, hq_token_only):
    from segment_anything_hq import SamPredictor as HQSamPredictor

    segmenter = SamSegmenter.from_model(tiny_hqsam, hq_token_only=hq_token_only)
    assert segmenter.is_hq
    embedding = segmenter.embed(frame)
    assert embedding.features["interm"] is not None
    predictor = HQSamPredictor(tiny_hqsam)
    predictor.set_image(frame)
    points, labels, boxes, mask_input = batched_prompts()
    ours = segmenter.predict(embedding, points, labels, boxes, mask_input)
    assert ours.low_res_logits.shape == (3, 1, 256, 256) and ours.iou.shape == (3,)
    masks, iou, low_res = official_predict(predictor, points, labels, boxes, mask_input, hq_token_only=hq_token_only)
    torch.testing.assert_close(ours.low_res_logits, low_res, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.iou, iou, rtol=0, atol=1e-6)
    torch.testing.assert_close(segmenter.upscale(embedding, ours.low_res_logits), masks, rtol=0, atol=1e-6)


def test_hq_token_only_changes_the_hq_output(tiny_hqsam, frame):
    points, labels, _, _ = batched_prompts()
    both = SamSegmenter.from_model(tiny_hqsam, hq_token_only=False)
    embedding = both.embed(frame)
    only = SamSegmenter.from_model(tiny_hqsam, hq_token_only=True)
    assert not torch.allclose(
        both.predict(embedding, points, labels).low_res_logits, only.predict(embedding, points, labels).low_res_logits
    )


def test_hq_token_only_needs_an_hq_decoder(tiny_sam):
    with pytest.raises(ValueError, match="HQ-SAM mask decoder"):
        SamSegmenter.from_model(tiny_sam, hq_token_only=True)


def test_predict_rejects_bad_prompts(tiny_sam, frame):
    segmenter = SamSegmenter.from_model(tiny_sam)
    embedding = segmenter.embed(frame)
    points, labels, boxes, mask_input = batched_prompts()
    with pytest.raises(ValueError, match=r"points must be \(M, P, 2\)"):
        segmenter.predict(embedding, points[0], labels[0])
    with pytest.raises(ValueError, match=r"labels must be \(M, P\)"):
        segmenter.predict(embedding, points, labels[:, :2])
    with pytest.raises(ValueError, match="disagree on the number of objects"):
        segmenter.predict(embedding, points, labels, boxes[:2])
    with pytest.raises(ValueError, match=r"mask_input must be \(M, 1, 256, 256\)"):
        segmenter.predict(embedding, points, labels, mask_input=mask_input[:, :, :128])
    with pytest.raises(ValueError, match="at least one prompt"):
        segmenter.predict(embedding, None, None)
    with pytest.raises(ValueError, match="together"):
        segmenter.predict(embedding, points, None)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        segmenter.embed(frame.astype(np.float32))


def test_bf16_autocast_runs_and_stays_close(tiny_sam, frame):
    """The CUDA default (bf16 autocast), exercised on CPU: float32 outputs close to the float32 run."""
    points, labels, _, _ = batched_prompts()
    exact = SamSegmenter.from_model(tiny_sam, autocast_bf16=False)
    fast = SamSegmenter.from_model(tiny_sam, autocast_bf16=True)
    want = exact.predict(exact.embed(frame), points, labels)
    got = fast.predict(fast.embed(frame), points, labels)
    assert got.low_res_logits.dtype == torch.float32 and got.iou.dtype == torch.float32
    scale = want.low_res_logits.abs().max()
    assert (got.low_res_logits - want.low_res_logits).abs().max() < 0.2 * scale
    assert ((got.low_res_logits > 0) == (want.low_res_logits > 0)).float().mean() > 0.95


def test_cpu_defaults(tiny_sam):
    segmenter = SamSegmenter.from_model(tiny_sam)
    assert segmenter.device.type == "cpu" and not segmenter.autocast_bf16


def _tinyvit_embeddings(frame, **options) -> tuple[torch.Tensor, SamSegmenter]:
    from trackers.segmenters.sam_models import build_tiny_tinyvit_sam

    segmenter = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=3), **options)
    return segmenter.embed(frame).features["image"], segmenter


@pytest.mark.parametrize("channels_last", [False, True])
def test_encoder_memory_layout_changes_float_rounding_only(frame, channels_last):
    """The channels-last layout runs the same encoder (TinyViT: its convolutions take oneDNN's kernels); the
    embedding equals the contiguous layout's up to float32 rounding, and the input follows the weights' layout."""
    want, _ = _tinyvit_embeddings(frame, channels_last=False)
    got, segmenter = _tinyvit_embeddings(frame, channels_last=channels_last)
    conv = segmenter.sam.image_encoder.patch_embed.seq[0].c.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert segmenter.memory_format == (torch.channels_last if channels_last else torch.contiguous_format)
    scale = float(want.abs().max())
    assert (got - want).abs().max() <= 1e-5 * scale


@pytest.mark.slow
def test_compiled_encoder_on_cpu_gives_the_eager_embedding(frame):
    """``compile=True`` on CPU (inductor): the same embedding up to float32 rounding, and the compiled module
    is kept for later frames."""
    want, _ = _tinyvit_embeddings(frame)
    got, segmenter = _tinyvit_embeddings(frame, compile=True)
    assert segmenter._encoder is not segmenter.sam.image_encoder
    again = segmenter.embed(frame).features["image"]
    scale = float(want.abs().max())
    assert (got - want).abs().max() <= 1e-4 * scale and torch.equal(got, again)


# ---------------------------------------------------------------------------------------------- checkpoints

OFFICIAL_ARCHS = ["sam_vit_h", "sam_vit_l", "sam_vit_b", "hqsam_vit_h", "hqsam_vit_l", "hqsam_vit_b", "hqsam_vit_tiny"]


@pytest.mark.parametrize("arch", OFFICIAL_ARCHS)
def test_official_architectures_have_the_official_keys(arch):
    """Our assembly has exactly the parameter names/shapes of the packages' own builders (which load
    the official files); the ViTs are built on the meta device so no memory is allocated."""
    import segment_anything
    import segment_anything_hq

    from trackers.segmenters.sam_models import build_sam_module

    registry = segment_anything_hq.sam_model_registry if arch.startswith("hq") else segment_anything.sam_model_registry
    official_name = {"tiny": "vit_tiny"}.get(arch.rsplit("_", 1)[1], "vit_" + arch.rsplit("_", 1)[1])
    device = "cpu" if arch.endswith("tiny") else "meta"  # TinyViT's constructor calls .item(); it is small
    with torch.device(device):
        ours = build_sam_module(arch)
        official = registry[official_name]()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in official.state_dict().items()}


def test_official_format_checkpoint_loads_strictly(tmp_path, frame):
    from trackers.segmenters.sam_models import SAM_CHECKPOINTS, load_official_checkpoint

    source = build_tiny_sam(seed=1)
    path = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save(source.state_dict(), path)  # the official files are plain state dicts
    target = build_tiny_sam(seed=2)
    assert load_official_checkpoint(target, SAM_CHECKPOINTS["sam_vit_b"], path) == path
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(a, b), name
    points, labels, boxes, _ = batched_prompts()
    want = SamSegmenter.from_model(source)
    got = SamSegmenter.from_model(target)
    torch.testing.assert_close(
        got.predict(got.embed(frame), points, labels, boxes).low_res_logits,
        want.predict(want.embed(frame), points, labels, boxes).low_res_logits,
        rtol=0,
        atol=0,
    )


def test_checkpoint_with_wrong_keys_is_rejected(tmp_path):
    from trackers.checkpoints import CheckpointError
    from trackers.segmenters.sam_models import SAM_CHECKPOINTS, load_official_checkpoint

    state = build_tiny_sam(seed=1).state_dict()
    state["mask_decoder.renamed_token.weight"] = state.pop("mask_decoder.iou_token.weight")
    path = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"1 missing keys \['mask_decoder.iou_token.weight'\].*1 unexpected keys"):
        load_official_checkpoint(build_tiny_sam(seed=1), SAM_CHECKPOINTS["sam_vit_b"], path)
    torch.save({"model": build_tiny_sam(seed=1).state_dict()}, path)
    with pytest.raises(CheckpointError, match="not in the official sam_vit_b_01ec64.pth format"):
        load_official_checkpoint(build_tiny_sam(seed=1), SAM_CHECKPOINTS["sam_vit_b"], path)


@pytest.mark.parametrize(
    "name, filename, md5",
    [
        ("sam_vit_h", "sam_vit_h_4b8939.pth", "4b8939a88964f0f4ff5f5b2642c598a6"),
        ("hqsam_vit_h", "sam_hq_vit_h.pth", "3560f6b6a5a6edacd814a1325c39640a"),
        ("hqsam_vit_tiny", "sam_hq_vit_tiny.pth", "3a661ab92d4088ccd6232fa542998a65"),
        ("mobilesam", "mobile_sam.pt", "f3c0d8cda613564d499310dab6c812cd"),
    ],
)
def test_missing_checkpoint_message(tmp_path, name, filename, md5):
    from trackers.checkpoints import CheckpointError
    from trackers.segmenters.base import build_segmenter

    missing = tmp_path / filename
    with pytest.raises(CheckpointError) as error:
        build_segmenter(name, checkpoint=str(missing))
    message = str(error.value)
    assert str(missing) in message and filename in message and md5 in message
    assert f"make checkpoints MODEL={name}" in message
    assert "https://" in message


def test_sam_filenames_embed_their_md5_prefix():
    from trackers.segmenters.sam_models import SAM_CHECKPOINTS

    for key in ("sam_vit_h", "sam_vit_l", "sam_vit_b"):
        info = SAM_CHECKPOINTS[key]
        assert info.filename.removesuffix(".pth").endswith(info.md5[:6])


def test_tiny_tinyvit_models_predict():
    """MobileSAM-style (TinyViT + SAM decoder) and Light HQ-SAM (TinyViT + HQ decoder) tiny builds."""
    from trackers.segmenters.sam_models import build_tiny_tinyvit_sam

    frame = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    points, labels, boxes, mask_input = batched_prompts()
    for hq in (False, True):
        segmenter = SamSegmenter.from_model(build_tiny_tinyvit_sam(seed=0, hq=hq))
        assert segmenter.is_hq == hq
        embedding = segmenter.embed(frame)
        assert embedding.features["image"].shape == (1, 256, 64, 64)
        prediction = segmenter.predict(embedding, points * 0.4, labels, boxes * 0.4, mask_input)
        assert prediction.low_res_logits.shape == (3, 1, 256, 256) and prediction.iou.shape == (3,)
        assert torch.isfinite(prediction.low_res_logits).all()
        assert segmenter.upscale(embedding, prediction.low_res_logits).shape == (3, 64, 96)
        if hq:  # Light HQ-SAM: equal to segment_anything_hq's predictor
            from segment_anything_hq import SamPredictor as HQSamPredictor

            predictor = HQSamPredictor(segmenter.sam)
            predictor.set_image(frame)
            _, iou, low_res = official_predict(predictor, points * 0.4, labels, boxes * 0.4, mask_input)
            torch.testing.assert_close(prediction.low_res_logits, low_res, rtol=0, atol=1e-6)
            torch.testing.assert_close(prediction.iou, iou, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------- SAM 2

def _sam2_or_skip():
    from trackers.segmenters.sam2 import SAM2_INSTALL_HINT, sam2_available

    if not sam2_available():
        pytest.skip(SAM2_INSTALL_HINT)


def test_sam2_factories_fail_clearly():
    """Without sam2: Sam2UnavailableError with the install command; with it: the missing-file message."""
    from trackers.checkpoints import CheckpointError
    from trackers.segmenters.base import build_segmenter
    from trackers.segmenters.sam2 import Sam2UnavailableError, sam2_available

    if sam2_available():
        with pytest.raises(CheckpointError, match=r"sam2.1_hiera_large.pt[\s\S]*make checkpoints MODEL=sam2_hiera_l"):
            build_segmenter("sam2_hiera_l", checkpoint="/nonexistent/sam2.1_hiera_large.pt")
    else:
        with pytest.raises(Sam2UnavailableError, match=r"SAM2_BUILD_CUDA=0 pip install --no-deps --no-build-isolation sam2==1.1.0"):
            build_segmenter("sam2_hiera_l")


def test_sam2_equals_sam2_image_predictor(frame):
    _sam2_or_skip()
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from trackers.segmenters.sam2 import Sam2Segmenter, build_tiny_sam2

    model = build_tiny_sam2(seed=0)
    segmenter = Sam2Segmenter.from_model(model)
    embedding = segmenter.embed(frame)
    assert embedding.features["image"].shape == (1, 256, 64, 64)
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(frame)
    assert torch.equal(embedding.features["image"], predictor._features["image_embed"])
    points, labels, boxes, mask_input = batched_prompts()
    mask_input = mask_input * 20  # beyond the +-32 clamp
    for count in (1, 3):
        ours = segmenter.predict(embedding, points[:count], labels[:count], boxes[:count], mask_input[:count])
        assert ours.low_res_logits.shape == (count, 1, 256, 256) and ours.iou.shape == (count,)
        prompts = predictor._prep_prompts(points[:count], labels[:count], boxes[:count], mask_input[:count].clamp(-32, 32), True)
        masks, iou, low_res = predictor._predict(*prompts[1:], prompts[0], multimask_output=False, return_logits=True)
        torch.testing.assert_close(ours.low_res_logits.clamp(-32, 32), low_res, rtol=0, atol=1e-6)
        torch.testing.assert_close(ours.iou, iou[:, 0], rtol=0, atol=1e-6)
        torch.testing.assert_close(segmenter.upscale(embedding, ours.low_res_logits), masks[:, 0], rtol=0, atol=1e-6)


def test_sam2_checkpoint_loads_strictly(tmp_path):
    _sam2_or_skip()
    from trackers.checkpoints import CheckpointError
    from trackers.segmenters.sam2 import SAM2_MODELS, build_tiny_sam2, load_sam2_checkpoint

    info = SAM2_MODELS["sam2_hiera_t"][1]
    source, target = build_tiny_sam2(seed=1), build_tiny_sam2(seed=2)
    path = tmp_path / info.filename
    torch.save({"model": source.state_dict()}, path)  # the official files hold the state dict under "model"
    load_sam2_checkpoint(target, info, path)
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(a, b), name
    torch.save(source.state_dict(), path)
    with pytest.raises(CheckpointError, match="a dict with 'model'"):
        load_sam2_checkpoint(target, info, path)


# ---------------------------------------------------------------------------------------------- GrabCut


def textured_scene(seed: int = 0, height: int = 240, width: int = 320):
    """A red/yellow checkerboard object (ellipse + rectangle) on blue/green stripes, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    stripes = ((xx + yy) // 6) % 2
    background = np.stack([20 + 30 * stripes, 120 - 40 * stripes, 160 + 40 * stripes], -1)
    truth = ((xx - 170) / 80.0) ** 2 + ((yy - 110) / 60.0) ** 2 <= 1
    truth |= (np.abs(xx - 110) < 25) & (np.abs(yy - 170) < 40)
    checks = ((xx // 5) + (yy // 5)) % 2
    foreground = np.stack([200 + 40 * checks, 60 + 140 * checks, 30 + 0 * checks], -1)
    image = np.where(truth[..., None], foreground, background) + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def scene_prompts(truth, seed=1):
    """(1, 9, 2) points: 8 positives inside the object, 1 negative in the background; (1, 9) labels."""
    ys, xs = np.nonzero(truth)
    pick = np.random.default_rng(seed).choice(len(xs), 8, replace=False)
    points = np.concatenate([np.stack([xs[pick], ys[pick]], 1), [[20, 20]]]).astype(np.float32)
    return torch.from_numpy(points)[None], torch.tensor([[1] * 8 + [0]])


def mask_iou(a, b) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("seed, roi_margin", [(0, 1.0), (1, 1.0), (2, 1.0), (0, None)])
def test_grabcut_separates_textured_object(seed, roi_margin):
    from trackers.segmenters.grabcut import GrabCutSegmenter

    image, truth = textured_scene(seed)
    points, labels = scene_prompts(truth, seed + 1)
    segmenter = GrabCutSegmenter(roi_margin=roi_margin)
    embedding = segmenter.embed(image)
    prediction = segmenter.predict(embedding, points, labels)
    assert prediction.low_res_logits.shape == (1, 1, 256, 256) and prediction.iou.shape == (1,)
    mask = segmenter.upscale(embedding, prediction.low_res_logits)[0].numpy() > 0
    assert mask.shape == truth.shape
    assert mask_iou(mask, truth) > 0.8
    # the convex hull of the positives alone (GrabCut's starting point) is clearly worse
    hull = np.zeros(truth.shape, np.uint8)
    import cv2

    cv2.fillConvexPoly(hull, cv2.convexHull(points[0, :8].numpy().astype(np.int32)), 1)
    assert mask_iou(mask, truth) > mask_iou(hull > 0, truth) + 0.1
    assert prediction.iou.item() == 1.0  # every point agrees with the mask


def test_grabcut_batched_with_box_and_mask_input():
    from trackers.segmenters.grabcut import GrabCutSegmenter

    image, truth = textured_scene(0)
    points, labels = scene_prompts(truth)
    segmenter = GrabCutSegmenter(work_long_side=160, iterations=3)
    embedding = segmenter.embed(image)
    first = segmenter.predict(embedding, points, labels)
    # object 0: refine with box + previous mask; object 1: only padding points and a background box
    batch_points = torch.cat([points, torch.zeros_like(points)])
    batch_labels = torch.cat([labels, torch.full_like(labels, -1)])
    boxes = torch.tensor([[55.0, 45.0, 255.0, 215.0], [0.0, 0.0, 40.0, 30.0]])
    mask_input = torch.cat([first.low_res_logits, torch.full_like(first.low_res_logits, -8.0)])
    refined = segmenter.predict(embedding, batch_points, batch_labels, boxes, mask_input)
    assert refined.low_res_logits.shape == (2, 1, 256, 256) and refined.iou.shape == (2,)
    masks = segmenter.upscale(embedding, refined.low_res_logits).numpy() > 0
    assert mask_iou(masks[0], truth) > 0.8
    assert masks[1, 35:, 45:].sum() == 0  # nothing outside its box
    assert 0.0 <= refined.iou.min() and refined.iou.max() <= 1.0


def test_grabcut_low_res_frame_is_sams():
    """A mask filling the frame covers exactly the resized-frame part of the padded 256x256 grid."""
    from trackers.segmenters.grabcut import GrabCutSegmenter

    image = np.zeros((100, 200, 3), np.uint8)
    segmenter = GrabCutSegmenter()
    embedding = segmenter.embed(image)
    assert embedding.input_size == (512, 1024)
    prediction = segmenter.predict(embedding, None, None, boxes=torch.tensor([[0.0, 0.0, 200.0, 100.0]]))
    low_res = prediction.low_res_logits[0, 0]
    assert (low_res[:126] > 0).all() and (low_res[130:] < 0).all()  # 512 / 4 = 128 rows of frame
    assert (segmenter.upscale(embedding, prediction.low_res_logits) > 0).all()


def test_grabcut_rejects_checkpoint_and_bad_input():
    from trackers.segmenters.base import build_segmenter

    with pytest.raises(ValueError, match="weight-free"):
        build_segmenter("grabcut", checkpoint="x.pth")
    segmenter = build_segmenter("grabcut", work_long_side=128)
    embedding = segmenter.embed(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r"points must be \(M, P, 2\)"):
        segmenter.predict(embedding, torch.zeros(3, 2), torch.zeros(3))


def test_zero_objects_give_empty_predictions(tiny_sam, frame):
    from trackers.segmenters.grabcut import GrabCutSegmenter

    for segmenter in (SamSegmenter.from_model(tiny_sam), GrabCutSegmenter()):
        embedding = segmenter.embed(frame)
        prediction = segmenter.predict(embedding, torch.zeros(0, 3, 2), torch.zeros(0, 3, dtype=torch.long))
        assert prediction.low_res_logits.shape == (0, 1, 256, 256) and prediction.iou.shape == (0,)


def test_sam2_official_architecture_keys():
    """Our config loading (no Hydra global state) builds what sam2's own build_sam2 builds."""
    _sam2_or_skip()
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from sam2.build_sam import build_sam2

    from trackers.segmenters.sam2 import build_sam2_module

    GlobalHydra.instance().clear()  # set by `import sam2` when first imported here, cleared per test otherwise
    initialize_config_module("sam2", version_base="1.2")  # what `import sam2` does

    ours = build_sam2_module("sam2_hiera_t")
    official = build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", None, device="cpu")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in official.state_dict().items()}
    assert ours.sam_mask_decoder.dynamic_multimask_via_stability and official.sam_mask_decoder.dynamic_multimask_via_stability
