"""`infra.frames.FrameSource`: frames read on demand, and the tracker input check that accepts it."""
import numpy as np
import pytest

from infra.frames import FrameSource, as_frame_source
from trackers.point.base import check_track_inputs, check_track_source


def _counting_source(num_frames=6, size=(4, 5)):
    reads = []

    def frame(t):
        reads.append(t)
        return np.full(size + (3,), t, np.uint8)

    return FrameSource(frame, num_frames, size), reads


def test_window_reads_only_its_frames():
    source, reads = _counting_source()
    window = source.window(2, 4)
    assert window.shape == (2, 4, 5, 3) and window[:, 0, 0, 0].tolist() == [2, 3]
    assert reads == [2, 3]
    with pytest.raises(IndexError, match="outside the video's 6 frames"):
        source.window(4, 7)


def test_as_frame_source_accepts_arrays_lists_and_videos():
    frames = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    for given in (frames, list(frames)):
        source = as_frame_source(given)
        assert (source.num_frames, source.frame_size) == (2, (3, 4))
        np.testing.assert_array_equal(source.all(), frames)
    source, _ = _counting_source()
    assert as_frame_source(source) is source
    with pytest.raises(ValueError, match="no frame"):
        as_frame_source(np.zeros((0, 3, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        as_frame_source([np.zeros((3, 4, 3), np.float32)])


def test_track_input_checks_on_a_source():
    source, reads = _counting_source()
    checked, queries = check_track_source(source, [[5, 1.0, 2.0]])
    assert checked is source and queries.shape == (1, 3) and reads == []  # nothing decoded
    with pytest.raises(ValueError, match=r"integers in \[0, 5\]"):
        check_track_source(source, [[6, 1.0, 2.0]])
    frames, _ = check_track_inputs(source, np.zeros((0, 3)))
    assert frames.shape == (6, 4, 5, 3)
    with pytest.raises(ValueError, match="uint8"):
        check_track_inputs(np.zeros((2, 3, 4, 3), np.float32), np.zeros((0, 3)))
