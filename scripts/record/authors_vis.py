"""Record the authors' UVO VIS pipeline on inputs that our tests regenerate (tests/fixtures/authors_vis).

The inputs are deterministic and need no download (`tests.inputs.make_authors_vis_inputs`, shared with the
test): a synthetic UVO v1.0 root (``UVOv1.0/VideoDenseSet/UVO_video_val_dense.json`` +
``uvo_videos_dense_frames``; one 90x160 video, frames painted flat), the damped random PIPS of
`scripts.record.authors_eval` and a tiny random SAM (`tests.inputs.vis_tiny_sam`).

`record` runs the authors' VIS entry point (``sam_pt/vis_eval/eval.py`` ``main``, config
``configs/vis_eval_sam_pt.yaml``: Detectron2's test loader with ``ResizeShortestEdge(360, 1333)``,
``SamBasedVisToVosAdapter`` prompting SAM-PT with ``SamAutomaticMaskGenerator`` proposals, the
``YTVISEvaluator`` writing ``results.json`` and scoring it) unmodified, on the CPU, with the knobs of their
VIS command (docs/04-running-experiments.md: no refinement, no other objects' points as negatives,
``DETECTRON2_CONFIG.SEED=36``) and `OVERRIDES` (PIPS, Shi-Tomasi points, a 4x4 proposal grid). Stand-ins
are registered only for modules this path never calls (wandb; the TAPIR/TAPNet/CoTracker subpackages).
Detectron2 (their pin: v0.6) runs from a source checkout on ``PYTHONPATH``: its compiled ops are never called
on this path (`prepare_detectron2`). Commands::

    .venv/bin/python -m scripts.record.authors_vis inputs --out /tmp/authors_vis_inputs
    PYTHONPATH=.:/path/to/detectron2 /path/to/venv/bin/python -m scripts.record.authors_vis record \\
        --official /path/to/sam-pt --inputs /tmp/authors_vis_inputs --out tests/fixtures/authors_vis

`tests/experiments/run/test_authors_vis_path.py` regenerates the inputs, runs ours and compares.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np

from scripts.record.authors_eval import import_official_eval
from scripts.record.authors_reinit import KMEDOIDS_REACHED, install_kmedoids_stand_in
from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_PIPS_SEED, AUTHORS_SAM_SEED, AUTHORS_VIS_LOGIT_SCALE, AUTHORS_VIS_PALETTE, AUTHORS_VIS_SAM_IOU_BIAS,
    AUTHORS_VIS_VIDEO, PIPS_DAMPING, make_authors_vis_inputs, pack_masks, vis_tiny_sam,
)

#: SAM-PT knobs (their names; the two of their VIS command first)
AUTHORS_VIS_KNOBS = dict(iterative_refinement_iterations=0, add_other_objects_positive_points_as_negative_points=False,
                         positive_points_per_mask=1, negative_points_per_mask=1,
                         positive_point_selection_method="shi-tomasi", negative_point_selection_method="shi-tomasi")
#: their automatic mask generator's settings that the recording changes: a 4x4 grid (fast on a CPU); a stability
#: offset and threshold that keep some of the tiny SAM's soft masks and drop others; a box NMS threshold that
#: keeps two overlapping proposals (their IoU threshold 0.88 stays): of 48 masks, 16 pass the IoU threshold,
#: 12 the stability threshold, 2 the NMS
GENERATOR = dict(points_per_side=4, stability_score_offset=0.02, stability_score_thresh=0.35, box_nms_thresh=0.95)


def official_tiny_sam(checkpoint: str, **_unused):
    """Hydra target for the authors' SAM model: the tiny SAM with the recorded weights."""
    return vis_tiny_sam(state_path=checkpoint)


def input_paths(inputs: Path) -> dict:
    """The paths `make_authors_vis_inputs` wrote under ``inputs`` (written when absent)."""
    inputs = Path(inputs).resolve()
    if not (inputs / "tiny_sam.pt").is_file():
        return make_authors_vis_inputs(inputs)
    return {"datasets": inputs, "uvo": inputs / "UVOv1.0", "pips": inputs / "pips" / "model-000200000.pth",
            "tiny_sam": inputs / "tiny_sam.pt"}


def overrides(paths: dict, run_dir: Path) -> list[str]:
    """The Hydra overrides of their ``vis_eval_sam_pt`` config for the recording."""
    def value(v):
        return str(v).lower() if isinstance(v, bool) else v

    return [
        "model/point_tracker@model.model.point_tracker=pips",
        "model/sam@model.sam_generator.model=sam_mobile_vit_tiny",
        f"model.sam_generator.model._target_={__name__}.official_tiny_sam",
        f"model.sam_generator.model.checkpoint={paths['tiny_sam']}",
        "~model.sam_generator.model.image_encoder", "~model.sam_generator.model.prompt_encoder",
        "~model.sam_generator.model.mask_decoder",
        "model.model.sam_predictor._target_=segment_anything.predictor.SamPredictor",
        f"model.model.point_tracker.checkpoint_path={paths['pips'].parent}",
        *[f"model.model.{key}={value(v)}" for key, v in AUTHORS_VIS_KNOBS.items()],
        *[f"model.sam_generator.{key}={value(v)}" for key, v in GENERATOR.items()],
        "model.visualize_results=false", "device=cpu", "DETECTRON2_CONFIG.SEED=36",
        f"output={run_dir / 'results'}", f"hydra.run.dir={run_dir}",
    ]


