"""Reader of the MOSEv2 layout (coMplex video Object SEgmentation v2, valid split).

Layout::

    ROOT/
      valid/meta.json                          videos.<video>.{length, height, width, objects}
      valid/JPEGImages/<video>/00000.jpg ...   every frame, numbered from 00000
      valid/Annotations/<video>/00000.png ...  indexed label maps (pixel value = object id)

Semantics:

- Videos: the meta file's videos, sorted by name. Objects: the meta ``objects`` entries (a list of ids, or a
  mapping keyed by id), in the meta file's order (`Mosev2Video.meta_ids`, as written, e.g. ``"1"``; the
  official per-object names are ``<video>_<id as written>``); `Video.objects` is sorted by id. Ids in the
  masks that the meta file does not list are not objects.
- Annotations: the public valid split holds the first frame's mask only (its full ground truth stays on the
  evaluation server); a root with every frame annotated (the synthetic copy, `datasets.synthetic` layout
  ``mosev2``) is read the same way, and scoring (`evaluation.mosev2`) needs that full ground truth. An
  object starts on the first annotated frame that shows it (frame 0 with first-frame masks only); an
  object no annotation shows is an error.
- ``length`` must equal the number of frames and ``height`` x ``width`` the annotations' size.
- Predictions (``<video>/<frame:05d>.png``, ids as in the ground truth) are written for every frame.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets.davis import annotation_files, frame_files, require_dir
from datasets.errors import DatasetError
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

MOSEV2_TREE = """\
ROOT/
  valid/meta.json                          (videos.<video>.{length,height,width,objects})
  valid/JPEGImages/<video>/00000.jpg ...   (every frame)
  valid/Annotations/<video>/00000.png ...  (indexed label maps; public valid: the first frame only)"""

SPLITS = ("valid",)
SPLIT_ALIASES = {"val": "valid"}


@dataclass
class Mosev2Video(Video):
    """A MOSEv2 video.

    Extra attributes:
        meta_ids: the meta file's object ids as written there (strings), in its order.
    """

    meta_ids: list[str] = field(default_factory=list)


def meta_object_ids(objects, where: str) -> list[str]:
    """The ids of a meta ``objects`` entry (a list of ids or a mapping keyed by id) as strings, in order;
    `DatasetError` naming ``where`` unless they are distinct integers in 1..255."""
    ids = [str(key) for key in (objects.keys() if isinstance(objects, dict) else objects or [])]
    try:
        values = [int(key) for key in ids]
    except ValueError:
        values = []
    if not ids or len(values) != len(ids) or not all(0 < v < 256 for v in values) or len(set(values)) != len(ids):
        raise DatasetError(f"{where}: objects {ids} must be distinct integer ids in 1..255 (a list, or a mapping "
                           "keyed by id)")
    return ids


class Mosev2Reader(VideoReader):
    """MOSEv2: `Mosev2Video` objects of the ``valid`` split (alias ``val``).

    Args:
        root: the folder holding ``valid/``.
        split: ``valid``.
        sequences: optional subset of video names (in the given order).
    """

    dataset = "mosev2"

    def __init__(self, root: str | Path, split: str = "valid", sequences: list[str] | None = None):
        split = SPLIT_ALIASES.get(split, split)
        if split not in SPLITS:
            raise DatasetError(f"MOSEv2 split {split!r} is unknown; use one of {', '.join(SPLITS)}")
        self.root = require_dir(Path(root), MOSEV2_TREE, f"set the dataset root (got {root})")
        self.split = split
        split_dir = require_dir(self.root / split, MOSEV2_TREE, f"no folder for split {split!r}")
        self.frames_root = require_dir(split_dir / "JPEGImages", MOSEV2_TREE)
        self.annotations_root = require_dir(split_dir / "Annotations", MOSEV2_TREE)
        self.meta_path = split_dir / "meta.json"
        self.meta = self._read_meta()
        self.sequences = list(sequences) if sequences else sorted(self.meta)

    def _read_meta(self) -> dict:
        if not self.meta_path.is_file():
            raise DatasetError(f"{self.meta_path} is missing; expected layout:\n{MOSEV2_TREE}")
        try:
            videos = json.loads(self.meta_path.read_text())["videos"]
            return {name: dict(entry) for name, entry in videos.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise DatasetError(f"{self.meta_path} is not a MOSEv2 meta file (a JSON object with 'videos'): "
                               f"{error!r}") from None

    def entry(self, name: str) -> tuple[int, tuple[int, int], list[str]]:
        """Video ``name``'s meta (length, (height, width), object ids as written); errors name the meta file."""
        if name not in self.meta:
            raise DatasetError(f"video {name} is not in {self.meta_path}")
        where = f"{self.meta_path}: video {name}"
        try:
            entry = self.meta[name]
            length, size = int(entry["length"]), (int(entry["height"]), int(entry["width"]))
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{where} needs integer length, height and width, failed at {error!r}") from None
        return length, size, meta_object_ids(self.meta[name].get("objects"), where)

    def video(self, name: str) -> Mosev2Video:
        frames = frame_files(self.frames_root / name, MOSEV2_TREE)
        length, size, meta_ids = self.entry(name)
        if length != len(frames):
            raise DatasetError(f"{self.meta_path}: video {name} has length {length} but "
                               f"{self.frames_root / name} holds {len(frames)} frames")
        frame_names = [p.stem for p in frames]
        annotations = annotation_files(self.annotations_root / name, frame_names, MOSEV2_TREE, every_frame=False)
        starts = self._first_frames(annotations, [int(i) for i in meta_ids], size, name)
        return Mosev2Video(name=name, frame_names=frame_names, frame_paths=frames, annotation_paths=annotations,
                           objects=[VideoObject(id=i, first_frame=starts[i]) for i in sorted(starts)], size=size,
                           frames_to_write=list(range(len(frames))), dataset=self.dataset, meta_ids=meta_ids)

    def _first_frames(self, annotations: dict[int, Path], ids: list[int], size: tuple[int, int],
                      name: str) -> dict[int, int]:
        """Object id -> first annotated frame index that shows it (reads until every id is found)."""
        starts: dict[int, int] = {}
        for index in sorted(annotations):
            labels = read_label_png(annotations[index])
            if labels.shape != size:
                raise DatasetError(f"{annotations[index]} is {labels.shape[1]}x{labels.shape[0]} but {self.meta_path} "
                                   f"gives video {name} {size[1]}x{size[0]} (W x H)")
            present = np.bincount(labels.ravel(), minlength=256) > 0
            starts.update({i: index for i in ids if present[i] and i not in starts})
            if len(starts) == len(ids):
                return starts
        missing = sorted(set(ids) - set(starts))
        raise DatasetError(f"video {name}: objects {missing} of {self.meta_path} appear in no annotation of "
                           f"{self.annotations_root / name}")
