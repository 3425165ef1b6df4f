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


def test_the_authors_options_reach_predict_video_from_the_config(tmp_path, monkeypatch):
    """``dataset.flip``, ``dataset.input_only_one_gt_mask_point`` and ``dataset.save_scores`` (off by default, as
    the authors' configs/vos_eval_root.yaml) reach `predict_video`; scores and per-object masks exclude each other."""
    import pytest

    from experiments.run import vos
    from experiments.run.schema import compose_config

    keys = ("flip", "input_only_one_gt_mask_point", "save_scores", "save_overlapping_masks")
    assert [compose_config().dataset[key] for key in keys] == [False] * 4
    cfg = compose_config(*(f"dataset.{key}=true" for key in keys[:3]), "logging.progress=false")
    info = generate(tmp_path / "D", "davis17", num_videos=1, num_frames=2, height=24, width=32)
    video = build_reader("davis17", info.root, split="val").video("synth-000")
    seen = {}

    def fake_predict(sampt, video, video_dir, visualizer=None, **options):
        seen.update(options)
        return {"seconds": 1.0, "fps": 2.0}

    monkeypatch.setattr(vos, "predict_video", fake_predict)
    monkeypatch.setattr(vos, "build_sampt", lambda *args: None)
    vos.predict_all(cfg, [video], tmp_path / "run", "hash", seed=0)
    assert [seen[key] for key in ("flip", "one_point_input", "save_scores", "overlapping")] == [True] * 3 + [False]
    with pytest.raises(ValueError, match="save_overlapping_masks"):
        predict_video(SamPt(ScriptedTracker(), DiskSegmenter()), video, tmp_path / "both", overlapping=True,
                      save_scores=True)
