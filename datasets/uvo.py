"""Reader of UVO v1.0 VideoDenseSet (YouTube-VIS style json + a frames folder), as SAM-PT lays it out.

Layout (SAM-PT ``docs/02-prepare-datasets.md``; ``ROOT`` is the ``UVOv1.0`` folder)::

    ROOT/
      VideoDenseSet/UVO_video_val_dense.json      (and UVO_video_train_dense.json)
      uvo_videos_dense_frames/<ytid>/0.png 1.png ...   frames split from uvo_videos_dense/*.mp4; the
                                                  json's ``file_names`` are paths relative to this folder

The json has ``videos`` (``id, width, height, length, file_names``, UVO adds ``ytid``) and
``annotations`` (one per track: ``id, video_id, category_id, iscrowd`` and per-frame lists
``segmentations`` (RLE, or null where the object is absent), ``areas``, ``bboxes``). Masks are decoded
with ``pycocotools.mask`` only (uncompressed RLE and polygons go through ``frPyObjects`` first).

Tracks of a video become objects 1..K in the order of their annotation ids (``UvoVideo.track_ids[k-1]``
is the json id of object k); a track that is absent on every frame is left out with a warning. UVO
masks of different tracks may overlap: ``UvoVideo.track_masks(i)`` gives every track's own mask, and
``UvoVideo.annotation(i)`` is a label map in which, where masks overlap, the track with the smaller
mask on that frame wins (tracks are painted largest first, so small objects in front of large ones stay
visible; equal areas: the higher object id wins). ``first_mask`` is the track's own mask, not the label
map's. The VIS evaluator scores against the json itself: ``UvoReader.gt_json`` / ``UvoVideo.gt_json``.
"""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from datasets.davis import require_dir
from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import image_size
from datasets.rle import segmentation_rle
from datasets.video import Video, VideoObject, VideoReader

LOGGER = logging.getLogger(__name__)

UVO_TREE = """\
ROOT/   (the UVOv1.0 folder)
  VideoDenseSet/UVO_video_<split>_dense.json        (YouTube-VIS style: videos, annotations, categories)
  uvo_videos_dense_frames/<ytid>/0.png 1.png ...    (frames; paths relative to this folder = json file_names)"""


def decode_segmentation(segmentation, height: int, width: int, where: str) -> np.ndarray:
    """One frame's segmentation (compressed / uncompressed RLE, polygons, or None) -> (H, W) bool."""
    rle = segmentation_rle(segmentation, height, width, where, error=DatasetError)
    if rle is None:
        return np.zeros((height, width), dtype=bool)
    try:
        with warnings.catch_warnings():  # pycocotools' numpy-2 copy-keyword DeprecationWarning
            warnings.simplefilter("ignore", DeprecationWarning)
            mask = mask_utils.decode(rle)
    except Exception as error:  # pycocotools raises bare Exception/TypeError/ValueError on malformed input
        raise DatasetError(f"{where}: cannot decode the segmentation ({error})") from None
    if mask.shape != (height, width):
        raise DatasetError(f"{where}: decoded mask is {mask.shape}, expected ({height}, {width})")
    return mask.astype(bool)


