"""The deterministic inputs that the tests and the official-output recorders (`scripts/record/`) share.

One section per recorded fixture (``tests/fixtures/<name>``): its constants and case tables and the makers
of its inputs (synthetic clips, seeded and damped state dicts, json pairs, DAVIS roots). A test regenerates
a fixture's inputs with these makers and compares our code with the recorded official output; the recorder
writes the same inputs (``python -m scripts.record.<name> inputs``) for the official code to run on. Any
change here changes what the recorded numbers were computed on: the fixtures' tests then fail.

Only numpy is imported at the top (the recorders import this module in the official code's venvs); torch,
OpenCV, pycocotools and this repository's packages are imported where an input needs them.

Sections: seeded random weights (damped PIPS, tiny SAM); official_trackers; official_sam_step; official_kmedoids;
official_davis; official_vis; authors_eval; official_sav; official_vost; official_lvos; official_mosev2; DAVIS roots and
blob label maps (tests/evaluation/test_vos.py and the scoring benchmark `scripts/bench/eval.py`); official_superglue.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# ==== seeded random weights: damped PIPS (official_trackers, authors_eval, the pipeline benchmarks), tiny SAM
#: (parameter name prefix, factor) of PIPS: the last layer of the update MLP, the feature and visibility
#: heads. Random PIPS weights are chaotic (a 1e-7 change of one weight moves tracks by ~0.5 px); damped,
#: the official tracker is stable to 1e-4 px under such a change.
PIPS_DAMPING = (("delta_block.to_delta.15.", 0.05), ("ffeat_updater.0.", 0.05), ("vis_predictor.0.", 0.05))


def damp(state: dict, damping) -> dict:
    """Scale the tensors whose names start with a prefix of ``damping`` ((prefix, factor), ...) in place;
    every prefix must match exactly one weight and one bias."""
    damped = 0
    for name in state:
        for prefix, factor in damping:
            if name.startswith(prefix):
                state[name] = state[name] * factor
                damped += 1
    if damped != 2 * len(damping):
        raise RuntimeError(f"damping matched {damped} tensors, expected {2 * len(damping)}")
    return state


def damped_pips_state(seed: int, damping=PIPS_DAMPING) -> dict:
    """A random `PipsNet` (window 8, stride 4) state dict drawn after ``torch.manual_seed(seed)``, scaled
    by ``damping`` (`damp`); the global torch generator is left as it was."""
    import torch

    from trackers.point.pips.net import PipsNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = PipsNet(window=8, stride=4).state_dict()
    return damp(state, damping)


def seeded_tiny_sam(seed: int, iou_bias: float = 0.0, state_path: str | Path | None = None):
    """A tiny random SAM (`build_tiny_sam(seed=seed)`, the real ``segment_anything`` modules) in eval mode, with
    ``iou_bias`` added to the last bias of its IoU head (so that predicted IoUs straddle SAM-PT's 0.7
    threshold), or, with ``state_path``, the same architecture loaded strictly from that state dict (no bias
    added: the file holds it)."""
    import torch

    from trackers.segmenters.sam_models import build_tiny_sam

    sam = build_tiny_sam(seed=seed)
    if state_path is not None:
        sam.load_state_dict(torch.load(state_path, map_location="cpu"), strict=True)
    else:
        with torch.no_grad():
            sam.mask_decoder.iou_prediction_head.layers[-1].bias += iou_bias
    return sam.eval()


# ==== official_trackers: a panning clip, queries, seeded tracker weights (scripts/record/trackers.py)
RAFT_KEYS = REPO / "reference" / "keys" / "raft_things_keys.txt"
#: frames, height, width of the clip
TRACKER_CLIP = dict(num_frames=10, height=96, width=128, seed=5)
#: (t, x, y): on the first frame, a middle frame (both directions) and the last frame, one near a border
TRACKER_QUERIES = np.array([[0, 30.0, 40.0], [0, 70.5, 52.25], [4, 64.0, 48.0], [4, 110.0, 20.0],
                    [9, 50.0, 60.0], [9, 5.0, 90.0]], dtype=np.float32)
TRACKER_PIPS_SEED = 2024
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
#: `TRACKER_QUERIES` with the last-frame queries moved to frame 6, so that a full 4-frame window follows them:
#: SAM-PT's `PipsPlusPlusPointTracker.forward` returns T - 1 frames for a query on the last frame (it drops
#: the query frame of the backward part and the forward part is empty) and `evaluate_batch`'s shape assertion
#: fails; with fewer frames after the query the last window is short, and its result is not reproducible in
#: float32 (the delta block's instance norms over 2 or 3 time steps: our float32 and float64 runs differed by
#: 0.015 px (2 frames) and 0.003 px (3 frames) there, 3e-5 px elsewhere)
PIPS2_QUERIES = np.where(TRACKER_QUERIES[:, :1] == TRACKER_CLIP["num_frames"] - 1, TRACKER_QUERIES - [3, 0, 0],
                         TRACKER_QUERIES).astype(np.float32)
RAFT_SEED = 2026
#: the output convolution of the flow head (per-iteration flow update): not for stability (undamped, a 1e-7
#: change of `RAFT_PROBE` moved the official tracks by 1.5e-5 px) but to keep the random flow small beside the drift
RAFT_DAMPING = (("update_block.flow_head.conv2.", 0.05),)
#: added to that convolution's bias: a drift of about (-4, -4) px per frame (32 updates of 1/8-resolution flow,
#: upsampled x8), so that points leave the frame and SAM-PT's chaining (which keeps moving them) matters
RAFT_DRIFT_BIAS = -0.0156
RAFT_PROBE = ("model.update_block.flow_head.conv1.weight", (0, 0, 1, 1))
TRACKERS = {
    "pips": dict(seed=TRACKER_PIPS_SEED, damping=PIPS_SCALING, bias={"vis_predictor.0.bias": PIPS_VIS_BIAS},
                 probe=PIPS_PROBE),
    "pips2": dict(seed=PIPS2_SEED, damping=PIPS2_DAMPING, bias={"delta_block.dense.bias": PIPS2_DRIFT_BIAS},
                  probe=PIPS2_PROBE, clip=LARGE_CLIP, queries=PIPS2_QUERIES, official=PIPS2_OFFICIAL,
                  options=dict(window=PIPS2_OFFICIAL["max_sequence_length"]),
                  one_call_per_query_frame=True),
    "raft": dict(seed=RAFT_SEED, damping=RAFT_DAMPING, bias={"update_block.flow_head.conv2.bias": RAFT_DRIFT_BIAS},
                 probe=RAFT_PROBE, clip=LARGE_CLIP,
                 options=dict(iterations=32, fb_threshold=None, chaining="sampt")),
}

# ---- CoTracker3 (facebookresearch/co-tracker) and TAPIR / BootsTAPIR (google-deepmind/tapnet, tapnet/torch) ----
#: CoTracker3's network runs at this (H, W) instead of the official (384, 512): at (384, 512) the official
#: offline predictor took 195 s on the 10-frame clip (one CPU thread), too slow for a test. The official
#: model takes it as its ``model_resolution`` argument; (64, 96) keeps the 4-level pyramid exact (multiples
#: of 32) and has another aspect than the clip, so the x and y rescaling differ.
COTRACKER3_RESOLUTION = (64, 96)
#: the online tracker needs more than one 16-frame window: 18 frames give windows at frames 0 and 8
ONLINE_CLIP = dict(TRACKER_CLIP, num_frames=18)
#: `TRACKER_QUERIES` moved to frames 0, 9 (middle) and 17 (last) of `ONLINE_CLIP`
ONLINE_QUERIES = np.concatenate([np.array([[0], [0], [9], [9], [17], [17]], np.float32), TRACKER_QUERIES[:, 1:]],
                                axis=1)
#: channel 2 of the PIPs mixer's input is the occlusion logit (channels 0-1, the position, are zeroed)
TAPIR_PROBE = ("torch_pips_mixer.linear.weight", (0, 2))
TRACKERS.update({
    "cotracker3_offline": dict(
        seed=2025, checkpoint="cotracker3/scaled_offline.pth", options={"model_resolution": COTRACKER3_RESOLUTION},
        damping=(("updateformer.flow_head.", 1.0), ("updateformer.vis_conf_head.", 5.0)),
        bias={"updateformer.vis_conf_head.bias": 0.3},
        probe=("updateformer.input_transform.weight", (0, 0))),
    "cotracker3_online": dict(
        seed=2026, checkpoint="cotracker3/scaled_online.pth", options={"model_resolution": COTRACKER3_RESOLUTION},
        clip=ONLINE_CLIP, queries=ONLINE_QUERIES,
        damping=(("updateformer.flow_head.", 1.0), ("updateformer.vis_conf_head.", 5.0)),
        bias={"updateformer.vis_conf_head.bias": 0.1},
        probe=("updateformer.input_transform.weight", (0, 0))),
    "tapir": dict(
        seed=2027, checkpoint="tapir/tapir_checkpoint_panning.pt", options={},
        damping=(("torch_pips_mixer.linear_1.", 1.0),), bias={},
        probe=TAPIR_PROBE),
    "bootstapir": dict(
        seed=2028, checkpoint="tapir/bootstapir_checkpoint_v2.pt",
        options={"softmax_temperature": 20.0},  # recorded with the official PyTorch TAPIR's default (its colab's)
        damping=(("torch_pips_mixer.linear_1.", 1.0),), bias={"torch_cost_volume_track_mods.occ_out.bias": 0.7},
        probe=TAPIR_PROBE),
})
#: CoTracker v1 (SAM-PT's wrapper) on `ONLINE_CLIP` (windows at frames 0, 4, 8, 12; support grids on frames 0 and
#: 12) at 64x96: undamped, a 1e-7 change of the probe moved the official tracks by 35 px (flow head and feature
#: updater scaled by 0.05: 0.58 px; 0.01: 4e-4 px; 0.005: 2e-5 px); the visibility bias spreads visibilities
#: around the 0.7 threshold
TRACKERS["cotracker_v1"] = dict(
    seed=2029, checkpoint="cotracker_v1/cotracker_stride_4_wind_8.pth", clip=ONLINE_CLIP, queries=ONLINE_QUERIES,
    options={"model_resolution": COTRACKER3_RESOLUTION},
    official=dict(interp_shape=list(COTRACKER3_RESOLUTION), visibility_threshold=0.7, support_grid_size=2,
                  support_grid_every_n_frames=12),
    damping=(("updateformer.flow_head.", 0.005), ("ffeat_updater.0.", 0.005)), bias={"vis_predictor.0.bias": 1.0},
    probe=("updateformer.input_transform.weight", (0, 0)))
#: TAPIR on a clip longer than its windows: 260 frames, with our tracker in windows of 224 frames ([0, 224),
#: [32, 256), [64, 260), keeping [0, 128), [128, 160), [160, 260); the temporal reach is 96 frames) against the
#: official model on the whole clip. At 64x64 (official ``TAPIR(initial_resolution=(64, 64))`` on frames resized
#: to 64x64; refinement then at 64x64 too) so that 260 frames take seconds; otherwise `tapir`'s settings.
TAPIR_LONG_RESOLUTION = (64, 64)
TAPIR_LONG_CLIP = dict(TRACKER_CLIP, num_frames=260, bounce=True)
#: `TRACKER_QUERIES` moved to frames 0, 130 (a middle window's core) and 259 (the last)
TAPIR_LONG_QUERIES = np.concatenate([np.array([[0], [0], [130], [130], [259], [259]], np.float32),
                                     TRACKER_QUERIES[:, 1:]], axis=1)
TRACKERS["tapir_long"] = dict(
    TRACKERS["tapir"], tracker="tapir", checkpoint="tapir_long/tapir_checkpoint_panning.pt",
    clip=TAPIR_LONG_CLIP, queries=TAPIR_LONG_QUERIES,
    official=dict(resolution=TAPIR_LONG_RESOLUTION, initial_resolution=TAPIR_LONG_RESOLUTION),
    options=dict(resolution=TAPIR_LONG_RESOLUTION, initial_resolution=TAPIR_LONG_RESOLUTION, window_frames=224))


def _bounce(t: int, period: int) -> int:
    """t for t <= period, then back down to 0, up again...: a triangle wave, so that long clips stay on the canvas."""
    phase = t % (2 * period)
    return phase if phase <= period else 2 * period - phase


def panning_clip(num_frames: int, height: int, width: int, seed: int, bounce: bool = False) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth random texture panning by (1, 2) px per frame with a brighter textured
    square moving by (-3, 2) px per frame over it; with ``bounce`` both turn back every 16 frames (clips
    of any length; without it the canvas ends after 32 frames)."""
    import cv2

    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.uniform(0, 255, (height + 64, width + 64, 3)).astype(np.float32), (0, 0), 2.0)
    canvas = (canvas - canvas.min()) / (canvas.max() - canvas.min()) * 200
    patch = cv2.GaussianBlur(rng.uniform(0, 255, (24, 24, 3)).astype(np.float32), (0, 0), 1.0)
    frames = []
    for t in range(num_frames):
        t = _bounce(t, 16) if bounce else t
        frame = canvas[t:t + height, 2 * t:2 * t + width].copy()
        y, x = 40 - 3 * t + 30, 20 + 2 * t
        frame[y:y + 24, x:x + 24] = np.clip(patch * 0.3 + 160, 0, 255)
        frames.append(frame)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def tracker_input_paths(tracker: str, out: Path) -> dict[str, Path]:
    """Where `make_tracker_inputs` writes the clip and queries and the checkpoint of ``tracker``."""
    if tracker not in TRACKERS:
        raise ValueError(f"no recording for tracker {tracker!r}; valid: {', '.join(TRACKERS)}")
    checkpoint = TRACKERS[tracker].get("checkpoint") or {"pips": "pips/model-000200000.pth",
                                                          "pips2": "pips2/model-000200000.pth",
                                                          "raft": "raft/raft-things.pth"}[tracker]
    # one inputs file per tracker: the clips differ
    return {"inputs": Path(out) / f"inputs_{tracker}.npz", "checkpoint": Path(out) / checkpoint}


