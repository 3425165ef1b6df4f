"""A straightforward SAM step, kept as the baseline of `scripts/bench/sam_step.py` and as a test oracle.

It prompts SAM the way the authors' ``SamPt._apply_sam_to_trajectories`` does, without any of
`trackers.sampt.model`'s economies: one decoder call per object per pass, the full-resolution logits computed
after every pass (the box comes from them), and a float64 (M, T, H, W) array of full-resolution logits
for the whole clip. Same prompts, same results as `reference.runs.segment_tracks` (up to the
float rounding of batched decoder calls).
"""
from __future__ import annotations

import numpy as np
import torch

from trackers.segmenters.base import Segmenter


def reference_segment_tracks(segmenter: Segmenter, frames: np.ndarray, tracks: np.ndarray, visible: np.ndarray,
                             num_positive: int, refinement_iterations: int = 12, iou_threshold: float = 0.7,
                             other_objects_as_negatives: bool = True, return_logits: bool = False,
                             first_frames: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SAM on given trajectories, one object and one pass at a time.

    Args:
        frames: (T, H, W, 3) uint8; tracks: (T, M, P, 2) float pixel (x, y); visible: (T, M, P) bool.
        num_positive: the first ``num_positive`` points of each object are positive (two passes when
            there are negative points).
        first_frames: (M,) int, SAM is not prompted for an object before its first frame (its points
            still serve as the other objects' negatives); None: every object from frame 0.

    Returns:
        masks (M, T, H, W) bool (or with ``return_logits`` the float64 logits, -inf for no mask),
        iou (T, M) float32 (NaN where SAM was not prompted).
    """
    num_frames, num_objects, num_points, _ = tracks.shape
    height, width = frames.shape[1:3]
    logits_all = np.full((num_objects, num_frames, height, width), -np.inf)  # float64, as the authors
    iou_all = np.full((num_frames, num_objects), np.nan, np.float32)
    labels_own = (np.arange(num_points) < num_positive).astype(np.int64)
    for t in range(num_frames):
        embedding = segmenter.embed(frames[t])

        def call(coords, labels, box, mask_input):
            prediction = segmenter.predict(
                embedding, torch.from_numpy(coords[None]).float(), torch.from_numpy(labels[None]),
                None if box is None else box[None], mask_input)
            full = segmenter.upscale(embedding, prediction.low_res_logits)[0]
            return full, prediction.iou[0], prediction.low_res_logits

        for m in range(num_objects):
            if first_frames is not None and t < first_frames[m]:
                continue
            coords = tracks[t, m][visible[t, m]]
            labels = labels_own[visible[t, m]]
            if other_objects_as_negatives and num_objects > 1:
                others = np.concatenate([tracks[t, o, :num_positive][visible[t, o, :num_positive]]
                                         for o in range(num_objects) if o != m])
                coords = np.concatenate([coords, others])
                labels = np.concatenate([labels, np.zeros(len(others), np.int64)])
            if len(coords) == 0:
                continue
            coords = coords.astype(np.float32)
            if num_points > num_positive:
                _, _, low_res = call(coords[labels == 1], labels[labels == 1], None, None)
                full, iou, low_res = call(coords, labels, None, low_res)
            else:
                full, iou, low_res = call(coords, labels, None, None)
            for _ in range(refinement_iterations):
                mask = full > 0
                if mask.sum() < 2:
                    break
                yx = mask.nonzero()
                box = torch.tensor([yx[:, 1].min(), yx[:, 0].min(), yx[:, 1].max(), yx[:, 0].max()],
                                   dtype=torch.float32)
                full, iou, low_res = call(coords, labels, box, low_res)
            iou = float(iou)
            iou_all[t, m] = iou
            if iou >= iou_threshold:
                logits_all[m, t] = full.cpu().numpy()
    return (logits_all if return_logits else logits_all > 0), iou_all
