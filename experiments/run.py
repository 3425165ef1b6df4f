"""The Hydra entry point: run SAM-PT over a dataset, write predictions, score them, write results.

    python -m experiments.run                        # embedded default (synthetic, lk + grabcut)
    python -m experiments.run dataset=davis17 experiment=sampt
    make eval DATASET=davis17

A run folder holds ``predictions/<video>/<frame>.png`` (indexed PNGs at annotation resolution),
``predictions/<video>/scores.json``, the official CSVs, ``results.json`` and ``run.log``.
"""
from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path

import cv2
import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from datasets.errors import DatasetError
from datasets.png import write_label_png
from datasets.registry import build_reader
from datasets.video import Video
from experiments.outputs import is_complete, mark_complete, prepare_video_dir, write_json_atomic
from experiments.provenance import config_hash, git_commit, package_versions

log = logging.getLogger("sampt")

RESULTS_SCHEMA_VERSION = 1


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name} asked for but CUDA is not available here; use device=cpu or device=auto")
    return device


def dataset_root(cfg: DictConfig) -> Path:
    """The dataset root; the synthetic default is generated (once, cached) on first use."""
    root = Path(cfg.dataset.root)
    if cfg.dataset.name == "synthetic":
        from datasets.synthetic import embedded_default

        return Path(embedded_default(root))
    return root


def load_videos(cfg: DictConfig) -> list[Video]:
    reader = build_reader(cfg.dataset.reader, dataset_root(cfg), split=cfg.dataset.split,
                          **OmegaConf.to_container(cfg.dataset.options or {}, resolve=True))
    names = list(reader.sequences)
    if cfg.videos:
        unknown = sorted(set(cfg.videos) - set(names))
        if unknown:
            raise DatasetError(f"videos not in split {cfg.dataset.split} of {cfg.dataset.name}: {unknown}")
        names = [name for name in names if name in set(cfg.videos)]
    if cfg.limit_videos:
        names = names[: int(cfg.limit_videos)]
    return [reader.video(name) for name in names]


def build_sampt(cfg: DictConfig, device: torch.device):
    from trackers.point_tracker import build_point_tracker
    from trackers.sampt import SamPt
    from trackers.segmenter import build_segmenter

    tracker_options = OmegaConf.to_container(cfg.tracker.options or {}, resolve=True)
    segmenter_options = OmegaConf.to_container(cfg.segmenter.options or {}, resolve=True)
    if cfg.tracker.checkpoint is not None:
        tracker_options["device"] = device
    if cfg.segmenter.checkpoint is not None:
        segmenter_options["device"] = device
    tracker = build_point_tracker(cfg.tracker.name, checkpoint=cfg.tracker.checkpoint, **tracker_options)
    segmenter = build_segmenter(cfg.segmenter.name, checkpoint=cfg.segmenter.checkpoint, **segmenter_options)
    return SamPt(tracker, segmenter, seed=int(cfg.seed), **OmegaConf.to_container(cfg.model, resolve=True))


def _resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if labels.shape == tuple(size):
        return labels
    return cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return _resize_labels(mask.astype(np.uint8), size).astype(bool)


def predict_video(sampt, video: Video, video_dir: Path) -> dict:
    """Run SAM-PT on one video and write its predictions into ``video_dir``; returns its timing/scores."""
    start = time.perf_counter()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    frames = np.stack(list(video.iter_frames()))
    frame_size = frames.shape[1:3]
    first_masks = {obj.id: (obj.first_frame, _resize_mask(video.first_mask(obj.id), frame_size))
                   for obj in video.objects}
    result = sampt.segment_video(frames, first_masks, video_name=video.name)
    for index in video.frames_to_write:
        labels = _resize_labels(result.labels[index], video.size)
        write_label_png(video_dir / f"{video.frame_names[index]}.png", labels)
    seconds = time.perf_counter() - start
    info = {
        "video": video.name,
        "num_frames": video.num_frames,
        "seconds": seconds,
        "fps": video.num_frames / seconds if seconds > 0 else None,
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
        "object_scores": {str(k): float(v) for k, v in result.scores.items()},
    }
    write_json_atomic(video_dir / "scores.json", info)
    return info


def predict_all(cfg: DictConfig, videos: list[Video], run_dir: Path, chash: str) -> dict:
    """Predict every video not already complete; failures are recorded and counted, not fatal."""
    predictions = run_dir / "predictions"
    sampt = None
    records: dict = {"done": {}, "skipped": [], "failed": {}}
    for video in tqdm(videos, desc="videos", unit="video", disable=not cfg.logging.progress):
        video_dir = predictions / video.name
        if is_complete(video_dir, chash):
            records["skipped"].append(video.name)
            log.info("%s: complete, skipped", video.name)
            continue
        try:
            if sampt is None:
                sampt = build_sampt(cfg, resolve_device(cfg.device))
            prepare_video_dir(video_dir)
            info = predict_video(sampt, video, video_dir)
            mark_complete(video_dir, chash, video=video.name)
            records["done"][video.name] = info
            log.info("%s: %d frames in %.1f s", video.name, video.num_frames, info["seconds"])
        except Exception as error:  # noqa: BLE001 - recorded per video, the run goes on
            if cfg.fail_fast or sampt is None:
                raise
            records["failed"][video.name] = traceback.format_exc()
            log.error("%s failed: %s", video.name, error)
    return records


def evaluate_run(cfg: DictConfig, videos: list[Video], run_dir: Path) -> dict | None:
    from evaluation.vos import evaluate_vos

    if not all(len(video.annotation_paths) == video.num_frames for video in videos):
        log.info("split %s has no full ground truth: predictions written, not scored", cfg.dataset.split)
        return None
    result = evaluate_vos(videos, run_dir / "predictions", output_dir=run_dir, split=cfg.dataset.split,
                          workers=int(cfg.eval_workers))
    return result


@hydra.main(config_path="../configs", config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> int:
    run_dir = Path(hydra.core.hydra_config.HydraConfig.get().runtime.output_dir)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    chash = config_hash(resolved)
    log.info("run folder %s, config hash %s", run_dir, chash)
    videos = load_videos(cfg)
    records = predict_all(cfg, videos, run_dir, chash)
    metrics = evaluate_run(cfg, videos, run_dir) if cfg.evaluate and not records["failed"] else None
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "config": resolved,
        "config_hash": chash,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "seed": int(cfg.seed),
        "dataset": cfg.dataset.name,
        "split": cfg.dataset.split,
        "metrics": metrics.to_dict() if metrics is not None else None,
        "videos": {name: info for name, info in records["done"].items()},
        "num_videos_evaluated": len(videos) - len(records["failed"]),
        "videos_skipped_complete": records["skipped"],
        "videos_failed": records["failed"],
    }
    write_json_atomic(run_dir / "results.json", results)
    if metrics is not None:
        print(metrics.table())
    print(f"results: {run_dir / 'results.json'}")
    if records["failed"]:
        print(f"{len(records['failed'])} videos failed: {', '.join(records['failed'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
