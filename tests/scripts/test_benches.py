"""The CPU benchmarks of `make bench` that no other test runs, on a few frames: they must run to the end
(`bench_sam_step` once broke unnoticed when the frame loop changed), and their checks must hold."""
from __future__ import annotations

import importlib
import time

import pytest
import torch


def test_bench_sam_step_runs_and_agrees_with_the_reference(capsys):
    from scripts.bench.sam_step import main

    summary = main(["--frames", "2", "--timed-frames", "1", "--repeats", "1", "--threads", "1"])
    assert summary["label_agreement"] > 0.999
    timings = summary["speed"]["1"]
    assert {"ours", "reference", "speedup"} <= set(timings)
    assert summary["memory"]["reference"]["tracemalloc_peak_mib"] > summary["memory"]["ours"]["tracemalloc_peak_mib"]
    assert "speed-up of ours" in capsys.readouterr().out


def test_bench_trackers_runs(monkeypatch, capsys):
    import scripts.bench.trackers as bench

    monkeypatch.setattr(bench, "NUM_FRAMES", 4)
    bench.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("4 frames") and [line.split()[0] for line in lines[1:]] == ["lk", "flow"]


def test_bench_segmenters_runs(monkeypatch, capsys):
    import scripts.bench.segmenters as bench

    monkeypatch.setattr(bench, "REPEATS", 1)
    bench.main()
    out = capsys.readouterr().out
    assert "tiny SAM   embed" in out and "GrabCut    embed" in out


@pytest.mark.parametrize("benchmark, num_frames", [("sav", 24), ("lvos", 40), ("vost", 40), ("mosev2", 40),
                                                   ("bdd100k", 12)])
def test_scoring_bench_runs_and_agrees_with_the_reference(benchmark, num_frames, monkeypatch, capsys):
    bench = importlib.import_module(f"scripts.bench.{benchmark}")
    small = dict(num_videos=3, num_frames=num_frames, height=48, width=64)
    monkeypatch.setattr(bench, "BENCH_GT", dict(bench.BENCH_GT, **small))
    bench.main()
    out = capsys.readouterr().out
    assert f"reference.{benchmark} (1 process)" in out and f"evaluation.{benchmark} workers=1" in out
    assert float(out.strip().splitlines()[-1].split()[-1]) <= 1e-9  # max |ours - reference|


def test_bench_stages_counts_and_times_every_kind_of_stage(capsys):
    from scripts.bench.stages import main

    results = main(["--smoke", "--repeats", "1", "--frames", "3"])
    assert {r.stage.split(":")[0] for r in results} == {"enc", "dec", "trk"}
    for r in results:  # counted FLOPs, a time and the fraction that follows from both and the peak
        assert r.flops > 0 and r.seconds > 0 and r.fraction > 0
        # measured before (authors' layout) and after: every stage but SuperGlue's (no speed option)
        has_option = r.stage not in ("trk:superglue", "trk:tapnet")
        assert (r.seconds_before is not None) == has_option == (r.fraction_before is not None)
        if has_option:
            before_flops = r.flops if r.flops_before is None else r.flops_before
            assert abs(r.fraction_before / r.fraction - r.seconds / r.seconds_before * before_flops / r.flops) < 1e-9
    # the plain SAM decoder: before = SAM's own MaskDecoder.forward, after = the lean one (the same function with
    # fewer FLOPs: the final attention for two tokens, the first layer's image side per frame)
    decoder = next(r for r in results if r.stage == "dec:sam_vit_h")
    assert decoder.flops_before is not None and decoder.flops < 0.9 * decoder.flops_before
    assert {"trk:raft", "trk:superglue"} <= {r.stage for r in results}
    # an encoder's "after" computes the same products through oneDNN (`onednn_flop_formulas`): the same count
    encoder = next(r for r in results if r.stage == "enc:mobilesam")
    assert encoder.flops_before is None or abs(encoder.flops / encoder.flops_before - 1) < 1e-6
    out = capsys.readouterr().out
    assert "float32 GEMM peak" in out and "enc:mobilesam (before)" in out and "enc:mobilesam (after)" in out
    assert "trk:raft (before)" in out and "trk:raft (after)" in out and "trk:superglue (after)" in out


