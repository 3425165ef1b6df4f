"""Record SAM-PT's point trackers on a synthetic clip with random weights (tests/fixtures/official_trackers).

For each tracker in `TRACKERS` the inputs are deterministic (`make_inputs`): a short
synthetic clip (`synthetic_clip`: a panning smooth texture with a square moving against it), query points on
the first, a middle and the last frame (`QUERIES`; `pips2`: `PIPS2_QUERIES`), and random weights in the
official checkpoint format drawn from a fixed seed, damped where random weights make the official tracker
chaotic (see the fixture README). `record` runs the official tracker exactly as SAM-PT calls it
(``tracker.evaluate_batch(rgbs[None], queries[None])`` on (1, T, 3, H, W) uint8 frames; for `pips2` once per
query frame, see `run_official_per_query_frame`) and stores tracks and visibilities in
``<tracker>.npz``; with ``--sensitivity`` it first reruns the official tracker with one weight changed by
1e-7 and reports how far the tracks move. Commands::

    # 1. inputs (this repository's venv); --tracker pips, pips2 or raft
    .venv/bin/python -m scripts.record.trackers inputs --tracker pips --out /tmp/tracker_inputs
    # 2. the official code (SysCV/sam-pt) in a venv with its requirements, from this repository's root
    /path/to/venv/bin/python -m scripts.record.trackers record --tracker pips --official /path/to/sam-pt \\
        --inputs /tmp/tracker_inputs --out tests/fixtures/official_trackers [--sensitivity]

CoTracker3 (facebookresearch/co-tracker), TAPIR and BootsTAPIR (google-deepmind/tapnet, ``tapnet/torch``)
are run through `OFFICIAL_RUNNERS` (the official predictor or model called as its README / colab does, see
each runner), with ``--official`` a checkout of that repository.

`tests/trackers/point/test_official_trackers.py` regenerates the inputs, runs ``build_point_tracker(name, checkpoint,
**TRACKERS[name]["options"]).track`` (the options select the official behaviour where ours differs) and
compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import (
    PIPS_DAMPING, damp, damped_pips_state, install_stand_ins, official_commit, recording_parser,
)

RAFT_KEYS = Path(__file__).resolve().parents[2] / "reference" / "keys" / "raft_things_keys.txt"
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

# ---- CoTracker3 (facebookresearch/co-tracker) and TAPIR / BootsTAPIR (google-deepmind/tapnet, tapnet/torch) ----
#: CoTracker3's network runs at this (H, W) instead of the official (384, 512): at (384, 512) the official
#: offline predictor took 195 s on the 10-frame clip (one CPU thread), too slow for a test. The official
#: model takes it as its ``model_resolution`` argument; (64, 96) keeps the 4-level pyramid exact (multiples
#: of 32) and has another aspect than the clip, so the x and y rescaling differ.
COTRACKER3_RESOLUTION = (64, 96)
#: the online tracker needs more than one 16-frame window: 18 frames give windows at frames 0 and 8
ONLINE_CLIP = dict(CLIP, num_frames=18)
#: `QUERIES` moved to frames 0, 9 (middle) and 17 (last) of `ONLINE_CLIP`
ONLINE_QUERIES = np.concatenate([np.array([[0], [0], [9], [9], [17], [17]], np.float32), QUERIES[:, 1:]], axis=1)
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
        seed=2028, checkpoint="tapir/bootstapir_checkpoint_v2.pt", options={},
        damping=(("torch_pips_mixer.linear_1.", 1.0),), bias={"torch_cost_volume_track_mods.occ_out.bias": 0.7},
        probe=TAPIR_PROBE),
})
#: TAPIR on a clip longer than its windows: 260 frames, with our tracker in windows of 224 frames ([0, 224),
#: [32, 256), [64, 260), keeping [0, 128), [128, 160), [160, 260); the temporal reach is 96 frames) against the
#: official model on the whole clip. At 64x64 (official ``TAPIR(initial_resolution=(64, 64))`` on frames resized
#: to 64x64; refinement then at 64x64 too) so that 260 frames take seconds; otherwise `tapir`'s settings.
TAPIR_LONG_RESOLUTION = (64, 64)
TAPIR_LONG_CLIP = dict(CLIP, num_frames=260, bounce=True)
#: `QUERIES` moved to frames 0, 130 (a middle window's core) and 259 (the last)
TAPIR_LONG_QUERIES = np.concatenate([np.array([[0], [0], [130], [130], [259], [259]], np.float32), QUERIES[:, 1:]],
                                    axis=1)
TRACKERS["tapir_long"] = dict(
    TRACKERS["tapir"], tracker="tapir", checkpoint="tapir_long/tapir_checkpoint_panning.pt",
    clip=TAPIR_LONG_CLIP, queries=TAPIR_LONG_QUERIES,
    official=dict(resolution=TAPIR_LONG_RESOLUTION, initial_resolution=TAPIR_LONG_RESOLUTION),
    options=dict(resolution=TAPIR_LONG_RESOLUTION, initial_resolution=TAPIR_LONG_RESOLUTION, window_frames=224))


def _bounce(t: int, period: int) -> int:
    """t for t <= period, then back down to 0, up again...: a triangle wave, so that long clips stay on the canvas."""
    phase = t % (2 * period)
    return phase if phase <= period else 2 * period - phase


def synthetic_clip(num_frames: int, height: int, width: int, seed: int, bounce: bool = False) -> np.ndarray:
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


def input_paths(tracker: str, out: Path) -> dict[str, Path]:
    """Where `make_inputs` writes the clip and queries and the checkpoint of ``tracker``."""
    if tracker not in TRACKERS:
        raise ValueError(f"no recording for tracker {tracker!r}; valid: {', '.join(TRACKERS)}")
    checkpoint = TRACKERS[tracker].get("checkpoint") or {"pips": "pips/model-000200000.pth",
                                                          "pips2": "pips2/model-000200000.pth",
                                                          "raft": "raft/raft-things.pth"}[tracker]
    # one inputs file per tracker: the clips differ
    return {"inputs": Path(out) / f"inputs_{tracker}.npz", "checkpoint": Path(out) / checkpoint}


def make_inputs(tracker: str, out: Path) -> dict[str, Path]:
    """Write the clip and queries (``inputs.npz``) and the checkpoint of ``tracker`` under ``out``."""
    import torch

    paths = input_paths(tracker, out)
    paths["checkpoint"].parent.mkdir(parents=True, exist_ok=True)
    settings = TRACKERS[tracker]
    np.savez(paths["inputs"], frames=synthetic_clip(**settings.get("clip", CLIP)),
             queries=settings.get("queries", QUERIES))
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
    elif tracker in OFFICIAL_RUNNERS:
        torch.save(seeded_state(tracker), paths["checkpoint"])
    return paths


def seeded_state(tracker: str) -> dict:
    """The plain state dict (the official format) of the CoTracker3 or TAPIR ``tracker``: our network drawn
    after ``torch.manual_seed(seed)`` (default initialisation), scaled by ``damping`` (`damp`) and with
    ``bias`` added; the global torch generator is left as it was."""
    import torch

    settings = TRACKERS[tracker]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        if tracker.startswith("cotracker3"):
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
    if tracker in OFFICIAL_RUNNERS:
        return OFFICIAL_RUNNERS[tracker](paths["checkpoint"])
    raise ValueError(tracker)


def run_official(model, frames: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SAM-PT's call: ``evaluate_batch`` on (1, T, 3, H, W) uint8 and (1, N, 3) (t, x, y) under no_grad."""
    import torch

    rgbs = torch.from_numpy(frames).permute(0, 3, 1, 2)[None]
    model.eval()
    with torch.no_grad():
        outputs = model.evaluate_batch(rgbs, torch.from_numpy(queries)[None])
    return outputs["trajectories_pred"][0].numpy(), outputs["visibilities_pred"][0].numpy()


