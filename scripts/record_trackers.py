"""Record SAM-PT's point trackers on a synthetic clip with random weights (tests/fixtures/official_trackers).

For each tracker in `TRACKERS` (`pips`, `pips2`, `raft`) the inputs are deterministic (`make_inputs`): a short
synthetic clip (`synthetic_clip`: a panning smooth texture with a square moving against it), query points on
the first, a middle and the last frame (`QUERIES`; `pips2`: `PIPS2_QUERIES`), and random weights in the
official checkpoint format drawn from a fixed seed, damped where random weights make the official tracker
chaotic (see the fixture README). `record` runs the official tracker exactly as SAM-PT calls it
(``tracker.evaluate_batch(rgbs[None], queries[None])`` on (1, T, 3, H, W) uint8 frames; for `pips2` once per
query frame, see `run_official_per_query_frame`) and stores tracks and visibilities in
``<tracker>.npz``; with ``--sensitivity`` it first reruns the official tracker with one weight changed by
1e-7 and reports how far the tracks move. Commands::

    # 1. inputs (this repository's venv); --tracker pips, pips2 or raft
    .venv/bin/python -m scripts.record_trackers inputs --tracker pips --out /tmp/tracker_inputs
    # 2. the official code (SysCV/sam-pt) in a venv with its requirements, from this repository's root
    /path/to/venv/bin/python -m scripts.record_trackers record --tracker pips --official /path/to/sam-pt \\
        --inputs /tmp/tracker_inputs --out tests/fixtures/official_trackers [--sensitivity]

`tests/test_official_trackers.py` regenerates the inputs, runs ``build_point_tracker(name, checkpoint,
**TRACKERS[name]["options"]).track`` (the options select the official behaviour where ours differs) and
compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.official_fixtures import (
    PIPS_DAMPING, damp, damped_pips_state, install_stand_ins, official_commit, recording_parser,
)

RAFT_KEYS = Path(__file__).resolve().parents[1] / "reference" / "keys" / "raft_things_keys.txt"
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
#: PIPS++ and RAFT need sides >= 128 px (their coarsest correlation level); sides that are not multiples of 8
#: make RAFT pad (2 | 3 rows, 3 | 3 columns)
LARGE_CLIP = dict(num_frames=10, height=131, width=146, seed=5)
PIPS2_SEED = 2025
#: the last layer of the update head (`DeltaBlock.dense`: per-frame position deltas), and a drift added to its
#: bias (0.02 feature px per iteration): a 1e-7 change of `PIPS2_PROBE` moved the official tracks by 57 px
#: undamped, damped by 0.05 by 0.34 px, by 0.01 by 6.4e-4 px (2.1e-4 px with the drift), by 0.002 with the
#: drift by 1.9e-5 px
PIPS2_DAMPING = (("delta_block.dense.", 0.002),)
PIPS2_DRIFT_BIAS = 0.02
#: SAM-PT's `PipsPlusPlusPointTracker` settings (configs/model/point_tracker/pips_plus_plus.yaml) except the
#: window: 4 frames instead of 128, so that the 10-frame clip is tracked over chained windows
PIPS2_OFFICIAL = dict(stride=8, max_sequence_length=4, iters=16, image_size=None)
PIPS2_PROBE = ("delta_block.first_block_conv.conv.weight", (0, 0, 0))
#: `QUERIES` with the last-frame queries moved to frame 6, so that a full 4-frame window follows them:
#: SAM-PT's `PipsPlusPlusPointTracker.forward` returns T - 1 frames for a query on the last frame (it drops
#: the query frame of the backward part and the forward part is empty) and `evaluate_batch`'s shape assertion
#: fails; with fewer frames after the query the last window is short, and its result is not reproducible in
#: float32 (the delta block's instance norms over 2 or 3 time steps: our float32 and float64 runs differed by
#: 0.015 px (2 frames) and 0.003 px (3 frames) there, 3e-5 px elsewhere)
PIPS2_QUERIES = np.where(QUERIES[:, :1] == CLIP["num_frames"] - 1, QUERIES - [3, 0, 0], QUERIES).astype(np.float32)
RAFT_SEED = 2026
#: the output convolution of the flow head (per-iteration flow update): not for stability (undamped, a 1e-7
#: change of `RAFT_PROBE` moved the official tracks by 1.5e-5 px) but to keep the random flow small beside the drift
RAFT_DAMPING = (("update_block.flow_head.conv2.", 0.05),)
#: added to that convolution's bias: a drift of about (-4, -4) px per frame (32 updates of 1/8-resolution flow,
#: upsampled x8), so that points leave the frame and SAM-PT's chaining (which keeps moving them) matters
RAFT_DRIFT_BIAS = -0.0156
RAFT_PROBE = ("model.update_block.flow_head.conv1.weight", (0, 0, 1, 1))
TRACKERS = {
    "pips": dict(seed=PIPS_SEED, damping=PIPS_SCALING, bias={"vis_predictor.0.bias": PIPS_VIS_BIAS},
                 probe=PIPS_PROBE),
    "pips2": dict(seed=PIPS2_SEED, damping=PIPS2_DAMPING, bias={"delta_block.dense.bias": PIPS2_DRIFT_BIAS},
                  probe=PIPS2_PROBE, clip=LARGE_CLIP, queries=PIPS2_QUERIES, official=PIPS2_OFFICIAL,
                  options=dict(window=PIPS2_OFFICIAL["max_sequence_length"]),
                  one_call_per_query_frame=True),
    "raft": dict(seed=RAFT_SEED, damping=RAFT_DAMPING, bias={"update_block.flow_head.conv2.bias": RAFT_DRIFT_BIAS},
                 probe=RAFT_PROBE, clip=LARGE_CLIP,
                 options=dict(iterations=32, fb_threshold=None, chaining="sampt")),
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
    checkpoint = {"pips": "pips/model-000200000.pth", "pips2": "pips2/model-000200000.pth",
                  "raft": "raft/raft-things.pth"}[tracker]
    # one inputs file per tracker: the clips differ (`LARGE_CLIP`)
    return {"inputs": Path(out) / f"inputs_{tracker}.npz", "checkpoint": Path(out) / checkpoint}


def make_inputs(tracker: str, out: Path) -> dict[str, Path]:
    """Write the clip and queries (``inputs.npz``) and the checkpoint of ``tracker`` under ``out``."""
    import torch

    paths = input_paths(tracker, out)
    paths["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    np.savez(paths["inputs"], frames=synthetic_clip(**TRACKERS[tracker].get("clip", CLIP)),
             queries=TRACKERS[tracker].get("queries", QUERIES))
    if tracker == "pips":
        state = damped_pips_state(PIPS_SEED, PIPS_SCALING)
        state["vis_predictor.0.bias"] += PIPS_VIS_BIAS
        torch.save({"model_state_dict": state}, paths["checkpoint"])
    elif tracker == "pips2":
        state = damped_pips2_state(PIPS2_SEED, PIPS2_DAMPING)
        state["delta_block.dense.bias"] += PIPS2_DRIFT_BIAS
        torch.save({"model_state_dict": state}, paths["checkpoint"])
    elif tracker == "raft":
        state = damped_raft_princeton_state(RAFT_SEED, RAFT_DAMPING, TRACKERS["raft"]["bias"])
        torch.save(state, paths["checkpoint"])
    return paths


def damped_pips2_state(seed: int, damping) -> dict:
    """A random `Pips2Net` (stride 8) state dict drawn after ``torch.manual_seed(seed)``, scaled by ``damping``;
    the names are the official PIPS++ checkpoint's (`reference/keys/pips2_keys.txt`)."""
    import torch

    from trackers.point.pips2.net import Pips2Net

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = Pips2Net(stride=8).state_dict()
    return damp(state, damping)


