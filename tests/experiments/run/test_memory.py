"""Memory that does not grow with the video: one SAM-PT video of 30 and of 300 frames, each measured in a
fresh process (`scripts.bench.memory`, peak RSS from Linux ``VmHWM`` as `experiments.run.vos.peak_rss_bytes`).

Components of the embedded default (``lk`` + ``grabcut``), made cheap (GrabCut at 64 px, no refinement) on
a 320x240 synthetic DAVIS video written to disk (JPEG frames decoded for real). Holding the frames, as the
pipeline did before it streamed them, costs 225 KiB per frame (RGB) plus 75 KiB (grey): about 80 MiB more
at 300 frames; the bound below allows 25 MiB.
"""
import sys

import pytest

from datasets.synthetic import write_long_davis
from reference.runs import collect_pass
from trackers.sampt.engine import VideoObjects

OVERRIDES = ["model.iterative_refinement_iterations=0", "segmenter.options.work_long_side=64"]
ALLOWED_GROWTH_MIB = 25


def _peak_mib(root, out) -> tuple[float, dict]:
    from scripts.bench.memory import measure_in_subprocess

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


def test_reinit_streams_frames_within_one_horizon():
    """SAM-PT-reinit yields frame t's label map before frame t + horizon + 1 is embedded (one horizon of
    low-res logits held, not (T, M, 256, 256); before streaming all 40 frames were embedded first), and
    its masks are those of the same pass collected whole."""
    import numpy as np

    from tests.fakes import DiskSegmenter, Recorder, ScriptedTracker, frames_with_ids
    from trackers.sampt.model import SamPt

    horizon = 4
    segmenter = Recorder(DiskSegmenter(radius=8))
    sampt = SamPt(ScriptedTracker(), segmenter, use_point_reinit=True, reinit_horizon=horizon,
                  reinit_point_tracker_horizon=6, iterative_refinement_iterations=0)
    mask = np.zeros((48, 64), bool)
    mask[14:34, 20:44] = True
    frames = frames_with_ids(40)
    run = sampt.run_video(frames, VideoObjects.from_masks({1: (0, mask)}), "v")
    labels = []
    for t, label_map in run.label_maps():
        assert segmenter.embeds <= t + horizon + 1, f"frame {t} yielded after {segmenter.embeds} embeddings"
        labels.append(label_map)
    assert segmenter.embeds == 40 and len(labels) == 40
    collected = collect_pass(sampt.run_video(frames, VideoObjects.from_masks({1: (0, mask)}), "v").groups[0].reinit)  # the same pass, held whole
    np.testing.assert_array_equal((np.stack(labels) == 1).any(axis=(1, 2)), collected.has_mask[:, 0])
    assert collected.has_mask[:, 0].sum() > 30
