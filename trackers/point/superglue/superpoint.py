"""SuperPoint (DeTone et al., CVPRW 2018): keypoints, scores and 256-d descriptors of a grey image.

Our implementation of the network of magicleap/SuperGluePretrainedNetwork (`models/superpoint.py` @ ddcf11f,
vendored unchanged in SysCV/sam-pt @ 874ff7e, ``sam_pt/point_tracker/superglue/models``). Its parameter names
are the official ones, so the official ``superpoint_v1.pth`` loads strictly:
  - encoder: 3x3 convolutions ``conv1a, conv1b`` (1 -> 64), ``conv2a, conv2b`` (64), ``conv3a, conv3b``
    (128), ``conv4a, conv4b`` (128), each with a ReLU, 2x2 max pooling after the first three pairs (stride 8);
  - detector head ``convPa`` (3x3, 256) + ReLU, ``convPb`` (1x1, 65): softmax over 65 cells, the 64
    non-dustbin ones rearranged into a full-resolution score map (depth to space);
  - descriptor head ``convDa`` (3x3, 256) + ReLU, ``convDb`` (1x1, 256), L2-normalised.
Keypoints are the pixels whose score survives non-maximum suppression (`nms`) and exceeds
``keypoint_threshold``, in row-major order, at least ``remove_borders`` px inside the image, optionally the
``max_keypoints`` best. Descriptors are sampled bilinearly at them (`sample_descriptors`, with the official
code's coordinate scaling) and L2-normalised again.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: (name, input channels, output channels) of the encoder's 3x3 convolutions, in order
ENCODER = (("conv1a", 1, 64), ("conv1b", 64, 64), ("conv2a", 64, 64), ("conv2b", 64, 64),
           ("conv3a", 64, 128), ("conv3b", 128, 128), ("conv4a", 128, 128), ("conv4b", 128, 128))
CELL = 8


@dataclass(frozen=True)
class SuperPointSettings:
    """The detector's settings (SAM-PT's ``configs/model/point_tracker/superglue.yaml``: nms_radius 3,
    keypoint_threshold 0.005, max_keypoints -1 (all), remove_borders 4)."""

    nms_radius: int = 3
    keypoint_threshold: float = 0.005
    max_keypoints: int = -1
    remove_borders: int = 4

    def __post_init__(self):
        if int(self.nms_radius) != self.nms_radius or self.nms_radius < 0:
            raise ValueError(f"nms_radius must be an integer >= 0, got {self.nms_radius!r}")
        if self.max_keypoints == 0 or self.max_keypoints < -1:
            raise ValueError(f"max_keypoints must be positive or -1 (all), got {self.max_keypoints!r}")
        if int(self.remove_borders) != self.remove_borders or self.remove_borders < 0:
            raise ValueError(f"remove_borders must be an integer >= 0, got {self.remove_borders!r}")


@dataclass
class Features:
    """SuperPoint's output for one image: keypoints (K, 2) float32 pixel (x, y), scores (K,), descriptors
    (256, K), and the image's (height, width) (which positions are normalised by)."""

    keypoints: torch.Tensor
    scores: torch.Tensor
    descriptors: torch.Tensor
    image_size: tuple[int, int]


def nms(scores: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, H, W) scores -> the same with every non-maximum zeroed: a pixel survives when it is the maximum of
    its (2r+1)^2 window, then twice more, pixels away from every kept one that are maxima once the kept
    ones' windows are zeroed (as the official ``simple_nms``)."""
    def window_max(values):
        return F.max_pool2d(values, kernel_size=2 * radius + 1, stride=1, padding=radius)

    keep = scores == window_max(scores)
    for _ in range(2):
        covered = window_max(keep.float()) > 0
        rest = torch.where(covered, torch.zeros_like(scores), scores)
        keep = keep | ((rest == window_max(rest)) & ~covered)
    return torch.where(keep, scores, torch.zeros_like(scores))


