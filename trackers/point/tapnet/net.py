"""The TAP-Net network (inference only), written for the official JAX/Haiku checkpoint that SAM-PT loads
(`checkpoint_wo_optstate.npy`; the model is google-deepmind/tapnet's `tapnet_model.py` at commit ba1a8c8, which
SysCV/sam-pt vendors in `sam_pt/point_tracker/tapnet/`). On the same random weights the `tapnet` tracker gives
SAM-PT's `TapnetPointTracker`'s tracks to 1e-3 px and its visibility: `tests/trackers/point/test_official_trackers.py`.

The network (Doersch et al. 2022, "TAP-Vid", Sec. 4), frames (T, 256, 256, 3) in [-1, 1]:
  - `TsmResNet`: the first three units of a TSM-ResNet-18 v2 (pre-activation blocks, batch norm with the stored
    moving averages, channels 64/128/256, strides 1/2/1 after a 7x7/2 stem and a 3x3/2 max pool: stride 8, 256 ch).
    Before the first convolution of each block of units 0 and 1, the temporal shift module (Lin et al. 2019)
    moves 1/8 of the channels one frame back and 1/8 one frame forward, zeros at the video's ends, and
    *reorders* them: [last C/8 from frame t + 1, middle 3C/4, first C/8 from frame t - 1] (official
    `tsm_utils.temporal_shift_gpu`). Padding is JAX's SAME (`same_pad`).
  - the feature grid is L2-normalised per cell; a query's feature is its trilinear sample (t, y, x) in raster
    units of the grid (`trackers.point.tapir.net.sample_query_features`, borders clamped as JAX's
    ``map_coordinates(mode='nearest')``);
  - `CostVolumeHead`: per query and frame, the dot products with the grid (a 32x32 cost map), conv3x3 to 16
    + ReLU, conv3x3 to 1, softmax (temperature 10) over the map, soft-argmax within 5 cells of the argmax
    (`trackers.point.tapir.net.soft_argmax`); occlusion: strided conv3x3 to 32 (no ReLU), spatial mean, linear 16
    + ReLU, linear 1. On its query frame a point is its query position.

Coordinates inside the network are TAP-Net's: queries (t, y, x), tracks (x, y), both in raster units of the
256x256 frames (pixel i covers [i, i + 1)).

The checkpoint's layout (Haiku module paths, HWIO / DHWIO kernels, (in, out) linear weights, (1, 1, 1, C)
batch-norm vectors, moving averages under the state's ``.../~/mean_ema`` and ``.../~/var_ema`` ``average``)
is mapped to our parameters by `haiku_entries`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trackers.point.tapir.net import l2_normalise, sample_query_features, soft_argmax

#: the frame size the network runs at (official `configs/tapnet_config.py`: ``resize_height/width``)
INPUT_SIZE = (256, 256)
STRIDE = 8
SOFTMAX_TEMPERATURE = 10.0
#: (channels, stride, fraction of channels shifted in time) of the TSM-ResNet units that are run
UNITS = ((64, 1, 0.125), (128, 2, 0.125), (256, 1, 0.0))
BATCH_NORM_EPS = 1e-5
HAIKU_ROOT = "tap_net/~/"
HAIKU_RESNET = HAIKU_ROOT + "tsm_resnet_video/"


def same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad (..., H, W) as JAX/TensorFlow SAME does for a ``kernel`` x ``kernel`` window with ``stride``: in
    total max((ceil(n / stride) - 1) * stride + kernel - n, 0) per axis, the smaller half before."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def temporal_shift(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """TSM's shift of (T, C, H, W) frame features: the first C * fraction channels of frame t - 1 and the last
    C * fraction of frame t + 1 (zeros beyond the ends), reordered as the official GPU mode does:
    [shifted back from t + 1, unshifted middle, shifted forward from t - 1]."""
    shift = int(x.shape[1] * fraction)
    if shift == 0:
        return x
    zeros = x.new_zeros((1, shift) + tuple(x.shape[2:]))
    from_next = torch.cat([x[1:, -shift:], zeros])
    from_previous = torch.cat([zeros, x[:-1, :shift]])
    return torch.cat([from_next, x[:, shift:-shift], from_previous], dim=1)


class FrozenBatchNorm(nn.Module):
    """Haiku's ``BatchNorm`` at inference: (x - mean) * scale / sqrt(var + 1e-5) + offset over (T, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        for name, value in (("scale", 1.0), ("offset", 0.0), ("mean", 0.0), ("var", 1.0)):
            self.register_buffer(name, torch.full((channels,), value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inverse = self.scale * torch.rsqrt(self.var + BATCH_NORM_EPS)
        return (x - self.mean[:, None, None]) * inverse[:, None, None] + self.offset[:, None, None]


class TsmBlock(nn.Module):
    """Pre-activation block: BN-ReLU, [projection 1x1/stride of that], temporal shift, conv3x3/stride, BN-ReLU,
    conv3x3; (T, C_in, H, W) -> (T, C_out, H / stride, W / stride)."""

    def __init__(self, channels_in: int, channels_out: int, stride: int, projection: bool, shift: float):
        super().__init__()
        self.stride, self.shift = stride, shift
        self.norm_0 = FrozenBatchNorm(channels_in)
        self.shortcut = nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False) if projection else None
        self.conv_0 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, bias=False)
        self.norm_1 = FrozenBatchNorm(channels_out)
        self.conv_2 = nn.Conv2d(channels_out, channels_out, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = torch.relu(self.norm_0(x))
        shortcut = self.shortcut(activated) if self.shortcut is not None else x
        residual = self.conv_0(same_pad(temporal_shift(activated, self.shift), 3, self.stride))
        residual = self.conv_2(same_pad(torch.relu(self.norm_1(residual)), 3, 1))
        return shortcut + residual


class TsmResNet(nn.Module):
    """(T, 3, 256, 256) frames of one video in [-1, 1] -> (T, 256, 32, 32) features (units 0-2 of TSM-ResNet-18).

    Frame t's output depends on frames [t - `TEMPORAL_REACH`, t + `TEMPORAL_REACH`] only (one frame per shifting
    block), and on the zero padding at the video's ends."""

    TEMPORAL_REACH = sum(2 for _, _, shift in UNITS if shift)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 7, stride=2, bias=False)
        blocks, channels_in = [], 64
        for channels, stride, shift in UNITS:
            blocks += [TsmBlock(channels_in, channels, stride, True, shift),
                       TsmBlock(channels, channels, 1, False, shift)]
            channels_in = channels
        self.blocks = nn.ModuleList(blocks)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.stem(same_pad(frames, 7, 2))
        x = F.max_pool2d(same_pad(x, 3, 2, value=-math.inf), 3, stride=2)
        for block in self.blocks:
            x = block(x)
        return x


