"""TAPIR (`tapir`) and BootsTAPIR (`bootstapir`) point trackers on the official PyTorch checkpoints.

On the same random weights both give the official `tapnet/torch` TAPIR's tracks (to 1e-3 px) and visibility,
run as described below: `tests/trackers/point/test_official_trackers.py`.

The network is our own implementation (`trackers.point.tapir.net.TapirNet`) of google-deepmind/tapnet's `tapnet/torch`
TAPIR; the official files are plain state_dicts loaded strictly:
  - `tapir_checkpoint_panning.pt`: TAPIR, ``pyramid_level=0``, no extra convs (188 keys, 31.1M parameters);
  - `bootstapir_checkpoint_v2.pt`: BootsTAPIR, ``pyramid_level=1`` with extra convs (218 keys, 54.7M).
The JAX `.npy` releases are not supported (use the `.pt` files).

How a video is tracked (both directions at once, no chaining):
  - frames are resized to ``resolution`` (default 256x256, as the official colab and SAM-PT do; bilinear with
    antialiasing) and scaled to [-1, 1]; refinement runs at ``refinement_resolutions`` (default: log-spaced from
    256x256 up to ``resolution``, i.e. only 256x256 by default);
  - queries (t, x, y) in pixels of the given frames (pixel centres at integer coordinates) become TAPIR's
    (t, y, x) raster coordinates of the resized video (pixel centres at +0.5): y' = (y + 0.5) * h / H, and the
    tracks come back the same way: x = x' * W / w - 0.5 (``coordinates="centres"``, the default). With
    ``coordinates="sampt"`` they are scaled by the size ratio alone, as SAM-PT's `TapirPointTracker.forward`
    does (SysCV/sam-pt @ 874ff7e, `sam_pt/point_tracker/tapir/tracker.py:82-106`): y' = y * h / H and
    x = x' * W / w (the two differ by half a pixel of each resolution, 0.67 px on the recorded 96x128 clip);
  - visible = (1 - sigmoid(occlusion)) * (1 - sigmoid(expected_dist)) > ``visibility_threshold`` (0.5 as in the
    official colab; SAM-PT's TAPIR config used 0.1 with the JAX `tapir_checkpoint_panning.npy`, and 0.5 in an
    earlier version with the causal checkpoint);
  - SAM-PT's wrapper also resizes with `F.interpolate(bilinear, align_corners=False, antialias=True)` (lines
    86-89; it divides by 255 before resizing, we after: the [-1, 1] frames differ by float rounding only) and
    runs its JAX TAPIR (the same network, `pyramid_level=0`, lines 47-51) on the whole video: with
    ``coordinates="sampt"`` and ``visibility_threshold=0.1`` (its `configs/model/point_tracker/tapir.yaml`) our
    tracks equal its outputs (`tests/trackers/point/test_official_trackers.py`, `tapir_authors`) except on the
    query frames, which our contract fixes (below; their wrapper returns the refined position there);
  - on its query frame a point is reported at its query position and visible (the network's refinement moves it
    slightly, and the `PointTracker` contract fixes it there).

Memory does not grow with the video: it runs in overlapping windows of at most ``window_frames`` frames
(`trackers.point.windows.halo_windows`) and gives the whole-video result. Every part of TAPIR works frame by
frame (encoder, cost volume, the refinement's sampling and channel mixing) except the refinement's depthwise
temporal convolutions, whose reach is finite: 12 blocks x 2 convolutions x 1 frame x 4 iterations = 96 frames
per refinement resolution (`TapirNet.temporal_reach`). So a window's outputs are kept only for frames at least
that far from its ends (or at the video's ends), and equal the official whole-video outputs
(`tests/trackers/point/test_official_trackers.py`, `tapir_long`). The query features are taken once, from the query frames
(encoded on their own). A video of up to ``window_frames`` frames is one window.

Frames are read and encoded once (`SlidingFeatures`); only a window's features are held, so the memory is
bounded by ``window_frames``, not by the video's length. The price is time on long videos only: the refinement
runs again on the overlaps (a middle window keeps ``window_frames - 2 * 96`` of its frames; the tracks are
the same as in one window). A larger ``window_frames`` trades memory for less of it. Measured memory and time
against the video length: docs/benchmarks.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trackers.checkpoints import (
    CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)
from trackers.point.opencv import check_finite_queries
from infra.frames import FrameSource, as_frame_source
from trackers.point.base import PointTracker, check_track_source
from trackers.point.tapir.net import TapirNet, resolution_runs
from trackers.point.windows import SlidingFeatures, halo_windows
from trackers.point.layout import to_channels_last

TAPIR_PANNING = register(CheckpointInfo(
    "tapir", "tapir_checkpoint_panning.pt", "https://storage.googleapis.com/dm-tapnet/tapir_checkpoint_panning.pt"))
BOOTSTAPIR_V2 = register(CheckpointInfo(
    "bootstapir", "bootstapir_checkpoint_v2.pt",
    "https://storage.googleapis.com/dm-tapnet/bootstap/bootstapir_checkpoint_v2.pt"))
#: query/track coordinate conventions (`_TapirTrackerBase` ``coordinates``, module docstring)
COORDINATES = ("centres", "sampt")
#: frames a middle window keeps when ``window_frames`` is None: windows are then twice the temporal reach plus
#: this (288 frames with the default settings: every DAVIS and YouTube-VOS video is one window)
DEFAULT_KEPT_FRAMES = 96


def load_tapir_checkpoint(model: TapirNet, path: str | Path) -> None:
    """Load an official TAPIR/BootsTAPIR .pt state_dict into ``model`` strictly.

    Raises:
        CheckpointError naming the file when it is unreadable, not a state_dict, or does not fit ``model``.
    """
    state_dict = read_state_dict(path, "PyTorch TAPIR state_dict (tapir_checkpoint_panning.pt / "
                                       "bootstapir_checkpoint_v2.pt; the JAX .npy files are not supported)")
    load_state_dict_strict(model, state_dict, path)


def _resolution(value, name: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (height, width), got {value!r}") from None
    if height <= 0 or width <= 0 or height % 8 or width % 8 or (height, width) != tuple(value):
        raise ValueError(f"{name} must be positive integer multiples of 8, got {value!r}")
    return height, width


class _TapirTrackerBase(PointTracker):
    """Shared wrapper; see the module docstring.

    Args:
        checkpoint: path of the official .pt file; None = `checkpoints/<official file name>`.
        device: torch device; None = "cuda" when available, else "cpu".
        resolution: (h, w) the frames are resized to (multiples of 8); default (256, 256).
        refinement_resolutions: (h, w) list for the PIPs refinement; None: log-spaced from 256x256 to
            ``resolution`` (the official default).
        visibility_threshold: visible when (1 - sigmoid(occ)) * (1 - sigmoid(expected_dist)) > this.
        softmax_temperature: cost-volume softmax temperature; None: the checkpoint's
            (``default_softmax_temperature``: 20 for TAPIR, 10 for BootsTAPIR, see `BootsTapirTracker`).
        num_pips_iter: refinement iterations per resolution (4).
        query_chunk_size: queries processed at once (memory only; results do not depend on it).
        feature_chunk_size: frames encoded at once (memory only).
        initial_resolution: (h, w) of the global cost volume; keep 256x256 (the checkpoints' training size),
            smaller values only serve fast tests.
        coordinates: "centres" (default: pixel centres mapped onto pixel centres) or "sampt" (SAM-PT's wrapper:
            coordinates scaled by the size ratio alone); see the module docstring.
        window_frames: the most frames run through the network at once (memory only: results do not depend on
            it); must exceed twice the refinement's temporal reach (`TapirNet.temporal_reach`: 2 x 96 = 192 with
            the defaults); None: that plus `DEFAULT_KEPT_FRAMES` (288 with the defaults).
        channels_last: run the network's convolutions in the channels-last memory layout
            (`trackers.point.layout.to_channels_last`; a speed option: the same function, float rounding
            differs; the official fixture passes with it on or off).
    """

    needs_checkpoint = True
    info: CheckpointInfo
    pyramid_level: int
    extra_convs: bool
    default_softmax_temperature: float

    def __init__(self, checkpoint: str | Path | None = None, device: str | torch.device | None = None,
                 resolution: tuple[int, int] = (256, 256), refinement_resolutions: list | None = None,
                 visibility_threshold: float = 0.5, softmax_temperature: float | None = None, num_pips_iter: int = 4,
                 query_chunk_size: int = 64, feature_chunk_size: int = 10,
                 initial_resolution: tuple[int, int] = (256, 256), window_frames: int | None = None,
                 coordinates: str = "centres", channels_last: bool = True):
        if coordinates not in COORDINATES:
            raise ValueError(f"unknown TAPIR coordinates {coordinates!r}; valid: {', '.join(COORDINATES)}")
        #: pixel-centre offset added to queries before scaling and taken from tracks after (0 for "sampt")
        self.centre_offset = 0.5 if coordinates == "centres" else 0.0
        self.resolution = _resolution(resolution, "resolution")
        self.refinement_resolutions = None if refinement_resolutions is None else [
            _resolution(r, "refinement_resolutions entries") for r in refinement_resolutions]
        if not 0 <= visibility_threshold < 1:
            raise ValueError(f"visibility_threshold must be in [0, 1), got {visibility_threshold!r}")
        for name, value in (("num_pips_iter", num_pips_iter), ("query_chunk_size", query_chunk_size),
                            ("feature_chunk_size", feature_chunk_size)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if softmax_temperature is None:
            softmax_temperature = self.default_softmax_temperature
        if not softmax_temperature > 0:
            raise ValueError(f"softmax_temperature must be > 0, got {softmax_temperature!r}")
        path = require_checkpoint(checkpoint, self.info)
        initial_resolution = _resolution(initial_resolution, "initial_resolution")
        self.visibility_threshold = float(visibility_threshold)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = TapirNet(pyramid_level=self.pyramid_level, extra_convs=self.extra_convs,
                              softmax_temperature=float(softmax_temperature), num_pips_iter=int(num_pips_iter),
                              query_chunk_size=int(query_chunk_size), feature_chunk_size=int(feature_chunk_size),
                              initial_resolution=initial_resolution)
        load_tapir_checkpoint(self.model, path)
        self.model.eval().to(self.device)
        if channels_last:
            to_channels_last(self.model)
        self.resolutions = self.model.resolutions(self.resolution, self.refinement_resolutions)
        # features are encoded (and held) once per run of equal resolutions
        self._distinct_resolutions, self._resolution_slots = resolution_runs(self.resolutions)
        self.reach = reach = self.model.temporal_reach(len(self.resolutions) - 1)
        if window_frames is None:
            window_frames = 2 * reach + DEFAULT_KEPT_FRAMES
        if int(window_frames) != window_frames or window_frames <= 2 * reach:
            raise ValueError(
                f"window_frames must be an integer above {2 * reach} (twice the refinement's temporal reach of "
                f"{reach} frames with num_pips_iter={num_pips_iter} and {len(self.resolutions) - 1} refinement "
                f"resolution(s), see TapirNet.temporal_reach), got {window_frames!r}; null picks {2 * reach} + "
                f"{DEFAULT_KEPT_FRAMES}")
        self.window_frames = int(window_frames)

    def _encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """(S, H, W, 3) uint8 frames -> [hires (S, ...), lowres (S, ...)] features at each distinct resolution of
        ``resolutions``, in order: the frames resized to ``resolution`` (bilinear, antialiased) and scaled to
        [-1, 1], then `TapirNet.encode` (through `encode_resolutions`)."""
        chunk = frames.to(self.device).permute(0, 3, 1, 2).float()
        if tuple(chunk.shape[-2:]) != self.resolution:
            chunk = F.interpolate(chunk, size=self.resolution, mode="bilinear", align_corners=False, antialias=True)
        video = (chunk.permute(0, 2, 3, 1) / 255.0 * 2.0 - 1.0)[None]
        grids = self.model.encode_resolutions(video, self._distinct_resolutions)
        return [grid[0] for pair in grids for grid in pair]

    def _grids(self, levels: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """`_encode`'s list -> per entry of ``resolutions`` (hires (1, S, ...), lowres (1, S, ...)) (a resolution
        equal to the one before shares its tensors, as in `TapirNet.encode_resolutions`)."""
        return [(levels[2 * i][None], levels[2 * i + 1][None]) for i in self._resolution_slots]

    @torch.inference_mode()
    def predict(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> dict[str, np.ndarray]:
        """The network's raw outputs at the given frames' pixel coordinates.

        Args:
            frames: (T, H, W, 3) uint8 RGB or a `FrameSource` (anything `as_frame_source` accepts).
            queries: (N, 3) (t, x, y) validated.

        Returns:
            tracks (T, N, 2) float32 pixel (x, y), occlusion (T, N) and expected_dist (T, N) float32 logits.
        """
        source = as_frame_source(frames)
        height, width = source.frame_size
        model_height, model_width = self.resolution
        num_frames, num_points = source.num_frames, len(queries)
        query_tyx = torch.stack([
            torch.from_numpy(queries[:, 0]),
            (torch.from_numpy(queries[:, 2]) + self.centre_offset) * model_height / height,
            (torch.from_numpy(queries[:, 1]) + self.centre_offset) * model_width / width,
        ], dim=-1).float().to(self.device)[None]
        out = {"tracks": np.zeros((num_frames, num_points, 2), np.float32),
               "occlusion": np.zeros((num_frames, num_points), np.float32),
               "expected_dist": np.zeros((num_frames, num_points), np.float32)}
        if num_points == 0:
            return out
        query_features = self._query_features(source, query_tyx)
        features = SlidingFeatures(source, self._encode, chunk=self.model.feature_chunk_size)
        scale = torch.tensor([width / model_width, height / model_height], device=self.device)
        for window in halo_windows(num_frames, self.window_frames, self.reach):
            grids = self._grids(features(window.start, window.end))
            local = query_tyx - torch.tensor([float(window.start), 0.0, 0.0], device=self.device)
            result = self.model.estimate(grids, query_features, local, self.resolution, self.resolutions)
            core = slice(window.core_start - window.start, window.core_end - window.start)
            kept = slice(window.core_start, window.core_end)
            tracks = result["tracks"][0, :, core] * scale - self.centre_offset
            out["tracks"][kept] = tracks.permute(1, 0, 2).float().cpu().numpy()
            for key in ("occlusion", "expected_dist"):
                out[key][kept] = result[key][0, :, core].T.float().cpu().numpy()
            del grids, result  # before the next window's features are assembled: one window's copy at a time
        return out

    def _query_features(self, source: FrameSource, query_tyx: torch.Tensor) -> list[list[torch.Tensor]]:
        """`TapirNet.query_features` of the (1, N, 3) (t, y, x) queries, from their frames alone (encoded
        together, ``feature_chunk_size`` at a time)."""
        query_frames, query_index = torch.unique(query_tyx[0, :, 0].round().long().cpu(), return_inverse=True)
        step = self.model.feature_chunk_size
        parts = [self._encode(torch.from_numpy(np.stack([source.frame(int(t)) for t in query_frames[i:i + step]])))
                 for i in range(0, len(query_frames), step)]
        levels = [torch.cat([part[i] for part in parts]) for i in range(len(parts[0]))]
        at_query_frames = query_tyx.clone()
        at_query_frames[0, :, 0] = query_index.to(query_tyx.device).float()  # t counted within the query frames
        return self.model.query_features(self._grids(levels), at_query_frames, self.resolution)

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: frames (T, H, W, 3) uint8 or a `FrameSource`, queries (N, 3) (t, x, y)
        -> tracks (T, N, 2) float32, visible (T, N) bool."""
        source, queries = check_track_source(frames, queries)
        check_finite_queries(queries)
        out = self.predict(source, queries)
        probability = (1 - _sigmoid(out["occlusion"])) * (1 - _sigmoid(out["expected_dist"]))
        visible = probability > self.visibility_threshold
        tracks = out["tracks"].astype(np.float32)
        query_t = queries[:, 0].astype(np.int64)
        points = np.arange(len(queries))
        tracks[query_t, points] = queries[:, 1:3]
        visible[query_t, points] = True
        return tracks, visible


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


