"""RAFT point tracker (`raft`): torchvision's RAFT optical flow chained frame to frame, with a forward-backward check.

The network is torchvision's own RAFT (`torchvision.models.optical_flow.raft_large` / `raft_small`, built with
``weights=None``); the weights come from a checkpoint file, either
  - the original princeton-vl release (`raft-things.pth`, `raft-small.pth`, ... from models.zip; the file
    SAM-PT used is `raft-things.pth`): a DataParallel state_dict whose names differ from torchvision's. They are
    converted by `convert_princeton_state_dict` (drop `module.`, drop the `norm3` (large) / `norm4` (small)
    aliases of `downsample.1`, rename modules) and then loaded strictly; or
  - torchvision's own weight files (e.g. `raft_large_C_T_SKHT_V2-ff5fadd5.pth`), loaded strictly as they are.
The format is recognised from the key names; a file that is neither gets a `CheckpointError`.

Input conventions: torchvision's RAFT takes RGB in [-1, 1] (the original takes 0-255 and rescales itself) and
sizes divisible by 8 (and, in torchvision, >= 128 px); frames are padded by edge replication, split evenly on
both sides as the original `InputPadder` does, and the flow is cropped back. RAFT runs at the resolution of the
given frames.

Tracking (see `track_by_chained_flow`): every point moves one frame at a time away from its query frame,
forward to the end and backward to the start, by the flow sampled bilinearly at its sub-pixel position
(clamped to the border). For a step a -> b the flows a->b and b->a are computed in one batched RAFT call from
the two frames, read on demand from a `FrameSource`; nothing else is kept, so memory does not grow with the
video. A pair between the earliest and the latest query frame is needed by both sweeps and is computed twice
(keeping it for the other sweep would hold up to T flow pairs). Two ways to chain (``chaining``):
  - "stop" (default): a point moved p -> q = p + F_ab(p) is kept only when |F_ab(p) + F_ba(q)| <=
    `fb_threshold` px (forward-backward consistency: occlusion) and q lies in the frame (0 <= x <= W-1,
    0 <= y <= H-1); after a failed step the point is not visible for the rest of that sweep and keeps its last
    position, as in the OpenCV trackers (`trackers.point.opencv`, whose sweep logic this reuses).
    ``fb_threshold=None`` disables the consistency check (the frame check stays).
  - "sampt": the chaining of SAM-PT's own RAFT tracker (SysCV/sam-pt @ 874ff7e,
    `sam_pt/point_tracker/raft/tracker.py`, `RaftPointTracker.forward`): no forward-backward check
    (``fb_threshold`` must be None), a point never stops: it keeps moving by the flow sampled at its clamped
    position also after leaving the frame, and it is visible in a frame exactly when 0 <= x < W and 0 <= y < H
    there (so it can come back into view; the query frame counts too). Differences to "stop" with
    ``fb_threshold=None``: positions after a point left the frame (SAM-PT's keep moving, ours freeze at the last
    position inside), visibility after it left (SAM-PT's can come back) and the right/bottom edge (x < W
    versus x <= W - 1).
With the "sampt" chaining, 32 iterations and no padding beyond SAM-PT's (sides >= 128 px), the tracks equal the
official tracker's on a recorded clip with random weights to 1e-3 px, visibility identical
(`tests/trackers/point/test_official_trackers.py`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from trackers.checkpoints import (
    CheckpointError, CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)
from trackers.point.opencv import bilinear_sample, check_finite_queries, inside_frame, track_both_directions
from infra.frames import FrameSource
from trackers.point.base import PointTracker, check_track_source
from trackers.point.layout import to_channels_last

PRINCETON_MODELS_ZIP = "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip"
TORCHVISION_MODELS = "https://download.pytorch.org/models/"

#: princeton-vl/RAFT release (files inside models.zip): C+T training, the file SAM-PT used.
RAFT_THINGS = register(CheckpointInfo("raft", "raft-things.pth", PRINCETON_MODELS_ZIP))
RAFT_SMALL = register(CheckpointInfo("raft_small", "raft-small.pth", PRINCETON_MODELS_ZIP))
#: torchvision's own weights (the hash in the name is the start of the file's sha256).
RAFT_LARGE_TORCHVISION = register(CheckpointInfo(
    "raft_large_torchvision", "raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    TORCHVISION_MODELS + "raft_large_C_T_SKHT_V2-ff5fadd5.pth"))
RAFT_SMALL_TORCHVISION = register(CheckpointInfo(
    "raft_small_torchvision", "raft_small_C_T_V2-01064c6d.pth", TORCHVISION_MODELS + "raft_small_C_T_V2-01064c6d.pth"))

VARIANTS = ("raft_large", "raft_small")
DEFAULT_CHECKPOINT = {"raft_large": RAFT_THINGS, "raft_small": RAFT_SMALL}
KNOWN_FILES = {info.filename: info
               for info in (RAFT_THINGS, RAFT_SMALL, RAFT_LARGE_TORCHVISION, RAFT_SMALL_TORCHVISION)}

#: ways to chain flows into tracks (module docstring): ours, and SAM-PT's RAFT tracker's
CHAININGS = ("stop", "sampt")

#: (flow a->b (H, W, 2), flow b->a (H, W, 2)) float32 for frame indices (a, b).
FlowPairFn = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------------------------------------------
# Checkpoint conversion
# ----------------------------------------------------------------------------------------------------------------

def princeton_key_to_torchvision(key: str, variant: str) -> str | None:
    """One princeton-vl RAFT key (without `module.`) -> its torchvision name; None for a dropped alias.

    Raises KeyError for a name that has no torchvision counterpart.
    """
    encoder = re.match(r"^(fnet|cnet)\.(.*)$", key)
    if encoder:
        prefix = "feature_encoder." if encoder.group(1) == "fnet" else "context_encoder."
        rest = encoder.group(2)
        alias_norm = "3" if variant == "raft_large" else "4"  # the block's norm that is also `downsample.1`
        rules = [
            (r"^conv1\.(.*)$", r"convnormrelu.0.\1"),
            (r"^norm1\.(.*)$", r"convnormrelu.1.\1"),
            (r"^conv2\.(.*)$", r"conv.\1"),
            (r"^(layer\d\.\d)\.conv(\d)\.(.*)$", r"\1.convnormrelu\2.0.\3"),
            (r"^(layer\d\.\d)\.downsample\.(.*)$", r"\1.downsample.\2"),
        ]
        norm = re.match(r"^(layer\d\.\d)\.norm(\d)\.(.*)$", rest)
        if norm:
            if norm.group(2) == alias_norm:
                return None
            return prefix + f"{norm.group(1)}.convnormrelu{norm.group(2)}.1.{norm.group(3)}"
        for pattern, replacement in rules:
            if re.match(pattern, rest):
                return prefix + re.sub(pattern, replacement, rest)
        raise KeyError(key)
    rules = [
        (r"^update_block\.encoder\.convc(\d)\.(.*)$", r"update_block.motion_encoder.convcorr\1.0.\2"),
        (r"^update_block\.encoder\.convf(\d)\.(.*)$", r"update_block.motion_encoder.convflow\1.0.\2"),
        (r"^update_block\.encoder\.conv\.(.*)$", r"update_block.motion_encoder.conv.0.\1"),
        (r"^update_block\.flow_head\.(.*)$", r"update_block.flow_head.\1"),
        (r"^update_block\.mask\.0\.(.*)$", r"mask_predictor.convrelu.0.\1"),
        (r"^update_block\.mask\.2\.(.*)$", r"mask_predictor.conv.\1"),
    ]
    if variant == "raft_large":  # separable ConvGRU: convz1 (1x5) ... convq2 (5x1)
        rules.append((r"^update_block\.gru\.conv([zrq])([12])\.(.*)$",
                      r"update_block.recurrent_block.convgru\2.conv\1.\3"))
    else:  # one 3x3 ConvGRU
        rules.append((r"^update_block\.gru\.conv([zrq])\.(.*)$", r"update_block.recurrent_block.convgru1.conv\1.\2"))
    for pattern, replacement in rules:
        if re.match(pattern, key):
            return re.sub(pattern, replacement, key)
    raise KeyError(key)


def convert_princeton_state_dict(state_dict: dict[str, torch.Tensor], variant: str = "raft_large",
                                 source: str | Path = "<state_dict>") -> dict[str, torch.Tensor]:
    """Rename a princeton-vl/RAFT state_dict (e.g. `raft-things.pth`) to torchvision's RAFT names.

    Drops the DataParallel `module.` prefix and the residual blocks' `norm3` (raft_large) / `norm4` (raft_small)
    entries, which are the same module as `downsample.1` saved twice (their values are checked to be equal).

    Raises:
        CheckpointError naming ``source`` if a key has no torchvision counterpart or an alias differs.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown RAFT variant {variant!r}; valid: {', '.join(VARIANTS)}")
    converted: dict[str, torch.Tensor] = {}
    aliases: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state_dict.items():
        name = key[len("module."):] if key.startswith("module.") else key
        try:
            new_name = princeton_key_to_torchvision(name, variant)
        except KeyError:
            unknown.append(key)
            continue
        if new_name is None:
            aliases[name] = value
        else:
            converted[new_name] = value
    if unknown:
        raise CheckpointError(
            f"checkpoint {source}: {len(unknown)} keys are not princeton-vl RAFT ({variant}) names: "
            f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''}; check `variant` (raft-things.pth, raft-sintel.pth, "
            f"raft-kitti.pth and raft-chairs.pth are raft_large, raft-small.pth is raft_small)")
    alias_norm = ".norm3." if variant == "raft_large" else ".norm4."
    for name, value in aliases.items():
        target = princeton_key_to_torchvision(name.replace(alias_norm, ".downsample.1."), variant)
        if target not in converted or not torch.equal(converted[target].float(), value.float()):
            raise CheckpointError(f"checkpoint {source}: {name} should be the same tensor as its block's "
                                  f"downsample.1 ({target}), but it is not; the file is not a princeton-vl RAFT file")
    return converted


