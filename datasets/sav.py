"""Reader of the SA-V val / test layout (Segment Anything Video, as released with SAM 2).

Layout::

    ROOT/
      sav_<split>/sav_<split>.txt                                  video names, one per line
      sav_<split>/JPEGImages_24fps/<video>/00000.jpg 00001.jpg ...  every frame of the 24 fps video
      sav_<split>/Annotations_6fps/<video>/<obj:03d>/00000.png ...  one binary mask per object and annotated
                                                                    frame (every 4th frame, ~6 fps)

Semantics:

- One object per ``<obj:03d>`` folder. `Video` object ids are the folder number + 1 (label maps reserve 0
  for the background): folder ``000`` is object 1; `Video.object_folder` maps back.
- An object's first frame is its first annotated frame whose mask is non-empty (objects may start late);
  an object whose masks are all empty cannot be prompted and is an error naming its folder.
- A mask PNG is binary: any nonzero pixel is the object (more than two values is an error, as in the
  official evaluator, which assumes one object per PNG).
- Predictions are written for the annotated frames (the union of the objects' mask files);
  ``SavVideo.annotation(i)`` paints the objects' masks in id order (a higher id wins where they overlap).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets.davis import frame_files, list_files, read_sequence_list, require_dir
from datasets.errors import DatasetError
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

SAV_TREE = """\
ROOT/
  sav_<split>/sav_<split>.txt                                   (video names, one per line)
  sav_<split>/JPEGImages_24fps/<video>/00000.jpg ...            (all 24 fps frames)
  sav_<split>/Annotations_6fps/<video>/<obj:03d>/00000.png ...  (binary masks, every 4th frame)"""

SPLITS = ("val", "test")


def read_binary_mask(path: Path) -> np.ndarray:
    """One SA-V mask PNG as (H, W) bool (nonzero = object); more than two values is a `DatasetError`."""
    labels = read_label_png(path, allow_rgb=True)
    mask = labels > 0
    top = labels.max(initial=0)
    if top and np.count_nonzero(mask) != np.count_nonzero(labels == top):  # two passes, no sort
        values = np.unique(labels)
        raise DatasetError(f"{path} has {values.size} values ({values[:5].tolist()} ...); an SA-V mask PNG holds "
                           "one object (0 = background, one nonzero value = the object)")
    return mask


@dataclass
class SavVideo(Video):
    """An SA-V video: one mask PNG per object and annotated frame.

    Extra attributes:
        object_masks: object id -> frame index -> its mask PNG (the object's annotated frames).
    """

    object_masks: dict[int, dict[int, Path]] = field(default_factory=dict, repr=False)

    def object_mask(self, object_id: int, index: int) -> np.ndarray:
        """(H, W) bool mask of ``object_id`` on annotated frame ``index``; errors name the file."""
        paths = self.object_masks.get(object_id, {})
        if index not in paths:
            raise DatasetError(f"video {self.name}: object folder {self.object_folder(object_id)} has no mask for "
                               f"frame {self.frame_names[index]}")
        mask = read_binary_mask(paths[index])
        if mask.shape != tuple(self.size):
            raise DatasetError(f"{paths[index]} is {mask.shape[1]}x{mask.shape[0]} but video {self.name}'s masks are "
                               f"{self.size[1]}x{self.size[0]} (W x H); all masks of a video must have one size")
        return mask

    def annotation(self, index: int) -> np.ndarray:
        """(H, W) uint8 label map of annotated frame ``index`` (objects painted in id order)."""
        if index not in self.annotation_paths:
            raise DatasetError(f"video {self.name}: frame {self.frame_names[index]} has no annotation")
        labels = np.zeros(self.size, dtype=np.uint8)
        for object_id in self.object_ids:
            if index in self.object_masks[object_id]:
                labels[self.object_mask(object_id, index)] = object_id
        return labels

    def first_mask(self, object_id: int) -> np.ndarray:
        """(H, W) bool: the object's own mask on its first frame (not cut by overlapping objects)."""
        return self.object_mask(object_id, self._object(object_id).first_frame)


class SavReader(VideoReader):
    """SA-V: `SavVideo` objects of ``val`` or ``test``.

    Args:
        root: the folder holding ``sav_<split>/``.
        split: ``val`` or ``test``.
        sequences: optional subset of video names (in the given order).
    """

    dataset = "sav"

    def __init__(self, root: str | Path, split: str = "val", sequences: list[str] | None = None):
        if split not in SPLITS:
            raise DatasetError(f"SA-V split {split!r} is unknown; use one of {', '.join(SPLITS)}")
        self.root = require_dir(Path(root), SAV_TREE, f"set the dataset root (got {root})")
        self.split = split
        self.split_dir = require_dir(self.root / f"sav_{split}", SAV_TREE, f"no folder for split {split!r}")
        self.frames_root = require_dir(self.split_dir / "JPEGImages_24fps", SAV_TREE)
        self.annotations_root = require_dir(self.split_dir / "Annotations_6fps", SAV_TREE)
        listed = read_sequence_list(self.split_dir / f"sav_{split}.txt", SAV_TREE)
        self.sequences = list(sequences) if sequences else listed

    def object_folders(self, name: str) -> list[Path]:
        """The ``<obj:03d>`` folders of video ``name``, sorted; errors name the folder."""
        folder = require_dir(self.annotations_root / name, SAV_TREE)
        objects = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        bad = [p.name for p in objects if not (p.name.isdigit() and len(p.name) == 3)]
        if bad or not objects:
            raise DatasetError(f"{folder} must hold one <obj:03d> folder per object (000, 001, ...); "
                               f"found {bad or 'none'}")
        if int(objects[-1].name) > 254:
            raise DatasetError(f"{folder} has object folder {objects[-1].name}; at most 255 objects (000..254)")
        return objects

    def video(self, name: str) -> SavVideo:
        frames = frame_files(self.frames_root / name, SAV_TREE)
        frame_names = [p.stem for p in frames]
        index_of = {frame: i for i, frame in enumerate(frame_names)}
        object_masks: dict[int, dict[int, Path]] = {}
        for folder in self.object_folders(name):
            pngs = list_files(folder, (".png",))
            unknown = [p.name for p in pngs if p.stem not in index_of]
            if unknown or not pngs:
                raise DatasetError(f"{folder}: masks {unknown[:3] or 'none'} have no frame in {self.frames_root / name}"
                                   f" ({len(pngs)} masks, {len(frame_names)} frames)")
            object_masks[int(folder.name) + 1] = {index_of[p.stem]: p for p in pngs}
        annotated = sorted({i for paths in object_masks.values() for i in paths})
        annotation_paths = {i: next(p[i] for p in object_masks.values() if i in p) for i in annotated}
        video = SavVideo(name=name, frame_names=frame_names, frame_paths=frames, annotation_paths=annotation_paths,
                         objects=[], size=read_binary_mask(annotation_paths[annotated[0]]).shape,
                         frames_to_write=annotated, dataset=self.dataset, object_masks=object_masks)
        video.objects = [VideoObject(id=i, first_frame=self._first_frame(video, i)) for i in sorted(object_masks)]
        return video

    def _first_frame(self, video: SavVideo, object_id: int) -> int:
        for index in sorted(video.object_masks[object_id]):
            if video.object_mask(object_id, index).any():
                return index
        raise DatasetError(f"{self.annotations_root / video.name / video.object_folder(object_id)}: every mask is "
                           "empty; an object without a first mask cannot be segmented")
