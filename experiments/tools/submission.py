"""Submission files for the benchmarks scored on servers: DAVIS 2017 test-dev, YouTube-VOS, MOSE, MOSEv2,
LVOS test, UVO.

    python -m experiments.tools.submission --dataset davis17-testdev --root data/DAVIS/2017/test-dev --run RUN_DIR
    make submission DATASET=ytvos18 RUN=outputs/...      (the Makefile wraps the line above)

A run folder holds ``<run>/predictions/<video>/<frame>.png`` (indexed PNGs at annotation resolution with
the dataset's object ids) and ``<run>/predictions/<video>/.complete`` (written last). The writers
(docs/protocol.md sections 2-5):

- ``davis17-testdev``: zip with one folder per sequence at the zip root, ``<seq>/<frame>.png`` for every
  frame. The server aborts with "Incorrect folder structure" when the zip root holds exactly one entry,
  and exits when a frame has more objects than the first ground-truth frame; both are refused here.
- ``ytvos18`` / ``ytvos19``: zip with ``Annotations/<video>/<frame>.png`` for exactly the frames the
  server expects (`Video.frames_to_write`, the 6 fps frames of meta.json), original ids, each PNG
  carrying the palette of the video's first ground-truth PNG; the same zip for the valid and the test
  server (``--split test``: the test split's videos and meta.json frames).
- ``mose``: zip with ``<video>/<frame>.png`` folders at the zip root, every frame.
- ``mosev2``: as ``mose`` (``<video>/<frame:05d>.png`` at the zip root, every frame; henghuiding/MOSE-api
  ``MOSEv2/sam2_rcms/README.md``); its reader ``mosev2`` comes with the MOSEv2 dataset support.
- ``lvos`` (LVOS test, CodaLab competition 8767): zip with ``Annotations/<video>/<frame:08d>.png`` for the
  frames the official evaluator reads (`Video.frames_to_write`: every 5th frame of each object's
  ``frame_range``), original ids. SA-V test is not here: its annotations are public and the run scores it.
- ``uvo``: a results json (``.json``; or a ``.zip`` holding ``results.json`` at its root): a list of
  ``{"video_id", "score", "category_id": 1, "segmentations"}`` with one compressed RLE
  ``{"size": [H, W], "counts": str}`` per frame, ``null`` where the track is absent.

Checks before anything is published (all raise `SubmissionError` naming the video, frame and file and
saying what to do): every video of the split has a prediction folder with its completion marker, every
required frame exists (these are checked for all videos first), and then while writing to a temporary
file: every PNG is a single-channel label image of size `Video.size` whose ids are the video's object ids
(0 = background). Only a fully checked file is renamed onto ``out_path`` (atomic); on error it is removed.

UVO input: the pipeline hands over tracks in memory as `UvoTrack` objects (video name, score, per-frame
(H, W) bool masks or None where absent); `tracks_from_label_maps` turns (T, H, W) label maps plus
per-object scores into tracks, and without in-memory tracks the writer reads them from the run folder
(the label-map PNGs of every frame, scores from ``<run>/predictions/<video>/scores.json``'s
``object_scores``).
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from datasets.errors import DatasetError
from datasets.png import DAVIS_PALETTE, read_label_png
from datasets.rle import encode_rle
from experiments.run.outputs import MARKER, VIS_TRACKS_FILE, UvoTrack, load_video_tracks

LOGGER = logging.getLogger(__name__)

MAX_LISTED = 10  # problems listed in one error message


class SubmissionError(DatasetError):
    """Predictions that would make an invalid submission; the message says which file and what to do."""


@dataclass(frozen=True)
class SubmissionFormat:
    """How one server wants its submission.

    Attributes:
        reader: `datasets.registry` name of the reader of the split.
        default_split: the split the server scores.
        folder_prefix: path inside the zip above the video folders ("" = video folders at the zip root).
        every_frame: predictions for every frame (else `Video.frames_to_write`).
        gt_palette: copy the palette of the video's first ground-truth PNG into every PNG.
        official_videos: split -> number of videos the server scores in it (a count matching none is logged).
    """

    reader: str
    default_split: str
    folder_prefix: str = ""
    every_frame: bool = True
    gt_palette: bool = False
    official_videos: dict[str, int] = field(default_factory=dict)


FORMATS: dict[str, SubmissionFormat] = {
    "davis17-testdev": SubmissionFormat("davis17", "test-dev", official_videos={"test-dev": 30}),
    "ytvos18": SubmissionFormat("ytvos18", "valid", "Annotations/", every_frame=False, gt_palette=True,
                                official_videos={"valid": 474, "test": 508}),
    "ytvos19": SubmissionFormat("ytvos19", "valid", "Annotations/", every_frame=False, gt_palette=True,
                                official_videos={"valid": 507, "test": 541}),
    "mose": SubmissionFormat("mose", "valid"),
    "mosev2": SubmissionFormat("mosev2", "valid"),
    "lvos": SubmissionFormat("lvos", "test", "Annotations/", every_frame=False),
    "uvo": SubmissionFormat("uvo", "val", official_videos={"val": 256}),
}
DATASETS = tuple(FORMATS)
ALIASES = {"davis17_testdev": "davis17-testdev"}  # the config-file spelling
# dataset root under $DATA_ROOT (default ``data``), as `python -m experiments.tools.download data` unpacks it
DEFAULT_ROOTS = {"davis17-testdev": "DAVIS-test-dev", "ytvos18": "YouTube2018", "ytvos19": "YouTube2019",
                 "mose": "mose", "uvo": "UVOv1.0", "mosev2": "MOSEv2", "lvos": "LVOS_v2"}


# ------------------------------------------------------------------------------------------------ helpers
def canonical(dataset: str) -> str:
    """The `FORMATS` key of ``dataset`` (accepts the config spelling ``davis17_testdev``)."""
    return ALIASES.get(dataset, dataset)


def _format(dataset: str) -> SubmissionFormat:
    dataset = canonical(dataset)
    if dataset not in FORMATS:
        raise ValueError(f"no submission format for dataset {dataset!r}; valid names: {', '.join(DATASETS)}")
    return FORMATS[dataset]


def _raise_problems(problems: list[str], what: str) -> None:
    if not problems:
        return
    listed = "\n  ".join(problems[:MAX_LISTED])
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise SubmissionError(f"{len(problems)} {what}; no submission written:\n  {listed}{more}")


def required_frames(dataset: str, video) -> list[int]:
    """Indices of the frames ``dataset``'s server expects for ``video``."""
    return list(range(video.num_frames)) if _format(dataset).every_frame else list(video.frames_to_write)