def checkpoint_format(state_dict: dict) -> str:
    """"princeton" (princeton-vl/RAFT names), "torchvision" (torchvision's RAFT names) or "unknown"."""
    keys = list(state_dict)
    stripped = [key[len("module."):] if key.startswith("module.") else key for key in keys]
    if keys and all(key.split(".")[0] in ("fnet", "cnet", "update_block") for key in stripped):
        return "princeton"
    if keys and all(key.split(".")[0] in ("feature_encoder", "context_encoder", "update_block", "mask_predictor")
                    for key in keys):
        return "torchvision"
    return "unknown"


def build_raft(variant: str) -> torch.nn.Module:
    """torchvision's RAFT of ``variant`` with random weights (``weights=None``), in eval mode."""
    from torchvision.models.optical_flow import raft_large, raft_small

    if variant not in VARIANTS:
        raise ValueError(f"unknown RAFT variant {variant!r}; valid: {', '.join(VARIANTS)}")
    model = (raft_large if variant == "raft_large" else raft_small)(weights=None, progress=False)
    return model.eval()


def load_raft_checkpoint(model: torch.nn.Module, path: str | Path, variant: str) -> str:
    """Load a princeton-vl or torchvision RAFT checkpoint file into ``model`` strictly; returns the format.

    Raises:
        CheckpointError naming the file when it cannot be read or is not a RAFT ``variant`` checkpoint.
    """
    state_dict = read_state_dict(path, "RAFT state_dict (raft-things.pth or torchvision's raft_*.pth)")
    kind = checkpoint_format(state_dict)
    if kind == "princeton":
        state_dict = convert_princeton_state_dict(state_dict, variant, source=path)
    elif kind == "unknown":
        raise CheckpointError(
            f"checkpoint {path} is not a RAFT checkpoint: its keys (e.g. {list(state_dict)[:3]}) are neither "
            f"princeton-vl RAFT names (module.fnet..., module.cnet..., module.update_block...) nor torchvision's "
            f"(feature_encoder..., context_encoder..., update_block..., mask_predictor...)")
    load_state_dict_strict(model, state_dict, f"{path} ({kind} format, variant {variant})")
    return kind


