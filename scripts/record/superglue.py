"""Record SAM-PT's SuperGlue point tracker on a synthetic clip with random weights (tests/fixtures/official_superglue).

The inputs are deterministic (`tests.inputs.make_superglue_inputs`, shared with the test): a 6-frame
`panning_clip`, two objects' masks on frame 0 and their 3 positive + 2 negative query points there, and
SuperPoint / SuperGlue state dicts in the official formats, drawn from a fixed seed and shaped so that the
random networks give a non-trivial set of matches (`tests.inputs.superglue_states`). ``record`` builds the
official ``SuperGluePointTracker`` with SAM-PT's settings (``configs/model/point_tracker/superglue.yaml``),
sets the masks and calls it as SAM-PT does (``set_masks(query_masks)``, then ``evaluate_batch(rgbs[None],
queries[None])``) after ``numpy.random.seed(SUPERGLUE_DRAW_SEED)``; it stores the tracks and visibilities in
``superglue.npz`` and the settings (and, with ``--sensitivity``, the outputs' change when one weight changes
by 1e-7) in ``superglue.json``. Commands::

    .venv/bin/python -m scripts.record.superglue inputs --out /tmp/superglue_inputs
    /path/to/venv/bin/python -m scripts.record.superglue record --official /path/to/sam-pt \\
        --inputs /tmp/superglue_inputs --out tests/fixtures/official_superglue --sensitivity
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import install_stand_ins, official_commit, recording_parser
from tests.inputs import (
    SUPERGLUE_CLIP, SUPERGLUE_DAMPING, SUPERGLUE_DETECTOR_GAIN, SUPERGLUE_DRAW_SEED, SUPERGLUE_NEGATIVE,
    SUPERGLUE_POSITIVE, SUPERGLUE_PROBE, SUPERGLUE_PROJECTION_GAIN, SUPERGLUE_WEIGHT_SEED, make_superglue_inputs,
)

#: SAM-PT's configs/model/point_tracker/superglue.yaml (the checkpoints aside)
OFFICIAL_SETTINGS = {"superpoint": {"nms_radius": 3, "keypoint_threshold": 0.005, "max_keypoints": -1,
                                    "descriptor_dim": 256, "remove_borders": 4},
                     "superglue": {"sinkhorn_iterations": 20, "match_threshold": 0.2}}


def run_official(inputs: Path, superglue_state: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official tracker's (T, N, 2) tracks and (T, N) visibilities on the inputs under ``inputs``
    (with ``superglue_state`` replacing the SuperGlue weights when given)."""
    import torch
    from sam_pt.point_tracker import SuperGluePointTracker

    data = np.load(inputs / "superglue_inputs.npz")
    config = {"superpoint": dict(OFFICIAL_SETTINGS["superpoint"], checkpoint=str(inputs / "superpoint_v1.pth")),
              "superglue": dict(OFFICIAL_SETTINGS["superglue"], checkpoint=str(inputs / "superglue_outdoor.pth"))}
    tracker = SuperGluePointTracker(SUPERGLUE_POSITIVE, SUPERGLUE_NEGATIVE, [-1, -1], config)
    if superglue_state is not None:
        tracker.matching.superglue.load_state_dict(superglue_state, strict=True)
    tracker.set_masks(torch.from_numpy(data["masks"]).float())
    np.random.seed(SUPERGLUE_DRAW_SEED)
    rgbs = torch.from_numpy(data["frames"]).permute(0, 3, 1, 2)[None]
    with torch.no_grad():
        out = tracker.evaluate_batch(rgbs, torch.from_numpy(data["queries"])[None])
    return out["trajectories_pred"][0].numpy(), out["visibilities_pred"][0].numpy()


def record(official: Path, inputs: Path, out: Path, commit: str | None = None, sensitivity: bool = False) -> dict:
    """Run the official tracker on ``inputs`` (from ``inputs``) and write ``out/superglue.{npz,json}``."""
    import torch

    official = Path(official).resolve()
    sys.path.insert(0, str(official))
    install_stand_ins()
    torch.set_num_threads(1)
    tracks, visible = run_official(Path(inputs))
    info = {"tracker": "superglue", "official_commit": official_commit(official, commit), "clip": SUPERGLUE_CLIP,
            "positive": SUPERGLUE_POSITIVE, "negative": SUPERGLUE_NEGATIVE, "draw_seed": SUPERGLUE_DRAW_SEED,
            "weight_seed": SUPERGLUE_WEIGHT_SEED, "detector_gain": SUPERGLUE_DETECTOR_GAIN,
            "damping": SUPERGLUE_DAMPING, "projection_gain": SUPERGLUE_PROJECTION_GAIN,
            "official_settings": OFFICIAL_SETTINGS, "visible_per_frame": visible.sum(1).tolist()}
    if sensitivity:
        name, index = SUPERGLUE_PROBE
        state = torch.load(Path(inputs) / "superglue_outdoor.pth")
        state[name][index] += 1e-7
        tracks2, visible2 = run_official(Path(inputs), state)
        info["sensitivity"] = {"weight": name, "index": list(index), "change": 1e-7,
                               "max_track_change_px": float(np.abs(tracks2 - tracks).max()),
                               "visibility_changes": int((visible2 != visible).sum())}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "superglue.npz", tracks=tracks.astype(np.float32), visible=visible.astype(bool))
    (out / "superglue.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, rec = recording_parser(__doc__, "write the clip, masks, queries and the random checkpoints",
                                      "run the official tracker on the inputs", "tests/fixtures/official_superglue",
                                      official="a checkout of SysCV/sam-pt")
    rec.add_argument("--sensitivity", action="store_true",
                     help="also report the outputs' change under a 1e-7 weight change")
    args = parser.parse_args(argv)
    if args.command == "inputs":
        print(json.dumps({k: str(v) for k, v in make_superglue_inputs(args.out).items()}, indent=1))
    else:
        print(json.dumps(record(args.official, args.inputs, args.out, args.commit, args.sensitivity), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