class _OfficialRunner:
    """An official CoTracker3 / TAPIR model behind the interface `run_official` and `record` use (SAM-PT's
    ``evaluate_batch``; ``named_parameters`` with the official network under ``model.``)."""

    model = None
    #: whether `evaluate_batch` writes the query points into their frames (see there)
    overwrite_query_frames = True

    def eval(self):
        self.model.eval()
        return self

    def named_parameters(self):
        return ((f"model.{name}", parameter) for name, parameter in self.model.named_parameters())

    def evaluate_batch(self, rgbs, queries) -> dict:
        """(1, T, 3, H, W) uint8 frames, (1, N, 3) (t, x, y) -> trajectories (1, T, N, 2), visibilities (1, T, N)."""
        import torch

        tracks, visible = self.track(rgbs[0].float(), queries[0].float())
        if self.overwrite_query_frames:
            # the query frame gets the query point, visible: our `PointTracker` contract (the official offline
            # CoTracker3 predictor does it itself, see `_CoTrackerPredictor`)
            points = torch.arange(len(queries[0]))
            tracks[queries[0, :, 0].long(), points] = queries[0, :, 1:]
            visible[queries[0, :, 0].long(), points] = True
        return {"trajectories_pred": tracks[None], "visibilities_pred": visible[None]}


