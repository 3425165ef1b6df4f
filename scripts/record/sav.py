"""Record the official SA-V evaluator (tests/fixtures/official_sav).

The inputs are deterministic (`tests.inputs.make_sav_inputs`, shared with the test): a synthetic SA-V val
root (`tests.inputs.SAV_GT`: 3 videos of 48 frames at 24 fps, masks of 3 objects on every 4th frame;
object folder 001 starts on frame 12 and is out of the frame on frames 28 and 32) and seeded predictions:
jittered copies of the GT masks (so some frames are empty in both), one object never predicted, one
predicted before the GT shows it, one written as 0/1 masks, plus a predicted object folder and a
predicted video that the GT lacks (`tests.inputs.SAV_CASES`).

`record` imports ``sav_dataset/utils/sav_benchmark.py`` of a facebookresearch/sam2 checkout (unmodified; it
needs numpy, opencv, scikit-image, pillow and tqdm) and calls its ``benchmark`` as ``sav_evaluator.py`` does
with its defaults (no ``--strict``), once per setting of `tests.inputs.SAV_SETTINGS` (skipping the first and
last annotated frame, and ``--do_not_skip_first_and_last_frame``), and stores the global J&F, J, F and every
object's J and F (percentages, unrounded) in ``sav.json``. Commands, from this repository's root::

    .venv/bin/python -m scripts.record.sav inputs --out /tmp/sav_inputs
    .venv/bin/python -m scripts.record.sav record --official /path/to/sam2 --inputs /tmp/sav_inputs \\
        --out tests/fixtures/official_sav

`tests/evaluation/test_official_sav.py` regenerates the inputs (`tests.inputs`) and compares
`evaluation.sav.evaluate_sav`.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import SAV_SETTINGS, make_sav_inputs


def official_benchmark(official: Path):
    """``benchmark`` of ``sav_dataset/utils/sav_benchmark.py`` in the checkout ``official``, imported as
    ``sav_evaluator.py`` imports it (``utils.sav_benchmark`` with ``sav_dataset`` on the path, so that its
    process pool can pickle its evaluator)."""
    import importlib

    sys.path.insert(0, str(Path(official) / "sav_dataset"))
    return importlib.import_module("utils.sav_benchmark").benchmark


def run_official(official: Path, annotations: Path, predictions: Path, skip: bool, processes: int = 1) -> dict:
    """The official scores of one setting: ``global`` {J&F, J, F} and ``per_object`` {"<video>_<obj>": {J, F}}
    (percentages), its pool with ``processes`` processes.

    The official tool writes ``results.csv`` into the prediction folder: it runs on a copy."""
    benchmark = official_benchmark(official)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "pred"
        shutil.copytree(predictions, copy)
        jf, j, f, objects = benchmark([str(annotations)], [str(copy)], False, processes, verbose=False,
                                      skip_first_and_last=skip)
    per_object = {f"{video}_{obj}": {"J": float(iou[obj]), "F": float(boundary[obj])}
                  for video, (iou, boundary) in objects[0].items() for obj in iou}
    return {"global": {"J&F": float(jf[0]), "J": float(j[0]), "F": float(f[0])}, "per_object": per_object}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Score every setting with the official evaluator and write ``out/sav.json``."""
    official = Path(official).resolve()
    inputs = Path(inputs)
    recorded = {"official_commit": official_commit(official, commit), "units": "percent (official x 100)",
                "settings": SAV_SETTINGS, "scores": {}}
    for name, skip in SAV_SETTINGS.items():
        recorded["scores"][name] = run_official(official, inputs / "gt" / "sav_val" / "Annotations_6fps",
                                                inputs / "pred", skip)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sav.json").write_text(json.dumps(recorded, indent=1) + "\n")
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the synthetic SA-V ground truth and predictions",
                                    "run the official SA-V evaluator on them", "tests/fixtures/official_sav",
                                    official="a checkout of facebookresearch/sam2")
    return run_recording_cli(parser, argv, make_sav_inputs, record,
                             lambda recorded: {k: v["global"] for k, v in recorded["scores"].items()})


if __name__ == "__main__":
    sys.exit(main())
