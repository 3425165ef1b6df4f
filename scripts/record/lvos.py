"""Record the official LVOS evaluator (tests/fixtures/official_lvos).

The inputs are deterministic (`tests.inputs.make_lvos_inputs`, shared with the test): a synthetic LVOS valid
root (`tests.inputs.LVOS_GT`: 3 videos of 60 frames, label maps of 3 objects on every 5th frame; object 2
starts on frame 16, leaves the frame and comes back; synth-001 is unseen) with meta-file edits for the
official loop's corner cases (a ``frame_nums`` one too large, a range reaching the last annotated frame,
objects listed out of id order) and a GT block of value 255, and seeded predictions: jittered copies of the
GT masks, one object never predicted, one predicted before it starts, a predicted id and a predicted video
that the GT lacks (`tests.inputs.LVOS_CASES`).

`record` runs the official ``evaluation_method.py`` of a LingyiHongfd/lvos-evaluation checkout, unmodified
(it needs numpy, opencv, pandas, pillow, scikit-image, scipy and tqdm; its optional Cython op is not built, so
its default pure-Python boundary path runs), with ``--set valid --mp_nums 1`` in a scratch working folder
holding the inputs' ``unseen_videos.txt`` (it reads ``./unseen_videos.txt`` and ``./unsupervised_videos.txt``)
on a copy of the predictions (it writes its CSVs there), with one numpy-2 shim that does not change a number
(`scalar_shim`), and stores its global table and per-object
J, F, V at full precision (the values its CSVs round to 3 decimals) in ``lvos.json``. Commands, from this
repository's root::

    .venv/bin/python -m scripts.record.lvos inputs --out /tmp/lvos_inputs
    .venv/bin/python -m scripts.record.lvos record --official /path/to/lvos-evaluation --inputs /tmp/lvos_inputs \\
        --out tests/fixtures/official_lvos

`tests/evaluation/test_official_lvos.py` regenerates the inputs (`tests.inputs`) and compares
`evaluation.lvos.evaluate_lvos`.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import make_lvos_inputs


def scalar_shim(official: Path) -> None:
    """The tool stores the shape-(1,) results of ``db_eval_iou`` and ``db_eval_boundary`` into scalar slots,
    which numpy >= 2 refuses (older numpy took the one element, with a DeprecationWarning): wrap both (as
    ``lvos/evaluation.py`` and ``lvos/evaluation_mp.py`` import them) to return that element. The values
    stored are the same; nothing else is changed."""
    import importlib

    sys.path.insert(0, str(official))
    for module in ("lvos.evaluation", "lvos.evaluation_mp"):  # one process / its process pool (forked)
        evaluation = importlib.import_module(module)
        for name in ("db_eval_iou", "db_eval_boundary"):
            original = getattr(evaluation, name)
            if not getattr(original, "shimmed", False):
                setattr(evaluation, name, _first_element(original))


def _first_element(function):
    import numpy as np

    def wrapped(*args, **kwargs):
        return np.asarray(function(*args, **kwargs)).reshape(-1)[0]

    wrapped.shimmed = True
    return wrapped


def run_official(official: Path, split_dir: Path, predictions: Path, split: str = "valid", processes: int = 1) -> dict:
    """The official scores: ``global`` {its global columns} and ``per_object`` {"<video>_<n>": {J, F, V}}
    (fractions), read from the tables ``evaluation_method.py`` builds before rounding them into its CSVs;
    ``processes`` > 1 runs its process pool (``--mp_nums``)."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        shutil.copy(split_dir / "unseen_videos.txt", scratch / "unseen_videos.txt")
        (scratch / "unsupervised_videos.txt").write_text("")
        copy = scratch / "pred"
        shutil.copytree(predictions, copy)
        argv, cwd, path = sys.argv, os.getcwd(), list(sys.path)
        sys.argv = ["evaluation_method.py", "--lvos_path", str(split_dir), "--set", split,
                    "--results_path", str(copy), "--mp_nums", str(processes)]
        scalar_shim(official)
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                names = runpy.run_path(str(official / "evaluation_method.py"), run_name="__main__")
        finally:
            sys.argv, sys.path[:] = argv, path
            os.chdir(cwd)
    table_g, table_seq = names["table_g"], names["table_seq"]
    per_object = {row["Sequence"]: {"J": float(row["J-Mean"]), "F": float(row["F-Mean"]),
                                    "V": float(row["V-Mean"])} for row in table_seq.to_dict("records")}
    return {"global": {column: float(table_g[column][0]) for column in table_g.columns}, "per_object": per_object}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Score the inputs with the official evaluator and write ``out/lvos.json``."""
    official = Path(official).resolve()
    inputs = Path(inputs).resolve()
    recorded = {"official_commit": official_commit(official, commit), "units": "fraction (as the official tool)",
                "scores": run_official(official, inputs / "gt" / "valid", inputs / "pred")}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lvos.json").write_text(json.dumps(recorded, indent=1) + "\n")
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the synthetic LVOS ground truth and predictions",
                                    "run the official LVOS evaluator on them", "tests/fixtures/official_lvos",
                                    official="a checkout of LingyiHongfd/lvos-evaluation")
    return run_recording_cli(parser, argv, make_lvos_inputs, record, lambda recorded: recorded["scores"]["global"])


if __name__ == "__main__":
    sys.exit(main())