def make_tracker_inputs(tracker: str, out: Path) -> dict[str, Path]:
    """Write the clip and queries (``inputs.npz``) and the checkpoint of ``tracker`` under ``out``."""
    import torch

    paths = tracker_input_paths(tracker, out)
    paths["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    settings = TRACKERS[tracker]
    np.savez(paths["inputs"], frames=panning_clip(**settings.get("clip", TRACKER_CLIP)),
             queries=settings.get("queries", TRACKER_QUERIES))
    if tracker == "pips":
        state = damped_pips_state(TRACKER_PIPS_SEED, PIPS_SCALING)
        state["vis_predictor.0.bias"] += PIPS_VIS_BIAS
        torch.save({"model_state_dict": state}, paths["checkpoint"])
    elif tracker == "pips2":
        state = damped_pips2_state(PIPS2_SEED, PIPS2_DAMPING)
        state["delta_block.dense.bias"] += PIPS2_DRIFT_BIAS
        torch.save({"model_state_dict": state}, paths["checkpoint"])
    elif tracker == "raft":
        state = damped_raft_princeton_state(RAFT_SEED, RAFT_DAMPING, TRACKERS["raft"]["bias"])
        torch.save(state, paths["checkpoint"])
    elif tracker == "tapnet":
        write_tapnet_checkpoint(seeded_tapnet_state(), paths["checkpoint"])
    else:  # CoTracker3, CoTracker v1, TAPIR, BootsTAPIR
        torch.save(seeded_tracker_state(tracker), paths["checkpoint"])
    return paths


def seeded_tracker_state(tracker: str) -> dict:
    """The plain state dict (the official format) of the CoTracker3, CoTracker v1 or TAPIR ``tracker``: our network
    drawn
    after ``torch.manual_seed(seed)`` (default initialisation), scaled by ``damping`` (`damp`) and with
    ``bias`` added; the global torch generator is left as it was."""
    import torch

    settings = TRACKERS[tracker]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        if tracker == "cotracker_v1":
            from trackers.point.cotracker1.net import CoTrackerV1Net

            net = CoTrackerV1Net()
        elif tracker.startswith("cotracker3"):
            from trackers.point.cotracker3.net import OFFLINE_WINDOW, ONLINE_WINDOW, CoTracker3Net

            net = CoTracker3Net(OFFLINE_WINDOW if tracker == "cotracker3_offline" else ONLINE_WINDOW)
        else:
            from trackers.point.tapir.net import TapirNet

            net = TapirNet(pyramid_level=int(tracker == "bootstapir"), extra_convs=tracker == "bootstapir")
        state = net.state_dict()
    state = damp(state, settings["damping"])
    for name, value in settings["bias"].items():
        state[name] = state[name] + value
    return state


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


# ==== official_sam_step: a 576x1024 clip, trajectories, a tiny SAM (scripts/record/sam_step.py)
#: frames, height, width (the authors' working size for 16:9 videos), seed
SAM_STEP_CLIP = dict(num_frames=4, height=576, width=1024, seed=3)
SAM_STEP_OBJECTS = 3
SAM_STEP_POSITIVE = 8
SAM_STEP_NEGATIVE = 1
SAM_STEP_TRACK_SEED = 8
#: per frame: "random" (each point hidden with probability 0.3), "own-hidden" (object 0: none of its
#: points visible), "one-negative" (only object 1's negative point visible)
SAM_STEP_VISIBILITY = ("random", "random", "own-hidden", "one-negative")
SAM_STEP_SAM_SEED = 2
SAM_STEP_SAM_IOU_BIAS = 0.995
#: the authors' values of the knobs of the SAM step (configs/model/sam_pt.yaml, paper Sec. 4.2)
SAM_STEP_KNOBS = dict(positive_points_per_mask=SAM_STEP_POSITIVE, negative_points_per_mask=SAM_STEP_NEGATIVE,
                      iterative_refinement_iterations=12, sam_iou_threshold=0.7,
                      add_other_objects_positive_points_as_negative_points=True,
                      max_other_objects_positive_points=None)
#: recorded settings -> refinement iterations: SAM-PT's 12, and the authors' 3 of their HQ-SAM and MobileSAM
#: variants (paper Sec. 4.2). The tiny SAM's refinement converges within ~4 passes, so only the 3-pass
#: recording tells the number of passes and the first (positives-only) pass apart.
SAM_STEP_SETTINGS = {"refine12": 12, "refine3": 3}


def ellipse_clip(num_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth random texture with `SAM_STEP_OBJECTS` coloured ellipses drifting over it."""
    import cv2

    rng = np.random.default_rng(seed)
    background = cv2.resize(rng.uniform(0, 255, (height // 32, width // 32, 3)).astype(np.float32), (width, height),
                            interpolation=cv2.INTER_CUBIC)
    colours = rng.uniform(0, 255, (SAM_STEP_OBJECTS, 3))
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
    return start[:SAM_STEP_OBJECTS] + t * step[:SAM_STEP_OBJECTS]


def sam_step_trajectories(num_frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Tracks (T, M, P, 2) float32 pixel (x, y), positives near each ellipse's centre, the negative away
    from it, all moving with it plus jitter; visible (T, M, P) bool after `SAM_STEP_VISIBILITY`."""
    rng = np.random.default_rng(SAM_STEP_TRACK_SEED)
    num_points = SAM_STEP_POSITIVE + SAM_STEP_NEGATIVE
    offsets = np.concatenate([rng.uniform(-45, 45, (SAM_STEP_OBJECTS, SAM_STEP_POSITIVE, 2)),
                              rng.uniform(130, 170, (SAM_STEP_OBJECTS, SAM_STEP_NEGATIVE, 2)) * rng.choice([-1, 1], (
                                  SAM_STEP_OBJECTS, SAM_STEP_NEGATIVE, 2))], axis=1)
    tracks = np.zeros((num_frames, SAM_STEP_OBJECTS, num_points, 2), np.float32)
    visible = np.zeros((num_frames, SAM_STEP_OBJECTS, num_points), bool)
    for t in range(num_frames):
        centres = ellipse_centres(t, height, width)
        points = centres[:, None, :] + offsets + rng.normal(0, 2.0, offsets.shape)
        tracks[t] = np.clip(points, [0, 0], [width - 1, height - 1])
        rule = SAM_STEP_VISIBILITY[t]
        if rule == "random":
            visible[t] = rng.random((SAM_STEP_OBJECTS, num_points)) > 0.3
        elif rule == "own-hidden":
            visible[t] = rng.random((SAM_STEP_OBJECTS, num_points)) > 0.3
            visible[t, 0] = False
        elif rule == "one-negative":
            visible[t, 1, SAM_STEP_POSITIVE:] = True
        else:
            raise ValueError(rule)
    return tracks, visible


def sam_step_tiny_sam(state_path: str | Path | None = None):
    """The tiny SAM of the recording: `seeded_tiny_sam` with `SAM_STEP_SAM_SEED` and `SAM_STEP_SAM_IOU_BIAS`,
    or, with ``state_path``, the same architecture loaded strictly from that state dict."""
    return seeded_tiny_sam(SAM_STEP_SAM_SEED, SAM_STEP_SAM_IOU_BIAS, state_path)


def make_sam_step_inputs(out: Path) -> dict[str, Path]:
    """Write ``inputs.npz`` (frames, tracks, visible) and ``tiny_sam.pt`` (`sam_step_tiny_sam`) under ``out``;
    returns the paths."""
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames = ellipse_clip(**SAM_STEP_CLIP)
    tracks, visible = sam_step_trajectories(SAM_STEP_CLIP["num_frames"], SAM_STEP_CLIP["height"],
                                            SAM_STEP_CLIP["width"])
    paths = {"inputs": out / "inputs.npz", "tiny_sam": out / "tiny_sam.pt"}
    np.savez(paths["inputs"], frames=frames, tracks=tracks, visible=visible)
    torch.save(sam_step_tiny_sam().state_dict(), paths["tiny_sam"])
    return paths


def pack_masks(masks: np.ndarray) -> np.ndarray:
    """(M, T, H, W) bool -> uint8 bits (`unpack_masks` inverts it with the shape)."""
    return np.packbits(masks.astype(bool).ravel())


def unpack_masks(bits: np.ndarray, shape) -> np.ndarray:
    """Inverse of `pack_masks`: (M, T, H, W) bool."""
    return np.unpackbits(bits, count=int(np.prod(shape))).reshape(tuple(shape)).astype(bool)


# ==== official_kmedoids: subsampled DAVIS masks and starting medoids (scripts/record/kmedoids.py)
#: (sequence, frame, object id, K): masks of 420 to 56229 pixels (one below the 1800-pixel subsample)
KMEDOIDS_CASES = (("blackswan", "00000", 1, 8), ("bike-packing", "00010", 2, 8), ("lab-coat", "00000", 4, 3),
                  ("dogs-jump", "00020", 1, 16), ("gold-fish", "00030", 5, 8), ("india", "00005", 2, 1),
                  ("kite-surf", "00010", 3, 12))
KMEDOIDS_SEED = 100


def kmedoids_case_mask(shared_data: Path, case: tuple) -> np.ndarray:
    """The (H, W) bool mask of one case."""
    from datasets.png import read_label_png

    sequence, frame, obj, _ = case
    return read_label_png(Path(shared_data) / "davis17_val_results" / "osvos" / sequence / f"{frame}.png") == obj


def make_kmedoids_inputs(shared_data: Path) -> dict[str, np.ndarray]:
    """Per case ``i``: ``sample_i`` (n, 2) float64 (y, x), ``heuristic_i`` and ``random_i`` (K,) int64."""
    from scipy.spatial.distance import cdist

    from trackers.sampt.query_points import _mask_pixels, heuristic_medoids, kmedoids_sample

    arrays = {}
    for i, case in enumerate(KMEDOIDS_CASES):
        k = case[3]
        pixels = _mask_pixels(kmedoids_case_mask(shared_data, case))
        sample = kmedoids_sample(pixels, k, np.random.default_rng(KMEDOIDS_SEED + i))
        arrays[f"sample_{i}"] = sample
        arrays[f"heuristic_{i}"] = heuristic_medoids(cdist(sample, sample), k)
        random_order = np.random.default_rng(KMEDOIDS_SEED + 1000 + i).permutation(len(sample))
        arrays[f"random_{i}"] = random_order[:k].astype(np.int64)
    return arrays


# ==== official_davis: a DAVIS root of real masks and perturbed predictions (scripts/record/davis.py)
#: sequence -> number of frames used (first n): 1 to 5 objects, widths 854, 910 and 1152
DAVIS_SEQUENCES = {"bike-packing": 21, "blackswan": 9, "judo": 20, "kite-surf": 30, "lab-coat": 26,
             "shooting": 13, "india": 18}
DAVIS_VOID_SEQUENCE = "judo"
#: this sequence's highest object id is never predicted
DAVIS_UNPREDICTED_LAST = "kite-surf"
#: (sequence, frame index): ids 1 and 2 swapped; all-empty prediction
DAVIS_SWAPPED = ("bike-packing", 7)
DAVIS_EMPTY = ("india", 5)
DAVIS_SEED = 13


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels, zero-filled."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    out[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        mask[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def perturb_labels(labels: np.ndarray, num_objects: int, rng: np.random.Generator) -> np.ndarray:
    """A perturbed copy of one (H, W) label map (ids 1..num_objects); objects painted in id order."""
    import cv2

    out = np.zeros_like(labels)
    height, width = labels.shape
    for obj in range(1, num_objects + 1):
        mask = (labels == obj).astype(np.uint8)
        action = rng.random()
        if action < 0.1:
            continue  # dropped
        if not mask.any():
            if action < 0.4:  # a false positive where the object is absent
                y, x = rng.integers(0, height - 20), rng.integers(0, width - 30)
                out[y:y + rng.integers(3, 20), x:x + rng.integers(3, 30)] = obj
            continue
        if action < 0.2:  # pushed towards the nearest border until it touches it
            ys, xs = np.nonzero(mask)
            dy = -int(ys.min()) if ys.min() < height - 1 - ys.max() else height - 1 - int(ys.max())
            dx = -int(xs.min()) if xs.min() < width - 1 - xs.max() else width - 1 - int(xs.max())
            mask = _shift(mask, dy, dx)
        else:
            mask = _shift(mask, int(rng.integers(-6, 7)), int(rng.integers(-6, 7)))
        size = int(rng.integers(1, 5)) * 2 + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
        out[mask > 0] = obj
    return out


def make_davis_inputs(shared_data: Path, out: Path) -> dict[str, Path]:
    """Write the DAVIS root (``out/DAVIS``) and the predictions (``out/pred``); returns both paths."""
    from datasets.png import read_label_png, write_frame, write_label_png

    source = Path(shared_data) / "davis17_val_results" / "osvos"
    root, pred = Path(out) / "DAVIS", Path(out) / "pred"
    rng = np.random.default_rng(DAVIS_SEED)
    for seq, frames in DAVIS_SEQUENCES.items():
        pngs = sorted((source / seq).glob("*.png"))[:frames]
        gt = [read_label_png(p) for p in pngs]
        num_objects = int(gt[0].max())
        black = root / "JPEGImages" / "480p" / seq / pngs[0].with_suffix(".jpg").name
        write_frame(black, np.zeros((*gt[0].shape, 3), np.uint8))
        for t, (png, labels) in enumerate(zip(pngs, gt)):
            if t:
                (black.parent / png.with_suffix(".jpg").name).symlink_to(black.name)
            predicted = perturb_labels(labels, num_objects - (seq == DAVIS_UNPREDICTED_LAST), rng)
            if (seq, t) == DAVIS_SWAPPED:
                predicted = np.choose(predicted, [0, 2, 1, *range(3, num_objects + 1)]).astype(np.uint8)
            if (seq, t) == DAVIS_EMPTY:
                predicted[:] = 0
            if seq == DAVIS_VOID_SEQUENCE and t % 2:
                labels = labels.copy()
                labels[200:260, 300:420] = 255
            write_label_png(root / "Annotations" / "480p" / seq / png.name, labels)
            write_label_png(pred / seq / png.name, predicted)
    (root / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{seq}\n" for seq in DAVIS_SEQUENCES))
    return {"root": root, "predictions": pred}


# ==== official_vis: ground-truth and results json pairs (scripts/record/vis.py)
VIS_HEIGHT, VIS_WIDTH = 360, 640
#: pair name -> seed and options of `make_vis_pair`
VIS_PAIRS = {
    "pair1": dict(seed=102, video_ids=(7, 3, 12), extras=False),
    "pair2": dict(seed=202, video_ids=(5, 9, 2, 14), extras=True),
}
#: (mean semi-axis range) of a track's ellipse per area class: small < 128^2, medium, large > 256^2 px
VIS_AXES = {"small": (12, 60), "medium": (80, 135), "large": (160, 200)}


def ellipse_mask(cx: float, cy: float, a: float, b: float) -> np.ndarray:
    """(VIS_HEIGHT, VIS_WIDTH) bool ellipse with centre (cx, cy) and semi-axes (a, b) along x and y."""
    mask = np.zeros((VIS_HEIGHT, VIS_WIDTH), bool)
    y0, y1 = max(int(np.floor(cy - b)), 0), min(int(np.ceil(cy + b)) + 1, VIS_HEIGHT)
    x0, x1 = max(int(np.floor(cx - a)), 0), min(int(np.ceil(cx + a)) + 1, VIS_WIDTH)
    if y0 < y1 and x0 < x1:
        ys, xs = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] = ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0
    return mask


def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> compressed RLE with str counts (json-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> uncompressed RLE (column-major run lengths starting with zeros)."""
    flat = mask.astype(np.uint8).ravel(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": [VIS_HEIGHT, VIS_WIDTH], "counts": counts}


def polygon(cx: float, cy: float, a: float, b: float, sides: int = 12) -> list:
    """The ellipse as one polygon ``[[x0, y0, x1, y1, ...]]``."""
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    return [np.stack([cx + a * np.cos(angles), cy + b * np.sin(angles)], axis=1).round(2).ravel().tolist()]


def _track(rng: np.random.Generator, length: int, size: str) -> list[tuple[float, float, float, float] | None]:
    """Per frame (cx, cy, a, b) of a moving ellipse of the given area class, None where absent."""
    low, high = VIS_AXES[size]
    a, b = rng.uniform(low, high, 2)
    cx, cy = rng.uniform(0.2 * VIS_WIDTH, 0.8 * VIS_WIDTH), rng.uniform(0.2 * VIS_HEIGHT, 0.8 * VIS_HEIGHT)
    vx, vy = rng.uniform(-15, 15, 2)
    start = int(rng.integers(0, 2))
    end = length - int(rng.integers(0, 2))
    return [(cx + vx * t, cy + vy * t, a, b) if start <= t < end else None for t in range(length)]


def _gt_annotation(ann_id: int, video_id: int, shapes, rng, style: str = "rle", crowd: bool = False) -> dict:
    segmentations, areas, boxes = [], [], []
    for shape in shapes:
        if shape is None:
            segmentations.append(None)
            areas.append(None)
            boxes.append(None)
            continue
        mask = ellipse_mask(*shape) if rng.random() > 0.08 else np.zeros((VIS_HEIGHT, VIS_WIDTH), bool)
        if style == "polygon" and mask.any():
            segmentations.append(polygon(*shape))
        elif style == "uncompressed":
            segmentations.append(uncompressed_rle(mask))
        else:
            segmentations.append(encode_rle(mask))
        areas.append(float(mask.sum()))
        ys, xs = np.nonzero(mask)
        boxes.append([float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                      float(ys.max() - ys.min() + 1)] if len(xs) else [0.0, 0.0, 0.0, 0.0])
    return {"id": ann_id, "video_id": video_id, "category_id": 1, "iscrowd": int(crowd),
            "segmentations": segmentations, "areas": areas, "bboxes": boxes,
            "height": VIS_HEIGHT, "width": VIS_WIDTH, "length": len(shapes)}


def _detection(video_id: int, shapes, rng, jitter: float) -> dict:
    segmentations = []
    cut = len(shapes) - int(rng.integers(0, 3)) if rng.random() < 0.3 else len(shapes)
    for t, shape in enumerate(shapes):
        if shape is None or t >= cut or rng.random() < 0.08:
            segmentations.append(None)
        elif rng.random() < 0.08:
            segmentations.append(encode_rle(np.zeros((VIS_HEIGHT, VIS_WIDTH), bool)))  # present, empty
        else:
            cx, cy, a, b = shape
            segmentations.append(encode_rle(ellipse_mask(cx + rng.normal(0, jitter * a), cy + rng.normal(0, jitter * b),
                                                     a * rng.uniform(1 - jitter, 1 + jitter),
                                                     b * rng.uniform(1 - jitter, 1 + jitter))))
    return {"video_id": video_id, "score": round(float(rng.integers(1, 21)) * 0.05, 2), "category_id": 1,
            "segmentations": segmentations}


def _rect(x: int, y: int, width: int, height: int) -> np.ndarray:
    mask = np.zeros((VIS_HEIGHT, VIS_WIDTH), bool)
    mask[y:y + height, x:x + width] = True
    return mask


def _static_gt(ann_id: int, video_id: int, length: int, rect: tuple[int, int, int, int]) -> dict:
    x, y, width, height = rect
    return {"id": ann_id, "video_id": video_id, "category_id": 1, "iscrowd": 0,
            "segmentations": [encode_rle(_rect(*rect))] * length, "areas": [float(width * height)] * length,
            "bboxes": [[float(x), float(y), float(width), float(height)]] * length,
            "height": VIS_HEIGHT, "width": VIS_WIDTH, "length": length}


def _static_detection(video_id: int, length: int, rect: tuple[int, int, int, int], score: float) -> dict:
    return {"video_id": video_id, "score": score, "category_id": 1,
            "segmentations": [encode_rle(_rect(*rect))] * length}


def _exact_tracks(first_id: int, video_id: int, length: int) -> tuple[list, list]:
    """Static rectangles whose numbers sit exactly on the evaluator's decision points:

    - a 128x128 GT square (average area 128^2: small and medium, bounds inclusive) with a detection shifted
      by 10 px, and a 256x256 false positive (256^2: medium and large);
    - a 126x100 GT rectangle with a detection shifted by 42 px: IoU exactly 84 / 168 = 0.5 (matched at the
      0.5 threshold, which is inclusive);
    - GT A then GT B (100x100, B = A moved by (10, 10)) and a detection D = A moved by (10, 0) with equal
      IoU 9000 / 11000 with both (the later GT, B, wins the tie), then a lower-scored detection E = A
      (IoU 1 with A, 0.68 with B): with the tie broken the other way E would only get B, at IoU 0.68.
    """
    gts = [_static_gt(first_id, video_id, length, (20, 20, 128, 128)),
           _static_gt(first_id + 1, video_id, length, (20, 200, 126, 100)),
           _static_gt(first_id + 2, video_id, length, (160, 20, 100, 100)),
           _static_gt(first_id + 3, video_id, length, (170, 30, 100, 100))]
    detections = [_static_detection(video_id, length, (30, 20, 128, 128), 0.55),
                  _static_detection(video_id, length, (370, 100, 256, 256), 0.95),
                  _static_detection(video_id, length, (62, 200, 126, 100), 0.6),
                  _static_detection(video_id, length, (170, 20, 100, 100), 0.9),
                  _static_detection(video_id, length, (160, 20, 100, 100), 0.85)]
    return gts, detections


def make_vis_pair(seed: int, video_ids, extras: bool) -> tuple[dict, list]:
    """(ground-truth json dict, results list) of one pair; see the module docstring."""
    rng = np.random.default_rng(seed)
    videos, annotations, results = [], [], []
    next_id = 0 if extras else 1  # pair 2: a GT annotation with id 0 (the official id-0 quirk)
    for index, video_id in enumerate(video_ids):
        length = int(rng.integers(5, 8))
        videos.append({"id": video_id, "width": VIS_WIDTH, "height": VIS_HEIGHT, "length": length,
                       "file_names": [f"v{video_id}/{t:05d}.jpg" for t in range(length)]})
        if extras and index == len(video_ids) - 1:  # a video without GT: its detections are all false
            for _ in range(3):
                results.append(_detection(video_id, _track(rng, length, "small"), rng, 0.0))
            continue
        sizes = ["small", "medium", "large", "small", "medium"][:int(rng.integers(3, 6))]
        for k, size in enumerate(sizes):
            shapes = _track(rng, length, size)
            style = "rle"
            if extras and index == 0:
                style = {1: "polygon", 2: "uncompressed"}.get(k, "rle")
            annotations.append(_gt_annotation(next_id, video_id, shapes, rng, style, crowd=(index == 1 and k == 0)))
            next_id += 1
            for _ in range(int(rng.integers(0, 4))):
                results.append(_detection(video_id, shapes, rng, float(rng.uniform(0.0, 0.12))))
        for _ in range(int(rng.integers(1, 4))):  # false positives
            results.append(_detection(video_id, _track(rng, length, str(rng.choice(list(VIS_AXES)))), rng, 0.0))
        if extras and index == 2:  # areas on the range bounds, IoU on a threshold, equal IoUs
            exact_gts, detections = _exact_tracks(next_id, video_id, length)
            annotations.extend(exact_gts)
            next_id += len(exact_gts)
            results.extend(detections)
        if extras and index == 1:  # more than maxDets = 100 detections in one video
            for _ in range(110):
                shapes = _track(rng, length, "small")
                results.append(_detection(video_id, [None if s is None else (s[0], s[1], 6.0, 5.0) for s in shapes],
                                          rng, 0.0))
    order = rng.permutation(len(results))
    gt = {"info": {"description": f"synthetic UVO-style pair, seed {seed}"}, "videos": videos,
          "annotations": annotations, "categories": [{"id": 1, "name": "object", "supercategory": "object"}]}
    return gt, [results[i] for i in order]


def two_categories(gt: dict) -> dict:
    """A copy of ``gt`` where every other annotation has category 2 (categories 1 and 2)."""
    gt = copy.deepcopy(gt)
    for index, annotation in enumerate(gt["annotations"]):
        annotation["category_id"] = 2 if index % 2 else 1
    gt["categories"] = [{"id": 2, "name": "thing", "supercategory": "object"}, *gt["categories"]]
    return gt


def make_vis_inputs(out: Path) -> dict[str, Path]:
    """Write ``<pair>_gt.json`` and ``<pair>_results.json`` for every pair (and ``pair2_gt_two_categories.json``)
    under ``out``; returns name -> path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, options in VIS_PAIRS.items():
        gt, results = make_vis_pair(**options)
        paths[f"{name}_gt"] = out / f"{name}_gt.json"
        paths[f"{name}_results"] = out / f"{name}_results.json"
        paths[f"{name}_gt"].write_text(json.dumps(gt))
        paths[f"{name}_results"].write_text(json.dumps(results))
        if options["extras"]:
            paths[f"{name}_gt_two_categories"] = out / f"{name}_gt_two_categories.json"
            paths[f"{name}_gt_two_categories"].write_text(json.dumps(two_categories(gt)))
    return paths


# ==== authors_eval: a synthetic DAVIS video, PIPS and tiny SAM checkpoints (scripts/record/authors_eval.py)
#: the one synthetic video: 108x192 "480p" annotations, 216x384 Full-Resolution frames (working 576x1024)
AUTHORS_VIDEO = dict(num_videos=1, num_frames=4, height=108, width=192, seed=11)
AUTHORS_PIPS_SEED = 1234
AUTHORS_SAM_SEED = 0
AUTHORS_SAM_IOU_BIAS = 0.8
#: SAM-PT knobs of the recording (names as in both codes)
AUTHORS_KNOBS = dict(positive_points_per_mask=8, negative_points_per_mask=1,
                     positive_point_selection_method="shi-tomasi", negative_point_selection_method="shi-tomasi",
                     iterative_refinement_iterations=12, sam_iou_threshold=0.7,
                     add_other_objects_positive_points_as_negative_points=True)
AUTHORS_VIDEO_NAME = "synth-000"


def make_authors_eval_inputs(out: Path, video: dict = AUTHORS_VIDEO, iou_bias: float = AUTHORS_SAM_IOU_BIAS
                             ) -> dict[str, Path]:
    """Write the dataset (``video``, default `AUTHORS_VIDEO`), the damped PIPS checkpoint (official format) and the
    tiny SAM's state dict (`seeded_tiny_sam` with `AUTHORS_SAM_SEED` and ``iou_bias``) under ``out``; returns
    their paths."""
    import torch

    from datasets.synthetic import generate

    out = Path(out)
    davis = out / "DAVIS" / "2017" / "trainval"
    if not (davis / "ImageSets" / "2017" / "val.txt").is_file():
        generate(davis, "davis17", full_resolution=True, **video)
    state = damped_pips_state(AUTHORS_PIPS_SEED)
    pips = out / "pips" / "model-000200000.pth"
    pips.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state_dict": state}, pips)
    tiny_sam = out / "tiny_sam.pt"
    torch.save(seeded_tiny_sam(AUTHORS_SAM_SEED, iou_bias).state_dict(), tiny_sam)
    return {"davis": davis, "d17_path": out / "DAVIS" / "2017", "pips": pips, "tiny_sam": tiny_sam}


# ==== DAVIS roots from label PNGs, random blob label maps (tests/evaluation/test_vos.py, scripts/bench/eval.py)
def build_davis_root(
    gt_dir: Path, root: Path, sequences, split: str = "val", max_frames: int | None = None
) -> Path:
    """Arrange per-sequence label PNGs ``gt_dir/<seq>/*.png`` as a DAVIS 2017 root under ``root``.

    ``Annotations/480p/<seq>/`` links to the PNGs (the first ``max_frames`` when given),
    ``JPEGImages/480p/<seq>/`` links every frame to one black JPEG of the annotation size, and
    ``ImageSets/2017/<split>.txt`` lists ``sequences``.
    """
    from datasets.png import read_label_png, write_frame

    root = Path(root)
    for seq in sequences:
        pngs = sorted(Path(gt_dir, seq).glob("*.png"))[:max_frames]
        if not pngs:
            raise FileNotFoundError(f"no PNGs in {Path(gt_dir, seq)}")
        height, width = read_label_png(pngs[0]).shape
        dummy = root / "dummy" / f"{width}x{height}.jpg"
        if not dummy.exists():
            write_frame(dummy, np.zeros((height, width, 3), np.uint8))
        ann = root / "Annotations" / "480p" / seq
        img = root / "JPEGImages" / "480p" / seq
        ann.mkdir(parents=True, exist_ok=True)
        img.mkdir(parents=True, exist_ok=True)
        for png in pngs:
            (ann / png.name).symlink_to(png.resolve())
            (img / f"{png.stem}.jpg").symlink_to(dummy.resolve())
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{seq}\n" for seq in sequences))
    return root


def strip_extra_ids(pred_dir: Path, gt_root: Path, out_dir: Path, sequences) -> Path:
    """Copy ``pred_dir/<seq>/<frame>.png`` for the frames of the DAVIS root ``gt_root``, setting ids above
    the sequence's GT object count (largest id of its first GT frame, 255 excluded) to 0."""
    from datasets.png import read_label_png, write_label_png

    for seq in sequences:
        ann = sorted((Path(gt_root) / "Annotations" / "480p" / seq).glob("*.png"))
        first = read_label_png(ann[0])
        count = int(first[first != 255].max(initial=0))
        for png in ann:
            labels = read_label_png(Path(pred_dir) / seq / png.name)
            write_label_png(Path(out_dir) / seq / png.name, np.where(labels > count, 0, labels))
    return Path(out_dir)


def random_blob_labels(rng: np.random.Generator, shape, num_objects: int, frames: int, jitter: float) -> list:
    """``frames`` (H, W) uint8 label maps of ``num_objects`` drifting elliptical blobs (ids 1..N)."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width]
    centres = rng.uniform([0.2 * height, 0.2 * width], [0.8 * height, 0.8 * width], (num_objects, 2))
    radii = rng.uniform(0.05, 0.2, (num_objects, 2)) * np.array([height, width])
    velocity = rng.normal(0, 3, (num_objects, 2))
    maps = []
    for t in range(frames):
        labels = np.zeros(shape, np.uint8)
        for k in range(num_objects):
            cy, cx = centres[k] + t * velocity[k] + rng.normal(0, jitter, 2)
            ry, rx = radii[k] * (1 + rng.normal(0, 0.05 * jitter, 2))
            labels[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = k + 1
        maps.append(labels)
    return maps


# ==== official_sav: a synthetic SA-V val root and seeded predictions (scripts/record/sav.py)
#: the ground truth: `datasets.synthetic` layout ``sav`` (48 frames at 24 fps, masks on every 4th; object
#: folder 001 starts on frame 12, is out of the frame on frames 28 and 32 and comes back)
SAV_GT = dict(layout="sav", num_videos=3, num_frames=48, height=96, width=128, num_objects=3, seed=7)
SAV_PRED_SEED = 25
#: prediction cases: (video, object folder) -> what the prediction does instead of a jittered copy of the GT
SAV_CASES = {
    ("synth-000", "002"): "absent",  # the object is never predicted (every PNG empty)
    ("synth-001", "001"): "early",  # predicted on frames 4 and 8, before the GT shows it (frame 12)
    ("synth-002", "000"): "ones",  # masks written as 0/1 instead of 0/255
}
SAV_EXTRA_OBJECT = "007"  # a predicted object folder the GT lacks (the official tool never reads it)
SAV_EXTRA_VIDEO = "synth-999"  # a predicted video the GT lacks
#: the recorded settings: name -> skip the first and last annotated frame of each object
SAV_SETTINGS = {"skip": True, "no_skip": False}


def sav_prediction(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A jittered copy of an (H, W) bool GT mask: shifted by up to 3 pixels, grown or shrunk by 0-2
    pixels, with a few flipped 4x4 blocks; (H, W) bool."""
    import cv2

    dy, dx = rng.integers(-3, 4, size=2)
    mask = np.roll(gt, (int(dy), int(dx)), axis=(0, 1)).astype(np.uint8)
    steps = int(rng.integers(-2, 3))
    kernel = np.ones((3, 3), np.uint8)
    if steps > 0:
        mask = cv2.dilate(mask, kernel, iterations=steps)
    elif steps < 0:
        mask = cv2.erode(mask, kernel, iterations=-steps)
    height, width = mask.shape
    for _ in range(int(rng.integers(0, 3))):
        y, x = int(rng.integers(0, height - 4)), int(rng.integers(0, width - 4))
        mask[y:y + 4, x:x + 4] ^= 1
    return mask.astype(bool)


def _write_sav_mask(path: Path, mask: np.ndarray, value: int = 255) -> None:
    from datasets.png import write_label_png

    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    write_label_png(path, np.where(mask, value, 0).astype(np.uint8), palette=grey)


def _write_sav_predicted_object(folder: Path, video, object_id: int, case: str | None,
                                rng: np.random.Generator) -> None:
    """Every annotated frame's prediction PNG of one object under ``folder`` (see `SAV_CASES`)."""
    first = next(obj.first_frame for obj in video.objects if obj.id == object_id)
    for index in sorted(video.object_masks[object_id]):
        mask = sav_prediction(video.object_mask(object_id, index), rng)
        if case == "absent":
            mask = np.zeros_like(mask)
        elif case == "early" and index < first and index > 0:
            mask = sav_prediction(video.object_mask(object_id, first), rng)
        _write_sav_mask(folder / f"{video.frame_names[index]}.png", mask, 1 if case == "ones" else 255)


def make_sav_inputs(out: Path, gt: dict | None = None) -> dict[str, Path]:
    """Write the SA-V inputs under ``out``: ``gt`` (a dataset root with ``sav_val``, `generate` options
    ``gt``, default `SAV_GT`; the scoring benchmark passes larger ones) and ``pred``
    (``<video>/<obj:03d>/<frame>.png``, with the `SAV_CASES`, an extra object and an extra video);
    returns name -> path (``annotations``: the folder the official tool takes as ``--gt_root``)."""
    from datasets.registry import read_videos
    from datasets.synthetic import generate

    out = Path(out)
    generate(out / "gt", **(SAV_GT if gt is None else gt))
    pred = out / "pred"
    rng = np.random.default_rng(SAV_PRED_SEED)
    videos = read_videos("sav", out / "gt", "val")
    for video in videos:
        for object_id in video.object_ids:
            folder = video.object_folder(object_id)
            _write_sav_predicted_object(pred / video.name / folder, video, object_id,
                                        SAV_CASES.get((video.name, folder)), rng)
    extra = videos[0]
    _write_sav_predicted_object(pred / extra.name / SAV_EXTRA_OBJECT, extra, 1, None, rng)
    _write_sav_predicted_object(pred / SAV_EXTRA_VIDEO / "000", extra, 1, None, rng)
    return {"gt": out / "gt", "annotations": out / "gt" / "sav_val" / "Annotations_6fps", "pred": pred}


# ==== official_vost: a synthetic VOST val root and seeded predictions (scripts/record/vost.py)
#: the ground truth: `datasets.synthetic` layout ``vost`` (48 frames, indexed masks on every 5th, void (255)
#: ring around object 1; object 2 starts on frame 10, leaves the frame and comes back)
VOST_GT = dict(layout="vost", num_videos=3, num_frames=48, height=96, width=128, num_objects=3, seed=5)
VOST_PRED_SEED = 31
#: prediction cases: (video, object id) -> what the prediction does instead of a jittered copy of the GT
VOST_CASES = {
    ("synth-000", 3): "absent",  # never predicted: the PNGs' largest id is below N (the official tool pads)
    ("synth-001", 2): "early",  # predicted on frame 5, before the GT shows it (frame 10)
    ("synth-002", 1): "void",  # predicted over its void ring too (void is not excluded from J)
}
VOST_EXTRA_ID = 7  # a predicted id the GT lacks, painted into every prediction of synth-002 (ignored)


def _vost_prediction(video, index: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8 prediction of annotated frame ``index``: every object's jittered GT mask painted in id
    order, with the `VOST_CASES` and `VOST_EXTRA_ID` applied."""
    labels = np.zeros(video.size, np.uint8)
    raw = None
    for obj in video.objects:
        case = VOST_CASES.get((video.name, obj.id))
        source = obj.first_frame if case == "early" and 0 < index < obj.first_frame else index
        mask = sav_prediction(video.annotation(source) == obj.id, rng)
        if case == "void":
            from datasets.png import read_label_png

            raw = read_label_png(video.annotation_paths[index]) if raw is None else raw
            mask |= raw == 255
        if case != "absent":
            labels[mask] = obj.id
    if video.name == "synth-002":
        labels[:6, :6] = VOST_EXTRA_ID
    return labels


def make_vost_inputs(out: Path, gt: dict | None = None) -> dict[str, Path]:
    """Write the VOST inputs under ``out``: ``gt`` (a VOST root, `generate` options ``gt``, default
    `VOST_GT`; the scoring benchmark passes larger ones) and ``pred`` (``<video>/<frame>.png`` for every
    annotated frame, with the `VOST_CASES`); returns name -> path."""
    from datasets.png import write_label_png
    from datasets.registry import read_videos
    from datasets.synthetic import generate

    out = Path(out)
    generate(out / "gt", **(VOST_GT if gt is None else gt))
    rng = np.random.default_rng(VOST_PRED_SEED)
    for video in read_videos("vost", out / "gt", "val"):
        for index in video.frames_to_write:
            write_label_png(out / "pred" / video.name / f"{video.frame_names[index]}.png",
                            _vost_prediction(video, index, rng))
    return {"gt": out / "gt", "pred": out / "pred"}


# ==== official_lvos: a synthetic LVOS valid root and seeded predictions (scripts/record/lvos.py)
#: the ground truth: `datasets.synthetic` layout ``lvos`` (60 frames, label maps on every 5th; object 2 starts
#: on frame 16, leaves the frame and comes back; synth-001 is unseen), then edited by `LVOS_META_EDITS`
LVOS_GT = dict(layout="lvos", num_videos=3, num_frames=60, height=96, width=128, num_objects=3, seed=11)
LVOS_PRED_SEED = 26
#: meta-file edits: (video, object id) -> (frame_range field, amount added); the official loop's corner cases
LVOS_META_EDITS = {
    ("synth-001", "1"): ("frame_nums", 1),  # one more than range(start, end, 5) reaches: a slot left at 0
    ("synth-002", "3"): ("end", 1),  # the range reaches the last annotated frame (counter frame_nums - 1)
}
LVOS_OBJECT_ORDER = {"synth-000": ["3", "1", "2"]}  # meta order differs from the ids (names count positions)
LVOS_VOID = ("synth-000", "00000031")  # a GT label map with a 255 block (the tool has no void: not the object)
#: prediction cases: (video, object id) -> what the prediction does instead of a jittered copy of the GT
LVOS_CASES = {
    ("synth-000", 2): "absent",  # never predicted
    ("synth-002", 2): "early",  # predicted (its first mask, jittered) on the frames before it starts
}
LVOS_EXTRA_ID = 7  # a predicted id the GT lacks (never read)
LVOS_EXTRA_VIDEO = "synth-999"  # a predicted video the GT lacks


def _edit_lvos_gt(split_dir: Path) -> None:
    """Apply `LVOS_META_EDITS`, `LVOS_OBJECT_ORDER` and `LVOS_VOID` to a generated LVOS split folder."""
    from datasets.png import read_label_png, write_label_png

    meta_path = split_dir / f"{split_dir.name}_meta.json"
    meta = json.loads(meta_path.read_text())
    for (video, key), (name, amount) in LVOS_META_EDITS.items():
        span = meta["videos"][video]["objects"][key]["frame_range"]
        span[name] = span[name] + amount if name == "frame_nums" else f"{int(span[name]) + amount:08d}"
    for video, order in LVOS_OBJECT_ORDER.items():
        objects = meta["videos"][video]["objects"]
        meta["videos"][video]["objects"] = {key: objects[key] for key in order + [k for k in objects if k not in order]}
    meta_path.write_text(json.dumps(meta))
    video, frame = LVOS_VOID
    path = split_dir / "Annotations" / video / f"{frame}.png"
    labels = read_label_png(path).copy()
    labels[20:40, 30:70] = 255
    write_label_png(path, labels)


def case_source(video, gt: np.ndarray, obj, index: int, case: str | None) -> np.ndarray:
    """(H, W) bool mask a synthetic prediction of ``obj`` on frame ``index`` is jittered from: its ground truth
    ``gt == obj.id``, or for an ``"early"`` case before the object appears, its mask on its first frame."""
    if case == "early" and index < obj.first_frame:
        return video.annotation(obj.first_frame) == obj.id
    return gt == obj.id


def _lvos_prediction(video, index: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8 predicted label map of frame ``index``: jittered GT masks painted in id order (see
    `LVOS_CASES`), plus a block of `LVOS_EXTRA_ID`."""
    gt = video.annotation(index)
    labels = np.zeros(gt.shape, np.uint8)
    for obj in video.objects:
        case = LVOS_CASES.get((video.name, obj.id))
        source = case_source(video, gt, obj, index, case)
        mask = sav_prediction(source, rng)
        if case != "absent":
            labels[mask] = obj.id
    labels[-8:, -8:] = LVOS_EXTRA_ID
    return labels


def make_lvos_inputs(out: Path, gt: dict | None = None) -> dict[str, Path]:
    """Write the LVOS inputs under ``out``: ``gt`` (a dataset root with ``valid``, `generate` options ``gt``,
    default `LVOS_GT` with its edits; the scoring benchmark passes larger ones) and ``pred``
    (``<video>/<frame:08d>.png`` on every annotated frame, with the `LVOS_CASES`, an extra id and an extra
    video); returns name -> path (``split``: the folder the official tool takes as ``--lvos_path``)."""
    from datasets.png import write_label_png
    from datasets.registry import read_videos
    from datasets.synthetic import generate

    out = Path(out)
    generate(out / "gt", **(LVOS_GT if gt is None else gt))
    _edit_lvos_gt(out / "gt" / "valid")
    pred = out / "pred"
    rng = np.random.default_rng(LVOS_PRED_SEED)
    videos = read_videos("lvos", out / "gt", "valid")
    for video in videos:
        for index in sorted(video.annotation_paths):
            write_label_png(pred / video.name / f"{video.frame_names[index]}.png", _lvos_prediction(video, index, rng))
    for index in sorted(videos[0].annotation_paths):
        write_label_png(pred / LVOS_EXTRA_VIDEO / f"{videos[0].frame_names[index]}.png",
                        _lvos_prediction(videos[0], index, rng))
    return {"gt": out / "gt", "split": out / "gt" / "valid", "pred": pred}


# ==== official_mosev2: a synthetic MOSEv2 valid root and seeded predictions (scripts/record/mosev2.py)
#: the ground truth: `datasets.synthetic` layout ``mosev2`` (every frame annotated; object 2 starts on frame 8,
#: leaves the frame and comes back), then edited by `MOSEV2_GAPS`, `MOSEV2_TINY` and `MOSEV2_META_FORMS`
MOSEV2_GT = dict(layout="mosev2", num_videos=3, num_frames=40, height=120, width=160, num_objects=3, seed=13)
MOSEV2_PRED_SEED = 27
#: (video, object id) -> frame ranges [start, stop) where the object is erased from the GT: several
#: disappearance / reappearance segments, and one disappearance that lasts to the end
MOSEV2_GAPS = {("synth-000", 3): [(5, 8), (15, 17)], ("synth-001", 1): [(34, 40)]}
#: a tiny object (id, video): a square of side 1..4 pixels moving right (the adaptive tolerance's ceil gives 1)
MOSEV2_TINY = (9, "synth-002")
#: meta ``objects`` forms: an order other than the ids', and a mapping keyed by id instead of a list
MOSEV2_META_FORMS = {"synth-000": ["3", "1", "2"], "synth-001": {"1": {}, "2": {}, "3": {}}}
#: prediction cases: (video, object id) -> what the prediction does instead of a jittered copy of the GT
MOSEV2_CASES = {
    ("synth-000", 2): "absent",  # never predicted
    ("synth-001", 2): "early",  # predicted (its first mask, jittered) on the frames before it starts
}
MOSEV2_EMPTY_FRAME = ("synth-002", 20)  # an all-background predicted frame
MOSEV2_EXTRA_ID = 7  # a predicted id the GT lacks (never read)
MOSEV2_EXTRA_VIDEO = "synth-999"  # a predicted video the GT lacks


def _tiny_square(shape: tuple[int, int], t: int) -> tuple[slice, slice]:
    side = 1 + t % 4
    y, x = shape[0] - 12, 6 + 3 * t
    return slice(y, y + side), slice(x, x + side)


def _edit_mosev2_gt(split_dir: Path) -> None:
    """Apply `MOSEV2_GAPS`, `MOSEV2_TINY` and `MOSEV2_META_FORMS` to a generated MOSEv2 split folder."""
    from datasets.png import read_label_png, write_label_png

    meta = json.loads((split_dir / "meta.json").read_text())
    for (video, object_id), spans in MOSEV2_GAPS.items():
        for start, stop in spans:
            for t in range(start, stop):
                path = split_dir / "Annotations" / video / f"{t:05d}.png"
                labels = read_label_png(path).copy()
                labels[labels == object_id] = 0
                write_label_png(path, labels)
    tiny, video = MOSEV2_TINY
    for t in range(meta["videos"][video]["length"]):
        path = split_dir / "Annotations" / video / f"{t:05d}.png"
        labels = read_label_png(path).copy()
        labels[_tiny_square(labels.shape, t)] = tiny
        write_label_png(path, labels)
    meta["videos"][video]["objects"].append(str(tiny))
    for video, objects in MOSEV2_META_FORMS.items():
        meta["videos"][video]["objects"] = objects
    (split_dir / "meta.json").write_text(json.dumps(meta))


def _mosev2_prediction(video, index: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8 predicted label map of frame ``index``: jittered GT masks painted in id order (see
    `MOSEV2_CASES`; the tiny object shifted by 2 pixels), plus a block of `MOSEV2_EXTRA_ID`."""
    gt = video.annotation(index)
    labels = np.zeros(gt.shape, np.uint8)
    if (video.name, index) == MOSEV2_EMPTY_FRAME:
        return labels
    for obj in video.objects:
        case = MOSEV2_CASES.get((video.name, obj.id))
        source = case_source(video, gt, obj, index, case)
        mask = np.roll(source, 2, axis=1) if obj.id == MOSEV2_TINY[0] else sav_prediction(source, rng)
        if case != "absent":
            labels[mask] = obj.id
    labels[:6, -6:] = MOSEV2_EXTRA_ID
    return labels


def make_mosev2_inputs(out: Path, gt: dict | None = None) -> dict[str, Path]:
    """Write the MOSEv2 inputs under ``out``: ``gt`` (a dataset root with ``valid``, `generate` options ``gt``,
    default `MOSEV2_GT` with its edits; the scoring benchmark passes larger ones) and ``pred``
    (``<video>/<frame:05d>.png`` on every frame, with the `MOSEV2_CASES`, an empty frame, an extra id and an
    extra video); returns name -> path (``split``: the ``valid`` folder the official tool reads)."""
    from datasets.png import write_label_png
    from datasets.registry import read_videos
    from datasets.synthetic import generate

    out = Path(out)
    generate(out / "gt", **(MOSEV2_GT if gt is None else gt))
    _edit_mosev2_gt(out / "gt" / "valid")
    pred = out / "pred"
    rng = np.random.default_rng(MOSEV2_PRED_SEED)
    videos = read_videos("mosev2", out / "gt", "valid")
    for video in videos:
        for index in range(video.num_frames):
            write_label_png(pred / video.name / f"{video.frame_names[index]}.png", _mosev2_prediction(video, index, rng))
    for index in range(videos[0].num_frames):
        write_label_png(pred / MOSEV2_EXTRA_VIDEO / f"{videos[0].frame_names[index]}.png",
                        _mosev2_prediction(videos[0], index, rng))
    return {"gt": out / "gt", "split": out / "gt" / "valid", "pred": pred}


# ==== official_superglue: SAM-PT's SuperGlue tracker (tests/trackers/point/test_official_superglue.py)
#: a 6-frame `panning_clip`; three objects on frame 0: the moving textured square, a background rectangle and a
#: 7x7 px background patch (fewer matched keypoints than points: padded, not visible)
SUPERGLUE_CLIP = dict(num_frames=6, height=96, width=128, seed=5)
SUPERGLUE_BOXES = ((70, 94, 20, 44), (10, 50, 60, 120), (40, 47, 8, 15))  # (y0, y1, x0, x1) of each mask
SUPERGLUE_POSITIVE, SUPERGLUE_NEGATIVE = 3, 2
SUPERGLUE_DRAW_SEED = 7  # numpy.random.seed before the official tracker runs; ReferenceMasks.seed for ours
SUPERGLUE_WEIGHT_SEED = 2027
#: shaping of the random weights so that matches are non-trivial (see the fixture README): SuperPoint's
#: convolutions zero-mean per filter and without bias (features follow the texture, not the brightness), its
#: detector logits scaled by this; SuperGlue's residual updates (last layer of the keypoint encoder and of
#: every GNN MLP) scaled by `SUPERGLUE_DAMPING`, its final projection 0.1 * random + this * identity
SUPERGLUE_DETECTOR_GAIN = 100.0
SUPERGLUE_DAMPING = 0.01
SUPERGLUE_PROJECTION_GAIN = 30.0
SUPERGLUE_PROBE = ("gnn.layers.0.attn.proj.0.weight", (0, 0, 0))


def superglue_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, H, W, 3) uint8 clip, (M, H, W) bool masks on frame 0, (M * P, 3) float32 queries on frame 0
    (P = 3 positive + 2 negative points per object: a diagonal inside the box, then two points outside)."""
    frames = panning_clip(**SUPERGLUE_CLIP)
    masks = np.zeros((len(SUPERGLUE_BOXES),) + frames.shape[1:3], bool)
    queries = []
    for mask, (y0, y1, x0, x1) in zip(masks, SUPERGLUE_BOXES):
        mask[y0:y1, x0:x1] = True
        inside = [(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f) for f in (0.25, 0.5, 0.75)]
        outside = [(5.0, 5.0), (frames.shape[2] - 6.0, frames.shape[1] - 6.0)]
        queries += [(0.0, x, y) for x, y in inside + outside]
    return frames, masks, np.asarray(queries, np.float32)


def superglue_states(seed: int = SUPERGLUE_WEIGHT_SEED) -> tuple[dict, dict]:
    """The SuperPoint and SuperGlue state dicts (the official formats of ``superpoint_v1.pth`` and
    ``superglue_outdoor.pth``): our networks drawn after ``torch.manual_seed(seed)``, shaped as described at
    `SUPERGLUE_DETECTOR_GAIN`; the global torch generator is left as it was."""
    import torch

    from trackers.point.superglue.superglue import SuperGlue
    from trackers.point.superglue.superpoint import SuperPoint

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        superpoint, superglue = SuperPoint().state_dict(), SuperGlue().state_dict()
    for name, value in superpoint.items():
        if name.endswith(".bias"):
            superpoint[name] = torch.zeros_like(value)
        elif value.shape[-1] == 3:
            superpoint[name] = value - value.mean(dim=(1, 2, 3), keepdim=True)
    superpoint["convPb.weight"] = superpoint["convPb.weight"] * SUPERGLUE_DETECTOR_GAIN
    for name, value in superglue.items():
        if name.startswith("kenc.encoder.12.") or ".mlp.3." in name:
            superglue[name] = value * SUPERGLUE_DAMPING
    eye = torch.eye(superglue["final_proj.weight"].shape[0])[:, :, None]
    superglue["final_proj.weight"] = superglue["final_proj.weight"] * 0.1 + SUPERGLUE_PROJECTION_GAIN * eye
    return superpoint, superglue


def make_superglue_inputs(out: Path) -> dict[str, Path]:
    """Write ``superglue_inputs.npz`` (frames, masks, queries) and both checkpoints under ``out``."""
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames, masks, queries = superglue_inputs()
    paths = {"inputs": out / "superglue_inputs.npz", "superpoint": out / "superpoint_v1.pth",
             "superglue": out / "superglue_outdoor.pth"}
    np.savez(paths["inputs"], frames=frames, masks=masks, queries=queries)
    superpoint, superglue = superglue_states()
    torch.save(superpoint, paths["superpoint"])
    torch.save(superglue, paths["superglue"])
    return paths


# ==== authors_reinit: the authors' evaluation with reinit, variants A-D (scripts/record/authors_reinit.py)
#: 8 frames, three objects (object 2 leaves the frame and comes back): two reinit steps per pass
AUTHORS_REINIT_VIDEO = dict(num_videos=1, num_frames=8, num_objects=3, height=108, width=192, seed=12)
#: the IoU shift of the tiny SAM: the 0.7 threshold keeps some masks and rejects others (recording.json counts)
AUTHORS_REINIT_SAM_IOU_BIAS = 0.832
#: the working size (their ``longest_size``): the Full-Resolution frames' own 216x384 (fast on a CPU)
AUTHORS_REINIT_LONGEST_SIZE = 384
#: `AUTHORS_KNOBS` with 1 positive and 1 negative point (with this seed Shi-Tomasi always finds them: their
#: k-medoids fallback, which subsamples with torch.randperm, never runs), 2 refinement iterations (fast)
#: and reinit every few frames (the variant is set per recording)
AUTHORS_REINIT_KNOBS = dict(AUTHORS_KNOBS, positive_points_per_mask=1, negative_points_per_mask=1,
                            iterative_refinement_iterations=2, use_point_reinit=True,
                            reinit_point_tracker_horizon=6, reinit_horizon=4)


def make_authors_reinit_inputs(out: Path) -> dict[str, Path]:
    """`make_authors_eval_inputs` with `AUTHORS_REINIT_VIDEO` and `AUTHORS_REINIT_SAM_IOU_BIAS`."""
    return make_authors_eval_inputs(out, AUTHORS_REINIT_VIDEO, AUTHORS_REINIT_SAM_IOU_BIAS)


# ==== tapir_authors: SAM-PT's own TAPIR wrapper, its JAX TAPIR (scripts/record/trackers.py)
#: `tapir`'s clip, queries and weights (the recorder also writes them as the Haiku .npy the wrapper loads), the occlusion head's
#: bias raised by 1.8: at SAM-PT's threshold (configs/model/point_tracker/tapir.yaml: visible above 0.1) every
#: point was visible, now 10 of 54 point-frames off the query frames are hidden (the nearest probability 0.0075
#: from 0.1); our tracker in its mode
TRACKERS["tapir_authors"] = dict(
    TRACKERS["tapir"], tracker="tapir", checkpoint="tapir_authors/tapir_checkpoint_panning.pt",
    bias={"torch_cost_volume_track_mods.occ_out.bias": 1.8},
    official=dict(visibility_threshold=0.1), options=dict(coordinates="sampt", visibility_threshold=0.1))
# ==== official_trackers (continued): TAP-Net (SAM-PT's TapnetPointTracker, JAX/Haiku) on `TRACKER_CLIP`
#: random TAP-Net weights: our network's default initialisation after ``torch.manual_seed(seed)``, the frozen batch
#: norms drawn around identity (`seeded_tapnet_state`), written as the official Haiku checkpoint
#: (`write_tapnet_checkpoint`); the probe is an official (module:name, index). Not chaotic (no iterations: a 1e-7
#: change of the probe moved the official tracks by 3e-5 px undamped), but undamped every heatmap peaks in a
#: corner (the convolutions' padding) and every occlusion logit is within 0.01 of 0.02. So the two cost-volume
#: convolutions get a positive mean (heatmaps follow the feature similarity: the points move with the clip; 0.2
#: instead of 0.02 on `hid2` made the softmax so sharp that our float32 and float64 runs differed by 5.6e-4 px,
#: with 0.02 by 3e-5 px), and the occlusion output is scaled by 300 and shifted so that about half the points are
#: visible, every logit at least 0.017 from the 0.5 threshold.
TRACKERS["tapnet"] = dict(
    seed=2030, checkpoint="tapnet/checkpoint_wo_optstate.npy", options={}, damping=(("head.occ_out.", 300.0),),
    bias={"head.hid1.weight": 0.5, "head.hid2.weight": 0.02, "head.occ_out.bias": -6.265},
    probe=("tap_net/~/cost_volume_regression_1:w", (0, 1, 1, 0, 3)))


def seeded_tapnet_state() -> dict:
    """`trackers.point.tapnet.net.TapNet`'s state dict after ``torch.manual_seed(TRACKERS["tapnet"]["seed"])``: default
    initialisation, batch-norm scale 1 + 0.1 N(0, 1), offset and mean 0.1 N(0, 1), variance U(0.5, 1.5); then
    ``damping`` and ``bias``. The global torch generator is left as it was."""
    import torch

    from trackers.point.tapnet.net import TapNet

    settings = TRACKERS["tapnet"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        state = TapNet().state_dict()
        for name in sorted(state):
            size = state[name].shape
            if name.endswith((".scale", ".offset", ".mean")):
                state[name] = float(name.endswith(".scale")) + 0.1 * torch.randn(size)
            elif name.endswith(".var"):
                state[name] = 0.5 + torch.rand(size)
    state = damp(state, settings["damping"])
    for name, value in settings["bias"].items():
        state[name] = state[name] + value
    return state


def write_tapnet_checkpoint(state: dict, path: Path) -> None:
    """Write our TAP-Net ``state`` as the official checkpoint: ``np.save`` of {"params": {module: {name: array}},
    "state": {module: {name: array}}} (pickled, as jaxline saves it), the moving averages with Haiku's
    ``counter`` and ``hidden`` beside ``average``."""
    from trackers.point.tapnet.net import TapNet, haiku_entries, to_haiku

    checkpoint = {"params": {}, "state": {}}
    for entry in haiku_entries(TapNet()):
        value = to_haiku(state[entry.key], entry.layout)
        module = checkpoint[entry.collection].setdefault(entry.module, {})
        module[entry.name] = value
        if entry.collection == "state":
            module.update(counter=np.array(1000, np.int32), hidden=value.copy())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        np.save(file, checkpoint, allow_pickle=True)

# ==== official_bdd100k: synthetic BDD100K VOS roots and seeded predictions (scripts/record/bdd100k.py)
#: the ground truth: `datasets.synthetic` layout ``bdd100k`` (every frame annotated; object 2 starts late, leaves the
#: frame and comes back; object 1 is visible on every frame: a long object), edited by `BDD100K_GT_EDITS`
BDD100K_GT = dict(layout="bdd100k", num_videos=3, num_frames=36, height=72, width=96, num_objects=3, seed=17)
BDD100K_PRED_SEED = 29
#: (video, object id) -> (frame ranges [start, stop) where the object is drawn as a block, or erased when the id
#: is one the generator drew); the thresholds of BDD100KEvaluator are 5 and 30 visible frames
BDD100K_GT_EDITS = {
    ("synth-000", 3): [(10, 15)],  # erased on frames 10-14: vanishes and returns
    ("synth-000", 4): [(20, 23)],  # a block on frames 20-22 only: short (3 visible frames), then absent
    ("synth-000", 5): [(35, 36)],  # a block on the last frame only (the tool scores it J = F = 1)
    ("synth-001", 4): [(8, 22)],  # a block on frames 8-21: medium (14 visible frames)
    ("synth-002", 2): [(0, 36)],  # erased everywhere: one object left (ids 1..N stay contiguous)
    ("synth-002", 3): [(0, 36)],
}
#: prediction cases: (video, object id) -> what the prediction does instead of a jittered copy of the GT
BDD100K_CASES = {
    ("synth-000", 2): "absent",  # never predicted
    ("synth-001", 2): "early",  # predicted (its first mask, jittered) on the frames before it starts
}
BDD100K_EMPTY_FRAME = ("synth-000", 30)  # an all-background predicted frame
BDD100K_BINARY_VIDEO = "synth-002"  # one object, predicted as 0/255 maps (the tool divides such maps by 255)
#: a second root whose one sequence has 300 objects, ids above 255 in 16-bit PNGs (the tool's `masks != 255`
#: assertion must be lifted to score it): 2x2 blocks on a 3-pixel grid, object k starts on frame k % 8 (the
#: last frame for some), is absent where (k + t) % 5 == 0 after its start; predictions shift odd objects by
#: 1 pixel and drop every 11th
BDD100K_WIDE = dict(name="wide-000", num_frames=8, height=48, width=96, num_objects=300, seed=19)


def _bdd100k_block(video: str, object_id: int, shape: tuple[int, int], t: int) -> tuple[slice, slice]:
    y = 4 + 5 * (object_id + len(video)) % (shape[0] - 12)
    x = 4 + 2 * t
    return slice(y, y + 5), slice(x, x + 6)


def _edit_bdd100k_gt(split_dir: Path, num_frames: int, generated: int) -> None:
    """Apply `BDD100K_GT_EDITS` to a generated BDD100K split folder (``generated`` ids were drawn)."""
    from datasets.png import read_label_png, write_label_png

    for (video, object_id), spans in BDD100K_GT_EDITS.items():
        for start, stop in spans:
            for t in range(start, min(stop, num_frames)):
                path = split_dir / "Annotations" / video / f"{video}-{t + 1:07d}.png"
                labels = read_label_png(path).copy()
                if object_id <= generated:
                    labels[labels == object_id] = 0
                else:
                    labels[_bdd100k_block(video, object_id, labels.shape, t)] = object_id
                write_label_png(path, labels)


def _bdd100k_masks(video, index: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Object id -> (H, W) bool predicted mask of frame ``index``: a jittered GT mask (see `BDD100K_CASES`)."""
    gt = video.annotation(index)
    masks = {}
    for obj in video.objects:
        case = BDD100K_CASES.get((video.name, obj.id))
        source = case_source(video, gt, obj, index, case)
        mask = sav_prediction(source, rng)
        masks[obj.id] = mask if case != "absent" and (video.name, index) != BDD100K_EMPTY_FRAME else mask & False
    return masks


def _write_bdd100k_predictions(videos, pred: Path, overlapping: Path) -> None:
    """Label maps (masks painted in id order) into ``pred``, each object's own mask into ``overlapping``."""
    from datasets.png import write_label_png

    rng = np.random.default_rng(BDD100K_PRED_SEED)
    for video in videos:
        for index, frame in enumerate(video.frame_names):
            masks = _bdd100k_masks(video, index, rng)
            labels = np.zeros(video.size, np.uint8)
            for object_id, mask in masks.items():
                labels[mask] = object_id
                write_label_png(overlapping / video.name / video.object_folder(object_id) / f"{frame}.png",
                                mask.astype(np.uint8))
            if video.name == BDD100K_BINARY_VIDEO and video.object_ids == [1]:  # `BDD100K_GT` (not the bench's)
                labels = labels * np.uint8(255)
            write_label_png(pred / video.name / f"{frame}.png", labels)


def _write_bdd100k_wide(root: Path, pred: Path) -> None:
    """The `BDD100K_WIDE` sequence under ``root/val`` and its predictions under ``pred``."""
    from datasets.png import write_frame, write_label_png

    spec = BDD100K_WIDE
    rng = np.random.default_rng(spec["seed"])
    name, shape, cols = spec["name"], (spec["height"], spec["width"]), spec["width"] // 3
    for t in range(spec["num_frames"]):
        gt = np.zeros(shape, np.uint16)
        guess = np.zeros(shape, np.uint16)
        for k in range(1, spec["num_objects"] + 1):
            if t < k % spec["num_frames"] or ((k + t) % 5 == 0 and t > k % spec["num_frames"]):
                continue
            y, x = 3 * ((k - 1) // cols), 3 * ((k - 1) % cols)
            gt[y:y + 2, x:x + 2] = k
            if k % 11:
                shift = k % 2
                guess[y + shift:y + 2 + shift, x:x + 2] = k
        stem = f"{name}-{t + 1:07d}"
        write_frame(root / "val" / "JPEGImages" / name / f"{stem}.jpg", rng.integers(0, 256, shape + (3,), np.uint8))
        write_label_png(root / "val" / "Annotations" / name / f"{stem}.png", gt)
        write_label_png(pred / name / f"{stem}.png", guess)


def make_bdd100k_inputs(out: Path, gt: dict | None = None) -> dict[str, Path]:
    """Write the BDD100K inputs under ``out``: ``gt`` (a root with ``val``, `generate` options ``gt``, default
    `BDD100K_GT` with its edits; the scoring benchmark passes larger ones), ``pred`` (``<seq>/<frame>.png`` label
    maps of every frame), ``overlapping`` (``<seq>/<obj:03d>/<frame>.png``, each object's own mask), ``wide_gt``
    and ``wide_pred`` (`BDD100K_WIDE`); returns name -> path (``split``: the ``val`` folder the official tool
    reads, ``wide_split`` likewise)."""
    from datasets.registry import read_videos
    from datasets.synthetic import generate

    out = Path(out)
    options = BDD100K_GT if gt is None else gt
    generate(out / "gt", **options)
    if gt is None:
        _edit_bdd100k_gt(out / "gt" / "val", options["num_frames"], options["num_objects"])
    _write_bdd100k_predictions(read_videos("bdd100k", out / "gt", "val"), out / "pred", out / "overlapping")
    _write_bdd100k_wide(out / "wide_gt", out / "wide_pred")
    return {"gt": out / "gt", "split": out / "gt" / "val", "pred": out / "pred", "overlapping": out / "overlapping",
            "wide_gt": out / "wide_gt", "wide_split": out / "wide_gt" / "val", "wide_pred": out / "wide_pred"}

# ==== authors_vis: the authors' UVO VIS pipeline (scripts/record/authors_vis.py)
#: one synthetic UVO video (`datasets.synthetic`, layout ``uvo``): 90x160 frames that the authors' Detectron2
#: mapper resizes to 360x640 (short side 360); object 2 appears after frame 0
AUTHORS_VIS_VIDEO = dict(num_videos=1, num_frames=3, num_objects=3, height=90, width=160, seed=3)
#: near-flat frames: the background and each object painted in one colour (the tiny random SAM's masks then
#: follow regions instead of texture) plus uniform noise of +-`AUTHORS_VIS_NOISE` (corners for Shi-Tomasi);
#: the RGB of label 0, 1, 2, 3
AUTHORS_VIS_PALETTE = ((30, 30, 30), (220, 40, 40), (40, 200, 60), (60, 60, 230))
AUTHORS_VIS_NOISE = 8
AUTHORS_VIS_SAM_IOU_BIAS = 0.83
#: factor on the last layer of the tiny SAM's hypernetwork MLPs (sharper mask logits, stability scores spread)
AUTHORS_VIS_LOGIT_SCALE = 20.0


def vis_tiny_sam(state_path: str | Path | None = None):
    """`seeded_tiny_sam` (`AUTHORS_SAM_SEED`, `AUTHORS_VIS_SAM_IOU_BIAS`) with its mask upscaling made
    checkerboard-free (each transposed convolution's 2x2 taps set to its first tap, so a flat region gives
    flat logits) and its hypernetwork outputs scaled by `AUTHORS_VIS_LOGIT_SCALE`; or, with ``state_path``,
    the same architecture loaded from that state dict."""
    import torch

    if state_path is not None:
        return seeded_tiny_sam(AUTHORS_SAM_SEED, state_path=state_path)
    sam = seeded_tiny_sam(AUTHORS_SAM_SEED, AUTHORS_VIS_SAM_IOU_BIAS)
    with torch.no_grad():
        for layer in sam.mask_decoder.output_upscaling:
            if isinstance(layer, torch.nn.ConvTranspose2d):
                layer.weight[:] = layer.weight[:, :, :1, :1]
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight *= AUTHORS_VIS_LOGIT_SCALE
            mlp.layers[-1].bias *= AUTHORS_VIS_LOGIT_SCALE
    return sam


def make_authors_vis_inputs(out: Path) -> dict[str, Path]:
    """Write under ``out`` the UVO root ``UVOv1.0`` (`AUTHORS_VIS_VIDEO`, frames repainted with
    `AUTHORS_VIS_PALETTE` and `AUTHORS_VIS_NOISE`), the damped PIPS checkpoint (official format) and the `vis_tiny_sam` state dict;
    returns their paths (``uvo``: the UVO root, ``datasets``: the folder above it)."""
    import torch

    from datasets.png import write_frame
    from datasets.synthetic import generate

    out = Path(out)
    uvo = out / "UVOv1.0"
    if not (uvo / "VideoDenseSet" / "UVO_video_val_dense.json").is_file():
        info = generate(uvo, "uvo", **AUTHORS_VIS_VIDEO)
        palette, rng = np.array(AUTHORS_VIS_PALETTE, np.int64), np.random.default_rng(AUTHORS_VIS_VIDEO["seed"])
        for name, truth in info.videos.items():
            for t, labels in enumerate(truth.labels):
                noise = rng.integers(-AUTHORS_VIS_NOISE, AUTHORS_VIS_NOISE + 1, (*labels.shape, 3))
                write_frame(uvo / "uvo_videos_dense_frames" / name / f"{t}.png",
                            np.clip(palette[labels] + noise, 0, 255).astype(np.uint8))
    pips = out / "pips" / "model-000200000.pth"
    pips.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state_dict": damped_pips_state(AUTHORS_PIPS_SEED)}, pips)
    tiny_sam = out / "tiny_sam.pt"
    torch.save(vis_tiny_sam().state_dict(), tiny_sam)
    return {"datasets": out, "uvo": uvo, "pips": pips, "tiny_sam": tiny_sam}


# ==== official_davis16: DAVIS 2016 scoring as the authors call it (scripts/record/davis16.py)
#: the ground truth: a synthetic DAVIS 2017 trainval root (`datasets.synthetic`, layout ``davis17``) whose
#: ``ImageSets/2016/val.txt`` lists every video, as the authors score D16 (their davis_path is the 2017
#: trainval root, year 2016: every object of a frame is the one foreground object)
DAVIS16_VIDEOS = dict(num_videos=3, num_frames=10, num_objects=2, height=96, width=160, seed=21)
DAVIS16_SEED = 22
#: (video, frame) whose prediction is empty; a video never predicted (every frame empty)
DAVIS16_EMPTY = ("synth-001", 4)
DAVIS16_UNPREDICTED = "synth-002"


def make_davis16_inputs(out: Path) -> dict[str, Path]:
    """Write the root (``out/DAVIS``) and binary 0/255 predictions (``out/pred``, perturbed copies of each
    frame's foreground, `perturb_labels`); returns both paths."""
    from datasets.png import write_label_png
    from datasets.synthetic import generate

    root, pred = Path(out) / "DAVIS", Path(out) / "pred"
    info = generate(root, "davis17", **DAVIS16_VIDEOS)
    rng = np.random.default_rng(DAVIS16_SEED)
    for name, truth in info.videos.items():
        pngs = sorted((root / "Annotations" / "480p" / name).glob("*.png"))
        for t, png in enumerate(pngs):
            predicted = perturb_labels(truth.labels[t], DAVIS16_VIDEOS["num_objects"], rng) > 0
            if (name, t) == DAVIS16_EMPTY or name == DAVIS16_UNPREDICTED:
                predicted[:] = False
            write_label_png(pred / name / png.name, np.where(predicted, 255, 0))
    sets = root / "ImageSets" / "2016"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "val.txt").write_text("".join(f"{name}\n" for name in info.videos))
    return {"root": root, "predictions": pred}

# ==== authors_options: the authors' evaluation options (scripts/record/authors_options.py)
#: the `authors_eval` inputs at working size 256 (144x256 from the 216x384 Full-Resolution frames: frames are
#: resized before they are mirrored, masks after; each first mask has at most 1800 pixels, so the authors'
#: k-medoids point of ``input_only_one_gt_mask_point`` clusters every pixel and needs no random subsample)
AUTHORS_OPTIONS_LONGEST_SIZE = 256
#: fixture key -> the authors' root config keys of one recorded run (``configs/vos_eval_root.yaml``)
AUTHORS_OPTIONS_RUNS = {"plain": dict(save_scores=True, save_overlapping_masks=True),
                        "flip": dict(flip=True, save_scores=True, save_overlapping_masks=True),
                        "one_point": dict(input_only_one_gt_mask_point=True)}
#: fixture key -> its SAM-PT knobs: `AUTHORS_KNOBS`, without negative points for the one-point run (SAM's
#: one-point masks are large and Shi-Tomasi finds no corner in the rest of the frame, where the authors fall back
#: to a k-medoids point of a torch.randperm subsample, which our code cannot reproduce)
AUTHORS_OPTIONS_KNOBS = {key: dict(AUTHORS_KNOBS, negative_points_per_mask=0 if key == "one_point" else 1)
                         for key in AUTHORS_OPTIONS_RUNS}

# ==== authors_interactive: the authors' interactive point correction (scripts/record/authors_interactive.py)
#: 6 frames, two objects, at the 480p size only: the inputs copy 480p to Full-Resolution, so that their
#: working size (``longest_size`` 192), their output size and ours are all the frames' own 108x192
AUTHORS_INTERACTIVE_VIDEO = dict(num_videos=1, num_frames=6, num_objects=2, height=108, width=192, seed=13)
AUTHORS_INTERACTIVE_LONGEST_SIZE = 192
#: SAM-PT knobs (names as in both codes): 1 positive + 1 negative Shi-Tomasi query point, 2 refinement iterations
AUTHORS_INTERACTIVE_KNOBS = dict(AUTHORS_KNOBS, positive_points_per_mask=1, negative_points_per_mask=1,
                                 iterative_refinement_iterations=2, add_other_objects_positive_points_as_negative_points=False)
#: our run seed (`experiments.apps.interactive.simulate_video`); the recorder seeds torch before each object's
#: simulation with `experiments.apps.interactive.annotator_seed` of it, as ours seeds its click generator
AUTHORS_INTERACTIVE_SEED = 0
#: the protocol's settings per recorded mode (their ``SamPtInteractive`` argument names)
AUTHORS_INTERACTIVE_MODES = {
    "online": dict(online=True, online_interactive_iou_threshold=0.8, interactions_max=16, interactions_max_per_frame=3),
    "offline": dict(online=False, interactions_max=16, interactions_max_per_frame=2),
    "no_tracking": dict(disable_point_tracking=True, interactions_max_per_frame=2),
}


def make_authors_interactive_inputs(out: Path) -> dict[str, Path]:
    """`make_authors_eval_inputs` with `AUTHORS_INTERACTIVE_VIDEO` (480p only; its frames and annotations are also
    copied as the Full-Resolution ones, which the authors' reader loads)."""
    import shutil

    from datasets.synthetic import generate

    davis = Path(out) / "DAVIS" / "2017" / "trainval"
    if not (davis / "ImageSets" / "2017" / "val.txt").is_file():
        generate(davis, "davis17", **AUTHORS_INTERACTIVE_VIDEO)
        for kind in ("JPEGImages", "Annotations"):
            shutil.copytree(davis / kind / "480p", davis / kind / "Full-Resolution")
    return make_authors_eval_inputs(out, AUTHORS_INTERACTIVE_VIDEO, AUTHORS_SAM_IOU_BIAS)

# ==== authors_patch: patch-similarity filtering in the authors' evaluation (scripts/record/authors_patch.py)
#: the inputs and working size of authors_reinit (`make_authors_reinit_inputs`), reinit off, the filter on with
#: 3x3 patches; `AUTHORS_PATCH_THRESHOLDS` names the recorded thresholds
AUTHORS_PATCH_KNOBS = dict(AUTHORS_KNOBS, iterative_refinement_iterations=2, use_point_reinit=False,
                           use_patch_matching_filtering=True, patch_size=3)
#: fixture key -> patch_similarity_threshold: Tab. 2d's 0.01 and 0.002, and 0.5, which removes most points
AUTHORS_PATCH_THRESHOLDS = {"t0.01": 0.01, "t0.002": 0.002, "t0.5": 0.5}


# ==== authors_real_size: reinit and patch filtering at the authors' 1024 working size on a DAVIS-size clip
# (scripts/record/authors_real_size.py)
#: 480x854 "480p" annotations (the size of a real DAVIS video), 960x1708 Full-Resolution frames (working 576x1024)
AUTHORS_REAL_VIDEO = dict(num_videos=1, num_frames=6, num_objects=3, height=480, width=854, seed=12)
#: the IoU shift of the tiny SAM: the 0.7 threshold keeps some masks and rejects others (recording.json counts)
AUTHORS_REAL_SAM_IOU_BIAS = 0.832
#: fixture key -> SAM-PT knobs: reinit variant A every 2 frames (1 + 1 points, so that Shi-Tomasi always finds
#: them: their k-medoids fallback never runs) with IoU threshold 0.69 (this SAM's refined IoUs at 1024 sit at
#: 0.69-0.71: 0.7 rejects every mask after frame 0, 0.69 keeps most and rejects some), and patch filtering
#: with Tab. 2d's threshold 0.01
AUTHORS_REAL_SETTINGS = {
    "reinit": dict(AUTHORS_REINIT_KNOBS, reinit_variant="reinit-on-horizon-and-sync-masks", reinit_horizon=2,
                   reinit_point_tracker_horizon=4, sam_iou_threshold=0.69),
    "patch": dict(AUTHORS_PATCH_KNOBS, patch_similarity_threshold=0.01),
}


def make_authors_real_size_inputs(out: Path) -> dict[str, Path]:
    """`make_authors_eval_inputs` with `AUTHORS_REAL_VIDEO` and `AUTHORS_REAL_SAM_IOU_BIAS`."""
    return make_authors_eval_inputs(out, AUTHORS_REAL_VIDEO, AUTHORS_REAL_SAM_IOU_BIAS)
