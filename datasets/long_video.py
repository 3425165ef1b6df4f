"""Reader of XMem's Long-Time Video sets LV1 (``long_video``) and LV3 (``long_video_x3``).

Layout (``long_video_set/`` as XMem's ``LongTimeVideo.zip`` unpacks; hkchengrex/XMem @f3b841d
``docs/GETTING_STARTED.md``, section "Long-Time Video")::

    ROOT/                                          the dataset root: long_video_set
      long_video/JPEGImages/<video>/00000.jpg ...     every frame (LV1: the AFB-URR videos)
      long_video/Annotations/<video>/00000.png ...    indexed PNGs on the annotated frames only
      long_video_x3/JPEGImages/<video>/...            LV3: each video played forward, backward, forward
      long_video_x3/Annotations/<video>/...           (XMem scripts/expand_long_vid.py), same kind of files

Semantics, as the authors read it (SysCV/sam-pt 874ff7e ``sam_pt/vos_eval/eval.py``, datasets ``LV1`` /
``LV3``, with ``LongTestDataset`` and ``VideoReader`` of ``sam_pt/vos_eval/data/``, taken from XMem):

- Videos: the folders of ``JPEGImages``, sorted by name; frames: the video's images sorted by name.
- The objects come from the first annotation PNG (by name) only; later PNGs are ground truth, never input.
  They are ids 1..N with N the largest id there (255 is void), the DAVIS 2017 rule of the evaluation
  below; every one of them must be in that first mask. All start on that PNG's frame.
- Predictions are written for the annotated frames only (XMem's ``to_save``: the names of the PNGs).
- Scoring: XMem scores the Long-Time Video sets with the DAVIS 2017 evaluation (davis2017-evaluation)
  pointed at the ``long_video_davis`` copies (hkchengrex/XMem ``docs/INFERENCE.md``, "Getting quantitative
  results"), which scores a sequence on its annotation PNGs, first and last dropped (docs/protocol.md section
  9): `evaluation.vos.evaluate_vos` scores the written (annotated) frames so, over objects 1..N (SAM-PT's code
  does not score LV).
"""
from __future__ import annotations

from pathlib import Path

from datasets.annotations import check_frame_size
from datasets.davis import annotation_files, frame_files, objects_from_first_frame, require_dir
from datasets.errors import DatasetError
from datasets.png import read_label_png
from datasets.video import Video, VideoObject, VideoReader

LONG_VIDEO_TREE = """\
ROOT/                                               (long_video_set)
  long_video/JPEGImages/<video>/00000.jpg ...        (LV1: every frame)
  long_video/Annotations/<video>/00000.png ...       (indexed PNGs on the annotated frames; the first gives the objects)
  long_video_x3/JPEGImages/<video>/...               (LV3: forward, backward, forward)
  long_video_x3/Annotations/<video>/..."""

SPLITS = ("val",)  # the set is for evaluation only; XMem's LongTestDataset has no split
VOID_LABEL = 255


class LongVideoReader(VideoReader):
    """LV1: `Video` objects of ``ROOT/long_video`` (`LongVideo3Reader`: ``ROOT/long_video_x3``).

    Args:
        root: the ``long_video_set`` folder.
        split: ``val`` (the only one).
        sequences: optional subset of video names (in the given order).
    """

    dataset = "lv1"
    folder = "long_video"

    def __init__(self, root: str | Path, split: str = "val", sequences: list[str] | None = None):
        if split not in SPLITS:
            raise DatasetError(f"{self.dataset} has one split, val (got {split!r}); set dataset.split=val")
        self.root = require_dir(Path(root), LONG_VIDEO_TREE, f"set the dataset root to long_video_set (got {root})")
        self.split = split
        base = require_dir(self.root / self.folder, LONG_VIDEO_TREE,
                           f"{self.dataset} reads ROOT/{self.folder}; get it with `make data DATASET={self.dataset}`")
        self.frames_root = require_dir(base / "JPEGImages", LONG_VIDEO_TREE)
        self.annotations_root = require_dir(base / "Annotations", LONG_VIDEO_TREE)
        if sequences:
            self.sequences = list(sequences)
        else:
            self.sequences = sorted(p.name for p in self.frames_root.iterdir()
                                    if p.is_dir() and not p.name.startswith("."))
        if not self.sequences:
            raise DatasetError(f"no video folders in {self.frames_root}")

    def video(self, name: str) -> Video:
        frames = frame_files(self.frames_root / name, LONG_VIDEO_TREE)
        frame_names = [p.stem for p in frames]
        annotations = annotation_files(self.annotations_root / name, frame_names, LONG_VIDEO_TREE, every_frame=False)
        first = min(annotations)
        labels = read_label_png(annotations[first])
        check_frame_size(frames[first], labels.shape, annotations[first])
        objects = objects_from_first_frame(labels, annotations[first], VOID_LABEL)
        absent = [obj.id for obj in objects if not (labels == obj.id).any()]
        if absent:
            raise DatasetError(
                f"first annotation {annotations[first]} has ids up to {len(objects)} but not {absent}: the DAVIS "
                "evaluation counts objects 1..N of the first annotated frame; relabel the ids as 1..N")
        return Video(
            name=name,
            frame_names=frame_names,
            frame_paths=frames,
            annotation_paths=annotations,
            objects=[VideoObject(id=obj.id, first_frame=first) for obj in objects],
            size=labels.shape,
            frames_to_write=sorted(annotations),
            void_label=VOID_LABEL,
            dataset=self.dataset,
        )


class LongVideo3Reader(LongVideoReader):
    """LV3: the videos of LV1 each played forward, backward and forward (``ROOT/long_video_x3``)."""

    dataset = "lv3"
    folder = "long_video_x3"
