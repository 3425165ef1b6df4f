"""One run of SAM-PT over a dataset's videos (`experiments.run.videos`): build the model, predict each video
resumably.

Predictions go to ``<run>/predictions/<video>/<frame>.png`` (indexed PNGs at annotation resolution,
only the frames the dataset asks for; with ``dataset.save_overlapping_masks`` one binary PNG per object,
``<video>/<obj:03d>/<frame>.png``), ``scores.json`` and, written last, the ``.complete`` marker.
"""
from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from infra.background import WriteBehind
from datasets.png import write_label_png
from datasets.video import Video
from infra.resolution import WorkingVideo
from experiments.run.outputs import predict_resumably, write_tracks
from infra.files import write_json_atomic
from trackers.sampt.engine import VideoObjects

log = logging.getLogger("sampt")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; an explicit cuda device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name} asked for but CUDA is not available here; use device=cpu or device=auto")
    return device


def build_sampt(cfg: DictConfig, seed: int, device: torch.device):
    """SAM-PT from the config's tracker, segmenter and model knobs."""
    from trackers.point.base import build_point_tracker
    from trackers.sampt.model import SamPt
    from trackers.segmenters.base import build_segmenter

    tracker_options = OmegaConf.to_container(cfg.tracker.options, resolve=True) if cfg.tracker.options else {}
    segmenter_options = OmegaConf.to_container(cfg.segmenter.options, resolve=True) if cfg.segmenter.options else {}
    if cfg.tracker.checkpoint is not None:
        tracker_options.setdefault("device", device)
    if cfg.segmenter.checkpoint is not None:
        segmenter_options.setdefault("device", device)
    tracker = build_point_tracker(cfg.tracker.name, checkpoint=cfg.tracker.checkpoint, **tracker_options)
    segmenter = build_segmenter(cfg.segmenter.name, checkpoint=cfg.segmenter.checkpoint, **segmenter_options)
    return SamPt(tracker, segmenter, seed=seed, **OmegaConf.to_container(cfg.model, resolve=True))


LONG_VIDEO_FRAMES = 100  # videos at least this long get a progress bar over frames


def reset_peak_rss() -> bool:
    """Reset the process's peak resident memory counter (Linux ``VmHWM``); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int | None:
    """Peak resident memory of the process since the last `reset_peak_rss` (Linux), else None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def write_object_masks(video_dir: Path, video: Video, t: int, masks: np.ndarray) -> None:
    """Write frame ``t``'s (M, H, W) bool per-object masks (objects in ``video.object_ids`` order) as binary
    indexed PNGs (0 background, 1 object) ``video_dir/<obj:03d>/<frame>.png`` (`Video.object_folder`)."""
    for object_id, mask in zip(video.object_ids, masks):
        write_label_png(video_dir / video.object_folder(object_id) / f"{video.frame_names[t]}.png",
                        mask.astype(np.uint8))


def write_prediction(video_dir: Path, video: Video, t: int, merge) -> None:
    """Run ``merge`` (a `trackers.sampt.engine.VideoRun.merges` callable) and write frame ``t``'s prediction:
    an (H, W) label map as ``<frame>.png``, (M, H, W) per-object masks with `write_object_masks`."""
    prediction = merge()
    if prediction.ndim == 3:
        write_object_masks(video_dir, video, t, prediction)
    else:
        write_label_png(video_dir / f"{video.frame_names[t]}.png", prediction)


def painted(video: Video, prediction: np.ndarray) -> np.ndarray:
    """An (H, W) uint8 label map to draw: ``prediction`` itself, or (M, H, W) masks painted in id order (a
    higher id wins where masks overlap, as `datasets.sav.SavVideo.annotation` paints the ground truth)."""
    if prediction.ndim == 2:
        return prediction
    labels = np.zeros(prediction.shape[1:], np.uint8)
    for object_id, mask in zip(video.object_ids, prediction):
        labels[mask] = object_id
    return labels


