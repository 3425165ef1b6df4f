"""Record the authors' simulated interactive point correction (tests/fixtures/authors_interactive).

The inputs are those of `scripts.record.authors_eval` made with other constants
(`tests.inputs.make_authors_interactive_inputs`: `AUTHORS_INTERACTIVE_VIDEO`, two objects over six frames at
their own 108x192 size); the SAM-PT knobs are `AUTHORS_INTERACTIVE_KNOBS` and each mode of
`AUTHORS_INTERACTIVE_MODES` (online, offline, no point tracking) runs in turn. Their evaluation entry point
runs unmodified (`scripts.record.authors_eval.run_official_eval`) with their ``SamPtInteractive`` as the model,
``simulate_interactive_point_correction=true`` and one mask per forward pass, as their interactive runs.
What each object's simulation did is read from the files their code writes (``interactions/<video
id>/history.json``, ``overall_iou_history.json``, ``achieved_iou_thresholds_cache.pkl``); two functions are
wrapped to note, not to change, what they return: ``SamPtInteractive.forward`` (the object's final logits)
and ``extract_largest_cluster_points`` (where the annotator clicked, and how many pixels k-medoids saw).
Their clicks subsample error regions with ``torch.randperm`` on torch's global generator, which their
evaluation seeds once per run; the forward wrapper seeds it before each object with the seed our
simulation gives that object's click generator (`experiments.apps.interactive.annotator_seed`), so that
ours can draw the same subsamples.

scikit-learn-extra 0.3.0's compiled helpers do not load with numpy 2; its ``KMedoids`` is pure Python except
for the PAM method, so `install_kmedoids` loads that module with the PAM-only helper replaced by functions that
raise (their call uses the default ``method="alternate"``, ``init="heuristic"``). Commands::

    .venv/bin/python -m scripts.record.authors_interactive inputs --out /tmp/authors_interactive_inputs
    PYTHONPATH=.:/path/to/davis2017-evaluation /path/to/venv/bin/python -m scripts.record.authors_interactive \\
        record --official /path/to/sam-pt --inputs /tmp/authors_interactive_inputs \\
        --out tests/fixtures/authors_interactive

`tests/experiments/apps/test_authors_interactive.py` regenerates the inputs, runs ours and compares.
"""
from __future__ import annotations

import importlib.util
import json
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import torch

from experiments.apps.interactive import annotator_seed
from scripts.record.authors_eval import import_official_eval, input_paths, run_official_eval
from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_INTERACTIVE_KNOBS, AUTHORS_INTERACTIVE_LONGEST_SIZE, AUTHORS_INTERACTIVE_MODES, AUTHORS_INTERACTIVE_SEED,
    AUTHORS_INTERACTIVE_VIDEO,
    AUTHORS_PIPS_SEED, AUTHORS_SAM_IOU_BIAS, AUTHORS_SAM_SEED, PIPS_DAMPING, make_authors_interactive_inputs,
)

#: the fields of their ``HistoryEntry`` (history.json stores each entry as a list in this order)
HISTORY_FIELDS = ("action", "type", "frame_idx", "point_idx", "iou_before", "iou_after", "interaction_idx",
                  "current_iou_threshold", "overall_iou_before", "overall_iou_after", "boundary_score_before",
                  "boundary_score_after", "overall_boundary_score_before", "overall_boundary_score_after",
                  "jf_score_before", "jf_score_after")


def install_kmedoids() -> None:
    """Make ``sklearn_extra.cluster.KMedoids`` scikit-learn-extra's own class, loaded without the package's
    compiled modules (built for numpy 1): its PAM helper is replaced by functions that raise."""
    spec = importlib.util.find_spec("sklearn_extra")
    if spec is None:
        raise SystemExit("install scikit-learn-extra==0.3.0 (pip install --no-deps) in the recording venv")
    root = Path(spec.submodule_search_locations[0])
    for name, folder in (("sklearn_extra", root), ("sklearn_extra.cluster", root / "cluster")):
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__path__ = [str(folder)]
    helper = types.ModuleType("sklearn_extra.cluster._k_medoids_helper")

    def pam_only(*args, **kwargs):
        raise RuntimeError("the recording reached scikit-learn-extra's PAM helper, which is not loaded")

    helper._compute_optimal_swap = helper._build = pam_only
    sys.modules[helper.__name__] = helper
    from sklearn_extra.cluster._k_medoids import KMedoids

    sys.modules["sklearn_extra.cluster"].KMedoids = KMedoids