def _official_cotracker3(predictor, window_len: int, online: bool):
    """Replace ``predictor.model`` by the same official network at `COTRACKER3_RESOLUTION` (weights copied,
    strictly) and point the predictor's resize at it."""
    from cotracker.models.core.cotracker.cotracker3_offline import CoTrackerThreeOffline
    from cotracker.models.core.cotracker.cotracker3_online import CoTrackerThreeOnline

    cls = CoTrackerThreeOnline if online else CoTrackerThreeOffline
    model = cls(stride=4, corr_radius=3, window_len=window_len, model_resolution=COTRACKER3_RESOLUTION)
    model.load_state_dict(predictor.model.state_dict())
    predictor.model = model.eval()
    predictor.interp_shape = COTRACKER3_RESOLUTION
    return predictor


class _CoTrackerPredictor(_OfficialRunner):
    """The official ``CoTrackerPredictor(checkpoint)`` (offline, window 60) called as
    ``predictor(video, queries=queries, backward_tracking=True)``: the 6x6 support grid, one window over
    the whole video, the pass on the reversed video for frames before each query frame, vis > 0.9 and
    the query points written into their frames are all the official predictor's own logic."""

    overwrite_query_frames = False

    def __init__(self, checkpoint: Path):
        from cotracker.predictor import CoTrackerPredictor

        self.predictor = _official_cotracker3(CoTrackerPredictor(checkpoint=str(checkpoint)), 60, online=False)
        self.model = self.predictor.model

    def track(self, video, queries):
        tracks, visible = self.predictor(video[None], queries=queries[None], backward_tracking=True)
        return tracks[0], visible[0]


class _CoTrackerOnlinePredictor(_OfficialRunner):
    """The official ``CoTrackerOnlinePredictor(checkpoint)`` (window 16, step 8) fed as the official README
    does: ``predictor(video, is_first_step=True, queries=queries, add_support_grid=True)``, then the chunks
    ``video[:, i:i + 16]`` for ``i`` in ``range(0, T - 8, 8)`` (with ``add_support_grid=True``, which drops
    the grid); visible = vis * conf > 0.6 is the official predictor's.

    The official online predictor has no backward tracking; our tracker adds it. So this runs the official
    predictor twice, on the video and on the time-reversed video with the queries at frame T - 1 - t (the
    support grid on the first frame of each), and takes a point's positions and visibilities on frames
    before its query frame from the reversed run (flipped back), as the official offline predictor's
    ``_compute_backward_tracks`` does."""

    def __init__(self, checkpoint: Path):
        from cotracker.predictor import CoTrackerOnlinePredictor

        self.predictor = _official_cotracker3(CoTrackerOnlinePredictor(checkpoint=str(checkpoint)), 16, online=True)
        self.model = self.predictor.model

    def _stream(self, video, queries):
        step, num_frames = self.predictor.step, len(video)
        self.predictor(video[None], is_first_step=True, queries=queries[None], add_support_grid=True)
        for start in range(0, num_frames - step, step):
            tracks, visible = self.predictor(video[None, start:start + 2 * step], add_support_grid=True)
        if tracks.shape[1] != num_frames:
            raise RuntimeError(f"the official online predictor returned {tracks.shape[1]} of {num_frames} frames")
        return tracks[0], visible[0]

    def track(self, video, queries):
        import torch

        tracks, visible = self._stream(video, queries)
        reversed_queries = queries.clone()
        reversed_queries[:, 0] = len(video) - 1 - queries[:, 0]
        back_tracks, back_visible = self._stream(video.flip(0), reversed_queries)
        before = torch.arange(len(video))[:, None] < queries[None, :, 0]
        tracks = torch.where(before[..., None], back_tracks.flip(0), tracks)
        visible = torch.where(before, back_visible.flip(0), visible)
        return tracks, visible