def damped_raft_princeton_state(seed: int, damping, bias: dict[str, float]) -> dict:
    """A random torchvision `raft_large` drawn after ``torch.manual_seed(seed)``, scaled by ``damping``, with
    ``bias`` ({name: value}) added (torchvision names), written in the princeton-vl `raft-things.pth` layout
    that SAM-PT loads: the DataParallel names of `reference/keys/raft_things_keys.txt` (`module.` prefix, each
    residual block's `norm3` saved again beside `downsample.1`). `convert_princeton_state_dict` maps it back
    exactly."""
    import torch

    from trackers.point.raft.tracker import build_raft, princeton_key_to_torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = damp(build_raft("raft_large").state_dict(), damping)
    for name, value in bias.items():
        state[name] = state[name] + value
    lines = RAFT_KEYS.read_text().splitlines()
    princeton = {}
    for name in (line.split()[0] for line in lines if line.strip() and not line.startswith("#")):
        short = name[len("module."):]
        target = princeton_key_to_torchvision(short, "raft_large") or princeton_key_to_torchvision(
            short.replace(".norm3.", ".downsample.1."), "raft_large")
        princeton[name] = state[target].clone()
    used = {princeton_key_to_torchvision(name[len("module."):], "raft_large") for name in princeton} - {None}
    if used != set(state):
        raise RuntimeError(f"{RAFT_KEYS} does not cover torchvision's raft_large: {sorted(set(state) ^ used)[:5]}")
    return princeton


