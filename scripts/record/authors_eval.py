"""Record the authors' VOS evaluation path on inputs that our tests regenerate (tests/fixtures/authors_eval).

The inputs are deterministic and need no download (`tests.inputs.make_authors_eval_inputs`, shared with
the test; this script keeps what runs the authors' code):

- a synthetic DAVIS 2017 video in the official layout (``JPEGImages/{480p,Full-Resolution}``,
  ``Annotations/{480p,Full-Resolution}``, ``ImageSets/2017/val.txt``; `datasets.synthetic.generate`);
- a random PIPS in the official checkpoint format (``{"model_state_dict": ...}``), its update heads damped
  (`PIPS_DAMPING`) so that tracks do not jump when a weight changes by 1e-7;
- a tiny random SAM (the real ``segment_anything`` modules, `seeded_tiny_sam`) with its predicted IoU
  shifted by `AUTHORS_SAM_IOU_BIAS` so that some masks pass the 0.7 threshold and some do not.

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

`tests/experiments/run/test_authors_eval_path.py` regenerates the inputs (`tests.inputs`), runs our pipeline
and compares.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import install_stand_ins, official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_KNOBS, AUTHORS_PIPS_SEED, AUTHORS_SAM_IOU_BIAS, AUTHORS_SAM_SEED, AUTHORS_VIDEO, AUTHORS_VIDEO_NAME,
    PIPS_DAMPING, make_authors_eval_inputs, seeded_tiny_sam,
)


def official_tiny_sam(checkpoint: str, **_unused):
    """Hydra target for the authors' ``sam_model``: the tiny SAM with the recorded weights."""
    return seeded_tiny_sam(AUTHORS_SAM_SEED, state_path=checkpoint)


def input_paths(inputs: Path, make_inputs=make_authors_eval_inputs) -> dict:
    """The paths `make_authors_eval_inputs` wrote under ``inputs`` (``make_inputs`` writes them when absent)."""
    inputs = Path(inputs).resolve()
    if not (inputs / "tiny_sam.pt").is_file():
        return make_inputs(inputs)
    return {"d17_path": inputs / "DAVIS" / "2017", "pips": inputs / "pips" / "model-000200000.pth",
            "tiny_sam": inputs / "tiny_sam.pt"}


def import_official_eval(official: Path, inputs: Path):
    """Import the authors' ``sam_pt.vos_eval.eval`` from the checkout ``official`` (stand-ins installed)."""
    import torch

    # Hydra finds their configs as the package `configs` (two levels above eval.py); this repository has a
    # configs/ folder too, so a copy of theirs is made a regular package that wins the import
    config_package = Path(inputs).resolve() / "official_configs"
    if not (config_package / "configs" / "__init__.py").is_file():
        shutil.copytree(Path(official).resolve() / "configs", config_package / "configs", dirs_exist_ok=True)
        (config_package / "configs" / "__init__.py").write_text("")
    sys.path[:0] = [str(config_package), str(Path(official).resolve())]
    install_stand_ins()
    torch.set_num_threads(1)
    import sam_pt.vos_eval.eval as official_eval

    return official_eval


def run_official_eval(official_eval, paths: dict, knobs: dict, run_dir: Path, longest_size: int = 1024,
                      options: dict | None = None, extra: tuple[str, ...] = (),
                      sam_target: str = f"{__name__}.official_tiny_sam") -> tuple[np.ndarray, list]:
    """Run the authors' ``main`` on the inputs ``paths`` with the SAM-PT ``knobs`` (their names); return the
    (T, H, W) uint8 label maps it wrote for `AUTHORS_VIDEO_NAME` and their frame names. ``longest_size``: their
    working size (the longest side of the frames they segment); ``options``: more of their root config keys
    (``flip``, ``save_scores``, ...; with ``save_scores`` the label maps are under ``labels/Annotations``);
    ``extra``: more Hydra overrides as written (the interactive protocol's); ``sam_target``: the Hydra target
    that builds their ``sam_model`` from ``paths["tiny_sam"]`` (default the tiny SAM)."""
    from PIL import Image

    overrides = [
        "model/point_tracker=pips",
        "model/sam@model.sam_predictor.sam_model=sam_mobile_vit_tiny",
        "model.sam_predictor._target_=segment_anything.predictor.SamPredictor",
        f"model.sam_predictor.sam_model._target_={sam_target}",
        f"model.sam_predictor.sam_model.checkpoint={paths['tiny_sam']}",
        "~model.sam_predictor.sam_model.image_encoder",
        "~model.sam_predictor.sam_model.prompt_encoder",
        "~model.sam_predictor.sam_model.mask_decoder",
        f"model.point_tracker.checkpoint_path={paths['pips'].parent}",
        *[f"model.{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in knobs.items()],
        "dataset=D17", "split=val", f"d17_path={paths['d17_path']}", "size=-1", f"longest_size={longest_size}",
        "seed=72", "visualize_results=false", f"output={run_dir / 'labels'}", f"hydra.run.dir={run_dir}",
        *[f"{key}={str(value).lower() if isinstance(value, bool) else value}"
          for key, value in (options or {}).items()], *extra,
    ]
    labels_dir = run_dir / "labels" / ("Annotations" if (options or {}).get("save_scores") else "") / AUTHORS_VIDEO_NAME
    sys.argv = ["eval.py", *overrides]
    shutil.rmtree(run_dir, ignore_errors=True)  # their evaluation skips videos it finds already written
    try:
        official_eval.main()
    except (Exception, SystemExit) as error:  # Hydra exits when their final davis2017 scoring step fails
        if not labels_dir.is_dir():
            raise
        print(f"(the authors' run ended with {error!r} after writing the label maps: their final scoring "
              f"step needs the davis2017 package, which this recording does not use)")
    frames = sorted(labels_dir.glob("*.png"))
    return np.stack([np.asarray(Image.open(p)) for p in frames]).astype(np.uint8), [p.stem for p in frames]


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation on ``inputs`` (from `make_authors_eval_inputs`) and write ``out/labels.npz``."""
    paths = input_paths(inputs)
    official_eval = import_official_eval(official, inputs)
    knobs = {**AUTHORS_KNOBS, "use_point_reinit": False}
    labels, frames = run_official_eval(official_eval, paths, knobs, Path(inputs).resolve() / "official_run")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "labels.npz", labels=labels, frames=np.array(frames))
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_VIDEO,
            "knobs": AUTHORS_KNOBS, "pips_seed": AUTHORS_PIPS_SEED, "pips_damping": PIPS_DAMPING,
            "sam_seed": AUTHORS_SAM_SEED, "sam_iou_bias": AUTHORS_SAM_IOU_BIAS, "labels_shape": list(labels.shape),
            "object_pixels": {int(k): int((labels == k).sum()) for k in np.unique(labels)}}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' evaluation on the inputs and store its label maps",
                                    "tests/fixtures/authors_eval", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_eval_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
