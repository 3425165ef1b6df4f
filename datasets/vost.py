"""Reader of the VOST layout (Video Object Segmentation under Transformations, TRI-ML).

Layout::

    ROOT/
      ImageSets/<split>.txt                 video names, one per line (train, val, test)
      JPEGImages/<video>/<frame>.jpg ...    every frame
      Annotations/<video>/<frame>.png ...   sparse indexed PNGs (every few frames), 255 = void

Semantics (those of the official evaluator, see `evaluation.vost`):

- Objects are ids 1..N with N the largest non-void id of the first annotated frame; ids above N in later
  annotations are not objects. An object absent from the first annotation starts on its first annotated
  frame that shows it.
- Void pixels (255) are read as background (``Video.void_label``).
- Predictions are written for every annotated frame (``frames_to_write``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.davis import annotation_files, frame_files, objects_from_first_frame, read_sequence_list, require_dir
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

VOST_TREE = """\
ROOT/
  ImageSets/<split>.txt                  (video names, one per line)
  JPEGImages/<video>/<frame>.jpg ...     (every frame)
  Annotations/<video>/<frame>.png ...    (sparse indexed PNGs, 255 = void)"""

VOID_LABEL = 255


class VostReader(VideoReader):
    """VOST: `Video` objects of a split listed in ``ImageSets/<split>.txt``.

    Args:
        root: the folder holding ``ImageSets/``, ``JPEGImages/`` and ``Annotations/``.
        split: the list name (``val``, ``train``, ``test``).
        sequences: optional subset of video names (in the given order).
    """

    dataset = "vost"

    def __init__(self, root: str | Path, split: str = "val", sequences: list[str] | None = None):
        self.root = require_dir(Path(root), VOST_TREE, f"set the dataset root (got {root})")
        self.split = split
        self.frames_root = require_dir(self.root / "JPEGImages", VOST_TREE)
        self.annotations_root = require_dir(self.root / "Annotations", VOST_TREE)
        listed = read_sequence_list(self.root / "ImageSets" / f"{split}.txt", VOST_TREE)
        self.sequences = list(sequences) if sequences else listed

    def video(self, name: str) -> Video:
        frames = frame_files(self.frames_root / name, VOST_TREE)
        frame_names = [p.stem for p in frames]
        annotations = annotation_files(self.annotations_root / name, frame_names, VOST_TREE, every_frame=False)
        annotated = sorted(annotations)
        first = read_label_png(annotations[annotated[0]])
        ids = [obj.id for obj in objects_from_first_frame(first, annotations[annotated[0]], VOID_LABEL)]
        starts = self._first_frames(annotations, annotated, ids)
        return Video(name=name, frame_names=frame_names, frame_paths=frames, annotation_paths=annotations,
                     objects=[VideoObject(id=i, first_frame=starts[i]) for i in ids], size=first.shape,
                     frames_to_write=annotated, dataset=self.dataset, void_label=VOID_LABEL)

    @staticmethod
    def _first_frames(annotations: dict[int, Path], annotated: list[int], ids: list[int]) -> dict[int, int]:
        """Object id -> its first annotated frame index that shows it (reads only until every id is found);
        an id no annotation shows gets the first annotated frame (it is still scored, as officially)."""
        starts: dict[int, int] = {}
        for index in annotated:
            present = np.bincount(read_label_png(annotations[index]).ravel(), minlength=256) > 0
            starts.update({i: index for i in ids if present[i] and i not in starts})
            if len(starts) == len(ids):
                break
        return {i: starts.get(i, annotated[0]) for i in ids}