def _check_videos(dataset: str, videos: Sequence) -> None:
    dataset = canonical(dataset)
    fmt = _format(dataset)
    if not videos:
        raise SubmissionError(f"no videos given for the {dataset} submission; pass the videos of the split")
    names = [video.name for video in videos]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SubmissionError(f"videos given twice: {', '.join(duplicates)}")
    if fmt.official_videos and len(videos) not in fmt.official_videos.values():
        expected = " or ".join(f"{count} ({split})" for split, count in fmt.official_videos.items())
        LOGGER.warning("%d videos given, but the %s server expects %s: it will reject or under-score this "
                       "submission unless the split is complete", len(videos), dataset, expected)
    if dataset == "davis17-testdev" and len(videos) == 1:
        raise SubmissionError(
            f"the DAVIS test-dev server rejects a zip whose root holds exactly one entry (\"Incorrect folder "
            f"structure\"), and this submission has only video {names[0]}; submit the whole test-dev split "
            f"(30 sequences)"
        )


def check_prediction_files(dataset: str, videos: Sequence, predictions_dir: str | Path,
                           require_marker: bool = True) -> dict[str, list[tuple[int, Path]]]:
    """Check that every video has a complete prediction folder holding every required frame.

    Returns:
        video name -> [(frame index, PNG path)] of the required frames, in order.

    Raises:
        SubmissionError listing every missing folder, marker and frame (naming the files).
    """
    predictions_dir = Path(predictions_dir)
    if not predictions_dir.is_dir():
        raise SubmissionError(f"predictions folder not found: {predictions_dir}; pass the run folder whose "
                              "predictions/<video>/<frame>.png the run wrote")
    problems: list[str] = []
    files: dict[str, list[tuple[int, Path]]] = {}
    for video in videos:
        folder = predictions_dir / video.name
        if not folder.is_dir():
            problems.append(f"video {video.name}: no prediction folder {folder}; run the model on this video "
                            "(the whole split must be predicted)")
            continue
        if require_marker and not (folder / MARKER).is_file():
            problems.append(f"video {video.name}: prediction is incomplete (no {MARKER} marker in {folder}); "
                            "re-run the experiment to finish it")
            continue
        wanted = [(index, folder / f"{video.frame_names[index]}.png") for index in required_frames(dataset, video)]
        missing = [path for _, path in wanted if not path.is_file()]
        if missing:
            problems.append(f"video {video.name}: {len(missing)} of {len(wanted)} required frames missing, first: "
                            f"{missing[0]}; re-run the experiment on this video")
            continue
        files[video.name] = wanted
    _raise_problems(problems, "problems with the predictions")
    return files


