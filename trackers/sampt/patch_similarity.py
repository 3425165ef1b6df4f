"""Patch-similarity filtering of point tracks (paper Sec. 4.3, ablation Tab. 2d).

Each tracked point's Lab-colour patch is compared with the patch around its query point; a point whose
similarity ``exp(-||patch - query_patch|| / (2 * patch_size**2))`` is not above the threshold becomes
invisible at that frame and at every frame further away from its query frame (both directions).

The authors' filter (``SamPt.__track_points_inner``, sam_pt/modeling/sam_pt.py:597-690 of SysCV/sam-pt at
874ff7e), quirks included:

- the Lab conversion is applied to the frame with its red and blue channels swapped (their frames are RGB
  and they reorder them as BGR before ``rgb2lab``, :645), since the ablation's thresholds were measured that
  way; ``swap_red_blue=False`` converts the true colours;
- only points the tracker calls visible are tested (:656), and a point is kept when its similarity is
  strictly above the threshold (:655);
- the first non-similar frame itself is only marked, the frames beyond it (away from the query frame) are
  rejected (:664-681); the query frame is never the start of a rejection;
- the filter runs before the border rule (:687-690), so a point near the border can still start a rejection.

Their label maps with the filter at Tab. 2d's 0.01 and 0.002 and at 0.5 are recorded and matched on every
pixel (`tests/experiments/run/test_authors_patch_path.py`); at their 1024 working size on a DAVIS-size clip:
`tests/experiments/run/test_authors_real_size_path.py`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage import color


def patch_offsets(patch_size: int) -> torch.Tensor:
    """(patch_size**2, 2) float32 (dx, dy) offsets of a square patch centred on a point."""
    if patch_size < 1 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be a positive odd integer, got {patch_size}")
    half = patch_size // 2
    steps = torch.arange(-half, half + 1, dtype=torch.float32)
    grid_a, grid_b = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([grid_a, grid_b], dim=-1).reshape(-1, 2)


def lab_frame(frame: np.ndarray, swap_red_blue: bool = True) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 CIE-Lab."""
    image = frame[..., ::-1] if swap_red_blue else frame
    return torch.as_tensor(color.rgb2lab(np.ascontiguousarray(image)), dtype=torch.float32).permute(2, 0, 1)


def sample_patches(lab: torch.Tensor, points_xy: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Bilinear Lab patches (zero outside the frame).

    Args:
        lab: (3, H, W) float32; points_xy: (N, 2) float pixel (x, y).

    Returns:
        (N, patch_size**2 * 3) float32 patch features.
    """
    _, height, width = lab.shape
    where = points_xy[:, None, :].float() + patch_offsets(patch_size)[None]
    grid = (where + 0.5) / torch.tensor([width, height], dtype=torch.float32) * 2 - 1
    samples = F.grid_sample(lab[None], grid[None], mode="bilinear", align_corners=False)  # (1, 3, N, K)
    return samples[0].permute(1, 2, 0).reshape(len(points_xy), -1)


def similarity(patches_a: torch.Tensor, patches_b: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(N,) similarity ``exp(-||a - b|| / (2 * patch_size**2))`` of (N, D) patch features."""
    return torch.exp(-torch.norm(patches_b - patches_a, dim=-1) / (2 * patch_size ** 2))


def filter_tracks(frame_at, num_frames: int, queries: np.ndarray, tracks: np.ndarray, visible: np.ndarray,
                  patch_size: int = 3, threshold: float = 0.01, swap_red_blue: bool = True) -> np.ndarray:
    """Mark points invisible from the first frame (away from the query) whose patch is not similar.

    Args:
        frame_at: callable ``t -> (H, W, 3) uint8 RGB`` frame (frames are converted one at a time).
        num_frames: T.
        queries: (N, 3) float (t, x, y) query points.
        tracks: (T, N, 2) float pixel (x, y); visible: (T, N) bool.

    Returns:
        (T, N) bool visibilities after filtering.
    """
    queries = np.asarray(queries, np.float32)
    tracks_t = torch.as_tensor(np.asarray(tracks, np.float32))
    query_t = queries[:, 0].astype(np.int64)
    query_patches = torch.zeros((len(queries), patch_size ** 2 * 3), dtype=torch.float32)
    for t in np.unique(query_t):
        chosen = np.flatnonzero(query_t == t)
        query_patches[chosen] = sample_patches(lab_frame(frame_at(int(t)), swap_red_blue),
                                               torch.from_numpy(queries[chosen, 1:]), patch_size)
    non_similar = np.zeros((num_frames, len(queries)), bool)
    for t in range(num_frames):
        patches = sample_patches(lab_frame(frame_at(t), swap_red_blue), tracks_t[t], patch_size)
        non_similar[t] = ~(similarity(query_patches, patches, patch_size) > threshold).numpy()
    non_similar &= np.asarray(visible, bool)
    result = np.asarray(visible, bool) & ~non_similar
    frame_index = np.arange(num_frames)[:, None]
    after = frame_index > query_t[None, :]
    before = frame_index < query_t[None, :]
    # first non-similar frame after / last before the query frame; everything beyond it is rejected
    first_after = np.where((non_similar & after).any(0), np.argmax(non_similar & after, axis=0), num_frames)
    last_before = np.where((non_similar & before).any(0),
                           num_frames - 1 - np.argmax((non_similar & before)[::-1], axis=0), -1)
    result &= ~(frame_index > first_after[None, :])
    result &= ~(frame_index < last_before[None, :])
    return result
