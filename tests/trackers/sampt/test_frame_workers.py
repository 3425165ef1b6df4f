"""The frame loop's frames run on several threads at once (`infra.cpu_runtime.frame_workers`): each frame's
result, the random streams and the order of everything a run hands over are those of the one-by-one run."""
from __future__ import annotations

import contextlib
import threading
from collections import defaultdict

import numpy as np
import pytest
import torch

from infra import cpu_runtime
from reference.runs import segment_video
from tests.fakes import ScriptedTracker, frames_with_ids, tiny_sam_segmenter
from trackers.sampt.model import SamPt


def _first_masks(height=48, width=64):
    """Three objects (one starting on frame 2), each a rectangle."""
    masks = {}
    for obj, (y0, x0, t0) in {1: (4, 4, 0), 2: (20, 30, 0), 3: (8, 40, 2)}.items():
        mask = np.zeros((height, width), bool)
        mask[y0:y0 + 14, x0:x0 + 16] = True
        masks[obj] = (t0, mask)
    return masks


@contextlib.contextmanager
def cpu_settings(workers: int, threads: int):
    """`infra.cpu_runtime.configure` for the block, the process's settings put back after."""
    saved, previous = torch.get_num_threads(), cpu_runtime._frame_workers
    try:
        cpu_runtime.configure(threads, False, workers)
        yield
    finally:
        cpu_runtime._frame_workers = previous
        torch.set_num_threads(saved)


def _sampt(segmenter=None, reinit: bool = False) -> SamPt:
    return SamPt(ScriptedTracker(), segmenter or tiny_sam_segmenter(), seed=3, iterative_refinement_iterations=2,
                 max_other_objects_positive_points=3,  # the prompt stream draws which points on every frame
                 use_point_reinit=reinit, reinit_horizon=3, reinit_point_tracker_horizon=4)


def _run(workers: int, threads: int, reinit: bool = False, segmenter=None):
    with cpu_settings(workers, threads):
        result = segment_video(_sampt(segmenter, reinit), frames_with_ids(7), _first_masks(), "clip")
        assert torch.get_num_threads() == threads  # the workers' one thread each is not left behind
    return result


class ThreadRecorder:
    """A segmenter's calls: the thread each embedding ran on, each frame's point prompts in call order
    (frames told apart by their pixel [0, 0, 0]); ``fail_on``: the frame whose embedding raises."""

    def __init__(self, segmenter, fail_on: int | None = None):
        self._segmenter, self.fail_on, self.threads = segmenter, fail_on, []
        self.prompts: dict[int, list] = defaultdict(list)
        self._frame_of: dict[int, int] = {}

    def __getattr__(self, name):
        return getattr(self._segmenter, name)

    def embed_many(self, frames):
        self.threads.append(threading.current_thread().name)
        if self.fail_on is not None and any(int(frame[0, 0, 0]) == self.fail_on for frame in frames):
            raise RuntimeError(f"frame {self.fail_on} cannot be embedded")
        embeddings = self._segmenter.embed_many(frames)
        self._frame_of.update({id(e): int(frame[0, 0, 0]) for e, frame in zip(embeddings, frames)})
        return embeddings

    def predict(self, embedding, points, labels, *args):
        self.prompts[self._frame_of[id(embedding)]].append((torch.as_tensor(points).numpy().copy(),
                                                        torch.as_tensor(labels).numpy().copy()))
        return self._segmenter.predict(embedding, points, labels, *args)


def _same_prompts(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        len(a[t]) == len(b[t]) and all(np.array_equal(x, y) for pa, pb in zip(a[t], b[t]) for x, y in zip(pa, pb))
        for t in a)


@pytest.mark.parametrize("reinit", [False, True])
def test_frames_on_three_threads_give_the_one_thread_run(reinit):
    one_by_one, recorder = ThreadRecorder(tiny_sam_segmenter()), ThreadRecorder(tiny_sam_segmenter())
    one = _run(1, 1, reinit, one_by_one)
    three = _run(3, 2, reinit, recorder)
    assert _same_prompts(one_by_one.prompts, recorder.prompts)  # the prompt stream drawn in frame order
    assert np.array_equal(one.labels, three.labels)
    assert np.array_equal(one.iou, three.iou, equal_nan=True)
    assert np.array_equal(one.tracks, three.tracks, equal_nan=True)
    assert one.labels[1:].any(), "the tiny SAM predicts masks, so the comparison means something"
    assert any(name.startswith("in-order") for name in recorder.threads)


def test_one_frame_worker_runs_on_the_callers_thread():
    recorder = ThreadRecorder(tiny_sam_segmenter())
    _run(1, 2, segmenter=recorder)
    assert set(recorder.threads) == {threading.main_thread().name}


def test_a_frames_error_reaches_the_caller_and_the_threads_are_restored():
    with cpu_settings(2, 2):
        with pytest.raises(RuntimeError, match="frame 4 cannot be embedded"):
            segment_video(_sampt(ThreadRecorder(tiny_sam_segmenter(), fail_on=4)), frames_with_ids(7),
                          _first_masks(), "clip")
        assert torch.get_num_threads() == 2


def test_a_compiled_encoder_runs_one_frame_at_a_time():
    segmenter = tiny_sam_segmenter()
    recorder = ThreadRecorder(segmenter)
    segmenter.compiled = True  # as `SamSegmenter(compile=True)` marks it (not compiled here: minutes on a CPU)
    _run(2, 2, segmenter=recorder)
    assert set(recorder.threads) == {threading.main_thread().name}
