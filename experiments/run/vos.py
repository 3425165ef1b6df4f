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
from infra.resolution import WorkingVideo, mirror, mirror_points
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


#: per-frame probabilities of ``dataset.save_scores``: ``<video>/SCORES_FOLDER/<frame>.npz``
SCORES_FOLDER = "scores"


def quantized_probabilities(probabilities: torch.Tensor) -> np.ndarray:
    """(M + 1, H, W) float32 probabilities -> uint8 ``floor(255 p)``, the authors' quantisation of the scores
    they save (``(prob * 255).astype(np.uint8)``, ``sam_pt/vos_eval/eval.py:360`` at SysCV/sam-pt 874ff7e)."""
    return (probabilities.numpy() * 255).astype(np.uint8)


def write_scores(video_dir: Path, video: Video, t: int, scores: np.ndarray) -> None:
    """Write frame ``t``'s (M + 1, H, W) uint8 scores as ``<video>/scores/<frame>.npz`` (compressed):
    ``probabilities`` (channel 0 the background, then the objects) and ``object_ids`` ((M + 1,) int64, 0 first:
    channel c holds object ``object_ids[c]``)."""
    path = video_dir / SCORES_FOLDER / f"{video.frame_names[t]}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, probabilities=scores, object_ids=np.asarray([0, *video.object_ids], np.int64))


def frame_outputs(prediction, video: Video) -> tuple[np.ndarray, np.ndarray | None]:
    """(what is written as PNGs, the uint8 scores or None) of one `trackers.sampt.engine.VideoRun.merges` result:
    a label map or per-object masks as they are, probabilities as their label map (`SamPt.label_map`) and their
    `quantized_probabilities`."""
    from trackers.sampt.model import SamPt

    if isinstance(prediction, torch.Tensor):
        return SamPt.label_map(prediction, video.object_ids), quantized_probabilities(prediction)
    return prediction, None


def mirrored_outputs(prediction: np.ndarray, scores: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """`frame_outputs` mirrored back from a run on the mirrored video (``dataset.flip``; the authors mirror the
    probabilities before their argmax, ``sam_pt/vos_eval/eval.py:351-352`` at 874ff7e: the same pixels)."""
    return mirror(prediction), None if scores is None else mirror(scores)


def write_prediction(video_dir: Path, video: Video, t: int, merge, mirrored: bool = False) -> None:
    """Run ``merge`` (a `trackers.sampt.engine.VideoRun.merges` callable) and write frame ``t``'s outputs
    (`frame_outputs`, mirrored back with ``mirrored``; `write_outputs`)."""
    outputs = frame_outputs(merge(), video)
    write_outputs(video_dir, video, t, *(mirrored_outputs(*outputs) if mirrored else outputs))


def write_outputs(video_dir: Path, video: Video, t: int, prediction: np.ndarray, scores: np.ndarray | None) -> None:
    """Write frame ``t``'s prediction: an (H, W) label map as ``<frame>.png``, (M, H, W) per-object masks with
    `write_object_masks`; and its scores with `write_scores` when there are any."""
    if prediction.ndim == 3:
        write_object_masks(video_dir, video, t, prediction)
    else:
        write_label_png(video_dir / f"{video.frame_names[t]}.png", prediction)
    if scores is not None:
        write_scores(video_dir, video, t, scores)


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
                  longest_side: int | None = None, overlapping: bool = False, flip: bool = False,
                  one_point_input: bool = False, save_scores: bool = False) -> dict:
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

    The authors' options (README, "The authors' evaluation options"): ``flip`` runs on the mirrored video and
    mirrors every output back (a visualizer sees the mirrored run); ``one_point_input``: query points from SAM's
    mask of one point per first mask; ``save_scores``: each frame's probabilities too (`write_scores`).
    """
    if overlapping and save_scores:
        raise ValueError("dataset.save_scores writes the probabilities behind the label maps, and "
                         "dataset.save_overlapping_masks writes no label maps: set one of them to false")
    start = time.perf_counter()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    rss_reset = reset_peak_rss()
    source = WorkingVideo(video, longest_side, mirrored=flip)
    run = sampt.run_video(source, VideoObjects.from_masks(source.first_masks()), video.name,
                          one_point_input=one_point_input)
    to_write = set(video.frames_to_write)
    frames = tqdm(run.merges(output_size=tuple(video.size), overlapping=overlapping, probabilities=save_scores),
                  total=video.num_frames, desc=video.name, unit="frame", leave=False,
                  disable=not progress or video.num_frames < LONG_VIDEO_FRAMES)
    # predictions are merged, encoded and written on a thread while the next frame is embedded and prompted;
    # frames nobody writes or draws are not merged
    with WriteBehind() as writer:
        for t, merge in frames:
            if visualizer is None:
                if t in to_write:
                    writer.submit(write_prediction, video_dir, video, t, merge, flip)
                continue
            outputs = frame_outputs(merge(), video)  # as the run saw the video (mirrored with flip)
            if t in to_write:
                writer.submit(write_outputs, video_dir, video, t, *(mirrored_outputs(*outputs) if flip else outputs))
            visualizer.add(t, painted(video, outputs[0]), run)
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
    tracks = mirror_points(run.tracks, source.frame_size[1]) if flip else run.tracks
    write_tracks(video_dir, tracks, run.visible, run.object_ids, source.frame_size)
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
                             longest_side=cfg.longest_side, overlapping=bool(cfg.dataset.save_overlapping_masks),
                             flip=bool(cfg.dataset.flip), save_scores=bool(cfg.dataset.save_scores),
                             one_point_input=bool(cfg.dataset.input_only_one_gt_mask_point))
        log.info("%s: %d frames in %.1f s (%.2f fps)", video.name, video.num_frames, info["seconds"], info["fps"])
        return info

    return predict_resumably(videos, run_dir / "predictions", chash, predict, fail_fast=bool(cfg.fail_fast),
                             marker=lambda video: {"video": video.name, "seed": seed}, setup=setup, desc=f"seed {seed}",
                             progress=bool(cfg.logging.progress))
