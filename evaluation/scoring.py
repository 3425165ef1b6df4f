"""What the per-video VOS scorers (`evaluation.vos`, `evaluation.sav`, `evaluation.lvos`, `evaluation.vost`,
`evaluation.mosev2`) share: the prediction error, the label-map prediction reader, the default worker count, the
process pool that scores videos in parallel, the checks before scoring, the command line's read-and-score step,
the official CSV text, the NaN mean and the results writer."""
from __future__ import annotations

import csv
import io
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Sequence

import numpy as np

from datasets.errors import DatasetError
from evaluation.record import ResultsRecord, nan_to_none


class PredictionError(DatasetError):
    """A prediction folder or file that cannot be scored; the message names the video, frame and file."""


def read_prediction_labels(path: Path, video: str, size: tuple[int, int], wide: bool = False) -> np.ndarray:
    """(H, W) uint8 label map of the prediction PNG ``path`` of ``video`` (``wide``: uint16 when a 16-bit PNG holds
    ids above 255); `PredictionError` naming the file when it cannot be read as an indexed PNG (e.g. RGB) or is
    not ``size`` = (H, W)."""
    from datasets.png import read_label_png

    try:
        labels = read_label_png(path, wide=wide)
    except DatasetError as error:
        raise PredictionError(f"video {video}: {error}") from None
    if labels.shape != tuple(size):
        raise PredictionError(f"video {video}: prediction {path} is {labels.shape[1]}x{labels.shape[0]} but the "
                              f"ground truth is {size[1]}x{size[0]} (W x H); write masks at that size")
    return labels


def require_predictions(video: str, folder: Path, paths: Sequence[Path], rule: str, layout: str) -> None:
    """`PredictionError` naming the first missing one when ``video``'s prediction ``folder`` or one of its
    ``paths`` is missing; ``rule`` says what must be predicted, ``layout`` shows the expected tree."""
    if not folder.is_dir():
        raise PredictionError(f"video {video}: no prediction folder {folder}\nexpected layout:\n{layout}")
    for path in paths:
        if not path.is_file():
            raise PredictionError(f"video {video}: no prediction {path}; {rule}\nexpected layout:\n{layout}")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _call_in_worker(function: Callable, video, extra: tuple):
    """``function(video, *extra)`` in a pool worker: dataset errors come back as plain picklable exceptions
    (a subclass with a custom constructor, e.g. `DatasetLayoutError`, could not be rebuilt in the parent)."""
    try:
        return function(video, *extra)
    except PredictionError:
        raise
    except DatasetError as error:
        raise DatasetError(str(error)) from None


def map_videos(function: Callable, videos: Sequence, extra: tuple, workers: int | None,
               progress: bool = False) -> list:
    """``[function(video, *extra) for video in videos]``, in order, with ``workers`` spawned processes
    (one OpenCV thread each; 1 = in this process; None = `default_workers`); the first error stops the rest
    and is raised. ``function`` must be a module-level function (it is pickled)."""
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    workers = min(workers, len(videos))
    if workers == 1:
        return list(_progress((function(video, *extra) for video in videos), len(videos), progress))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
        count = len(videos)
        scored = pool.map(_call_in_worker, [function] * count, videos, [extra] * count)
        try:
            return list(_progress(scored, count, progress))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # do not score the rest after an error
            raise


def prediction_folder(videos: Sequence, predictions_dir, benchmark: str, layout: str) -> Path:
    """``predictions_dir`` as a Path, once there are videos to score (else `DatasetError` "no <benchmark>
    videos to evaluate") and the folder exists (else `PredictionError` showing the expected ``layout``)."""
    if not videos:
        raise DatasetError(f"no {benchmark} videos to evaluate")
    predictions_dir = Path(predictions_dir)
    if not predictions_dir.is_dir():
        raise PredictionError(f"prediction folder not found: {predictions_dir}\nexpected layout:\n{layout}")
    return predictions_dir


def read_and_score(reader: str, args, evaluate: Callable, **options):
    """For a scorer's command line: the videos of ``read_videos(reader, args.root, args.split)``, their
    ``result = evaluate(videos, args.predictions, workers=args.workers, progress=True, **options)`` and the
    paths of the files ``result.write`` wrote into ``args.output`` (default ``args.predictions``):
    ``(videos, result, paths)``, or None after printing the error when the dataset or the predictions cannot be
    read."""
    from datasets.registry import read_videos

    try:
        videos = read_videos(reader, args.root, args.split)
        result = evaluate(videos, args.predictions, workers=args.workers, progress=True, **options)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    return videos, result, result.write(Path(args.output or args.predictions), args.split, len(videos))


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="scoring videos", unit="video")


def format_3f(value: float | None) -> str:
    """``%.3f`` as pandas ``to_csv(float_format="%.3f")`` writes it; NaN or None -> empty field."""
    return "" if value is None or math.isnan(value) else "%.3f" % value


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    """CSV text of ``rows`` (``\\n`` line ends, as the official tools' pandas writes them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def nan_mean(values: Sequence[float]) -> float:
    """``np.mean`` as the official tools take it: NaN (without a warning) for no values."""
    return float(np.mean(values)) if len(values) else math.nan


def write_files(output_dir: Path, files: Sequence[tuple[str, str]]) -> list[Path]:
    """Write ``files`` ((name, text), ...) atomically into ``output_dir``; returns their paths."""
    from infra.files import atomic_write_text

    paths = []
    for name, text in files:
        atomic_write_text(Path(output_dir) / name, text)
        paths.append(Path(output_dir) / name)
    return paths


@dataclass
class OwnRulesResult:
    """The result of a scorer that follows its benchmark's own official rules (`evaluation.sav`,
    `evaluation.lvos`, `evaluation.vost`, `evaluation.mosev2`).

    Attributes:
        metrics: the official tool's global numbers under its own names, unrounded fractions (NaN where the
            tool gives NaN).
        per_object: ``"<video>_<object>"`` -> that object's numbers.
    """

    dataset: ClassVar[str] = ""
    metrics: dict[str, float]
    per_object: dict[str, dict]

    def extra(self) -> dict:
        """What the `ResultsRecord` keeps besides the metrics (``extra``)."""
        return {}

    def official_files(self, split: str) -> list[tuple[str, str]]:
        """(file name, text) of the files the official tool writes, as it writes them (none by default)."""
        return []

    def record(self, split: str, num_videos: int) -> ResultsRecord:
        """The `evaluation.record.ResultsRecord` (``metrics.global``, ``metrics.per_object``; NaN -> null)."""
        return ResultsRecord(task="vos", dataset=self.dataset, split=split,
                             metrics=nan_to_none({"global": dict(self.metrics), "per_object": self.per_object}),
                             num_videos=num_videos, num_videos_evaluated=num_videos, extra=self.extra())

    def write(self, output_dir: Path, split: str, num_videos: int) -> list[Path]:
        """Write ``results.json`` and the `official_files` into ``output_dir``; returns their paths."""
        return [self.record(split, num_videos).write(output_dir), *write_files(output_dir, self.official_files(split))]
