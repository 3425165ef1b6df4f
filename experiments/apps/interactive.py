"""Simulated interactive point-based video segmentation (the authors' ``SamPtInteractive`` protocol).

SysCV/sam-pt ``sam_pt/modeling/sam_pt_interactive.py`` (run by ``sam_pt/vos_eval/eval.py`` with
``simulate_interactive_point_correction=true``), equal to theirs on a recording of online, offline and
no-tracking runs (``tests/fixtures/authors_interactive``, ``tests/experiments/apps/test_authors_interactive.py``:
the same interactions, clicks, passes and IoU curves; final masks on every pixel but one, float rounding);
one object at a time, as the authors run it:

1. The object's query points (one positive point by default) are sampled from its first ground-truth mask
   and tracked through the whole video (forward and backward); they count as interactions.
2. A simulated annotator walks the frames in order. On each frame the segmenter is prompted with the
   frame's visible points in their order (positives only, then all points with the first pass's logits
   when there are negatives, then the refinement passes; no predicted-IoU threshold; no mask without a positive point) and
   the mask's IoU (J, 1 when both masks are empty) with the ground truth is compared with the threshold.
3. Below the threshold, while the budgets allow (``interactions_max`` in all, ``interactions_max_per_frame``
   per visit of a frame), one correction per interaction, in this order (`choose_correction`):
   remove the first visible negative point that lies on the object (it is hidden from this frame on),
   else the first visible positive point that lies off the object (likewise), else add a point: positive
   in the false-negative region if it is larger than the false-positive region, else negative in the
   false-positive region, at the first k-medoid (k = min(3, region size)) of the region's largest DBSCAN
   cluster (`error_region_point`; its random subsamples are drawn by a torch generator per object,
   `annotator_seed`). An added point is tracked from this frame onward (invisible before).
   The frame is left when its IoU reaches the threshold or its per-frame budget is spent.
4. Online mode uses one threshold; offline mode sweeps `OFFLINE_THRESHOLDS` in order, restarting at frame
   0 with the points so far after each complete pass. Every completed pass is kept; at the end the result
   is the final points, or the completed pass with the best mean IoU if that is higher. The authors' sweep
   is shared by all objects of a run (``InteractiveSettings.shared_offline_sweep``; off by default).
5. The baseline without tracking (``disable_point_tracking``): no query points, threshold 1.0, budget
   ``interactions_max_per_frame`` per frame; each added point exists on its frame only.

After every interaction the mean IoU over all frames is recomputed ("overall" before/after, as the
authors do; per-frame results are cached by prompt, so only frames whose prompt changed are segmented
again). Per object the history of interactions and the IoU-vs-interactions curve are returned.

CLI: ``python -m experiments.apps.interactive --dataset davis17 --root R --split val --out DIR`` writes
``DIR/<video>/interactive.json``, ``DIR/<video>/masks.npz`` (``object_<id>``: (T, H, W) bool final masks) and
``DIR/<video>/iou_vs_interactions.png`` (and ``--mp4`` overlays).
DBSCAN is scikit-learn's with the authors' parameters. J and F are our DAVIS
`evaluation.davis_metrics.mask_scores` (theirs: the davis2017 package's, equal on the recording).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from evaluation.davis_metrics import boundary_radius, mask_scores
from trackers.sampt.engine import Clip, VideoObjects
from trackers.sampt.query_points import alternate_kmedoids, video_rng

LOG = logging.getLogger(__name__)

#: the authors' offline sweep (``SamPtInteractive.offline_interactive_iou_thresholds``)
OFFLINE_THRESHOLDS = (0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.88, 0.90, 0.92, 0.95)


# ----------------------------------------------------------------------------------------- annotator
def dbscan_labels(points: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN cluster label of each (n, d) point, (n,) int64, -1 for noise: scikit-learn's
    ``sklearn.cluster.DBSCAN(eps, min_samples)``, as the authors' code (a core point has at least
    ``min_samples`` points, itself included, within ``eps``)."""
    if len(points) == 0:  # scikit-learn rejects an empty array
        return np.zeros(0, np.int64)
    from sklearn.cluster import DBSCAN  # imported here: only the interactive protocol needs scikit-learn

    return DBSCAN(eps=eps, min_samples=min_samples).fit(points).labels_.astype(np.int64)


