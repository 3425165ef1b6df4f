


"""Record SAM-PT's point trackers on a synthetic clip with random weights (tests/fixtures/official_trackers).

For each tracker in `tests.inputs.TRACKERS` the inputs are deterministic (`tests.inputs.make_tracker_inputs`,
shared with the tests): a short synthetic clip (`panning_clip`: a panning smooth texture with a square moving
against it), query points on the first, a middle and the last frame (`TRACKER_QUERIES`; `pips2`:
`PIPS2_QUERIES`), and random weights in the official checkpoint format drawn from a fixed seed, damped where
random weights make the official tracker chaotic (see the fixture README). This script keeps what runs the
official code: `record` runs the official tracker exactly as SAM-PT calls it
(``tracker.evaluate_batch(rgbs[None], queries[None])`` on (1, T, 3, H, W) uint8 frames; for `pips2` once per
query frame, see `run_official_per_query_frame`) and stores tracks and visibilities in
``<tracker>.npz``; with ``--sensitivity`` it first reruns the official tracker with one weight changed by
1e-7 and reports how far the tracks move. Commands::

    # 1. inputs (this repository's venv); --tracker pips, pips2 or raft
    .venv/bin/python -m scripts.record.trackers inputs --tracker pips --out /tmp/tracker_inputs
    # 2. the official code (SysCV/sam-pt) in a venv with its requirements, from this repository's root
    /path/to/venv/bin/python -m scripts.record.trackers record --tracker pips --official /path/to/sam-pt \\
        --inputs /tmp/tracker_inputs --out tests/fixtures/official_trackers [--sensitivity]

CoTracker v1 (``--tracker cotracker_v1``) is SAM-PT's ``CoTrackerPointTracker``; it imports ``cotracker``, so run
it with ``PYTHONPATH=/path/to/co-tracker`` (tag v1.0) and ``einops`` importable.

SAM-PT's TAPIR wrapper (``--tracker tapir_authors``, their JAX TAPIR) runs on the same weights written as its
Haiku ``.npy`` (`scripts.record.sampt_tapir`, which says what the recording venv needs).

TAP-Net (``--tracker tapnet``) is SAM-PT's ``TapnetPointTracker`` (JAX/Haiku, `_TapnetWrapper`): run it in a venv with
jax, dm-haiku, chex, einshape, ml_collections and jaxline (CPU) besides torch.

CoTracker3 (facebookresearch/co-tracker), TAPIR and BootsTAPIR (google-deepmind/tapnet, ``tapnet/torch``)
are run through `OFFICIAL_RUNNERS` (the official predictor or model called as its README / colab does, see
each runner), with ``--official`` a checkout of that repository.

`tests/trackers/point/test_official_trackers.py` regenerates the inputs (`tests.inputs`), runs
``build_point_tracker(name, checkpoint, **TRACKERS[name]["options"]).track`` (the options select the official
behaviour where ours differs) and compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import install_stand_ins, official_commit, recording_parser
from tests.inputs import (
    COTRACKER3_RESOLUTION, PIPS2_OFFICIAL, TRACKER_CLIP, TRACKERS, make_tracker_inputs, tracker_input_paths,
)


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
    if tracker == "cotracker_v1":
        # SAM-PT's wrapper imports `cotracker` (facebookresearch/co-tracker v1.0) from the path: see `record`
        sys.modules.pop("sam_pt.point_tracker.cotracker", None)  # the stand-in of `install_stand_ins`
        from sam_pt.point_tracker.cotracker import CoTrackerPointTracker

        model = CoTrackerPointTracker(str(paths["checkpoint"]), add_debug_visualisations=False,
                                      **TRACKERS[tracker]["official"])
        return _QueryFramesWritten(model, model.model.cotracker_model)
    if tracker == "tapir_authors":
        from scripts.record.sampt_tapir import SamPtTapir

        model = SamPtTapir(paths["checkpoint"], **TRACKERS[tracker]["official"])
        return _QueryFramesWritten(model, model)
    if tracker == "tapnet":
        return _TapnetWrapper(paths["checkpoint"])
    if tracker in OFFICIAL_RUNNERS:
        return OFFICIAL_RUNNERS[tracker](paths["checkpoint"])
    raise ValueError(tracker)


class _QueryFramesWritten:
    """A SAM-PT tracker whose `evaluate_batch` output gets each query point written into its own frame, visible:
    our `PointTracker` contract (SAM-PT's CoTracker v1 and TAPIR wrappers return the refined position there
    instead); ``network`` is what `named_parameters` lists (under ``model.``)."""

    def __init__(self, tracker, network):
        self.tracker, self.network = tracker, network

    def eval(self):
        self.tracker.eval()
        return self

    def named_parameters(self):
        return ((f"model.{name}", parameter) for name, parameter in self.network.named_parameters())

    def evaluate_batch(self, rgbs, queries) -> dict:
        import torch

        outputs = self.tracker.evaluate_batch(rgbs, queries)
        tracks, visible = outputs["trajectories_pred"][0], outputs["visibilities_pred"][0]
        points = torch.arange(queries.shape[1])
        tracks[queries[0, :, 0].long(), points] = queries[0, :, 1:].float()
        visible[queries[0, :, 0].long(), points] = True
        return {"trajectories_pred": tracks[None], "visibilities_pred": visible[None]}


class _TapnetWrapper:
    """SAM-PT's `TapnetPointTracker` (JAX/Haiku: run with jax, dm-haiku, chex, einshape, ml_collections and jaxline
    importable; TensorFlow, which it only asks to hide the GPUs, is a stand-in), unmodified, with the query frames
    written as `_QueryFramesWritten` does. Its jitted forward keeps the weights it was built with, so `perturb`
    builds it again from a copy of the checkpoint with one weight changed."""

    def __init__(self, checkpoint: Path):
        self.checkpoint = Path(checkpoint)
        self.tracker = self._build(self.checkpoint)

    @staticmethod
    def _build(checkpoint: Path):
        import importlib.machinery
        import types

        tensorflow = types.ModuleType("tensorflow")
        tensorflow.__spec__ = importlib.machinery.ModuleSpec("tensorflow", None)
        tensorflow.config = types.SimpleNamespace(experimental=types.SimpleNamespace(
            set_visible_devices=lambda *args, **kwargs: None))
        sys.modules.setdefault("tensorflow", tensorflow)
        sys.modules.pop("sam_pt.point_tracker.tapnet", None)  # the stand-in of `install_stand_ins`
        from sam_pt.point_tracker.tapnet import TapnetPointTracker

        return _QueryFramesWritten(TapnetPointTracker(str(checkpoint), visibility_threshold=0.5))

    def eval(self):
        return self

    def evaluate_batch(self, rgbs, queries) -> dict:
        return self.tracker.evaluate_batch(rgbs, queries)

    def perturb(self, probe: str, index: tuple, delta: float) -> None:
        """Add ``delta`` to ``params[module][name][index]`` (``probe`` is "module:name") and rebuild."""
        module, name = probe.split(":")
        checkpoint = np.load(self.checkpoint, allow_pickle=True).item()
        checkpoint["params"][module][name][tuple(index)] += np.float32(delta)
        perturbed = self.checkpoint.with_name("perturbed_" + self.checkpoint.name)
        with open(perturbed, "wb") as file:
            np.save(file, checkpoint, allow_pickle=True)
        self.tracker = self._build(perturbed)


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
    paths = tracker_input_paths(tracker, inputs)
    data = np.load(paths["inputs"])
    frames, queries = data["frames"], data["queries"]
    model = official_tracker(tracker, paths)
    run = run_official_per_query_frame if TRACKERS[tracker].get("one_call_per_query_frame") else run_official
    tracks, visible = run(model, frames, queries)
    info = {"tracker": tracker, "official_commit": official_commit(official, commit),
            "clip": TRACKERS[tracker].get("clip", TRACKER_CLIP), "queries": queries.tolist(),
            "seed": TRACKERS[tracker]["seed"], "damping": TRACKERS[tracker]["damping"],
            "bias": TRACKERS[tracker].get("bias", {}),
            "official_settings": TRACKERS[tracker].get("official", {}),
            "our_options": TRACKERS[tracker].get("options", {}),
            "visible_fraction": float(np.asarray(visible, dtype=bool).mean()),
            "track_range": [float(tracks.min()), float(tracks.max())]}
    if sensitivity:
        name, index = TRACKERS[tracker]["probe"]
        if isinstance(model, _TapnetWrapper):
            model.perturb(name, index, 1e-7)
        else:
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
        print(json.dumps({k: str(v) for k, v in make_tracker_inputs(args.tracker, args.out).items()}, indent=1))
    else:
        print(json.dumps(record(args.tracker, args.official, args.inputs, args.out, args.commit,
                                args.sensitivity), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
