"""Open-world video instance segmentation with SAM-PT on UVO (paper Sec. 4.1.2 and 4.2, Tab. 6).

As the authors' VIS evaluation (SysCV/sam-pt ``sam_pt/modeling/vis_to_vos_adapter.py``, run with
``iterative_refinement_iterations=0`` and ``add_other_objects_positive_points_as_negative_points=false``):

1. proposals on the first frame (`trackers.sampt.proposals`; SAM's automatic mask generator, up to 100 masks);
2. every proposal is an object for SAM-PT: query points are sampled from its mask, tracked through the
   video, and SAM is prompted per frame with them; objects run in batches of ``masks_batch_size``
   (point-tracker calls and decoder calls), other objects' positive points are NOT negatives;
3. every object keeps its own mask on every frame (tracks may overlap; no label-map merge), SAM's mask
   on the first frame too (the proposal is not pasted there, as in the authors' VIS code);
4. the track score is the mean of SAM's predicted IoUs (`SCORE_MODES`).

Differences from the authors' code, on purpose: each proposal draws its query points from its own random
stream (run seed, video, proposal index), so a track does not depend on ``masks_batch_size``; every frame
is embedded once for all batches (the authors re-embed per batch: the same embedding, slower). This follows
a reading of the authors' code: no output of their VIS pipeline is recorded and compared (the scorer's
is, ``tests/evaluation/test_official_vis.py``). The authors feed
frames resized to a 360-pixel short side (Detectron2 ``ResizeShortestEdge(360, 1333)``, PIL bilinear)
and resize the mask logits back bilinearly: ``frame_short_side=360`` does the same, None keeps the frames.

Outputs under ``out_dir``: ``predictions/<video>/tracks.json`` (the tracks as per-frame compressed RLE,
null where absent) + the ``.complete`` marker (`experiments.run.outputs`), so a re-run skips finished
videos; ``uvo_results.json`` (YouTube-VIS results, `experiments.tools.submission.write_uvo_results`). The run
scores that file once afterwards (`experiments.run.scoring`: the 12 VIS numbers of `evaluation.vis.evaluate_vis`
when the ground truth has annotations).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from datasets.errors import DatasetError
from datasets.rle import encode_rle
from experiments.run.outputs import RleMasks, UvoTrack, load_video_tracks, predict_resumably, save_video_tracks
from experiments.tools.submission import write_uvo_results

log = logging.getLogger("sampt")

#: ``mean-all-frames``: the authors' VIS score, the mean of SAM's predicted IoU over ALL frames, where a
#: frame SAM was not prompted on counts as -inf (so such a track ranks below every fully prompted one;
#: written as `NOT_PROMPTED_SCORE`, which ranks the same since only the order matters).
#: ``mean-predicted``: the mean over the frames SAM was prompted on (`SamPtVideoRun.scores`).
SCORE_MODES = ("mean-all-frames", "mean-predicted")
NOT_PROMPTED_SCORE = -1e6
RESULTS_FILE = "uvo_results.json"


# ----------------------------------------------------------------------------------------- frames
def working_size(height: int, width: int, short_side: int | None, max_size: int | None = 1333) -> tuple[int, int]:
    """(h, w) after Detectron2's ``ResizeShortestEdge(short_side, max_size)``; (height, width) when None."""
    if short_side is None:
        return height, width
    scale = short_side / min(height, width)
    new_h, new_w = height * scale, width * scale
    if max_size is not None and max(new_h, new_w) > max_size:
        shrink = max_size / max(new_h, new_w)
        new_h, new_w = new_h * shrink, new_w * shrink
    return int(new_h + 0.5), int(new_w + 0.5)


