"""Memory that does not grow with the video, within the engine: SAM-PT-reinit streams its frames (the peak RSS
of whole runs against the video's length: tests/scripts/test_bench_memory.py, with the memory benchmark)."""

from reference.runs import collect_pass
from trackers.sampt.engine import VideoObjects


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
    # the same pass, held whole
    collected = collect_pass(sampt.run_video(frames, VideoObjects.from_masks({1: (0, mask)}), "v").groups[0].reinit)
    np.testing.assert_array_equal((np.stack(labels) == 1).any(axis=(1, 2)), collected.has_mask[:, 0])
    assert collected.has_mask[:, 0].sum() > 30
