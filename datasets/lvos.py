"""Reader of the LVOS v1 / v2 valid / test layout (long-term video object segmentation).

Layout::

    ROOT/
      <split>/<split>_meta.json                       videos.<video>.objects.<id>.frame_range.{start,end,frame_nums}
      <split>/unseen_videos.txt                       the unseen videos, one per line (seen/unseen scores;
                                                      needed for scoring only: the official list ships with
                                                      the official evaluation tool, copy it here)
      <split>/JPEGImages/<video>/00000001.jpg ...     every frame, numbered from 00000001
      <split>/Annotations/<video>/00000001.png ...    indexed label maps (pixel value = object id), every 5th frame

Semantics:

- Videos: the meta file's videos, sorted by name (the official tool's order); objects: its ``objects``
  keys (ids), in the meta file's order (`LvosVideo.meta_order`; `Video.objects` is sorted by id).
- An object's frames are the frame numbers ``range(start, end, 5)`` (`LvosRange.frames`); its first
  frame (the prompt) is ``start``. Each of them needs a frame image and an annotation PNG.
- Predictions (``<video>/<frame:08d>.png``, ids as in the ground truth) are written for the union of the
  objects' frames. Each of them needs its annotation PNG, except in ``test``, which ships first-frame masks
  only: there only each object's first frame needs one (predicted, not scored).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from datasets.davis import frame_files, list_files, require_dir
from datasets.errors import DatasetError
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

LVOS_TREE = """\
ROOT/
  <split>/<split>_meta.json                     (videos.<video>.objects.<id>.frame_range.{start,end,frame_nums})
  <split>/unseen_videos.txt                     (unseen video names, one per line; for scoring)
  <split>/JPEGImages/<video>/00000001.jpg ...   (all frames)
  <split>/Annotations/<video>/00000001.png ...  (indexed label maps, every 5th frame)"""

SPLITS = ("valid", "test")
LVOS_STRIDE = 5  # LVOS annotates every 5th frame


def frame_name(number: int) -> str:
    """The 8-digit file stem of frame ``number`` (frames are numbered from 1)."""
    return f"{number:08d}"


@dataclass(frozen=True)
class LvosRange:
    """One object's ``frame_range`` from the meta file (frame numbers, as written there)."""

    start: int
    end: int
    frame_nums: int

    @property
    def frames(self) -> list[int]:
        """The object's frame numbers ``range(start, end, 5)`` (the official tool's loop)."""
        return list(range(self.start, self.end, LVOS_STRIDE))


@dataclass
class LvosVideo(Video):
    """An LVOS video.

    Extra attributes:
        ranges: object id -> its `LvosRange`.
        meta_order: object ids in the meta file's order (the official per-object names count in it).
        unseen: whether ``unseen_videos.txt`` lists the video; None when the list is absent.
    """

    ranges: dict[int, LvosRange] = field(default_factory=dict, repr=False)
    meta_order: list[int] = field(default_factory=list)
    unseen: bool | None = None
    _index: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def frame_index(self, number: int) -> int:
        """Index in ``frame_names`` of frame ``number``; `DatasetError` when the video has no such frame."""
        name = frame_name(number)
        if self._index is None:
            self._index = {frame: i for i, frame in enumerate(self.frame_names)}
        if name not in self._index:
            raise DatasetError(f"video {self.name}: the meta file names frame {name}, which has no image "
                               f"(frames {self.frame_names[0]}..{self.frame_names[-1]})")
        return self._index[name]


