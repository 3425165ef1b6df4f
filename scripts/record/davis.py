"""Record the official DAVIS 2017 evaluator on real DAVIS masks (tests/fixtures/official_davis).

Inputs (`tests.inputs.make_davis_inputs`, shared with the test; deterministic, from the OSVOS masks of the
official DAVIS 2017 evaluation package in ``shared/data/davis17_val_results`` beside the repository,
``--shared-data``; no download):

- ground truth: the OSVOS masks of `DAVIS_SEQUENCES` (the first ``n`` frames each, lengths chosen so that the
  Decay bins differ), copied as a DAVIS 2017 root (``Annotations/480p``, black ``JPEGImages/480p``,
  ``ImageSets/2017/val.txt``); `DAVIS_VOID_SEQUENCE` gets a void (255) rectangle on every other frame;
- predictions: the same masks perturbed per object and frame with a seeded generator (`perturb_labels`): shifts
  (also towards the image border), erosion/dilation, dropped objects, false positives where the object
  is absent, a swapped pair of ids, an all-empty frame, and one sequence whose last object is never
  predicted (the official zero padding).

This script keeps what runs the official code: `record` runs the official evaluator (``davis2017.evaluation.DAVISEvaluation(task="semi-supervised")``
``.evaluate``, unmodified) and the global table exactly as its ``evaluation_method.py`` builds it, and
stores per-object statistics, per-frame J and F (captured from ``_evaluate_semisupervised``) and the
global numbers in ``davis17.json``. Commands::

    # 1. inputs (this repository's venv)
    .venv/bin/python -m scripts.record.davis inputs --out /tmp/davis_inputs
    # 2. the official evaluator (davisvideochallenge/davis2017-evaluation; numpy, scipy, opencv, pillow,
    #    scikit-image, tqdm), from this repository's root
    /path/to/venv/bin/python -m scripts.record.davis record --official /path/to/davis2017-evaluation \\
        --inputs /tmp/davis_inputs --out tests/fixtures/official_davis

`tests/evaluation/test_official_davis.py` regenerates the inputs (`tests.inputs`) and compares `evaluation.vos.evaluate_vos`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import official_commit, recording_parser
from tests.inputs import (
    DAVIS_EMPTY, DAVIS_SEED, DAVIS_SEQUENCES, DAVIS_SWAPPED, DAVIS_UNPREDICTED_LAST, DAVIS_VOID_SEQUENCE,
    make_davis_inputs,
)


def official_scores(evaluation, results: Path, sequences) -> dict:
    """Run ``evaluation.evaluate(results)`` (an official ``DAVISEvaluation``, semi-supervised) and return its
    numbers: ``global`` (the table exactly as its ``evaluation_method.py`` builds it), ``per_object`` (Mean,
    Recall, Decay of J and F) and ``per_frame`` (J and F of every object, captured from
    ``_evaluate_semisupervised``; ``sequences`` in the order it evaluates them)."""
    per_frame = []
    semisupervised = type(evaluation)._evaluate_semisupervised

    def capture(*args):
        j, f = semisupervised(*args)
        per_frame.append((j.tolist(), f.tolist()))
        return j, f

    type(evaluation)._evaluate_semisupervised = staticmethod(capture)
    metrics = evaluation.evaluate(str(results))
    J, F = metrics["J"], metrics["F"]
    # evaluation_method.py's global table, verbatim
    final_mean = (np.mean(J["M"]) + np.mean(F["M"])) / 2.
    g_res = [final_mean, np.mean(J["M"]), np.mean(J["R"]), np.mean(J["D"]), np.mean(F["M"]), np.mean(F["R"]),
             np.mean(F["D"])]
    names = list(J["M_per_object"])
    columns = {"J-Mean": J["M"], "J-Recall": J["R"], "J-Decay": J["D"],
               "F-Mean": F["M"], "F-Recall": F["R"], "F-Decay": F["D"]}
    per_object = {name: {c: float(values[i]) for c, values in columns.items()} for i, name in enumerate(names)}
    frames = {}
    for seq, (j, f) in zip(sequences, per_frame):
        for k in range(len(j)):
            frames[f"{seq}_{k + 1}"] = {"J": j[k], "F": f[k]}
    return {"global": dict(zip(["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"],
                               map(float, g_res))),
            "per_object": per_object, "per_frame": frames}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the official evaluator on ``inputs`` (from `make_davis_inputs`) and write ``out/davis17.json``."""
    official = Path(official).resolve()
    sys.path.insert(0, str(official))
    from davis2017.evaluation import DAVISEvaluation

    evaluation = DAVISEvaluation(davis_root=str(Path(inputs) / "DAVIS"), task="semi-supervised", gt_set="val")
    scores = official_scores(evaluation, Path(inputs) / "pred", DAVIS_SEQUENCES)
    result = {
        "official": {"repository": "davisvideochallenge/davis2017-evaluation",
                     "commit": official_commit(official, commit), "numpy": np.__version__},
        "settings": {"sequences": DAVIS_SEQUENCES, "seed": DAVIS_SEED, "void_sequence": DAVIS_VOID_SEQUENCE,
                     "unpredicted_last": DAVIS_UNPREDICTED_LAST, "swapped": DAVIS_SWAPPED, "empty": DAVIS_EMPTY},
        **scores,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "davis17.json").write_text(json.dumps(result, indent=1) + "\n")
    return {"global": result["global"], "objects": len(result["per_object"])}


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the DAVIS root and the perturbed predictions",
                                    "run the official evaluator on the inputs", "tests/fixtures/official_davis",
                                    official="a checkout of davis2017-evaluation", shared_data=True)
    args = parser.parse_args(argv)
    if args.command == "inputs":
        print(json.dumps({k: str(v) for k, v in make_davis_inputs(args.shared_data, args.out).items()}, indent=1))
    else:
        print(json.dumps(record(args.official, args.inputs, args.out, args.commit), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
