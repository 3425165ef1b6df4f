"""Record SAM-PT's SAM step on given trajectories with a tiny random SAM (tests/fixtures/official_sam_step).

The inputs are deterministic (`tests.inputs.make_sam_step_inputs`, shared with the test; this script keeps
what runs the official code):

- a synthetic clip of `SAM_STEP_CLIP` frames at 576x1024 (the authors' working size: longest side 1024), a
  smooth random texture with three coloured ellipses drifting over it (`ellipse_clip`);
- trajectories (T, M=3, P=9, 2) of 8 positive and 1 negative points per object (`sam_step_trajectories`),
  inside and outside the ellipses, and visibilities (T, M, P) with a pattern per frame (`SAM_STEP_VISIBILITY`): some
  points hidden at random; on one frame none of object 0's own points (it is prompted with the other
  objects' positive points as its only, negative, points); on one frame only object 1's negative point
  (object 1 gets one negative point, objects 0 and 2 no prompt at all);
- a tiny random SAM (`sam_step_tiny_sam`, the real ``segment_anything`` modules at a tiny width) drawn from
  `SAM_STEP_SAM_SEED`, with `SAM_STEP_SAM_IOU_BIAS` added to the last bias of its IoU head so that the predicted IoUs
  straddle the 0.7 threshold.

`record` runs SAM-PT's ``SamPt._apply_sam_to_trajectories`` (``sam_pt/modeling/sam_pt.py``) unmodified
with ``segment_anything.SamPredictor`` over that SAM and the authors' knob values (`SAM_STEP_KNOBS`: 8 positive +
1 negative points per mask, 12 refinement iterations, IoU threshold 0.7, other objects' positive points
as negatives, no cap), once with SAM-PT's 12 refinement iterations and once with the 3 of the authors'
HQ-SAM and MobileSAM variants (`SAM_STEP_SETTINGS`), and stores its masks (logits > 0, bit-packed) and its
per-frame IoU predictions (-inf where SAM was not prompted) in ``sam_step.npz`` (`tests.inputs.pack_masks`). Commands::

    # 1. inputs (this repository's venv)
    .venv/bin/python -m scripts.record.sam_step inputs --out /tmp/sam_step_inputs
    # 2. the official code (SysCV/sam-pt) in a venv with its requirements (torch, segment-anything,
    #    segment-anything-hq, timm, scikit-image, tqdm), from this repository's root
    PYTHONPATH=. /path/to/venv/bin/python -m scripts.record.sam_step record --official /path/to/sam-pt \\
        --inputs /tmp/sam_step_inputs --out tests/fixtures/official_sam_step

`tests/trackers/sampt/test_official_sam_step.py` regenerates the inputs, runs `reference.runs.segment_tracks` (the SAM step through `SamPt.run_video`) and compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import install_stand_ins, official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    SAM_STEP_CLIP, SAM_STEP_KNOBS, SAM_STEP_SAM_IOU_BIAS, SAM_STEP_SAM_SEED, SAM_STEP_SETTINGS, SAM_STEP_TRACK_SEED,
    SAM_STEP_VISIBILITY, make_sam_step_inputs, pack_masks, sam_step_tiny_sam,
)


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run SAM-PT's ``_apply_sam_to_trajectories`` on ``inputs`` and write ``out/sam_step.npz`` and
    ``out/recording.json``."""
    import torch

    official = Path(official).resolve()
    sys.path.insert(0, str(official))
    install_stand_ins()
    torch.set_num_threads(1)
    from segment_anything import SamPredictor
    from sam_pt.modeling.sam_pt import SamPt

    inputs = Path(inputs)
    data = np.load(inputs / "inputs.npz")
    frames, tracks, visible = data["frames"], data["tracks"], data["visible"]
    model = SamPt(point_tracker=None, sam_predictor=SamPredictor(sam_step_tiny_sam(inputs / "tiny_sam.pt")),
                  positive_point_selection_method="kmedoids", negative_point_selection_method="mixed",
                  point_tracker_mask_batch_size=5, use_patch_matching_filtering=False, patch_size=3,
                  patch_similarity_threshold=0.01, use_point_reinit=False, reinit_point_tracker_horizon=8,
                  reinit_horizon=8, reinit_variant="reinit-on-horizon-and-sync-masks", **SAM_STEP_KNOBS).eval()
    arrays = {}
    info = {"official_commit": official_commit(official, commit), "clip": SAM_STEP_CLIP,
            "track_seed": SAM_STEP_TRACK_SEED, "visibility": SAM_STEP_VISIBILITY, "sam_seed": SAM_STEP_SAM_SEED,
            "sam_iou_bias": SAM_STEP_SAM_IOU_BIAS, "knobs": SAM_STEP_KNOBS,
            "settings": {}}
    for setting, iterations in SAM_STEP_SETTINGS.items():
        model.iterative_refinement_iterations = iterations
        with torch.no_grad():
            scores, logits, scores_per_frame = model._apply_sam_to_trajectories(
                torch.from_numpy(frames).permute(0, 3, 1, 2), torch.from_numpy(tracks),
                torch.from_numpy(visible.astype(np.float32)))
        masks = (logits > 0).numpy()
        iou = scores_per_frame.numpy().astype(np.float32)
        arrays.update({f"masks_{setting}": pack_masks(masks), f"iou_{setting}": iou,
                       f"scores_{setting}": np.asarray(scores, np.float64), "shape": np.array(masks.shape)})
        info["settings"][setting] = {
            "iterative_refinement_iterations": iterations, "mask_fraction": masks.mean(axis=(2, 3)).round(4).tolist(),
            "iou": [[None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in iou],
            "masks_kept": int((masks.reshape(*masks.shape[:2], -1).any(axis=2)).sum())}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "sam_step.npz", **arrays)
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the clip, the trajectories and the tiny SAM",
                                    "run SAM-PT's SAM step on the inputs", "tests/fixtures/official_sam_step",
                                    official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_sam_step_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
