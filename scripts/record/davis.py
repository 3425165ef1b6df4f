"""Record the official DAVIS 2017 evaluator on real DAVIS masks (tests/fixtures/official_davis).

Inputs (`make_inputs`, deterministic, from the OSVOS masks of the official DAVIS 2017 evaluation package in ``shared/data/davis17_val_results`` beside the repository, ``--shared-data``; no download):

- ground truth: the OSVOS masks of `SEQUENCES` (the first ``n`` frames each, lengths chosen so that the
  Decay bins differ), copied as a DAVIS 2017 root (``Annotations/480p``, black ``JPEGImages/480p``,
  ``ImageSets/2017/val.txt``); `VOID_SEQUENCE` gets a void (255) rectangle on every other frame;
- predictions: the same masks perturbed per object and frame with a seeded generator (`perturb`): shifts
  (also towards the image border), erosion/dilation, dropped objects, false positives where the object
  is absent, a swapped pair of ids, an all-empty frame, and one sequence whose last object is never
  predicted (the official zero padding).

`record` runs the official evaluator (``davis2017.evaluation.DAVISEvaluation(task="semi-supervised")``
``.evaluate``, unmodified) and the global table exactly as its ``evaluation_method.py`` builds it, and
stores per-object statistics, per-frame J and F (captured from ``_evaluate_semisupervised``) and the
global numbers in ``davis17.json``. Commands::

    # 1. inputs (this repository's venv)
    .venv/bin/python -m scripts.record.davis inputs --out /tmp/davis_inputs
    # 2. the official evaluator (davisvideochallenge/davis2017-evaluation; numpy, scipy, opencv, pillow,
    #    scikit-image, tqdm), from this repository's root
    /path/to/venv/bin/python -m scripts.record.davis record --official /path/to/davis2017-evaluation \\
        --inputs /tmp/davis_inputs --out tests/fixtures/official_davis

`tests/evaluation/test_official_davis.py` regenerates the inputs and compares `evaluation.vos.evaluate_vos`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import official_commit, recording_parser

#: sequence -> number of frames used (first n): 1 to 5 objects, widths 854, 910 and 1152
SEQUENCES = {"bike-packing": 21, "blackswan": 9, "judo": 20, "kite-surf": 30, "lab-coat": 26,
             "shooting": 13, "india": 18}
VOID_SEQUENCE = "judo"
#: this sequence's highest object id is never predicted
UNPREDICTED_LAST = "kite-surf"
#: (sequence, frame index): ids 1 and 2 swapped; all-empty prediction
SWAPPED = ("bike-packing", 7)
EMPTY = ("india", 5)
SEED = 13


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels, zero-filled."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    out[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        mask[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def perturb(labels: np.ndarray, num_objects: int, rng: np.random.Generator) -> np.ndarray:
    """A perturbed copy of one (H, W) label map (ids 1..num_objects); objects painted in id order."""
    import cv2

    out = np.zeros_like(labels)
    height, width = labels.shape
    for obj in range(1, num_objects + 1):
        mask = (labels == obj).astype(np.uint8)
        action = rng.random()
        if action < 0.1:
            continue  # dropped
        if not mask.any():
            if action < 0.4:  # a false positive where the object is absent
                y, x = rng.integers(0, height - 20), rng.integers(0, width - 30)
                out[y:y + rng.integers(3, 20), x:x + rng.integers(3, 30)] = obj
            continue
        if action < 0.2:  # pushed towards the nearest border until it touches it
            ys, xs = np.nonzero(mask)
            dy = -int(ys.min()) if ys.min() < height - 1 - ys.max() else height - 1 - int(ys.max())
            dx = -int(xs.min()) if xs.min() < width - 1 - xs.max() else width - 1 - int(xs.max())
            mask = _shift(mask, dy, dx)
        else:
            mask = _shift(mask, int(rng.integers(-6, 7)), int(rng.integers(-6, 7)))
        size = int(rng.integers(1, 5)) * 2 + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
        out[mask > 0] = obj
    return out


def make_inputs(shared_data: Path, out: Path) -> dict[str, Path]:
    """Write the DAVIS root (``out/DAVIS``) and the predictions (``out/pred``); returns both paths."""
    from datasets.png import read_label_png, write_frame, write_label_png

    source = Path(shared_data) / "davis17_val_results" / "osvos"
    root, pred = Path(out) / "DAVIS", Path(out) / "pred"
    rng = np.random.default_rng(SEED)
    for seq, frames in SEQUENCES.items():
        pngs = sorted((source / seq).glob("*.png"))[:frames]
        gt = [read_label_png(p) for p in pngs]
        num_objects = int(gt[0].max())
        black = root / "JPEGImages" / "480p" / seq / pngs[0].with_suffix(".jpg").name
        write_frame(black, np.zeros((*gt[0].shape, 3), np.uint8))
        for t, (png, labels) in enumerate(zip(pngs, gt)):
            if t:
                (black.parent / png.with_suffix(".jpg").name).symlink_to(black.name)
            predicted = perturb(labels, num_objects - (seq == UNPREDICTED_LAST), rng)
            if (seq, t) == SWAPPED:
                predicted = np.choose(predicted, [0, 2, 1, *range(3, num_objects + 1)]).astype(np.uint8)
            if (seq, t) == EMPTY:
                predicted[:] = 0
            if seq == VOID_SEQUENCE and t % 2:
                labels = labels.copy()
                labels[200:260, 300:420] = 255
            write_label_png(root / "Annotations" / "480p" / seq / png.name, labels)
            write_label_png(pred / seq / png.name, predicted)
    (root / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{seq}\n" for seq in SEQUENCES))
    return {"root": root, "predictions": pred}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the official evaluator on ``inputs`` (from `make_inputs`) and write ``out/davis17.json``."""
    official = Path(official).resolve()
    sys.path.insert(0, str(official))
    from davis2017.evaluation import DAVISEvaluation

    per_frame = []
    semisupervised = DAVISEvaluation._evaluate_semisupervised

    def capture(*args):
        j, f = semisupervised(*args)
        per_frame.append((j.tolist(), f.tolist()))
        return j, f

    DAVISEvaluation._evaluate_semisupervised = staticmethod(capture)
    evaluation = DAVISEvaluation(davis_root=str(Path(inputs) / "DAVIS"), task="semi-supervised", gt_set="val")
    metrics = evaluation.evaluate(str(Path(inputs) / "pred"))
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
    for seq, (j, f) in zip(SEQUENCES, per_frame):
        for k in range(len(j)):
            frames[f"{seq}_{k + 1}"] = {"J": j[k], "F": f[k]}
    result = {
        "official": {"repository": "davisvideochallenge/davis2017-evaluation",
                     "commit": official_commit(official, commit), "numpy": np.__version__},
        "settings": {"sequences": SEQUENCES, "seed": SEED, "void_sequence": VOID_SEQUENCE,
                     "unpredicted_last": UNPREDICTED_LAST, "swapped": SWAPPED, "empty": EMPTY},
        "global": dict(zip(["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"],
                           map(float, g_res))),
        "per_object": per_object,
        "per_frame": frames,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "davis17.json").write_text(json.dumps(result, indent=1) + "\n")
    return {"global": result["global"], "objects": len(per_object)}


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the DAVIS root and the perturbed predictions",
                                    "run the official evaluator on the inputs", "tests/fixtures/official_davis",
                                    official="a checkout of davis2017-evaluation", shared_data=True)
    args = parser.parse_args(argv)
    if args.command == "inputs":
        print(json.dumps({k: str(v) for k, v in make_inputs(args.shared_data, args.out).items()}, indent=1))
    else:
        print(json.dumps(record(args.official, args.inputs, args.out, args.commit), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