def predict_video(sampt, video: Video, video_dir: Path, visualizer=None, progress: bool = False,
                  longest_side: int | None = None, overlapping: bool = False) -> dict:
    """Run SAM-PT on one video, write its predictions into ``video_dir``; returns timing and scores.

    Predictions are made for every frame and written for ``video.frames_to_write``: label maps
    ``<frame>.png``, or with ``overlapping`` (the ``dataset.save_overlapping_masks`` option) each object's own
    mask ``<obj:03d>/<frame>.png`` (`write_object_masks`; masks may overlap, no argmax).
    SAM-PT works at the working resolution (`infra.resolution.WorkingVideo`: frames resized so
    the longest side is ``longest_side``, first masks nearest-resized to it, query points chosen there);
    label maps are made at the annotation size (``video.size``) as the authors' evaluation makes them
    (`trackers.sampt.model.SamPt.merge_frame`). Frames are decoded on demand (by the tracker, then by the
    frame loop) and dropped; predictions are produced and written frame by frame, so memory does not grow
    with the video (tracks, visibility and per-object IoU are the only per-frame state kept).
    """
    start = time.perf_counter()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    rss_reset = reset_peak_rss()
    source = WorkingVideo(video, longest_side)
    run = sampt.run_video(source, VideoObjects.from_masks(source.first_masks()), video.name)
    to_write = set(video.frames_to_write)
    frames = tqdm(run.merges(output_size=tuple(video.size), overlapping=overlapping), total=video.num_frames,
                  desc=video.name, unit="frame", leave=False,
                  disable=not progress or video.num_frames < LONG_VIDEO_FRAMES)
    # predictions are merged, encoded and written on a thread while the next frame is embedded and prompted;
    # frames nobody writes or draws are not merged
    with WriteBehind() as writer:
        for t, merge in frames:
            if visualizer is None:
                if t in to_write:
                    writer.submit(write_prediction, video_dir, video, t, merge)
                continue
            prediction = merge()
            if t in to_write:
                writer.submit(write_prediction, video_dir, video, t, functools.partial(np.asarray, prediction))
            visualizer.add(t, painted(video, prediction), run)
    if visualizer is not None:
        visualizer.close()
    seconds = time.perf_counter() - start
    info = {
        "video": video.name,
        "num_frames": video.num_frames,
        "seconds": seconds,
        "fps": video.num_frames / seconds if seconds > 0 else None,
        "working_size": list(source.frame_size),
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
        "peak_rss_bytes": peak_rss_bytes() if rss_reset else None,
        "object_scores": {str(k): v for k, v in run.scores.items()},
    }
    write_json_atomic(video_dir / "scores.json", info)
    write_tracks(video_dir, run.tracks, run.visible, run.object_ids, source.frame_size)
    return info


def predict_all(cfg: DictConfig, videos: list[Video], run_dir: Path, chash: str, seed: int,
                make_visualizer=None) -> dict:
    """Predict every video not already complete for this config.

    Returns ``{"done": {video: info}, "skipped": [video], "failed": {video: traceback}}``. A failing
    video is recorded and the run goes on, unless ``fail_fast``.
    """
    state = {}

    def setup() -> None:  # built lazily: a fully resumed run needs no model
        state["sampt"] = build_sampt(cfg, seed, resolve_device(cfg.device))

    def predict(index: int, video: Video, video_dir: Path) -> dict:
        visualizer = make_visualizer(video, index) if make_visualizer else None
        info = predict_video(state["sampt"], video, video_dir, visualizer, progress=bool(cfg.logging.progress),
                             longest_side=cfg.longest_side, overlapping=bool(cfg.dataset.save_overlapping_masks))
        log.info("%s: %d frames in %.1f s (%.2f fps)", video.name, video.num_frames, info["seconds"], info["fps"])
        return info

    return predict_resumably(videos, run_dir / "predictions", chash, predict, fail_fast=bool(cfg.fail_fast),
                             marker=lambda video: {"video": video.name, "seed": seed}, setup=setup, desc=f"seed {seed}",
                             progress=bool(cfg.logging.progress))
