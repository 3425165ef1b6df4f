"""Semi-supervised VOS scoring, DAVIS style (DAVIS 2016/2017, MOSE, generic folders).

Command line::

    python -m evaluation.vos --dataset {davis16,davis17,mose,folder,lv1,lv3} --root ROOT --split SPLIT \\
        --predictions DIR [--output DIR] [--workers N] [--resolution 480p]

``--dataset sav`` is scored by `evaluation.sav` (the official SA-V rules, described there).
``--dataset lvos`` is scored by `evaluation.lvos` (the official LVOS v1/v2 rules, described there).
``--dataset mosev2`` is scored by `evaluation.mosev2` (the official MOSEv2 rules, described there).
``--dataset bdd100k`` is scored by `evaluation.bdd100k` (the authors' BDD100K rules, described there).

Python: :func:`evaluate_vos` on a list of `datasets.video.Video` objects, returning a `VosResult`.

Behaviour (``docs/protocol.md`` sections 1, 1.8, 4), equal to the official DAVIS 2017 evaluator
(semi-supervised task) to floating-point rounding (``tests/evaluation/test_official_davis.py`` compares with its
recorded output, ``tests/fixtures/official_davis``). DAVIS 2016 as the authors score it (the DAVIS 2017
evaluator's 2016 fork with ``year="2016"`` on the 2017 trainval root, SysCV/sam-pt 874ff7e
``sam_pt/vos_eval/davis2017eval.py``) is recorded with the public fork hkchengrex/davis2016-evaluation
(``tests/evaluation/test_official_davis16.py``; their pinned m43/davis2016-davis2017-davis2019-evaluation
@35401a5 was not available to record). MOSE follows the protocol notes and shares the DAVIS 2017 code; no
official output is recorded: MOSE v1 is scored by its CodaLab server only (henghuiding/MOSE-api @241977a ships
MOSEv1 data loaders, no evaluation code):

* Objects are ``Video.objects`` (DAVIS 2017: ids 1..N with N the largest id of the first GT frame);
  ground truth comes from ``Video.annotation`` (void 255 already read as background).
* Frames 1..T-2 are scored (first and last dropped); prediction PNGs of other frames are never read.
  Videos that write only some frames (LV1/LV3: the annotated ones) are scored on those, first and last
  dropped: the DAVIS evaluation on XMem's ``long_video_davis`` copies (`scored_frames`).
* Predictions ``<predictions>/<video>/<frame>.png`` are read raw (palette or greyscale ids). An id above
  the largest object id is an error naming the video, frame and file (the official tool silently exits);
  objects missing from the prediction are empty masks. A missing frame or a frame of the wrong size is an
  error naming the video, frame and file, and nothing is scored or written.
* Binary videos (DAVIS 2016): any nonzero pixel is the object, in GT and prediction; the dataset score is
  the mean over sequences of the per-sequence statistics (= mean over objects, one object per sequence).
* DAVIS 2017 global scores: every object counts equally (flat mean over all objects of all sequences);
  J&F-Mean = (J-Mean + F-Mean) / 2.
* MOSE (MOSEv1 reports DAVIS-style J, F, J&F) and generic folders are scored exactly like DAVIS 2017;
  every scored frame needs a ground-truth annotation (splits whose GT is withheld, e.g. MOSE valid,
  cannot be scored locally and give a clear error). The MOSEv2 metrics (J with +1 smoothing, adaptive-
  radius F, disappear/reappear) are not computed here.
* Outputs: ``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv`` in the official layout
  (``%.3f``; a NaN is written as an empty field, as pandas does), ``per-frame_results-<split>.csv``
  (``video,object,frame,J,F`` at full precision: every scored frame of every object) and, from the CLI,
  ``results.json`` (`evaluation.record.ResultsRecord`, metrics at full precision, NaN written as null).
  Old outputs are never reused: every call recomputes and atomically replaces them.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from datasets.errors import DatasetError
from infra.files import atomic_write_text
from datasets.png import read_label_png
from datasets.video import Video
from evaluation.davis_metrics import BOUND_TH, boundary_radius, frame_scores, object_statistics
from evaluation.record import ResultsRecord, nan_to_none
from evaluation.scoring import PredictionError, csv_text, format_3f, map_videos

log = logging.getLogger(__name__)

DATASETS = ("davis16", "davis17", "mose", "folder", "lv1", "lv3")
#: benchmarks with their own official rules: reader name -> (module, its scorer). The module's ``run_cli(args)``
#: is the command line; the scorer ``(videos, predictions_dir, workers=None, progress=False)`` returns an
#: `evaluation.scoring.OwnRulesResult`. A new benchmark with its own evaluator is one entry here.
OWN_RULES = {"sav": ("evaluation.sav", "evaluate_sav"), "vost": ("evaluation.vost", "evaluate_vost"),
             "lvos": ("evaluation.lvos", "evaluate_lvos"), "mosev2": ("evaluation.mosev2", "evaluate_mosev2"),
             "bdd100k": ("evaluation.bdd100k", "evaluate_bdd100k")}
CLI_DATASETS = DATASETS + tuple(OWN_RULES)
GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
OBJECT_COLUMNS = ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
PER_SEQUENCE_COLUMNS = ("Sequence", "J-Mean", "F-Mean")
PER_FRAME_COLUMNS = ("video", "object", "frame", "J", "F")
PREDICTION_LAYOUT = "PREDICTIONS/<video>/<frame>.png   (indexed PNGs at annotation size, ids as in the GT)"


@dataclass
class VideoScores:
    """Per-frame scores of one video.

    Attributes:
        name: video name.
        object_ids: the N scored object ids.
        frame_names: the T-2 scored frame names (frames 1..T-2).
        j, f: (N, T-2) float64 per-frame J and F.
    """

    name: str
    object_ids: list[int]
    frame_names: list[str]
    j: np.ndarray
    f: np.ndarray


@dataclass
class VosResult:
    """Scores of a VOS evaluation.

    Attributes:
        global_scores: ``GLOBAL_COLUMNS`` -> value (fractions in [0, 1]).
        per_object: ``"<video>_<id>"`` -> ``OBJECT_COLUMNS`` -> value, in evaluation order.
        videos: per-frame scores of every video, in evaluation order.
        dataset, split: names recorded in the outputs.
        official_quirks, bound_th: the settings the scores were computed with.
    """

    global_scores: dict[str, float]
    per_object: dict[str, dict[str, float]]
    videos: list[VideoScores]
    dataset: str = ""
    split: str = ""
    official_quirks: bool = True
    bound_th: float = BOUND_TH

    @property
    def num_sequences(self) -> int:
        return len(self.videos)

    @property
    def num_objects(self) -> int:
        return len(self.per_object)

    def per_frame(self) -> dict[str, dict[str, list]]:
        """``"<video>_<id>"`` -> {"frames": names, "J": values, "F": values} over the scored frames."""
        table: dict[str, dict[str, list]] = {}
        for video in self.videos:
            for row, object_id in enumerate(video.object_ids):
                table[f"{video.name}_{object_id}"] = {
                    "frames": list(video.frame_names),
                    "J": video.j[row].tolist(),
                    "F": video.f[row].tolist(),
                }
        return table

    def to_dict(self) -> dict:
        """The ``metrics`` of the results record (NaN -> None): global, per-object and the settings."""
        data = {
            "global": dict(self.global_scores),
            "per_object": {name: dict(stats) for name, stats in self.per_object.items()},
            "dataset": self.dataset,
            "split": self.split,
            "num_sequences": self.num_sequences,
            "num_objects": self.num_objects,
            "official_quirks": self.official_quirks,
            "bound_th": self.bound_th,
        }
        return nan_to_none(data)

    def global_csv(self) -> str:
        """``global_results-<split>.csv`` text: the official header and one ``%.3f`` row."""
        return csv_text([GLOBAL_COLUMNS, [format_3f(self.global_scores[c]) for c in GLOBAL_COLUMNS]])

    def per_sequence_csv(self) -> str:
        """``per-sequence_results-<split>.csv`` text: one row per object ``<video>_<id>``, ``%.3f``."""
        rows: list[Sequence[str]] = [PER_SEQUENCE_COLUMNS]
        for name, stats in self.per_object.items():
            rows.append([name, format_3f(stats["J-Mean"]), format_3f(stats["F-Mean"])])
        return csv_text(rows)

    def global_table(self) -> str:
        """The global scores as an aligned text table (what the CLI prints)."""
        widths = [max(len(c), 8) for c in GLOBAL_COLUMNS]
        header = "  ".join(c.rjust(w) for c, w in zip(GLOBAL_COLUMNS, widths))
        values = "  ".join(format_3f(self.global_scores[c]).rjust(w) for c, w in zip(GLOBAL_COLUMNS, widths))
        return f"{header}\n{values}"

    def per_frame_csv(self) -> str:
        """``per-frame_results-<split>.csv`` text: ``video,object,frame,J,F``, one row per object and scored
        frame (evaluation order), floats at full precision (``repr``), so each object's mean J and F are its
        J-Mean and F-Mean."""
        rows: list[Sequence[str]] = [PER_FRAME_COLUMNS]
        for video in self.videos:
            for row, object_id in enumerate(video.object_ids):
                rows.extend([video.name, str(object_id), frame, repr(float(j)), repr(float(f))]
                            for frame, j, f in zip(video.frame_names, video.j[row], video.f[row]))
        return csv_text(rows)

    def write(self, output_dir: str | Path) -> dict[str, Path]:
        """Write the global, per-sequence and per-frame CSVs into ``output_dir`` (atomically, replacing old
        files; the results record, ``results.json``, is written by the caller: `evaluation.record`)."""
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        paths = output_paths(output_dir, self.split)
        atomic_write_text(paths["global"], self.global_csv())
        atomic_write_text(paths["per_sequence"], self.per_sequence_csv())
        atomic_write_text(paths["per_frame"], self.per_frame_csv())
        return paths


def output_paths(output_dir: str | Path, split: str) -> dict[str, Path]:
    """The CSVs `VosResult.write` writes into ``output_dir`` for ``split``: ``global``, ``per_sequence``,
    ``per_frame``."""
    output_dir, split = Path(output_dir), split or "unknown"
    return {"global": output_dir / f"global_results-{split}.csv",
            "per_sequence": output_dir / f"per-sequence_results-{split}.csv",
            "per_frame": output_dir / f"per-frame_results-{split}.csv"}


def read_per_frame_csv(path: str | Path) -> list[VideoScores]:
    """The per-frame scores a `VosResult.write` stored (``per-frame_results-<split>.csv``), in its order.

    Returns one `VideoScores` per video (``j``, ``f``: (N, T-2) float64, bit-equal to the scored values).
    Raises `DatasetError` naming the file when it is missing or not in that layout.
    """
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise DatasetError(f"cannot read the per-frame scores {path}: {error}; score the run again "
                           "(python -m evaluation.vos ... --output <run folder>)") from None
    if not rows or tuple(rows[0]) != PER_FRAME_COLUMNS:
        raise DatasetError(f"{path} is not a per-frame score file (header {','.join(PER_FRAME_COLUMNS)})")
    by_video: dict[str, dict[int, list]] = {}
    for video, object_id, frame, j, f in rows[1:]:
        by_video.setdefault(video, {}).setdefault(int(object_id), []).append((frame, float(j), float(f)))
    scores = []
    for video, objects in by_video.items():
        frames = [frame for frame, _, _ in next(iter(objects.values()))]
        j = np.array([[value for _, value, _ in rows_] for rows_ in objects.values()], np.float64)
        f = np.array([[value for _, _, value in rows_] for rows_ in objects.values()], np.float64)
        scores.append(VideoScores(video, list(objects), frames, j, f))
    return scores


# ----------------------------------------------------------------------------------------------------
# Scoring one video


def scored_frames(video: Video) -> list[int]:
    """Indices of the scored frames: the written frames (``Video.frames_to_write``) but the first and last.

    DAVIS, MOSE and folder videos write every frame: frames 1..T-2. The Long-Time Video sets write their
    annotated frames, the frames of the DAVIS-layout copies XMem scores them on (``datasets.long_video``).
    """
    written = sorted(video.frames_to_write)
    if len(written) < 3:
        raise DatasetError(
            f"video {video.name} has {len(written)} frames to score; DAVIS-style scoring drops the first and last "
            "frame and needs at least 3"
        )
    return written[1:-1]


def prediction_path(predictions_dir: Path, video: Video, index: int) -> Path:
    return Path(predictions_dir) / video.name / f"{video.frame_names[index]}.png"


def check_predictions_exist(videos: Sequence[Video], predictions_dir: str | Path) -> None:
    """Fail before any scoring when a video folder or a scored frame's PNG is missing."""
    predictions_dir = Path(predictions_dir)
    if not predictions_dir.is_dir():
        raise PredictionError(f"prediction folder not found: {predictions_dir}\nexpected layout:\n{PREDICTION_LAYOUT}")
    for video in videos:
        folder = predictions_dir / video.name
        if not folder.is_dir():
            raise PredictionError(
                f"video {video.name}: no prediction folder {folder}\nexpected layout:\n{PREDICTION_LAYOUT}"
            )
        present = {entry.name for entry in os.scandir(folder)}
        for index in scored_frames(video):
            name = f"{video.frame_names[index]}.png"
            if name not in present:
                raise PredictionError(
                    f"video {video.name}: frame {video.frame_names[index]} has no prediction {folder / name}; every "
                    f"written frame except the first and last must be predicted\nexpected layout:\n{PREDICTION_LAYOUT}"
                )


