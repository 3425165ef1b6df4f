"""PIPS as a SAM-PT point tracker: the official checkpoint, chained over windows, forward and backward.

Behaviour follows SAM-PT's PIPS wrapper (stride 4, windows of 8 frames, 6 iterations, frames at the
resolution they are given):
  * each point is tracked forward from its query frame: a window of 8 frames starts at the point's current
    frame (the last frame repeated past the end of the video); the point then jumps to the furthest frame of
    that window whose visibility sigmoid(logit) exceeds 0.9, the threshold lowered by 0.02 until some frame
    does; the next window starts there from the predicted position, always with the appearance feature read
    at the query (``feat_init``);
  * frames before the query frame come from the same procedure on the time-reversed video;
  * a point is visible where sigmoid(logit) > 0.5, and is its query position and visible at its query frame.

Equal to SAM-PT's ``PipsPointTracker`` (tracks to 1e-3 px, same visibility) on the same random weights:
``tests/trackers/point/test_official_trackers.py`` compares with its recorded output (``tests/fixtures/official_trackers``).

All query points (of all objects) whose current frame is the same share one network call; the loop runs over
frames, never over points. Frames are read on demand from a `FrameSource` and encoded in chunks of
``encoder_chunk`` frames (`trackers.point.windows.WindowFeatures`; instance norm makes a frame's features
independent of the other frames): only the chunks under the current 8-frame window are held, so memory does
not grow with the video. The backward direction encodes its frames again (about twice the encoder work of
keeping every frame's features, which would hold (T, 128, H/4, W/4) float32 plus 1/3 for the pyramid); the
output is bit-identical to encoding the whole video at once.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trackers.checkpoints import (
    CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)
from trackers.point.pips.net import CORR_LEVELS, PipsNet, feature_pyramid, sample_features_clamped
from infra.frames import FrameSource
from trackers.point.base import PointTracker, check_track_source
from trackers.point.windows import FeaturesFn, WindowFeatures
from trackers.point.layout import to_channels_last

PIPS_CHECKPOINT = register(
    CheckpointInfo(
        key="pips",
        filename="model-000200000.pth",
        # aharley/pips get_reference_model.sh: a tarball holding reference_model/model-000200000.pth
        # (also on https://huggingface.co/aharley/pips)
        url="https://www.dropbox.com/s/glk6jmoa9yeervl/reference_model.tar.gz",
        # as listed in SAM-PT's docs/03-prepare-checkpoints.md for models/pips_ckpts/reference_model/
        md5="9f34c4cd5d6f54cb11e1911841ac702c",
    )
)


def load_pips(path: str | Path | None, window: int = 8, stride: int = 4) -> PipsNet:
    """Build `PipsNet` and load an official PIPS checkpoint strictly.

    The file is a dict with ``model_state_dict`` (200 keys); ``path`` None means the default location.
    Raises `CheckpointError` when the file is missing, not in that format, or its keys/shapes differ.
    """
    path = require_checkpoint(path, PIPS_CHECKPOINT)
    state_dict = read_state_dict(path, f"PIPS {PIPS_CHECKPOINT.filename}", key="model_state_dict")
    net = PipsNet(window=window, stride=stride)
    load_state_dict_strict(net, state_dict, path)
    return net.eval()


def _chain_thresholds(initial: float, step: float, device) -> torch.Tensor:
    """(K,) float32 thresholds initial, initial - step, ... down to the first negative one, computed by
    repeated float32 subtraction as SAM-PT does; the last one is exceeded by any visibility."""
    if not 0 < step:
        raise ValueError(f"visibility_threshold_step must be positive, got {step}")
    values = [torch.tensor(initial, dtype=torch.float32)]
    while values[-1] >= 0:
        values.append(values[-1] - step)
    return torch.stack(values).to(device)


class PipsTracker(PointTracker):
    """PIPS point tracker (see the module docstring).

    Args:
        checkpoint: path of the official ``model-000200000.pth``; None means ``checkpoints/model-000200000.pth``.
        device: torch device; None picks CUDA when available, else CPU.
        stride: feature stride (SAM-PT: 4; the official training used 8).
        window: frames per window; the official weights are for 8.
        iters: refinement iterations per window.
        visibility_threshold: initial sigmoid(visibility) a frame must exceed to become the next window start.
        visibility_threshold_step: how much that threshold is lowered while no frame of the window exceeds it.
        visible_threshold: sigmoid(visibility) above which a point is reported visible (SAM-PT: 0.5).
        encoder_chunk: frames encoded per `fnet` call (bounds activation memory only).
        point_chunk: most points refined in one network call (bounds memory only; points are independent).
        net: an already built `PipsNet` to use instead of reading ``checkpoint`` (tests, comparisons; with
            ``channels_last`` it is converted in place).
        channels_last: run the network's convolutions in the channels-last memory layout
            (`trackers.point.layout.to_channels_last`; a speed option: the same function, float rounding
            differs; the official fixture passes with it on or off).
    """

    needs_checkpoint = True

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        device: str | torch.device | None = None,
        stride: int = 4,
        window: int = 8,
        iters: int = 6,
        visibility_threshold: float = 0.9,
        visibility_threshold_step: float = 0.02,
        visible_threshold: float = 0.5,
        encoder_chunk: int = 8,
        point_chunk: int = 1024,
        net: PipsNet | None = None,
        channels_last: bool = True,
    ):
        if window < 2 or iters < 1 or stride < 1 or encoder_chunk < 1 or point_chunk < 1:
            raise ValueError(f"need window >= 2, iters >= 1, stride >= 1, encoder_chunk >= 1, point_chunk >= 1; got "
                             f"window={window}, iters={iters}, stride={stride}, encoder_chunk={encoder_chunk}, "
                             f"point_chunk={point_chunk}")
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        if net is None:
            net = load_pips(checkpoint, window=window, stride=stride)
        elif checkpoint is not None:
            raise ValueError("give either a checkpoint path or a built net, not both")
        elif (net.window, net.stride) != (window, stride):
            raise ValueError(f"net was built with window={net.window}, stride={net.stride}; "
                             f"tracker asked for window={window}, stride={stride}")
        self.net = net.to(self.device).eval()
        if channels_last:
            to_channels_last(self.net)
        self.stride, self.window, self.iters = stride, window, iters
        self.visibility_threshold, self.visibility_threshold_step = visibility_threshold, visibility_threshold_step
        self.visible_threshold = visible_threshold
        self.encoder_chunk, self.point_chunk = encoder_chunk, point_chunk
        self._thresholds = _chain_thresholds(visibility_threshold, visibility_threshold_step, self.device)

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: (T, H, W, 3) uint8 or a `FrameSource`, (N, 3) (t, x, y) -> (T, N, 2)
        float32, (T, N) bool. Frames are read a chunk at a time (see the module docstring)."""
        source, queries = check_track_source(frames, queries)
        height, width = source.frame_size
        minimum = self.stride * 2 ** (CORR_LEVELS - 1) * 2
        if height < minimum or width < minimum:
            raise ValueError(f"PIPS with stride {self.stride} needs frames of at least {minimum}x{minimum} pixels "
                             f"(its coarsest correlation level must be 2 feature pixels wide), got {height}x{width}")
        with torch.inference_mode():
            query = torch.from_numpy(queries).to(self.device)
            tracks, probs = self.track_tensors(source, query)
            visible = probs > self.visible_threshold
        return tracks.cpu().numpy().astype(np.float32), visible.cpu().numpy()

    @torch.inference_mode()
    def track_tensors(self, source: FrameSource, queries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Track on tensors: frames read from ``source``, queries (N, 3) float (t, x, y) on the tracker's device
        -> tracks (T, N, 2) and visibility probabilities sigmoid(logit) (T, N), 1 at the query frame."""
        num_frames, num_points = source.num_frames, queries.shape[0]
        if num_points == 0 or num_frames == 1:
            tracks = queries[None, :, 1:].expand(num_frames, num_points, 2).clone()
            return tracks, torch.ones(num_frames, num_points, device=self.device)
        features = WindowFeatures(source, self._encode, self.encoder_chunk)
        start = queries[:, 0].round().long()
        xy = queries[:, 1:].float()
        forward_order = torch.arange(num_frames, device=self.device)
        tracks_fw, probs_fw = self._track_one_direction(features, forward_order, start, xy)
        backward_order = forward_order.flip(0)
        tracks_bw, probs_bw = self._track_one_direction(features, backward_order, num_frames - 1 - start, xy)
        before = forward_order[:, None] < start[None, :]  # (T, N): frames taken from the backward pass
        tracks = torch.where(before[..., None], tracks_bw.flip(0), tracks_fw)
        probs = torch.where(before, probs_bw.flip(0), probs_fw)
        return tracks, probs

    def _encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """(B, H, W, 3) uint8 -> feature pyramid: per level (B, 128, H / stride / 2^l, W / stride / 2^l) on the
        device."""
        return feature_pyramid(self.net.encode(frames.to(self.device).permute(0, 3, 1, 2)))

    def _track_one_direction(
        self, features: FeaturesFn, order: torch.Tensor, start: torch.Tensor, xy: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Chain windows forward in time through the frames ``order`` (T,) (video frame of each step).

        Args:
            features: video frame indices (S,) -> per level (S, C, h_l, w_l) features (`WindowFeatures`).
            order: (T,) video frame of each step of this direction.
            start: (N,) query step (index into ``order``) of each point.
            xy: (N, 2) query pixel positions.

        Returns:
            tracks (T, N, 2) and visibility probabilities (T, N), indexed by step; zero before each query step.
        """
        num_frames, num_points = order.shape[0], xy.shape[0]
        point_index = torch.arange(num_points, device=self.device)
        tracks = torch.zeros(num_frames, num_points, 2, device=self.device)
        probs = torch.zeros(num_frames, num_points, device=self.device)
        tracks[start, point_index] = xy
        probs[start, point_index] = 1.0
        feat_init = None  # (N, C): the appearance feature at each point's query, read when its window comes
        current = start.clone()
        steps = torch.arange(self.window, device=self.device)
        for frame in range(num_frames - 1):
            active = torch.nonzero(current == frame).squeeze(1)
            if active.numel() == 0:
                continue
            length = min(self.window, num_frames - frame)  # real frames in this window
            window_frames = order[(frame + steps).clamp(max=num_frames - 1)]
            window = features(window_frames)
            starting = active[start[active] == frame]
            if starting.numel():
                read = sample_features_clamped(window[0], torch.zeros_like(starting), xy[starting] / float(self.stride))
                if feat_init is None:
                    feat_init = read.new_zeros(num_points, read.shape[1])
                feat_init[starting] = read
            window = [level[None] for level in window]
            for chunk in active.split(self.point_chunk):
                trajectories, logits = self.net.refine(window, tracks[frame, chunk][None], feat_init[chunk][None],
                                                       self.iters)
                window_probs = torch.sigmoid(logits[0, 1:length])  # (length - 1, M) for frames frame+1 ...
                tracks[frame + 1:frame + length, chunk] = trajectories[-1][0, 1:length]
                probs[frame + 1:frame + length, chunk] = window_probs
                current[chunk] = frame + self._jump(window_probs)
        return tracks, probs

    def _jump(self, window_probs: torch.Tensor) -> torch.Tensor:
        """(L, M) visibilities of the frames after a window's first -> (M,) offset 1..L of the next start: the
        furthest frame above the highest threshold of the lowering sequence that any frame exceeds."""
        best = window_probs.max(dim=0).values
        level = (best[None, :] > self._thresholds[:, None]).int().argmax(dim=0)  # first exceeded threshold
        above = window_probs > self._thresholds[level][None, :]
        offsets = torch.arange(1, window_probs.shape[0] + 1, device=window_probs.device)[:, None]
        return (offsets * above).max(dim=0).values.clamp(min=1)  # clamp: progress even for NaN visibilities