class TapirTracker(_TapirTrackerBase):
    """TAPIR on `tapir_checkpoint_panning.pt` (``pyramid_level=0``, no extra convs); see `_TapirTrackerBase`."""

    info = TAPIR_PANNING
    pyramid_level = 0
    extra_convs = False
    #: tapnet's TAPIR class default (its `configs/tapir_config.py` and the demos set none)
    default_softmax_temperature = 20.0


class BootsTapirTracker(_TapirTrackerBase):
    """BootsTAPIR on `bootstapir_checkpoint_v2.pt` (``pyramid_level=1``, extra convs); see `_TapirTrackerBase`.

    Softmax temperature 10, the one the released checkpoint is evaluated with (google-deepmind/tapnet
    @ c2cbab8): its README lists `configs/tapir_bootstrap_config.py` (``softmax_temperature=10.0``) as the
    config of `bootstapir_checkpoint_v2` beside the reported TAP-Vid numbers, and the JAX demo
    (`colabs/tapir_demo.ipynb`) builds BootsTAPIR with ``softmax_temperature=10.0`` (kept when it moved to the v2
    checkpoint, 136338f). The PyTorch colab constructs ``TAPIR(pyramid_level=1)`` with the class default 20,
    a setting nothing in the repository evaluates; ``softmax_temperature=20`` reproduces it.
    """

    info = BOOTSTAPIR_V2
    pyramid_level = 1
    extra_convs = True
    default_softmax_temperature = 10.0