def read_prediction(video: Video, index: int, predictions_dir: Path) -> np.ndarray:
    """Prediction of frame ``index`` as (H, W) uint8 ids, checked against the video's size and objects."""
    path = prediction_path(predictions_dir, video, index)
    frame = video.frame_names[index]
    if not path.is_file():
        raise PredictionError(f"video {video.name}: frame {frame} has no prediction {path}")
    try:
        labels = read_label_png(path, allow_rgb=video.binary)
    except DatasetError as error:
        raise PredictionError(f"video {video.name}: frame {frame}: {error}") from None
    if labels.shape != tuple(video.size):
        raise PredictionError(
            f"video {video.name}: frame {frame}: prediction {path} is {labels.shape[1]}x{labels.shape[0]} but the "
            f"annotations are {video.size[1]}x{video.size[0]} (W x H); write predictions at annotation size"
        )
    if video.binary:
        return (labels > 0).view(np.uint8)
    max_id = max(video.object_ids)
    top = int(labels.max(initial=0))
    if top > max_id:
        raise PredictionError(
            f"video {video.name}: frame {frame}: prediction {path} contains object id {top} but the video has "
            f"{len(video.object_ids)} objects (largest id {max_id}); predictions must keep the ground-truth ids "
            "and must not contain other values (e.g. 255)"
        )
    return labels


