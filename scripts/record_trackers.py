"""Record SAM-PT's point trackers on a synthetic clip with random weights (tests/fixtures/official_trackers).

For each tracker in `TRACKERS` the inputs are deterministic (`make_inputs`): a short synthetic clip
(`synthetic_clip`: a panning smooth texture with a square moving against it), query points on the first,
a middle and the last frame (`QUERIES`), and random weights in the official checkpoint format drawn from a
fixed seed, damped where random weights make the official tracker chaotic (see the fixture README).
`record` runs the official tracker exactly as SAM-PT calls it (``tracker.evaluate_batch(rgbs[None],
queries[None])`` on (1, T, 3, H, W) uint8 frames) and stores tracks and visibilities in
``<tracker>.npz``; with ``--sensitivity`` it first reruns the official tracker with one weight changed by
1e-7 and reports how far the tracks move. Commands::

    # 1. inputs (this repository's venv)
    .venv/bin/python -m scripts.record_trackers inputs --tracker pips --out /tmp/tracker_inputs
    # 2. the official code (SysCV/sam-pt) in a venv with its requirements, from this repository's root
    /path/to/venv/bin/python -m scripts.record_trackers record --tracker pips --official /path/to/sam-pt \\
        --inputs /tmp/tracker_inputs --out tests/fixtures/official_trackers [--sensitivity]

`tests/test_official_trackers.py` regenerates the inputs, runs ``build_point_tracker(...).track`` and
compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.official_fixtures import (
    PIPS_DAMPING, damped_pips_state, install_stand_ins, official_commit, recording_parser,
)

#: frames, height, width of the clip
CLIP = dict(num_frames=10, height=96, width=128, seed=5)
#: (t, x, y): on the first frame, a middle frame (both directions) and the last frame, one near a border
QUERIES = np.array([[0, 30.0, 40.0], [0, 70.5, 52.25], [4, 64.0, 48.0], [4, 110.0, 20.0],
                    [9, 50.0, 60.0], [9, 5.0, 90.0]], dtype=np.float32)
PIPS_SEED = 2024
#: the update heads damped as `PIPS_DAMPING`; the visibility head (which feeds only the chaining) amplified
#: and its bias raised so that visibilities spread over 0.4..1: both the chaining thresholds (0.9, -0.02)
#: and the 0.5 visibility cut decide something
PIPS_SCALING = (*PIPS_DAMPING[:2], ("vis_predictor.0.", 4.0))
PIPS_VIS_BIAS = 0.2
#: the weight changed by 1e-7 in the sensitivity check: (name, index)
PIPS_PROBE = ("delta_block.to_delta.0.weight", (0, 0))
TRACKERS = {
    "pips": dict(seed=PIPS_SEED, damping=PIPS_SCALING, bias={"vis_predictor.0.bias": PIPS_VIS_BIAS},
                 probe=PIPS_PROBE),
}


def synthetic_clip(num_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth random texture panning by (1, 2) px per frame with a brighter textured
    square moving by (-3, 2) px per frame over it."""
    import cv2

    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.uniform(0, 255, (height + 64, width + 64, 3)).astype(np.float32), (0, 0), 2.0)
    canvas = (canvas - canvas.min()) / (canvas.max() - canvas.min()) * 200
    patch = cv2.GaussianBlur(rng.uniform(0, 255, (24, 24, 3)).astype(np.float32), (0, 0), 1.0)
    frames = []
    for t in range(num_frames):
        frame = canvas[t:t + height, 2 * t:2 * t + width].copy()
        y, x = 40 - 3 * t + 30, 20 + 2 * t
        frame[y:y + 24, x:x + 24] = np.clip(patch * 0.3 + 160, 0, 255)
        frames.append(frame)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def input_paths(tracker: str, out: Path) -> dict[str, Path]:
    """Where `make_inputs` writes the clip and queries and the checkpoint of ``tracker``."""
    if tracker not in TRACKERS:
        raise ValueError(f"no recording for tracker {tracker!r}; valid: {', '.join(TRACKERS)}")
    checkpoint = {"pips": "pips/model-000200000.pth"}[tracker]
    return {"inputs": Path(out) / "inputs.npz", "checkpoint": Path(out) / checkpoint}


