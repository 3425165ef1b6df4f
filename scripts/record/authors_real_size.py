"""Record the authors' VOS evaluation at their 1024 working size on a DAVIS-size clip, with point reinit and
with patch-similarity filtering (tests/fixtures/authors_real_size).

The inputs are those of `scripts.record.authors_eval` made with other constants
(`tests.inputs.make_authors_real_size_inputs`: `AUTHORS_REAL_VIDEO`, three objects over six frames with
480x854 annotations and 960x1708 Full-Resolution frames, and `AUTHORS_REAL_SAM_IOU_BIAS`); their working
size is 576x1024 (``longest_size=1024``, their default). Each entry of `AUTHORS_REAL_SETTINGS` runs once:
``reinit`` (variant A, SAM's IoU threshold rejecting masks) and ``patch`` (the filter at 0.01). Their
evaluation entry point runs unmodified (`scripts.record.authors_eval.run_official_eval`); the counting
wrappers of `scripts.record.authors_reinit` and `scripts.record.authors_patch` note what ran. Commands::

    .venv/bin/python -m scripts.record.authors_real_size inputs --out /tmp/authors_real_size_inputs
    /path/to/venv/bin/python -m scripts.record.authors_real_size record --official /path/to/sam-pt \\
        --inputs /tmp/authors_real_size_inputs --out tests/fixtures/authors_real_size

`tests/experiments/run/test_authors_real_size_path.py` regenerates the inputs, runs ours and compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.authors_eval import import_official_eval, input_paths
from scripts.record.authors_patch import count_patch_filtering, run_settings
from scripts.record.authors_reinit import count_branches, install_kmedoids_stand_in
from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_PIPS_SEED, AUTHORS_REAL_SAM_IOU_BIAS, AUTHORS_REAL_SETTINGS, AUTHORS_REAL_VIDEO, AUTHORS_SAM_SEED,
    PIPS_DAMPING, make_authors_real_size_inputs,
)

#: their working size (``longest_size``)
LONGEST_SIZE = 1024


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation with each of `AUTHORS_REAL_SETTINGS`; write ``out/labels.npz``
    (``labels_<key>``: (T, 480, 854) uint8, ``frames``) and ``out/recording.json`` (settings and counts)."""
    paths = input_paths(inputs, make_authors_real_size_inputs)
    install_kmedoids_stand_in()  # the recording never fits k-medoids (Shi-Tomasi finds the points)
    official_eval = import_official_eval(official, inputs)
    from sam_pt.modeling.sam_pt import SamPt

    counters = [count_branches(SamPt), count_patch_filtering(SamPt)]
    arrays, runs = run_settings(official_eval, paths, AUTHORS_REAL_SETTINGS, Path(inputs).resolve(),
                                LONGEST_SIZE, counters)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "labels.npz", **arrays)
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_REAL_VIDEO,
            "settings": AUTHORS_REAL_SETTINGS, "pips_seed": AUTHORS_PIPS_SEED, "pips_damping": PIPS_DAMPING,
            "sam_seed": AUTHORS_SAM_SEED, "sam_iou_bias": AUTHORS_REAL_SAM_IOU_BIAS, "longest_size": LONGEST_SIZE,
            "labels_shape": list(arrays["labels_reinit"].shape), "runs": runs}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' evaluation at 1024 with reinit and with patch filtering",
                                    "tests/fixtures/authors_real_size", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_real_size_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