def evaluate_video(video: Video, predictions_dir: str | Path, bound_th: float = BOUND_TH) -> VideoScores:
    """Per-frame J and F of every object of ``video``, streaming one frame at a time."""
    predictions_dir = Path(predictions_dir)
    if not video.objects:
        raise DatasetError(f"video {video.name} has no objects to score")
    frames = scored_frames(video)
    object_ids = video.object_ids
    radius = boundary_radius(video.size, bound_th)
    j = np.empty((len(object_ids), len(frames)), dtype=np.float64)
    f = np.empty_like(j)
    for column, index in enumerate(frames):
        if not video.has_annotation(index):
            raise DatasetError(
                f"video {video.name}: frame {video.frame_names[index]} has no ground-truth annotation; scoring "
                "needs every frame annotated (a validation split with only first-frame masks cannot be scored "
                "locally)"
            )
        gt = video.annotation(index)
        pred = read_prediction(video, index, predictions_dir)
        j[:, column], f[:, column] = frame_scores(gt, pred, object_ids, radius)
    return VideoScores(video.name, list(object_ids), [video.frame_names[i] for i in frames], j, f)


# ----------------------------------------------------------------------------------------------------
# Aggregation


def object_rows(scores: VideoScores, official_quirks: bool = True) -> dict[str, dict[str, float]]:
    """``"<video>_<id>"`` -> Mean/Recall/Decay of J and F for every object of one video."""
    rows = {}
    for row, object_id in enumerate(scores.object_ids):
        jm, jr, jd = object_statistics(scores.j[row], official_quirks)
        fm, fr, fd = object_statistics(scores.f[row], official_quirks)
        rows[f"{scores.name}_{object_id}"] = {
            "J-Mean": jm, "J-Recall": jr, "J-Decay": jd, "F-Mean": fm, "F-Recall": fr, "F-Decay": fd,
        }
    return rows


