"""Reading a finished run folder back: its results per seed, per-video timing and per-frame scores.

A run folder is what `experiments.run` writes: ``results.json`` (one seed; an
`evaluation.record.ResultsRecord`), or ``seed_<s>/results.json`` plus ``summary.json`` (several seeds). A
sweep folder holds one run folder per job and ``sweep_results.csv``. Per-frame J and F are read from the
``per-frame_results-<split>.csv`` the run's scoring stored: nothing is scored again and no model is run.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from datasets.errors import DatasetError
from evaluation.record import ResultsRecord
from experiments.run.outputs import TRACKS_FILE
from experiments.run.summary import summarize_seeds

log = logging.getLogger("sampt")

SEED_PREFIX = "seed_"


class RunFolderError(Exception):
    """A folder that is not a (finished, scored) run folder; the message names the path and the fix."""


def split_object_key(key: str) -> tuple[str, int]:
    """``"<video>_<id>"`` (the evaluator's per-object key) -> (video, id)."""
    video, _, object_id = key.rpartition("_")
    return video, int(object_id)


@dataclass
class SeedRun:
    """One seed's part of a run: its folder and its results record (``results.json``)."""

    seed: int
    path: Path
    record: ResultsRecord

    @property
    def predictions(self) -> Path:
        return self.path / "predictions"

    @property
    def per_object(self) -> dict[str, dict[str, float]]:
        """``"<video>_<id>"`` -> J/F Mean, Recall, Decay (empty for unscored or VIS runs)."""
        return self.record.per_object

    def video_info(self, video: str) -> dict:
        """The video's ``scores.json`` (timing, fps, frames); ``{}`` when absent."""
        path = self.predictions / video / "scores.json"
        if path.is_file():
            return json.loads(path.read_text())
        return dict(self.record.videos.get(video) or {})

    def frames_written(self, video: str) -> list[str]:
        """Names (without .png) of the frames predicted for ``video``."""
        return sorted(path.stem for path in (self.predictions / video).glob("*.png"))

    def tracks(self, video: str) -> dict | None:
        """The video's saved point tracks (``tracks``, ``visible``, ``object_ids``, ``frame_size``) or None."""
        path = self.predictions / video / TRACKS_FILE
        if not path.is_file():
            return None
        with np.load(path) as data:
            return {key: data[key] for key in data.files}


@dataclass
class RunFolder:
    """A run: one `SeedRun` per seed (one for a single-seed run)."""

    path: Path
    seeds: list[SeedRun]
    summary: dict | None = None

    @property
    def first(self) -> SeedRun:
        return self.seeds[0]

    @property
    def seed_numbers(self) -> list[int]:
        return [run.seed for run in self.seeds]

    @property
    def dataset(self) -> str:
        return str(self.first.record.dataset)

    @property
    def split(self) -> str:
        return str(self.first.record.split)

    @property
    def task(self) -> str:
        return str(self.first.record.task)

    @property
    def config(self) -> dict:
        return dict(self.first.record.config or {})

    @property
    def scored(self) -> bool:
        return all(run.record.metrics for run in self.seeds)

    def global_metrics(self) -> dict[str, dict]:
        """Metric -> {"mean", "std" (sample, 0 for one seed), "values"} over seeds."""
        return summarize_seeds({run.seed: run.record for run in self.seeds})["metrics"]

    def videos(self) -> list[str]:
        """The videos of the run, in evaluation order (from the per-object scores, else the predictions)."""
        names: list[str] = []
        for key in self.first.per_object:
            video = split_object_key(key)[0]
            if video not in names:
                names.append(video)
        if not names and self.first.predictions.is_dir():
            names = sorted(path.name for path in self.first.predictions.iterdir() if path.is_dir())
        return names

    def per_object_mean(self) -> dict[str, dict[str, float]]:
        """Per-object statistics, mean over seeds (objects of the first seed, in its order)."""
        table = {}
        for key in self.first.per_object:
            rows = [run.per_object.get(key) or {} for run in self.seeds]
            table[key] = {column: _mean([row.get(column) for row in rows]) for column in rows[0]}
        return table

    def per_video_scores(self, metric: str = "J&F-Mean") -> np.ndarray:
        """(seeds, videos) per-video score: the mean over the video's objects (order of `videos`).

        ``metric`` is a per-object column (``J-Mean``, ``F-Mean``, ...) or ``J&F-Mean``.
        """
        videos = self.videos()
        matrix = np.full((len(self.seeds), len(videos)), np.nan)
        for row, run in enumerate(self.seeds):
            by_video: dict[str, list[float]] = {}
            for key, stats in run.per_object.items():
                by_video.setdefault(split_object_key(key)[0], []).append(object_metric(stats, metric))
            for column, video in enumerate(videos):
                if video in by_video:
                    matrix[row, column] = float(np.mean(by_video[video]))
        return matrix


def object_metric(stats: dict[str, float], metric: str) -> float:
    """One per-object number; ``J&F-Mean`` is the mean of J-Mean and F-Mean as in the global table."""
    if metric == "J&F-Mean":
        return (_number(stats.get("J-Mean")) + _number(stats.get("F-Mean"))) / 2.0
    return _number(stats.get(metric))


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _mean(values: list) -> float:
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunFolderError(f"cannot read {path}: {error}; re-run the evaluation into that folder") from None


def is_sweep_folder(path: Path) -> bool:
    """A multirun sweep folder: per-job run folders and no results of its own."""
    return (path / "sweep_results.csv").is_file() and not (path / "results.json").is_file()


def sweep_runs(path: Path) -> list[Path]:
    """The run folders of a sweep, in job order."""
    runs = [child for child in path.iterdir()
            if child.is_dir() and ((child / "results.json").is_file() or (child / "summary.json").is_file())]
    return sorted(runs, key=lambda child: (not child.name.isdigit(), int(child.name) if child.name.isdigit()
                                           else 0, child.name))


def load_run(path: str | Path) -> RunFolder:
    """Read a run folder; `RunFolderError` naming the path and the fix when it is not one."""
    path = Path(path)
    if not path.exists():
        raise RunFolderError(f"run folder not found: {path}; pass the output_dir of a finished run "
                             "(e.g. outputs/<date>/<time>)")
    if not path.is_dir():
        raise RunFolderError(f"{path} is a file, not a run folder; pass the folder that holds results.json")
    if (path / "results.json").is_file():
        record = ResultsRecord.read(path / "results.json")
        return RunFolder(path, [SeedRun(int(record.seed or 0), path, record)])
    seed_dirs = sorted((child for child in path.glob(f"{SEED_PREFIX}*") if (child / "results.json").is_file()),
                       key=lambda child: int(child.name[len(SEED_PREFIX):]))
    if seed_dirs:
        seeds = [SeedRun(int(d.name[len(SEED_PREFIX):]), d, ResultsRecord.read(d / "results.json")) for d in seed_dirs]
        summary = _read_json(path / "summary.json") if (path / "summary.json").is_file() else None
        return RunFolder(path, seeds, summary)
    if list(path.glob("results-shard*of*.json")):
        raise RunFolderError(f"{path} holds shard results only; score the union first with "
                             f"`python -m experiments.run mode=merge output_dir={path}` (same config)")
    if is_sweep_folder(path):
        raise RunFolderError(f"{path} is a sweep folder, not one run; pass one of its runs "
                             f"({', '.join(str(p) for p in sweep_runs(path)[:3])} ...)")
    raise RunFolderError(f"{path} is not a run folder: no results.json and no seed_<s>/results.json in it; "
                         "pass the output_dir of a finished `make eval` run")


@dataclass
class FrameScores:
    """One seed's stored per-frame J and F (`evaluation.vos.read_per_frame_csv`) and its videos.

    ``scores`` is None when the run has no stored per-frame scores (``reason`` says why); ``videos``
    (name -> `datasets.video.Video`: frames and ground truth) is empty when the dataset cannot be read
    (``videos_reason`` says why): the scores do not need it, only the images drawn next to the ground truth.
    """

    scores: list | None = None  # evaluation.vos.VideoScores, in evaluation order
    reason: str = ""
    videos: dict = field(default_factory=dict)
    videos_reason: str = ""

    def video_scores(self, name: str):
        for scores in self.scores or []:
            if scores.name == name:
                return scores
        return None


def load_videos_of(run: SeedRun) -> tuple[dict, str]:
    """The run's videos (name -> `Video`) from its recorded config, or ({}, why not)."""
    from omegaconf import OmegaConf

    from experiments.run.videos import load_videos

    config = OmegaConf.create(run.record.config or {})
    if "dataset" not in config:
        return {}, f"{run.path / 'results.json'} records no dataset config"
    try:
        videos = load_videos(OmegaConf.merge(config, {"shard": 0, "num_shards": 1}))
    except (DatasetError, ValueError) as error:
        return {}, f"the dataset could not be read ({error})"
    return {video.name: video for video in videos}, ""


def stored_frame_scores(run: SeedRun) -> tuple[list | None, str]:
    """The per-frame scores the run's scoring stored, or (None, why there are none)."""
    from evaluation.vos import OWN_RULES, output_paths, read_per_frame_csv

    if run.record.task != "vos":
        return None, "per-frame J&F applies to VOS runs only"
    if not run.record.metrics:
        return None, f"split {run.record.split} was not scored (no ground truth for every frame, evaluate=false, " \
                     "a failed video or an unmerged shard): no per-frame scores"
    reader = (run.record.config or {}).get("dataset", {}).get("reader")
    if reader in OWN_RULES:
        return None, f"the {reader} scorer (equal to its official evaluator) keeps per-object scores only"
    path = output_paths(run.path, run.record.split)["per_frame"]
    if not path.is_file():
        return None, (f"{path} not found (a run written before per-frame scores were kept); score it again with "
                      f"`python -m evaluation.vos ... --output {run.path}`")
    try:
        return read_per_frame_csv(path), ""
    except DatasetError as error:
        return None, str(error)


def frame_scores(run: SeedRun) -> FrameScores:
    """``run``'s stored per-frame J and F and its videos (each with the reason when unavailable)."""
    scores, reason = stored_frame_scores(run)
    videos, videos_reason = load_videos_of(run)
    return FrameScores(scores, reason, videos, videos_reason)


def run_cli(work: Callable[[], str]) -> int:
    """The body of the report and compare CLIs: ``work()`` returns the line to print (exit 0); a missing,
    bad or incomparable run folder prints its message (exit 2), never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        message = work()
    except (RunFolderError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(message)
    return 0
