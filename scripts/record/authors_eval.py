"""Record the authors' VOS evaluation path on inputs that our tests regenerate (tests/fixtures/authors_eval).

The inputs are deterministic and need no download (`make_inputs`):

- a synthetic DAVIS 2017 video in the official layout (``JPEGImages/{480p,Full-Resolution}``,
  ``Annotations/{480p,Full-Resolution}``, ``ImageSets/2017/val.txt``; `datasets.synthetic.generate`);
- a random PIPS in the official checkpoint format (``{"model_state_dict": ...}``), its update heads damped
  (`PIPS_DAMPING`) so that tracks do not jump when a weight changes by 1e-7;
- a tiny random SAM (the real ``segment_anything`` modules, `build_tiny_sam`) with its predicted IoU
  shifted by `SAM_IOU_BIAS` so that some masks pass the 0.7 threshold and some do not.

`record` runs the authors' evaluation entry point (``sam_pt/vos_eval/eval.py`` ``main`` with their
``configs/vos_eval_root.yaml``: ``size=-1``, ``longest_size=1024``, DAVIS Full-Resolution frames, their
merge and upsampling) unmodified on these inputs and stores its label maps. Only stand-ins for modules
that this path never calls are registered (wandb; the TAPIR/TAPNet/CoTracker tracker subpackages, which
need TensorFlow/JAX/cotracker), and the SAM model config is pointed at the tiny SAM. Commands::

    # 1. the inputs (this repository's venv)
    .venv/bin/python -m scripts.record.authors_eval inputs --out /tmp/authors_inputs
    # 2. the authors' code (SysCV/sam-pt, not part of this repository) in a venv with its requirements
    #    (torch, segment-anything, scikit-learn-extra, hydra-core, opencv, scikit-image) and
    #    segment-anything-hq + timm; run from this repository's root
    /path/to/venv/bin/python -m scripts.record.authors_eval record --official /path/to/sam-pt \\
        --inputs /tmp/authors_inputs --out tests/fixtures/authors_eval

`tests/experiments/run/test_authors_eval_path.py` regenerates the inputs, runs our pipeline and compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import (
    PIPS_DAMPING, damped_pips_state, install_stand_ins, official_commit, recording_parser, run_recording_cli,
)

#: the one synthetic video: 108x192 "480p" annotations, 216x384 Full-Resolution frames (working 576x1024)
VIDEO = dict(num_videos=1, num_frames=4, height=108, width=192, seed=11)
PIPS_SEED = 1234
SAM_SEED = 0
SAM_IOU_BIAS = 0.8
#: SAM-PT knobs of the recording (names as in both codes)
KNOBS = dict(positive_points_per_mask=8, negative_points_per_mask=1, positive_point_selection_method="shi-tomasi",
             negative_point_selection_method="shi-tomasi", iterative_refinement_iterations=12,
             sam_iou_threshold=0.7, add_other_objects_positive_points_as_negative_points=True)
VIDEO_NAME = "synth-000"


def make_inputs(out: Path) -> dict[str, Path]:
    """Write the dataset and both checkpoints under ``out``; returns their paths (deterministic)."""
    import torch

    from datasets.synthetic import generate
    from trackers.segmenters.sam_models import build_tiny_sam

    out = Path(out)
    davis = out / "DAVIS" / "2017" / "trainval"
    if not (davis / "ImageSets" / "2017" / "val.txt").is_file():
        generate(davis, "davis17", full_resolution=True, **VIDEO)
    state = damped_pips_state(PIPS_SEED)
    pips = out / "pips" / "model-000200000.pth"
    pips.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state_dict": state}, pips)
    sam = build_tiny_sam(seed=SAM_SEED)
    with torch.no_grad():
        sam.mask_decoder.iou_prediction_head.layers[-1].bias += SAM_IOU_BIAS
    tiny_sam = out / "tiny_sam.pt"
    torch.save(sam.state_dict(), tiny_sam)
    return {"davis": davis, "d17_path": out / "DAVIS" / "2017", "pips": pips, "tiny_sam": tiny_sam}


# ------------------------------------------------------------------------------------------ recording
def official_tiny_sam(checkpoint: str, **_unused):
    """Hydra target for the authors' ``sam_model``: the tiny SAM with the recorded weights."""
    import torch

    from trackers.segmenters.sam_models import build_tiny_sam

    sam = build_tiny_sam(seed=SAM_SEED)
    sam.load_state_dict(torch.load(checkpoint, map_location="cpu"), strict=True)
    return sam.eval()


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation on ``inputs`` (from `make_inputs`) and write ``out/labels.npz``."""
    import shutil

    import torch
    from PIL import Image

    official = Path(official).resolve()
    inputs = Path(inputs).resolve()
    paths = make_inputs(inputs) if not (inputs / "tiny_sam.pt").is_file() else {
        "d17_path": inputs / "DAVIS" / "2017", "pips": inputs / "pips" / "model-000200000.pth",
        "tiny_sam": inputs / "tiny_sam.pt"}
    # Hydra finds their configs as the package `configs` (two levels above eval.py); this repository has a
    # configs/ folder too, so a copy of theirs is made a regular package that wins the import
    config_package = inputs / "official_configs"
    if not (config_package / "configs" / "__init__.py").is_file():
        shutil.copytree(official / "configs", config_package / "configs", dirs_exist_ok=True)
        (config_package / "configs" / "__init__.py").write_text("")
    sys.path[:0] = [str(config_package), str(official)]
    install_stand_ins()
    torch.set_num_threads(1)
    import sam_pt.vos_eval.eval as official_eval

    run_dir = inputs / "official_run"
    overrides = [
        "model/point_tracker=pips",
        "model/sam@model.sam_predictor.sam_model=sam_mobile_vit_tiny",
        "model.sam_predictor._target_=segment_anything.predictor.SamPredictor",
        f"model.sam_predictor.sam_model._target_={__name__}.official_tiny_sam",
        f"model.sam_predictor.sam_model.checkpoint={paths['tiny_sam']}",
        "~model.sam_predictor.sam_model.image_encoder",
        "~model.sam_predictor.sam_model.prompt_encoder",
        "~model.sam_predictor.sam_model.mask_decoder",
        f"model.point_tracker.checkpoint_path={paths['pips'].parent}",
        *[f"model.{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in KNOBS.items()],
        "model.use_point_reinit=false",
        "dataset=D17", "split=val", f"d17_path={paths['d17_path']}", "size=-1", "longest_size=1024",
        "seed=72", "visualize_results=false", f"output={run_dir / 'labels'}", f"hydra.run.dir={run_dir}",
    ]
    sys.argv = ["eval.py", *overrides]
    try:
        official_eval.main()
    except (Exception, SystemExit) as error:  # Hydra exits when their final davis2017 scoring step fails
        if not (run_dir / "labels" / VIDEO_NAME).is_dir():
            raise
        print(f"(the authors' run ended with {error!r} after writing the label maps: their final scoring "
              f"step needs the davis2017 package, which this recording does not use)")
    frames = sorted((run_dir / "labels" / VIDEO_NAME).glob("*.png"))
    labels = np.stack([np.asarray(Image.open(p)) for p in frames]).astype(np.uint8)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "labels.npz", labels=labels, frames=np.array([p.stem for p in frames]))
    info = {"official_commit": official_commit(official, commit), "video": VIDEO,
            "knobs": KNOBS, "pips_seed": PIPS_SEED, "pips_damping": PIPS_DAMPING, "sam_seed": SAM_SEED,
            "sam_iou_bias": SAM_IOU_BIAS, "labels_shape": list(labels.shape),
            "object_pixels": {int(k): int((labels == k).sum()) for k in np.unique(labels)}}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' evaluation on the inputs and store its label maps",
                                    "tests/fixtures/authors_eval", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