class CostVolumeHead(nn.Module):
    """Tracks and occlusion logits from the cost volumes of queries against a feature grid (see the module
    docstring); the official ``cost_volume_track_mods`` (their [1, 3, 3] Conv3Ds act on single frames)."""

    def __init__(self):
        super().__init__()
        self.hid1 = nn.Conv2d(1, 16, 3)
        self.hid2 = nn.Conv2d(16, 1, 3)
        self.hid3 = nn.Conv2d(16, 32, 3, stride=2)
        self.hid4 = nn.Linear(32, 16)
        self.occ_out = nn.Linear(16, 1)

    def forward(self, query_features: torch.Tensor, grid: torch.Tensor, query_points: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C) query features, (T, h, w, C) grid, (N, 3) (t, y, x) queries in `INPUT_SIZE` raster units ->
        tracks (N, T, 2) (x, y) in those units, occlusion logits (N, T) (higher: more likely occluded)."""
        frames, height, width, _ = grid.shape
        num_points = len(query_features)
        cost = torch.einsum("nc,thwc->nthw", query_features, grid).reshape(-1, 1, height, width)
        hidden = torch.relu(self.hid1(same_pad(cost, 3, 1)))
        logits = self.hid2(same_pad(hidden, 3, 1)).reshape(num_points, frames, height * width)
        heatmaps = F.softmax(logits * SOFTMAX_TEMPERATURE, dim=-1).reshape(1, num_points, frames, height, width)
        scale = torch.tensor([INPUT_SIZE[1] / width, INPUT_SIZE[0] / height], device=grid.device)
        tracks = soft_argmax(heatmaps)[0] * scale
        on_query_frame = torch.round(query_points[:, :1]) == torch.arange(frames, device=grid.device)
        tracks = torch.where(on_query_frame[..., None], query_points[:, None, [2, 1]], tracks)
        pooled = self.hid3(same_pad(hidden, 3, 2)).mean(dim=(-1, -2))
        occlusion = self.occ_out(torch.relu(self.hid4(pooled)))
        return tracks, occlusion.reshape(num_points, frames)


class TapNet(nn.Module):
    """The TAP-Net network: `encode` frames into a feature grid, then `track` queries on it.

    Args:
        query_chunk_size: queries whose cost volumes are computed at once (memory only).
    """

    def __init__(self, query_chunk_size: int = 16):
        super().__init__()
        self.query_chunk_size = int(query_chunk_size)
        self.tsm_resnet = TsmResNet()
        self.head = CostVolumeHead()

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, 256, 256, 3) consecutive frames in [-1, 1] -> (T, 32, 32, 256) L2-normalised feature grid."""
        return l2_normalise(self.tsm_resnet(frames.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))

    def track(self, grid: torch.Tensor, query_points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, h, w, C) grid of the whole video, (N, 3) (t, y, x) queries in `INPUT_SIZE` raster units ->
        tracks (N, T, 2) (x, y) in those units and occlusion logits (N, T)."""
        frames, height, width, _ = grid.shape
        to_grid = torch.tensor([1.0, height / INPUT_SIZE[0], width / INPUT_SIZE[1]], device=grid.device)
        features = sample_query_features(grid[None], (query_points * to_grid)[None])[0]
        parts = [self.head(features[i:i + self.query_chunk_size], grid, query_points[i:i + self.query_chunk_size])
                 for i in range(0, len(query_points), self.query_chunk_size)]
        if not parts:
            return grid.new_zeros((0, frames, 2)), grid.new_zeros((0, frames))
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


# ----------------------------------------------------------------------------------------------------------------
# The official checkpoint's layout
# ----------------------------------------------------------------------------------------------------------------

class HaikuEntry(NamedTuple):
    """Where one of our tensors is in the official checkpoint: ``checkpoint[collection][module][name]``, stored
    in the ``layout`` that `from_haiku` / `to_haiku` convert."""

    key: str
    collection: str  # "params" or "state"
    module: str
    name: str
    layout: str  # "conv" (HWIO), "conv3d" (1HWIO), "linear" ((in, out)), "channels" ((1, 1, 1, C)), "plain"


def haiku_entries(model: TapNet) -> list[HaikuEntry]:
    """Every tensor of ``model.state_dict()`` and its place in the official Haiku checkpoint."""
    entries = [HaikuEntry("tsm_resnet.stem.weight", "params", HAIKU_RESNET + "tsm_resnet_stem", "w", "conv")]
    for index, block in enumerate(model.tsm_resnet.blocks):
        path = f"{HAIKU_RESNET}tsm_resnet_unit_{index // 2}/block_{index % 2}/"
        key = f"tsm_resnet.blocks.{index}."
        convs = ["conv_0", "conv_2"] + (["shortcut"] if block.shortcut is not None else [])
        entries += [HaikuEntry(f"{key}{conv}.weight", "params", path + conv.replace("shortcut", "shortcut_conv"),
                               "w", "conv") for conv in convs]
        for norm, module in (("norm_0", "batch_norm"), ("norm_1", "batch_norm_1")):
            entries += [HaikuEntry(f"{key}{norm}.{name}", "params", path + module, name, "channels")
                        for name in ("scale", "offset")]
            entries += [HaikuEntry(f"{key}{norm}.{name}", "state", f"{path}{module}/~/{name}_ema", "average",
                                   "channels") for name in ("mean", "var")]
    for name, module, layout in (("hid1", "cost_volume_regression_1", "conv3d"),
                                 ("hid2", "cost_volume_regression_2", "conv3d"),
                                 ("hid3", "cost_volume_occlusion_1", "conv3d"),
                                 ("hid4", "cost_volume_occlusion_2", "linear"), ("occ_out", "occlusion_out", "linear")):
        entries += [HaikuEntry(f"head.{name}.weight", "params", HAIKU_ROOT + module, "w", layout),
                    HaikuEntry(f"head.{name}.bias", "params", HAIKU_ROOT + module, "b", "plain")]
    return entries


def from_haiku(array: np.ndarray, layout: str) -> torch.Tensor:
    """An official array in ``layout`` (see `HaikuEntry`) -> our tensor (OIHW kernels, (out, in) weights, (C,))."""
    array = np.asarray(array, dtype=np.float32)
    if layout == "conv3d":
        array = array[0]
    if layout in ("conv", "conv3d"):
        array = array.transpose(3, 2, 0, 1)
    elif layout == "linear":
        array = array.T
    elif layout == "channels":
        array = array.reshape(-1)
    return torch.from_numpy(np.ascontiguousarray(array))


def to_haiku(tensor: torch.Tensor, layout: str) -> np.ndarray:
    """The inverse of `from_haiku` (float32 arrays in the official shapes)."""
    array = tensor.detach().cpu().numpy().astype(np.float32)
    if layout in ("conv", "conv3d"):
        array = array.transpose(2, 3, 1, 0)
    if layout == "conv3d":
        array = array[None]
    elif layout == "linear":
        array = array.T
    elif layout == "channels":
        array = array.reshape(1, 1, 1, -1)
    return np.ascontiguousarray(array)
