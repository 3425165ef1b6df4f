"""SAM-PT: video object segmentation by tracking query points and prompting SAM with them.

`SamPt(point_tracker, segmenter, **knobs)` composes a `PointTracker` and a `Segmenter` (paper Sec. 3.2,
steps 2-4; Appendix A for reinit). Knob names are those of the authors' configuration
(``configs/model/sam_pt.yaml`` of SysCV/sam-pt); the defaults, the paper's, are written once in
`trackers.sampt.knobs` (reinit, when on: variant A, horizon 8).

Per video (`SamPt.segment_video`): query points are sampled from each object's first mask on its first
frame, all objects' points are tracked through the whole clip (forward and backward; frames are read from
a `infra.frames.FrameSource` on demand), points within ``border_margin`` of the image border count as
not visible, SAM is prompted per frame in `SamPt.frame_loop`, the one per-frame loop of VOS, VIS, the SAM
step alone and reinit (frames embedded ``embed_batch_size`` at a time, decoder calls batched over objects,
see `trackers.sampt.prompting`; nothing per frame is held but small arrays), and the objects' logits are
merged into one label map per frame as the authors' evaluation does: softmax over the objects' logits
and a zero background logit, then argmax; an object is background before its first frame and its given
mask is used on its first frame. Recorded outputs of the authors' code back this: their label maps for a
synthetic video (``tests/experiments/run/test_authors_eval_path.py``) and their SAM step on given trajectories
(``tests/trackers/sampt/test_official_sam_step.py``).
"""
from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from infra.background import ReadAhead, serialized
from infra.frames import FrameSource, as_frame_source
from trackers.sampt.knobs import DEFAULTS
from trackers.sampt.mask_box import MaskBoxFinder, UpscalingBoxFinder, has_sam_geometry
from trackers.point.base import PointTracker
from trackers.sampt.reinit import REINIT_TINY_MASK_RULES, REINIT_VARIANTS, ClipPrediction, ReinitPass, merge_directions
from trackers.sampt.prompting import BATCHING_MODES, FramePrediction, PromptSettings, segment_frame
from trackers.segmenters.base import Embedding, Segmenter

LOG = logging.getLogger(__name__)

POINT_SELECTION_METHODS = ("random", "kmedoids", "shi-tomasi", "mixed")
#: logit the authors' evaluation writes for "certainly not / certainly this object"
CERTAIN_LOGIT = 1e8


# ----------------------------------------------------------------------------------------- frames
class Clip:
    """Frames of a video (or the video flipped in time) by clip-local index, embedded on demand.

    Args:
        frame_at: callable ``t -> (H, W, 3) uint8 RGB`` frame in video time (decoded when called).
        num_frames: T.
        segmenter: embeds frames (`Segmenter.embed_many`).
        flipped: clip index t is video frame T - 1 - t.
        keep_embeddings: cache embeddings until `retain` drops them (the reinit pass, whose windows
            overlap); False: every embedding is handed out once and not held (one-pass frame loops).
    """

    def __init__(self, frame_at, num_frames: int, segmenter: Segmenter, flipped: bool = False,
                 keep_embeddings: bool = True):
        self._frame_at = frame_at
        self._num_frames = num_frames
        self._segmenter = segmenter
        self._flipped = flipped
        self._keep = keep_embeddings
        self._embeddings: dict[int, Embedding] = {}
        #: sizes of the last embedded frame, as an `Embedding` without features (for `Segmenter.upscale`)
        self.size_embedding: Embedding | None = None

    def __len__(self) -> int:
        return self._num_frames

    def video_index(self, t: int) -> int:
        return self._num_frames - 1 - t if self._flipped else t

    def frame(self, t: int) -> np.ndarray:
        return self._frame_at(self.video_index(t))

    def window(self, start: int, end: int) -> FrameSource:
        """Clip frames ``start ... end - 1`` as a `FrameSource` (read on demand, window-local index)."""
        first = self.frame(start)
        return FrameSource(lambda t: first if t == 0 else self.frame(start + t), end - start, first.shape[:2])

    def embeddings(self, ts: list[int]) -> list[Embedding]:
        """Embeddings of clip frames ``ts`` (missing ones read and embedded in one `Segmenter.embed_many` call)."""
        missing = [t for t in ts if self.video_index(t) not in self._embeddings]
        fresh = dict(zip(missing, self._segmenter.embed_many([self.frame(t) for t in missing]) if missing else []))
        if fresh:
            last = fresh[missing[-1]]
            self.size_embedding = Embedding(None, last.original_size, last.input_size)
        if self._keep:
            self._embeddings.update({self.video_index(t): e for t, e in fresh.items()})
        return [fresh[t] if t in fresh else self._embeddings[self.video_index(t)] for t in ts]

    def embedding(self, t: int) -> Embedding:
        return self.embeddings([t])[0]

    def retain(self, start: int, end: int) -> None:
        """Drop cached embeddings outside clip frames ``[start, end)``."""
        keep = {self.video_index(t) for t in range(start, end)}
        for key in list(self._embeddings):
            if key not in keep:
                del self._embeddings[key]


