"""Record the authors' VOS evaluation with its options flip, input_only_one_gt_mask_point, save_scores and
save_overlapping_masks (tests/fixtures/authors_options).

The inputs are those of `scripts.record.authors_eval` (`tests.inputs.make_authors_eval_inputs`: the synthetic
DAVIS video, the damped random PIPS, the tiny random SAM) at working size `AUTHORS_OPTIONS_LONGEST_SIZE`; the
knobs are `AUTHORS_OPTIONS_KNOBS` (those of `AUTHORS_KNOBS`; no negative point in the one-point run). Their
evaluation entry point (``sam_pt/vos_eval/eval.py``) runs unmodified once per entry of `AUTHORS_OPTIONS_RUNS`
(their root config keys), and the recorder reads back what it wrote:

- the label maps (``<output>/<video>/*.png``; ``<output>/Annotations/<video>`` with ``save_scores``);
- with ``save_scores``: ``<output>/Scores/<video>/<frame>.hkl`` ((K+1, H, W) uint8 probabilities, read with
  hickle) and ``backward.hkl`` (their MaskMapper's ``{label: channel}``);
- with ``save_overlapping_masks``: ``<output>/../overlapping/<video>/logits.pt`` ((T, K+1, H, W) float32),
  stored as each object's mask ``logits > 0`` ((T, K, H, W) bool) in the fixture;
- with ``input_only_one_gt_mask_point``: the one point per object their ``extract_kmedoid_points`` returned.

Every k-medoids call of the run is logged (``sam_pt.utils.query_points.extract_kmedoid_points`` wrapped, its
output unchanged): how many mask pixels it saw and the subsample size. Their subsample is drawn with
``torch.randperm``, which our code cannot reproduce, so a call on more pixels than its subsample size is
flagged (``random_subsample``); with one cluster on all of a mask's pixels the result is the mask's medoid
whatever the order, and the margin between the smallest and second-smallest summed distance is stored
(``medoid_margin``, a tie would make the order matter). scikit-learn-extra 0.3.0 is built from source against
numpy 2 for this (its wheels need numpy 1; tests/fixtures/authors_options/README.md). Commands::

    .venv/bin/python -m scripts.record.authors_options inputs --out /tmp/authors_options_inputs
    /path/to/venv/bin/python -m scripts.record.authors_options record --official /path/to/sam-pt \\
        --inputs /tmp/authors_options_inputs --out tests/fixtures/authors_options

`tests/experiments/run/test_authors_options_path.py` regenerates the inputs, runs ours and compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.authors_eval import import_official_eval, input_paths, run_official_eval
from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_OPTIONS_KNOBS, AUTHORS_OPTIONS_LONGEST_SIZE, AUTHORS_OPTIONS_RUNS, AUTHORS_PIPS_SEED, AUTHORS_SAM_IOU_BIAS,
    AUTHORS_SAM_SEED, AUTHORS_VIDEO, AUTHORS_VIDEO_NAME, PIPS_DAMPING, make_authors_eval_inputs,
)


def medoid_margin(pixels: np.ndarray) -> float:
    """Second-smallest minus smallest summed Euclidean distance of (N, 2) ``pixels`` to all the others."""
    sums = np.sort(np.sqrt(((pixels[:, None, :] - pixels[None, :, :]) ** 2).sum(-1)).sum(1))
    return float(sums[1] - sums[0]) if len(sums) > 1 else float("inf")


def log_kmedoids(official_eval, calls: list) -> None:
    """Wrap the authors' ``extract_kmedoid_points`` (in their query-point module and in eval.py) so that each
    call appends ``{"pixels", "points", "subsample", "random_subsample", "medoid_margin", "xy"}`` to ``calls``."""
    import sam_pt.utils.query_points as query_points

    extract = query_points.extract_kmedoid_points

    def logged(mask, n_points_to_select, subsample_size=1800):
        result = extract(mask, n_points_to_select, subsample_size)
        pixels = mask.nonzero().double().numpy()
        entry = {"pixels": len(pixels), "points": int(n_points_to_select), "subsample": int(subsample_size),
                 "random_subsample": len(pixels) > subsample_size, "xy": result.tolist()}
        if n_points_to_select == 1 and 1 < len(pixels) <= subsample_size:
            entry["medoid_margin"] = medoid_margin(pixels)
        calls.append(entry)
        return result

    query_points.extract_kmedoid_points = logged
    official_eval.extract_kmedoid_points = logged


def read_outputs(run_dir: Path, options: dict) -> dict:
    """The arrays one run wrote (besides its label maps): ``scores`` (T, K+1, H, W) uint8 and ``backward``
    ({label: channel}) with ``save_scores``; ``overlapping`` (T, K, H, W) bool with ``save_overlapping_masks``."""
    import hickle
    import torch

    found = {}
    if options.get("save_scores"):
        folder = run_dir / "labels" / "Scores" / AUTHORS_VIDEO_NAME
        frames = sorted(p for p in folder.glob("*.hkl") if p.stem != "backward")
        found["scores"] = np.stack([np.asarray(hickle.load(str(p))) for p in frames])
        found["backward"] = {int(k): int(v) for k, v in hickle.load(str(folder / "backward.hkl")).items()}
    if options.get("save_overlapping_masks"):
        logits = torch.load(run_dir / "overlapping" / AUTHORS_VIDEO_NAME / "logits.pt")
        found["overlapping"] = (logits[:, 1:] > 0).numpy()
    return found


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation once per entry of `AUTHORS_OPTIONS_RUNS`; write ``out/outputs.npz``
    (``labels_<key>`` (T, H, W) uint8, ``scores_<key>``, ``overlapping_<key>``, ``frames``) and
    ``out/recording.json`` (settings, score channel mappings, k-medoids calls)."""
    paths = input_paths(inputs)
    official_eval = import_official_eval(official, inputs)
    calls: list = []
    log_kmedoids(official_eval, calls)
    arrays, runs = {}, {}
    for key, options in AUTHORS_OPTIONS_RUNS.items():
        calls.clear()
        run_dir = Path(inputs).resolve() / f"official_run_{key}"
        knobs = {**AUTHORS_OPTIONS_KNOBS[key], "use_point_reinit": False}
        labels, frames = run_official_eval(official_eval, paths, knobs,
                                           run_dir, longest_size=AUTHORS_OPTIONS_LONGEST_SIZE, options=options)
        arrays[f"labels_{key}"], arrays["frames"] = labels, np.array(frames)
        found = read_outputs(run_dir, options)
        runs[key] = {"options": options, "knobs": AUTHORS_OPTIONS_KNOBS[key], "kmedoids_calls": list(calls),
                     "object_pixels": {int(k): int((labels == k).sum()) for k in np.unique(labels)}}
        if "scores" in found:
            arrays[f"scores_{key}"] = found["scores"]
            runs[key]["backward"] = found["backward"]
        if "overlapping" in found:
            arrays[f"overlapping_{key}"] = found["overlapping"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "outputs.npz", **arrays)
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_VIDEO,
            "longest_size": AUTHORS_OPTIONS_LONGEST_SIZE, "pips_seed": AUTHORS_PIPS_SEED,
            "pips_damping": PIPS_DAMPING, "sam_seed": AUTHORS_SAM_SEED, "sam_iou_bias": AUTHORS_SAM_IOU_BIAS,
            "runs": runs}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' evaluation with each option set and store what it wrote",
                                    "tests/fixtures/authors_options", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_eval_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
