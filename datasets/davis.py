"""Readers of the DAVIS 2016 and DAVIS 2017 on-disk layouts.

DAVIS 2017 (train/val/test-dev; also the layout of MOSE and of the generic folder, see
`datasets.folder`)::

    ROOT/
      JPEGImages/480p/<seq>/00000.jpg ...           (or JPEGImages/Full-Resolution/<seq>/...)
      Annotations/480p/<seq>/00000.png ...          indexed PNGs, ids 1..N, 255 = void
      ImageSets/2017/{train,val}.txt                one sequence name per line
      ImageSets/2017/test-dev.txt                   (the 2019 package has ImageSets/2019/test-dev.txt)

DAVIS 2016 (binary 0/255 annotations): either the 2017 package's list ``ImageSets/2016/<split>.txt``
with the 2016 ``Annotations/480p`` masks (common practice), or the original 2016 package whose
``ImageSets/<resolution>/<split>.txt`` lists ``/JPEGImages/480p/<seq>/00000.jpg /Annotations/...`` pairs;
the 2016 package also has ``JPEGImages/1080p`` and ``Annotations/1080p``.

Objects follow the official evaluator: N = the largest id in the first annotated frame, objects 1..N
all start on frame 0 (DAVIS 2017); DAVIS 2016 has one object, id 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.errors import DatasetError, DatasetLayoutError
from datasets.png import image_size, read_label_png
from datasets.video import Video, VideoObject, VideoReader

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")

DAVIS17_TREE = """\
ROOT/
  JPEGImages/<resolution>/<sequence>/00000.jpg ...
  Annotations/<resolution>/<sequence>/00000.png ...   (indexed PNGs; test-dev: first frame only)
  ImageSets/2017/<split>.txt                          (one sequence name per line)"""

DAVIS16_TREE = """\
ROOT/
  JPEGImages/480p/<sequence>/00000.jpg ...     (or 1080p)
  Annotations/480p/<sequence>/00000.png ...    (binary 0/255 masks, every frame)
  ImageSets/2016/<split>.txt                   (one sequence name per line; or the 2016 package's
                                                ImageSets/480p/<split>.txt of frame/annotation pairs)"""


def require_dir(path: Path, tree: str, hint: str = "") -> Path:
    """Return ``path`` if it is a folder, else raise a layout error showing ``tree``."""
    if not path.is_dir():
        raise DatasetLayoutError(path, tree, hint)
    return path


def list_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files in ``folder`` with one of ``suffixes`` (case-insensitive), sorted by name, hidden files skipped."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )


def read_sequence_list(path: Path, tree: str) -> list[str]:
    """Sequence names, one per line (blank lines and duplicates dropped, order kept)."""
    if not path.is_file():
        raise DatasetLayoutError(path, tree, "the sequence list of the split is missing")
    names: list[str] = []
    for line in path.read_text().splitlines():
        name = line.strip()
        if name and name not in names:
            names.append(name)
    if not names:
        raise DatasetError(f"sequence list {path} is empty")
    return names


def frame_files(folder: Path, tree: str) -> list[Path]:
    """The frames of one sequence folder, sorted; errors name the folder."""
    require_dir(folder, tree)
    files = list_files(folder, FRAME_SUFFIXES)
    if not files:
        raise DatasetError(f"no frames (.jpg/.png) in {folder}")
    return files


def annotation_files(folder: Path, frame_names: list[str], tree: str, every_frame: bool) -> dict[int, Path]:
    """Map frame index -> annotation PNG in ``folder``.

    With ``every_frame`` each frame must have an annotation and no annotation may name a missing frame
    (mismatched frame counts are an error that lists the first differences).
    """
    require_dir(folder, tree)
    pngs = {p.stem: p for p in list_files(folder, (".png",))}
    if not pngs:
        raise DatasetError(f"no annotation PNGs in {folder}")
    index_of = {name: i for i, name in enumerate(frame_names)}
    unknown = sorted(set(pngs) - set(index_of))
    if unknown:
        raise DatasetError(
            f"annotations in {folder} have no matching frame: {', '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''} ({len(pngs)} annotations, {len(frame_names)} frames)"
        )
    if every_frame:
        missing = [name for name in frame_names if name not in pngs]
        if missing:
            raise DatasetError(
                f"{len(missing)} frames have no annotation in {folder} ({len(pngs)} annotations, "
                f"{len(frame_names)} frames), first missing: {folder / (missing[0] + '.png')}"
            )
    return {index_of[name]: path for name, path in pngs.items()}


def objects_from_first_frame(labels: np.ndarray, path: Path, void_label: int | None) -> list[VideoObject]:
    """DAVIS objects: ids 1..N with N the largest (non-void) id of the first annotated frame."""
    values = labels[labels != void_label] if void_label is not None else labels
    count = int(values.max(initial=0))
    if count == 0:
        raise DatasetError(f"first annotation {path} has no object (all pixels are background)")
    return [VideoObject(id=k, first_frame=0) for k in range(1, count + 1)]


class Davis17Reader(VideoReader):
    """DAVIS 2017 semi-supervised: `Video` objects of a split.

    Args:
        root: the DAVIS folder (holding ``JPEGImages``, ``Annotations``, ``ImageSets``).
        split: ``train``, ``val``, ``test-dev`` (or any ``ImageSets/<year>/<split>.txt``).
        resolution: annotation resolution, ``480p`` (scoring resolution) or ``Full-Resolution``.
        frames_resolution: resolution of the frames fed to the model (``480p``, ``Full-Resolution`` or
            ``1080p``); None: ``resolution``. As the authors' reader (SysCV/sam-pt
            ``sam_pt/vos_eval/data/test_datasets.py``, ``DAVISTestDataset``), ``Full-Resolution`` falls back
            to ``1080p`` (the DAVIS 2016 package's name) where only that folder exists, and the first
            masks are then read from the annotations at the frames' resolution
            (``Annotations/<frames_resolution>``); predictions are always written at ``resolution``.
        sequences: optional subset of sequence names (in the given order).
    """

    dataset = "davis17"
    year = "2017"
    tree = DAVIS17_TREE
    void_label: int | None = 255
    binary = False

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        resolution: str = "480p",
        frames_resolution: str | None = None,
        sequences: list[str] | None = None,
    ):
        self.root = require_dir(Path(root), self.tree, f"set the dataset root (got {root})")
        self.split = split
        self.resolution = resolution
        self.frames_resolution = self._frames_resolution(frames_resolution or resolution)
        self.sequences = list(sequences) if sequences else self._read_split()

    def full_resolution_target(self) -> str:
        """The `make data` target that adds this split's full-resolution frames and annotations."""
        return "davis17_testdev_full" if self.split.startswith("test") else "davis17_full"

    def _frames_resolution(self, requested: str) -> str:
        """The frames' folder name under ``JPEGImages``: ``requested``, or ``1080p`` for a missing
        ``Full-Resolution`` (the authors' fallback); a missing folder is an error naming the make target."""
        if requested == self.resolution:
            return requested
        resolved = requested
        if (requested == "Full-Resolution" and not (self.root / "JPEGImages" / requested).is_dir()
                and (self.root / "JPEGImages" / "1080p").is_dir()):
            resolved = "1080p"
        for kind in ("JPEGImages", "Annotations"):  # first masks come from the frames' resolution too
            folder = self.root / kind / resolved
            if not folder.is_dir():
                raise DatasetLayoutError(
                    folder, self.tree,
                    f"frames_resolution={requested} needs {kind}/{resolved} (frames and first masks at that "
                    f"resolution); get it with `make data DATASET={self.full_resolution_target()}`, or set "
                    f"dataset.options.frames_resolution=null to use the {self.resolution} frames")
        return resolved

    def _split_file(self) -> Path:
        candidates = [self.root / "ImageSets" / self.year / f"{self.split}.txt"]
        if self.split in ("test-dev", "test-challenge"):
            candidates.append(self.root / "ImageSets" / "2019" / f"{self.split}.txt")
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        return candidates[0]

    def _read_split(self) -> list[str]:
        return read_sequence_list(self._split_file(), self.tree)

    def annotations_dir(self, name: str) -> Path:
        return self.root / "Annotations" / self.resolution / name

    def frames_dir(self, name: str) -> Path:
        return self.root / "JPEGImages" / self.frames_resolution / name

    def first_masks_dir(self, name: str) -> Path:
        return self.root / "Annotations" / self.frames_resolution / name

    def every_frame_annotated(self) -> bool:
        return self.split not in ("test-dev", "test-challenge", "test")

    def video(self, name: str) -> Video:
        frames = frame_files(self.frames_dir(name), self.tree)
        frame_names = [p.stem for p in frames]
        annotations = annotation_files(self.annotations_dir(name), frame_names, self.tree, self.every_frame_annotated())
        if 0 not in annotations:
            raise DatasetError(f"video {name}: the first frame {frame_names[0]} has no annotation in "
                               f"{self.annotations_dir(name)}; semi-supervised VOS needs the first-frame mask")
        first = annotations[0]
        labels = read_label_png(first, allow_rgb=self.binary)
        height, width = labels.shape
        if self.frames_resolution == self.resolution and image_size(frames[0]) != (height, width):
            raise DatasetError(
                f"frame {frames[0]} is {image_size(frames[0])[1]}x{image_size(frames[0])[0]} but annotation "
                f"{first} is {width}x{height} (W x H); frames and annotations of one resolution must match"
            )
        first_mask_paths = None
        if self.frames_resolution != self.resolution:
            first_mask_paths = annotation_files(self.first_masks_dir(name), frame_names, self.tree, every_frame=False)
            if 0 not in first_mask_paths:
                raise DatasetError(f"video {name}: the first frame {frame_names[0]} has no annotation in "
                                   f"{self.first_masks_dir(name)} (the first masks at the frames' resolution)")
            first_mask_paths = {0: first_mask_paths[0]}
        if self.binary:
            objects = [VideoObject(id=1, first_frame=0)] if (labels > 0).any() else []
            if not objects:
                raise DatasetError(f"first annotation {first} has no object (all pixels are background)")
        else:
            objects = objects_from_first_frame(labels, first, self.void_label)
        return Video(
            name=name,
            frame_names=frame_names,
            frame_paths=frames,
            annotation_paths=annotations,
            objects=objects,
            size=(height, width),
            binary=self.binary,
            void_label=self.void_label,
            dataset=self.dataset,
            first_mask_paths=first_mask_paths,
        )


class Davis16Reader(Davis17Reader):
    """DAVIS 2016: binary annotations (any nonzero pixel is the object, id 1), 480p or 1080p."""

    dataset = "davis16"
    year = "2016"
    tree = DAVIS16_TREE
    void_label = None
    binary = True

    def full_resolution_target(self) -> str:
        return "davis16"

    def _read_split(self) -> list[str]:
        modern = self.root / "ImageSets" / "2016" / f"{self.split}.txt"
        if modern.is_file():
            return read_sequence_list(modern, self.tree)
        original = self.root / "ImageSets" / self.resolution / f"{self.split}.txt"
        if original.is_file():
            names: list[str] = []
            for line in original.read_text().splitlines():
                parts = line.split()
                if not parts:
                    continue
                # "/JPEGImages/480p/<seq>/00000.jpg /Annotations/480p/<seq>/00000.png"
                name = Path(parts[0]).parent.name
                if name not in names:
                    names.append(name)
            if names:
                return names
        raise DatasetLayoutError(modern, self.tree, "no sequence list for the split")
