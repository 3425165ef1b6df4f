"""Record SAM-PT's SAM step on given trajectories with a tiny random SAM (tests/fixtures/official_sam_step).

The inputs are deterministic (`make_inputs`):

- a synthetic clip of `CLIP` frames at 576x1024 (the authors' working size: longest side 1024), a smooth
  random texture with three coloured ellipses drifting over it (`synthetic_clip`);
- trajectories (T, M=3, P=9, 2) of 8 positive and 1 negative points per object (`trajectories`), inside
  and outside the ellipses, and visibilities (T, M, P) with a pattern per frame (`VISIBILITY`): some
  points hidden at random; on one frame none of object 0's own points (it is prompted with the other
  objects' positive points as its only, negative, points); on one frame only object 1's negative point
  (object 1 gets one negative point, objects 0 and 2 no prompt at all);
- a tiny random SAM (`build_tiny_sam`, the real ``segment_anything`` modules at a tiny width) drawn from
  `SAM_SEED`, with `SAM_IOU_BIAS` added to the last bias of its IoU head so that the predicted IoUs
  straddle the 0.7 threshold.

`record` runs SAM-PT's ``SamPt._apply_sam_to_trajectories`` (``sam_pt/modeling/sam_pt.py``) unmodified
with ``segment_anything.SamPredictor`` over that SAM and the authors' knob values (`KNOBS`: 8 positive +
1 negative points per mask, 12 refinement iterations, IoU threshold 0.7, other objects' positive points
as negatives, no cap), once with SAM-PT's 12 refinement iterations and once with the 3 of the authors'
HQ-SAM and MobileSAM variants (`SETTINGS`), and stores its masks (logits > 0, bit-packed) and its
per-frame IoU predictions (-inf where SAM was not prompted) in ``sam_step.npz``. Commands::

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

#: frames, height, width (the authors' working size for 16:9 videos), seed
CLIP = dict(num_frames=4, height=576, width=1024, seed=3)
NUM_OBJECTS = 3
NUM_POSITIVE = 8
NUM_NEGATIVE = 1
TRACK_SEED = 8
#: per frame: "random" (each point hidden with probability 0.3), "own-hidden" (object 0: none of its
#: points visible), "one-negative" (only object 1's negative point visible)
VISIBILITY = ("random", "random", "own-hidden", "one-negative")
SAM_SEED = 2
SAM_IOU_BIAS = 0.995
#: the authors' values of the knobs of the SAM step (configs/model/sam_pt.yaml, paper Sec. 4.2)
KNOBS = dict(positive_points_per_mask=NUM_POSITIVE, negative_points_per_mask=NUM_NEGATIVE,
             iterative_refinement_iterations=12, sam_iou_threshold=0.7,
             add_other_objects_positive_points_as_negative_points=True, max_other_objects_positive_points=None)
#: recorded settings -> refinement iterations: SAM-PT's 12, and the authors' 3 of their HQ-SAM and MobileSAM
#: variants (paper Sec. 4.2). The tiny SAM's refinement converges within ~4 passes, so only the 3-pass
#: recording tells the number of passes and the first (positives-only) pass apart.
SETTINGS = {"refine12": 12, "refine3": 3}


def synthetic_clip(num_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth random texture with `NUM_OBJECTS` coloured ellipses drifting over it."""
    import cv2

    rng = np.random.default_rng(seed)
    background = cv2.resize(rng.uniform(0, 255, (height // 32, width // 32, 3)).astype(np.float32), (width, height),
                            interpolation=cv2.INTER_CUBIC)
    colours = rng.uniform(0, 255, (NUM_OBJECTS, 3))
    frames = []
    for t in range(num_frames):
        frame = np.clip(background * 0.6 + 40, 0, 255)
        for k, centre in enumerate(ellipse_centres(t, height, width)):
            cv2.ellipse(frame, (int(centre[0]), int(centre[1])), (110 - 20 * k, 70 + 10 * k), 15 * k, 0, 360,
                        colours[k].tolist(), -1)
        frames.append(frame)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def ellipse_centres(t: int, height: int, width: int) -> np.ndarray:
    """(M, 2) (x, y) centre of each ellipse on frame t."""
    start = np.array([[0.25 * width, 0.35 * height], [0.55 * width, 0.6 * height], [0.8 * width, 0.3 * height]])
    step = np.array([[12.0, 5.0], [-8.0, -6.0], [-10.0, 9.0]])
    return start[:NUM_OBJECTS] + t * step[:NUM_OBJECTS]


def trajectories(num_frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Tracks (T, M, P, 2) float32 pixel (x, y), positives near each ellipse's centre, the negative away
    from it, all moving with it plus jitter; visible (T, M, P) bool after `VISIBILITY`."""
    rng = np.random.default_rng(TRACK_SEED)
    num_points = NUM_POSITIVE + NUM_NEGATIVE
    offsets = np.concatenate([rng.uniform(-45, 45, (NUM_OBJECTS, NUM_POSITIVE, 2)),
                              rng.uniform(130, 170, (NUM_OBJECTS, NUM_NEGATIVE, 2)) * rng.choice([-1, 1], (
                                  NUM_OBJECTS, NUM_NEGATIVE, 2))], axis=1)
    tracks = np.zeros((num_frames, NUM_OBJECTS, num_points, 2), np.float32)
    visible = np.zeros((num_frames, NUM_OBJECTS, num_points), bool)
    for t in range(num_frames):
        centres = ellipse_centres(t, height, width)
        points = centres[:, None, :] + offsets + rng.normal(0, 2.0, offsets.shape)
        tracks[t] = np.clip(points, [0, 0], [width - 1, height - 1])
        rule = VISIBILITY[t]
        if rule == "random":
            visible[t] = rng.random((NUM_OBJECTS, num_points)) > 0.3
        elif rule == "own-hidden":
            visible[t] = rng.random((NUM_OBJECTS, num_points)) > 0.3
            visible[t, 0] = False
        elif rule == "one-negative":
            visible[t, 1, NUM_POSITIVE:] = True
        else:
            raise ValueError(rule)
    return tracks, visible


def tiny_sam(state_path: str | Path | None = None):
    """The tiny SAM of the recording: `build_tiny_sam(SAM_SEED)` with `SAM_IOU_BIAS` added to its IoU head,
    or, with ``state_path``, the same architecture loaded strictly from that state dict."""
    import torch

    from trackers.segmenters.sam_models import build_tiny_sam

    sam = build_tiny_sam(seed=SAM_SEED)
    if state_path is not None:
        sam.load_state_dict(torch.load(state_path, map_location="cpu"), strict=True)
    else:
        with torch.no_grad():
            sam.mask_decoder.iou_prediction_head.layers[-1].bias += SAM_IOU_BIAS
    return sam.eval()


def make_inputs(out: Path) -> dict[str, Path]:
    """Write ``inputs.npz`` (frames, tracks, visible) and ``tiny_sam.pt`` under ``out``; returns the paths."""
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames = synthetic_clip(**CLIP)
    tracks, visible = trajectories(CLIP["num_frames"], CLIP["height"], CLIP["width"])
    paths = {"inputs": out / "inputs.npz", "tiny_sam": out / "tiny_sam.pt"}
    np.savez(paths["inputs"], frames=frames, tracks=tracks, visible=visible)
    torch.save(tiny_sam().state_dict(), paths["tiny_sam"])
    return paths


def pack_masks(masks: np.ndarray) -> np.ndarray:
    """(M, T, H, W) bool -> uint8 bits (`unpack_masks` inverts it with the shape)."""
    return np.packbits(masks.astype(bool).ravel())


def unpack_masks(bits: np.ndarray, shape) -> np.ndarray:
    """Inverse of `pack_masks`: (M, T, H, W) bool."""
    return np.unpackbits(bits, count=int(np.prod(shape))).reshape(tuple(shape)).astype(bool)


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
    model = SamPt(point_tracker=None, sam_predictor=SamPredictor(tiny_sam(inputs / "tiny_sam.pt")),
                  positive_point_selection_method="kmedoids", negative_point_selection_method="mixed",
                  point_tracker_mask_batch_size=5, use_patch_matching_filtering=False, patch_size=3,
                  patch_similarity_threshold=0.01, use_point_reinit=False, reinit_point_tracker_horizon=8,
                  reinit_horizon=8, reinit_variant="reinit-on-horizon-and-sync-masks", **KNOBS).eval()
    arrays = {}
    info = {"official_commit": official_commit(official, commit), "clip": CLIP, "track_seed": TRACK_SEED,
            "visibility": VISIBILITY, "sam_seed": SAM_SEED, "sam_iou_bias": SAM_IOU_BIAS, "knobs": KNOBS,
            "settings": {}}
    for setting, iterations in SETTINGS.items():
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
    return run_recording_cli(parser, argv, make_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