class WorkingFrames:
    """A video's frames at the working size (resized with PIL bilinear when it differs), by index.

    Attributes:
        num_frames: T; size: (h, w) working size; original_size: (H, W) of the annotations.
    """

    def __init__(self, video, short_side: int | None = None, max_size: int | None = 1333):
        self.video = video
        self.num_frames = int(video.num_frames)
        self.original_size = tuple(int(s) for s in video.size)
        self.size = working_size(*self.original_size, short_side, max_size)

    def frame(self, t: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB frame t."""
        frame = self.video.frame(t)
        if frame.shape[:2] != self.original_size:
            raise DatasetError(f"video {self.video.name}: frame {t} is {frame.shape[:2]}, annotations are "
                               f"{self.original_size} (H, W)")
        if self.size == self.original_size:
            return frame
        return np.asarray(Image.fromarray(frame).resize((self.size[1], self.size[0]), Image.BILINEAR))


# ----------------------------------------------------------------------------------------- one video
def track_scores(iou: np.ndarray, mode: str = "mean-all-frames", tracked: np.ndarray | None = None) -> np.ndarray:
    """Per-track scores (see `SCORE_MODES`).

    Args:
        iou: (T, N) predicted IoU, NaN where SAM was not prompted.
        tracked: (T, N) bool, the frames that count (default all). With reinit, the frames after a track
            stopped do not count, as in the authors' ``_forward_w_reinit`` (NaN there, then ``nanmean``).

    Returns:
        (N,) float64 finite scores; `NOT_PROMPTED_SCORE` for a track SAM was never prompted for, and in
        ``mean-all-frames`` mode also for one with a counted frame SAM was not prompted on (the authors' -inf).
    """
    if mode not in SCORE_MODES:
        raise ValueError(f"score_mode={mode!r} is not valid; valid: {', '.join(SCORE_MODES)}")
    iou = np.asarray(iou, np.float64)
    tracked = np.ones(iou.shape, bool) if tracked is None else np.asarray(tracked, bool)
    if tracked.shape != iou.shape:
        raise ValueError(f"tracked must be {iou.shape} like iou, got {tracked.shape}")
    prompted = ~np.isnan(iou) & tracked
    counts = prompted.sum(axis=0)
    means = np.where(counts > 0, np.where(prompted, iou, 0.0).sum(axis=0) / np.maximum(counts, 1),
                     NOT_PROMPTED_SCORE)
    if mode == "mean-all-frames":
        means = np.where((prompted == tracked).all(axis=0), means, NOT_PROMPTED_SCORE)
    return means


def _query_points(sampt, frame: np.ndarray, masks: np.ndarray, video_name: str) -> tuple[np.ndarray, list[int]]:
    """(N', P, 3) query points on frame 0, one random stream per proposal; returns them and the kept indices."""
    from trackers.sampt.query_points import EmptyMaskError, video_rng

    points, kept = [], []
    for k, mask in enumerate(masks):
        rng = video_rng(sampt.seed, f"{video_name}/proposal-{k}")
        try:
            points.append(sampt.select_query_points(frame, mask, 0, rng, video=video_name, object_id=k + 1))
        except EmptyMaskError as error:  # a proposal covering the whole frame has no negative point
            log.warning("video %s: proposal %d dropped (%s)", video_name, k, error)
            continue
        kept.append(k)
    return (np.stack(points) if points else np.zeros((0, 0, 3), np.float32)), kept


def run_vis_video(sampt, proposer, video, masks_batch_size: int = 100, frame_short_side: int | None = None,
                  frame_max_size: int | None = 1333, other_objects_as_negatives: bool | None = False,
                  score_mode: str = "mean-all-frames") -> list[UvoTrack]:
    """SAM-PT tracks of every first-frame proposal of ``video``.

    Args:
        sampt: a `trackers.sampt.model.SamPt` (its tracker, segmenter and knobs; reinit is supported).
        proposer: a `trackers.sampt.proposals.Proposer`.
        video: a `datasets.video.Video` (for UVO a `datasets.uvo.UvoVideo`).
        masks_batch_size: objects per point-tracker call and per decoder call (the authors: 100).
        frame_short_side, frame_max_size: working frame size (see the module docstring); None: as stored.
        other_objects_as_negatives: override of SAM-PT's knob (the paper's VIS runs: False); None keeps
            SAM-PT's own setting. With reinit it must equal SAM-PT's setting.
        score_mode: one of `SCORE_MODES`.

    Returns:
        one `UvoTrack` per proposal, in proposal order, masks at ``video.size`` (`RleMasks`, None where
        absent); [] when there is no proposal.
    """
    from infra.frames import FrameSource
    from trackers.sampt.model import Clip, PromptGroup
    from trackers.sampt.reinit import ReinitPass

    if isinstance(masks_batch_size, bool) or int(masks_batch_size) != masks_batch_size or masks_batch_size < 1:
        raise ValueError(f"masks_batch_size must be an integer >= 1, got {masks_batch_size!r}")
    if score_mode not in SCORE_MODES:
        raise ValueError(f"score_mode={score_mode!r} is not valid; valid: {', '.join(SCORE_MODES)}")
    settings = sampt.prompt_settings()
    if other_objects_as_negatives is not None:
        if sampt.use_point_reinit and bool(other_objects_as_negatives) != settings.other_objects_as_negatives:
            raise ValueError("with use_point_reinit the other-objects-as-negatives setting comes from SAM-PT: set "
                             "model.add_other_objects_positive_points_as_negative_points instead")
        settings = replace(settings, other_objects_as_negatives=bool(other_objects_as_negatives))
    frames = WorkingFrames(video, frame_short_side, frame_max_size)
    first = frames.frame(0)
    proposals = proposer.propose(first, video=video)
    query_points, kept = _query_points(sampt, first, proposals.masks, video.name)
    if not kept:
        log.warning("video %s: no proposal on the first frame; no track", video.name)
        return []
    num_frames, count = frames.num_frames, len(kept)
    batches = [np.arange(start, min(start + masks_batch_size, count)) for start in range(0, count, masks_batch_size)]
    from trackers.sampt.query_points import video_rng

    rngs = [video_rng(sampt.seed, f"{video.name}/batch-{b}") for b in range(len(batches))]
    segmentations: list[list[dict | None]] = [[None] * num_frames for _ in range(count)]
    iou = np.full((num_frames, count), np.nan, np.float32)
    passes = None
    if sampt.use_point_reinit:  # each batch's reinit pass, streamed frame by frame in step
        passes = [ReinitPass(sampt, Clip(frames.frame, num_frames, sampt.segmenter), query_points[batch], rng)
                  for batch, rng in zip(batches, rngs)]
        steps = ((t, passes[0].size_embedding, [frame for _, frame in per_batch])
                 for t, per_batch in enumerate(zip(*(one.frames() for one in passes))))
    else:
        source = FrameSource(frames.frame, num_frames, frames.size)
        groups = [PromptGroup(*sampt.track_objects(source, query_points[batch]), rng, settings=settings)
                  for batch, rng in zip(batches, rngs)]
        clip = Clip(frames.frame, num_frames, sampt.segmenter, keep_embeddings=False)
        steps = ((step.t, step.embedding, step.predictions) for step in sampt.frame_loop(clip, groups))
    for t, embedding, predictions in steps:
        for batch, prediction in zip(batches, predictions):
            iou[t, batch] = np.where(prediction.predicted, prediction.iou, np.nan)
            chosen = np.flatnonzero(prediction.has_mask)
            if not len(chosen):
                continue
            logits = sampt.full_logits(embedding, prediction.low_res_logits[torch.from_numpy(chosen)])
            if tuple(logits.shape[-2:]) != frames.original_size:
                logits = F.interpolate(logits[:, None], frames.original_size, mode="bilinear",
                                       align_corners=False)[:, 0]
            masks = (logits > 0).numpy()
            for row, k in enumerate(chosen):
                if masks[row].any():
                    segmentations[batch[k]][t] = encode_rle(masks[row])
    tracked_frames = np.ones((num_frames, count), bool)
    if passes is not None:  # reinit: a stopped track has no trajectory (NaN) on its later frames
        for batch, reinit in zip(batches, passes):
            tracked_frames[:, batch] = ~np.isnan(reinit.tracks[:, :, 0, 0])
    scores = track_scores(iou, score_mode, tracked_frames)
    return [UvoTrack(video=video.name, score=float(scores[k]), masks=RleMasks(segmentations[k], frames.original_size))
            for k in range(count)]


# ----------------------------------------------------------------------------------------- files
def gt_subset(gt_json: str | Path, video_ids: set[int]) -> dict:
    """The ground-truth json restricted to ``video_ids`` (videos and their annotations)."""
    data = json.loads(Path(gt_json).read_text())
    return {**data, "videos": [v for v in data["videos"] if v["id"] in video_ids],
            "annotations": [a for a in data.get("annotations") or [] if a.get("video_id") in video_ids]}


# ----------------------------------------------------------------------------------------- dataset
def run_vis(videos: list, sampt, proposer, out_dir: str | Path, config_hash: str = "", masks_batch_size: int = 100,
            fail_fast: bool = False, progress: bool = False, **video_options) -> dict:
    """Predict every video not already complete (resumable) and write the results json (not scored here:
    the run scores it once, `experiments.run.scoring.score_predictions`).

    Args:
        videos: `datasets.uvo.UvoVideo` objects (they carry ``video_id`` and ``gt_json``).
        out_dir: the run folder (``predictions/<video>/tracks.json``, ``uvo_results.json``).
        config_hash: recorded in each video's completion marker; another hash redoes the video.
        video_options: passed to `run_vis_video` (frame_short_side, other_objects_as_negatives, score_mode ...).

    Returns:
        ``{"done": {video: info}, "skipped": [...], "failed": {video: traceback}, "no_proposals": [...],
        "results_json": path or None (no video has a track)}``.
    """
    if not videos:
        raise ValueError("run_vis got no video; check the split, `videos` and `limit_videos`")
    out_dir = Path(out_dir)
    all_tracks: dict[str, list[UvoTrack]] = {}

    def skip(video, video_dir: Path) -> None:
        all_tracks[video.name] = load_video_tracks(video_dir, video)

    def predict(index: int, video, video_dir: Path) -> dict:
        start = time.perf_counter()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        tracks = run_vis_video(sampt, proposer, video, masks_batch_size=masks_batch_size, **video_options)
        seconds = time.perf_counter() - start
        info = {"num_tracks": len(tracks), "seconds": seconds,
                "fps": video.num_frames / seconds if seconds > 0 else None,
                "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None}
        save_video_tracks(video_dir, video, tracks, **info)
        all_tracks[video.name] = tracks
        return info

    records = predict_resumably(videos, out_dir / "predictions", config_hash, predict, skip=skip,
                                fail_fast=fail_fast, desc="VIS", progress=progress)
    records["no_proposals"] = [name for name, tracks in all_tracks.items() if not tracks]
    records["results_json"] = None
    with_tracks = [video for video in videos if all_tracks.get(video.name)]
    if not with_tracks:
        log.warning("no video has a track: no results json written")
        return records
    results_path = write_uvo_results(with_tracks, [t for v in with_tracks for t in all_tracks[v.name]],
                                     out_dir / RESULTS_FILE)
    records["results_json"] = str(results_path)
    return records


def run_vis_dataset(cfg, run_dir: str | Path, chash: str) -> tuple[list, dict]:
    """Run the VIS pipeline of a Hydra config (``cfg.dataset.task == "vis"``) into ``run_dir``.

    Reads ``cfg.dataset`` (reader, root, split, options, ``synthetic`` (build `embedded_uvo` under root), and
    the ``vis`` block: ``proposer``, ``proposer_options``, ``masks_batch_size``, ``frame_short_side``,
    ``frame_max_size``, ``other_objects_as_negatives`` (null: the model's knob), ``score_mode``),
    ``cfg.model/tracker/segmenter`` (the paper's VIS knobs, no refinement, are in ``experiment=sampt_uvo``),
    ``cfg.seed``, ``cfg.device``, ``cfg.fail_fast``, ``cfg.logging.progress``, ``videos``, ``limit_videos``
    and sharding. Returns ``(videos, record)``: the config's videos (`experiments.run.videos.load_videos`)
    and `run_vis`'s record (predictions only: the run scores them).
    """
    from omegaconf import OmegaConf

    from experiments.run.videos import load_videos
    from experiments.run.vos import build_sampt, resolve_device
    from trackers.sampt.proposals import build_proposer

    vis = cfg.dataset.get("vis")
    if vis is None:
        raise ValueError(f"dataset {cfg.dataset.name} has no 'vis' block; use dataset=uvo or dataset=uvo_synthetic")
    if cfg.get("longest_side") is not None:
        raise ValueError(f"longest_side={cfg.longest_side} applies to VOS runs; VIS runs work at the authors' "
                         f"Detectron2 size, dataset.vis.frame_short_side (set longest_side=null)")
    other_negatives = vis.get("other_objects_as_negatives", False)
    model_knob = cfg.model.get("add_other_objects_positive_points_as_negative_points")
    if other_negatives is not None and model_knob is not None and bool(other_negatives) != bool(model_knob):
        log.info("dataset.vis.other_objects_as_negatives=%s overrides model.add_other_objects_positive_points_"
                    "as_negative_points=%s (set the vis knob to null to use the model's)", other_negatives, model_knob)
    videos = load_videos(cfg)
    sampt = build_sampt(cfg, int(cfg.seed), resolve_device(cfg.device))
    options = OmegaConf.to_container(vis.proposer_options, resolve=True) if vis.get("proposer_options") else {}
    proposer = build_proposer(vis.proposer, segmenter=sampt.segmenter, **options)
    log.info("VIS: %d videos, proposer %s, config hash %s, folder %s", len(videos), vis.proposer, chash, run_dir)
    return videos, run_vis(videos, sampt, proposer, run_dir, config_hash=chash,
                           masks_batch_size=int(vis.get("masks_batch_size", 100)),
                           fail_fast=bool(cfg.fail_fast), progress=bool(cfg.logging.progress),
                           frame_short_side=vis.get("frame_short_side"),
                           frame_max_size=vis.get("frame_max_size", 1333),
                           other_objects_as_negatives=other_negatives,
                           score_mode=vis.get("score_mode", "mean-all-frames"))
