"""SAM-PT: video object segmentation by tracking query points and prompting SAM with them.

`SamPt(point_tracker, segmenter, seed, **knobs)` composes a `PointTracker` and a `Segmenter` (paper Sec. 3.2,
steps 2-4; Appendix A for reinit) with its knobs (`trackers.sampt.knobs.SamPtKnobs`, names of the authors'
configuration ``configs/model/sam_pt.yaml`` of SysCV/sam-pt, the paper's values by default).

`SamPt.run_video` is the one way to run a video (`trackers.sampt.engine`): query points are sampled from
each object's first mask on its first frame, the points are tracked through the whole clip (forward and
backward; frames read on demand), points within ``border_margin`` of the image border count as not visible,
SAM is prompted per frame in the engine's `trackers.sampt.engine.frame_loop` (frames embedded
``embed_batch_size`` at a time, decoder calls batched over objects, see `trackers.sampt.prompting`), and the
objects' logits are merged into one label map per frame as the authors' evaluation does (`SamPt.merge_frame`:
softmax over the objects' logits and a zero background logit, then argmax; an object is background before
its first frame and its given mask is used on its first frame). Recorded outputs of the authors' code back
this: their label maps for a synthetic video (``tests/experiments/run/test_authors_eval_path.py``) and their
SAM step on given trajectories (``tests/trackers/sampt/test_official_sam_step.py``).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import fields, replace

import numpy as np
import torch
import torch.nn.functional as F

from infra.frames import FrameSource, as_frame_source
from trackers.point.base import PointTracker, ReferenceMasks
from trackers.sampt.engine import (
    Clip, ObjectGroup, VideoObjects, VideoRun, empty_merge, frame_reader, resize_logits,
)
from trackers.sampt.knobs import SamPtKnobs, int_at_least, knobs_from
from trackers.sampt.mask_box import MaskBoxFinder, UpscalingBoxFinder, has_sam_geometry
from trackers.sampt.prompting import FramePrediction, PromptSettings, frame_prompts, segment_prompts
from trackers.sampt.query_points import kmedoids_points, query_points_for_object, video_rng
from trackers.sampt.reinit import ReinitPass
from trackers.segmenters.base import Embedding, Segmenter

LOG = logging.getLogger(__name__)

KNOB_NAMES = frozenset(field.name for field in fields(SamPtKnobs))
#: logit the authors' evaluation writes for "certainly not / certainly this object"
CERTAIN_LOGIT = 1e8


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
class SamPt:
    """SAM-PT over a point tracker and a segmenter, with its knobs as one validated `SamPtKnobs`.

    Args:
        point_tracker: tracks the query points (`trackers.point.base.PointTracker`).
        segmenter: point-prompted segmenter (`trackers.segmenters.base.Segmenter`).
        seed: run seed; per-video randomness comes from (seed, video name).
        **knobs: `trackers.sampt.knobs.SamPtKnobs` fields (the paper's values by default); an unknown or
            invalid one is a `ValueError` naming it. They are readable as attributes (``sampt.reinit_horizon``).
    """

    def __init__(self, point_tracker: PointTracker, segmenter: Segmenter, seed: int = 0, **knobs):
        self.point_tracker = point_tracker
        self.segmenter = segmenter
        self.knobs = knobs_from(knobs)
        self.seed = int_at_least("seed", seed, 0)
        self._box_finders: dict[tuple, MaskBoxFinder] = {}
        self._box_finders_lock = threading.Lock()  # frames may be segmented on several threads

    def __getattr__(self, name: str):
        knobs = self.__dict__.get("knobs")
        if knobs is not None and name in KNOB_NAMES:
            return getattr(knobs, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

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
        with self._box_finders_lock:
            return self._box_finder(key, embedding)

    def _box_finder(self, key: tuple, embedding: Embedding) -> MaskBoxFinder | UpscalingBoxFinder:
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
        """SAM step on one frame: (M, P, 2) points, (M, P) visible -> `FramePrediction` for M objects
        (`frame_prompts`, then `segment_prompts`)."""
        settings = settings or self.prompt_settings()
        return self.segment_prompts(embedding, frame_prompts(points, visible, settings, rng, active), settings)

    def segment_prompts(self, embedding: Embedding, prompts: list, settings: PromptSettings | None = None
                        ) -> FramePrediction:
        """SAM step on one frame for M objects' prompts from `trackers.sampt.prompting.frame_prompts`; uses no
        random stream, so frames whose prompts are drawn may run on any thread."""
        return segment_prompts(self.segmenter, embedding, prompts, settings or self.prompt_settings(),
                               self.box_finder(embedding))

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
                            video: str | None = None, object_id: int | None = None,
                            zeros_for_empty: bool = False) -> np.ndarray:
        """(P, 3) float32 (t, x, y) query points of one object from its mask on frame t, positives first
        (``zeros_for_empty``: see `trackers.sampt.query_points.query_points_for_object`)."""
        return query_points_for_object(frame, mask, t, self.positive_points_per_mask,
                                       self.negative_points_per_mask, self.positive_point_selection_method,
                                       self.negative_point_selection_method, rng, video=video,
                                       object_id=object_id, zeros_for_empty=zeros_for_empty)

    def track_objects(self, frames, query_points: np.ndarray, masks: list[np.ndarray] | None = None,
                      rng: np.random.Generator | None = None, num_positive: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Track M objects' points through ``frames``.

        Args:
            frames: (T, H, W, 3) uint8 or a `infra.frames.FrameSource` (anything `as_frame_source`
                accepts): trackers that run in windows read it a window at a time.
            query_points: (M, P, 3) (t, x, y).
            masks, rng, num_positive: for trackers that choose their own points
                (`PointTracker.uses_reference_masks`; others ignore them): M (H, W) bool masks on the query
                frames, the stream their seed is drawn from, the positive points per object (None: the model's).

        Returns:
            tracks (T, M, P, 2) float32, visible (T, M, P) bool: tracker visibility, then patch filtering
            (when on), then the border rule.
        """
        num_objects, num_points, _ = query_points.shape
        queries = np.asarray(query_points, np.float32).reshape(-1, 3)
        source = as_frame_source(frames)
        extra = {}
        if self.point_tracker.uses_reference_masks:
            extra["reference"] = self.reference_masks(masks, rng, num_positive)
        tracks, visible = self.point_tracker.track(frames if isinstance(frames, np.ndarray) else source, queries,
                                                   **extra)
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

    def reference_masks(self, masks: list[np.ndarray] | None, rng: np.random.Generator | None,
                        num_positive: int | None) -> ReferenceMasks:
        """The `ReferenceMasks` for a tracker that chooses its own points (seed drawn from ``rng``)."""
        if masks is None or rng is None or self.use_point_reinit:
            raise ValueError(f"point tracker {type(self.point_tracker).__name__} chooses each frame's points from "
                             "the objects' masks on their first frames: it runs on videos given first masks, "
                             "without point reinit (model.use_point_reinit=false)")
        num_positive = self.positive_points_per_mask if num_positive is None else num_positive
        return ReferenceMasks(np.stack(masks), num_positive, int(rng.integers(2 ** 32)))

    def inside_border(self, tracks: np.ndarray, height: int, width: int) -> np.ndarray:
        """(..., 2) pixel (x, y) -> (...) bool, not within ``border_margin`` of the border (authors' rule)."""
        x = tracks[..., 0] / width
        y = tracks[..., 1] / height
        margin = self.border_margin
        return (x >= margin) & (y >= margin) & (x <= 1 - margin) & (y <= 1 - margin)

    # ------------------------------------------------------------------------------- running a video
    def one_point_masks(self, frame_at, objects: VideoObjects, rng: np.random.Generator, video_name: str = ""
                        ) -> list[np.ndarray]:
        """M (H, W) bool masks: for each object, the segmenter's mask from one positive point alone (no mask
        input, single output, logits > 0) on its first frame, the point being the k-medoids point (K = 1,
        `trackers.sampt.query_points.kmedoids_points` from ``rng``) of its first mask. The authors'
        ``input_only_one_gt_mask_point`` (``sam_pt/vos_eval/eval.py:238-258`` at 874ff7e): these masks replace
        the first masks as the masks query points are sampled from, while the given first masks are still
        pasted on the first frames (their eval.py:323-325). An empty result is kept (logged): its query points
        are zeros, as the authors' samplers give for an empty mask."""
        embeddings, masks = {}, []
        for obj, t0, mask in zip(objects.object_ids, objects.first_frames, objects.first_masks):
            if int(t0) not in embeddings:
                embeddings[int(t0)] = self.segmenter.embed(frame_at(int(t0)))
            point = torch.from_numpy(kmedoids_points(mask, 1, rng))[None]
            prediction = self.segmenter.predict(embeddings[int(t0)], point, torch.ones((1, 1), dtype=torch.long))
            masks.append(self.full_mask(embeddings[int(t0)], prediction.low_res_logits[0]))
            if not masks[-1].any():
                LOG.warning("video %s, object %s: the mask from one point is empty; its query points are (0, 0)",
                            video_name, obj)
        return masks

    def run_video(self, frames, objects: VideoObjects, video_name: str = "",
                  rngs: list[np.random.Generator] | None = None, one_point_input: bool = False) -> VideoRun:
        """The one way to run SAM-PT on a video: prepare ``objects`` and return the `VideoRun` whose iteration
        makes the masks frame by frame (`trackers.sampt.engine`).

        Query points are sampled from the first masks when not given (each object on its first frame, from the
        video's random stream: (seed, ``video_name``)); each batch of objects is tracked through the whole clip
        (forward and backward; frames read on demand) unless trajectories are given, or, with reinit, gets
        its reinit pass (forward from the objects' first frames; earlier frames are background).

        Args:
            frames: (T, H, W, 3) uint8, a sequence of frames, a `datasets.video.Video`, a working-size view of
                one, a `infra.frames.FrameSource`, or a `trackers.sampt.engine.Clip` (whose embedding cache
                the run then uses).
            objects: what to segment (`VideoObjects`).
            video_name: names the video's random stream and errors.
            rngs: one random stream per batch of ``objects.batches`` (default: the video's stream, one batch).
            one_point_input: query points come from SAM's mask of one k-medoids point of each first mask
                (`one_point_masks`, the authors' ``input_only_one_gt_mask_point``), not from the first mask.
        """
        frame_at, num_frames, frame_size = frame_reader(frames)
        objects = objects.check(num_frames, frame_size, video_name)
        rng = video_rng(self.seed, video_name)
        if objects.query_points is None and objects.tracks is None:
            if one_point_input:
                objects.query_masks = self.one_point_masks(frame_at, objects, rng, video_name)
            objects.query_points = np.stack([
                self.select_query_points(frame_at(t0), mask, int(t0), rng, video=video_name, object_id=obj,
                                         zeros_for_empty=one_point_input)
                for obj, t0, mask in zip(objects.object_ids, objects.first_frames, objects.sampled_masks)])
        batches = objects.batches or [np.arange(len(objects))]
        rngs = rngs or [rng]
        if len(rngs) != len(batches):
            raise ValueError(f"video {video_name}: {len(batches)} batches of objects need {len(batches)} random "
                             f"streams, got {len(rngs)}")
        source = frames if isinstance(frames, np.ndarray) else FrameSource(frame_at, num_frames, frame_size)
        groups = [self._group(source, frame_at, objects, np.asarray(batch), batch_rng)
                  for batch, batch_rng in zip(batches, rngs)]
        settings = None
        if objects.num_positive is not None:
            num_points = (objects.tracks if objects.tracks is not None else objects.query_points).shape[2]
            settings = self.prompt_settings(objects.num_positive, num_points)
            if objects.point_labels is not None:
                settings = replace(settings, point_labels=tuple(int(v) for v in objects.point_labels))
        return VideoRun(self, frame_at, num_frames, tuple(frame_size), objects, groups, settings,
                        frames if isinstance(frames, Clip) else None)

    def _group(self, source, frame_at, objects: VideoObjects, batch: np.ndarray, rng) -> ObjectGroup:
        """The `ObjectGroup` of the objects ``batch``: given trajectories, a reinit pass, or tracked now."""
        if objects.tracks is not None:
            return ObjectGroup(batch, rng, objects.tracks[:, batch], objects.visible[:, batch])
        if self.use_point_reinit:
            clip = Clip(frame_at, len(source), self.segmenter)
            return ObjectGroup(batch, rng, reinit=ReinitPass(self, clip, objects.query_points[batch], rng))
        masks = None if objects.sampled_masks is None else [objects.sampled_masks[k] for k in batch]
        tracks, visible = self.track_objects(source, objects.query_points[batch], masks, rng, objects.num_positive)
        return ObjectGroup(batch, rng, tracks, visible)

    # ------------------------------------------------------------------------------- merging
    def frame_object_logits(self, embedding: Embedding, frame: FramePrediction, first_frames: np.ndarray,
                            first_masks: list[np.ndarray] | None, t: int,
                            output_size: tuple[int, int] | None = None) -> dict[int, torch.Tensor]:
        """Object index k -> its (H', W') float32 logits on frame ``t`` at ``output_size`` (default the frame
        size), for the objects with a mask that have started (``first_frames[k] <= t``).

        On an object's first frame its given mask (``first_masks``, None for none) replaces its logits (+-1e8)
        when ``use_first_mask_on_query_frame``. Used by `merge_frame` and `overlapping_masks`.
        """
        height, width = embedding.original_size
        out_h, out_w = output_size or (height, width)
        paste = self.use_first_mask_on_query_frame and first_masks is not None
        pasted = [k for k in range(len(first_frames)) if paste and first_frames[k] == t]
        chosen = [k for k in np.flatnonzero(frame.has_mask & (first_frames <= t)) if k not in pasted]
        logits = self.full_logits(embedding, frame.low_res_logits[torch.as_tensor(chosen, dtype=torch.long)])
        logits = resize_logits(logits, (out_h, out_w))
        per_object = {k: logits[row] for row, k in enumerate(chosen)}
        for k in pasted:
            mask = torch.from_numpy(first_masks[k])
            if mask.shape != (out_h, out_w):
                mask = F.interpolate(mask[None, None].float(), (out_h, out_w), mode="nearest")[0, 0] > 0
            per_object[k] = torch.where(mask, CERTAIN_LOGIT, -CERTAIN_LOGIT).float()
        return per_object

    def frame_probabilities(self, embedding: Embedding, frame: FramePrediction, first_frames: np.ndarray,
                            first_masks: list[np.ndarray] | None, t: int,
                            output_size: tuple[int, int] | None = None) -> torch.Tensor:
        """(M + 1, H', W') float32 probabilities on frame ``t``: channel 0 the background, channel k + 1 object
        k. The softmax over a zero background logit and the logits of the objects that take part
        (`frame_object_logits`), as the authors' evaluation computes it (``sam_pt/vos_eval/eval.py:326`` at
        874ff7e); an object without a mask or before its first frame is 0 (their -inf / -1e8 logits)."""
        out_h, out_w = output_size or embedding.original_size
        per_object = self.frame_object_logits(embedding, frame, first_frames, first_masks, t, output_size)
        if not per_object:
            return empty_merge(len(first_frames), (out_h, out_w), overlapping=False, probabilities=True)
        probabilities = torch.zeros((len(first_frames) + 1, out_h, out_w))
        order = sorted(per_object)  # the objects' order, as the authors stack them
        stacked = torch.stack([torch.zeros((out_h, out_w))] + [per_object[k] for k in order])
        probabilities[[0] + [k + 1 for k in order]] = torch.softmax(stacked, dim=0)
        return probabilities

    @staticmethod
    def label_map(probabilities: torch.Tensor, object_ids: list[int]) -> np.ndarray:
        """(M + 1, H, W) `frame_probabilities` -> (H, W) uint8 label map: the id of the most probable channel
        (the first one where several are equal; 0 the background); int32 when an id exceeds 255 (BDD100K
        sequences of 255 objects or more, `datasets.bdd100k`)."""
        ids = [0] + list(object_ids)
        lookup = torch.tensor(ids, dtype=torch.uint8 if max(ids) <= 255 else torch.int32)
        return lookup[_first_argmax(probabilities)].numpy()

    def merge_frame(self, embedding: Embedding, frame: FramePrediction, object_ids: list[int],
                    first_frames: np.ndarray, first_masks: list[np.ndarray], t: int,
                    output_size: tuple[int, int] | None = None) -> np.ndarray:
        """One (H', W') uint8 label map from M objects' predictions (softmax with a zero background, argmax:
        `label_map` of `frame_probabilities`). Objects without a mask, or before their first frame, take no part."""
        return self.label_map(self.frame_probabilities(embedding, frame, first_frames, first_masks, t, output_size),
                              object_ids)

    def overlapping_masks(self, embedding: Embedding, frame: FramePrediction, first_frames: np.ndarray,
                          first_masks: list[np.ndarray] | None, t: int,
                          output_size: tuple[int, int] | None = None) -> np.ndarray:
        """(M, H', W') bool: each object's own mask on frame ``t`` (logit > 0 at ``output_size``, no argmax,
        so masks may overlap); all False for an object without a mask or before its first frame. The
        per-object counterpart of `merge_frame` (the authors' ``save_overlapping_masks``)."""
        out_h, out_w = output_size or embedding.original_size
        masks = np.zeros((len(first_frames), out_h, out_w), bool)
        for k, logits in self.frame_object_logits(embedding, frame, first_frames, first_masks, t,
                                                  output_size).items():
            masks[k] = (logits > 0).numpy()
        return masks