def _read_prediction(path: Path) -> tuple[np.ndarray, list[int] | None]:
    """(H, W) uint8 ids and the PNG's 768-entry palette (None if not a palette image)."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode == "P":
                palette = list(image.getpalette() or [])
                return np.asarray(image, dtype=np.uint8), palette + [0] * (768 - len(palette))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        pass  # read_label_png below raises the clear error
    return read_label_png(path), None


def check_labels(dataset: str, video, labels: np.ndarray, where: str) -> None:
    """Check one prediction label map: (H, W) = ``video.size``, ids among ``video.object_ids`` (and 0)."""
    dataset = canonical(dataset)
    if labels.shape != tuple(video.size):
        raise SubmissionError(
            f"{where} is {labels.shape[1]}x{labels.shape[0]} but video {video.name} is "
            f"{video.size[1]}x{video.size[0]} (W x H); write predictions at the annotation resolution"
        )
    ids = {int(i) for i in np.unique(labels)} - {0}
    if dataset == "davis17-testdev" and ids and max(ids) > len(video.objects):
        raise SubmissionError(
            f"{where} holds label {max(ids)} but the first ground-truth frame of {video.name} has "
            f"{len(video.objects)} objects; the DAVIS server exits on 'index higher than the number of objects'. "
            "Keep the ground-truth ids (and no 255 / void values) in predictions"
        )
    unknown = sorted(ids - set(video.object_ids))
    if unknown:
        raise SubmissionError(
            f"{where} holds ids {unknown} that are not objects of video {video.name} (ids {video.object_ids}); "
            "predictions must use the dataset's object ids, 0 = background"
        )


def _png_bytes(labels: np.ndarray, palette: Sequence[int]) -> bytes:
    image = Image.fromarray(labels, mode="P")
    image.putpalette(list(palette))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def gt_palette(video) -> list[int]:
    """The 768-entry palette of the video's first ground-truth PNG (DAVIS palette, with a warning, if the
    PNG has none)."""
    first = video.annotation_paths[min(video.annotation_paths)]
    with Image.open(first) as image:
        if image.mode == "P" and image.getpalette():
            palette = list(image.getpalette())
            return palette + [0] * (768 - len(palette))
    LOGGER.warning("first annotation %s of video %s is not a palette PNG; the DAVIS palette is used", first, video.name)
    return DAVIS_PALETTE.reshape(-1).tolist()


class _AtomicOutput:
    """A temporary file next to ``path`` renamed onto it by `commit`; removed if not committed."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(handle)
        self.temporary = Path(name)

    def __enter__(self) -> "_AtomicOutput":
        return self

    def commit(self) -> None:
        os.chmod(self.temporary, 0o644)
        os.replace(self.temporary, self.path)

    def __exit__(self, *exc) -> None:
        self.temporary.unlink(missing_ok=True)


def _zip_dirs(archive: zipfile.ZipFile, folder: str, written: set[str]) -> None:
    """Add the directory entries of ``folder`` ("a/b/") and its parents, as ``zip -r`` does."""
    parts = [p for p in folder.split("/") if p]
    for depth in range(1, len(parts) + 1):
        entry = "/".join(parts[:depth]) + "/"
        if entry not in written:
            archive.writestr(zipfile.ZipInfo(entry), b"")
            written.add(entry)


