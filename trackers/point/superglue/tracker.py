"""SuperGlue as a SAM-PT point tracker (paper Table 2a): per frame, matched keypoints inside/outside each
object's reference mask become that frame's positive/negative points.

Behaviour of SAM-PT's ``SuperGluePointTracker`` (SysCV/sam-pt @ 874ff7e, ``sam_pt/point_tracker/superglue/
tracker.py``, settings of ``configs/model/point_tracker/superglue.yaml``; no resizing):
  * frames are converted to grey (torchvision's ``rgb_to_grayscale`` of the uint8 frame, / 255); SuperPoint
    finds keypoints on the reference frame (each object's query frame) and on every other frame, and
    SuperGlue matches the reference keypoints against each other frame's independently;
  * for frame t and object m, the matched keypoints of frame t whose pixel (truncated coordinates) lies inside
    m's reference mask are its positive candidates, the others its negative candidates (the reference mask
    is tested at the frame-t position, as the authors' code does; the matching confidence is not used);
  * the object's P+ positive and P- negative points of frame t are drawn uniformly *with replacement* from
    the candidates (``RandomState.choice``, positives then negatives, objects in order, frames in order);
    with fewer candidates than points, the rest are (-1, -1) and not visible. Every drawn point is visible;
  * on the reference frame the points are the given queries, not visible (as the authors' tracker: their
    visibility is never set there; SAM-PT uses the given mask on that frame).
So trajectories are not consistent across frames: point i of frame t and of frame t+1 are unrelated.
The docstring of the authors' tracker says "top-k matches with the highest confidence"; its code draws at
random as described, which is what this follows.

Differences: the authors' tracker always takes frame 0 as the reference (it supports only objects whose
query frame is 0, which holds for DAVIS 2017); here each object's query frame is its reference, which is the
same when it is 0. The random draws come from ``numpy.random.RandomState(reference.seed)`` (the authors'
tracker uses NumPy's global state), so the same seed gives the same draws as the authors' tracker after
``numpy.random.seed(seed)``. Equal to it on recorded outputs (tracks to 1e-3 px, visibility identical):
``tests/trackers/point/test_official_superglue.py``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.functional import rgb_to_grayscale

from infra.frames import FrameSource
from trackers.checkpoints import (
    CheckpointInfo, load_state_dict_strict, read_state_dict, register, require_checkpoint,
)
from trackers.point.base import PointTracker, ReferenceMasks, check_track_source
from trackers.point.superglue.superglue import SuperGlue, SuperGlueSettings
from trackers.point.superglue.superpoint import Features, SuperPoint, SuperPointSettings

# magicleap/SuperGluePretrainedNetwork keeps its weights in git (models/weights/, commit ddcf11f); no md5 is
# published (git blob sha-1s: superpoint_v1.pth 107a444c..., superglue_outdoor.pth 5ca3392b...).
WEIGHTS_URL = ("https://github.com/magicleap/SuperGluePretrainedNetwork/raw/"
               "ddcf11f42e7e0732a0c4607648f9448ea8d73590/models/weights/")
SUPERPOINT_CHECKPOINT = register(CheckpointInfo("superpoint", "superpoint_v1.pth", WEIGHTS_URL + "superpoint_v1.pth"))
SUPERGLUE_CHECKPOINT = register(CheckpointInfo("superglue_outdoor", "superglue_outdoor.pth",
                                               WEIGHTS_URL + "superglue_outdoor.pth"))


def load_superpoint(path: str | Path | None, settings: SuperPointSettings | None = None) -> SuperPoint:
    """`SuperPoint` with the official ``superpoint_v1.pth`` (a plain state dict) loaded strictly;
    `CheckpointError` naming the file and ``make checkpoints MODEL=superpoint`` when missing or different."""
    path = require_checkpoint(path, SUPERPOINT_CHECKPOINT)
    net = SuperPoint(settings)
    load_state_dict_strict(net, read_state_dict(path, f"SuperPoint {SUPERPOINT_CHECKPOINT.filename}"), path)
    return net.eval()


def load_superglue(path: str | Path | None, settings: SuperGlueSettings | None = None) -> SuperGlue:
    """`SuperGlue` with the official ``superglue_outdoor.pth`` loaded strictly (batch-norm
    ``num_batches_tracked`` counters, unused in inference, are set to 0 when the file has none, as torch does
    for state dicts saved before they existed)."""
    path = require_checkpoint(path, SUPERGLUE_CHECKPOINT)
    net = SuperGlue(settings)
    state_dict = read_state_dict(path, f"SuperGlue {SUPERGLUE_CHECKPOINT.filename}")
    if not any(key.endswith("num_batches_tracked") for key in state_dict):
        state_dict.update({key: torch.tensor(0) for key in net.state_dict() if key.endswith("num_batches_tracked")})
    load_state_dict_strict(net, state_dict, path)
    return net.eval()


class SuperGlueTracker(PointTracker):
    """SuperPoint + SuperGlue matching of each object's reference frame against every other frame.

    Args:
        checkpoint: the official ``superglue_outdoor.pth`` (None: ``checkpoints/superglue_outdoor.pth``).
        superpoint_checkpoint: the official ``superpoint_v1.pth`` (None: beside ``checkpoint``).
        nms_radius, keypoint_threshold, max_keypoints, remove_borders: SuperPoint (`SuperPointSettings`).
        sinkhorn_iterations, match_threshold: SuperGlue (`SuperGlueSettings`).
    """

    needs_checkpoint = True
    uses_reference_masks = True

    def __init__(self, checkpoint: str | Path | None = None, superpoint_checkpoint: str | Path | None = None,
                 device: str | torch.device | None = None, nms_radius: int = 3, keypoint_threshold: float = 0.005,
                 max_keypoints: int = -1, remove_borders: int = 4, sinkhorn_iterations: int = 20,
                 match_threshold: float = 0.2):
        if superpoint_checkpoint is None and checkpoint is not None:
            superpoint_checkpoint = Path(checkpoint).parent / SUPERPOINT_CHECKPOINT.filename
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.superpoint = load_superpoint(superpoint_checkpoint, SuperPointSettings(
            nms_radius, keypoint_threshold, max_keypoints, remove_borders)).to(self.device)
        self.superglue = load_superglue(checkpoint, SuperGlueSettings(sinkhorn_iterations, match_threshold))
        self.superglue.to(self.device)

    @torch.inference_mode()
    def features(self, frame: np.ndarray) -> Features:
        """(H, W, 3) uint8 RGB -> SuperPoint `Features` of its grey image."""
        grey = rgb_to_grayscale(torch.from_numpy(frame).permute(2, 0, 1))
        return self.superpoint((grey[None] / 255).to(self.device))[0]

    @torch.inference_mode()
    def matched_points(self, reference: Features, target: Features) -> np.ndarray:
        """(K, 2) float32 pixel (x, y) of the ``target`` keypoints matched to ``reference`` keypoints, in the
        order of the reference keypoints."""
        matches = self.superglue(reference, target).matches.cpu()
        return target.keypoints.cpu()[matches[matches > -1]].numpy()

    def track(self, frames: np.ndarray | FrameSource, queries: np.ndarray,
              reference: ReferenceMasks | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame points of M objects (see the module docstring): ``queries`` (M * P, 3), each object's P
        points (positives first) on its query frame, ``reference`` their masks -> tracks (T, M * P, 2)
        float32, visible (T, M * P) bool."""
        source, queries = check_track_source(frames, queries)
        if reference is None:
            raise ValueError("the superglue point tracker chooses each frame's points from the objects' reference "
                             "masks: call track(frames, queries, reference=ReferenceMasks(...))")
        masks, query_frames = reference.check(queries, source.frame_size)
        num_frames, num_objects = source.num_frames, len(masks)
        num_points = len(queries) // num_objects
        tracks = np.zeros((num_frames, num_objects, num_points, 2), np.float32)
        visible = np.zeros((num_frames, num_objects, num_points), bool)
        tracks[query_frames, np.arange(num_objects)] = queries.reshape(num_objects, num_points, 3)[:, :, 1:]
        draws = np.random.RandomState(reference.seed)
        references = {t: self.features(source.frame(t)) for t in np.unique(query_frames).tolist()}
        for t in range(num_frames):
            target = None
            for r, ref_features in references.items():
                if r == t:
                    continue
                if target is None:
                    target = self.features(source.frame(t))
                candidates = self.matched_points(ref_features, target)
                for m in np.flatnonzero(query_frames == r):
                    tracks[t, m], visible[t, m] = draw_points(candidates, masks[m], reference.num_positive,
                                                              num_points - reference.num_positive, draws)
        return tracks.reshape(num_frames, -1, 2), visible.reshape(num_frames, -1)


def draw_points(candidates: np.ndarray, mask: np.ndarray, num_positive: int, num_negative: int,
                draws: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) matched (x, y), (H, W) bool mask -> (P, 2) float32 points, (P,) bool visible: ``num_positive``
    drawn with replacement from the candidates inside the mask, then ``num_negative`` from those outside,
    each group padded with not-visible (-1, -1) when it has fewer candidates."""
    inside = mask[candidates[:, 1].astype(int), candidates[:, 0].astype(int)]
    points, visible = [], []
    for group, count in ((candidates[inside], num_positive), (candidates[~inside], num_negative)):
        chosen = group[draws.choice(a=len(group), size=min(len(group), count))]
        points += [chosen, np.full((count - len(chosen), 2), -1, np.float32)]
        visible += [np.ones(len(chosen), bool), np.zeros(count - len(chosen), bool)]
    return np.concatenate(points).astype(np.float32), np.concatenate(visible)
