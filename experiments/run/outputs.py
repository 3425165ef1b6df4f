"""The run folder's per-video files, and folders that are complete only when their marker is written last.

Layout: ``<run>/predictions/<video>/<frame>.png`` (indexed PNGs), ``scores.json`` (per-object scores and
timing), ``tracks.npz`` (the tracked query points) and ``.complete`` (json holding the config hash), written last by an atomic rename. A re-run of
the same config skips complete videos; a partial folder, or one made by another config, is redone.
A VIS run writes ``tracks.json`` (per-frame RLE of every track, `save_video_tracks`) instead of PNGs.
"""
from __future__ import annotations

import json
import logging
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from datasets.errors import DatasetError
from infra.files import atomic_write, write_json_atomic
from datasets.rle import decode_rle, encode_rle

MARKER = ".complete"
TRACKS_FILE = "tracks.npz"
VIS_TRACKS_FILE = "tracks.json"

log = logging.getLogger("sampt")


def write_tracks(video_dir: Path, tracks: np.ndarray, visible: np.ndarray, object_ids, frame_size) -> None:
    """``tracks.npz``: (T, M, P, 2) float32 point tracks in frame pixels, (T, M, P) visibility, the M object
    ids and the (H, W) frame size they refer to (what the run report draws on its failure frames)."""

    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, tracks=np.asarray(tracks, np.float32), visible=np.asarray(visible, bool),
                                object_ids=np.asarray(object_ids, np.int64), frame_size=np.asarray(frame_size))

    atomic_write(Path(video_dir) / TRACKS_FILE, write)


def is_complete(video_dir: Path, config_hash: str) -> bool:
    """Whether ``video_dir`` holds a finished prediction made by the config with ``config_hash``."""
    marker = video_dir / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("config_hash") == config_hash
    except (OSError, ValueError):
        return False


def prepare_video_dir(video_dir: Path) -> Path:
    """Empty ``video_dir`` (a partial or stale prediction) and return it, ready to be written."""
    if video_dir.exists():
        shutil.rmtree(video_dir)
    video_dir.mkdir(parents=True)
    return video_dir


def mark_complete(video_dir: Path, config_hash: str, **info) -> None:
    """Write the completion marker last, atomically."""
    write_json_atomic(video_dir / MARKER, {"config_hash": config_hash, **info})


def predict_resumably(videos: Sequence, predictions_dir: Path, config_hash: str, predict: Callable,
                      skip: Callable | None = None, fail_fast: bool = False, marker: Callable | None = None,
                      setup: Callable | None = None, desc: str = "videos", progress: bool = False) -> dict:
    """The resumable per-video loop of every run: skip complete videos, record failures, go on.

    For each video (anything with a ``name``): when ``predictions_dir/<name>`` is complete for
    ``config_hash`` it is skipped (``skip(video, video_dir)`` is called when given); otherwise the folder
    is emptied, ``predict(index, video, video_dir)`` writes it and returns its record, and the completion
    marker (with ``marker(video)``'s fields, default the video name) is written last. A failing video's
    traceback is recorded and the loop goes on, unless ``fail_fast``. ``setup()`` runs once, before the
    first video that is not skipped, outside that recording (e.g. building the model: its errors stop the run).

    Returns:
        ``{"done": {video: record}, "skipped": [video], "failed": {video: traceback}}``.
    """
    from tqdm import tqdm

    records: dict = {"done": {}, "skipped": [], "failed": {}}
    for index, video in enumerate(tqdm(videos, desc=desc, unit="video", disable=not progress)):
        video_dir = Path(predictions_dir) / video.name
        if is_complete(video_dir, config_hash):
            if skip is not None:
                skip(video, video_dir)
            records["skipped"].append(video.name)
            log.info("%s: complete for config %s, skipped", video.name, config_hash)
            continue
        if setup is not None:
            setup()
            setup = None
        try:
            prepare_video_dir(video_dir)
            info = predict(index, video, video_dir)
            mark_complete(video_dir, config_hash, **(marker(video) if marker else {"video": video.name}))
        except Exception as error:  # noqa: BLE001 - recorded per video, the run goes on
            if fail_fast:
                raise
            records["failed"][video.name] = traceback.format_exc()
            log.error("%s failed: %s", video.name, error)
            continue
        records["done"][video.name] = info
    return records


# ------------------------------------------------------------------------------ VIS tracks (tracks.json)
@dataclass
class UvoTrack:
    """One predicted track of a UVO video, as the pipeline hands it over in memory.

    Attributes:
        video: the video name (`Video.name`).
        score: confidence of the track, a finite float (ranks detections for AP).
        masks: per frame of the video, an (H, W) bool mask at `Video.size` or None where the track is
            absent; or one (T, H, W) bool array. An all-False mask is written as absent (null).
    """

    video: str
    score: float
    masks: Sequence[np.ndarray | None] | np.ndarray


class RleMasks(Sequence):
    """Per-frame masks of one track kept as compressed RLE (None where absent); item t decodes to (H, W) bool."""

    def __init__(self, segmentations: list[dict | None], size: tuple[int, int]):
        self.segmentations = list(segmentations)
        self.size = tuple(size)

    def __len__(self) -> int:
        return len(self.segmentations)

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(len(self)))]
        rle = self.segmentations[t]
        return None if rle is None else decode_rle(rle)


def save_video_tracks(video_dir: Path, video, tracks: list[UvoTrack], **info) -> Path:
    """Write ``video_dir/tracks.json`` (per-frame RLE or null per track) atomically."""
    entries = []
    for track in tracks:
        masks = track.masks
        if isinstance(masks, RleMasks):
            segmentations = masks.segmentations
        else:
            segmentations = [None if m is None or not np.asarray(m).any() else encode_rle(np.asarray(m, bool))
                             for m in masks]
        entries.append({"score": float(track.score), "segmentations": segmentations})
    path = Path(video_dir) / VIS_TRACKS_FILE
    write_json_atomic(path, {"video": video.name, "video_id": int(getattr(video, "video_id", -1)),
                             "size": list(video.size), "num_frames": int(video.num_frames), "tracks": entries, **info})
    return path


def load_video_tracks(video_dir: Path, video) -> list[UvoTrack]:
    """The `UvoTrack` list of ``video_dir/tracks.json``, checked against ``video``."""
    path = Path(video_dir) / VIS_TRACKS_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read the video's tracks ({error}); delete the folder to re-run it"
                           ) from None
    if data.get("video") != video.name or data.get("num_frames") != video.num_frames \
            or list(data.get("size", [])) != list(video.size):
        raise DatasetError(f"{path} holds video {data.get('video')} ({data.get('num_frames')} frames, size "
                           f"{data.get('size')}), expected {video.name} ({video.num_frames} frames, size "
                           f"{list(video.size)}); delete the folder to re-run it")
    return [UvoTrack(video=video.name, score=float(entry["score"]),
                     masks=RleMasks(entry["segmentations"], video.size)) for entry in data["tracks"]]
