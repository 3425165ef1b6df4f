"""CoTracker3 point trackers (offline and online) loading the official checkpoints.

Both follow the `PointTracker` contract and the official predictors (facebookresearch/co-tracker @82e02e8,
``cotracker/predictor.py``), with the official checkpoints ``scaled_offline.pth`` / ``scaled_online.pth``:

  1. frames are resized to the model resolution (384x512) bilinearly with ``align_corners=True``; query
     (x, y) are scaled by (W'-1)/(W-1), (H'-1)/(H-1) and the tracks scaled back at the end;
  2. a support grid of ``support_grid_size`` x ``support_grid_size`` points on frame 0 (margin W'/64) is
     appended to the queries, tracked jointly with them and dropped (0 disables it). The official offline
     predictor always adds it to user queries; the online one only with ``add_support_grid=True``; we
     default to the official 6x6 grid for both;
  3. forward pass: offline, one window over the whole video (``time_emb`` linearly resampled to T);
     online, windows of 16 frames every 8 frames (see `trackers.point.cotracker3.net.track_online`);
  4. backward tracking (only run when some query is on a later frame): the same pass on the reversed
     video; a point's positions and visibilities on frames before its query frame come from it.
     Offline this is the official ``backward_tracking=True`` logic (the reversed queries, the support grid
     included, sit at T-1-t). The official online predictor has no backward tracking; ours runs the
     online pass on the reversed video with the support grid on the reversed video's first frame;
  5. visible = sigmoid(vis) > 0.9 (offline; the confidence is unused), sigmoid(vis)*sigmoid(conf) > 0.6
     (online), as in the official predictors;
  6. each query's own frame gets its query position, visible (official offline; we do it online too).

All query points go through the network together in one call per direction; everything runs on
``device`` (default: CUDA when available).

On the same random weights, both trackers give the official predictors' tracks (to 1e-3 px) and visibility:
`tests/trackers/point/test_official_trackers.py` (offline: the official predictor with ``backward_tracking=True``; online:
the official predictor on the video and on the time-reversed video, combined as in step 4).

Memory: frames are read from a `FrameSource` and encoded in chunks of 16 (``ENCODER_CHUNK``;
`trackers.point.windows.WindowFeatures`). The online tracker holds only the chunks under its current
16-frame window (each direction encodes its frames again), so its memory does not grow with the video. The
offline tracker attends over all frames in one window by design: it holds every frame's features and
its time attention grows with T squared (measured memory against the video length: docs/benchmarks.md).
It logs a warning above ``OFFLINE_MAX_FRAMES`` = 150 frames.
"""
from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trackers.checkpoints import (
    CheckpointError, CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)
from trackers.point.cotracker3.net import (
    ENCODER_CHUNK, OFFLINE_WINDOW, ONLINE_WINDOW, CoTracker3Net, track_offline, track_online,
)
from infra.frames import FrameSource
from trackers.point.base import PointTracker, check_track_source
from trackers.point.windows import FeaturesFn, WindowFeatures, warn_long_video
from trackers.point.layout import to_channels_last

OFFLINE_CHECKPOINT = register(CheckpointInfo(
    key="cotracker3_offline",
    filename="scaled_offline.pth",
    url="https://huggingface.co/facebook/cotracker3/resolve/main/scaled_offline.pth",
))
ONLINE_CHECKPOINT = register(CheckpointInfo(
    key="cotracker3_online",
    filename="scaled_online.pth",
    url="https://huggingface.co/facebook/cotracker3/resolve/main/scaled_online.pth",
))

DEFAULT_RESOLUTION = (384, 512)
#: offline CoTracker3 warns above this many frames: its memory grows with T (see the module docstring)
OFFLINE_MAX_FRAMES = 150


def support_grid(size: int, height: int, width: int, margin: float | None = None) -> torch.Tensor:
    """(size*size, 2) (x, y) points in rows (y outer), spanning [m, W-m] x [m, H-m] with margin m (default
    W/64, CoTracker3's; CoTracker v1's is W // 64).

    ``size`` 1 gives the centre (W/2, H/2).
    """
    if size == 1:
        return torch.tensor([[width / 2, height / 2]], dtype=torch.float32)
    margin = width / 64 if margin is None else margin
    ys = torch.linspace(margin, height - margin, size)
    xs = torch.linspace(margin, width - margin, size)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