# -------------------------------------------------------------------------------------------- VOS writers
def write_vos_zip(dataset: str, videos: Sequence, predictions_dir: str | Path, out_path: str | Path,
                  require_marker: bool = True, progress: bool = False) -> Path:
    """Write the zip of a VOS server (``davis17-testdev``, ``ytvos18``, ``ytvos19``, ``mose``, ``mosev2``, ``lvos``)."""
    dataset = canonical(dataset)
    fmt = _format(dataset)
    if dataset == "uvo":
        raise ValueError("uvo submissions are results jsons: use write_uvo_results")
    _check_videos(dataset, videos)
    files = check_prediction_files(dataset, videos, predictions_dir, require_marker)
    out_path = Path(out_path)
    from tqdm import tqdm

    with _AtomicOutput(out_path) as output:
        with zipfile.ZipFile(output.temporary, "w", zipfile.ZIP_STORED) as archive:
            written: set[str] = set()
            for video in tqdm(videos, desc="submission", unit="video", disable=not progress):
                palette = gt_palette(video) if fmt.gt_palette else None
                folder = f"{fmt.folder_prefix}{video.name}/"
                _zip_dirs(archive, folder, written)
                for index, path in files[video.name]:
                    where = f"video {video.name}, frame {video.frame_names[index]}: prediction {path}"
                    try:
                        labels, own_palette = _read_prediction(path)
                    except DatasetError as error:
                        raise SubmissionError(f"video {video.name}, frame {video.frame_names[index]}: {error}") from None
                    check_labels(dataset, video, labels, where)
                    target = palette if palette is not None else (own_palette or DAVIS_PALETTE.reshape(-1).tolist())
                    if own_palette is not None and own_palette == list(target):
                        data = path.read_bytes()  # already an indexed PNG with the right palette
                    else:
                        data = _png_bytes(labels, target)
                    archive.writestr(f"{folder}{video.frame_names[index]}.png", data)
        output.commit()
    LOGGER.info("wrote %s (%d videos)", out_path, len(videos))
    return out_path


# -------------------------------------------------------------------------------------------- UVO writer
def tracks_from_label_maps(video: str, label_maps: np.ndarray | Sequence[np.ndarray],
                           scores: dict[int, float]) -> list[UvoTrack]:
    """Tracks from (T, H, W) label maps: object k of ``scores`` -> a track of ``label_maps == k``.

    ``scores`` maps every object id to its score; an id of the label maps without a score is an error.
    """
    label_maps = np.asarray(label_maps)
    if label_maps.ndim != 3:
        raise ValueError(f"label maps of video {video} must be (T, H, W), got shape {label_maps.shape}")
    present = {int(i) for i in np.unique(label_maps)} - {0}
    unscored = sorted(present - {int(k) for k in scores})
    if unscored:
        raise SubmissionError(f"video {video}: objects {unscored} of the label maps have no score")
    return [UvoTrack(video=video, score=float(scores[k]), masks=label_maps == int(k)) for k in sorted(scores, key=int)]


def _uvo_entry(video, track: UvoTrack, number: int) -> dict:
    where = f"video {video.name}, track {number}"
    if not isinstance(track.score, (int, float, np.floating, np.integer)) or not math.isfinite(float(track.score)):
        raise SubmissionError(f"{where}: score {track.score!r} is not a finite number; give every track a score "
                              "(e.g. the mean predicted IoU)")
    masks = track.masks
    if len(masks) != video.num_frames:
        raise SubmissionError(f"{where}: {len(masks)} per-frame masks but the video has {video.num_frames} frames; "
                              "give one mask (or None) per frame")
    segmentations = []
    for index, mask in enumerate(masks):
        if mask is None:
            segmentations.append(None)
            continue
        mask = np.asarray(mask)
        if mask.shape != tuple(video.size):
            raise SubmissionError(f"{where}, frame {video.frame_names[index]}: mask is {mask.shape} but the video is "
                                  f"{tuple(video.size)} (H, W); give masks at the annotation resolution")
        if mask.dtype != bool:
            if not np.isin(mask, (0, 1)).all():
                raise SubmissionError(f"{where}, frame {video.frame_names[index]}: mask has values other than 0/1")
            mask = mask.astype(bool)
        segmentations.append(encode_rle(mask) if mask.any() else None)
    return {"video_id": int(video.video_id), "score": float(track.score), "category_id": 1,
            "segmentations": segmentations}