class _TapirModel(_OfficialRunner):
    """The official ``tapnet.torch.tapir_model.TAPIR`` with the checkpoint loaded strictly, called as the
    official colab (``colabs/torch_tapir_demo.ipynb``) does: ``model(frames[None], query_points[None])``
    with frames at 256x256 in [-1, 1] (``frames / 255 * 2 - 1``), queries (t, y, x) at that resolution, all
    other arguments the official defaults (softmax temperature 20, 4 PIPs iterations, refinement
    resolutions from the video size), visible = (1 - sigmoid(occlusion)) * (1 - sigmoid(expected_dist)) > 0.5.

    Around the model this does what our wrapper does (the colab resizes with mediapy and takes queries in
    pixels of the resized video): frames resized to 256x256 by bilinear interpolation with antialiasing
    (``align_corners=False``); query (x, y) with pixel centres at integers become TAP-Vid raster
    coordinates (centres at +0.5) of the resized video, (y + 0.5) * 256 / H, and tracks come back as
    x * W / 256 - 0.5."""

    def __init__(self, checkpoint: Path, pyramid_level: int, extra_convs: bool, resolution=(256, 256),
                 initial_resolution=(256, 256)):
        import torch
        from tapnet.torch import tapir_model

        self.resolution = tuple(resolution)
        self.model = tapir_model.TAPIR(pyramid_level=pyramid_level, extra_convs=extra_convs,
                                       initial_resolution=tuple(initial_resolution))
        self.model.load_state_dict(torch.load(checkpoint, map_location="cpu"))

    def track(self, video, queries):
        import torch
        import torch.nn.functional as F

        height, width = video.shape[-2:]
        (model_h, model_w) = self.resolution
        frames = F.interpolate(video, size=self.resolution, mode="bilinear", align_corners=False, antialias=True)
        frames = frames.permute(0, 2, 3, 1) / 255 * 2 - 1
        query_points = torch.stack([queries[:, 0], (queries[:, 2] + 0.5) * model_h / height,
                                    (queries[:, 1] + 0.5) * model_w / width], dim=-1)
        outputs = self.model(frames[None], query_points[None])
        visible = (1 - torch.sigmoid(outputs["occlusion"][0])) * (1 - torch.sigmoid(outputs["expected_dist"][0])) > 0.5
        tracks = outputs["tracks"][0] * torch.tensor([width / model_w, height / model_h]) - 0.5
        return tracks.permute(1, 0, 2).contiguous(), visible.T.contiguous()


OFFICIAL_RUNNERS = {
    "cotracker3_offline": _CoTrackerPredictor,
    "cotracker3_online": _CoTrackerOnlinePredictor,
    "tapir": lambda checkpoint: _TapirModel(checkpoint, pyramid_level=0, extra_convs=False),
    "bootstapir": lambda checkpoint: _TapirModel(checkpoint, pyramid_level=1, extra_convs=True),
    "tapir_long": lambda checkpoint: _TapirModel(checkpoint, pyramid_level=0, extra_convs=False,
                                                 **TRACKERS["tapir_long"]["official"]),
}


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
    if tracker not in OFFICIAL_RUNNERS:  # SAM-PT's trackers
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
