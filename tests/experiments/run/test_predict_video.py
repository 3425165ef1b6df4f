"""`experiments.run.vos.predict_video`'s per-frame loop: frames read ahead on a thread, label maps merged and
written on the writer thread, only for the frames the dataset asks for, equal to merging them in order on
the caller's thread."""
from __future__ import annotations

import threading

import numpy as np

from datasets.png import read_label_png
from datasets.registry import build_reader
from datasets.synthetic import generate
from infra.resolution import WorkingVideo
from experiments.run.vos import predict_video
from tests.fakes import DiskSegmenter, ScriptedTracker
from trackers.sampt.model import SamPt
from trackers.sampt.engine import VideoObjects


def test_only_written_frames_are_merged_on_the_writer_thread_and_equal_the_serial_merge(tmp_path, monkeypatch):
    info = generate(tmp_path / "YT", "ytvos", num_videos=1, num_frames=16, height=90, width=160)
    sparse = build_reader("ytvos18", info.root, split="valid", all_frames=True).video("synth-000")
    assert set(sparse.frames_to_write) < set(range(sparse.num_frames))  # all frames run, every 5th is scored

    def sampt():
        return SamPt(ScriptedTracker(), DiskSegmenter(radius=6), iterative_refinement_iterations=1, seed=0)

    merged, threads = [], set()
    original = SamPt.merge_frame

    def recording(self, *args):
        merged.append(args[5])  # t
        threads.add(threading.get_ident())
        return original(self, *args)

    readers = []
    read_frame = WorkingVideo.frame

    def reading(self, t):
        readers.append(threading.get_ident())
        return read_frame(self, t)

    monkeypatch.setattr(SamPt, "merge_frame", recording)
    monkeypatch.setattr(WorkingVideo, "frame", reading)
    predict_video(sampt(), sparse, tmp_path / "sparse")
    assert merged and set(merged) <= set(sparse.frames_to_write)
    assert threading.get_ident() not in threads
    # query points (and the tracker) read on the caller's thread; the frame loop's frames are read ahead
    assert threading.get_ident() in readers and set(readers) - {threading.get_ident()}

    source = WorkingVideo(sparse, None)
    run = sampt().run_video(source, VideoObjects.from_masks(source.first_masks()), sparse.name)
    serial = dict(run.label_maps(output_size=tuple(sparse.size)))
    for t in sparse.frames_to_write:
        np.testing.assert_array_equal(read_label_png(tmp_path / "sparse" / f"{sparse.frame_names[t]}.png"), serial[t])
    assert len(set(np.unique(np.stack(list(serial.values())))) - {0}) >= 1