def load_cotracker3_state_dict(path: Path, info: CheckpointInfo, window_len: int) -> dict:
    """Read an official CoTracker3 checkpoint (a state dict, or ``{'model': state dict}``) and check its variant.

    Offline and online checkpoints have the same keys; the length of ``time_emb`` (1, window, 1110) tells
    them apart. Raises `CheckpointError` if the file is unreadable or of the other variant.
    """
    state = read_state_dict(path, info.filename, unwrap="model")
    time_emb = state.get("time_emb")
    if isinstance(time_emb, torch.Tensor) and time_emb.ndim == 3 and time_emb.shape[1] != window_len:
        found = {OFFLINE_WINDOW: "an offline (scaled_offline.pth)", ONLINE_WINDOW: "an online (scaled_online.pth)"}.get(
            time_emb.shape[1], f"a {time_emb.shape[1]}-frame-window")
        other = {OFFLINE_WINDOW: "cotracker3_offline", ONLINE_WINDOW: "cotracker3_online"}.get(time_emb.shape[1])
        hint = f"; use the point tracker {other!r} for it" if other else ""
        raise CheckpointError(
            f"checkpoint {path} is {found} CoTracker3 checkpoint (time_emb {tuple(time_emb.shape)}), but the "
            f"{info.key} tracker needs {info.filename} (time_emb (1, {window_len}, 1110)){hint}"
        )
    return state