def uvo_results(videos: Sequence, tracks: Iterable[UvoTrack]) -> list[dict]:
    """The UVO results list (see the module docstring), checked: every video has a track, no unknown video."""
    _check_videos("uvo", videos)
    by_name = {video.name: video for video in videos}
    missing_id = [video.name for video in videos if getattr(video, "video_id", -1) < 0]
    if missing_id:
        raise SubmissionError(f"videos {missing_id[:5]} have no UVO video id; read them with datasets.uvo.UvoReader")
    grouped: dict[str, list[UvoTrack]] = {name: [] for name in by_name}
    unknown: list[str] = []
    for track in tracks:
        if track.video not in grouped:
            unknown.append(track.video)
        else:
            grouped[track.video].append(track)
    problems = [f"tracks for video {name}, which is not in the split" for name in sorted(set(unknown))]
    problems += [f"video {name}: no tracks; predict every video of the split" for name, t in grouped.items() if not t]
    _raise_problems(problems, "problems with the UVO tracks")
    results = []
    for name, video_tracks in grouped.items():
        for number, track in enumerate(video_tracks, start=1):
            results.append(_uvo_entry(by_name[name], track, number))
    return results


def tracks_from_run(videos: Sequence, predictions_dir: str | Path, require_marker: bool = True,
                    missing_score: float | None = None) -> list[UvoTrack]:
    """UVO tracks from a run folder: every frame's label-map PNG, scores from ``scores.json``.

    A missing or non-finite object score is an error unless ``missing_score`` is given (then used).
    """
    files = check_prediction_files("uvo", videos, predictions_dir, require_marker)
    tracks: list[UvoTrack] = []
    for video in videos:
        folder = Path(predictions_dir) / video.name
        labels = []
        for index, path in files[video.name]:
            where = f"video {video.name}, frame {video.frame_names[index]}: prediction {path}"
            try:
                frame_labels = read_label_png(path)
            except DatasetError as error:
                raise SubmissionError(f"video {video.name}, frame {video.frame_names[index]}: {error}") from None
            check_labels("uvo", video, frame_labels, where)
            labels.append(frame_labels)
        scores = _object_scores(folder / "scores.json", video, missing_score)
        tracks.extend(tracks_from_label_maps(video.name, np.stack(labels), scores))
    return tracks


def _object_scores(path: Path, video, missing_score: float | None) -> dict[int, float]:
    raw: dict = {}
    if path.is_file():
        try:
            raw = json.loads(path.read_text()).get("object_scores") or {}
        except (ValueError, AttributeError) as error:
            raise SubmissionError(f"{path} is not a valid scores json ({error}); re-run the video") from None
    scores: dict[int, float] = {}
    for object_id in video.object_ids:
        value = raw.get(str(object_id))
        if value is None or not math.isfinite(float(value)):
            if missing_score is None:
                raise SubmissionError(
                    f"video {video.name}: object {object_id} has no finite score in {path} (got {value!r}); "
                    "pass missing_score (CLI: --missing-score 1.0) to give such tracks a constant score"
                )
            value = missing_score
        scores[object_id] = float(value)
    return scores