def test_counted_flops_include_onednn_products():
    """`trackers.onednn`'s products count as ATen's would (FlopCounterMode alone counts them as zero)."""
    import torch.nn.functional as F

    from scripts.bench.stages import counted_flops
    from trackers import onednn

    if onednn._LINEAR_POINTWISE is None:
        pytest.skip("this PyTorch has no oneDNN")
    x, weight = torch.randn(3, 10, 16), torch.randn(8, 16)
    image, kernel, depthwise = torch.randn(1, 4, 9, 9), torch.randn(6, 4, 3, 3), torch.randn(4, 1, 3, 3)
    with torch.inference_mode():
        assert counted_flops(lambda: onednn.linear(x, weight)) == counted_flops(lambda: F.linear(x, weight)) > 0
        for w, groups in ((kernel, 1), (depthwise, 4)):
            fused = counted_flops(lambda: onednn.conv2d_gelu(image, w, None, (2, 2), (1, 1), (1, 1), groups))
            assert fused == counted_flops(lambda: F.conv2d(image, w, None, 2, 1, 1, groups)) > 0


def test_bench_stages_cpu_time_clock_counts_work_not_waiting():
    """``--cpu-time`` times by the thread's CPU time: a sleeping call costs ~0 s there, its wall time elsewhere."""
    import time

    from scripts.bench.stages import best_seconds, clock, parse_args

    assert clock(parse_args(["--cpu-time"])) is time.thread_time and clock(parse_args([])) is time.perf_counter
    assert best_seconds(lambda: time.sleep(0.05), 2, time.thread_time) < 0.02
    assert best_seconds(lambda: time.sleep(0.05), 2, time.perf_counter) >= 0.05


def test_bench_authors_e2e_agreement_and_their_encoder_returns_the_embedding():
    """The side-by-side bench's comparison (pixels; IoU per object and frame, frames where both lack the object
    skipped) and the authors' SAM target: MobileSAM whose encoder returns the embedding alone."""
    import tempfile

    import numpy as np
    import torch

    from scripts.bench.authors_e2e import agreement, official_mobilesam
    from trackers.segmenters.sam_models import build_sam_module

    theirs = np.zeros((2, 4, 4), np.uint8)
    theirs[0, :2] = 1
    ours = theirs.copy()
    ours[0, 0, 0] = 0  # object 1 loses one of 8 pixels on frame 0; frame 1 has no object in either
    result = agreement(ours, theirs)
    assert result["pixels_equal"] == 31 / 32 and result["mean_iou"] == result["min_iou"] == 7 / 8
    assert agreement(theirs, theirs) == {"pixels_equal": 1.0, "mean_iou": 1.0, "min_iou": 1.0}
    encoder = build_sam_module("mobilesam").image_encoder
    assert isinstance(encoder(torch.zeros(1, 3, 1024, 1024)), tuple)  # segment_anything_hq's TinyViT
    with tempfile.TemporaryDirectory() as folder:
        torch.save(build_sam_module("mobilesam").state_dict(), f"{folder}/sam.pt")
        sam = official_mobilesam(f"{folder}/sam.pt")
    with torch.no_grad():
        embedding = sam.image_encoder(torch.zeros(1, 3, 1024, 1024))
    assert isinstance(embedding, torch.Tensor) and embedding.shape == (1, 256, 64, 64)
    assert sam.image_encoder.img_size == 1024


def test_bench_stages_device_option_checks_what_it_can_time():
    from scripts.bench.stages import clock, parse_args

    assert parse_args([]).device == "cpu" and clock(parse_args(["--cpu-time"])) is time.thread_time
    with pytest.raises(SystemExit):
        parse_args(["--device", "cuda", "--cpu-time"])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            parse_args(["--device", "cuda"])
