"""`trackers.point.windows`: window features read on demand, bit-identical to encoding the whole video, bounded."""
import logging

import numpy as np
import pytest
import torch

from frame_counting import counting_source
from trackers.point.windows import WindowFeatures, warn_long_video


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


def test_long_video_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="trackers.point.windows"):
        warn_long_video("tapir", 10, 10, "reason")
        assert not caplog.records
        warn_long_video("tapir", 11, 10, "reason")
    assert "tapir holds the whole video" in caplog.text and "11 frames is above the 10" in caplog.text
