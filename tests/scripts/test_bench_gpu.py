"""`scripts/bench/gpu.py --smoke`: the GPU benchmark script runs end to end on CPU with tiny models, so it is
known to work before a GPU ever sees it (`make bench-gpu-smoke`)."""
from __future__ import annotations

import pytest


def test_bench_gpu_smoke_measures_every_eager_configuration(capsys):
    from scripts.bench.gpu import MODELS, configurations, main

    results = main(["--smoke"])
    output = capsys.readouterr().out
    assert list(results) == [config.name for config in configurations(MODELS)]
    for config in configurations(MODELS):
        result = results[config.name]
        if config.compile:
            assert result["status"].startswith("skipped: compiled configurations run on CUDA only")
            continue
        if config.bf16 and config.model != MODELS[0]:
            assert result["status"].startswith("skipped: bf16 on CPU is slow")
            continue
        assert result["status"] == "ok", (config.name, result["status"])
        assert result["fps"] > 0 and result["peak_gpu_mib"] is None
        assert result["labels"].shape == (3, 64, 112)
        assert result["decoder_calls_per_frame"] > 0
        assert result["seconds_per_frame_in"]["SAM encoder"] > 0
        if config.bf16:  # bf16 autocast (also on CPU) against the same model in fp32
            assert 0.5 < result["iou_vs_fp32"] <= 1.0
        else:  # the reference itself
            assert result["iou_vs_fp32"] is None
    assert "the authors' 1.4 fps" in output and "sam_vit_h fp32" in output


def test_bench_gpu_without_cuda_and_without_smoke_says_what_to_do(monkeypatch, capsys):
    import torch

    from scripts.bench.gpu import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "bench-gpu-smoke" in capsys.readouterr().err
