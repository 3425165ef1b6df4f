"""SAM-PT's engine: the per-frame loop and the one way to run a video through it.

`trackers.sampt.model.SamPt.run_video` is the public way to run a video: it takes the frames and the
`VideoObjects` to segment (from first masks, from query points, or from given trajectories), prepares the
query points and tracks (or, with reinit, the reinit passes of `trackers.sampt.reinit`) and returns a
`VideoRun`. Iterating the run walks the frames once, in order, through `frame_loop` (embed each frame once,
prompt every group of objects, refine); what a caller takes from each frame is its choice:

- `VideoRun.merges` / `VideoRun.label_maps`: one label map per frame (VOS, the demo), as the authors'
  evaluation merges objects (softmax over the objects' logits and a zero background, argmax); with
  ``overlapping``, each object's own mask per frame instead (SA-V's per-object masks);
- `VideoRun.object_logits`: each object's own logits per frame (VIS, where tracks may overlap; the SAM step
  alone; the interactive protocol, on the frames it asks for).

Nothing per frame is held but small arrays (tracks, visibility, predicted IoU): frames are read on demand
(read ahead on a thread, `infra.background.ReadAhead`) and embeddings dropped after their frame, except in a
`Clip` that keeps them (the reinit pass, whose windows overlap; the interactive protocol, which revisits frames).
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from infra import cpu_runtime
from infra.background import ReadAhead, in_flight, serialized
from infra.frames import FrameSource, as_frame_source
from trackers.sampt.knobs import int_at_least
from trackers.sampt.prompting import FramePrediction, PromptSettings, frame_prompts
from trackers.segmenters.base import Embedding, Segmenter

#: frames the frame loop reads ahead of the one it embeds (`VideoRun.steps`)
READ_AHEAD_FRAMES = 4


# ----------------------------------------------------------------------------------------- frames
class Clip:
    """Frames of a video (or the video flipped in time) by clip-local index, embedded on demand.

    Args:
        frame_at: callable ``t -> (H, W, 3) uint8 RGB`` frame in video time (decoded when called).
        num_frames: T.
        segmenter: embeds frames (`Segmenter.embed_many`).
        flipped: clip index t is video frame T - 1 - t.
        keep_embeddings: cache embeddings until `retain` drops them (the reinit pass, whose windows
            overlap; the interactive protocol); False: every embedding is handed out once and not held.
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

    @functools.cached_property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) of the frames (frame 0 read once)."""
        return tuple(self.frame(0).shape[:2])

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
        return self.prepare(ts)()

    def prepare(self, ts: list[int]) -> Callable[[], list[Embedding]]:
        """`embeddings` in two steps: the missing frames are read now (on the caller's thread, in the caller's
        order), and the returned call embeds them and returns the embeddings of ``ts`` (on any thread)."""
        missing = [t for t in ts if self.video_index(t) not in self._embeddings]
        images = [self.frame(t) for t in missing]

        def embed() -> list[Embedding]:
            fresh = dict(zip(missing, self._segmenter.embed_many(images) if missing else []))
            if fresh:
                last = fresh[missing[-1]]
                self.size_embedding = Embedding(None, last.original_size, last.input_size)
            if self._keep:
                self._embeddings.update({self.video_index(t): e for t, e in fresh.items()})
            return [fresh[t] if t in fresh else self._embeddings[self.video_index(t)] for t in ts]

        return embed

    def embedding(self, t: int) -> Embedding:
        return self.embeddings([t])[0]

    def retain(self, start: int, end: int) -> None:
        """Drop cached embeddings outside clip frames ``[start, end)``."""
        keep = {self.video_index(t) for t in range(start, end)}
        for key in list(self._embeddings):
            if key not in keep:
                del self._embeddings[key]


def frame_reader(frames) -> tuple[Any, int, tuple[int, int]]:
    """(frame_at: t -> (H, W, 3) uint8, T, (H, W)) of anything `infra.frames.as_frame_source` accepts or a
    `Clip`; ``frame_at`` is `infra.background.serialized`: every reader of the video (the point tracker, the
    frame loop's read-ahead thread, an overlay) may call it from any thread."""
    if isinstance(frames, Clip):
        return frames.frame, len(frames), frames.frame_size
    source = as_frame_source(frames)
    return serialized(source.frame), source.num_frames, source.frame_size


# ----------------------------------------------------------------------------------------- the loop
@dataclass
class PromptGroup:
    """Objects SAM is prompted for together on each frame of a `frame_loop`.

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
    """One frame of `frame_loop`.

    Attributes:
        t: clip frame index.
        embedding: the frame's embedding; None when no object of any group is active (not embedded).
        predictions: per group, the `FramePrediction` of its M objects, or None when none is active.
    """

    t: int
    embedding: Embedding | None
    predictions: list[FramePrediction | None]


def frame_loop(sampt, clip: Clip, groups: list[PromptGroup], frames: Sequence[int] | None = None
               ) -> Iterator[LoopFrame]:
    """SAM-PT's per-frame step, the one loop every run uses: embed, prompt, refine, per group.

    Frames are embedded ``segmenter.embed_batch_size`` at a time (`Segmenter.embed_many`); a frame where no
    object of any group is active is not embedded. Each group is prompted with its own trajectories, random
    stream and settings (`PromptGroup`) through ``sampt.segment_prompts``; nothing is held between frames here.
    On a CPU, `infra.cpu_runtime.frame_workers` batches of frames run at once, one thread each
    (`infra.cpu_runtime.run_in_order`): frames are read and prompts drawn on this thread in frame order
    (`_frame_job`), so the random streams, the reader and every frame's result are those of running them
    one by one on one thread; steps are yielded in order.

    Args:
        sampt: the `trackers.sampt.model.SamPt` (its segmenter and prompting).
        clip: the frames (and, for the reinit pass, its embedding cache).
        groups: the objects to prompt, in groups.
        frames: clip frames to visit, in order (default: all).
    """
    frames = range(len(clip)) if frames is None else frames
    segmenter = sampt.segmenter
    batch = int_at_least("segmenter.embed_batch_size", getattr(segmenter, "embed_batch_size", 1), 1)
    jobs = (_frame_job(sampt, clip, groups, frames[first:first + batch]) for first in range(0, len(frames), batch))
    workers = _frame_workers(segmenter) if len(frames) > batch else 1
    for steps in cpu_runtime.run_in_order(jobs, workers):
        yield from steps


def _frame_workers(segmenter) -> int:
    """Frames `frame_loop` runs at once for ``segmenter``: `infra.cpu_runtime.frame_workers` on its device, one
    with a ``torch.compile``-d encoder (compiled on one thread)."""
    if getattr(segmenter, "compiled", False):
        return 1
    return cpu_runtime.frame_workers(getattr(segmenter, "device", "cpu"))


def _frame_job(sampt, clip: Clip, groups: list[PromptGroup], chunk: Sequence[int]) -> Callable[[], list[LoopFrame]]:
    """One embedding batch of `frame_loop`: its frames are read and its prompts drawn now (each group's random
    stream in frame order); the returned call embeds and segments them (on any thread)."""
    actives = [[group.active(t) for group in groups] for t in chunk]
    needed = [t for t, active in zip(chunk, actives) if any(a.any() for a in active)]
    embed = clip.prepare(needed)
    settings = [group.settings or sampt.prompt_settings() for group in groups]  # resolved once per batch
    prompts = {
        t: [frame_prompts(group.tracks[t - group.start], group.visible[t - group.start], own, group.rng, on)
            if on.any() else None for group, own, on in zip(groups, settings, active)]
        for t, active in zip(chunk, actives) if t in needed
    }

    def run() -> list[LoopFrame]:
        embeddings = dict(zip(needed, embed())) if needed else {}
        steps = []
        for t in chunk:  # a frame not needed has no embedding and no prompts
            drawn = prompts.get(t, [None] * len(groups))
            steps.append(LoopFrame(t, embeddings.get(t), [
                None if group_prompts is None else sampt.segment_prompts(embeddings[t], group_prompts, own)
                for own, group_prompts in zip(settings, drawn)]))
        return steps

    return run


# ----------------------------------------------------------------------------------------- a video
@dataclass
class VideoObjects:
    """The M objects of one video run (index k = 0 ... M - 1 in every per-object array).

    Attributes:
        object_ids: M ids (1-255), the label-map values.
        first_frames: (M,) int64 first frame of each object (background and not prompted before it).
        first_masks: M (H, W) bool masks on the first frames: query points are sampled from them when
            ``query_points`` is None, and they are pasted on the first frame of merged label maps when the
            model's ``use_first_mask_on_query_frame`` is on; None: no masks (query points or tracks given).
        query_points: (M, P, 3) float32 (t, x, y), positives first; None: sampled from ``first_masks``.
        num_positive: the first ``num_positive`` points of each object are positive (None: the model's
            ``positive_points_per_mask``); with it, SAM runs two passes when an object has negative points.
        tracks, visible: (T, M, P, 2) float32 / (T, M, P) bool given trajectories, used as given (no
            tracking, no border rule); None: tracked by the model.
        batches: objects prompted (and tracked) together, each with its own random stream (`SamPt.run_video`);
            None: all objects together.
        query_masks: M (H, W) bool masks on the first frames that query points are sampled from and that
            trackers choosing their own points see, in place of ``first_masks`` (which are still pasted);
            None: ``first_masks``. The one-point input sets them (`trackers.sampt.model.SamPt.one_point_masks`).
        point_labels: (P,) int64 label of each point (1 positive, 0 negative), prompted in this order, for
            points whose positives do not come first (with ``num_positive``, the number of ones); the
            interactive protocol's added points (`experiments.apps.interactive`). None: ``num_positive``
            positives first.
    """

    object_ids: list[int]
    first_frames: np.ndarray
    first_masks: list[np.ndarray] | None = None
    query_points: np.ndarray | None = None
    num_positive: int | None = None
    tracks: np.ndarray | None = None
    visible: np.ndarray | None = None
    batches: list[np.ndarray] | None = None
    query_masks: list[np.ndarray] | None = None
    point_labels: np.ndarray | None = None

    @classmethod
    def from_masks(cls, first_masks: dict) -> "VideoObjects":
        """From ``{object id: (first frame, (H, W) bool mask)}`` (objects in id order)."""
        ids = sorted(first_masks)
        return cls(ids, np.asarray([first_masks[obj][0] for obj in ids]),
                   [np.asarray(first_masks[obj][1]) for obj in ids])

    def __len__(self) -> int:
        return len(self.object_ids)

    @property
    def sampled_masks(self) -> list[np.ndarray] | None:
        """The masks query points come from: ``query_masks`` when set, else ``first_masks``."""
        return self.first_masks if self.query_masks is None else self.query_masks

    def check(self, num_frames: int, frame_size: tuple[int, int], video: str) -> "VideoObjects":
        """The objects validated against a video of ``num_frames`` frames of ``frame_size``; `ValueError`
        naming the video and the object otherwise."""
        if not self.object_ids:
            raise ValueError(f"video {video}: no object to segment")
        for k, obj in enumerate(self.object_ids):
            if isinstance(obj, (bool, np.bool_)) or int(obj) != obj or not 1 <= obj <= 255:
                raise ValueError(f"video {video}: object ids must be integers in 1..255, got {obj!r}")
            t0 = self.first_frames[k]
            if int(t0) != t0 or not 0 <= t0 < num_frames:
                raise ValueError(f"video {video}: object {obj} first frame {t0!r} not in [0, {num_frames - 1}]")
            if self.first_masks is not None and np.shape(self.first_masks[k]) != tuple(frame_size):
                raise ValueError(f"video {video}: object {obj} mask is {np.shape(self.first_masks[k])}, frames "
                                 f"are {tuple(frame_size)}")
        if self.tracks is not None:
            shape = np.shape(self.tracks)
            if len(shape) != 4 or shape[:2] != (num_frames, len(self)) or np.shape(self.visible) != shape[:3]:
                raise ValueError(f"video {video}: tracks {shape} / visible {np.shape(self.visible)} must be "
                                 f"(T={num_frames}, M={len(self)}, P, 2) / (T, M, P)")
        if self.point_labels is not None:
            points = (self.tracks if self.tracks is not None else self.query_points).shape[2]
            labels = np.asarray(self.point_labels)
            if (labels.shape != (points,) or self.num_positive != int((labels == 1).sum())
                    or not np.isin(labels, (0, 1)).all()):
                raise ValueError(f"video {video}: point_labels {labels.tolist()} must be {points} labels 1/0 with "
                                 f"num_positive ({self.num_positive}) ones")
        return VideoObjects(
            [int(obj) for obj in self.object_ids], np.asarray(self.first_frames, np.int64),
            None if self.first_masks is None else [np.asarray(m, bool) for m in self.first_masks],
            self.query_points, self.num_positive,
            None if self.tracks is None else np.asarray(self.tracks, np.float32),
            None if self.visible is None else np.asarray(self.visible, bool), self.batches, self.query_masks,
            None if self.point_labels is None else np.asarray(self.point_labels, np.int64))


@dataclass
class ObjectGroup:
    """Objects of a `VideoRun` prompted together: ``indices`` into the run's objects, their random stream,
    and either their trajectories ((T, K, P, 2) tracks, (T, K, P) visible) or their reinit pass
    (`trackers.sampt.reinit.ReinitPass`, which tracks as it goes)."""

    indices: np.ndarray
    rng: np.random.Generator
    tracks: np.ndarray | None = None
    visible: np.ndarray | None = None
    reinit: Any = None


@dataclass
class VideoRun:
    """A prepared video (made by `trackers.sampt.model.SamPt.run_video`): query points and tracks are ready
    (with reinit: the passes track as they go), masks are made frame by frame by iterating one of
    `merges`, `label_maps` or `object_logits` once; ``iou``, ``tracks`` and `scores` are complete afterwards.

    Attributes:
        objects: the `VideoObjects` (with their query points).
        iou: (T, M) float32 predicted IoU per frame, NaN where SAM was not prompted.
    """

    sampt: Any
    frame_at: Callable[[int], np.ndarray]
    num_frames: int
    frame_size: tuple[int, int]
    objects: VideoObjects
    groups: list[ObjectGroup]
    settings: PromptSettings | None = None
    clip: Clip | None = None
    iou: np.ndarray = field(default=None)

    def __post_init__(self):
        self.iou = np.full((self.num_frames, len(self.objects)), np.nan, np.float32)
        self._ahead: ReadAhead | None = None

    @property
    def object_ids(self) -> list[int]:
        return self.objects.object_ids

    @property
    def first_frames(self) -> np.ndarray:
        return self.objects.first_frames

    @property
    def query_points(self) -> np.ndarray:
        return self.objects.query_points

    @property
    def tracks(self) -> np.ndarray:
        """(T, M, P, 2) float32 pixel (x, y) (NaN where a reinit pass did not track the object)."""
        return self._assemble(lambda group: group.reinit.tracks if group.reinit is not None else group.tracks)

    @property
    def visible(self) -> np.ndarray:
        """(T, M, P) bool."""
        return self._assemble(lambda group: group.reinit.visible if group.reinit is not None else group.visible)

    def _assemble(self, part) -> np.ndarray:
        if len(self.groups) == 1:
            return part(self.groups[0])
        first = part(self.groups[0])
        out = np.zeros((first.shape[0], len(self.objects)) + first.shape[2:], first.dtype)
        for group in self.groups:
            out[:, group.indices] = part(group)
        return out

    @property
    def scores(self) -> dict[int, float]:
        """object id -> mean predicted IoU over the frames SAM was prompted for it (NaN if none)."""
        result = {}
        for k, obj in enumerate(self.object_ids):
            values = self.iou[:, k][~np.isnan(self.iou[:, k])]
            result[obj] = float(values.mean()) if len(values) else float("nan")
        return result

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` (H, W, 3) uint8, for a caller drawing on what the run just yielded: while the run
        reads ahead, from its read-ahead (which keeps the frames it just handed over), else from ``frame_at``."""
        return (self._ahead or self.frame_at)(t)

    # ------------------------------------------------------------------------------- iterating
    def steps(self, frames: Sequence[int] | None = None
              ) -> Iterator[tuple[int, Embedding | None, FramePrediction | None]]:
        """Yield (t, the frame's sizes as an `Embedding` without features, `FramePrediction` of all M objects
        or None when none is active) for the clip frames ``frames`` (default all, in order)."""
        active_of = self.objects.first_frames
        for t, sizes, predictions in self._group_steps(frames):
            frame = self._combine(predictions)
            if frame is not None:
                active = active_of <= t
                frame = FramePrediction(frame.low_res_logits, frame.has_mask & active, frame.predicted & active,
                                        np.where(active, frame.iou, np.nan).astype(np.float32))
                if not active.any():
                    frame = None
                else:
                    self.iou[t] = np.where(frame.predicted, frame.iou, np.nan)
            yield t, sizes, frame

    def _group_steps(self, frames):
        """(t, sizes, per-group predictions) from the frame loop, or from the groups' reinit passes."""
        with contextlib.ExitStack() as stack:
            if self.groups[0].reinit is not None:
                passes = [group.reinit for group in self.groups]
                for t, per_group in enumerate(zip(*(one.frames() for one in passes))):
                    yield t, passes[0].size_embedding, [prediction for _, prediction in per_group]
                return
            clip = self.clip
            if clip is None:
                # ahead (and kept for `frame`): as many frames as one embedding batch reads at once, at least
                # READ_AHEAD_FRAMES, plus a batch per further batch the frame workers hold (read before the first
                # is handed over: `infra.background.in_flight`)
                segmenter = self.sampt.segmenter
                batch = getattr(segmenter, "embed_batch_size", 1)
                depth = max(READ_AHEAD_FRAMES, batch) + batch * (in_flight(_frame_workers(segmenter)) - 1)
                self._ahead = stack.enter_context(ReadAhead(self.frame_at, self.num_frames, depth))
                stack.callback(setattr, self, "_ahead", None)
                clip = Clip(self._ahead, self.num_frames, self.sampt.segmenter, keep_embeddings=False)
            groups = [PromptGroup(group.tracks, group.visible, group.rng, self.objects.first_frames[group.indices],
                                  self.settings) for group in self.groups]
            for step in frame_loop(self.sampt, clip, groups, frames):
                sizes = None if step.embedding is None else Embedding(None, step.embedding.original_size,
                                                                       step.embedding.input_size)
                yield step.t, sizes, step.predictions

    def _combine(self, predictions: list[FramePrediction | None]) -> FramePrediction | None:
        """One `FramePrediction` over all M objects from the groups' (None where no group predicted)."""
        if len(predictions) == 1:
            return predictions[0]
        present = [(group, p) for group, p in zip(self.groups, predictions) if p is not None]
        if not present:
            return None
        count, size = len(self.objects), present[0][1].low_res_logits.shape[-1]
        out = FramePrediction(torch.zeros((count, 1, size, size)), np.zeros(count, bool), np.zeros(count, bool),
                              np.full(count, np.nan, np.float32))
        for group, prediction in present:
            index = torch.from_numpy(group.indices)
            out.low_res_logits[index] = prediction.low_res_logits.to(out.low_res_logits.dtype)
            out.has_mask[group.indices] = prediction.has_mask
            out.predicted[group.indices] = prediction.predicted
            out.iou[group.indices] = prediction.iou
        return out

    def merges(self, output_size: tuple[int, int] | None = None, overlapping: bool = False,
               probabilities: bool = False) -> Iterator[tuple[int, Callable[[], Any]]]:
        """Yield (t, merge) for t = 0 ... T - 1: calling ``merge()`` makes frame t's (H', W') uint8 label map
        (H', W' = ``output_size`` or the frame size; `trackers.sampt.model.SamPt.merge_frame`), or with
        ``overlapping`` its (M, H', W') bool per-object masks, which may overlap
        (`trackers.sampt.model.SamPt.overlapping_masks`; objects in ``objects.object_ids`` order), or with
        ``probabilities`` its (M + 1, H', W') float32 probabilities, background first
        (`trackers.sampt.model.SamPt.frame_probabilities`; `SamPt.label_map` makes the label map from them).

        A merge holds only its own frame's predictions and sizes (not its image features), so a caller may run
        it later or on another thread (upscaling and merging a frame while the next is embedded) or not at all
        (a frame nobody writes).
        """
        if overlapping and probabilities:
            raise ValueError("a merge makes per-object masks (overlapping) or probabilities, not both")
        objects = self.objects
        size = tuple(output_size or self.frame_size)
        for t, sizes, frame in self.steps():
            if frame is None:
                yield t, functools.partial(empty_merge, len(objects), size, overlapping, probabilities)
            elif overlapping:
                yield t, functools.partial(self.sampt.overlapping_masks, sizes, frame, objects.first_frames,
                                           objects.first_masks, t, output_size)
            elif probabilities:
                yield t, functools.partial(self.sampt.frame_probabilities, sizes, frame, objects.first_frames,
                                           objects.first_masks, t, output_size)
            else:
                yield t, functools.partial(self.sampt.merge_frame, sizes, frame, objects.object_ids,
                                           objects.first_frames, objects.first_masks, t, output_size)

    def label_maps(self, output_size: tuple[int, int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (t, (H', W') uint8 label map) for t = 0 ... T - 1: `merges` with each merge run at once."""
        return ((t, merge()) for t, merge in self.merges(output_size))

    def object_logits(self, output_size: tuple[int, int] | None = None, frames: Sequence[int] | None = None
                      ) -> Iterator[tuple[int, np.ndarray, torch.Tensor]]:
        """Yield (t, (K,) int64 indices of the objects with a mask on frame t, (K, H', W') float32 logits
        resized bilinearly to ``output_size`` (default the frame size)) for ``frames`` (default all)."""
        for t, sizes, frame in self.steps(frames):
            chosen = np.zeros(0, np.int64) if frame is None else np.flatnonzero(frame.has_mask)
            if not len(chosen):
                yield t, chosen, torch.zeros((0,) + tuple(output_size or self.frame_size))
                continue
            logits = self.sampt.full_logits(sizes, frame.low_res_logits[torch.from_numpy(chosen)])
            yield t, chosen, resize_logits(logits, output_size)


def empty_merge(num_objects: int, size: tuple[int, int], overlapping: bool, probabilities: bool):
    """What `VideoRun.merges` makes of a frame where no object is active: an all-background label map, no
    per-object mask, or probability 1 for the background."""
    if overlapping:
        return np.zeros((num_objects,) + tuple(size), bool)
    if probabilities:
        background = torch.zeros((num_objects + 1,) + tuple(size))
        background[0] = 1.0
        return background
    return np.zeros(size, np.uint8)


def resize_logits(logits: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """(K, H, W) float32 logits resized bilinearly (``align_corners=False``) to ``size`` (as they are when None
    or equal), as the authors resize SAM's logits to the annotation size."""
    if size is None or tuple(logits.shape[-2:]) == tuple(size) or not len(logits):
        return logits
    return F.interpolate(logits[:, None], tuple(size), mode="bilinear", align_corners=False)[:, 0]