def write_uvo_results(videos: Sequence, tracks: Iterable[UvoTrack], out_path: str | Path) -> Path:
    """Write the UVO results json (``out_path`` ``*.json``), or a zip holding ``results.json`` (``*.zip``)."""
    out_path = Path(out_path)
    data = json.dumps(uvo_results(videos, tracks), separators=(",", ":")).encode()
    with _AtomicOutput(out_path) as output:
        if out_path.suffix.lower() == ".zip":
            with zipfile.ZipFile(output.temporary, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("results.json", data)
        else:
            output.temporary.write_bytes(data)
        output.commit()
    LOGGER.info("wrote %s (%d videos)", out_path, len(videos))
    return out_path


# ------------------------------------------------------------------------------------------------- entry
def write_submission(dataset: str, videos: Sequence, predictions_dir: str | Path | None, out_path: str | Path,
                     tracks: Iterable[UvoTrack] | None = None, require_marker: bool = True,
                     missing_score: float | None = None, progress: bool = False) -> Path:
    """Check the predictions of ``videos`` (the whole split) and write ``dataset``'s submission file.

    Args:
        dataset: one of `DATASETS` (``davis17-testdev``, ``ytvos18``, ``ytvos19``, ``mose``, ``mosev2``, ``lvos``,
            ``uvo``).
        videos: every `Video` of the split the server scores (UVO: `datasets.uvo.UvoVideo`).
        predictions_dir: the run's ``predictions`` folder (``<video>/<frame>.png`` + ``.complete``);
            for UVO None when ``tracks`` are given.
        out_path: the zip (UVO: ``.json`` or ``.zip``) to write; replaced atomically.
        tracks: UVO only: `UvoTrack` objects from the pipeline (else read from ``predictions_dir``).
        require_marker: refuse prediction folders without the completion marker.
        missing_score: UVO from a run folder: score for objects whose score is missing/NaN (else an error).

    Returns:
        ``out_path``.
    """
    dataset = canonical(dataset)
    _format(dataset)
    if dataset == "uvo":
        if tracks is None:
            if predictions_dir is None:
                raise ValueError("uvo needs tracks or a predictions_dir to read them from")
            tracks = tracks_from_run(videos, predictions_dir, require_marker, missing_score)
        return write_uvo_results(videos, tracks, out_path)
    if tracks is not None:
        raise ValueError(f"tracks are for uvo only; {dataset} reads PNGs from predictions_dir")
    if predictions_dir is None:
        raise ValueError(f"{dataset} needs predictions_dir")
    return write_vos_zip(dataset, videos, predictions_dir, out_path, require_marker, progress)


def default_output(dataset: str, run: Path) -> Path:
    return run / (f"submission-{dataset}.json" if dataset == "uvo" else f"submission-{dataset}.zip")


def _vis_run_tracks(videos: Sequence, predictions_dir: Path) -> list[UvoTrack] | None:
    """The tracks of a VIS run (``predictions/<video>/tracks.json``, overlapping masks kept), or None when
    the run wrote label-map PNGs instead."""
    if not any((predictions_dir / video.name / VIS_TRACKS_FILE).is_file() for video in videos):
        return None
    return [track for video in videos for track in load_video_tracks(predictions_dir / video.name, video)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.tools.submission",
        description="Check a run's predictions and write the submission file of a benchmark server.")
    parser.add_argument("--dataset", required=True, choices=DATASETS + tuple(ALIASES))
    parser.add_argument("--root", type=Path, default=None,
                        help="dataset root as given to the reader (default: $DATA_ROOT/<folder of "
                             "`python -m experiments.tools.download data`>, e.g. data/YouTube2018)")
    parser.add_argument("--split", default=None, help="split (default: the one the server scores)")
    parser.add_argument("--run", required=True, type=Path, help="run folder holding predictions/<video>/")
    parser.add_argument("--out", type=Path, default=None,
                        help="output file (default: RUN/submission-<dataset>.zip, uvo: .json)")
    parser.add_argument("--missing-score", type=float, default=None,
                        help="uvo: score for objects without a finite score in scores.json (default: error)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from datasets.registry import read_videos

    dataset = canonical(args.dataset)
    fmt = _format(dataset)
    split = args.split or fmt.default_split
    root = args.root or Path(os.environ.get("DATA_ROOT", "data")) / DEFAULT_ROOTS[dataset]
    out = args.out or default_output(dataset, args.run)
    try:
        videos = read_videos(fmt.reader, root, split)
        tracks = _vis_run_tracks(videos, args.run / "predictions") if dataset == "uvo" else None
        write_submission(dataset, videos, args.run / "predictions", out, tracks=tracks,
                         missing_score=args.missing_score, progress=True)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"submission written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
