"""PIPS++ as a SAM-PT point tracker: the official checkpoint, chained over windows, forward and backward.

Behaviour follows SAM-PT's PIPS++ wrapper (stride 8, windows of up to 128 frames, 16 iterations, frames at
the resolution they are given unless ``image_size`` is set) and the window chaining of pips2's
``test_on_tap``:
  * each point is tracked forward from its query frame through the rest of the video: its trajectory starts
    at the query position in every frame (zero-velocity init); windows of ``window`` frames follow each
    other with a 1-frame overlap, the last one moved back so that it ends at the last frame (and keeps
    ``window`` frames when the video allows); each window starts from the trajectory the previous one left
    (frames after a window are set to its last position) and carries the point features (``feat_init``);
  * frames before the query frame come from the same procedure on the time-reversed video;
  * PIPS++ has no visibility head: every point is visible in every frame (as in SAM-PT).

Points are independent in the network, so all points with the same query frame share one chain of windows
(in chunks of ``point_chunk``); the Python loop runs over distinct query frames and windows, never over
points. Frames are read on demand from a `FrameSource` and encoded in chunks of ``encoder_chunk`` frames
(`trackers.point.windows.WindowFeatures`; instance norm makes each frame's features independent of the
other frames): only the chunks under the current window are held, so memory is bounded by ``window`` frames
of features, not by the video. Frames are encoded again for each direction and each distinct query frame
whose chain comes back to them (the price of not keeping every frame's features); the output is
bit-identical to encoding the whole video at once.

On a recorded clip with random weights and 4-frame windows, the tracks equal those of SAM-PT's
`PipsPlusPlusPointTracker` to 1e-3 px (`tests/trackers/point/test_official_trackers.py`). Two differences in SAM-PT's
wrapper are not reproduced: it fails (shape assertion) for queries on the last frame, and with queries on
several frames it reads each point from its group by the wrong index; ours tracks both.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trackers.checkpoints import (
    DEFAULT_CHECKPOINT_DIR,
    CheckpointInfo,
    load_state_dict_strict,
    read_state_dict,
    register,
    require_checkpoint,
)
from trackers.point.pips2.net import Pips2Net
from trackers.point.pips.net import CORR_LEVELS, feature_pyramid
from infra.frames import FrameSource
from trackers.point.base import PointTracker, check_track_source
from trackers.point.windows import FeaturesFn, WindowFeatures
from trackers.point.layout import to_channels_last

PIPS2_CHECKPOINT = register(
    CheckpointInfo(
        key="pips2",
        filename="model-000200000.pth",
        # aharley/pips2 README / get_reference_model.sh: a tarball holding reference_model/model-000200000.pth
        url="https://www.dropbox.com/scl/fi/czdlt2zc2ji2b7zd0pvoe/reference_model.tar.gz"
        "?rlkey=56ebq4g5dk01kyq8kuismev14",
        # as listed in SAM-PT's docs/03-prepare-checkpoints.md for models/pips_plus_plus_ckpts/reference_model/
        md5="e599fd3ba978d67c4cf35f225be3c2af",
    )
)
# PIPS's checkpoint has the same file name, so PIPS++'s default location is a subfolder.
PIPS2_DEFAULT_PATH = DEFAULT_CHECKPOINT_DIR / "pips2" / PIPS2_CHECKPOINT.filename


def load_pips2(path: str | Path | None, stride: int = 8) -> Pips2Net:
    """Build `Pips2Net` and load an official PIPS++ checkpoint strictly.

    The file is a dict with ``model_state_dict`` (82 keys); ``path`` None means
    ``checkpoints/pips2/model-000200000.pth``. Raises `CheckpointError` when the file is missing, not in that
    format, or its keys/shapes differ.
    """
    path = require_checkpoint(path if path is not None else PIPS2_DEFAULT_PATH, PIPS2_CHECKPOINT)
    state_dict = read_state_dict(path, f"PIPS++ {PIPS2_CHECKPOINT.filename}", key="model_state_dict")
    net = Pips2Net(stride=stride)
    load_state_dict_strict(net, state_dict, path)
    return net.eval()


class Pips2Tracker(PointTracker):
    """PIPS++ point tracker (see the module docstring).

    Args:
        checkpoint: path of the official ``model-000200000.pth``; None means
            ``checkpoints/pips2/model-000200000.pth`` (a subfolder: PIPS's file has the same name).
        device: torch device; None picks CUDA when available, else CPU.
        stride: feature stride (official and SAM-PT: 8).
        window: most frames per window (SAM-PT: 128; any value >= 2 works, S is not baked into the weights).
        iters: refinement iterations per window (SAM-PT: 16).
        image_size: (height, width) the frames are resized to (bilinear) before tracking, positions scaled
            accordingly; None (SAM-PT's setting) tracks at the given resolution.
        beautify: halve the updates of the last quarter of the iterations (official option, off in SAM-PT).
        encoder_chunk: frames encoded per `fnet` call (bounds activation memory only).
        point_chunk: most points refined in one network call (bounds memory only; points are independent):
            the correlation taps take about S * 128 * 49 * 4 bytes per point (3.2 MB at S=128).
        net: an already built `Pips2Net` to use instead of reading ``checkpoint`` (tests, comparisons; with
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
        stride: int = 8,
        window: int = 128,
        iters: int = 16,
        image_size: tuple[int, int] | list[int] | None = None,
        beautify: bool = False,
        encoder_chunk: int = 8,
        point_chunk: int = 256,
        net: Pips2Net | None = None,
        channels_last: bool = True,
    ):
        if window < 2 or iters < 1 or stride < 1 or encoder_chunk < 1 or point_chunk < 1:
            raise ValueError(f"need window >= 2, iters >= 1, stride >= 1, encoder_chunk >= 1, point_chunk >= 1; got "
                             f"window={window}, iters={iters}, stride={stride}, encoder_chunk={encoder_chunk}, "
                             f"point_chunk={point_chunk}")
        if image_size is not None:
            if len(image_size) != 2 or min(int(v) for v in image_size) < 1:
                raise ValueError(f"image_size must be (height, width) or None, got {image_size}")
            image_size = (int(image_size[0]), int(image_size[1]))
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        if net is None:
            net = load_pips2(checkpoint, stride=stride)
        elif checkpoint is not None:
            raise ValueError("give either a checkpoint path or a built net, not both")
        elif net.stride != stride:
            raise ValueError(f"net was built with stride={net.stride}; tracker asked for stride={stride}")
        self.net = net.to(self.device).eval()
        if channels_last:
            to_channels_last(self.net)
        self.stride, self.window, self.iters = stride, window, iters
        self.image_size, self.beautify = image_size, beautify
        self.encoder_chunk, self.point_chunk = encoder_chunk, point_chunk

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: (T, H, W, 3) uint8 or a `FrameSource`, (N, 3) (t, x, y) -> (T, N, 2)
        float32, (T, N) bool (all True: PIPS++ predicts no visibility). Frames are read a chunk at a time."""
        source, queries = check_track_source(frames, queries)
        height, width = self.image_size or source.frame_size
        minimum = self.stride * 2 ** (CORR_LEVELS - 1) * 2
        if height < minimum or width < minimum:
            raise ValueError(f"PIPS++ with stride {self.stride} needs frames of at least {minimum}x{minimum} pixels "
                             f"(its coarsest correlation level must be 2 feature pixels wide), got {height}x{width}"
                             f"{' (image_size)' if self.image_size else ''}")
        with torch.inference_mode():
            tracks = self.track_tensors(source, torch.from_numpy(queries).to(self.device))
        visible = np.ones(tracks.shape[:2], dtype=bool)
        return tracks.cpu().numpy().astype(np.float32), visible

    @torch.inference_mode()
    def track_tensors(self, source: FrameSource, queries: torch.Tensor) -> torch.Tensor:
        """Track on tensors: frames read from ``source``, queries (N, 3) float (t, x, y) on the tracker's device
        -> tracks (T, N, 2) pixel (x, y) at the frames' resolution; at its query frame a point is exactly its
        query position."""
        num_frames, (height, width) = source.num_frames, source.frame_size
        num_points = queries.shape[0]
        xy = queries[:, 1:].float()
        tracks = xy[None].expand(num_frames, num_points, 2).clone()
        if num_points == 0 or num_frames == 1:
            return tracks
        scale = torch.ones(2, device=self.device)
        if self.image_size is not None:
            scale = torch.tensor([self.image_size[1] / width, self.image_size[0] / height], device=self.device)
        features = WindowFeatures(source, self._encode, self.encoder_chunk)
        start = queries[:, 0].round().long()
        forward = torch.arange(num_frames, device=self.device)
        for query_frame in torch.unique(start).tolist():
            group = torch.nonzero(start == query_frame).squeeze(1)
            for chunk in group.split(self.point_chunk):
                scaled = xy[chunk] * scale
                if query_frame < num_frames - 1:
                    after = self._chain(features, forward[query_frame:], scaled)  # (T - t, M, 2)
                    tracks[query_frame + 1:, chunk] = after[1:] / scale
                if query_frame > 0:
                    before = self._chain(features, forward[:query_frame + 1].flip(0), scaled)  # (t + 1, M, 2)
                    tracks[:query_frame, chunk] = before[1:].flip(0) / scale
        return tracks

    def _encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """(B, H, W, 3) uint8 -> feature pyramid: per level (B, 128, H' / stride / 2^l, W' / stride / 2^l) on
        the device (H', W' the ``image_size`` when set)."""
        images = frames.to(self.device).permute(0, 3, 1, 2).float()
        if self.image_size is not None:
            images = F.interpolate(images, size=self.image_size, mode="bilinear")
        return feature_pyramid(self.net.encode(images))

    def _chain(self, features: FeaturesFn, order: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
        """Track points from the first of the frames ``order`` (L,) (video frame indices) through all of them,
        window after window (``test_on_tap``'s chaining).

        Args:
            features: video frame indices (S,) -> per level (S, C, h_l, w_l) features (`WindowFeatures`).
            order: (L,) frames of this sub-video, L >= 2.
            xy: (M, 2) start positions (pixels at the network's resolution) in frame ``order[0]``.

        Returns:
            (L, M, 2) pixel positions in each frame of ``order``; the first is ``xy``.
        """
        length = order.shape[0]
        trajectory = xy[None].repeat(length, 1, 1)  # zero-velocity init
        begin, feats = 0, None
        while True:
            end = begin + self.window
            if end > length:  # the last window ends at the last frame, moved back to keep its length
                begin, end = max(begin - (end - length), 0), length
            window_pyramid = features(order[begin:end])
            refined, feats = self.net.refine(window_pyramid, trajectory[begin:end], feats, self.iters, self.beautify)
            trajectory[begin:end] = refined
            trajectory[end:] = refined[-1]
            if end >= length:
                return trajectory
            begin += self.window - 1
