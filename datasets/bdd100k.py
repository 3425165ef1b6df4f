"""Reader of the BDD100K VOS layout: the authors' conversion of BDD100K MOTS 2020 (``seg_track_20``) to
semi-supervised VOS (SysCV/sam-pt @874ff7e, ``scripts/bdd100k_from_instance_seg_to_vos_annotations.py``,
``docs/02-prepare-datasets.md``; ``make data DATASET=bdd100k`` prints the steps).

Layout::

    ROOT/
      <split>/JPEGImages/<seq>/<seq>-0000001.jpg ...    every frame (a ``<video>-chunk<k>`` folder is a link to
                                                        its video's folder: frames keep the video's name)
      <split>/Annotations/<seq>/<seq>-0000001.png ...   label maps of every frame, ids 1..N (8-bit palette
                                                        PNGs; 16-bit greyscale PNGs may hold ids above 255)

Semantics (those of the authors' ``sam_pt/vos_eval/eval.py`` and ``bdd100keval.py``):

- Sequences: the folders of ``Annotations``, sorted (the official evaluator's order); a video with more than
  100 objects is split by the conversion into chunks ``<video>``, ``<video>-chunk2``, ... (each its own
  sequence, ids 1..N again).
- Every frame has an annotation holding every visible object. An object starts on the first frame that shows
  it; only that mask prompts it. Its later masks are ground truth only: the authors remove already seen ids
  from each later annotation before prompting (``eval.py`` lines 190-197), which leaves exactly each
  object's first mask as its prompt.
- Objects are ids 1..N, N the largest id in the sequence's annotations; each must appear on some frame (the
  official evaluator scores every id 1..N and fails on a missing one).
- Predictions (``<seq>/<seq>-<t:07d>.png``, ids as in the ground truth) are written for every frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.annotations import check_frame_size, scan_first_appearances
from datasets.davis import annotation_files, frame_files, require_dir
from datasets.errors import DatasetError
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

BDD100K_TREE = """\
ROOT/
  <split>/JPEGImages/<seq>/<seq>-0000001.jpg ...    (every frame; <video>-chunk<k> links to <video>)
  <split>/Annotations/<seq>/<seq>-0000001.png ...   (label maps of every frame, ids 1..N)"""


@dataclass
class Bdd100kVideo(Video):
    """A BDD100K sequence: its annotations are read with ids up to 65535 ((H, W) uint8, or uint16 when an id
    exceeds 255)."""

    def _labels(self, path: Path, size: tuple[int, int], what: str) -> np.ndarray:
        labels = read_label_png(path, wide=True)
        if labels.shape != size:
            raise DatasetError(f"annotation {path} is {labels.shape[1]}x{labels.shape[0]} but video {self.name} "
                               f"is {size[1]}x{size[0]} (W x H, its {what}); all annotations of a video must have "
                               "one size")
        return labels


class Bdd100kReader(VideoReader):
    """BDD100K VOS: `Bdd100kVideo` objects of a split (the authors converted ``val``).

    Args:
        root: the folder holding ``<split>/`` (the authors' ``data/bdd100k/vos``).
        split: the split folder, e.g. ``val``.
        sequences: optional subset of sequence names (in the given order).
    """

    dataset = "bdd100k"

    def __init__(self, root: str | Path, split: str = "val", sequences: list[str] | None = None):
        self.root = require_dir(Path(root), BDD100K_TREE, f"set the dataset root (got {root}); "
                                "`make data DATASET=bdd100k` prints how to make it")
        self.split = split
        split_dir = require_dir(self.root / split, BDD100K_TREE, f"no folder for split {split!r}")
        self.frames_root = require_dir(split_dir / "JPEGImages", BDD100K_TREE)
        self.annotations_root = require_dir(split_dir / "Annotations", BDD100K_TREE)
        found = sorted(p.name for p in self.annotations_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not found and not sequences:
            raise DatasetError(f"no sequence folders in {self.annotations_root}; expected layout:\n{BDD100K_TREE}")
        self.sequences = list(sequences) if sequences else found

    def video(self, name: str) -> Bdd100kVideo:
        frames = frame_files(self.frames_root / name, BDD100K_TREE)
        frame_names = [p.stem for p in frames]
        annotations = annotation_files(self.annotations_root / name, frame_names, BDD100K_TREE, every_frame=True)
        first, size = scan_first_appearances(annotations, wide=True)
        check_frame_size(frames[0], size, annotations[0])
        folder = self.annotations_root / name
        count = max(first, default=0)
        missing = sorted(set(range(1, count + 1)) - set(first))
        if count == 0 or missing:
            raise DatasetError(f"sequence {name}: the annotations in {folder} must hold ids 1..N (N the largest id), "
                               f"each on some frame; " + (f"ids {missing[:10]} appear on no frame" if missing
                                                          else "no frame shows an object")
                               + "; regenerate them with the authors' conversion (`make data DATASET=bdd100k`)")
        objects = [VideoObject(id=i, first_frame=first[i]) for i in range(1, count + 1)]
        return Bdd100kVideo(name=name, frame_names=frame_names, frame_paths=frames, annotation_paths=annotations,
                            objects=objects, size=size, frames_to_write=list(range(len(frames))),
                            dataset=self.dataset)
