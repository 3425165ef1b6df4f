"""Readers of the YouTube-VOS 2018 / 2019 layout (valid, test, train).

Layout::

    ROOT/
      valid/JPEGImages/<video>/00000.jpg 00005.jpg ...   every 5th frame of the 30 fps video (~6 fps)
      valid/Annotations/<video>/00000.png ...            indexed PNGs; in valid only the frames where some
                                                         object first gets its mask (train: every 6 fps frame)
      valid/meta.json                                    videos -> <video> -> objects -> <id> ->
                                                         {"category": ..., "frames": [frame names]}
      test/...  test_all_frames/...                      the test split: the same files as valid (first-
                                                         appearance masks only; scored by the test server)
      valid_all_frames/JPEGImages/<video>/00000.jpg 00001.jpg ...   optional, all 30 fps frames
                                                         (also found at all_frames/valid_all_frames/JPEGImages,
                                                         the place XMem and SAM-PT use)

Semantics (docs/protocol.md section 3, as XMem/STCN/SAM-PT read it):

- Objects are the ids of meta.json; they may be non-contiguous. Each object starts on the frame of the
  first annotation PNG that contains its id (objects may start after frame 0, on different frames);
  that frame is cross-checked with the first name in the object's meta ``frames`` list.
- Predictions must be written for the union of all objects' meta ``frames`` lists (the 6 fps frames),
  also when the model runs on all 30 fps frames (``all_frames=True``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from datasets.annotations import StrictVideo, check_frame_size, scan_first_appearances
from datasets.davis import annotation_files, frame_files, require_dir
from datasets.errors import DatasetError, DatasetLayoutError
from datasets.video import Video, VideoObject, VideoReader

LOGGER = logging.getLogger(__name__)

YTVOS_TREE = """\
ROOT/
  <split>/JPEGImages/<video>/00000.jpg 00005.jpg ...     (every 5th frame, ~6 fps)
  <split>/Annotations/<video>/00000.png ...              (indexed PNGs; valid: first-appearance frames only)
  <split>/meta.json                                      (videos -> <video> -> objects -> <id> -> frames)
  <split>_all_frames/JPEGImages/<video>/00000.jpg ...    (optional, all 30 fps frames; or
                                                          all_frames/<split>_all_frames/JPEGImages)"""

SPLIT_ALIASES = {"val": "valid"}


def load_meta(path: Path) -> dict[str, dict]:
    """meta.json's ``videos`` mapping, validated: video -> {"objects": {id: {"frames": [...]}}}."""
    if not path.is_file():
        raise DatasetLayoutError(path, YTVOS_TREE, "meta.json lists each video's objects and frames")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path} is not valid JSON ({error}); re-extract it from the dataset archive") from None
    videos = meta.get("videos") if isinstance(meta, dict) else None
    if not isinstance(videos, dict) or not videos:
        raise DatasetError(f"{path} has no 'videos' mapping (expected videos -> <video> -> objects -> <id>)")
    for name, entry in videos.items():
        objects = entry.get("objects") if isinstance(entry, dict) else None
        if not isinstance(objects, dict) or not objects:
            raise DatasetError(f"{path}: video {name} has no 'objects' mapping")
        for object_id, info in objects.items():
            if not str(object_id).isdigit() or not 0 < int(object_id) < 256:
                raise DatasetError(f"{path}: video {name} has object id {object_id!r}; ids must be 1..255")
            if not isinstance(info, dict) or not isinstance(info.get("frames"), list):
                raise DatasetError(f"{path}: video {name}, object {object_id} has no 'frames' list")
    return videos