def global_scores(
    per_object: dict[str, dict[str, float]], groups: list[list[str]] | None = None
) -> dict[str, float]:
    """Global table from per-object statistics.

    ``groups=None``: every object counts equally (DAVIS 2017: plain mean over the flat list of objects,
    ``np.mean``, so one NaN Decay makes the global Decay NaN as in the official tool). With ``groups``
    (lists of object keys per sequence; DAVIS 2016) each sequence's objects are first averaged, then the
    sequences (mean over sequences of per-sequence statistics).
    """
    if not per_object:
        raise ValueError("no objects were scored")
    scores = {}
    for column in OBJECT_COLUMNS:
        if groups is None:
            values = np.array([stats[column] for stats in per_object.values()], dtype=np.float64)
        else:
            values = np.array(
                [np.mean([per_object[key][column] for key in group]) for group in groups], dtype=np.float64
            )
        scores[column] = float(np.mean(values))
    scores["J&F-Mean"] = (scores["J-Mean"] + scores["F-Mean"]) / 2.0
    return {column: scores[column] for column in GLOBAL_COLUMNS}


# ----------------------------------------------------------------------------------------------------
# Whole evaluation


def evaluate_vos(
    videos: Sequence[Video],
    predictions_dir: str | Path,
    workers: int | None = None,
    bound_th: float = BOUND_TH,
    official_quirks: bool = True,
    dataset: str = "",
    split: str = "",
    per_sequence_mean: bool | None = None,
    progress: bool = False,
) -> VosResult:
    """Score the predictions of ``videos`` in ``predictions_dir`` (``<dir>/<video>/<frame>.png``).

    Args:
        videos: the videos to score, in output order (every frame must have a GT annotation).
        predictions_dir: folder of per-video prediction folders.
        workers: processes scoring videos in parallel (default ``min(8, cpu count)``; 1 = in-process).
        bound_th: boundary tolerance (fraction of the diagonal, or pixels if >= 1).
        official_quirks: keep the official uint8 wrap of the Decay bins (see `object_statistics`).
        dataset, split: recorded in the result and used for the CSV names.
        per_sequence_mean: dataset score as the mean over sequences of per-sequence statistics
            (DAVIS 2016). Default: True when every video is binary, else False (mean over objects).
        progress: show a tqdm bar over videos (stderr).

    Raises:
        PredictionError: a missing prediction folder/frame, a wrong size or an id above the GT objects.
    """
    videos = list(videos)
    if not videos:
        raise DatasetError("no videos to evaluate")
    names = [video.name for video in videos]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise DatasetError(f"duplicate video names in the evaluation list: {', '.join(duplicates)}")
    predictions_dir = Path(predictions_dir)
    check_predictions_exist(videos, predictions_dir)
    results = map_videos(evaluate_video, videos, (predictions_dir, bound_th), workers, progress)
    per_object: dict[str, dict[str, float]] = {}
    groups: list[list[str]] = []
    for scores in results:
        rows = object_rows(scores, official_quirks)
        per_object.update(rows)
        groups.append(list(rows))
    if per_sequence_mean is None:
        per_sequence_mean = all(video.binary for video in videos)
    scores = global_scores(per_object, groups if per_sequence_mean else None)
    log.info("scored %d objects in %d videos (%d frames)", len(per_object), len(results),
             sum(r.j.shape[1] for r in results))
    return VosResult(scores, per_object, results, dataset, split, official_quirks, bound_th)