def error_region_point(mask: np.ndarray, generator: torch.Generator, dbscan_points: int = 18000,
                       min_cluster_points: int = 180, kmedoid_points: int = 720) -> np.ndarray:
    """Where the annotator clicks in an error region: (2,) float32 (x, y).

    As the authors' ``extract_largest_cluster_points`` (SysCV/sam-pt 874ff7e,
    ``sam_pt/modeling/sam_pt_interactive.py:700-737``), with the same random draws: the (H, W) bool ``mask``'s
    pixels in raster order, permuted by ``torch.randperm`` (of ``generator``) and cut to ``dbscan_points``;
    DBSCAN (eps = 2.4 H W / ``dbscan_points``, min_samples 10) on them; the largest cluster (ties: the label
    met first, as ``Counter.most_common``), or all the mask's pixels in raster order if there is no cluster or
    it has fewer than ``min_cluster_points``; a second ``torch.randperm`` cut to ``kmedoid_points``; K-medoids
    (K = min(3, pixels in the mask)) on their float32 distances (scikit-learn's, as scikit-learn-extra's
    ``KMedoids`` computes them for their float32 points); the first medoid. Equal to theirs on every click of
    ``tests/fixtures/authors_interactive`` (``tests/experiments/apps/test_authors_interactive.py``).
    """
    from sklearn.metrics import pairwise_distances

    pixels = np.argwhere(mask).astype(np.float32)  # (n, 2) (y, x)
    if len(pixels) == 0:
        raise ValueError("error_region_point: the error region is empty")
    subset = pixels[torch.randperm(len(pixels), generator=generator)[:dbscan_points].numpy()]
    eps = 2.4 * mask.shape[0] * mask.shape[1] / dbscan_points
    labels = dbscan_labels(subset, eps, 10)
    found = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    cluster = pixels
    if len(found[0]):
        ids, first, counts = found
        largest = ids[np.lexsort((first, -counts))[0]]  # most members, then first met
        if counts[ids == largest][0] >= min_cluster_points:
            cluster = subset[labels == largest]
    cluster = cluster[torch.randperm(len(cluster), generator=generator)[:kmedoid_points].numpy()]
    medoids = alternate_kmedoids(pairwise_distances(cluster), min(3, len(pixels), len(cluster)))
    y, x = cluster[medoids[0]]
    return np.array([x, y], np.float32)


def annotator_seed(seed: int, video: str, object_id: int) -> int:
    """The seed of the generator that draws one object's clicks (`error_region_point`) in `simulate_video`:
    determined by (run seed, video name, object id) only."""
    return int(video_rng(seed, f"{video}/annotator/{object_id}").integers(2**31))


@dataclass(frozen=True)
class Correction:
    """One annotator action on one frame.

    Attributes:
        action: "remove" or "add"; kind: "positive" or "negative" (the point's label).
        point: index of the removed point, or the index the added point gets (N).
        xy: (2,) float32 (x, y) of an added point (None for removals).
    """

    action: str
    kind: str
    point: int
    xy: np.ndarray | None = None


