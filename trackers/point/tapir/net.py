"""The TAPIR / BootsTAPIR network (inference only), written for the official PyTorch checkpoints of
google-deepmind/tapnet (`tapnet/torch` at commit c2cbab8). On the same random weights, the `tapir` and
`bootstapir` trackers give the official model's tracks to 1e-3 px and its visibility:
`tests/trackers/point/test_official_trackers.py`.

Module and parameter names follow the official state_dict layout so its files load strictly:
  - `resnet_torch`: a pre-activation ResNet (ResNet-18 layout, channels 64/128/256/256, strides 1/2/2/1) with
    affine InstanceNorm; group 1 gives the "hires" features (stride 4, 128 ch), group 3 the "lowres" ones
    (stride 8, 256 ch). Padding emulates JAX's SAME: the 7x7/2 stem pads (2, 4) on each axis, strided 3x3 convs
    pad (0, 2).
  - `extra_convs` (BootsTAPIR only): 5 residual blocks (LayerNorm, 3x3 conv to 4x channels, GELU, 3x3 conv back)
    on the lowres features; the residual is added to the *normalised* input, as in the official code.
  - `torch_cost_volume_track_mods`: from the cost volume of each query against every frame, a soft-argmax
    position (within 5 cells of the argmax, cell centres at +0.5) and occlusion / expected-distance logits.
  - `torch_pips_mixer`: the PIPs refinement, 12 blocks of depthwise temporal convs (whose 4x-wide output is folded
    back by summing channel groups 0::4 + 1::4 + 2::4 + 3::4) and a channel MLP; 4 iterations per resolution.

Coordinates inside the network are TAPIR's: queries (t, y, x), tracks (x, y), both in "raster" units of the
video given to `forward`, where pixel i covers [i, i + 1) (its centre is i + 0.5).

Quirks kept from the official code (they change numbers, so they are reproduced):
  - the 7x7 neighbourhood sampling (`sample_neighbourhood`) normalises both x and y by the grid *height*; this is
    exact for the square 256x256 grids the checkpoints were trained on, and differs on non-square grids;
  - the position input of the mixer is zeroed; after each refinement resolution the occlusion / expected-distance
    estimates restart from the cost-volume ones while positions carry on;
  - the outputs are the means over the refinement resolutions of each resolution's last iteration.
Deliberate differences: queries are processed in fixed-order chunks (the official code shuffles them with
`torch.randperm`; each query's result does not depend on its chunk), and every refinement resolution is resized
from the input video (the official code skips the resize when the *previous* resolution equals the video size,
which only matters for hand-picked resolution lists).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INITIAL_RESOLUTION = (256, 256)
HIRES_DIM = 128
LOWRES_DIM = 256


# ----------------------------------------------------------------------------------------------------------------
# Encoder
# ----------------------------------------------------------------------------------------------------------------

class PreActBlock(nn.Module):
    """Pre-activation residual block: IN-ReLU-conv3x3(stride)-IN-ReLU-conv3x3, projection from the activated input.

    (B, C_in, H, W) -> (B, C_out, H / stride, W / stride).
    """

    def __init__(self, channels_in: int, channels_out: int, stride: int, projection: bool):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.proj_conv = nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False) if projection else None
        self.bn_0 = nn.InstanceNorm2d(channels_in, eps=1e-5, affine=True)
        self.conv_0 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=0, bias=False)
        self.bn_1 = nn.InstanceNorm2d(channels_out, eps=1e-5, affine=True)
        self.conv_1 = nn.Conv2d(channels_out, channels_out, 3, stride=1, padding=1, bias=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        activated = torch.relu(self.bn_0(inputs))
        shortcut = self.proj_conv(activated) if self.proj_conv is not None else inputs
        same = (1, 1, 1, 1) if self.stride == 1 else (0, 2, 0, 2)  # JAX SAME for 3x3 (stride 2: all after)
        out = self.conv_0(F.pad(activated, same))
        out = self.conv_1(torch.relu(self.bn_1(out)))
        return out + shortcut


class BlockGroup(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, num_blocks: int, stride: int):
        super().__init__()
        self.blocks = nn.ModuleList(
            PreActBlock(channels_in if i == 0 else channels_out, channels_out, stride if i == 0 else 1, i == 0)
            for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class PreActResNet(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> hires (B, 128, H/4, W/4) and lowres (B, 256, H/8, W/8) features."""

    def __init__(self, channels=(64, HIRES_DIM, 256, LOWRES_DIM), strides=(1, 2, 2, 1), blocks_per_group=2):
        super().__init__()
        self.initial_conv = nn.Conv2d(3, 64, 7, stride=2, padding=0, bias=False)
        inputs = (64,) + tuple(channels[:-1])
        self.block_groups = nn.ModuleList(
            BlockGroup(inputs[i], channels[i], blocks_per_group, strides[i]) for i in range(len(channels)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.initial_conv(F.pad(images, (2, 4, 2, 4)))
        outputs = []
        for group in self.block_groups:
            x = group(x)
            outputs.append(x)
        return outputs[1], outputs[3]


class ExtraConvBlock(nn.Module):
    """(B, H, W, C) -> (B, H, W, C): LayerNorm, then normalised + conv3x3(GELU(conv3x3 to 4C))."""

    def __init__(self, channels: int = LOWRES_DIM, multiplier: int = 4):
        super().__init__()
        self.layer_norm = nn.LayerNorm(channels)
        self.conv = nn.Conv2d(channels, channels * multiplier, 3, padding=1)
        self.conv_1 = nn.Conv2d(channels * multiplier, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalised = self.layer_norm(x).permute(0, 3, 1, 2)
        out = normalised + self.conv_1(F.gelu(self.conv(normalised), approximate="tanh"))
        return out.permute(0, 2, 3, 1)


class ExtraConvs(nn.Module):
    def __init__(self, num_blocks: int = 5):
        super().__init__()
        self.blocks = nn.ModuleList(ExtraConvBlock() for _ in range(num_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


# ----------------------------------------------------------------------------------------------------------------
# Refinement mixer
# ----------------------------------------------------------------------------------------------------------------

class ChannelMixer(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.mlp2_up = nn.Linear(channels, channels * 4)
        self.mlp2_down = nn.Linear(channels * 4, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp2_down(F.gelu(self.mlp2_up(x), approximate="tanh"))


class MixerBlock(nn.Module):
    """(M, T, C) -> (M, T, C): depthwise temporal convs (C -> 4C -> 4C, folded back to C), then a channel MLP."""

    def __init__(self, channels: int, kernel: int = 3):
        super().__init__()
        self.layer_norm = nn.LayerNorm(channels, bias=False)
        self.mlp1_up = nn.Conv1d(channels, channels * 4, kernel, padding=kernel // 2, groups=channels)
        self.mlp1_up_1 = nn.Conv1d(channels * 4, channels * 4, kernel, padding=kernel // 2, groups=channels * 4)
        self.layer_norm_1 = nn.LayerNorm(channels, bias=False)
        self.conv_channels_mixer = ChannelMixer(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = self.layer_norm(x).transpose(1, 2)
        wide = self.mlp1_up_1(F.gelu(self.mlp1_up(wide), approximate="tanh")).transpose(1, 2)
        x = x + wide[..., 0::4] + wide[..., 1::4] + wide[..., 2::4] + wide[..., 3::4]
        return x + self.conv_channels_mixer(self.layer_norm_1(x))


class Mixer(nn.Module):
    """(M, T, C_in) -> (M, T, C_out)."""

    def __init__(self, input_channels: int, output_channels: int, hidden: int = 512, num_blocks: int = 12):
        super().__init__()
        self.linear = nn.Linear(input_channels, hidden)
        self.blocks = nn.ModuleList(MixerBlock(hidden) for _ in range(num_blocks))
        self.layer_norm = nn.LayerNorm(hidden, bias=False)
        self.linear_1 = nn.Linear(hidden, output_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        for block in self.blocks:
            x = block(x)
        return self.linear_1(self.layer_norm(x))


# ----------------------------------------------------------------------------------------------------------------
# Sampling helpers
# ----------------------------------------------------------------------------------------------------------------

def l2_normalise(features: torch.Tensor) -> torch.Tensor:
    """Divide by the L2 norm over the last axis (at least 1e-6)."""
    return features / torch.sqrt(torch.clamp(features.square().sum(-1, keepdim=True), min=1e-12))


def sample_query_features(grid: torch.Tensor, points_tyx: torch.Tensor) -> torch.Tensor:
    """Trilinear sample of a (B, T, h, w, C) grid at (B, N, 3) (t, y, x) raster positions in grid units
    (frame t exactly, y/x with pixel centres at +0.5; positions outside are clamped) -> (B, N, C)."""
    size = torch.tensor(grid.shape[1:4], device=grid.device, dtype=torch.float32)
    position = points_tyx.float() + torch.tensor([0.5, 0.0, 0.0], device=grid.device)
    normalised = (2 * position / size - 1).flip(-1)[:, :, None, None, :]  # (B, N, 1, 1, 3) as (x, y, t)
    sampled = F.grid_sample(grid.permute(0, 4, 1, 2, 3), normalised, mode="bilinear", padding_mode="border",
                            align_corners=False)
    return sampled[:, :, :, 0, 0].permute(0, 2, 1)


def sample_neighbourhood(grid: torch.Tensor, points_yx: torch.Tensor) -> torch.Tensor:
    """Bilinear sample of a (B, T, h, w, C) grid at (B, N, T, S, 2) (y, x) raster positions -> (B, N, T, S, C).

    Zeros outside. Both y and x are normalised by h (the official quirk; exact for square grids).
    """
    batch, frames, height, width, channels = grid.shape
    _, num_points, _, samples, _ = points_yx.shape
    images = grid.permute(0, 1, 4, 2, 3).reshape(batch * frames, channels, height, width)
    positions = points_yx.permute(0, 2, 1, 3, 4).reshape(batch * frames, num_points, samples, 2)
    normalised = (2 * positions / height - 1).flip(-1).float()
    out = F.grid_sample(images, normalised, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(batch, frames, num_points, samples, channels).permute(0, 2, 1, 3, 4)


def soft_argmax(heatmaps: torch.Tensor, radius: float = 5.0) -> torch.Tensor:
    """(B, N, T, h, w) softmax heatmaps -> (B, N, T, 2) (x, y) in grid raster units (cell centres at +0.5): the
    heatmap-weighted mean of the cell centres closer than ``radius`` cells to the argmax cell."""
    height, width = heatmaps.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height, device=heatmaps.device), torch.arange(width, device=heatmaps.device),
                            indexing="ij")
    centres = torch.stack([xs + 0.5, ys + 0.5], dim=-1).reshape(-1, 2).to(heatmaps.dtype)  # (hw, 2)
    flat = heatmaps.flatten(-2)  # (B, N, T, hw)
    peak = centres[flat.argmax(-1)]  # (B, N, T, 2)
    near = ((centres - peak[..., None, :]).square().sum(-1) < radius ** 2).to(flat.dtype)
    weights = flat * near
    total = torch.clamp(weights.sum(-1, keepdim=True), min=1e-12)
    return (weights[..., None] * centres).sum(-2) / total


def resolution_runs(resolutions: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[int]]:
    """The resolutions to encode at and, per entry of ``resolutions``, the index of its features among them:
    a resolution equal to the one before it shares its features (e.g. the default [initial 256x256, refinement
    256x256] is encoded once)."""
    distinct, slots = [], []
    for resolution in resolutions:
        if not distinct or tuple(resolution) != distinct[-1]:
            distinct.append(tuple(resolution))
        slots.append(len(distinct) - 1)
    return distinct, slots


def default_refinement_resolutions(size: tuple[int, int], initial: tuple[int, int] = INITIAL_RESOLUTION
                                   ) -> list[tuple[int, int]]:
    """Log-spaced (h, w) resolutions from ``initial`` up to ``size`` (rounded down to multiples of 8), one level
    per doubling: [initial] when equal, as the official `generate_default_resolutions`."""
    if tuple(size) == tuple(initial):
        return [tuple(initial)]
    levels = int(np.ceil(np.max(np.log2(np.array(size) / np.array(initial)))) + 1)
    if levels <= 1:
        return [tuple(initial)]
    return [tuple(int(round((start * (end / start) ** (i / (levels - 1))) // 8)) * 8
                  for start, end in zip(initial, size)) for i in range(levels)]


# ----------------------------------------------------------------------------------------------------------------
# TAPIR
# ----------------------------------------------------------------------------------------------------------------

class TapirNet(nn.Module):
    """TAPIR (``pyramid_level=0, extra_convs=False``: tapir_checkpoint_panning.pt) or BootsTAPIR
    (``pyramid_level=1, extra_convs=True``: bootstapir_checkpoint_v2.pt).

    Args:
        pyramid_level: number of 2x average-pooled levels of the lowres grid added to the refinement correlations.
        extra_convs: whether the lowres features go through `ExtraConvs`.
        softmax_temperature: multiplies the cost-volume heatmap logits before the softmax (official default 20;
            the BootsTAPIR training config says 10, the official colab keeps 20).
        num_pips_iter: refinement iterations per resolution.
        query_chunk_size: queries processed together (memory bound; results do not depend on it).
        feature_chunk_size: frames encoded together (memory bound; results do not depend on it).
        initial_resolution: (h, w) of the global cost volume; the checkpoints were trained at 256x256 (smaller
            values only make tests fast).
    """

    def __init__(self, pyramid_level: int = 1, extra_convs: bool = True, softmax_temperature: float = 20.0,
                 num_pips_iter: int = 4, query_chunk_size: int = 64, feature_chunk_size: int = 10,
                 initial_resolution: tuple[int, int] = INITIAL_RESOLUTION):
        super().__init__()
        self.initial_resolution = tuple(initial_resolution)
        self.pyramid_level = pyramid_level
        self.softmax_temperature = softmax_temperature
        self.num_pips_iter = num_pips_iter
        self.query_chunk_size = query_chunk_size
        self.feature_chunk_size = feature_chunk_size
        self.resnet_torch = PreActResNet()
        self.torch_cost_volume_track_mods = nn.ModuleDict({
            "hid1": nn.Conv2d(1, 16, 3, padding=1),
            "hid2": nn.Conv2d(16, 1, 3, padding=1),
            "hid3": nn.Conv2d(16, 32, 3, stride=2),
            "hid4": nn.Linear(32, 16),
            "occ_out": nn.Linear(16, 2),
        })
        state_dim = 4 + HIRES_DIM + LOWRES_DIM
        self.torch_pips_mixer = Mixer(state_dim + (pyramid_level + 2) * 49, state_dim)
        self.extra_convs = ExtraConvs() if extra_convs else None

    # -- features ---------------------------------------------------------------------------------------------
    def encode(self, video: torch.Tensor, resolution: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, H, W, 3) in [-1, 1] -> L2-normalised hires (B, T, h/4, w/4, 128) and lowres (B, T, h/8, w/8, 256)
        features of the video resized (bilinear) to ``resolution`` (h, w)."""
        batch, frames, height, width, _ = video.shape
        images = video.permute(0, 1, 4, 2, 3).reshape(batch * frames, 3, height, width)
        if (height, width) != tuple(resolution):
            images = F.interpolate(images, size=tuple(resolution), mode="bilinear", align_corners=False)
        hires, lowres = [], []
        for start in range(0, len(images), self.feature_chunk_size):
            chunk_hires, chunk_lowres = self.resnet_torch(images[start:start + self.feature_chunk_size])
            chunk_lowres = chunk_lowres.permute(0, 2, 3, 1)
            if self.extra_convs is not None:  # per frame, so chunking does not change it (less peak memory)
                chunk_lowres = self.extra_convs(chunk_lowres)
            hires.append(chunk_hires.permute(0, 2, 3, 1))
            lowres.append(chunk_lowres)
        hires, lowres = torch.cat(hires), torch.cat(lowres)
        hires, lowres = l2_normalise(hires), l2_normalise(lowres)
        return (hires.reshape(batch, frames, *hires.shape[1:]), lowres.reshape(batch, frames, *lowres.shape[1:]))

    # -- initial estimate -------------------------------------------------------------------------------------
    def cost_volume_tracks(self, query_lowres: torch.Tensor, grid: torch.Tensor, query_points_256: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Initial estimate from the global cost volume.

        Args:
            query_lowres: (B, N, 256) query features at the initial resolution.
            grid: (B, T, h, w, 256) lowres features at the initial resolution.
            query_points_256: (B, N, 3) (t, y, x) in initial-resolution raster units.

        Returns:
            points (B, N, T, 2) (x, y) in initial-resolution raster units (the query itself on its frame),
            occlusion logits (B, N, T), expected-distance logits (B, N, T).
        """
        mods = self.torch_cost_volume_track_mods
        batch, frames, height, width, _ = grid.shape
        num_points = query_lowres.shape[1]
        cost = torch.einsum("bnc,bthwc->bnthw", query_lowres, grid).reshape(-1, 1, height, width)
        hidden = torch.relu(mods["hid1"](cost))
        logits = mods["hid2"](hidden).reshape(batch, num_points, frames, height * width)
        heatmaps = F.softmax(logits * self.softmax_temperature, dim=-1)
        heatmaps = heatmaps.reshape(batch, num_points, frames, height, width)
        initial_h, initial_w = self.initial_resolution
        points = soft_argmax(heatmaps) * torch.tensor([initial_w / width, initial_h / height], device=grid.device)
        frame_index = torch.arange(frames, device=grid.device)
        on_query_frame = (torch.round(query_points_256[..., 0:1]) == frame_index)[..., None]
        points = torch.where(on_query_frame, query_points_256[:, :, None, [2, 1]], points)

        hidden = torch.relu(mods["hid3"](F.pad(hidden, (0, 2, 0, 2))))
        hidden = torch.relu(mods["hid4"](hidden.mean(dim=(-1, -2))))
        logits = mods["occ_out"](hidden).reshape(batch, num_points, frames, 2)
        return points, logits[..., 0], logits[..., 1]

    # -- refinement -------------------------------------------------------------------------------------------
    def refine(self, query_features: list[torch.Tensor], pyramid: list[torch.Tensor], points: torch.Tensor,
               occlusion: torch.Tensor, expected_dist: torch.Tensor, mixer_state: torch.Tensor | None,
               resolution: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One PIPs iteration.

        Args:
            query_features: [(B, N, 128) hires, (B, N, 256) lowres, lowres again per pyramid level].
            pyramid: [(B, T, h/4, w/4, 128), (B, T, h/8, w/8, 256), then 2x pooled lowres levels].
            points: (B, N, T, 2) (x, y) in initial-resolution (256) raster units.
            occlusion, expected_dist: (B, N, T) logits.
            mixer_state: (B, N, T, 384) features of the previous iteration, None on a resolution's first.
            resolution: (h, w) the pyramid was computed at.

        Returns:
            points, occlusion, expected_dist (updated), mixer_state (B, N, T, 384).
        """
        corrs = []
        offsets = torch.stack(torch.meshgrid(torch.arange(-3, 4), torch.arange(-3, 4), indexing="ij"), dim=-1)
        offsets = offsets.reshape(-1, 2).to(points.device)  # (49, 2) (dy, dx)
        initial_h, initial_w = self.initial_resolution
        for level, (query, grid) in enumerate(zip(query_features, pyramid)):
            scale = torch.tensor([grid.shape[3] / initial_w, grid.shape[2] / initial_h], device=points.device)
            centre_yx = (points * scale).flip(-1)
            neighbourhood = sample_neighbourhood(grid, centre_yx[..., None, :] + offsets)
            if mixer_state is None:
                corrs.append(torch.einsum("bntsc,bnc->bnts", neighbourhood, query))
            else:
                state_query = mixer_state[..., :HIRES_DIM] if level == 0 else mixer_state[..., HIRES_DIM:]
                corrs.append(torch.einsum("bntsc,bntc->bnts", neighbourhood, state_query))
        batch, num_points, frames = points.shape[:3]
        if mixer_state is None:
            features = torch.cat(query_features[:2], dim=-1)[:, :, None].expand(-1, -1, frames, -1)
        else:
            features = mixer_state
        mixer_input = torch.cat([torch.zeros_like(points), occlusion[..., None], expected_dist[..., None], features,
                                 *corrs], dim=-1)
        out = self.torch_pips_mixer(mixer_input.reshape(batch * num_points, frames, -1).float())
        out = out.reshape(batch, num_points, frames, -1)
        to_initial = torch.tensor([initial_w / resolution[1], initial_h / resolution[0]], device=points.device)
        return (points + out[..., :2] * to_initial, occlusion + out[..., 2], expected_dist + out[..., 3],
                features + out[..., 4:])

    # -- full pass, and its parts for running in windows ------------------------------------------------------
    def resolutions(self, size: tuple[int, int], refinement_resolutions: list[tuple[int, int]] | None = None
                    ) -> list[tuple[int, int]]:
        """[initial resolution] + the refinement resolutions (None: log-spaced from the initial one to ``size``,
        `default_refinement_resolutions`), each (h, w) checked to be multiples of 8."""
        if refinement_resolutions is None:
            refinement_resolutions = default_refinement_resolutions(tuple(size), self.initial_resolution)
        resolutions = [self.initial_resolution] + [tuple(r) for r in refinement_resolutions]
        for resolution in resolutions:
            if resolution[0] % 8 or resolution[1] % 8:
                raise ValueError(f"TAPIR resolutions must be multiples of 8, got {resolution}")
        return resolutions

    def temporal_reach(self, num_refinement_resolutions: int) -> int:
        """How many frames away a frame's output can feel another frame: each mixer block's two depthwise
        temporal convolutions reach ``kernel // 2`` frames each, a mixer pass runs every block, and there are
        ``num_pips_iter`` passes per refinement resolution, chained (the cost-volume estimate, the encoder and
        everything else work frame by frame). With the official settings: 12 * 2 * 1 * 4 = 96 frames per
        refinement resolution. Outputs at least this far from both ends of a window therefore equal the
        whole-video outputs (the zero padding at the window's ends does not reach them)."""
        per_pass = sum(2 * (block.mlp1_up.kernel_size[0] // 2) for block in self.torch_pips_mixer.blocks)
        return per_pass * self.num_pips_iter * num_refinement_resolutions

    def encode_resolutions(self, video: torch.Tensor, resolutions: list[tuple[int, int]]
                           ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(B, T, H, W, 3) in [-1, 1] -> per resolution the (hires, lowres) features of `encode` (a resolution
        equal to the one before shares its features: `resolution_runs`)."""
        distinct, slots = resolution_runs(resolutions)
        encoded = [self.encode(video, resolution) for resolution in distinct]
        return [encoded[slot] for slot in slots]

    def query_features(self, grids: list[tuple[torch.Tensor, torch.Tensor]], query_points: torch.Tensor,
                       size: tuple[int, int]) -> list[list[torch.Tensor]]:
        """Per resolution [(B, N, 128) hires, (B, N, 256) lowres] features of the (B, N, 3) (t, y, x) queries,
        in raster units of a (H, W) = ``size`` video whose frame t is frame t of ``grids``."""
        height, width = size
        features = []
        for hires, lowres in grids:
            per_grid = []
            for grid in (hires, lowres):
                scale = torch.tensor([1.0, grid.shape[2] / height, grid.shape[3] / width], device=grid.device)
                per_grid.append(sample_query_features(grid, query_points * scale))
            features.append(per_grid)
        return features

    def estimate(self, grids: list[tuple[torch.Tensor, torch.Tensor]], query_features: list[list[torch.Tensor]],
                 query_points: torch.Tensor, size: tuple[int, int], resolutions: list[tuple[int, int]]
                 ) -> dict[str, torch.Tensor]:
        """Tracks through the frames of ``grids`` (from `encode_resolutions` with ``resolutions``).

        Args:
            grids: per resolution (hires (B, T, ...), lowres (B, T, ...)).
            query_features: from `query_features` (possibly of other frames than ``grids``).
            query_points: (B, N, 3) (t, y, x) in raster units of the (H, W) = ``size`` video, t counted from the
                first frame of ``grids``; only used to put each point at its query position on its query frame
                (a t outside the frames changes nothing).
            size: (H, W) of the video the coordinates refer to.
            resolutions: those of ``grids``.

        Returns:
            see `forward`, for the T frames of ``grids``.
        """
        height, width = size
        initial_h, initial_w = self.initial_resolution
        device = query_points.device
        to_initial = torch.tensor([1.0, initial_h / height, initial_w / width], device=device)
        to_video = torch.tensor([width / initial_w, height / initial_h], device=device)
        pyramids = []
        for hires, lowres in grids[1:]:
            pyramid = [hires, lowres]
            for _ in range(self.pyramid_level):
                pooled = F.avg_pool2d(pyramid[-1].flatten(0, 1).permute(0, 3, 1, 2), 2)
                pyramid.append(pooled.permute(0, 2, 3, 1).reshape(*pyramid[-1].shape[:2], *pooled.shape[-2:],
                                                                  pooled.shape[1]))
            pyramids.append(pyramid)

        outputs = {"tracks": [], "occlusion": [], "expected_dist": []}
        num_points = query_points.shape[1]
        for start in range(0, num_points, self.query_chunk_size):
            chunk = slice(start, start + self.query_chunk_size)
            points0, occlusion0, expected_dist0 = self.cost_volume_tracks(
                query_features[0][1][:, chunk], grids[0][1], query_points[:, chunk] * to_initial)
            points = points0
            finals = []
            for level, pyramid in enumerate(pyramids, start=1):
                queries = [query_features[level][0][:, chunk]] + [query_features[level][1][:, chunk]] * (
                    1 + self.pyramid_level)
                occlusion, expected_dist, state = occlusion0, expected_dist0, None
                for _ in range(self.num_pips_iter):
                    points, occlusion, expected_dist, state = self.refine(
                        queries, pyramid, points, occlusion, expected_dist, state, resolutions[level])
                finals.append((points * to_video, occlusion, expected_dist))
            if not finals:  # no refinement resolution: the cost-volume estimate
                finals.append((points0 * to_video, occlusion0, expected_dist0))
            for index, key in enumerate(("tracks", "occlusion", "expected_dist")):
                outputs[key].append(torch.stack([final[index] for final in finals]).mean(0))
        return {key: torch.cat(value, dim=1) for key, value in outputs.items()}

    def forward(self, video: torch.Tensor, query_points: torch.Tensor,
                refinement_resolutions: list[tuple[int, int]] | None = None) -> dict[str, torch.Tensor]:
        """Track query points through a whole video at once.

        Args:
            video: (B, T, H, W, 3) float in [-1, 1]; H and W multiples of 8.
            query_points: (B, N, 3) float (t, y, x) in raster units of the video (pixel centres at +0.5).
            refinement_resolutions: (h, w) resolutions for the refinement, multiples of 8; None: log-spaced from
                256x256 to the video size (`default_refinement_resolutions`).

        Returns:
            tracks (B, N, T, 2) (x, y) in raster units of the video, occlusion (B, N, T) and expected_dist
            (B, N, T) logits (higher = more likely occluded / far from the truth).
        """
        size = tuple(video.shape[2:4])
        resolutions = self.resolutions(size, refinement_resolutions)
        grids = self.encode_resolutions(video, resolutions)
        features = self.query_features(grids, query_points, size)
        return self.estimate(grids, features, query_points, size, resolutions)