def watch(interactive_module) -> dict:
    """Wrap ``SamPtInteractive.forward`` and ``extract_largest_cluster_points`` of the authors' module so that
    their results are noted (outputs unchanged); returns the dict the wrappers fill: ``objects`` (one entry
    per forward pass) and ``clicks`` (those of the pass under way)."""
    seen: dict = {"objects": [], "clicks": []}
    forward, extract = interactive_module.SamPtInteractive.forward, interactive_module.extract_largest_cluster_points
    kmedoids_fit = interactive_module.KMedoids.fit

    def noted_fit(self, points):
        seen["clicks"][-1]["kmedoids_pixels"] = int(len(points))
        return kmedoids_fit(self, points)

    def noted_extract(mask, n_points_to_select, **kwargs):
        seen["clicks"].append({"region_pixels": int(mask.sum())})
        points = extract(mask, n_points_to_select, **kwargs)
        seen["clicks"][-1]["xy"] = points[0].tolist()
        return points

    def noted_forward(self, video, debug=True):
        seen["clicks"] = []
        # their clicks draw from torch's global generator (torch.randperm); seeded per object as ours seeds its
        # click generator (the mask index i of their "<id>--<video>--mask-<i>" is object id i + 1 here)
        object_id = int(video["video_id"].rsplit("-", 1)[1]) + 1
        torch.manual_seed(annotator_seed(AUTHORS_INTERACTIVE_SEED, video["video_name"], object_id))
        result = forward(self, video, debug)
        folder = Path("interactions") / video["video_id"]  # their files, relative to Hydra's run folder
        seen["objects"].append({"masks": result["logits"][0].numpy() > 0, **object_record(folder, seen["clicks"])})
        return result

    interactive_module.SamPtInteractive.forward = noted_forward
    interactive_module.extract_largest_cluster_points = noted_extract
    interactive_module.KMedoids.fit = noted_fit
    return seen


def object_record(folder: Path, clicks: list[dict]) -> dict:
    """One object's simulation from the files the authors' code wrote in ``folder``: the history (dicts with
    `HISTORY_FIELDS`), the overall-IoU curve, the completed passes (threshold, mean IoU and boundary,
    interactions left, per-frame IoUs) and the clicks."""
    history = [dict(zip(HISTORY_FIELDS, entry)) for entry in json.loads((folder / "history.json").read_text())]
    with open(folder / "achieved_iou_thresholds_cache.pkl", "rb") as file:
        cache = pickle.load(file)
    passes = [{"threshold": entry["current_threshold"], "mean_iou": float(entry["average_iou"]),
               "mean_boundary": float(entry["average_boundary_score"]),
               "interactions_left": int(entry["interactions_left"]),
               "frame_ious": [float(v) for v in entry["current_pass_ious"]]} for entry in cache]
    curve = json.loads((folder / "overall_iou_history.json").read_text())
    return {"history": history, "curve": curve, "passes": passes, "clicks": list(clicks)}


def counts(history: list[dict]) -> dict:
    """How many interactions of each kind (``remove negative``, ``add positive``, ...) and on how many frames."""
    kinds: dict = {}
    for entry in history:
        key = f"{entry['action']} {entry['type']}"
        kinds[key] = kinds.get(key, 0) + 1
    return {**kinds, "frames": len({entry["frame_idx"] for entry in history})}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation once per mode; write ``out/masks.npz`` (``<mode>_labels``: (T, H, W) uint8
    label maps, ``<mode>_masks``: (O, T, H, W) bool final masks per object) and ``out/recording.json``."""
    paths = input_paths(inputs, make_authors_interactive_inputs)
    install_kmedoids()
    official_eval = import_official_eval(official, inputs)
    import sam_pt.modeling.sam_pt_interactive as interactive_module

    seen = watch(interactive_module)
    arrays, modes = {}, {}
    for mode, settings in AUTHORS_INTERACTIVE_MODES.items():
        seen["objects"].clear()
        extra = ("model._target_=sam_pt.modeling.sam_pt_interactive.SamPtInteractive",
                 "simulate_interactive_point_correction=true", "masks_batch_size=1",
                 *[f"+model.{key}={str(value).lower() if isinstance(value, bool) else value}"
                   for key, value in settings.items()])
        labels, frames = run_official_eval(official_eval, paths, AUTHORS_INTERACTIVE_KNOBS,
                                           Path(inputs).resolve() / f"official_run_{mode}",
                                           longest_size=AUTHORS_INTERACTIVE_LONGEST_SIZE, extra=extra)
        arrays[f"{mode}_labels"] = labels
        arrays[f"{mode}_masks"] = np.stack([entry.pop("masks") for entry in seen["objects"]])
        modes[mode] = {"settings": settings, "objects": list(seen["objects"]),
                       "interactions": [counts(entry["history"]) for entry in seen["objects"]]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "masks.npz", frames=np.array(frames), **arrays)
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_INTERACTIVE_VIDEO,
            "knobs": AUTHORS_INTERACTIVE_KNOBS, "longest_size": AUTHORS_INTERACTIVE_LONGEST_SIZE,
            "pips_seed": AUTHORS_PIPS_SEED, "pips_damping": PIPS_DAMPING, "sam_seed": AUTHORS_SAM_SEED,
            "sam_iou_bias": AUTHORS_SAM_IOU_BIAS, "labels_shape": list(labels.shape), "modes": modes}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' interactive simulation in each mode and store what it did",
                                    "tests/fixtures/authors_interactive", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_interactive_inputs, record,
                             shown=lambda info: {mode: entry["interactions"] for mode, entry in info["modes"].items()})


if __name__ == "__main__":
    sys.exit(main())
