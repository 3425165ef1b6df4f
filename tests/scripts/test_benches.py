"""The CPU benchmarks of `make bench` that no other test runs, on a few frames: they must run to the end
(`bench_sam_step` once broke unnoticed when the frame loop changed), and their checks must hold."""
from __future__ import annotations


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


def test_bench_trackers_neural_runs(monkeypatch, capsys):
    import scripts.bench.trackers as bench

    for name, value in (("NUM_FRAMES", 4), ("NEURAL_FRAMES", 3), ("HEIGHT", 96), ("WIDTH", 128)):
        monkeypatch.setattr(bench, name, value)
    bench.main(neural=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["lk", "flow", "pips", "cotracker_v1"]
    assert all("s/frame  (" in line and "for 3 frames" in line for line in lines[3:])


def test_bench_segmenters_runs(monkeypatch, capsys):
    import scripts.bench.segmenters as bench

    monkeypatch.setattr(bench, "REPEATS", 1)
    bench.main()
    out = capsys.readouterr().out
    assert "tiny SAM   embed" in out and "GrabCut    embed" in out


def test_bench_sav_runs_and_agrees_with_the_reference(monkeypatch, capsys):
    import scripts.bench.sav as bench

    monkeypatch.setattr(bench, "BENCH_GT", dict(bench.BENCH_GT, num_videos=3, num_frames=24, height=48, width=64))
    bench.main()
    out = capsys.readouterr().out
    assert "reference.sav (1 process)" in out and "evaluation.sav workers=1" in out
    assert float(out.strip().splitlines()[-1].split()[-1]) <= 1e-9  # max |ours - reference|


def test_bench_lvos_runs_and_agrees_with_the_reference(monkeypatch, capsys):
    import scripts.bench.lvos as bench

    monkeypatch.setattr(bench, "BENCH_GT", dict(bench.BENCH_GT, num_videos=3, num_frames=40, height=48, width=64))
    bench.main()
    out = capsys.readouterr().out
    assert "reference.lvos (1 process)" in out and "evaluation.lvos workers=1" in out
    assert float(out.strip().splitlines()[-1].split()[-1]) <= 1e-9  # max |ours - reference|
