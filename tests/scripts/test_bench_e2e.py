"""The whole-pipeline benchmark (`scripts/bench/e2e.py`) on a small video, the straightforward path it
measures against (`reference/pipeline.py`), and its per-stage timer."""
from __future__ import annotations

import numpy as np
import pytest

from tests.fakes import Unbatched, tiny_sam_segmenter
from scripts.bench.pipeline import StageTimer, build_model, random_pips, read_labels, synthetic_davis_video

SMALL = ["--frames", "3", "--height", "64", "--width", "112", "--longest-side", "160"]


def test_ours_equals_the_straightforward_path_with_one_decoder_call_per_object(tmp_path):
    """`predict_video` and `reference_predict_video` on a synthetic DAVIS video (Full-Resolution frames,
    working size 160, random PIPS, tiny SAM, the paper's knobs): identical label maps on every pixel when
    ours also calls the decoder once per object (the reference's only difference that rounds)."""
    from experiments.run.vos import predict_video
    from reference.pipeline import reference_predict_video

    cfg, video = synthetic_davis_video(tmp_path / "data", 3, 64, 112, 3, 0, "longest_side=160")
    sampt = build_model(cfg, Unbatched(tiny_sam_segmenter()), random_pips(cfg, "cpu"))
    predict_video(sampt, video, tmp_path / "ours", longest_side=cfg.longest_side)
    expected = reference_predict_video(sampt, video, tmp_path / "reference", longest_side=cfg.longest_side)
    ours = read_labels(tmp_path / "ours", video)
    np.testing.assert_array_equal(read_labels(tmp_path / "reference", video), expected)
    assert ours.shape == (3, 64, 112)
    later = ours[1:]  # frame 0 is the given masks: SAM must have drawn objects on the others
    assert len(set(np.unique(later)) - {0}) >= 2
    np.testing.assert_array_equal(ours, expected)


def test_reference_rejects_knobs_it_does_not_implement(tmp_path):
    from reference.pipeline import check_knobs

    cfg, _ = synthetic_davis_video(tmp_path / "data", 2, 64, 112, 2, 0, "model.use_point_reinit=true")
    sampt = build_model(cfg, tiny_sam_segmenter(), None)
    with pytest.raises(ValueError, match="use_point_reinit=False only"):
        check_knobs(sampt)


def test_bench_e2e_runs_both_paths_and_reports_every_stage():
    from scripts.bench.e2e import METHODS, main

    summary = main([*SMALL, "--repeats", "1"])
    assert summary["pixel_agreement"] >= 0.9999 and summary["mean_object_iou"] >= 0.999
    assert summary["speedup"] == pytest.approx(summary["fps"]["ours"] / summary["fps"]["reference"])
    for method in METHODS:
        stages = summary["seconds_per_frame_in"][method]
        for name in ("decode", "query points", "point tracking", "tracker encoder", "SAM encoder", "SAM decoder",
                     "merge", "PNG writing"):
            assert stages[name] > 0, (method, name)
        assert sum(stages.values()) == pytest.approx(1 / summary["fps"][method])
    # the reference calls the decoder once per object and pass; ours batches the objects
    assert summary["decoder_calls_per_frame"]["reference"] > summary["decoder_calls_per_frame"]["ours"]
    # ours encodes the 3 frames once; the reference encodes a window per PIPS call: twice the query window
    # (SAM-PT's feat_init pass), once each later window start
    calls = summary["tracker_encoder_calls_per_frame"]
    assert calls["ours"] == 1 / 3 and calls["reference"] >= 2 / 3


def test_stage_timer_counts_nested_time_for_the_inner_stage_only(monkeypatch):
    clock = iter([0.0, 1.0, 3.0, 10.0])  # outer starts 0, inner 1..3, outer ends 10
    monkeypatch.setattr("scripts.bench.pipeline.time.perf_counter", lambda: next(clock))
    timer = StageTimer()
    with timer.stage("outer"):
        with timer.stage("inner"):
            pass
    assert dict(timer.seconds) == {"outer": 8.0, "inner": 2.0}
    table = timer.table(12.0)
    assert table["other"] == 2.0 and table["decode"] == 0.0 and table["outer"] == 8.0


def test_stage_timer_keeps_a_background_thread_out_of_the_callers_stage():
    """A stage on another thread (the PNG writer) while the caller is inside a stage: each gets its own
    time; the caller's stage is not charged less for it (this broke exclusive times before, < 0 s)."""
    import threading
    import time

    timer = StageTimer()
    with timer.stage("outer"):
        worker = threading.Thread(target=lambda: timer.wrap(time.sleep, "inner")(0.05))
        worker.start()
        worker.join()
    assert timer.seconds["inner"] >= 0.05
    assert timer.seconds["outer"] >= 0.05  # would be ~0 if the thread's stage were taken as nested