class _CoTracker3Tracker(PointTracker):
    """Shared CoTracker3 tracker; subclasses fix the variant (offline / online).

    Args:
        checkpoint: path of the official checkpoint (default ``checkpoints/<official file name>``).
        device: torch device (default: ``cuda`` when available, else ``cpu``).
        support_grid_size: side of the support grid tracked with the queries (official 6; 0 = none).
        model_resolution: (H, W) the network runs at (official (384, 512); multiples of 32 keep the pyramid exact).
        iters: refinement updates per window (official 6).
        visibility_threshold: threshold of the visibility score (official: 0.9 offline, 0.6 online).
        channels_last: run the network's convolutions in the channels-last memory layout
            (`trackers.point.layout.to_channels_last`; a speed option: the same function, float rounding
            differs; the official fixture passes with it on or off).
    """

    needs_checkpoint = True
    checkpoint_info: CheckpointInfo
    window_len: int
    default_threshold: float
    #: length above which `track` warns that memory grows with the video (None: it does not grow)
    max_frames: int | None = None

    def __init__(self, checkpoint: str | Path | None = None, device: str | torch.device | None = None,
                 support_grid_size: int = 6, model_resolution: tuple[int, int] = DEFAULT_RESOLUTION,
                 iters: int = 6, visibility_threshold: float | None = None, channels_last: bool = True):
        if support_grid_size < 0:
            raise ValueError(f"support_grid_size must be >= 0, got {support_grid_size}")
        if iters < 1:
            raise ValueError(f"iters must be >= 1, got {iters}")
        if len(model_resolution) != 2 or any(int(s) < 8 or int(s) % 4 for s in model_resolution):
            raise ValueError(f"model_resolution must be (H, W), multiples of 4 and >= 8, got {model_resolution}")
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.support_grid_size = int(support_grid_size)
        self.model_resolution = (int(model_resolution[0]), int(model_resolution[1]))
        self.iters = int(iters)
        self.visibility_threshold = self.default_threshold if visibility_threshold is None else float(visibility_threshold)
        path = require_checkpoint(checkpoint, self.checkpoint_info)
        self.net = CoTracker3Net(self.window_len, self.model_resolution)
        load_state_dict_strict(self.net, load_cotracker3_state_dict(path, self.checkpoint_info, self.window_len), path)
        self.net.eval().to(self.device)
        if channels_last:
            to_channels_last(self.net)

    @abstractmethod
    def _run(self, features: FeaturesFn, num_frames: int, queries: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass over T = ``num_frames`` frames whose pyramid ``features`` gives (frame indices (S,) -> per
        level (S, 128, h, w)), (N, 3) model-pixel queries -> tracks (T, N, 2), vis (T, N), conf (T, N)."""

    @abstractmethod
    def _visible(self, vis: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
        """(T, N) visibility and confidence probabilities -> (T, N) bool."""

    def _backward_queries(self, queries: torch.Tensor, num_user: int, num_frames: int) -> torch.Tensor:
        """Queries (user then support grid) for the pass on the reversed video."""
        reversed_queries = queries.clone()
        reversed_queries[:, 0] = num_frames - 1 - queries[:, 0]
        return reversed_queries

    def _encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """(B, H, W, 3) uint8 -> ``net.encode`` pyramid at the model resolution, per level (B, 128, h, w)."""
        video = frames.to(self.device).permute(0, 3, 1, 2).float()
        video = F.interpolate(video, self.model_resolution, mode="bilinear", align_corners=True)
        return self.net.encode(video)

    @torch.no_grad()
    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Track ``queries`` (N, 3) (t, x, y) through ``frames`` (T, H, W, 3) uint8 or a `FrameSource`.

        Returns tracks (T, N, 2) float32 pixel (x, y) and visible (T, N) bool.
        """
        source, queries = check_track_source(frames, queries)
        num_frames, (height, width) = source.num_frames, source.frame_size
        if height < 2 or width < 2:
            raise ValueError(f"frames must be at least 2x2 pixels, got {height}x{width}")
        num_user = len(queries)
        if num_user == 0:
            return np.zeros((num_frames, 0, 2), np.float32), np.zeros((num_frames, 0), bool)
        if self.max_frames is not None:
            warn_long_video(self.checkpoint_info.key, num_frames, self.max_frames,
                            "its transformer attends over all frames in one window")
        model_h, model_w = self.model_resolution
        to_model = torch.tensor([(model_w - 1) / (width - 1), (model_h - 1) / (height - 1)], device=self.device)
        to_input = torch.tensor([(width - 1) / (model_w - 1), (height - 1) / (model_h - 1)], device=self.device)

        user = torch.from_numpy(queries).to(self.device)
        model_queries = torch.cat([user[:, :1], user[:, 1:] * to_model], dim=1)
        if self.support_grid_size:
            grid = support_grid(self.support_grid_size, model_h, model_w).to(self.device)
            model_queries = torch.cat([model_queries, torch.cat([grid.new_zeros(len(grid), 1), grid], dim=1)])

        features = WindowFeatures(source, self._encode, ENCODER_CHUNK)
        tracks, vis, conf = self._run(features, num_frames, model_queries)
        query_frames = user[:, 0].long()
        if (query_frames > 0).any():
            back = self._run(lambda frames: features(num_frames - 1 - frames), num_frames,
                             self._backward_queries(model_queries, num_user, num_frames))
            before = torch.arange(num_frames, device=self.device)[:, None] < model_queries[None, :, 0]
            tracks = torch.where(before[..., None], back[0].flip(0), tracks)
            vis = torch.where(before, back[1].flip(0), vis)
            conf = torch.where(before, back[2].flip(0), conf)

        tracks = tracks[:, :num_user] * to_input
        visible = self._visible(vis[:, :num_user], conf[:, :num_user])
        points = torch.arange(num_user, device=self.device)
        tracks[query_frames, points] = user[:, 1:]
        visible[query_frames, points] = True
        return tracks.float().cpu().numpy(), visible.cpu().numpy()


class CoTracker3OfflineTracker(_CoTracker3Tracker):
    """CoTracker3 offline (``scaled_offline.pth``): the whole video in one window; visible = vis > 0.9.

    Memory grows with the video (it holds every frame's features); warns above ``OFFLINE_MAX_FRAMES``.
    """

    checkpoint_info = OFFLINE_CHECKPOINT
    window_len = OFFLINE_WINDOW
    default_threshold = 0.9
    max_frames = OFFLINE_MAX_FRAMES

    def _run(self, features, num_frames, queries):
        return track_offline(self.net, features(torch.arange(num_frames)), queries, self.iters)

    def _visible(self, vis, conf):
        return vis > self.visibility_threshold


class CoTracker3OnlineTracker(_CoTracker3Tracker):
    """CoTracker3 online (``scaled_online.pth``): 16-frame windows every 8 frames; visible = vis * conf > 0.6."""

    checkpoint_info = ONLINE_CHECKPOINT
    window_len = ONLINE_WINDOW
    default_threshold = 0.6

    def _run(self, features, num_frames, queries):
        return track_online(self.net, features, num_frames, queries, self.iters)

    def _visible(self, vis, conf):
        return vis * conf > self.visibility_threshold

    def _backward_queries(self, queries, num_user, num_frames):
        reversed_queries = queries.clone()
        reversed_queries[:num_user, 0] = num_frames - 1 - queries[:num_user, 0]
        return reversed_queries