RESOLUTION_DATASETS = ("davis16", "davis17")  # readers with annotation resolutions (480p, 1080p, ...)


def reader_options(dataset: str, resolution: str = "480p") -> dict:
    """The reader options of ``--resolution``: it selects the DAVIS annotation folder; the MOSE and folder
    layouts have one resolution, so any value other than the default ``480p`` is an error for them."""
    if dataset in RESOLUTION_DATASETS:
        return {"resolution": resolution}
    if resolution != "480p":
        raise DatasetError(f"--resolution {resolution} is not supported for dataset {dataset}: only "
                           f"{', '.join(RESOLUTION_DATASETS)} have several annotation resolutions")
    return {}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sampt-eval-vos",
        description="Score semi-supervised VOS predictions DAVIS-style (J, F, J&F; official DAVIS 2017 rules).",
    )
    parser.add_argument("--dataset", required=True, choices=CLI_DATASETS)
    parser.add_argument("--root", required=True, help="dataset root (the layout of --dataset)")
    parser.add_argument("--split", required=True, help="split name, e.g. val")
    parser.add_argument("--predictions", required=True, help="folder holding <video>/<frame>.png")
    parser.add_argument("--output", help="where to write the CSVs (global, per-sequence, per-frame) and "
                                         "results.json (default: --predictions)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: min(8, cpu count))")
    parser.add_argument("--resolution", default="480p", help="annotation resolution folder (default 480p)")
    parser.add_argument("--bound-th", type=float, default=BOUND_TH, help="boundary tolerance (default 0.008)")
    parser.add_argument(
        "--no-official-quirks", action="store_true",
        help="use correct Decay bin edges for sequences of more than 256 scored frames (the official tool wraps them)",
    )
    parser.add_argument("--do-not-skip-first-and-last-frame", action="store_true",
                        help="sav only: also score each object's first and last annotated frame (the official "
                             "--do_not_skip_first_and_last_frame)")
    parser.add_argument("--rounded", action="store_true", help="vost, lvos, mosev2: print the global table "
                        "rounded as the official tool writes it (vost, lvos: 3 decimals; mosev2: percent, 0.01)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (``sampt-eval-vos``); returns the exit status (0 ok, 2 bad input)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.do_not_skip_first_and_last_frame and args.dataset != "sav":
        print("error: --do-not-skip-first-and-last-frame is for --dataset sav only", file=sys.stderr)
        return 2
    if args.rounded and args.dataset not in ("vost", "lvos", "mosev2"):
        print("error: --rounded is for --dataset vost, lvos and mosev2 only", file=sys.stderr)
        return 2
    if args.dataset in OWN_RULES:
        return importlib.import_module(OWN_RULES[args.dataset][0]).run_cli(args)
    try:
        from datasets.registry import read_videos

        videos = read_videos(args.dataset, args.root, args.split, **reader_options(args.dataset, args.resolution))
        result = evaluate_vos(
            videos,
            args.predictions,
            workers=args.workers,
            bound_th=args.bound_th,
            official_quirks=not args.no_official_quirks,
            dataset=args.dataset,
            split=args.split,
            progress=True,
        )
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output or args.predictions)
    paths = result.write(output)
    record = ResultsRecord(task="vos", dataset=args.dataset, split=args.split, metrics=result.to_dict(),
                           num_videos=len(videos), num_videos_evaluated=len(videos))
    paths["json"] = record.write(output)
    print(f"--------------------------- Global results for {args.split} ---------------------------")
    print(result.global_table())
    print(f"\n{result.num_objects} objects in {result.num_sequences} sequences; written: "
          + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
