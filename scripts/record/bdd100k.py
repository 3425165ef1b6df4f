"""Record the authors' BDD100K evaluator (tests/fixtures/official_bdd100k).

The inputs are deterministic (`tests.inputs.make_bdd100k_inputs`, shared with the test): a synthetic BDD100K VOS
root (`tests.inputs.BDD100K_GT`: 3 sequences of 36 frames at 72x96, every frame annotated) with GT edits (an
object that vanishes and returns, a short one, one on the last frame only, a medium one, a sequence of one
object, `tests.inputs.BDD100K_GT_EDITS`), seeded predictions (label maps: jittered GT masks, an object never
predicted, one predicted before it starts, an empty frame, a sequence predicted as 0/255 maps; and each
object's own mask, overlapping), and a second root of one sequence with 300 objects (ids above 255, 16-bit
PNGs, `tests.inputs.BDD100K_WIDE`).

`record` runs ``BDD100KEvaluator(results_path, dataset_path).evaluate()`` of SysCV/sam-pt
(``sam_pt/vos_eval/bdd100keval.py``; it imports the davis2017-evaluation package, pandas, torch, tqdm) in a
subprocess three times, each on a fresh copy of the predictions: ``default`` (the label maps, as the authors'
``eval.py`` calls it), ``overlapping`` (``object_overlapping_allowed=True`` on ``<seq>/masks.pt``, the (T, N + 1,
H, W) bool tensor of the per-object masks, one of the formats the tool reads in that mode) and ``wide`` (the
300-object root, with the tool's ``masks != 255`` assertion lifted: it guards against DAVIS's void value and
stops any sequence with 255 or more objects; nothing else changes). It stores the unrounded global table and
per-object table that ``evaluate()`` returns and the two CSV files it writes. Commands, from this repository's
root::

    .venv/bin/python -m scripts.record.bdd100k inputs --out /tmp/bdd100k_inputs
    .venv/bin/python -m scripts.record.bdd100k record --official /path/to/sam-pt --davis /path/to/davis2017-evaluation \\
        --inputs /tmp/bdd100k_inputs --out tests/fixtures/official_bdd100k   (with --commit / --davis-commit for exports)

`tests/evaluation/test_official_bdd100k.py` regenerates the inputs (`tests.inputs`) and compares
`evaluation.bdd100k.evaluate_bdd100k`.
"""
from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import make_bdd100k_inputs

#: run in a subprocess: import the official bdd100keval (optionally without the 255 assertion), evaluate, and
#: print its two tables as JSON
DRIVER = """\
import json, sys
official, davis, mode, split_dir, results = sys.argv[1:6]
sys.path[:0] = [official, davis]
from sam_pt.vos_eval import bdd100keval
if mode == "wide":
    bdd100keval.BDD100K.get_all_masks = lambda self, sequence: self._get_all_elements(sequence, "masks")
evaluator = bdd100keval.BDD100KEvaluator(results_path=results, dataset_path=split_dir,
                                         object_overlapping_allowed=mode == "overlapping")
table_g, table_seq = evaluator.evaluate()
rows = [{key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
        for row in table_seq.to_dict(orient="records")]
print("@@JSON@@" + json.dumps({"global": {key: float(value[0]) for key, value in table_g.items()}, "rows": rows}))
"""
MODES = ("default", "overlapping", "wide")


def _none_for_nan(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def masks_pt(overlapping: Path, split_dir: Path, results: Path) -> None:
    """``results/<seq>/masks.pt``: (T, N + 1, H, W) bool of the per-object PNGs (channel 0, background, empty)."""
    import numpy as np
    import torch

    from datasets.png import read_label_png
    from datasets.registry import read_videos

    for video in read_videos("bdd100k", split_dir.parent, split_dir.name):
        stack = np.zeros((video.num_frames, len(video.objects) + 1) + tuple(video.size), bool)
        for t, frame in enumerate(video.frame_names):
            for object_id in video.object_ids:
                stack[t, object_id] = read_label_png(overlapping / video.name / video.object_folder(object_id)
                                                     / f"{frame}.png") > 0
        (results / video.name).mkdir(parents=True)
        torch.save(torch.from_numpy(stack), results / video.name / "masks.pt")


def run_official(official: Path, davis: Path, mode: str, split_dir: Path, predictions: Path) -> dict:
    """The tool's tables (``global``: column -> value; ``per_object``: "<seq>_<id>" -> its row, NaN -> None) and
    its two CSV files (``files``: name -> text) for one ``mode`` of `MODES`."""
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "run" / "results"
        if mode == "overlapping":
            masks_pt(predictions, split_dir, results)
        else:
            shutil.copytree(predictions, results)
        command = [sys.executable, "-c", DRIVER, str(official), str(davis), mode, str(split_dir), str(results)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the official BDD100KEvaluator failed ({mode}):\n{done.stderr[-3000:]}")
        tables = json.loads(done.stdout.split("@@JSON@@")[-1])
        files = {name: (results / name).read_text() for name in ("global_results.csv", "per-sequence_results.csv")}
    per_object = {row.pop("Sequence"): {k: _none_for_nan(v) for k, v in row.items()} for row in tables["rows"]}
    return {"global": {k: _none_for_nan(v) for k, v in tables["global"].items()}, "per_object": per_object,
            "files": files}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None, davis: Path | None = None,
           davis_commit: str | None = None) -> dict:
    """Score the inputs with the official evaluator in every mode and write ``out/bdd100k.json``."""
    official, inputs = Path(official).resolve(), Path(inputs).resolve()
    davis = Path(davis).resolve()
    runs = {"default": (inputs / "gt" / "val", inputs / "pred"),
            "overlapping": (inputs / "gt" / "val", inputs / "overlapping"),
            "wide": (inputs / "wide_gt" / "val", inputs / "wide_pred")}
    recorded = {"official_commit": official_commit(official, commit),
                "davis2017_commit": official_commit(davis, davis_commit),
                "modes": {mode: run_official(official, davis, mode, *runs[mode]) for mode in MODES}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bdd100k.json").write_text(json.dumps(recorded, indent=1) + "\n")
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser, _, rec = recording_parser(__doc__, "write the synthetic BDD100K ground truth and predictions",
                                      "run the authors' BDD100K evaluator on them", "tests/fixtures/official_bdd100k",
                                      official="a checkout of SysCV/sam-pt")
    rec.add_argument("--davis", type=Path, required=True, help="a checkout of davisvideochallenge/davis2017-evaluation")
    rec.add_argument("--davis-commit", help="its commit, when --davis is an export without .git")
    args = parser.parse_args(argv)
    recorder = functools.partial(record, davis=getattr(args, "davis", None), davis_commit=getattr(args, "davis_commit", None))
    return run_recording_cli(parser, argv, make_bdd100k_inputs, recorder,
                             lambda recorded: {mode: run["global"] for mode, run in recorded["modes"].items()})


if __name__ == "__main__":
    sys.exit(main())