def official_tracker(tracker: str, paths: dict):
    """The official tracker object of ``tracker`` with the checkpoint of ``paths``."""
    import torch

    if tracker == "pips":
        from sam_pt.point_tracker.pips import PipsPointTracker

        return PipsPointTracker(str(paths["checkpoint"].parent), stride=4, s=8)
    if tracker == "pips2":
        # SAM-PT's PIPS++ code moves new tensors with `.cuda()`; the recording runs on the CPU
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
        from sam_pt.point_tracker.pips_plus_plus import PipsPlusPlusPointTracker

        model = PipsPlusPlusPointTracker(str(paths["checkpoint"].parent), **PIPS2_OFFICIAL)
        # its loader is not strict: reload strictly so that every official parameter comes from the file
        model.model.load_state_dict(torch.load(paths["checkpoint"])["model_state_dict"], strict=True)
        return model
    if tracker == "raft":
        from sam_pt.point_tracker.raft import RaftPointTracker

        return RaftPointTracker(str(paths["checkpoint"]))  # loads strictly
    raise ValueError(tracker)


def run_official(model, frames: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SAM-PT's call: ``evaluate_batch`` on (1, T, 3, H, W) uint8 and (1, N, 3) (t, x, y) under no_grad."""
    import torch

    rgbs = torch.from_numpy(frames).permute(0, 3, 1, 2)[None]
    model.eval()
    with torch.no_grad():
        outputs = model.evaluate_batch(rgbs, torch.from_numpy(queries)[None])
    return outputs["trajectories_pred"][0].numpy(), outputs["visibilities_pred"][0].numpy()


def run_official_per_query_frame(model, frames: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`run_official` once per query frame (the queries of that frame only), results put back in query order.

    SAM-PT's `PipsPlusPlusPointTracker.forward` tracks each query frame's points as a group but then reads
    each point's track from its group by the point's index in the whole query list (`for idx, (idx, _) in
    enumerate(points_with_indices)`), which is right only when every query is on one frame, as in SAM-PT's
    own calls; with queries on several frames it fails or mixes points up.
    """
    tracks = np.zeros((len(frames), len(queries), 2), np.float32)
    visible = np.zeros((len(frames), len(queries)), np.float32)
    for t in np.unique(queries[:, 0]):
        group = np.flatnonzero(queries[:, 0] == t)
        tracks[:, group], visible[:, group] = run_official(model, frames, queries[group])
    return tracks, visible


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
    run = run_official_per_query_frame if TRACKERS[tracker].get("one_call_per_query_frame") else run_official
    tracks, visible = run(model, frames, queries)
    info = {"tracker": tracker, "official_commit": official_commit(official, commit),
            "clip": TRACKERS[tracker].get("clip", CLIP), "queries": queries.tolist(),
            "seed": TRACKERS[tracker]["seed"], "damping": TRACKERS[tracker]["damping"],
            "bias": TRACKERS[tracker].get("bias", {}),
            "official_settings": TRACKERS[tracker].get("official", {}),
            "our_options": TRACKERS[tracker].get("options", {}),
            "visible_fraction": float(np.asarray(visible, dtype=bool).mean()),
            "track_range": [float(tracks.min()), float(tracks.max())]}
    if sensitivity:
        name, index = TRACKERS[tracker]["probe"]
        parameter = dict(model.named_parameters())[f"model.{name}"]
        with torch.no_grad():
            parameter[index] += 1e-7
        moved, moved_visible = run(model, frames, queries)
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
