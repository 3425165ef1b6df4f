"""Memory that does not grow with the video, measured as the memory benchmark measures it: one SAM-PT video
of 30 and of 300 frames, each in a fresh process (`scripts.bench.memory.measure_in_subprocess`, peak RSS from
Linux ``VmHWM`` as `experiments.run.vos.peak_rss_bytes`).

Components of the embedded default (``lk`` + ``grabcut``), made cheap (GrabCut at 64 px, no refinement) on
a 320x240 synthetic DAVIS video written to disk (JPEG frames decoded for real). Holding the frames, as the
pipeline did before it streamed them, costs 225 KiB per frame (RGB) plus 75 KiB (grey): about 80 MiB more
at 300 frames; the bound below allows 25 MiB.
"""
import sys

import pytest

from datasets.synthetic import write_long_davis
from scripts.bench.memory import measure_in_subprocess

OVERRIDES = ["model.iterative_refinement_iterations=0", "segmenter.options.work_long_side=64"]
ALLOWED_GROWTH_MIB = 25


def _peak_mib(root, out) -> tuple[float, dict]:
    info = measure_in_subprocess(root, out, OVERRIDES)
    return info["peak_rss_bytes"] / 2**20, info


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS is read from /proc (Linux)")
def test_peak_memory_does_not_grow_with_the_video(tmp_path):
    short = write_long_davis(tmp_path / "short", 30, 240, 320, 3)
    long = write_long_davis(tmp_path / "long", 300, 240, 320, 3)
    short_peak, short_info = _peak_mib(short, tmp_path / "out_short")
    long_peak, long_info = _peak_mib(long, tmp_path / "out_long")
    assert short_info["num_frames"] == 30 and long_info["num_frames"] == 300
    assert long_peak - short_peak < ALLOWED_GROWTH_MIB, (
        f"peak RSS {short_peak:.0f} MiB at 30 frames, {long_peak:.0f} MiB at 300 frames")
