"""Record DAVIS 2016 scoring as the authors run it, with the public DAVIS 2016 fork of the DAVIS 2017
evaluator (tests/fixtures/official_davis16).

The authors score D16 with ``DAVISEvaluation(davis_root=<DAVIS 2017 trainval>, task="semi-supervised",
gt_set="val", year="2016")`` (SysCV/sam-pt 874ff7e, ``sam_pt/vos_eval/davis2017eval.py`` called from
``sam_pt/vos_eval/eval.py``) from the fork pinned in their requirements.txt
(m43/davis2016-davis2017-davis2019-evaluation @35401a5), whose source was not available to this recording.
It is recorded instead with hkchengrex/davis2016-evaluation, the public fork with that same ``year``
argument: ``year="2016"`` reads ``ImageSets/2016/<set>.txt``, takes every object of a ground-truth frame as
the one foreground object (255 is void) and reads predictions as foreground where > 128.

Inputs (`tests.inputs.make_davis16_inputs`, shared with the test): a synthetic DAVIS 2017 trainval root
with ``ImageSets/2016/val.txt`` and binary 0/255 predictions (perturbed foregrounds, an empty frame, a
video never predicted). Commands::

    .venv/bin/python -m scripts.record.davis16 inputs --out /tmp/davis16_inputs
    /path/to/venv/bin/python -m scripts.record.davis16 record --official /path/to/davis2016-evaluation \\
        --inputs /tmp/davis16_inputs --out tests/fixtures/official_davis16

`tests/evaluation/test_official_davis16.py` regenerates the inputs and compares `evaluation.vos.evaluate_vos`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from scripts.record.davis import official_scores
from tests.inputs import DAVIS16_EMPTY, DAVIS16_SEED, DAVIS16_UNPREDICTED, DAVIS16_VIDEOS, make_davis16_inputs


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the fork's evaluator (year 2016) on ``inputs`` and write ``out/davis16.json``."""
    official = Path(official).resolve()
    sys.path.insert(0, str(official))
    from davis2017.evaluation import DAVISEvaluation

    root = Path(inputs) / "DAVIS"
    sequences = (root / "ImageSets" / "2016" / "val.txt").read_text().split()
    evaluation = DAVISEvaluation(davis_root=str(root), task="semi-supervised", gt_set="val", year="2016")
    result = {
        "official": {"repository": "hkchengrex/davis2016-evaluation", "commit": official_commit(official, commit),
                     "numpy": np.__version__},
        "settings": {"videos": DAVIS16_VIDEOS, "seed": DAVIS16_SEED, "empty": DAVIS16_EMPTY,
                     "unpredicted": DAVIS16_UNPREDICTED},
        **official_scores(evaluation, Path(inputs) / "pred", sequences),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "davis16.json").write_text(json.dumps(result, indent=1) + "\n")
    return {"global": result["global"], "objects": len(result["per_object"])}


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the DAVIS root and the binary predictions",
                                    "run the DAVIS 2016 fork's evaluator on the inputs",
                                    "tests/fixtures/official_davis16", official="a checkout of davis2016-evaluation")
    return run_recording_cli(parser, argv, make_davis16_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