@dataclass
class PromptGroup:
    """Objects SAM is prompted for together on each frame of a `SamPt.frame_loop`.

    Attributes:
        tracks: (L, M, P, 2) float32 pixel (x, y); visible: (L, M, P) bool; row ``t - start`` is clip frame t.
        rng: the group's random stream (prompt sampling).
        first_frames: (M,) first frame of each object (inactive before it); None: all active from 0.
        settings: prompt settings (None: the `SamPt`'s own).
        start: clip frame of row 0 of ``tracks``.
    """

    tracks: np.ndarray
    visible: np.ndarray
    rng: np.random.Generator
    first_frames: np.ndarray | None = None
    settings: PromptSettings | None = None
    start: int = 0

    def active(self, t: int) -> np.ndarray:
        """(M,) bool, the objects prompted on clip frame t."""
        if self.first_frames is None:
            return np.ones(self.tracks.shape[1], bool)
        return np.asarray(self.first_frames) <= t


@dataclass
class LoopFrame:
    """One frame of `SamPt.frame_loop`.

    Attributes:
        t: clip frame index.
        embedding: the frame's embedding; None when no object of any group is active (not embedded).
        predictions: per group, the `FramePrediction` of its M objects, or None when none is active.
    """

    t: int
    embedding: Embedding | None
    predictions: list[FramePrediction | None]


def frame_reader(frames) -> tuple[Any, int, tuple[int, int]]:
    """(frame_at: t -> (H, W, 3) uint8, T, (H, W)) of anything `infra.frames.as_frame_source` accepts;
    ``frame_at`` is `infra.background.serialized`: every reader of the video (the point tracker, the frame
    loop's read-ahead thread, an overlay) may call it from any thread."""
    source = as_frame_source(frames)
    return serialized(source.frame), source.num_frames, source.frame_size


#: frames the frame loop reads ahead of the one it embeds (`SamPtVideoRun.merges`)
READ_AHEAD_FRAMES = 4


# ----------------------------------------------------------------------------------------- results
@dataclass
class SamPtVideoResult:
    """What `SamPt.segment_video` returns.

    Attributes:
        labels: (T, H, W) uint8 label maps with the input's object ids (0 background).
        object_ids: the objects, in the order of the per-object arrays.
        scores: object id -> mean predicted IoU over the frames SAM was prompted for it (NaN if none).
        iou: (T, M) float32 predicted IoU per frame (NaN where not prompted).
        query_points: (M, P, 3) float32 (t, x, y), positives first.
        tracks: (T, N, 2) float32 pixel (x, y), N = M * P points, object-major; visible: (T, N) bool.
        point_objects: (N,) object id of each point; point_positive: (N,) bool.
    """

    labels: np.ndarray
    object_ids: list[int]
    scores: dict[int, float]
    iou: np.ndarray
    query_points: np.ndarray
    tracks: np.ndarray
    visible: np.ndarray
    point_objects: np.ndarray
    point_positive: np.ndarray


