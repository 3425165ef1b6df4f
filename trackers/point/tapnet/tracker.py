"""TAP-Net (`tapnet`) point tracker: SAM-PT's `TapnetPointTracker` (SysCV/sam-pt 874ff7e,
`sam_pt/point_tracker/tapnet/tracker.py`, config `configs/model/point_tracker/tapnet.yaml`) without JAX.

On the same random weights it gives that wrapper's tracks (to 1e-3 px) and visibility:
`tests/trackers/point/test_official_trackers.py` (`tapnet`). The network is our own implementation
(`trackers.point.tapnet.net.TapNet`); the weights are SAM-PT's `checkpoint_wo_optstate.npy` (the official
TAP-Net checkpoint with the optimizer state removed: a pickled dict of numpy arrays, read with only numpy arrays
and plain containers allowed, `trackers.checkpoints.read_pickled_npy`).

How a video is tracked, as SAM-PT's wrapper does:
  - frames are scaled to [0, 1], resized to 256x256 (bilinear, antialiased) and mapped to [-1, 1];
  - queries (t, x, y) are scaled to the 256x256 frames by 256 / W and 256 / H (no half-pixel shift), and the
    tracks come back divided by the same factors;
  - visible = 1 - sigmoid(occlusion logit) > ``visibility_threshold`` (0.5);
  - on its query frame a point is reported at its query position and visible (the `PointTracker` contract;
    the wrapper reports the network's occlusion there).

The whole video is one cost volume per query (as the official model), so the feature grid of every frame is
held (256 channels at 32x32: 1 MiB per frame in float32). The feature network is run in overlapping windows
of ``window_frames`` frames: its temporal shifts reach `TsmResNet.TEMPORAL_REACH` frames, so each window's
outputs are kept only that far from its ends (`trackers.point.windows.halo_windows`) and equal the
whole-video ones.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infra.frames import FrameSource
from trackers.checkpoints import CheckpointError, CheckpointInfo, read_pickled_npy, register, require_checkpoint
from trackers.point.base import PointTracker, check_track_source
from trackers.point.opencv import check_finite_queries
from trackers.point.tapnet.net import INPUT_SIZE, TapNet, TsmResNet, from_haiku, haiku_entries
from trackers.point.windows import halo_windows

#: SAM-PT's converted checkpoint (docs/03-prepare-checkpoints.md of SysCV/sam-pt: Google Drive, md5 published
#: there); the original `checkpoint.npy` (https://storage.googleapis.com/dm-tapnet/checkpoint.npy) also pickles
#: the optimizer state's objects and is refused by the reader
TAPNET = register(CheckpointInfo(
    "tapnet", "checkpoint_wo_optstate.npy",
    "https://drive.google.com/uc?export=download&id=1fGhoW33k87OQQHUTmFobMUjEnRixhuqg",
    md5="3e915fcb27a6fe39c46e1d5ed443d11a"))
EXPECTED = "SAM-PT's TAP-Net checkpoint_wo_optstate.npy (a dict of 'params' and 'state', Haiku modules of arrays)"


def load_tapnet_checkpoint(model: TapNet, path: str | Path) -> None:
    """Load the official Haiku checkpoint at ``path`` into ``model``: every parameter and batch-norm average
    must be there with its shape, and no other parameter (the moving averages' ``counter`` / ``hidden`` are
    ignored).

    Raises:
        CheckpointError naming the file when it is unreadable, not in that format, or does not fit ``model``.
    """
    checkpoint = read_pickled_npy(path, EXPECTED)
    if not isinstance(checkpoint, dict) or not all(isinstance(checkpoint.get(c), dict) for c in ("params", "state")):
        found = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"checkpoint {path} is not {EXPECTED}: no 'params' and 'state' dicts (found {found})")
    state, missing, wrong = {}, [], []
    reference = model.state_dict()
    for entry in haiku_entries(model):
        array = checkpoint[entry.collection].get(entry.module, {}).get(entry.name)
        if not isinstance(array, np.ndarray):
            missing.append(f"{entry.module}:{entry.name}")
            continue
        state[entry.key] = from_haiku(array, entry.layout)
        if state[entry.key].shape != reference[entry.key].shape:
            wrong.append(f"{entry.module}:{entry.name} {tuple(array.shape)}")
    used = {(e.module, e.name) for e in haiku_entries(model) if e.collection == "params"}
    unexpected = sorted(f"{module}:{name}" for module, names in checkpoint["params"].items()
                        for name in (names if isinstance(names, dict) else {"?": None}) if (module, name) not in used)
    problems = [f"{len(names)} {what} {names[:3]}{' ...' if len(names) > 3 else ''}" for what, names in (
        ("missing", missing), ("of another shape", wrong), ("unexpected parameters", unexpected)) if names]
    if problems:
        raise CheckpointError(f"checkpoint {path} does not match TAP-Net ({EXPECTED}): {', '.join(problems)}")
    model.load_state_dict(state, strict=True)


class TapNetTracker(PointTracker):
    """SAM-PT's TAP-Net tracker (see the module docstring).

    Args:
        checkpoint: path of `checkpoint_wo_optstate.npy`; None = `checkpoints/checkpoint_wo_optstate.npy`.
        device: torch device; None = "cuda" when available, else "cpu".
        visibility_threshold: visible when 1 - sigmoid(occlusion logit) > this (SAM-PT's config: 0.5).
        query_chunk_size: queries whose cost volumes are computed at once (memory only; SAM-PT: 16).
        window_frames: frames run through the feature network at once (memory only: results do not depend on
            it); must exceed twice `TsmResNet.TEMPORAL_REACH`.
    """

    needs_checkpoint = True

    def __init__(self, checkpoint: str | Path | None = None, device: str | torch.device | None = None,
                 visibility_threshold: float = 0.5, query_chunk_size: int = 16, window_frames: int = 32):
        if not 0 <= visibility_threshold < 1:
            raise ValueError(f"visibility_threshold must be in [0, 1), got {visibility_threshold!r}")
        if int(query_chunk_size) != query_chunk_size or query_chunk_size < 1:
            raise ValueError(f"query_chunk_size must be an integer >= 1, got {query_chunk_size!r}")
        if int(window_frames) != window_frames or window_frames <= 2 * TsmResNet.TEMPORAL_REACH:
            raise ValueError(f"window_frames must be an integer above {2 * TsmResNet.TEMPORAL_REACH} (twice the "
                             f"temporal shifts' reach), got {window_frames!r}")
        path = require_checkpoint(checkpoint, TAPNET)
        self.visibility_threshold = float(visibility_threshold)
        self.window_frames = int(window_frames)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = TapNet(query_chunk_size=int(query_chunk_size))
        load_tapnet_checkpoint(self.model, path)
        self.model.eval().to(self.device)

    def _frames(self, source: FrameSource, start: int, end: int) -> torch.Tensor:
        """Frames [start, end) as the network's (S, 256, 256, 3) input in [-1, 1] (the wrapper's resizing)."""
        chunk = torch.from_numpy(source.window(start, end)).to(self.device).permute(0, 3, 1, 2).float() / 255
        chunk = F.interpolate(chunk, INPUT_SIZE, mode="bilinear", align_corners=False, antialias=True)
        return chunk.permute(0, 2, 3, 1) * 2 - 1

    def feature_grid(self, source: FrameSource) -> torch.Tensor:
        """(T, 32, 32, 256) L2-normalised features of every frame (`TapNet.encode` of the whole video)."""
        grid = None
        for window in halo_windows(source.num_frames, self.window_frames, TsmResNet.TEMPORAL_REACH):
            features = self.model.encode(self._frames(source, window.start, window.end))
            if grid is None:
                grid = features.new_zeros((source.num_frames,) + tuple(features.shape[1:]))
            grid[window.core_start:window.core_end] = features[window.core_start - window.start:
                                                               window.core_end - window.start]
        return grid

    @torch.inference_mode()
    def predict(self, source: FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) validated (t, x, y) queries -> tracks (T, N, 2) float32 pixel (x, y) and occlusion logits (T, N)."""
        height, width = source.frame_size
        if len(queries) == 0:
            return np.zeros((source.num_frames, 0, 2), np.float32), np.zeros((source.num_frames, 0), np.float32)
        scale_xy = (torch.tensor(INPUT_SIZE) / torch.tensor((height, width))).flip(0)  # float32, as the wrapper
        query = torch.from_numpy(queries).float()
        query_tyx = torch.cat([query[:, :1], (query[:, 1:] * scale_xy).flip(-1)], dim=-1).to(self.device)
        tracks, occlusion = self.model.track(self.feature_grid(source), query_tyx)
        tracks = tracks.cpu() / scale_xy
        return tracks.permute(1, 0, 2).numpy().astype(np.float32), occlusion.T.float().cpu().numpy()

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: frames (T, H, W, 3) uint8 or a `FrameSource`, queries (N, 3) (t, x, y)
        -> tracks (T, N, 2) float32, visible (T, N) bool."""
        source, queries = check_track_source(frames, queries)
        check_finite_queries(queries)
        tracks, occlusion = self.predict(source, queries)
        visible = (1 - torch.sigmoid(torch.from_numpy(occlusion)) > self.visibility_threshold).numpy()
        query_t = queries[:, 0].astype(np.int64)
        points = np.arange(len(queries))
        tracks[query_t, points] = queries[:, 1:3]
        visible[query_t, points] = True
        return tracks, visible
