"""PIPS++ tracker: official key layout, strict checkpoint loading, building blocks, window chaining and
tracking invariants.

All tests use seeded random weights of our own `Pips2Net` on tiny videos (128x128, the smallest size stride 8
allows) with short windows and few iterations. Equality with SAM-PT's PIPS++ tracker is tested against its
recorded output in `tests/trackers/point/test_official_trackers.py`.
"""
from __future__ import annotations

import dataclasses
import io
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import experiments.tools.download as download
from trackers.checkpoints import CHECKPOINTS, DEFAULT_CHECKPOINT_DIR, CheckpointError
from trackers.point.pips.tracker import PIPS_CHECKPOINT
from trackers.point.pips2.tracker import PIPS2_CHECKPOINT, PIPS2_DEFAULT_PATH, Pips2Tracker, load_pips2
from trackers.point.pips2.net import Pips2Net, ResidualBlock1d, SameConv1d, flow_embedding
from trackers.point.pips.net import feature_pyramid
from trackers.point.base import build_point_tracker
from tests.trackers.point.support import counting_source
from tests.trackers.point.support import official_keys
from trackers.point.windows import WindowFeatures

T, H, W = 12, 128, 128
WINDOW, ITERS = 5, 3  # windows [0, 5), [4, 9), then [7, 12) moved back to end at the last frame
QUERIES = np.array(
    [[0, 10.0, 12.0], [0, 80.5, 60.25], [4, 33.0, 20.0], [7, 100.2, 41.7], [11, 5.0, 120.0], [0, 127.0, 0.0]],
    np.float32,
)


def _tame_random_net(seed: int = 0) -> Pips2Net:
    """Seeded random Pips2Net whose untrained update loop stays at motions of a few pixels: with the default
    initialisation the updates are ~10 px per iteration and float rounding gets amplified."""
    torch.manual_seed(seed)
    net = Pips2Net(stride=8).eval()
    with torch.no_grad():
        net.delta_block.dense.weight.mul_(0.05)
        net.delta_block.dense.bias.mul_(0.05)
    return net