class YouTubeVOSReader(VideoReader):
    """YouTube-VOS: `Video` objects of a split.

    Args:
        root: the folder holding ``valid/`` (and/or ``train/``).
        split: ``valid`` (alias ``val``), ``test`` (as ``valid``: the authors' ``YouTubeVOSTestDataset``
            reads both alike, SysCV/sam-pt 874ff7e ``sam_pt/vos_eval/eval.py``) or ``train``.
        all_frames: process all 30 fps frames from ``<split>_all_frames`` instead of the 6 fps frames;
            ``frames_to_write`` still names only the 6 fps frames listed in meta.json.
        sequences: optional subset of video names (in the given order).
        strict_meta: a first-appearance frame that differs from the object's first meta frame is an
            error (default); with False it is logged as a warning and the annotation PNGs win.
    """

    dataset = "ytvos"

    def __init__(
        self,
        root: str | Path,
        split: str = "valid",
        all_frames: bool = False,
        sequences: list[str] | None = None,
        strict_meta: bool = True,
    ):
        self.root = require_dir(Path(root), YTVOS_TREE, f"set the dataset root (got {root})")
        self.split = SPLIT_ALIASES.get(split, split)
        self.split_dir = require_dir(self.root / self.split, YTVOS_TREE, f"no folder for split {self.split!r}")
        self.all_frames = all_frames
        self.strict_meta = strict_meta
        self.meta_path = self.split_dir / "meta.json"
        self.meta = load_meta(self.meta_path)
        self.annotations_root = require_dir(self.split_dir / "Annotations", YTVOS_TREE)
        self.frames_root = self._frames_root()
        self.sequences = list(sequences) if sequences else sorted(self.meta)

    def _frames_root(self) -> Path:
        if not self.all_frames:
            return require_dir(self.split_dir / "JPEGImages", YTVOS_TREE)
        candidates = [
            self.root / f"{self.split}_all_frames" / "JPEGImages",
            self.root / "all_frames" / f"{self.split}_all_frames" / "JPEGImages",
        ]
        for candidate in candidates:
            if candidate.is_dir():
                return candidate
        raise DatasetLayoutError(
            candidates[0], YTVOS_TREE,
            f"all_frames=True needs the 30 fps frames (also looked in {candidates[1]}); "
            "download valid_all_frames or set all_frames=False",
        )

    def object_categories(self, name: str) -> dict[int, str | None]:
        """Object id -> category name from meta.json (None where meta.json has none)."""
        return {int(k): v.get("category") for k, v in self._meta_of(name)["objects"].items()}

    def _meta_of(self, name: str) -> dict:
        if name not in self.meta:
            raise DatasetError(f"video {name} is not in {self.meta_path}")
        return self.meta[name]

    def video(self, name: str) -> Video:
        meta_objects = self._meta_of(name)["objects"]
        frames = frame_files(self.frames_root / name, YTVOS_TREE)
        frame_names = [p.stem for p in frames]
        dense = self.split == "train" and not self.all_frames
        annotations = annotation_files(self.annotations_root / name, frame_names, YTVOS_TREE, every_frame=dense)
        known = {int(k) for k in meta_objects}
        first, size = scan_first_appearances(annotations, known_ids=known, stop_when_found=dense)
        check_frame_size(frames[0], size, annotations[min(annotations)])
        never = sorted(known - set(first))
        if never:
            raise DatasetError(
                f"video {name}: objects {never} of {self.meta_path} appear in no annotation PNG under "
                f"{self.annotations_root / name}; without a first mask they cannot be segmented"
            )
        self._check_first_frames(name, meta_objects, first, frame_names)
        return StrictVideo(
            name=name,
            frame_names=frame_names,
            frame_paths=frames,
            annotation_paths=annotations,
            objects=[VideoObject(id=i, first_frame=first[i]) for i in sorted(known)],
            size=size,
            frames_to_write=self._frames_to_write(name, meta_objects, frame_names),
            dataset=self.dataset,
        )

    def _check_first_frames(self, name: str, meta_objects: dict, first: dict[int, int], frame_names: list[str]):
        for key, info in meta_objects.items():
            listed = sorted(info["frames"])
            found = frame_names[first[int(key)]]
            if listed and listed[0] != found:
                message = (
                    f"video {name}: object {key} first appears in annotation {found}.png but {self.meta_path} "
                    f"lists its first frame as {listed[0]}"
                )
                if self.strict_meta:
                    raise DatasetError(message + "; fix the data or pass strict_meta=False to trust the PNGs")
                LOGGER.warning("%s; using the annotation PNG", message)

    def _frames_to_write(self, name: str, meta_objects: dict, frame_names: list[str]) -> list[int]:
        wanted = sorted({frame for info in meta_objects.values() for frame in info["frames"]})
        index_of = {frame: i for i, frame in enumerate(frame_names)}
        missing = [frame for frame in wanted if frame not in index_of]
        if missing:
            raise DatasetError(
                f"video {name}: {len(missing)} frames listed in {self.meta_path} have no image in "
                f"{self.frames_root / name} (first: {missing[0]}); {len(frame_names)} frames found"
            )
        if not wanted:
            raise DatasetError(f"video {name}: {self.meta_path} lists no frames for any object")
        return [index_of[frame] for frame in wanted]


class YouTubeVOS2018Reader(YouTubeVOSReader):
    """YouTube-VOS 2018 (valid: 474 videos)."""

    dataset = "ytvos18"


class YouTubeVOS2019Reader(YouTubeVOSReader):
    """YouTube-VOS 2019 (valid: 507 videos); same layout as 2018."""

    dataset = "ytvos19"