def segmentation_present(segmentation) -> bool:
    """Whether a frame's segmentation marks the object as present (non-null and non-empty)."""
    if segmentation is None:
        return False
    if isinstance(segmentation, dict):
        counts = segmentation.get("counts")
        if isinstance(counts, list):
            return sum(counts[1::2]) > 0
        if isinstance(counts, (str, bytes)):
            rle = {"size": segmentation["size"],
                   "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
            return int(mask_utils.area(rle)) > 0
    return bool(segmentation)


@dataclass
class UvoVideo(Video):
    """A UVO video whose ground truth comes from the json (no PNGs).

    Extra attributes:
        video_id: the json video id (results json entries refer to it).
        gt_json: the ground-truth json path.
        track_ids: json annotation id of object k at ``track_ids[k - 1]``.
        segmentations: per object, the per-frame segmentations of the json (length ``num_frames``).
        iscrowd, category_ids: per object, from the json.
    """

    video_id: int = -1
    gt_json: Path | None = None
    track_ids: list[int] = field(default_factory=list)
    segmentations: list[list] = field(default_factory=list, repr=False)
    iscrowd: list[int] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)

    def has_annotation(self, index: int) -> bool:
        """Every frame is annotated (the dense set gives every track on every frame, null = absent)."""
        return 0 <= index < self.num_frames

    def _where(self, k: int, index: int) -> str:
        return f"{self.gt_json}: video {self.name} (id {self.video_id}), track {self.track_ids[k]}, frame {index}"

    def track_masks(self, index: int) -> np.ndarray:
        """Every object's own mask on frame ``index``: (K, H, W) bool, row k-1 = object k (may overlap)."""
        if not self.has_annotation(index):
            raise DatasetError(f"video {self.name}: frame index {index} out of range 0..{self.num_frames - 1}")
        height, width = self.size
        masks = np.zeros((len(self.segmentations), height, width), dtype=bool)
        for k, per_frame in enumerate(self.segmentations):
            masks[k] = decode_segmentation(per_frame[index], height, width, self._where(k, index))
        return masks

    def annotation(self, index: int) -> np.ndarray:
        """(H, W) uint8 label map of frame ``index``: object k where track k's mask is; overlaps go to the
        track with the smaller mask on this frame (equal areas: the higher id)."""
        if len(self.segmentations) > 255:
            raise DatasetError(f"video {self.name} has {len(self.segmentations)} tracks; a uint8 label map "
                               "holds at most 255, use track_masks()")
        masks = self.track_masks(index)
        areas = masks.reshape(len(masks), -1).sum(axis=1)
        labels = np.zeros(self.size, dtype=np.uint8)
        # largest first, so smaller masks are painted over them; stable sort on -area keeps id order on ties
        for k in np.argsort(-areas, kind="stable"):
            labels[masks[k]] = k + 1
        return labels

    def first_mask(self, object_id: int) -> np.ndarray:
        """(H, W) bool: the track's own mask on its first frame (not cut by overlapping tracks)."""
        obj = self._object(object_id)
        height, width = self.size
        mask = decode_segmentation(self.segmentations[object_id - 1][obj.first_frame], height, width,
                                   self._where(object_id - 1, obj.first_frame))
        if not mask.any():
            raise DatasetError(f"{self._where(object_id - 1, obj.first_frame)}: empty first mask")
        return mask


