"""Reader of the MOSE (2023, v1) layout: DAVIS-like folders per split.

Layout::

    ROOT/
      train/JPEGImages/<video>/00000.jpg ...    train/Annotations/<video>/00000.png ...  (every frame)
      valid/JPEGImages/<video>/00000.jpg ...    valid/Annotations/<video>/00000.png       (first frame only)

Objects are the non-zero ids of the first-frame mask (``np.unique``; they may be non-contiguous), all
starting on frame 0; an id outside that set in a later annotation is an error. Predictions are written
for every frame (docs/protocol.md section 4).
"""
from __future__ import annotations

from pathlib import Path

from datasets.annotations import StrictVideo, check_frame_size, label_ids
from datasets.davis import annotation_files, frame_files, require_dir
from datasets.errors import DatasetError
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

MOSE_TREE = """\
ROOT/
  <split>/JPEGImages/<video>/00000.jpg ...
  <split>/Annotations/<video>/00000.png ...   (indexed PNGs; valid: the first frame only; train: every frame)"""

SPLIT_ALIASES = {"val": "valid"}


class MoseReader(VideoReader):
    """MOSE: `Video` objects of a split (``train`` or ``valid``, alias ``val``), videos in name order."""

    dataset = "mose"

    def __init__(self, root: str | Path, split: str = "valid", sequences: list[str] | None = None):
        self.root = require_dir(Path(root), MOSE_TREE, f"set the dataset root (got {root})")
        self.split = SPLIT_ALIASES.get(split, split)
        split_dir = require_dir(self.root / self.split, MOSE_TREE, f"no folder for split {self.split!r}")
        self.frames_root = require_dir(split_dir / "JPEGImages", MOSE_TREE)
        self.annotations_root = require_dir(split_dir / "Annotations", MOSE_TREE)
        if sequences:
            self.sequences = list(sequences)
        else:
            self.sequences = sorted(
                p.name for p in self.frames_root.iterdir() if p.is_dir() and not p.name.startswith(".")
            )
        if not self.sequences:
            raise DatasetError(f"no video folders in {self.frames_root}")

    def video(self, name: str) -> Video:
        frames = frame_files(self.frames_root / name, MOSE_TREE)
        frame_names = [p.stem for p in frames]
        every_frame = self.split == "train"
        annotations = annotation_files(self.annotations_root / name, frame_names, MOSE_TREE, every_frame)
        if 0 not in annotations:
            raise DatasetError(
                f"video {name}: the first frame {frame_names[0]} has no annotation in {self.annotations_root / name}"
            )
        labels = read_label_png(annotations[0])
        check_frame_size(frames[0], labels.shape, annotations[0])
        ids = label_ids(labels)
        if not ids:
            raise DatasetError(f"first annotation {annotations[0]} has no object (all pixels are background)")
        return StrictVideo(
            name=name,
            frame_names=frame_names,
            frame_paths=frames,
            annotation_paths=annotations,
            objects=[VideoObject(id=i, first_frame=0) for i in ids],
            size=labels.shape,
            dataset=self.dataset,
        )