@dataclass
class SamPtVideoRun:
    """A prepared video: query points and tracks are ready, masks are made frame by frame.

    Iterate `label_maps()` once to get (t, (H, W) uint8) label maps in order; `iou` and `scores` are
    complete afterwards.
    """

    sampt: "SamPt"
    frame_at: Any
    num_frames: int
    frame_size: tuple[int, int]
    object_ids: list[int]
    first_frames: np.ndarray
    first_masks: list[np.ndarray]
    query_points: np.ndarray
    tracks: np.ndarray  # (T, M, P, 2)
    visible: np.ndarray  # (T, M, P)
    rng: np.random.Generator
    reinit: ReinitPass | None = None
    iou: np.ndarray = field(default=None)

    def __post_init__(self):
        self.iou = np.full((self.num_frames, len(self.object_ids)), np.nan, np.float32)
        self._ahead: ReadAhead | None = None

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` (H, W, 3) uint8, for a caller drawing on what `merges` just yielded: while the frame loop
        runs, from its read-ahead (which keeps the frames it just handed over), else from ``frame_at``."""
        return (self._ahead or self.frame_at)(t)

    def label_maps(self, output_size: tuple[int, int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (t, (H', W') uint8 label map) for t = 0 ... T - 1 (H', W' = ``output_size`` or the frame size):
        `merges` with each merge run at once."""
        return ((t, merge()) for t, merge in self.merges(output_size))

    def merges(self, output_size: tuple[int, int] | None = None) -> Iterator[tuple[int, Callable[[], np.ndarray]]]:
        """Yield (t, merge) for t = 0 ... T - 1: calling ``merge()`` makes frame t's (H', W') uint8 label map.

        Frames are read, embedded and prompted one at a time (`SamPt.frame_loop`, the next frames decoded
        ahead on a thread, `infra.background.ReadAhead`; with reinit, the pass's own stream,
        `trackers.sampt.reinit.ReinitPass.frames`); nothing per frame is kept but ``iou``. A merge holds
        only its own frame's predictions and sizes (not its image features), so a caller may run it later or on another thread (upscaling and
        merging a frame while the next is embedded) or not at all (a frame nobody writes).
        """
        sampt = self.sampt
        with contextlib.ExitStack() as stack:
            if self.reinit is None:
                # ahead (and kept for `frame`) at least as many frames as one embedding batch reads at once
                depth = max(READ_AHEAD_FRAMES, getattr(sampt.segmenter, "embed_batch_size", 1))
                self._ahead = stack.enter_context(ReadAhead(self.frame_at, self.num_frames, depth))
                stack.callback(setattr, self, "_ahead", None)
                clip = Clip(self._ahead, self.num_frames, sampt.segmenter, keep_embeddings=False)
                group = PromptGroup(self.tracks, self.visible, self.rng, first_frames=self.first_frames)
                steps = ((step.t, step.embedding, step.predictions[0]) for step in sampt.frame_loop(clip, [group]))
            else:
                steps = ((t, self.reinit.size_embedding, frame) for t, frame in self.reinit.frames())
            for t, embedding, frame in steps:
                active = self.first_frames <= t
                if frame is None or not active.any():
                    yield t, functools.partial(np.zeros, output_size or self.frame_size, np.uint8)
                    continue
                if self.reinit is not None:
                    frame = FramePrediction(frame.low_res_logits, frame.has_mask & active, frame.predicted & active,
                                            np.where(active, frame.iou, np.nan).astype(np.float32))
                self.iou[t] = np.where(frame.predicted, frame.iou, np.nan)
                sizes = Embedding(None, embedding.original_size, embedding.input_size)  # the features can go
                yield t, functools.partial(sampt.merge_frame, sizes, frame, self.object_ids, self.first_frames,
                                           self.first_masks, t, output_size)

    @property
    def scores(self) -> dict[int, float]:
        result = {}
        for k, obj in enumerate(self.object_ids):
            values = self.iou[:, k][~np.isnan(self.iou[:, k])]
            result[obj] = float(values.mean()) if len(values) else float("nan")
        return result


def _first_argmax(values: torch.Tensor) -> torch.Tensor:
    """``values.argmax(dim=0)`` (first maximum wins) for (K, H, W), without a strided reduction."""
    winner = torch.zeros(values.shape[1:], dtype=torch.long)
    best = values[0].clone()
    for k in range(1, len(values)):
        better = values[k] > best
        winner[better] = k
        best = torch.maximum(best, values[k])
    return winner


# ----------------------------------------------------------------------------------------- SAM-PT
def _choice(name: str, value, choices) -> Any:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; valid choices: {', '.join(map(str, choices))}")
    return value


def _int_at_least(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _number(name: str, value) -> float:
    """Any finite number (the authors' knobs take any float: e.g. a negative IoU threshold keeps every mask)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _fraction(name: str, value, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not low <= float(value) <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class SamPt:
    """SAM-PT over a point tracker and a segmenter. Every knob of the paper is an argument.

    Args:
        point_tracker: tracks the query points (`trackers.point.base.PointTracker`).
        segmenter: point-prompted segmenter (`trackers.segmenters.base.Segmenter`).
        positive_points_per_mask, negative_points_per_mask: query points per object (paper: 8 and 1).
        positive_point_selection_method, negative_point_selection_method: one of `POINT_SELECTION_METHODS`.
        iterative_refinement_iterations: box-refinement passes (paper: 12; 0 disables).
        sam_iou_threshold: masks with a lower predicted IoU are emptied (authors: 0.7); any number, as in
            the authors' code (a negative one keeps every mask, e.g. for uncalibrated random weights).
        add_other_objects_positive_points_as_negative_points: other objects' visible positives as negatives.
        max_other_objects_positive_points: cap on those (random subset), None for no cap.
        use_patch_matching_filtering, patch_size, patch_similarity_threshold: `trackers.sampt.patch_similarity`.
        use_point_reinit, reinit_point_tracker_horizon, reinit_horizon, reinit_variant: `trackers.sampt.reinit`.
        reinit_tiny_masks: a reinit mask of <= 25 px is re-sampled as the authors' code does ("authors", the
            default; an empty one gives positive points at (0, 0)) or stops the object ("stop", the paper's
            Appendix A rule); see `trackers.sampt.reinit`.
        empty_mask_without_positive_point: no mask when only negative points are visible (the authors
            still prompt SAM then, with no point in pass 1; default False reproduces that).
        border_margin: points within this fraction of the width/height of the border are not visible.
        seed: run seed; per-video randomness comes from (seed, video name).
        decoder_batching: see `trackers.sampt.prompting.BATCHING_MODES`.
        untransformed_refinement_box: reproduce the authors' refinement box coordinates at any frame size
            (see `trackers.sampt.prompting.PromptSettings`).
        use_first_mask_on_query_frame: write each object's given mask on its first frame, as the authors'
            evaluation does.
    """

    def __init__(
        self,
        point_tracker: PointTracker,
        segmenter: Segmenter,
        *,
        positive_points_per_mask: int = DEFAULTS.positive_points_per_mask,
        negative_points_per_mask: int = DEFAULTS.negative_points_per_mask,
        positive_point_selection_method: str = DEFAULTS.positive_point_selection_method,
        negative_point_selection_method: str = DEFAULTS.negative_point_selection_method,
        iterative_refinement_iterations: int = DEFAULTS.iterative_refinement_iterations,
        sam_iou_threshold: float = DEFAULTS.sam_iou_threshold,
        add_other_objects_positive_points_as_negative_points: bool = DEFAULTS.add_other_objects_positive_points_as_negative_points,
        max_other_objects_positive_points: int | None = DEFAULTS.max_other_objects_positive_points,
        use_patch_matching_filtering: bool = DEFAULTS.use_patch_matching_filtering,
        patch_size: int = DEFAULTS.patch_size,
        patch_similarity_threshold: float = DEFAULTS.patch_similarity_threshold,
        use_point_reinit: bool = DEFAULTS.use_point_reinit,
        reinit_point_tracker_horizon: int = DEFAULTS.reinit_point_tracker_horizon,
        reinit_horizon: int = DEFAULTS.reinit_horizon,
        reinit_variant: str = DEFAULTS.reinit_variant,
        reinit_tiny_masks: str = DEFAULTS.reinit_tiny_masks,
        empty_mask_without_positive_point: bool = DEFAULTS.empty_mask_without_positive_point,
        border_margin: float = DEFAULTS.border_margin,
        seed: int = 0,
        decoder_batching: str = DEFAULTS.decoder_batching,
        untransformed_refinement_box: bool = DEFAULTS.untransformed_refinement_box,
        use_first_mask_on_query_frame: bool = DEFAULTS.use_first_mask_on_query_frame,
    ):
        self.point_tracker = point_tracker
        self.segmenter = segmenter
        self.positive_points_per_mask = _int_at_least("positive_points_per_mask", positive_points_per_mask, 1)
        self.negative_points_per_mask = _int_at_least("negative_points_per_mask", negative_points_per_mask, 0)
        self.positive_point_selection_method = _choice(
            "positive_point_selection_method", positive_point_selection_method, POINT_SELECTION_METHODS)
        self.negative_point_selection_method = _choice(
            "negative_point_selection_method", negative_point_selection_method, POINT_SELECTION_METHODS)
        self.iterative_refinement_iterations = _int_at_least(
            "iterative_refinement_iterations", iterative_refinement_iterations, 0)
        self.sam_iou_threshold = _number("sam_iou_threshold", sam_iou_threshold)
        self.add_other_objects_positive_points_as_negative_points = bool(
            add_other_objects_positive_points_as_negative_points)
        self.max_other_objects_positive_points = (
            None if max_other_objects_positive_points is None
            else _int_at_least("max_other_objects_positive_points", max_other_objects_positive_points, 0))
        self.use_patch_matching_filtering = bool(use_patch_matching_filtering)
        self.patch_size = _int_at_least("patch_size", patch_size, 1)
        if self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd (a patch centred on the point), got {patch_size}")
        self.patch_similarity_threshold = _fraction("patch_similarity_threshold", patch_similarity_threshold)
        self.use_point_reinit = bool(use_point_reinit)
        self.reinit_point_tracker_horizon = _int_at_least("reinit_point_tracker_horizon",
                                                          reinit_point_tracker_horizon, 2)
        self.reinit_horizon = _int_at_least("reinit_horizon", reinit_horizon, 2)
        if self.reinit_point_tracker_horizon < self.reinit_horizon:
            raise ValueError(f"reinit_point_tracker_horizon ({reinit_point_tracker_horizon}) must be >= "
                             f"reinit_horizon ({reinit_horizon})")
        self.reinit_variant = _choice("reinit_variant", reinit_variant, REINIT_VARIANTS)
        self.reinit_tiny_masks = _choice("reinit_tiny_masks", reinit_tiny_masks, REINIT_TINY_MASK_RULES)
        self.empty_mask_without_positive_point = bool(empty_mask_without_positive_point)
        self.border_margin = _fraction("border_margin", border_margin, 0.0, 0.5)
        self.seed = _int_at_least("seed", seed, 0)
        self.decoder_batching = _choice("decoder_batching", decoder_batching, BATCHING_MODES)
        self.untransformed_refinement_box = bool(untransformed_refinement_box)
        self.use_first_mask_on_query_frame = bool(use_first_mask_on_query_frame)
        self._box_finders: dict[tuple, MaskBoxFinder] = {}

    # ------------------------------------------------------------------------------- building blocks
    def prompt_settings(self, num_positive: int | None = None, num_points: int | None = None) -> PromptSettings:
        num_positive = self.positive_points_per_mask if num_positive is None else num_positive
        two_pass = (self.negative_points_per_mask > 0 if num_points is None else num_points > num_positive)
        return PromptSettings(
            num_positive=num_positive,
            two_pass=two_pass,
            refinement_iterations=self.iterative_refinement_iterations,
            iou_threshold=self.sam_iou_threshold,
            other_objects_as_negatives=self.add_other_objects_positive_points_as_negative_points,
            max_other_objects_points=self.max_other_objects_positive_points,
            empty_mask_without_positive_point=self.empty_mask_without_positive_point,
            batching=self.decoder_batching,
            untransformed_refinement_box=self.untransformed_refinement_box,
        )

    def box_finder(self, embedding: Embedding) -> MaskBoxFinder | UpscalingBoxFinder:
        """Refinement-box finder for this frame size: `MaskBoxFinder` when the segmenter's `upscale` is SAM's
        geometry (checked once per frame size), else boxes from the segmenter's own upscaling."""
        key = (tuple(embedding.input_size), tuple(embedding.original_size))
        if key not in self._box_finders:
            model_size = max(embedding.input_size)
            if has_sam_geometry(self.segmenter.upscale, embedding, self.segmenter.low_res_size, model_size):
                self._box_finders[key] = MaskBoxFinder(self.segmenter.low_res_size, model_size,
                                                       embedding.input_size, embedding.original_size)
            else:
                LOG.info("%s.upscale is not SAM's two-stage resize; refinement boxes come from full upscaling",
                         type(self.segmenter).__name__)
                self._box_finders[key] = None
        return self._box_finders[key] or UpscalingBoxFinder(self.segmenter.upscale, embedding)

    def segment_frame(self, embedding: Embedding, points: np.ndarray, visible: np.ndarray,
                      rng: np.random.Generator, active: np.ndarray | None = None,
                      settings: PromptSettings | None = None) -> FramePrediction:
        """SAM step on one frame: (M, P, 2) points, (M, P) visible -> `FramePrediction` for M objects."""
        return segment_frame(self.segmenter, embedding, points, visible, settings or self.prompt_settings(),
                             rng, self.box_finder(embedding), active)

    def full_logits(self, embedding: Embedding, low_res_logits: torch.Tensor) -> torch.Tensor:
        """(K, 1, 256, 256) -> (K, H, W) float32 logits at the frame size."""
        if len(low_res_logits) == 0:
            height, width = embedding.original_size
            return torch.zeros((0, height, width), dtype=torch.float32)
        return self.segmenter.upscale(embedding, low_res_logits).float().cpu()

    def full_mask(self, embedding: Embedding, low_res_logits: torch.Tensor) -> np.ndarray:
        """(1, 256, 256) logits of one object -> (H, W) bool mask."""
        return (self.full_logits(embedding, low_res_logits[None])[0] > 0).numpy()

    def mask_areas(self, embedding: Embedding, frame: FramePrediction) -> np.ndarray:
        """(M,) int64 full-resolution mask areas (0 where there is no mask)."""
        areas = np.zeros(len(frame.has_mask), np.int64)
        chosen = np.flatnonzero(frame.has_mask)
        if len(chosen):
            logits = self.full_logits(embedding, frame.low_res_logits[torch.from_numpy(chosen)])
            areas[chosen] = (logits > 0).sum(dim=(1, 2)).numpy()
        return areas

    def select_query_points(self, frame: np.ndarray, mask: np.ndarray, t: int, rng: np.random.Generator,
                            video: str | None = None, object_id: int | None = None) -> np.ndarray:
        """(P, 3) float32 (t, x, y) query points of one object from its mask on frame t, positives first."""
        from trackers.sampt.query_points import query_points_for_object

        return query_points_for_object(frame, mask, t, self.positive_points_per_mask,
                                       self.negative_points_per_mask, self.positive_point_selection_method,
                                       self.negative_point_selection_method, rng, video=video,
                                       object_id=object_id)

    def track_objects(self, frames, query_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Track M objects' points through ``frames``.

        Args:
            frames: (T, H, W, 3) uint8 or a `infra.frames.FrameSource` (anything `as_frame_source`
                accepts): trackers that run in windows read it a window at a time.
            query_points: (M, P, 3) (t, x, y).

        Returns:
            tracks (T, M, P, 2) float32, visible (T, M, P) bool: tracker visibility, then patch filtering
            (when on), then the border rule.
        """
        num_objects, num_points, _ = query_points.shape
        queries = np.asarray(query_points, np.float32).reshape(-1, 3)
        source = as_frame_source(frames)
        tracks, visible = self.point_tracker.track(frames if isinstance(frames, np.ndarray) else source, queries)
        tracks = np.asarray(tracks, np.float32)
        visible = np.asarray(visible, bool)
        num_frames, (height, width) = source.num_frames, source.frame_size
        if self.use_patch_matching_filtering:
            from trackers.sampt.patch_similarity import filter_tracks

            visible = filter_tracks(source.frame, num_frames, queries, tracks, visible,
                                    self.patch_size, self.patch_similarity_threshold)
        visible = visible & self.inside_border(tracks, height, width)
        return (tracks.reshape(num_frames, num_objects, num_points, 2),
                visible.reshape(num_frames, num_objects, num_points))

    def inside_border(self, tracks: np.ndarray, height: int, width: int) -> np.ndarray:
        """(..., 2) pixel (x, y) -> (...) bool, not within ``border_margin`` of the border (authors' rule)."""
        x = tracks[..., 0] / width
        y = tracks[..., 1] / height
        margin = self.border_margin
        return (x >= margin) & (y >= margin) & (x <= 1 - margin) & (y <= 1 - margin)

    # ------------------------------------------------------------------------------- the frame loop
    def frame_loop(self, clip: Clip, groups: list[PromptGroup], frames: range | None = None) -> Iterator[LoopFrame]:
        """SAM-PT's per-frame step, the one loop every caller uses: embed, prompt, refine, per group.

        Frames are embedded ``segmenter.embed_batch_size`` at a time (`Segmenter.embed_many`); a frame
        where no object of any group is active is not embedded. Each group is prompted with its own
        trajectories, random stream and settings (`PromptGroup`). Callers differ only in what they do
        with each yielded `LoopFrame` (merge into a label map, keep masks, encode tracks, choose reinit
        frames); nothing is held between frames here.

        Args:
            clip: the frames (and, for the reinit pass, its embedding cache).
            groups: the objects to prompt, in groups.
            frames: clip frames to visit, in order (default: all).
        """
        frames = range(len(clip)) if frames is None else frames
        batch = _int_at_least("segmenter.embed_batch_size", getattr(self.segmenter, "embed_batch_size", 1), 1)
        # frames are read in order (``clip``'s reader may read them ahead on a thread: `SamPtVideoRun.merges`)
        for first in range(0, len(frames), batch):
            chunk = frames[first:first + batch]
            actives = [[group.active(t) for group in groups] for t in chunk]
            needed = [t for t, active in zip(chunk, actives) if any(a.any() for a in active)]
            embeddings = dict(zip(needed, clip.embeddings(needed))) if needed else {}
            for t, active in zip(chunk, actives):
                embedding = embeddings.pop(t, None)
                predictions = [
                    None if embedding is None or not on.any() else
                    self.segment_frame(embedding, group.tracks[t - group.start], group.visible[t - group.start],
                                       group.rng, active=on, settings=group.settings)
                    for group, on in zip(groups, active)
                ]
                yield LoopFrame(t, embedding, predictions)

    # ------------------------------------------------------------------------------- SAM step alone
    def segment_tracks(self, frames, tracks: np.ndarray, visible: np.ndarray, num_positive: int,
                       rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """SAM step alone on given trajectories: equal to SAM-PT's ``SamPt._apply_sam_to_trajectories`` with the
        same knobs (on a tiny random SAM: IoUs to 1e-5, masks on every pixel with SAM's decoder and up to 16
        of 7.1M pixels with the lean one; ``tests/trackers/sampt/test_official_sam_step.py``).

        Args:
            frames: (T, H, W, 3) uint8 (or anything `frame_reader` accepts).
            tracks: (T, M, P, 2) float pixel (x, y); visible: (T, M, P) bool.
            num_positive: the first ``num_positive`` points of each object are positive.

        Returns:
            masks (M, T, H, W) bool, iou (T, M) float32 (NaN where SAM was not prompted).
        """
        frame_at, num_frames, (height, width) = frame_reader(frames)
        tracks = np.asarray(tracks, np.float32)
        visible = np.asarray(visible, bool)
        if tracks.ndim != 4 or tracks.shape[0] != num_frames or tracks.shape[-1] != 2:
            raise ValueError(f"tracks must be (T={num_frames}, M, P, 2), got {tracks.shape}")
        if visible.shape != tracks.shape[:3]:
            raise ValueError(f"visible must be {tracks.shape[:3]} like tracks, got {visible.shape}")
        num_objects, num_points = tracks.shape[1:3]
        _int_at_least("num_positive", num_positive, 0)
        if num_positive > num_points:
            raise ValueError(f"num_positive={num_positive} exceeds the {num_points} points per object")
        rng = np.random.default_rng(self.seed) if rng is None else rng
        group = PromptGroup(tracks, visible, rng, settings=self.prompt_settings(num_positive, num_points))
        masks = np.zeros((num_objects, num_frames, height, width), bool)
        iou = np.full((num_frames, num_objects), np.nan, np.float32)
        for step in self.frame_loop(Clip(frame_at, num_frames, self.segmenter, keep_embeddings=False), [group]):
            frame = step.predictions[0]
            iou[step.t] = np.where(frame.predicted, frame.iou, np.nan)
            chosen = np.flatnonzero(frame.has_mask)
            if len(chosen):
                logits = self.full_logits(step.embedding, frame.low_res_logits[torch.from_numpy(chosen)])
                masks[chosen, step.t] = (logits > 0).numpy()
        return masks, iou

    # ------------------------------------------------------------------------------- videos
    def prepare_video(self, frames, first_masks: Mapping[int, tuple[int, np.ndarray]],
                      video_name: str) -> SamPtVideoRun:
        """Query points and tracking (with reinit: the pass, run while `label_maps` is iterated); masks come
        from `label_maps`.

        Args:
            frames: (T, H, W, 3) uint8, a sequence of frames, or a `datasets.video.Video`.
            first_masks: object id (1-255) -> (first frame index, (H, W) bool mask on that frame).
            video_name: names the video's random stream (with ``seed``) and errors.
        """
        from trackers.sampt.query_points import video_rng

        frame_at, num_frames, frame_size = frame_reader(frames)
        if not first_masks:
            raise ValueError(f"video {video_name}: no object to segment (first_masks is empty)")
        object_ids = sorted(first_masks)
        first_frames, masks = [], []
        for obj in object_ids:
            if isinstance(obj, bool) or int(obj) != obj or not 1 <= obj <= 255:
                raise ValueError(f"video {video_name}: object ids must be integers in 1..255, got {obj!r}")
            t0, mask = first_masks[obj]
            if int(t0) != t0 or not 0 <= t0 < num_frames:
                raise ValueError(f"video {video_name}: object {obj} first frame {t0!r} not in [0, {num_frames - 1}]")
            mask = np.asarray(mask)
            if mask.shape != tuple(frame_size):
                raise ValueError(f"video {video_name}: object {obj} mask is {mask.shape}, frames are {frame_size}")
            first_frames.append(int(t0))
            masks.append(mask.astype(bool))
        rng = video_rng(self.seed, video_name)
        query_points = np.stack([
            self.select_query_points(frame_at(t0), mask, t0, rng, video=video_name, object_id=obj)
            for obj, t0, mask in zip(object_ids, first_frames, masks)
        ])
        first_frames = np.asarray(first_frames, np.int64)
        run_args = dict(sampt=self, frame_at=frame_at, num_frames=num_frames, frame_size=tuple(frame_size),
                        object_ids=object_ids, first_frames=first_frames, first_masks=masks,
                        query_points=query_points, rng=rng)
        if self.use_point_reinit:
            # frames before an object's first frame are background, so only the forward pass is needed
            reinit = ReinitPass(self, Clip(frame_at, num_frames, self.segmenter), query_points, rng)
            return SamPtVideoRun(tracks=reinit.tracks, visible=reinit.visible, reinit=reinit, **run_args)
        source = frames if isinstance(frames, np.ndarray) else FrameSource(frame_at, num_frames, tuple(frame_size))
        tracks, visible = self.track_objects(source, query_points)
        return SamPtVideoRun(tracks=tracks, visible=visible, **run_args)

    def run_from_tracks(self, frames, object_ids: list[int], first_frames, first_masks: list[np.ndarray],
                        tracks: np.ndarray, visible: np.ndarray, video_name: str = "") -> SamPtVideoRun:
        """A `SamPtVideoRun` over given trajectories (the SAM step and merge of `segment_video` alone).

        Args:
            object_ids: M ids; first_frames: (M,) first frame of each; first_masks: M (H, W) bool masks.
            tracks: (T, M, P, 2) float pixel (x, y); visible: (T, M, P) bool (used as given: no border rule).
        """
        from trackers.sampt.query_points import video_rng

        frame_at, num_frames, frame_size = frame_reader(frames)
        tracks = np.asarray(tracks, np.float32)
        visible = np.asarray(visible, bool)
        if tracks.shape[:2] != (num_frames, len(object_ids)) or visible.shape != tracks.shape[:3]:
            raise ValueError(f"tracks {tracks.shape} / visible {visible.shape} must be (T={num_frames}, "
                             f"M={len(object_ids)}, P, 2) / (T, M, P)")
        query_points = np.full(tracks.shape[1:3] + (3,), np.nan, np.float32)
        return SamPtVideoRun(sampt=self, frame_at=frame_at, num_frames=num_frames, frame_size=tuple(frame_size),
                             object_ids=list(object_ids), first_frames=np.asarray(first_frames, np.int64),
                             first_masks=[np.asarray(m, bool) for m in first_masks], query_points=query_points,
                             tracks=tracks, visible=visible, rng=video_rng(self.seed, video_name))

    def segment_video(self, frames, first_masks: Mapping[int, tuple[int, np.ndarray]], video_name: str,
                      output_size: tuple[int, int] | None = None) -> SamPtVideoResult:
        """Segment every object through the video.

        Without reinit, all points are tracked over the whole clip and SAM runs frame by frame while the
        label maps are produced. With reinit, the reinit pass runs forward from the objects' first frames
        (the flipped pass of `segment_points_with_reinit` only concerns frames that are background here)
        while the label maps are produced; it holds one horizon of low-res logits.

        Returns:
            `SamPtVideoResult` with (T, H', W') uint8 label maps (H', W' = ``output_size`` or the frame size).
        """
        run = self.prepare_video(frames, first_masks, video_name)
        height, width = output_size or run.frame_size
        labels = np.zeros((run.num_frames, height, width), np.uint8)
        for t, label_map in run.label_maps(output_size):
            labels[t] = label_map
        num_frames, num_objects, num_points = run.visible.shape
        return SamPtVideoResult(
            labels=labels,
            object_ids=list(run.object_ids),
            scores=run.scores,
            iou=run.iou,
            query_points=run.query_points,
            tracks=run.tracks.reshape(num_frames, num_objects * num_points, 2),
            visible=run.visible.reshape(num_frames, num_objects * num_points),
            point_objects=np.repeat(np.asarray(run.object_ids), num_points),
            point_positive=np.tile(np.arange(num_points) < self.positive_points_per_mask, num_objects),
        )

    def segment_points_with_reinit(self, frames, query_points: np.ndarray,
                                   rng: np.random.Generator | None = None) -> ClipPrediction:
        """Reinit on given query points, forward from each query frame and on the flipped video before it.

        Args:
            frames: (T, H, W, 3) uint8 or anything `frame_reader` accepts.
            query_points: (M, P, 3) float (t, x, y), positives first (P = positive + negative per mask).

        Returns:
            `ClipPrediction` over the whole video (the authors' ``_forward_w_reinit``).
        """
        frame_at, num_frames, _ = frame_reader(frames)
        query_points = np.asarray(query_points, np.float32)
        rng = np.random.default_rng(self.seed) if rng is None else rng
        forward = ReinitPass(self, Clip(frame_at, num_frames, self.segmenter), query_points, rng).collect()
        flipped_queries = query_points.copy()
        flipped_queries[:, :, 0] = num_frames - 1 - query_points[:, :, 0]
        backward = ReinitPass(self, Clip(frame_at, num_frames, self.segmenter, flipped=True),
                              flipped_queries, rng).collect()
        return merge_directions(forward, backward, query_points[:, 0, 0].astype(np.int64))

    # ------------------------------------------------------------------------------- merging
    def merge_frame(self, embedding: Embedding, frame: FramePrediction, object_ids: list[int],
                    first_frames: np.ndarray, first_masks: list[np.ndarray], t: int,
                    output_size: tuple[int, int] | None = None) -> np.ndarray:
        """One (H', W') uint8 label map from M objects' predictions (softmax with a zero background, argmax).

        Objects without a mask, or before their first frame, take no part; on an object's first frame its
        given mask replaces its logits (+-1e8) when ``use_first_mask_on_query_frame``.
        """
        height, width = embedding.original_size
        out_h, out_w = output_size or (height, width)
        pasted = [k for k in range(len(object_ids))
                  if self.use_first_mask_on_query_frame and first_frames[k] == t]
        chosen = [k for k in np.flatnonzero(frame.has_mask & (first_frames <= t)) if k not in pasted]
        logits = self.full_logits(embedding, frame.low_res_logits[torch.as_tensor(chosen, dtype=torch.long)])
        if (out_h, out_w) != (height, width) and len(chosen):
            logits = F.interpolate(logits[:, None], (out_h, out_w), mode="bilinear", align_corners=False)[:, 0]
        per_object = {k: logits[row] for row, k in enumerate(chosen)}
        for k in pasted:
            mask = torch.from_numpy(first_masks[k])
            if mask.shape != (out_h, out_w):
                mask = F.interpolate(mask[None, None].float(), (out_h, out_w), mode="nearest")[0, 0] > 0
            per_object[k] = torch.where(mask, CERTAIN_LOGIT, -CERTAIN_LOGIT).float()
        if not per_object:
            return np.zeros((out_h, out_w), np.uint8)
        order = sorted(per_object)  # the objects' order, as the authors stack them
        ids = [object_ids[k] for k in order]
        stacked = torch.stack([torch.zeros((out_h, out_w))] + [per_object[k] for k in order])
        winner = _first_argmax(torch.softmax(stacked, dim=0))
        lookup = torch.tensor([0] + ids, dtype=torch.uint8)
        return lookup[winner].numpy()