def choose_correction(pred: np.ndarray, gt: np.ndarray, points: np.ndarray, visible: np.ndarray,
                      labels: np.ndarray, generator: torch.Generator) -> Correction:
    """The annotator's next correction on a frame whose mask is not good enough.

    Args:
        pred, gt: (H, W) bool predicted and ground-truth masks.
        points: (N, 2) float (x, y) of all points on this frame; visible: (N,) bool; labels: (N,) 1/0.

    Returns:
        remove the first visible negative point on the object (gt), else the first visible positive point
        off the object, else add a point in the larger of the false-negative / false-positive regions (ties:
        false positive) at `error_region_point`.
    """
    height, width = gt.shape
    wrong_negative, wrong_positive = None, None
    for index in np.flatnonzero(visible):
        x, y = np.rint(points[index]).astype(np.int64)
        on_object = bool(gt[min(max(y, 0), height - 1), min(max(x, 0), width - 1)])
        if labels[index] == 1 and not on_object and wrong_positive is None:
            wrong_positive = int(index)
        if labels[index] != 1 and on_object and wrong_negative is None:
            wrong_negative = int(index)
    if wrong_negative is not None:
        return Correction("remove", "negative", wrong_negative)
    if wrong_positive is not None:
        return Correction("remove", "positive", wrong_positive)
    false_negative = gt & ~pred
    false_positive = pred & ~gt
    if false_negative.sum() > false_positive.sum():
        return Correction("add", "positive", len(labels), error_region_point(false_negative, generator))
    if not false_positive.any():
        raise ValueError("choose_correction: the mask equals the ground truth; there is nothing to correct")
    return Correction("add", "negative", len(labels), error_region_point(false_positive, generator))


