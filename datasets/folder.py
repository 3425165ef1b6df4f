"""Reader of a generic folder of videos with sparse first-appearance masks (your own data).

Layout::

    ROOT/
      JPEGImages/<video>/<frame>.jpg (or .png) ...
      Annotations/<video>/<frame>.png ...   indexed PNGs, ids = objects; the first frame is required,
                                            later frames are optional (named like their frames)
      ImageSets/<split>.txt                 optional: one video name per line

Split: the videos listed in ``ImageSets/<split>.txt``; with ``split="all"`` (the default) and no such
list, every folder of ``JPEGImages`` (name order). Objects: every id of the first frame's mask starts on
frame 0; an id first seen in a later annotation starts on that frame. Predictions: every frame.
"""
from __future__ import annotations

from pathlib import Path

from datasets.annotations import check_frame_size, scan_first_appearances
from datasets.davis import annotation_files, frame_files, read_sequence_list, require_dir
from datasets.errors import DatasetError, DatasetLayoutError
from datasets.video import Video, VideoObject, VideoReader

FOLDER_TREE = """\
ROOT/
  JPEGImages/<video>/00000.jpg ...      (or .png)
  Annotations/<video>/00000.png ...     (indexed PNGs: first frame required, later frames optional)
  ImageSets/<split>.txt                 (optional; without it split=all takes every video)"""

ALL = "all"


class FolderReader(VideoReader):
    """Generic folder: `Video` objects of a split.

    Args:
        root: the folder holding ``JPEGImages`` and ``Annotations``.
        split: ``all`` (every video unless ``ImageSets/all.txt`` exists) or the name of a list file
            ``ImageSets/<split>.txt``.
        sequences: optional subset of video names (in the given order).
        void_label: annotation value that is not an object (e.g. 255); None: every non-zero id is one.
    """

    dataset = "folder"

    def __init__(
        self,
        root: str | Path,
        split: str = ALL,
        sequences: list[str] | None = None,
        void_label: int | None = None,
    ):
        self.root = require_dir(Path(root), FOLDER_TREE, f"set the dataset root (got {root})")
        self.split = split
        self.void_label = void_label
        self.frames_root = require_dir(self.root / "JPEGImages", FOLDER_TREE)
        self.annotations_root = require_dir(self.root / "Annotations", FOLDER_TREE)
        self.sequences = list(sequences) if sequences else self._read_split()

    def _read_split(self) -> list[str]:
        list_file = self.root / "ImageSets" / f"{self.split}.txt"
        if list_file.is_file():
            return read_sequence_list(list_file, FOLDER_TREE)
        if self.split != ALL:
            raise DatasetLayoutError(
                list_file, FOLDER_TREE, f"split {self.split!r} needs this list file; use split=all for every video"
            )
        names = sorted(p.name for p in self.frames_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not names:
            raise DatasetError(f"no video folders in {self.frames_root}")
        return names

    def video(self, name: str) -> Video:
        frames = frame_files(self.frames_root / name, FOLDER_TREE)
        frame_names = [p.stem for p in frames]
        annotations = annotation_files(self.annotations_root / name, frame_names, FOLDER_TREE, every_frame=False)
        if 0 not in annotations:
            raise DatasetError(
                f"video {name}: the first frame {frame_names[0]} has no annotation in "
                f"{self.annotations_root / name}; the first frame's mask is required"
            )
        first, size = scan_first_appearances(annotations, void_label=self.void_label)
        check_frame_size(frames[0], size, annotations[0])
        if not any(frame == 0 for frame in first.values()):
            raise DatasetError(f"first annotation {annotations[0]} has no object (all pixels are background)")
        return Video(
            name=name,
            frame_names=frame_names,
            frame_paths=frames,
            annotation_paths=annotations,
            objects=[VideoObject(id=i, first_frame=first[i]) for i in sorted(first)],
            size=size,
            void_label=self.void_label,
            dataset=self.dataset,
        )