def make_inputs(tracker: str, out: Path) -> dict[str, Path]:
    """Write the clip and queries (``inputs.npz``) and the checkpoint of ``tracker`` under ``out``."""
    import torch

    paths = input_paths(tracker, out)
    paths["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    np.savez(paths["inputs"], frames=synthetic_clip(**CLIP), queries=QUERIES)
    if tracker == "pips":
        state = damped_pips_state(PIPS_SEED, PIPS_SCALING)
        state["vis_predictor.0.bias"] += PIPS_VIS_BIAS
        torch.save({"model_state_dict": state}, paths["checkpoint"])
    return paths


def official_tracker(tracker: str, paths: dict):
    """The official tracker object of ``tracker`` with the checkpoint of ``paths``."""
    if tracker == "pips":
        from sam_pt.point_tracker.pips import PipsPointTracker

        return PipsPointTracker(str(paths["checkpoint"].parent), stride=4, s=8)
    raise ValueError(tracker)


def run_official(model, frames: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SAM-PT's call: ``evaluate_batch`` on (1, T, 3, H, W) uint8 and (1, N, 3) (t, x, y) under no_grad."""
    import torch

    rgbs = torch.from_numpy(frames).permute(0, 3, 1, 2)[None]
    model.eval()
    with torch.no_grad():
        outputs = model.evaluate_batch(rgbs, torch.from_numpy(queries)[None])
    return outputs["trajectories_pred"][0].numpy(), outputs["visibilities_pred"][0].numpy()


def record(tracker: str, official: Path, inputs: Path, out: Path, commit: str | None = None,
           sensitivity: bool = False) -> dict:
    """Run the official ``tracker`` on ``inputs`` (from `make_inputs`) and write ``out/<tracker>.npz``."""
    import torch

    official = Path(official).resolve()
    sys.path.insert(0, str(official))
    install_stand_ins()
    torch.set_num_threads(1)
    paths = input_paths(tracker, inputs)
    data = np.load(paths["inputs"])
    frames, queries = data["frames"], data["queries"]
    model = official_tracker(tracker, paths)
    tracks, visible = run_official(model, frames, queries)
    info = {"tracker": tracker, "official_commit": official_commit(official, commit), "clip": CLIP,
            "seed": TRACKERS[tracker]["seed"], "damping": TRACKERS[tracker]["damping"],
            "bias": TRACKERS[tracker].get("bias", {}),
            "visible_fraction": float(np.asarray(visible, dtype=bool).mean()),
            "track_range": [float(tracks.min()), float(tracks.max())]}
    if sensitivity:
        name, index = TRACKERS[tracker]["probe"]
        parameter = dict(model.named_parameters())[f"model.{name}"]
        with torch.no_grad():
            parameter[index] += 1e-7
        moved, moved_visible = run_official(model, frames, queries)
        info["sensitivity"] = {"probe": [name, list(index)], "max_track_change_px": float(np.abs(moved - tracks).max()),
                               "visibility_changes": int((np.asarray(moved_visible) != np.asarray(visible)).sum())}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{tracker}.npz", tracks=tracks.astype(np.float32), visible=np.asarray(visible, bool))
    (out / f"{tracker}.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, make, rec = recording_parser(__doc__, "write the clip, the queries and the random checkpoint",
                                         "run the official tracker on the inputs", "tests/fixtures/official_trackers",
                                         official="a checkout of SysCV/sam-pt")
    make.add_argument("--tracker", choices=list(TRACKERS), required=True)
    rec.add_argument("--tracker", choices=list(TRACKERS), required=True)
    rec.add_argument("--sensitivity", action="store_true",
                     help="also report the tracks' change under a 1e-7 change of one weight")
    args = parser.parse_args(argv)
    if args.command == "inputs":
        print(json.dumps({k: str(v) for k, v in make_inputs(args.tracker, args.out).items()}, indent=1))
    else:
        print(json.dumps(record(args.tracker, args.official, args.inputs, args.out, args.commit,
                                args.sensitivity), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