def sample_descriptors(keypoints: torch.Tensor, descriptors: torch.Tensor) -> torch.Tensor:
    """(K, 2) pixel (x, y), (C, h, w) descriptor map at 1/8 resolution -> (C, K) L2-normalised descriptors.

    The pixel -> grid mapping is the official one: (p - 8/2 + 0.5) / (8 * size - 8/2 - 0.5) * 2 - 1 with
    ``align_corners=True`` (not the exact inverse of the 8x subsampling; kept for equality).
    """
    channels, height, width = descriptors.shape
    grid = keypoints - CELL / 2 + 0.5
    grid = grid / torch.tensor([width * CELL - CELL / 2 - 0.5, height * CELL - CELL / 2 - 0.5]).to(grid)[None]
    grid = grid * 2 - 1
    sampled = F.grid_sample(descriptors[None], grid.view(1, 1, -1, 2), mode="bilinear", align_corners=True)
    return F.normalize(sampled.reshape(channels, -1), p=2, dim=0)


class SuperPoint(nn.Module):
    """SuperPoint with the official parameter names; ``forward`` takes (B, 1, H, W) grey images in [0, 1]."""

    def __init__(self, settings: SuperPointSettings | None = None, descriptor_dim: int = 256):
        super().__init__()
        self.settings = settings or SuperPointSettings()
        for name, cin, cout in ENCODER:
            self.add_module(name, nn.Conv2d(cin, cout, kernel_size=3, padding=1))
        self.convPa = nn.Conv2d(128, 256, kernel_size=3, padding=1)
        self.convPb = nn.Conv2d(256, CELL * CELL + 1, kernel_size=1)
        self.convDa = nn.Conv2d(128, 256, kernel_size=3, padding=1)
        self.convDb = nn.Conv2d(256, descriptor_dim, kernel_size=1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, 128, H/8, W/8) shared features."""
        x = images
        for index, (name, _, _) in enumerate(ENCODER):
            x = F.relu(getattr(self, name)(x))
            if index % 2 == 1 and index < len(ENCODER) - 1:
                x = F.max_pool2d(x, kernel_size=2, stride=2)
        return x

    def forward(self, images: torch.Tensor) -> list[Features]:
        """(B, 1, H, W) grey in [0, 1] -> one `Features` per image (keypoints only within the first
        8 * floor(H / 8) rows and 8 * floor(W / 8) columns, as the official network)."""
        shared = self.encode(images)
        cells = torch.softmax(self.convPb(F.relu(self.convPa(shared))), dim=1)[:, :-1]
        scores = nms(F.pixel_shuffle(cells, CELL)[:, 0], self.settings.nms_radius)
        dense = F.normalize(self.convDb(F.relu(self.convDa(shared))), p=2, dim=1)
        size = tuple(images.shape[-2:])
        return [self._extract(score_map, descriptor_map, size) for score_map, descriptor_map in zip(scores, dense)]

    def _extract(self, scores: torch.Tensor, descriptors: torch.Tensor, image_size: tuple[int, int]) -> Features:
        """(8h, 8w) suppressed scores, (C, h, w) descriptors, the image's (H, W) -> `Features`."""
        settings = self.settings
        height, width = scores.shape
        rows_cols = torch.nonzero(scores > settings.keypoint_threshold)
        values = scores[rows_cols[:, 0], rows_cols[:, 1]]
        border = settings.remove_borders
        inside = ((rows_cols[:, 0] >= border) & (rows_cols[:, 0] < height - border)
                  & (rows_cols[:, 1] >= border) & (rows_cols[:, 1] < width - border))
        rows_cols, values = rows_cols[inside], values[inside]
        if 0 < settings.max_keypoints < len(rows_cols):
            values, best = torch.topk(values, settings.max_keypoints, dim=0)
            rows_cols = rows_cols[best]
        keypoints = rows_cols.flip(1).float()
        return Features(keypoints, values, sample_descriptors(keypoints, descriptors), image_size)