# ----------------------------------------------------------------------------------------------------------------
# Chaining
# ----------------------------------------------------------------------------------------------------------------

def check_chaining(chaining: str, fb_threshold: float | None) -> None:
    """Raise a ValueError for an unknown ``chaining`` or for "sampt" with a forward-backward threshold."""
    if chaining not in CHAININGS:
        raise ValueError(f"unknown RAFT chaining {chaining!r}; valid: {', '.join(CHAININGS)}")
    if chaining == "sampt" and fb_threshold is not None:
        raise ValueError(f"chaining='sampt' (SAM-PT's RAFT tracker) has no forward-backward check: set "
                         f"fb_threshold to None (got {fb_threshold})")


def track_by_chained_flow(num_frames: int, height: int, width: int, queries: np.ndarray, flow_pair: FlowPairFn,
                          fb_threshold: float | None, chaining: str = "stop") -> tuple[np.ndarray, np.ndarray]:
    """Track points by chaining dense flows (see the module docstring for the two ``chaining`` modes).

    Args:
        num_frames, height, width: T, H, W of the video.
        queries: (N, 3) float32 (t, x, y), validated (integer t in [0, T-1], finite).
        flow_pair: (a, b) with a < b, adjacent frames -> (flow a->b, flow b->a), each (H, W, 2) float32 (dx, dy)
            in pixels; called once per sweep step (twice for a pair both sweeps cross), nothing is cached.
        fb_threshold: max |F_ab(p) + F_ba(p + F_ab(p))| in pixels for a step to be accepted; None: no check
            (required by ``chaining="sampt"``).
        chaining: "stop" (a point that fails a step is lost for the rest of the sweep) or "sampt" (SAM-PT's:
            points never stop; visible where inside the frame).

    Returns:
        tracks (T, N, 2) float32 pixel (x, y), visible (T, N) bool.
    """
    check_chaining(chaining, fb_threshold)

    def step(a: int, b: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flow_ab, flow_ba = flow_pair(a, b) if a < b else flow_pair(b, a)[::-1]
        displacement = bilinear_sample(flow_ab, points)
        moved = (points + displacement).astype(np.float32)
        if chaining == "sampt":
            return moved, np.ones(len(moved), bool)
        ok = inside_frame(moved, height, width)
        if fb_threshold is not None:
            back = bilinear_sample(flow_ba, moved)
            ok &= np.linalg.norm(displacement + back, axis=1) <= fb_threshold
        return moved, ok

    tracks, visible = track_both_directions(num_frames, queries, step)
    if chaining == "sampt":
        x, y = tracks[..., 0], tracks[..., 1]
        visible = (x >= 0) & (y >= 0) & (x < width) & (y < height)
    return tracks, visible


# ----------------------------------------------------------------------------------------------------------------
# Tracker
# ----------------------------------------------------------------------------------------------------------------

def pad_to_multiple(images: torch.Tensor, multiple: int = 8, minimum: int = 128
                    ) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """(B, C, H, W) -> padded (B, C, H', W') with H', W' multiples of ``multiple`` and at least ``minimum``
    (edge replication, split evenly, the larger half after), and the (left, right, top, bottom) padding.

    torchvision's RAFT needs sides divisible by 8 and >= 128 px (its correlation pyramid has 4 levels).
    """
    height, width = images.shape[-2:]
    pad_h = max(minimum - height, 0) + (-max(height, minimum)) % multiple
    pad_w = max(minimum - width, 0) + (-max(width, minimum)) % multiple
    padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
    if pad_h or pad_w:
        images = F.pad(images, padding, mode="replicate")
    return images, padding


class RaftTracker(PointTracker):
    """RAFT optical flow (torchvision's network, official weights) chained frame to frame; see the module docstring.

    Args:
        checkpoint: path of a princeton-vl (`raft-things.pth` style) or torchvision (`raft_large_C_T_SKHT_V2-*.pth`
            style) RAFT checkpoint of ``variant``; None = `checkpoints/raft-things.pth` (raft_large) or
            `checkpoints/raft-small.pth` (raft_small).
        device: torch device; None = "cuda" when available, else "cpu".
        variant: "raft_large" or "raft_small".
        iterations: RAFT refinement iterations per flow (12 is RAFT's default; SAM-PT's tracker used 32).
        fb_threshold: forward-backward flow error in pixels above which a point is lost (None: no check, points
            are visible while inside the frame, as in SAM-PT).
        chaining: "stop" (default: a point that fails a step, by leaving the frame or the forward-backward
            check, is lost for the rest of that sweep) or "sampt" (SAM-PT's RAFT tracker: points keep moving
            also outside the frame and are visible wherever they are inside it; needs ``fb_threshold=None``).
            See the module docstring.
        channels_last: run the network's convolutions in the channels-last memory layout
            (`trackers.point.layout.to_channels_last`; a speed option: the same function, float rounding
            differs; the official fixture passes with it on or off).
    """

    needs_checkpoint = True

    def __init__(self, checkpoint: str | Path | None = None, device: str | torch.device | None = None,
                 variant: str = "raft_large", iterations: int = 12, fb_threshold: float | None = 1.0,
                 chaining: str = "stop", channels_last: bool = True):
        if variant not in VARIANTS:
            raise ValueError(f"unknown RAFT variant {variant!r}; valid: {', '.join(VARIANTS)}")
        if int(iterations) != iterations or iterations < 1:
            raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
        if fb_threshold is not None and not fb_threshold > 0:
            raise ValueError(f"fb_threshold must be > 0 or None, got {fb_threshold!r}")
        check_chaining(chaining, fb_threshold)
        info = KNOWN_FILES.get(Path(checkpoint).name, DEFAULT_CHECKPOINT[variant]) if checkpoint is not None \
            else DEFAULT_CHECKPOINT[variant]
        path = require_checkpoint(checkpoint, info)
        self.variant = variant
        self.iterations = int(iterations)
        self.fb_threshold = None if fb_threshold is None else float(fb_threshold)
        self.chaining = chaining
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = build_raft(variant)
        self.checkpoint_format = load_raft_checkpoint(self.model, path, variant)
        self.model.to(self.device)
        if channels_last:
            to_channels_last(self.model)

    @torch.inference_mode()
    def flow_pair(self, frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flows between two (H, W, 3) uint8 RGB frames -> (a->b, b->a), each (H, W, 2) float32 (dx, dy) pixels.

        Both directions run as one batch of 2 through RAFT.
        """
        images = torch.from_numpy(np.stack([frame_a, frame_b])).to(self.device).permute(0, 3, 1, 2).float()
        images = images / 255.0 * 2.0 - 1.0
        images, (left, right, top, bottom) = pad_to_multiple(images)
        first, second = images[[0, 1]], images[[1, 0]]
        flow = self.model(first, second, num_flow_updates=self.iterations)[-1]
        height, width = flow.shape[-2:]
        flow = flow[:, :, top:height - bottom, left:width - right]
        flow = flow.permute(0, 2, 3, 1).float().cpu().numpy()
        return np.ascontiguousarray(flow[0]), np.ascontiguousarray(flow[1])

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See `PointTracker.track`: frames (T, H, W, 3) uint8 or a `FrameSource` (read two at a time), queries
        (N, 3) (t, x, y) -> tracks (T, N, 2) float32, visible (T, N) bool."""
        source, queries = check_track_source(frames, queries)
        check_finite_queries(queries)
        num_frames, (height, width) = source.num_frames, source.frame_size
        if len(queries) == 0:
            return np.zeros((num_frames, 0, 2), np.float32), np.zeros((num_frames, 0), bool)
        return track_by_chained_flow(num_frames, height, width, queries,
                                     lambda a, b: self.flow_pair(source.frame(a), source.frame(b)), self.fb_threshold,
                                     self.chaining)