# ----------------------------------------------------------------------------------------- segmenting
class FramePrompter:
    """Prompts SAM-PT's segmenter with one object's points on one frame, through the engine
    (`trackers.sampt.model.SamPt.run_video` on given points, that frame only), with the model's knobs: the
    authors' interactive runs prompt without an IoU threshold, without other objects' points and with no
    mask without a positive point (``configs/model/sampt_interactive.yaml``).

    Embeddings are cached per frame (a `trackers.sampt.engine.Clip` that keeps them, as the authors cache
    SAM's encoder output); frame scores are cached by (frame, prompt), so a full pass only segments frames
    whose prompt changed.
    """

    def __init__(self, sampt, frame_at, gt: np.ndarray, rng: np.random.Generator):
        self.sampt = sampt
        self.gt = gt
        self.rng = rng
        self.radius = boundary_radius(gt.shape[1:])
        self.clip = Clip(frame_at, len(gt), sampt.segmenter, keep_embeddings=True)
        self._scores: dict[tuple, tuple[float, float, float]] = {}

    def predict(self, t: int, coords: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
        """(K, 2) points with (K,) labels on frame t -> ((H, W) bool mask, predicted IoU; 0 without a positive)."""
        height, width = self.gt.shape[1:]
        if len(coords) == 0 or not (labels == 1).any():
            return np.zeros((height, width), bool), 0.0
        tracks = np.zeros((len(self.gt), 1, len(coords), 2), np.float32)
        tracks[t, 0] = coords
        visible = np.zeros(tracks.shape[:3], bool)
        visible[t] = True
        # in the points' own order, as the authors' prompt (the decoder's sums depend on it in the last bits)
        objects = VideoObjects([1], np.zeros(1, np.int64), tracks=tracks, visible=visible,
                               num_positive=int((labels == 1).sum()), point_labels=np.asarray(labels, np.int64))
        run = self.sampt.run_video(self.clip, objects, rngs=[self.rng])
        (_, chosen, logits), = run.object_logits(frames=[t])
        mask = (logits[0] > 0).numpy() if len(chosen) else np.zeros((height, width), bool)
        return mask, float(np.nan_to_num(run.iou[t, 0]))

    def scores(self, t: int, coords: np.ndarray, labels: np.ndarray, mask: np.ndarray | None = None
               ) -> tuple[float, float, float]:
        """(J, F, predicted IoU) of the prompt on frame t against the ground truth (cached)."""
        key = (t, np.asarray(coords, np.float32).tobytes(), np.asarray(labels, np.int64).tobytes())
        if key not in self._scores:
            score = None
            if mask is None:
                mask, score = self.predict(t, coords, labels)
            j, f = mask_scores(self.gt[t], mask, self.radius)
            self._scores[key] = (j, f, score)
        return self._scores[key]


@dataclass
class PointSet:
    """One object's points: tracks (T, N, 2) float32 (x, y), visible (T, N) bool, labels (N,) int64 (1/0)."""

    tracks: np.ndarray
    visible: np.ndarray
    labels: np.ndarray

    def on_frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        return self.tracks[t][self.visible[t]], self.labels[self.visible[t]]

    def copy(self) -> "PointSet":
        return PointSet(self.tracks.copy(), self.visible.copy(), self.labels.copy())


@dataclass
class InteractiveSettings:
    """The protocol's knobs (the authors' ``SamPtInteractive`` arguments and defaults).

    ``shared_offline_sweep``: the authors' offline sweep is one list per model that each object's simulation
    pops in place (SysCV/sam-pt 874ff7e ``sam_pt/modeling/sam_pt_interactive.py:97,254,293``), so an object
    starts at the first threshold the run's previous objects (and videos) did not reach, and their run fails
    on the object after the last threshold is spent. On (as recorded in
    ``tests/fixtures/authors_interactive``), `simulate_video` carries one sweep through a run and raises a
    `ValueError` there; off (default), every object walks the whole sweep (docs/protocol.md section 9 for
    the measured effect).
    """

    interactions_max: int = 300
    interactions_max_per_frame: int = 3
    online: bool = False
    online_iou_threshold: float = 0.9
    offline_iou_thresholds: tuple[float, ...] = OFFLINE_THRESHOLDS
    disable_point_tracking: bool = False
    shared_offline_sweep: bool = False

    def __post_init__(self):
        for name in ("interactions_max", "interactions_max_per_frame"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.online_iou_threshold <= 1:
            raise ValueError(f"online_iou_threshold must be in (0, 1], got {self.online_iou_threshold}")


@dataclass
class InteractiveResult:
    """One object's simulation.

    Attributes:
        history: one dict per interaction (action, type, frame, point, iou before/after on the frame,
            interactions_left before it, threshold, overall (mean over frames) IoU / F / J&F before/after).
        passes: completed passes over the video: threshold, mean IoU / F, interactions used.
        frame_ious: (T,) J of the final result per frame; final_iou: their mean.
        interactions_used: query points plus corrections.
        points: the final `PointSet`; masks: (T, H, W) bool final masks (the segmenter on its points).
    """

    history: list[dict]
    passes: list[dict]
    frame_ious: np.ndarray
    final_iou: float
    interactions_used: int
    points: PointSet = field(repr=False)
    masks: np.ndarray = field(repr=False)


def _full_pass(prompter: FramePrompter, points: PointSet, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.array([prompter.scores(t, *points.on_frame(t))[:2] for t in range(num_frames)])
    return scores[:, 0], scores[:, 1]


@dataclass
class _Walk:
    """Where the simulated annotator is: the pass's threshold, the frame, the interactions spent on this visit
    of it, and the per-frame J and F of the pass so far."""

    threshold: float
    frame: int = 0
    frame_interactions: int = 0
    pass_j: list = field(default_factory=list)
    pass_f: list = field(default_factory=list)

    def leave_frame(self, j: float, f: float) -> None:
        self.frame, self.frame_interactions = self.frame + 1, 0
        self.pass_j.append(j)
        self.pass_f.append(f)


def _starting_points(sampt, frames: np.ndarray, query_points: np.ndarray, settings: InteractiveSettings
                     ) -> tuple[PointSet, int, int]:
    """(the points before any correction, interactions budget, interactions left)."""
    num_frames = len(frames)
    if settings.disable_point_tracking:
        budget = settings.interactions_max_per_frame * num_frames
        points = PointSet(np.zeros((num_frames, 1, 2), np.float32), np.zeros((num_frames, 1), bool),
                          np.ones(1, np.int64))
        return points, budget, budget
    query_points = np.asarray(query_points, np.float32)
    tracks, visible = sampt.track_objects(frames, query_points[None])
    labels = (np.arange(len(query_points)) < sampt.positive_points_per_mask).astype(np.int64)
    return PointSet(tracks[:, 0], visible[:, 0], labels), settings.interactions_max, \
        settings.interactions_max - len(query_points)


def _object_thresholds(settings: InteractiveSettings, sweep: list[float] | None) -> list[float]:
    """The thresholds one object walks through (popped as passes start): the run's shared ``sweep`` itself
    in offline mode with ``shared_offline_sweep``, else a list of its own."""
    if settings.disable_point_tracking:
        return [1.0]
    if settings.online:
        return [settings.online_iou_threshold]
    if not settings.shared_offline_sweep:
        return list(settings.offline_iou_thresholds)
    if not sweep:
        raise ValueError("the shared offline sweep is spent: the run's earlier objects passed its last threshold "
                         "(the authors' code fails here too); run fewer objects or set shared_offline_sweep off")
    return sweep


def simulate_object(sampt, frames: np.ndarray, gt: np.ndarray, query_points: np.ndarray,
                    settings: InteractiveSettings, rng: np.random.Generator, clicks: torch.Generator,
                    sweep: list[float] | None = None) -> InteractiveResult:
    """Run the protocol (module docstring) for one object.

    Args:
        sampt: a `trackers.sampt.model.SamPt` (its tracker, segmenter and prompting knobs).
        frames: (T, H, W, 3) uint8.
        gt: (T, H, W) bool ground-truth masks of the object (empty where it is absent).
        query_points: (P, 3) float (t, x, y) query points, the first ``sampt.positive_points_per_mask``
            positive (ignored with ``disable_point_tracking``).
        rng: the segmenter's generator; clicks: the annotator's (`error_region_point`); sweep: the run's
            remaining thresholds with ``settings.shared_offline_sweep`` (popped in place).
    """
    num_frames = len(frames)
    if gt.shape != frames.shape[:3]:
        raise ValueError(f"gt masks {gt.shape} must match the frames {frames.shape[:3]}")
    prompter = FramePrompter(sampt, lambda t: frames[t], gt, rng)
    thresholds = _object_thresholds(settings, sweep)
    points, budget, left = _starting_points(sampt, frames, query_points, settings)

    def overall(current: PointSet) -> tuple[float, float] | None:
        if settings.disable_point_tracking:
            return None
        j, f = _full_pass(prompter, current, num_frames)
        return float(j.mean()), float(f.mean())

    history, passes, saved = [], [], []
    walk = _Walk(thresholds.pop(0))
    prev = overall(points) or tuple(float(v.mean()) for v in _full_pass(prompter, points, num_frames))
    while left > 0:
        if walk.frame == num_frames:
            passes.append({"threshold": walk.threshold, "mean_iou": float(np.mean(walk.pass_j)),
                           "mean_boundary": float(np.mean(walk.pass_f)), "interactions_used": budget - left,
                           "frame_ious": list(walk.pass_j)})
            saved.append(points.copy())
            if not thresholds:
                break
            walk = _Walk(thresholds.pop(0))
        coords, labels = points.on_frame(walk.frame)
        mask, _ = prompter.predict(walk.frame, coords, labels)
        j, f, _ = prompter.scores(walk.frame, coords, labels, mask)
        if j >= walk.threshold:
            walk.leave_frame(j, f)
            continue
        correction = choose_correction(mask, gt[walk.frame], points.tracks[walk.frame], points.visible[walk.frame],
                                       points.labels, clicks)
        points = apply_correction(sampt, frames, points, walk.frame, correction, settings.disable_point_tracking)
        j_after, f_after, _ = prompter.scores(walk.frame, *points.on_frame(walk.frame))
        after = overall(points) or prev
        history.append(_history_entry(correction, walk, (j, f), (j_after, f_after), prev, after, left))
        left -= 1
        walk.frame_interactions += 1
        prev = after
        if j_after >= walk.threshold or walk.frame_interactions >= settings.interactions_max_per_frame:
            walk.leave_frame(j_after, f_after)
    points, frame_j = _best_points(prompter, points, passes, saved, num_frames)
    masks = np.stack([prompter.predict(t, *points.on_frame(t))[0] for t in range(num_frames)])
    return InteractiveResult(history=history, passes=passes, frame_ious=frame_j, final_iou=float(frame_j.mean()),
                             interactions_used=budget - left, points=points, masks=masks)


def _history_entry(correction: Correction, walk: _Walk, before: tuple, after: tuple, overall_before: tuple,
                   overall_after: tuple, interactions_left: int) -> dict:
    """One interaction as the history records it (frame J/F and overall IoU/F before and after)."""
    return {
        "action": correction.action, "type": correction.kind, "frame": walk.frame, "point": correction.point,
        "xy": None if correction.xy is None else correction.xy.tolist(),
        "iou_before": before[0], "iou_after": after[0], "boundary_before": before[1], "boundary_after": after[1],
        "interactions_left": interactions_left, "threshold": walk.threshold,
        "overall_iou_before": overall_before[0], "overall_iou_after": overall_after[0],
        "overall_boundary_before": overall_before[1], "overall_boundary_after": overall_after[1],
        "jf_before": (overall_before[0] + overall_before[1]) / 2, "jf_after": (overall_after[0] + overall_after[1]) / 2,
    }


def _best_points(prompter: FramePrompter, points: PointSet, passes: list[dict], saved: list[PointSet],
                 num_frames: int) -> tuple[PointSet, np.ndarray]:
    """The final points, or the completed pass's points with the best mean IoU if that is higher; with their
    (T,) per-frame J."""
    frame_j, _ = _full_pass(prompter, points, num_frames)
    if passes:
        best = int(np.argmax([p["mean_iou"] for p in passes]))
        if passes[best]["mean_iou"] > frame_j.mean():
            points = saved[best]
            frame_j, _ = _full_pass(prompter, points, num_frames)
    return points, frame_j


def apply_correction(sampt, frames: np.ndarray, points: PointSet, t: int, correction: Correction,
                     disable_point_tracking: bool = False) -> PointSet:
    """The `PointSet` after ``correction`` on frame t: a removed point is hidden from frame t on; an added
    point is tracked from frame t onward (on frame t only without tracking), invisible before."""
    points = points.copy()
    if correction.action == "remove":
        points.visible[t:, correction.point] = False
        return points
    num_frames = len(frames)
    new_tracks = np.zeros((num_frames, 1, 2), np.float32)
    new_visible = np.zeros((num_frames, 1), bool)
    if not disable_point_tracking:
        query = np.array([[[0.0, *correction.xy]]], np.float32)
        tracks, visible = sampt.track_objects(frames[t:], query)
        new_tracks[t:] = tracks[:, 0]
        new_visible[t:] = visible[:, 0]
    new_tracks[t, 0] = correction.xy
    new_visible[t, 0] = True
    label = 1 if correction.kind == "positive" else 0
    return PointSet(np.concatenate([points.tracks, new_tracks], axis=1),
                    np.concatenate([points.visible, new_visible], axis=1),
                    np.concatenate([points.labels, [label]]).astype(np.int64))


# ----------------------------------------------------------------------------------------- outputs
def iou_curve(result: InteractiveResult, num_query_points: int) -> dict:
    """IoU vs number of interactions: the authors' overall-IoU history lists, with the interaction count."""
    thresholds = [entry["threshold"] for entry in result.history]
    achieved = [max([0.0] + [v for v in thresholds[:i + 1] if v < thresholds[i]]) for i in range(len(thresholds))]
    after = [entry["overall_iou_after"] for entry in result.history]
    return {
        "interactions": [num_query_points + i + 1 for i in range(len(result.history))],
        "threshold": thresholds,
        "achieved_threshold": achieved,
        "before": [entry["overall_iou_before"] for entry in result.history],
        "after": after,
        "final": [max(a, b) for a, b in zip(achieved, after)],
    }


def plot_curves(path: Path, curves: dict[int, dict], title: str) -> None:
    """PNG of overall IoU vs interactions, one line per object (plus its threshold when there is one)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    for obj, curve in curves.items():
        line, = axis.plot(curve["interactions"], curve["after"], label=f"object {obj}: IoU after", linewidth=2)
        axis.plot(curve["interactions"], curve["threshold"], linestyle=":", color=line.get_color(),
                  label=f"object {obj}: threshold")
    axis.set_xlabel("interactions (query points + corrections)")
    axis.set_ylabel("mean IoU over frames")
    axis.set_ylim(0, 1.02)
    axis.set_title(title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_overlay(path: Path, frames: np.ndarray, points: PointSet, prompter: FramePrompter,
                  object_id: int, fps: int = 10) -> None:
    """MP4 of the final masks with the visible points (positive circles, negative crosses)."""
    from datasets.png import DAVIS_PALETTE
    from experiments.visualize import VideoFileWriter, draw_points, overlay

    with VideoFileWriter(path, fps) as writer:
        for t in range(len(frames)):
            coords, labels = points.on_frame(t)
            mask, _ = prompter.predict(t, coords, labels)
            image = overlay(frames[t], mask.astype(np.uint8) * object_id)
            colours = np.repeat(DAVIS_PALETTE[[object_id]], len(coords), axis=0)
            draw_points(image, coords, np.ones(len(coords), bool), labels == 1, colours)
            writer.write(image)


def simulate_video(sampt, video, settings: InteractiveSettings, out: Path | None = None, seed: int = 0,
                   mp4: bool = False, sweep: list[float] | None = None) -> dict:
    """Run the protocol on every object of a `datasets.video.Video` with ground truth on every frame;
    write ``out/<video>/interactive.json``, ``masks.npz`` and ``iou_vs_interactions.png`` when ``out`` is given.
    ``sweep``: with ``settings.shared_offline_sweep``, the run's remaining offline thresholds (popped in place,
    so pass the same list for every video of a run); None: the whole sweep from this video's first object."""
    from infra.files import atomic_write, write_json_atomic

    missing = [t for t in range(video.num_frames) if not video.has_annotation(t)]
    if missing:
        raise ValueError(f"video {video.name}: the interactive simulation needs ground truth on every frame; "
                         f"frames {missing[:5]} have none (use a split with dense annotations, e.g. DAVIS val)")
    frames = np.stack(list(video.iter_frames()))
    labels = np.stack([video.annotation(t) for t in range(video.num_frames)])
    if labels.shape[1:] != frames.shape[1:3]:
        raise ValueError(f"video {video.name}: frames are {frames.shape[1:3]} but annotations {labels.shape[1:]}; "
                         f"use frames at the annotation size")
    rng = video_rng(seed, video.name)
    sweep = list(settings.offline_iou_thresholds) if sweep is None else sweep
    objects, curves, masks = [], {}, {}
    for obj in video.objects:
        gt = labels == obj.id
        query = sampt.select_query_points(frames[obj.first_frame], gt[obj.first_frame], obj.first_frame, rng,
                                          video=video.name, object_id=obj.id)
        clicks = torch.Generator().manual_seed(annotator_seed(seed, video.name, obj.id))
        result = simulate_object(sampt, frames, gt, query, settings, rng, clicks, sweep)
        masks[f"object_{obj.id}"] = result.masks
        num_query = 0 if settings.disable_point_tracking else len(query)
        curves[obj.id] = iou_curve(result, num_query)
        objects.append({"id": obj.id, "first_frame": obj.first_frame, "query_points": query.tolist(),
                        "final_iou": result.final_iou, "frame_ious": result.frame_ious.tolist(),
                        "interactions_used": result.interactions_used, "passes": result.passes,
                        "curve": curves[obj.id], "history": result.history})
        LOG.info("%s object %d: final IoU %.3f after %d interactions", video.name, obj.id, result.final_iou,
                 result.interactions_used)
        if out is not None and mp4:
            prompter = FramePrompter(sampt, lambda t: frames[t], gt, rng)
            write_overlay(out / video.name / f"object_{obj.id}.mp4", frames, result.points, prompter, obj.id)
    summary = {"video": video.name, "settings": dataclasses.asdict(settings),
               "mean_final_iou": float(np.mean([o["final_iou"] for o in objects])), "objects": objects}
    if out is not None:
        write_json_atomic(out / video.name / "interactive.json", summary)
        atomic_write(out / video.name / "masks.npz", lambda path: _write_npz(path, masks))
        mode = ("per-frame SAM, no tracking" if settings.disable_point_tracking
                else "online" if settings.online else "offline sweep")
        plot_curves(out / video.name / "iou_vs_interactions.png", curves, f"{video.name} ({mode})")
    return summary


def _write_npz(path: str, arrays: dict) -> None:
    with open(path, "wb") as file:  # a file object: numpy would append ".npz" to a path without it
        np.savez_compressed(file, **arrays)


def interactive_sampt(args: argparse.Namespace):
    """SAM-PT from the configs (`configs/eval.yaml` with ``model=sampt_interactive``) and the command line."""
    from experiments.run.schema import compose_config, quoted
    from experiments.run.vos import build_sampt, resolve_device

    overrides = ["model=sampt_interactive", f"tracker={args.tracker}", f"segmenter={args.segmenter}",
                 f"model.positive_points_per_mask={args.positive_points}",
                 f"model.iterative_refinement_iterations={args.refinement_iterations}", f"seed={args.seed}"]
    for role, path in (("tracker", args.checkpoint_tracker), ("segmenter", args.checkpoint_segmenter)):
        if path is not None:
            overrides.append(f"{role}.checkpoint={quoted(path)}")
    cfg = compose_config(*overrides)
    return build_sampt(cfg, args.seed, resolve_device(cfg.device))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sampt-interactive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="reader name (datasets.registry), e.g. davis17")
    parser.add_argument("--root", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--videos", nargs="*", help="only these videos")
    parser.add_argument("--out", default="outputs/interactive")
    parser.add_argument("--tracker", default="lk")
    parser.add_argument("--segmenter", default="grabcut")
    parser.add_argument("--checkpoint-tracker")
    parser.add_argument("--checkpoint-segmenter")
    parser.add_argument("--positive-points", type=int, default=1, help="query points per object (positive)")
    parser.add_argument("--refinement-iterations", type=int, default=0, help="authors' interactive runs use 0")
    parser.add_argument("--interactions-max", type=int, default=300)
    parser.add_argument("--interactions-max-per-frame", type=int, default=3)
    parser.add_argument("--online", action="store_true", help="one threshold (--threshold) instead of the sweep")
    parser.add_argument("--threshold", type=float, default=0.9, help="online IoU threshold")
    parser.add_argument("--disable-point-tracking", action="store_true", help="per-frame SAM baseline")
    parser.add_argument("--shared-offline-sweep", action="store_true",
                        help="as the authors' code: one offline threshold sweep for the whole run, not per object")
    parser.add_argument("--mp4", action="store_true", help="write an overlay MP4 of each object's final masks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from datasets.errors import DatasetError
    from datasets.registry import read_videos
    from trackers.checkpoints import CheckpointError

    try:
        settings = InteractiveSettings(args.interactions_max, args.interactions_max_per_frame, args.online,
                                       args.threshold, disable_point_tracking=args.disable_point_tracking,
                                       shared_offline_sweep=args.shared_offline_sweep)
        sweep = list(settings.offline_iou_thresholds)  # used when the sweep is shared by the run
        sampt = interactive_sampt(args)
        for video in read_videos(args.dataset, args.root, args.split, select=lambda names: args.videos or names):
            summary = simulate_video(sampt, video, settings, Path(args.out), args.seed, args.mp4, sweep)
            print(f"{video.name}: mean final IoU {summary['mean_final_iou']:.3f}")
    except (ValueError, NotImplementedError, CheckpointError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
