"""CoTracker v1 as a SAM-PT point tracker: the official ``cotracker_stride_4_wind_8.pth``, tracked as SAM-PT's
``CoTrackerPointTracker`` does (SysCV/sam-pt @874ff7e, ``sam_pt/point_tracker/cotracker/tracker.py``, settings
from ``configs/model/point_tracker/cotracker.yaml``):

  1. frames are resized to the model resolution (384x512) bilinearly with ``align_corners=False``; query (x, y)
     are scaled by W'/W, H'/H and the tracks scaled back by W/W', H/H';
  2. a ``support_grid_size`` x ``support_grid_size`` support grid (margin W' // 64) is added on frame 0 and every
     ``support_grid_every`` frames after it (official 2x2 every 12 frames), tracked with the queries and dropped;
  3. forward pass in windows of 8 frames every 4 (`trackers.point.cotracker1.net.track_windows`, 6 updates);
  4. backward pass (only run when some query's frames are not all reached by the forward pass): the same on the
     reversed video with every query (support grid included) at T - 1 - t; frames no forward window wrote for
     a point come from it. (The official code takes them where the forward track is exactly 0, which is the
     same unless a written coordinate is exactly 0.0);
  5. visible = sigmoid(visibility logit) > 0.7;
  6. each query's own frame gets its query position, visible (our `PointTracker` contract; the official wrapper
     returns the refined position there).

On the same random weights this gives the official wrapper's tracks (to 1e-3 px) and visibility:
`tests/trackers/point/test_official_trackers.py` (fixture ``tests/fixtures/official_trackers/cotracker_v1``).

Memory: frames are read from a `FrameSource` and encoded in chunks of 8 (`trackers.point.windows.WindowFeatures`);
only the chunks under the current 8-frame window are held (the backward pass encodes its frames again), so memory
does not grow with the video.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infra.frames import FrameSource
from trackers.checkpoints import CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint
from trackers.point.base import PointTracker, check_track_source
from trackers.point.cotracker1.net import WINDOW, CoTrackerV1Net, track_windows
from trackers.point.cotracker3.tracker import support_grid
from trackers.point.pips.net import feature_pyramid
from trackers.point.windows import WindowFeatures
from trackers.point.layout import to_channels_last

CHECKPOINT = register(CheckpointInfo(
    key="cotracker_v1",
    filename="cotracker_stride_4_wind_8.pth",
    # facebookresearch/co-tracker v1.0 README and SysCV/sam-pt docs/03-prepare-checkpoints.md
    url="https://dl.fbaipublicfiles.com/cotracker/cotracker_stride_4_wind_8.pth",
    # as listed in SAM-PT's docs/03-prepare-checkpoints.md for models/cotracker_ckpts/
    md5="82c458ad5de9bf98bc337c34ccbc436a",
))
#: frames per encoder call (a frame's features do not depend on the other frames)
ENCODER_CHUNK = WINDOW


def load_cotracker_v1(path: str | Path | None) -> CoTrackerV1Net:
    """`CoTrackerV1Net` with an official checkpoint (a state dict or ``{'model': state dict}``) loaded strictly.

    ``path`` None means ``checkpoints/cotracker_stride_4_wind_8.pth``. Raises `CheckpointError` naming the file
    and ``make checkpoints MODEL=cotracker_v1`` when it is missing, and the key mismatch when it is another model.
    """
    path = require_checkpoint(path, CHECKPOINT)
    net = CoTrackerV1Net()
    load_state_dict_strict(net, read_state_dict(path, CHECKPOINT.filename, unwrap="model"), path)
    return net.eval()


class CoTrackerV1Tracker(PointTracker):
    """CoTracker v1 point tracker (see the module docstring).

    Args:
        checkpoint: path of the official ``cotracker_stride_4_wind_8.pth`` (None: the default location).
        device: torch device (default: ``cuda`` when available, else ``cpu``).
        support_grid_size: side of the support grid (official 2; 0 = none).
        support_grid_every: a support grid every this many frames from frame 0 (official 12).
        model_resolution: (H, W) the network runs at (official (384, 512); each side a multiple of 4, >= 64).
        iters: refinement updates per window (official 6).
        visibility_threshold: visible where sigmoid(logit) exceeds it (official 0.7).
        channels_last: run the network's convolutions in the channels-last memory layout
            (`trackers.point.layout.to_channels_last`; a speed option: the same function, float rounding
            differs; the official fixture passes with it on or off).
    """

    needs_checkpoint = True

    def __init__(self, checkpoint: str | Path | None = None, device: str | torch.device | None = None,
                 support_grid_size: int = 2, support_grid_every: int = 12,
                 model_resolution: tuple[int, int] = (384, 512), iters: int = 6, visibility_threshold: float = 0.7,
                 channels_last: bool = True):
        if support_grid_size < 0 or support_grid_every < 1 or iters < 1:
            raise ValueError(f"need support_grid_size >= 0, support_grid_every >= 1, iters >= 1; got "
                             f"{support_grid_size}, {support_grid_every}, {iters}")
        if len(model_resolution) != 2 or any(int(s) < 64 or int(s) % 4 for s in model_resolution):
            # >= 64: the coarsest correlation level (1/32 of the resolution) must be at least 2 pixels wide
            raise ValueError(f"model_resolution must be (H, W), multiples of 4 and >= 64, got {model_resolution}")
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.support_grid_size, self.support_grid_every = int(support_grid_size), int(support_grid_every)
        self.model_resolution = (int(model_resolution[0]), int(model_resolution[1]))
        self.iters, self.visibility_threshold = int(iters), float(visibility_threshold)
        self.net = load_cotracker_v1(checkpoint).to(self.device)
        if channels_last:
            to_channels_last(self.net)

    def _encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """(B, H, W, 3) uint8 -> feature pyramid at the model resolution, per level (B, 128, h, w)."""
        video = frames.to(self.device).permute(0, 3, 1, 2).float()
        video = F.interpolate(video, self.model_resolution, mode="bilinear", align_corners=False)
        return feature_pyramid(self.net.encode(video))

    def _model_queries(self, user: torch.Tensor, num_frames: int, to_model: torch.Tensor) -> torch.Tensor:
        """User queries (N, 3) in input pixels -> (N + grid points, 3) model-pixel queries, the grids appended."""
        queries = [torch.cat([user[:, :1], user[:, 1:] * to_model], dim=1)]
        if self.support_grid_size:
            model_h, model_w = self.model_resolution
            grid = support_grid(self.support_grid_size, model_h, model_w, margin=model_w // 64).to(self.device)
            for frame in range(0, num_frames, self.support_grid_every):
                queries.append(torch.cat([grid.new_full((len(grid), 1), frame), grid], dim=1))
        return torch.cat(queries)

    @torch.no_grad()
    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: (T, H, W, 3) uint8 or a `FrameSource`, (N, 3) (t, x, y) -> tracks (T, N, 2)
        float32 pixels, visible (T, N) bool."""
        source, queries = check_track_source(frames, queries)
        num_frames, (height, width) = source.num_frames, source.frame_size
        num_user = len(queries)
        if num_user == 0:
            return np.zeros((num_frames, 0, 2), np.float32), np.zeros((num_frames, 0), bool)
        model_h, model_w = self.model_resolution
        to_model = torch.tensor([model_w / width, model_h / height], device=self.device)
        to_input = torch.tensor([width / model_w, height / model_h], device=self.device)
        user = torch.from_numpy(queries).to(self.device)
        model_queries = self._model_queries(user, num_frames, to_model)
        features = WindowFeatures(source, self._encode, ENCODER_CHUNK)
        tracks, vis, reached = track_windows(self.net, features, num_frames, model_queries, self.iters)
        if not reached[:, :num_user].all():
            reversed_queries = model_queries.clone()
            reversed_queries[:, 0] = num_frames - 1 - model_queries[:, 0]
            back = track_windows(self.net, lambda index: features(num_frames - 1 - index), num_frames,
                                 reversed_queries, self.iters)
            tracks = torch.where(reached[..., None], tracks, back[0].flip(0))
            vis = torch.where(reached, vis, back[1].flip(0))
        tracks = tracks[:, :num_user] * to_input
        visible = vis[:, :num_user] > self.visibility_threshold
        query_frames, points = user[:, 0].long(), torch.arange(num_user, device=self.device)
        tracks[query_frames, points] = user[:, 1:]
        visible[query_frames, points] = True
        return tracks.float().cpu().numpy(), visible.cpu().numpy()