class UvoReader(VideoReader):
    """UVO v1.0 VideoDenseSet: `UvoVideo` objects of a split.

    Args:
        root: the ``UVOv1.0`` folder.
        split: ``val`` or ``train`` (selects ``VideoDenseSet/UVO_video_<split>_dense.json``).
        annotation_json: another gt json (e.g. a ``*_with_label.json`` or a tiny subset).
        frames_dir: the frames folder (default ``ROOT/uvo_videos_dense_frames``).
        sequences: optional subset of video names (in the given order).

    Video names are the frames folder of the json ``file_names`` (unique on disk; for UVO the ``ytid``),
    else the ``ytid``, else the json id.
    """

    dataset = "uvo"

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        annotation_json: str | Path | None = None,
        frames_dir: str | Path | None = None,
        sequences: list[str] | None = None,
    ):
        self.root = require_dir(Path(root), UVO_TREE, f"set the dataset root (got {root})")
        self.split = split
        self.gt_json = Path(annotation_json) if annotation_json else (
            self.root / "VideoDenseSet" / f"UVO_video_{split}_dense.json")
        if not self.gt_json.is_file():
            raise DatasetLayoutError(self.gt_json, UVO_TREE, "the ground-truth json of the split is missing")
        self.frames_root = require_dir(Path(frames_dir) if frames_dir else self.root / "uvo_videos_dense_frames",
                                       UVO_TREE, "split the videos into frames (SAM-PT scripts/uvo_video2frames.py)")
        self._videos, self._tracks = self._load()
        self.sequences = list(sequences) if sequences else list(self._videos)

    def _load(self) -> tuple[dict[str, dict], dict[int, list[dict]]]:
        try:
            data = json.loads(self.gt_json.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(f"{self.gt_json} is not valid JSON ({error})") from None
        if not isinstance(data, dict) or not isinstance(data.get("videos"), list) \
                or not isinstance(data.get("annotations"), list):
            raise DatasetError(f"{self.gt_json} must be a YouTube-VIS style json with 'videos' and 'annotations' lists")
        videos: dict[str, dict] = {}
        for entry in sorted(data["videos"], key=lambda v: v.get("id", -1)):
            for key in ("id", "width", "height", "length", "file_names"):
                if key not in entry:
                    raise DatasetError(f"{self.gt_json}: video {entry.get('id')} has no '{key}'")
            if len(entry["file_names"]) != entry["length"]:
                raise DatasetError(f"{self.gt_json}: video {entry['id']} has length {entry['length']} but "
                                   f"{len(entry['file_names'])} file_names")
            folder = Path(entry["file_names"][0]).parent.name if entry["file_names"] else ""
            name = str(folder or entry.get("ytid") or entry["id"])
            if name in videos:
                raise DatasetError(f"{self.gt_json}: two videos are named {name} "
                                   f"(ids {videos[name]['id']}, {entry['id']})")
            videos[name] = entry
        ids = {v["id"] for v in videos.values()}
        tracks: dict[int, list[dict]] = {i: [] for i in ids}
        for annotation in data["annotations"]:
            if annotation.get("video_id") not in ids:
                raise DatasetError(f"{self.gt_json}: annotation {annotation.get('id')} refers to unknown video "
                                   f"{annotation.get('video_id')}")
            tracks[annotation["video_id"]].append(annotation)
        for per_video in tracks.values():
            per_video.sort(key=lambda a: a.get("id", 0))
        return videos, tracks

    def video_id(self, name: str) -> int:
        """The json video id of video ``name``."""
        return self._entry(name)["id"]

    def _entry(self, name: str) -> dict:
        if name not in self._videos:
            raise DatasetError(f"video {name} is not in {self.gt_json}")
        return self._videos[name]

    def video(self, name: str) -> UvoVideo:
        entry = self._entry(name)
        length, height, width = entry["length"], entry["height"], entry["width"]
        frames = [self.frames_root / f for f in entry["file_names"]]
        missing = [p for p in frames if not p.is_file()]
        if missing:
            raise DatasetError(f"video {name}: {len(missing)} of {length} frames are missing, first: {missing[0]} "
                               f"(frames must be at {self.frames_root}/<file_names of the json>)")
        frame_hw = image_size(frames[0])
        if frame_hw != (height, width):
            raise DatasetError(f"frame {frames[0]} is {frame_hw[1]}x{frame_hw[0]} but {self.gt_json} says video "
                               f"{name} is {width}x{height} (W x H)")
        objects, track_ids, segmentations, crowd, categories = [], [], [], [], []
        for annotation in self._tracks[entry["id"]]:
            per_frame = annotation.get("segmentations")
            if not isinstance(per_frame, list) or len(per_frame) != length:
                raise DatasetError(f"{self.gt_json}: track {annotation.get('id')} of video {name} has "
                                   f"{len(per_frame) if isinstance(per_frame, list) else 'no'} segmentations for "
                                   f"{length} frames")
            first = next((t for t, s in enumerate(per_frame) if segmentation_present(s)), None)
            if first is None:
                LOGGER.warning("%s: track %s of video %s is absent on every frame; left out",
                               self.gt_json, annotation.get("id"), name)
                continue
            objects.append(VideoObject(id=len(objects) + 1, first_frame=first))
            track_ids.append(annotation.get("id"))
            segmentations.append(per_frame)
            crowd.append(int(annotation.get("iscrowd", 0)))
            categories.append(annotation.get("category_id"))
        return UvoVideo(
            name=name,
            frame_names=[Path(f).stem for f in entry["file_names"]],
            frame_paths=frames,
            annotation_paths={},
            objects=objects,
            size=(height, width),
            dataset=self.dataset,
            video_id=entry["id"],
            gt_json=self.gt_json,
            track_ids=track_ids,
            segmentations=segmentations,
            iscrowd=crowd,
            category_ids=categories,
        )
