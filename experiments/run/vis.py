"""Open-world video instance segmentation with SAM-PT on UVO (paper Sec. 4.1.2 and 4.2, Tab. 6).

As the authors' VIS evaluation (SysCV/sam-pt ``sam_pt/modeling/vis_to_vos_adapter.py``, run with
``iterative_refinement_iterations=0`` and ``add_other_objects_positive_points_as_negative_points=false``):

1. proposals on the first frame (`trackers.sampt.proposals`; SAM's automatic mask generator, up to 100 masks);
2. every proposal is an object for SAM-PT: query points are sampled from its mask, tracked through the
   video, and SAM is prompted per frame with them; objects run in batches of ``masks_batch_size``
   (point-tracker calls and decoder calls); other objects' positive points serve as negatives within a
   batch only when the model's ``add_other_objects_positive_points_as_negative_points`` is on (the UVO
   presets turn it off, as the authors' VIS runs);
3. every object keeps its own mask on every frame (tracks may overlap; no label-map merge), SAM's mask
   on the first frame too (the proposal is not pasted there, as in the authors' VIS code);
4. the track score is the mean of SAM's predicted IoUs (`SCORE_MODES`).

Differences from the authors' code, on purpose: each proposal draws its query points from its own random
stream (run seed, video, proposal index), so a track does not depend on ``masks_batch_size``; every frame
is embedded once for all batches (the authors re-embed per batch: the same embedding, slower). Recorded
against the authors' code run unmodified (their ``sam_pt/vis_eval/eval.py`` at 874ff7e, synthetic UVO video,
tiny random SAM, random PIPS): the same proposals, every pixel of every track and the same metrics, scores
to float32 rounding (``tests/experiments/run/test_authors_vis_path.py``; the scorer alone on richer inputs:
``tests/evaluation/test_official_vis.py``). The authors feed
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
from pathlib import Path

import numpy as np
import torch

from datasets.rle import encode_rle
from experiments.run.outputs import RleMasks, UvoTrack, load_video_tracks, predict_resumably, save_video_tracks
from experiments.tools.submission import write_uvo_results
from infra.resolution import WorkingVideo
from trackers.sampt.engine import VideoObjects
from trackers.sampt.knobs import int_at_least
from trackers.sampt.query_points import EmptyMaskError, video_rng

log = logging.getLogger("sampt")

#: ``mean-all-frames``: the authors' VIS score, the mean of SAM's predicted IoU over ALL frames, where a
#: frame SAM was not prompted on counts as -inf (so such a track ranks below every fully prompted one;
#: written as `NOT_PROMPTED_SCORE`, which ranks the same since only the order matters).
#: ``mean-predicted``: the mean over the frames SAM was prompted on (`trackers.sampt.engine.VideoRun.scores`).
SCORE_MODES = ("mean-all-frames", "mean-predicted")
NOT_PROMPTED_SCORE = -1e6
RESULTS_FILE = "uvo_results.json"


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
                  frame_max_size: int | None = 1333, score_mode: str = "mean-all-frames") -> list[UvoTrack]:
    """SAM-PT tracks of every first-frame proposal of ``video`` (`trackers.sampt.model.SamPt.run_video`).

    Args:
        sampt: a `trackers.sampt.model.SamPt` (its tracker, segmenter and knobs; reinit is supported; other
            objects' points are negatives within a batch when its
            ``add_other_objects_positive_points_as_negative_points`` is on: the paper's VIS presets turn it off).
        proposer: a `trackers.sampt.proposals.Proposer`.
        video: a `datasets.video.Video` (for UVO a `datasets.uvo.UvoVideo`).
        masks_batch_size: objects per point-tracker call and per decoder call (the authors: 100).
        frame_short_side, frame_max_size: working frame size (see the module docstring); None: as stored.
        score_mode: one of `SCORE_MODES`.

    Returns:
        one `UvoTrack` per proposal, in proposal order, masks at ``video.size`` (`RleMasks`, None where
        absent); [] when there is no proposal.
    """
    int_at_least("masks_batch_size", masks_batch_size, 1)
    if score_mode not in SCORE_MODES:
        raise ValueError(f"score_mode={score_mode!r} is not valid; valid: {', '.join(SCORE_MODES)}")
    frames = WorkingVideo(video, short_side=frame_short_side, max_size=frame_max_size)
    objects = _proposal_objects(sampt, proposer, frames, video, int(masks_batch_size))
    if objects is None:
        return []
    rngs = [video_rng(sampt.seed, f"{video.name}/batch-{b}") for b in range(len(objects.batches))]
    run = sampt.run_video(frames, objects, video.name, rngs=rngs)
    size = tuple(video.size)
    segmentations: list[list[dict | None]] = [[None] * frames.num_frames for _ in range(len(objects))]
    for t, chosen, logits in run.object_logits(size):
        for row, k in enumerate(chosen):
            mask = (logits[row] > 0).numpy()
            if mask.any():
                segmentations[k][t] = encode_rle(mask)
    # reinit: a stopped track has no trajectory (NaN) on its later frames, which do not count
    tracked_frames = ~np.isnan(run.tracks[:, :, 0, 0])
    scores = track_scores(run.iou, score_mode, tracked_frames)
    return [UvoTrack(video=video.name, score=float(scores[k]), masks=RleMasks(segmentations[k], size))
            for k in range(len(objects))]


def _proposal_objects(sampt, proposer, frames: WorkingVideo, video, batch_size: int) -> VideoObjects | None:
    """The proposals of frame 0 as `VideoObjects` (query points sampled per proposal, batches of
    ``batch_size``); None when there is none."""
    first = frames.frame(0)
    proposals = proposer.propose(first, video=video)
    query_points, kept = _query_points(sampt, first, proposals.masks, video.name)
    if not kept:
        log.warning("video %s: no proposal on the first frame; no track", video.name)
        return None
    count = len(kept)
    batches = [np.arange(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    return VideoObjects(list(range(1, count + 1)), np.zeros(count, np.int64), query_points=query_points,
                        batches=batches)


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
        video_options: passed to `run_vis_video` (frame_short_side, frame_max_size, score_mode).

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
    ``frame_max_size``, ``score_mode``),
    ``cfg.model/tracker/segmenter`` (the paper's VIS knobs, no refinement, are in ``experiment=paper/sampt_uvo``),
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
                           score_mode=vis.get("score_mode", "mean-all-frames"))