class LvosReader(VideoReader):
    """LVOS v1 / v2: `LvosVideo` objects of ``valid`` or ``test``.

    Args:
        root: the folder holding ``<split>/``.
        split: ``valid`` or ``test``.
        sequences: optional subset of video names (in the given order).
    """

    dataset = "lvos"

    def __init__(self, root: str | Path, split: str = "valid", sequences: list[str] | None = None):
        if split not in SPLITS:
            raise DatasetError(f"LVOS split {split!r} is unknown; use one of {', '.join(SPLITS)}")
        self.root = require_dir(Path(root), LVOS_TREE, f"set the dataset root (got {root})")
        self.split = split
        self.split_dir = require_dir(self.root / split, LVOS_TREE, f"no folder for split {split!r}")
        self.frames_root = require_dir(self.split_dir / "JPEGImages", LVOS_TREE)
        self.annotations_root = require_dir(self.split_dir / "Annotations", LVOS_TREE)
        self.meta_path = self.split_dir / f"{split}_meta.json"
        self.meta = self._read_meta()
        self.unseen = self._read_unseen()
        self.sequences = list(sequences) if sequences else sorted(self.meta)

    def _read_meta(self) -> dict:
        if not self.meta_path.is_file():
            raise DatasetError(f"{self.meta_path} is missing; expected layout:\n{LVOS_TREE}")
        try:
            return json.loads(self.meta_path.read_text())["videos"]
        except (ValueError, KeyError, TypeError) as error:
            raise DatasetError(f"{self.meta_path} is not an LVOS meta file (a JSON object with 'videos'): "
                               f"{error}") from None

    def _read_unseen(self) -> set[str] | None:
        path = self.split_dir / "unseen_videos.txt"
        if not path.is_file():
            return None
        return {line.strip() for line in path.read_text().splitlines() if line.strip()}

    def ranges(self, name: str) -> tuple[dict[int, LvosRange], list[int]]:
        """Video ``name``'s object ranges and its object ids in meta order; errors name the meta file."""
        if name not in self.meta:
            raise DatasetError(f"video {name} is not in {self.meta_path}")
        try:
            objects = self.meta[name]["objects"]
            ranges = {int(key): LvosRange(int(value["frame_range"]["start"]), int(value["frame_range"]["end"]),
                                          int(value["frame_range"]["frame_nums"])) for key, value in objects.items()}
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{self.meta_path}: video {name} needs objects.<id>.frame_range.{{start,end,"
                               f"frame_nums}} (integers), failed at {error!r}") from None
        bad = [i for i, r in ranges.items() if not 0 < i < 256 or r.frame_nums < 1 or not r.frames]
        if bad or not ranges:
            raise DatasetError(f"{self.meta_path}: video {name} objects {bad or 'none'}: ids must be 1..255 with "
                               "frame_nums >= 1 and start < end")
        return ranges, [int(key) for key in objects]

    def video(self, name: str) -> LvosVideo:
        frames = frame_files(self.frames_root / name, LVOS_TREE)
        pngs = {p.stem: p for p in list_files(require_dir(self.annotations_root / name, LVOS_TREE), (".png",))}
        ranges, order = self.ranges(name)
        video = LvosVideo(name=name, frame_names=[p.stem for p in frames], frame_paths=frames, annotation_paths={},
                          objects=[], size=(0, 0), frames_to_write=[0], dataset=self.dataset, ranges=ranges,
                          meta_order=order, unseen=None if self.unseen is None else name in self.unseen)
        starts = {r.start for r in ranges.values()}
        for number in sorted({n for r in ranges.values() for n in r.frames}):
            index = video.frame_index(number)
            if frame_name(number) in pngs:
                video.annotation_paths[index] = pngs[frame_name(number)]
            elif number in starts or self.split != "test":
                raise DatasetError(f"video {name}: no annotation {self.annotations_root / name / frame_name(number)}"
                                   ".png for a frame of an object's frame_range in the meta file")
        video.frames_to_write = sorted(video.frame_index(n) for n in {n for r in ranges.values() for n in r.frames})
        video.size = tuple(read_label_png(video.annotation_paths[video.frame_index(min(starts))]).shape)
        video.objects = [VideoObject(id=i, first_frame=video.frame_index(ranges[i].start)) for i in sorted(ranges)]
        return video
