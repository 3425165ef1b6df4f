"""`trackers.point.windows`: window features read on demand, bit-identical to encoding the whole video, bounded."""
import logging

import numpy as np
import pytest
import torch

from tests.trackers.point.support import counting_source
from trackers.point.windows import HaloWindow, SlidingFeatures, WindowFeatures, halo_windows, warn_long_video


def _encode(frames: torch.Tensor) -> list[torch.Tensor]:
    """(B, H, W, 3) uint8 -> two levels whose values depend on the batch (a batch mean), to catch re-chunking."""
    images = frames.permute(0, 3, 1, 2).double()
    return [images + images.mean(), images[..., ::2, ::2] * 2]


def test_windows_equal_the_whole_video_encoded_in_the_same_chunks_and_hold_only_their_chunks():
    frames = np.random.default_rng(0).integers(0, 256, (23, 4, 6, 3), dtype=np.uint8)
    whole = [torch.cat(levels) for levels in zip(*(_encode(torch.from_numpy(frames[s:s + 5])) for s in range(0, 23, 5)))]
    source, stats = counting_source(frames)
    features = WindowFeatures(source, _encode, chunk=5)
    for start in list(range(0, 16)) + list(range(15, -1, -1)):  # forward, then backward, windows of 8
        index = torch.arange(start, start + 8)
        for got, expected in zip(features(index), whole):
            assert torch.equal(got, expected[index])
        assert features.most_frames_held <= 8 + 2 * 4 and stats["most_alive"] <= 5
    repeated = torch.tensor([22, 22, 21])
    for got, expected in zip(features(repeated), whole):
        assert torch.equal(got, expected[repeated])
    assert features.frames_encoded < 2 * 23 + 10, "each direction encodes each chunk about once"
    with pytest.raises(IndexError, match="outside the video's 23 frames"):
        features([23])


@pytest.mark.parametrize("channels_last", [False, True])
def test_windows_keep_the_encoders_memory_layout(channels_last):
    """Channels-last features (the point encoders' convolutions write them so) stay channels-last in a window,
    where a bilinear read of a point gathers its channels from one place; contiguous ones stay contiguous."""
    layout = torch.channels_last if channels_last else torch.contiguous_format

    def encode(frames: torch.Tensor) -> list[torch.Tensor]:
        return [frames.permute(0, 3, 1, 2).float().contiguous(memory_format=layout)]

    frames = np.random.default_rng(1).integers(0, 256, (6, 4, 6, 3), dtype=np.uint8)
    source, _ = counting_source(frames)
    index = torch.tensor([2, 3, 4, 5, 5, 5])  # past the end: the last frame repeated
    (got,) = WindowFeatures(source, encode, chunk=4)(index)
    assert got.is_contiguous(memory_format=layout)
    assert torch.equal(got, torch.from_numpy(frames).permute(0, 3, 1, 2).float()[index])


def test_long_video_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="trackers.point.windows"):
        warn_long_video("tapir", 10, 10, "reason")
        assert not caplog.records
        warn_long_video("tapir", 11, 10, "reason")
    assert "tapir holds the whole video" in caplog.text and "11 frames is above the 10" in caplog.text


@pytest.mark.parametrize("num_frames, window, halo", [(1, 3, 1), (10, 30, 4), (30, 30, 4), (31, 30, 4),
                                                      (100, 11, 5), (257, 40, 12), (1000, 288, 96)])
def test_halo_windows_cover_the_video_once_and_keep_only_frames_the_halo_away_from_window_ends(
        num_frames, window, halo):
    windows = halo_windows(num_frames, window, halo)
    assert windows[0].core_start == 0 and windows[-1].core_end == num_frames
    assert all(a.core_end == b.core_start for a, b in zip(windows, windows[1:]))  # a partition, in order
    for w in windows:
        assert 0 <= w.start <= w.core_start < w.core_end <= w.end <= num_frames and w.end - w.start <= window
        assert w.start == 0 or w.core_start - w.start >= halo
        assert w.end == num_frames or w.end - w.core_end >= halo
    if num_frames <= window:
        assert windows == [HaloWindow(0, num_frames, 0, num_frames)]
    else:  # no more windows than needed: every window but the last is full
        assert all(w.end - w.start == window for w in windows[:-1])


def test_halo_windows_need_a_window_longer_than_both_halos():
    with pytest.raises(ValueError, match="a window of 10 frames leaves no frame 5 frames from both of its ends; "
                                         "it must be longer than 10 frames"):
        halo_windows(50, 10, 5)


def test_sliding_features_equal_window_features_encode_each_frame_once_and_hold_one_window():
    frames = np.random.default_rng(1).integers(0, 256, (61, 4, 6, 3), dtype=np.uint8)
    source, stats = counting_source(frames)
    reference = WindowFeatures(counting_source(frames)[0], _encode, chunk=5)
    sliding = SlidingFeatures(source, _encode, chunk=5)
    windows = halo_windows(61, 17, 4)
    assert len(windows) > 3
    for window in windows:
        index = torch.arange(window.start, window.end)
        for got, expected in zip(sliding(window.start, window.end), reference(index)):
            assert torch.equal(got, expected)
        assert sliding.most_frames_held <= 17 + 4
    assert sliding.frames_encoded == 61 and stats["reads"] == 61
    # a window past everything held starts again at its chunk; going back is refused
    jumped = SlidingFeatures(counting_source(frames)[0], _encode, chunk=5)
    jumped(0, 4)
    for got, expected in zip(jumped(32, 40), reference(torch.arange(32, 40))):
        assert torch.equal(got, expected)
    assert jumped.frames_encoded == 5 + 10
    with pytest.raises(IndexError, match=r"window \[31, 40\) .*starts before the previous window's start 32"):
        jumped(31, 40)
    with pytest.raises(IndexError, match="outside the video's 61 frames"):
        jumped(40, 62)