def _video(seed: int = 1, num_frames: int = T) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth random texture translating by (1, 0.5) px per frame."""
    generator = torch.Generator().manual_seed(seed)
    texture = torch.randint(0, 256, (1, 3, H + 2 * num_frames, W + 2 * num_frames), generator=generator).float()
    texture = F.avg_pool2d(texture, 5, 1, 2)[0]
    frames = [texture[:, t // 2:t // 2 + H, t:t + W] for t in range(num_frames)]
    return torch.stack(frames).permute(0, 2, 3, 1).round().to(torch.uint8).numpy()


@pytest.fixture(scope="module")
def official_format_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pips2") / "model-000200000.pth"
    torch.save({"model_state_dict": _tame_random_net().state_dict(), "optimizer_state_dict": {}}, path)
    return path


@pytest.fixture(scope="module")
def tracker() -> Pips2Tracker:
    return Pips2Tracker(net=_tame_random_net(), device="cpu", window=WINDOW, iters=ITERS)


@pytest.fixture(scope="module")
def batched_result(tracker):
    return tracker.track(_video(), QUERIES)


# --- weights ---------------------------------------------------------------------------------------------


def test_state_dict_equals_official_key_list():
    official = official_keys("pips2")
    ours = {name: tuple(value.shape) for name, value in Pips2Net().state_dict().items()}
    assert len(official) == 82
    assert ours == official
    assert sum(math.prod(shape) for shape in ours.values()) == 17_565_410


def test_checkpoint_is_registered_with_a_default_path_apart_from_pips():
    assert CHECKPOINTS["pips2"] is PIPS2_CHECKPOINT
    assert PIPS2_CHECKPOINT.filename == "model-000200000.pth" and PIPS2_CHECKPOINT.md5


def test_download_keeps_pips_and_pips2_files_apart(tmp_path, monkeypatch):
    """Both official archives are reference_model.tar.gz holding reference_model/model-000200000.pth."""
    contents = {PIPS_CHECKPOINT.url: b"pips weights", PIPS2_CHECKPOINT.url: b"pips++ weights"}

    def fake_download(url, dest, **_):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            member = tarfile.TarInfo("reference_model/model-000200000.pth")
            member.size = len(contents[url])
            archive.addfile(member, io.BytesIO(contents[url]))
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(buffer.getvalue())
        return Path(dest)

    monkeypatch.setattr(download, "download", fake_download)
    infos = [dataclasses.replace(info, md5="") for info in (PIPS_CHECKPOINT, PIPS2_CHECKPOINT)]
    pips_path, pips2_path = download.fetch_checkpoints(infos, tmp_path, keep_archives=True, progress=False)
    assert pips_path.read_bytes() == b"pips weights" and pips2_path.read_bytes() == b"pips++ weights"
    assert pips2_path.relative_to(tmp_path) == PIPS2_DEFAULT_PATH.relative_to(DEFAULT_CHECKPOINT_DIR)


def test_loads_official_format_strictly(official_format_checkpoint):
    net = load_pips2(official_format_checkpoint)
    expected = torch.load(official_format_checkpoint, weights_only=True)["model_state_dict"]
    loaded = net.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)
    assert not net.training
    built = build_point_tracker("pips2", checkpoint=str(official_format_checkpoint), device="cpu")
    assert isinstance(built, Pips2Tracker) and (built.stride, built.window, built.iters) == (8, 128, 16)


def test_missing_checkpoint_names_file_source_and_make_target(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "model-000200000.pth"
    with pytest.raises(CheckpointError) as error:
        Pips2Tracker(checkpoint=missing)
    message = str(error.value)
    assert str(missing) in message and PIPS2_CHECKPOINT.url in message
    assert "make checkpoints MODEL=pips2" in message
    monkeypatch.chdir(tmp_path)  # no checkpoints/ here: the default location is reported
    with pytest.raises(CheckpointError, match=r"checkpoints/pips2/model-000200000\.pth"):
        build_point_tracker("pips2")


def test_wrong_key_wrong_shape_and_wrong_format_are_rejected(tmp_path, official_format_checkpoint):
    state = torch.load(official_format_checkpoint, weights_only=True)["model_state_dict"]
    renamed = dict(state)
    renamed["delta_block.dense2.weight"] = renamed.pop("delta_block.dense.weight")
    path = tmp_path / "renamed.pth"
    torch.save({"model_state_dict": renamed}, path)
    with pytest.raises(CheckpointError, match=r"delta_block\.dense\.weight"):
        load_pips2(path)
    reshaped = dict(state)
    reshaped["delta_block.dense.weight"] = torch.zeros(2, 512)
    torch.save({"model_state_dict": reshaped}, path)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_pips2(path)
    plain = tmp_path / "plain.pth"
    torch.save(state, plain)
    with pytest.raises(CheckpointError, match="model_state_dict"):
        load_pips2(plain)


# --- building blocks ---------------------------------------------------------------------------------------


def test_same_conv_pads_with_zeros_on_both_sides():
    torch.manual_seed(0)
    conv = SameConv1d(4, 6)
    x = torch.randn(2, 4, 7)
    torch.testing.assert_close(conv(x), F.conv1d(x, conv.conv.weight, conv.conv.bias, padding=1))
    assert conv(x[..., :2]).shape == (2, 6, 2)


def test_residual_block_pads_the_shortcut_channels_symmetrically():
    block = ResidualBlock1d(4, 8)
    with torch.no_grad():
        for conv in (block.conv1.conv, block.conv2.conv):
            conv.weight.zero_()
            conv.bias.zero_()
    x = torch.randn(3, 4, 5)
    out = block(x)  # the residual branch is zero: out is the padded shortcut
    assert out.shape == (3, 8, 5)
    assert torch.equal(out[:, 2:6], x) and not out[:, :2].any() and not out[:, 6:].any()


def test_flow_embedding_layout():
    flows = torch.tensor([[[0.5, -2.0]]])
    out = flow_embedding(flows)
    assert out.shape == (1, 1, 130)
    omega = 1.0 / 10000 ** (torch.tensor(5.0) / 31)
    torch.testing.assert_close(out[0, 0, 5], torch.sin(0.5 * omega))
    torch.testing.assert_close(out[0, 0, 32 + 5], torch.cos(0.5 * omega))
    torch.testing.assert_close(out[0, 0, 64 + 5], torch.sin(-2.0 * omega))
    torch.testing.assert_close(out[0, 0, 96 + 5], torch.cos(-2.0 * omega))
    torch.testing.assert_close(out[0, 0, -2:], flows[0, 0])


def test_single_window_locks_frame_zero_and_returns_features():
    net = _tame_random_net()
    frames = torch.from_numpy(_video(num_frames=6)).permute(0, 3, 1, 2)
    with torch.no_grad():
        pyramid = feature_pyramid(net.encode(frames))
        start = torch.tensor([[10.0, 12.0], [80.5, 60.25], [127.0, 0.0]])
        trajectory, feats = net.refine(pyramid, start[None].repeat(6, 1, 1), None, ITERS)
    assert trajectory.shape == (6, 3, 2) and torch.equal(trajectory[0], start)
    assert (trajectory[1:] != start).any()
    assert len(feats) == 3 and all(f.shape == (6, 3, 128) for f in feats)
    assert torch.equal(feats[0][0], feats[0][5]), "the query feature is the same in every frame"
    assert not torch.equal(feats[1][5], feats[0][5]), "the t-2 features are re-sampled after iteration 1"


# --- tracking ---------------------------------------------------------------------------------------------


def test_output_shapes_dtypes_query_lock_and_all_visible(batched_result):
    tracks, visible = batched_result
    assert tracks.shape == (T, len(QUERIES), 2) and tracks.dtype == np.float32
    assert visible.shape == (T, len(QUERIES)) and visible.dtype == bool and visible.all()
    assert np.isfinite(tracks).all()
    for n, (t, x, y) in enumerate(QUERIES):
        assert tracks[int(t), n].tolist() == [x, y]


def test_chain_matches_a_plain_window_loop(tracker):
    """`_chain` against a loop written out: windows [0,5), [4,9), [7,12); zero-velocity future; features
    carried from window to window."""
    net = tracker.net
    with torch.inference_mode():
        pyramid = feature_pyramid(net.encode(torch.from_numpy(_video()).permute(0, 3, 1, 2)))
        xy = torch.from_numpy(QUERIES[:2, 1:])
        chained = tracker._chain(lambda frames: [level[frames] for level in pyramid], torch.arange(T), xy)
        expected = xy[None].repeat(T, 1, 1)
        feats = None
        for begin, end in ((0, 5), (4, 9), (7, 12)):
            window = [level[begin:end] for level in pyramid]
            expected[begin:end], feats = net.refine(window, expected[begin:end].clone(), feats, ITERS)
            expected[end:] = expected[end - 1]
    assert torch.equal(chained, expected)
    assert (chained[-1] != xy).all(), "points move through all three windows"


def test_long_video_and_backward_tracking_cover_every_frame(batched_result):
    tracks = batched_result[0]
    moved = np.abs(tracks - QUERIES[None, :, 1:]).max(axis=-1)
    assert (moved[0, 2:5] > 0).all(), "points queried on later frames are tracked back to frame 0"
    assert (moved[-1, [0, 1, 2, 3, 5]] > 0).all(), "points queried before the last frame reach it"
    assert (moved[5:, 0] > 0).all(), "frames past the first window are tracked"


def test_backward_is_forward_on_the_reversed_video(tracker, batched_result):
    frames = _video()
    late = QUERIES[3:4].copy()  # queried on frame 7: frames 0-6 come from the backward pass
    reversed_query = late.copy()
    reversed_query[:, 0] = T - 1 - late[:, 0]
    tracks, _ = tracker.track(frames, late)
    tracks_rev, _ = tracker.track(frames[::-1].copy(), reversed_query)
    np.testing.assert_allclose(tracks[:7], tracks_rev[::-1][:7], atol=1e-4)
    np.testing.assert_allclose(tracks, batched_result[0][:, 3:4], atol=1e-3)


def test_batched_equals_one_by_one(tracker, batched_result):
    frames = _video()
    for n in (1, 2, 4):  # queried on frames 0, 4 and 11: forward only, both directions, backward only
        tracks, visible = tracker.track(frames, QUERIES[n:n + 1])
        np.testing.assert_allclose(tracks[:, 0], batched_result[0][:, n], atol=1e-3)
        assert visible.all()


def test_point_chunks_do_not_change_results(tracker, batched_result):
    chunked = Pips2Tracker(net=tracker.net, device="cpu", window=WINDOW, iters=ITERS, point_chunk=1)
    tracks, _ = chunked.track(_video(), QUERIES)
    np.testing.assert_allclose(tracks, batched_result[0], atol=1e-3)


def test_deterministic(tracker, batched_result):
    tracks, visible = tracker.track(_video(), QUERIES)
    assert np.array_equal(tracks, batched_result[0]) and np.array_equal(visible, batched_result[1])


def test_image_size_resizes_and_scales_back(tracker):
    frames = _video(num_frames=4)
    resized = Pips2Tracker(net=tracker.net, device="cpu", window=WINDOW, iters=1, image_size=(192, 160))
    tracks, visible = resized.track(frames, QUERIES[:2])
    assert tracks.shape == (4, 2, 2) and visible.all()
    assert tracks[0].tolist() == QUERIES[:2, 1:].tolist()
    with pytest.raises(ValueError, match="at least 128x128"):
        Pips2Tracker(net=tracker.net, device="cpu", image_size=(64, 96)).track(frames, QUERIES[:1])


def test_degenerate_inputs(tracker):
    frames = _video(num_frames=3)
    tracks, visible = tracker.track(frames, np.zeros((0, 3), np.float32))
    assert tracks.shape == (3, 0, 2) and visible.shape == (3, 0)
    tracks, visible = tracker.track(frames[:1], QUERIES[:1])
    assert tracks.tolist() == [[[10.0, 12.0]]] and visible.tolist() == [[True]]
    with pytest.raises(ValueError, match="at least 128x128"):
        tracker.track(np.zeros((3, 96, 128, 3), np.uint8), QUERIES[:1])
    with pytest.raises(ValueError, match="query frame indices"):
        tracker.track(frames, np.array([[3, 1.0, 1.0]], np.float32))
    with pytest.raises(ValueError, match="window >= 2"):
        Pips2Tracker(net=tracker.net, device="cpu", window=1)


def test_frame_source_equals_array_and_is_read_a_chunk_at_a_time(tracker, monkeypatch):
    """Frames read on demand give bit-identical output; with chunks of 2 at most 2 of the 12 frames are alive
    and at most a window (5 frames) plus a chunk at each end of features is held."""
    chunked = Pips2Tracker(net=tracker.net, device="cpu", window=WINDOW, iters=ITERS, encoder_chunk=2)
    source, stats = counting_source(_video())
    held = []
    original = WindowFeatures.__call__

    def spy(self, frames):
        out = original(self, frames)
        held.append(self.most_frames_held)
        return out

    monkeypatch.setattr(WindowFeatures, "__call__", spy)
    tracks, visible = chunked.track(source, QUERIES)
    expected_tracks, expected_visible = chunked.track(_video(), QUERIES)
    assert np.array_equal(tracks, expected_tracks) and np.array_equal(visible, expected_visible)
    assert stats["most_alive"] <= 2 and held and max(held) <= WINDOW + 2
