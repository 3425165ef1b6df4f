"""Record the official VOST evaluator (tests/fixtures/official_vost).

The inputs are deterministic (`tests.inputs.make_vost_inputs`, shared with the test): a synthetic VOST val
root (`tests.inputs.VOST_GT`: 3 videos of 48 frames, indexed masks of 3 objects on every 5th frame with a
void (255) ring around object 1; object 2 starts on frame 10, leaves the frame and comes back) and seeded
predictions: jittered copies of the GT masks, one object never predicted, one predicted before the GT
shows it, one predicted over its void ring, and an id the GT lacks (`tests.inputs.VOST_CASES`).

`record` imports ``evaluation/source/evaluation.py`` of a TRI-ML/VOST checkout (unmodified; it needs numpy,
scipy, pillow, opencv and tqdm) and calls ``Evaluation(...).evaluate`` as ``evaluation_method.py`` does,
storing every object's J and J_last Mean, Recall and Decay and the global means (``np.mean`` over the
objects, as ``evaluation_method.py``) unrounded in ``vost.json``; it also runs ``evaluation_method.py``
itself on a copy of the predictions and keeps the two rounded CSVs it writes. Commands, from this
repository's root::

    .venv/bin/python -m scripts.record.vost inputs --out /tmp/vost_inputs
    .venv/bin/python -m scripts.record.vost record --official /path/to/VOST --inputs /tmp/vost_inputs \\
        --out tests/fixtures/official_vost

`tests/evaluation/test_official_vost.py` regenerates the inputs (`tests.inputs`) and compares
`evaluation.vost.evaluate_vost`.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import make_vost_inputs

NAMES = ("J-Mean", "J-Recall", "J-Decay", "J_last-Mean", "J_last-Recall", "J_last-Decay")


def run_official(official: Path, root: Path, predictions: Path, split: str = "val") -> dict:
    """The official scores, unrounded fractions: ``global`` {NAMES} and ``per_object`` {"<video>_<id>": {NAMES}}."""
    import numpy as np

    sys.path.insert(0, str(Path(official) / "evaluation"))
    from source.evaluation import Evaluation

    with contextlib.redirect_stdout(io.StringIO()):  # it prints every frame without an annotation
        metrics = Evaluation(dataset_root=str(root), gt_set=split).evaluate(str(predictions))
    keys = list(metrics["J"]["M_per_object"])
    columns = [metrics[measure][stat] for measure in ("J", "J_last") for stat in ("M", "R", "D")]
    per_object = {key: {name: float(column[i]) for name, column in zip(NAMES, columns)} for i, key in enumerate(keys)}
    return {"global": {name: float(np.mean(column)) for name, column in zip(NAMES, columns)},
            "per_object": per_object}


def official_csvs(official: Path, root: Path, predictions: Path, out: Path, split: str = "val") -> list[str]:
    """Run ``evaluation_method.py`` on a copy of ``predictions`` and copy the CSVs it writes into ``out``."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "pred"
        shutil.copytree(predictions, copy)
        subprocess.run([sys.executable, "evaluation_method.py", "--dataset_path", str(Path(root).resolve()),
                        "--set", split, "--results_path", str(copy)], cwd=Path(official) / "evaluation",
                       check=True, capture_output=True)
        names = [f"global_results-{split}.csv", f"per-sequence_results-{split}.csv"]
        for name in names:
            shutil.copyfile(copy / name, out / name)
    return names


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Score the inputs with the official evaluator and write ``out/vost.json`` and its CSVs."""
    official = Path(official).resolve()
    inputs = Path(inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recorded = {"official_commit": official_commit(official, commit), "units": "fraction (unrounded)",
                "scores": run_official(official, inputs / "gt", inputs / "pred"),
                "csvs": official_csvs(official, inputs / "gt", inputs / "pred", out)}
    (out / "vost.json").write_text(json.dumps(recorded, indent=1) + "\n")
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the synthetic VOST ground truth and predictions",
                                    "run the official VOST evaluator on them", "tests/fixtures/official_vost",
                                    official="a checkout of TRI-ML/VOST")
    return run_recording_cli(parser, argv, make_vost_inputs, record,
                             lambda recorded: recorded["scores"]["global"])


if __name__ == "__main__":
    sys.exit(main())