def note_proposals(proposals: list) -> None:
    """Wrap ``SamAutomaticMaskGenerator.generate`` so that each call appends its records to ``proposals``
    (what it returns is unchanged)."""
    from segment_anything import SamAutomaticMaskGenerator

    generate = SamAutomaticMaskGenerator.generate

    def noted_generate(self, image):
        records = generate(self, image)
        proposals.extend(records)
        return records

    SamAutomaticMaskGenerator.generate = noted_generate


def prepare_detectron2() -> None:
    """Let a Detectron2 source checkout (v0.6, their pin) import with Pillow 13 and without its compiled ops,
    which this path never calls: PIL's removed alias ``Image.LINEAR`` (= ``BILINEAR``) and, when the checkout
    is not built, a ``detectron2._C`` stand-in answering its environment report's compiler queries."""
    from PIL import Image

    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR
    try:
        import detectron2._C  # noqa: F401
    except ImportError:
        compiled = types.ModuleType("detectron2._C")
        compiled.get_compiler_version = compiled.get_cuda_version = lambda: "not built (source checkout)"
        compiled.has_cuda = lambda: False
        sys.modules["detectron2._C"] = compiled


def run_official_vis(official: Path, paths: dict, run_dir: Path) -> tuple[list, dict, list]:
    """Run their ``main`` on ``paths``; return their ``results.json`` entries, their metrics (``segm``) and
    the records of their automatic mask generator (first frame, at their 360-pixel short side)."""
    os.environ["DETECTRON2_DATASETS"] = str(paths["datasets"])  # their builtin.py registers uvo_v1_val from it
    prepare_detectron2()
    install_kmedoids_stand_in()  # Shi-Tomasi points: a run that reaches k-medoids fails (KMEDOIDS_REACHED)
    import_official_eval(official, paths["datasets"])  # their sys.path, config package and stand-ins
    import sam_pt.vis_eval.eval as vis_eval
    import sam_pt.vis_eval.train_net_video as train_net

    metrics: dict = {}
    proposals: list = []
    note_proposals(proposals)
    test = train_net.Trainer.test.__func__

    def recorded_test(cls, cfg, model, evaluators=None):
        metrics.update(test(cls, cfg, model, evaluators))
        return metrics

    vis_eval.Trainer.test = classmethod(recorded_test)  # notes the returned metrics, changes nothing
    sys.argv = ["eval.py", *overrides(paths, run_dir)]
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        vis_eval.main()
    except SystemExit as error:
        if error.code:
            raise
    results = json.loads((run_dir / "results" / "inference" / "results.json").read_text())
    return results, metrics.get("segm", metrics), proposals


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' VIS evaluation on ``inputs``; write ``out/results.json`` (their results json),
    ``out/proposals.npz`` (their generator's (N, H, W) masks bit-packed (`pack_masks`), ``predicted_iou``,
    ``stability_score``, ``shape``) and ``out/recording.json`` (settings, their metrics)."""
    paths = input_paths(inputs)
    results, metrics, proposals = run_official_vis(official, paths, Path(inputs).resolve() / "official_run")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results) + "\n")
    masks = np.stack([r["segmentation"] for r in proposals])
    np.savez_compressed(out / "proposals.npz", masks=pack_masks(masks), shape=np.array(masks.shape),
                        predicted_iou=np.array([r["predicted_iou"] for r in proposals]),
                        stability_score=np.array([r["stability_score"] for r in proposals]))
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_VIS_VIDEO,
            "palette": AUTHORS_VIS_PALETTE, "knobs": AUTHORS_VIS_KNOBS, "generator": GENERATOR,
            "pips_seed": AUTHORS_PIPS_SEED, "pips_damping": PIPS_DAMPING, "sam_seed": AUTHORS_SAM_SEED,
            "sam_iou_bias": AUTHORS_VIS_SAM_IOU_BIAS, "sam_logit_scale": AUTHORS_VIS_LOGIT_SCALE,
            "num_proposals": len(proposals), "num_detections": len(results), "scores": [r["score"] for r in results], "metrics": metrics}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (UVO root, PIPS and tiny SAM checkpoints)",
                                    "run the authors' VIS evaluation on the inputs and store its results",
                                    "tests/fixtures/authors_vis", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_vis_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
