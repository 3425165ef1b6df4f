"""Record the authors' VOS evaluation with patch-similarity filtering (tests/fixtures/authors_patch).

The inputs are those of `scripts.record.authors_reinit` (`tests.inputs.make_authors_reinit_inputs`: three
objects over eight frames, working size `AUTHORS_REINIT_LONGEST_SIZE`); the knobs are `AUTHORS_PATCH_KNOBS`
(reinit off, 8 positive + 1 negative points, the filter on with 3x3 patches) with each threshold of
`AUTHORS_PATCH_THRESHOLDS` in turn, and once with the filter off (the ``off`` key: what the filter changes).
Their evaluation entry point runs unmodified (`scripts.record.authors_eval.run_official_eval`); their point
tracking method is wrapped to count, not to change, what the filter does (`count_patch_filtering`): the
(frame, point) entries it marks non-similar and those it rejects after a non-similar one. Commands::

    .venv/bin/python -m scripts.record.authors_patch inputs --out /tmp/authors_patch_inputs
    /path/to/venv/bin/python -m scripts.record.authors_patch record --official /path/to/sam-pt \\
        --inputs /tmp/authors_patch_inputs --out tests/fixtures/authors_patch

`tests/experiments/run/test_authors_patch_path.py` regenerates the inputs, runs ours and compares.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from scripts.record.authors_eval import import_official_eval, input_paths, run_official_eval
from scripts.record.authors_reinit import install_kmedoids_stand_in
from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_PATCH_KNOBS, AUTHORS_PATCH_THRESHOLDS, AUTHORS_PIPS_SEED, AUTHORS_REINIT_LONGEST_SIZE,
    AUTHORS_REINIT_SAM_IOU_BIAS, AUTHORS_REINIT_VIDEO, AUTHORS_SAM_SEED, PIPS_DAMPING, make_authors_reinit_inputs,
)

#: their ``PointVisibilityType`` values (sam_pt/utils/util.py at 874ff7e) that the filter writes
PATCH_NON_SIMILAR, REJECTED_AFTER_PATCH = -3, -4


def count_patch_filtering(sam_pt_class) -> Counter:
    """Wrap the authors' ``SamPt.__track_points_inner`` so that each call's visibilities are counted (outputs
    unchanged): tracked (frame, point) entries, those marked non-similar and those rejected after one."""
    counts: Counter = Counter()
    track = sam_pt_class._SamPt__track_points_inner

    def counted_track(self, rgbs, query_points):
        trajectories, visibilities = track(self, rgbs, query_points)
        counts["point_frames"] += int(visibilities.numel())
        counts["point_frames_patch_non_similar"] += int((visibilities == PATCH_NON_SIMILAR).sum())
        counts["point_frames_rejected_after_non_similar"] += int((visibilities == REJECTED_AFTER_PATCH).sum())
        counts["point_frames_visible"] += int((visibilities == 1).sum())
        return trajectories, visibilities

    sam_pt_class._SamPt__track_points_inner = counted_track
    return counts


def run_settings(official_eval, paths: dict, settings: dict, run_root: Path, longest_size: int,
                 counters: list[Counter]) -> tuple[dict, dict]:
    """Run the authors' evaluation once per ``settings`` entry (key -> knobs); returns the arrays
    (``labels_<key>``: (T, H, W) uint8, ``frames``) and, per key, what ``counters`` counted and the object
    pixels."""
    arrays, runs = {}, {}
    for key, knobs in settings.items():
        for counts in counters:
            counts.clear()
        labels, frames = run_official_eval(official_eval, paths, knobs, run_root / f"official_run_{key}",
                                           longest_size=longest_size)
        arrays[f"labels_{key}"], arrays["frames"] = labels, np.array(frames)
        counted = {name: value for counts in counters for name, value in counts.items()}
        runs[key] = {**counted, "object_pixels": {int(k): int((labels == k).sum()) for k in np.unique(labels)}}
    return arrays, runs


def patch_settings() -> dict:
    """Fixture key -> the authors' knobs: each threshold of `AUTHORS_PATCH_THRESHOLDS`, and ``off``."""
    settings = {key: {**AUTHORS_PATCH_KNOBS, "patch_similarity_threshold": threshold}
                for key, threshold in AUTHORS_PATCH_THRESHOLDS.items()}
    return {**settings, "off": {**AUTHORS_PATCH_KNOBS, "use_patch_matching_filtering": False}}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation with each of `patch_settings`; write ``out/labels.npz`` and
    ``out/recording.json`` (settings and counts)."""
    paths = input_paths(inputs, make_authors_reinit_inputs)
    install_kmedoids_stand_in()  # the recording never fits k-medoids (Shi-Tomasi finds the points)
    official_eval = import_official_eval(official, inputs)
    from sam_pt.modeling.sam_pt import SamPt

    counts = count_patch_filtering(SamPt)
    arrays, runs = run_settings(official_eval, paths, patch_settings(), Path(inputs).resolve(),
                                AUTHORS_REINIT_LONGEST_SIZE, [counts])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "labels.npz", **arrays)
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_REINIT_VIDEO,
            "knobs": AUTHORS_PATCH_KNOBS, "thresholds": AUTHORS_PATCH_THRESHOLDS, "pips_seed": AUTHORS_PIPS_SEED,
            "pips_damping": PIPS_DAMPING, "sam_seed": AUTHORS_SAM_SEED, "sam_iou_bias": AUTHORS_REINIT_SAM_IOU_BIAS,
            "longest_size": AUTHORS_REINIT_LONGEST_SIZE, "labels_shape": list(arrays["labels_off"].shape),
            "runs": runs}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' evaluation with each patch-similarity threshold",
                                    "tests/fixtures/authors_patch", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_reinit_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
