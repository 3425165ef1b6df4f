"""Compare runs on the same benchmark: is a difference more than noise?

    python -m experiments.reports.compare A B [C ...] [--out DIR]      # or: make compare RUNS="A B"

Prints a table and writes ``<out>/compare.html`` (thumbnails beside it): every global metric per run and
its difference to the first run; per-video paired differences of J&F, J and F with a paired bootstrap 95%
interval over videos (and over seeds when both runs have several, `experiments.reports.bootstrap`), saying
plainly whether the interval excludes zero; the videos that changed most, with the frame where their J
differs most from both runs. Runs on another dataset or split, on other videos or with other frames
written cannot be compared: a clear error says which.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

from datasets.png import read_label_png
from experiments.reports import html_page as page
from experiments.reports import figures
from experiments.reports.bootstrap import CONFIDENCE, RESAMPLES, SEED, Interval, paired_bootstrap
from experiments.reports.run_folder import FrameScores, RunFolder, RunFolderError, frame_scores, load_run, run_cli
from experiments.visualize import overlay

log = logging.getLogger("sampt")

PAIRED_METRICS = ("J&F-Mean", "J-Mean", "F-Mean")
CHANGED_VIDEOS = 5
LISTED = 10  # names shown in an error message


class IncomparableRuns(RunFolderError):
    """Two runs that cannot be compared; the message says what differs."""


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def check_comparable(base: RunFolder, other: RunFolder) -> None:
    """Raise `IncomparableRuns` naming what differs (dataset, split, task, videos, frames written)."""
    where = f"{base.path} and {other.path}"
    for what, left, right in (("dataset", base.dataset, other.dataset), ("split", base.split, other.split),
                              ("task", base.task, other.task)):
        if left != right:
            raise IncomparableRuns(f"cannot compare {where}: different {what} ({left} vs {right}); compare runs "
                                   f"of the same {what}")
    for run in (base, other):
        if not run.scored:
            raise IncomparableRuns(f"cannot compare {run.path}: it has no scores (unscored split, failed videos "
                                   "or unmerged shards); fix the run first (see its results.json)")
    left, right = base.videos(), other.videos()
    if set(left) != set(right):
        only_left = sorted(set(left) - set(right))
        only_right = sorted(set(right) - set(left))
        raise IncomparableRuns(
            f"cannot compare {where}: different video sets; only in {base.path}: {_names(only_left) or 'none'}; "
            f"only in {other.path}: {_names(only_right) or 'none'}; run both on the same videos (videos=[...])")
    differing = [video for video in left if base.first.frames_written(video) != other.first.frames_written(video)]
    if differing:
        raise IncomparableRuns(f"cannot compare {where}: different frames written for {_names(differing)}; "
                               "both runs must predict the same frames of each video")


def per_video(run: RunFolder, videos: Sequence[str], metric: str) -> np.ndarray:
    """(seeds, videos) per-video scores of ``run`` in the order of ``videos``."""
    order = run.videos()
    matrix = run.per_video_scores(metric)
    return matrix[:, [order.index(video) for video in videos]]


@dataclass
class Comparison:
    """One run against the first: metric differences, per-video differences, bootstrap intervals."""

    base: RunFolder
    other: RunFolder
    videos: list[str]
    base_scores: dict[str, np.ndarray]  # metric -> (seeds, videos)
    other_scores: dict[str, np.ndarray]
    intervals: dict[str, Interval]

    def video_differences(self, metric: str = "J&F-Mean") -> np.ndarray:
        """Per-video difference other - base of the seed-mean scores."""
        return self.other_scores[metric].mean(axis=0) - self.base_scores[metric].mean(axis=0)


def compare_runs(base: RunFolder, other: RunFolder, resamples: int = RESAMPLES, seed: int = SEED) -> Comparison:
    """Check the runs are comparable and compute the paired intervals (VOS runs; none for VIS)."""
    check_comparable(base, other)
    videos = base.videos()
    base_scores, other_scores, intervals = {}, {}, {}
    if base.task == "vos":
        for metric in PAIRED_METRICS:
            base_scores[metric] = per_video(base, videos, metric)
            other_scores[metric] = per_video(other, videos, metric)
            intervals[metric] = paired_bootstrap(base_scores[metric], other_scores[metric], resamples, CONFIDENCE,
                                                 seed)
    return Comparison(base, other, videos, base_scores, other_scores, intervals)


def metric_rows(runs: Sequence[RunFolder]) -> list[list[str]]:
    """metric, then per run ``mean [± std]`` and, after the first, the difference to the first."""
    base_metrics = runs[0].global_metrics()
    rows = []
    for name, stats in base_metrics.items():
        row = [name, _mean_std(stats, len(runs[0].seeds))]
        for run in runs[1:]:
            other = run.global_metrics().get(name)
            row.append(_mean_std(other, len(run.seeds)) if other else "n/a")
            row.append(_signed(other["mean"] - stats["mean"]) if other and other["mean"] is not None
                       and stats["mean"] is not None else "n/a")
        rows.append(row)
    return rows


def _mean_std(stats: dict | None, seeds: int) -> str:
    if not stats:
        return "n/a"
    return page.fmt(stats["mean"]) + (f" ± {page.fmt(stats['std'])}" if seeds > 1 else "")


def _signed(value: float, digits: int = 3) -> str:
    """``+0.031`` / ``-0.008``; a difference that rounds to zero is ``+0.000`` (never ``-0.000``)."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def metric_headers(runs: Sequence[RunFolder]) -> list[str]:
    headers = ["metric", f"A: {runs[0].path}"]
    for letter, run in zip("BCDEFGHIJKLMNOPQRSTUVWXYZ", runs[1:]):
        headers += [f"{letter}: {run.path}", f"{letter} - A"]
    return headers


def interval_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    rows = []
    for letter, comparison in zip("BCDEFGHIJKLMNOPQRSTUVWXYZ", comparisons):
        for metric, interval in comparison.intervals.items():
            rows.append([f"{letter} - A", metric, _signed(interval.difference),
                         f"[{_signed(interval.low)}, {_signed(interval.high)}]", interval.verdict()])
    return rows


INTERVAL_HEADERS = ("runs", "per-video metric", "mean difference", "95% interval", "verdict")


def video_rows(comparison: Comparison) -> list[list[str]]:
    """video, A, B, B - A (J&F, mean over seeds), largest change first."""
    differences = comparison.video_differences()
    base = comparison.base_scores["J&F-Mean"].mean(axis=0)
    other = comparison.other_scores["J&F-Mean"].mean(axis=0)
    order = np.argsort(-np.abs(differences), kind="stable")
    return [[comparison.videos[i], page.fmt(base[i]), page.fmt(other[i]), _signed(differences[i])] for i in order]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned plain-text table for the terminal."""
    widths = [max(len(str(h)), *(len(str(row[i])) for row in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def terminal_report(runs: Sequence[RunFolder], comparisons: Sequence[Comparison]) -> str:
    parts = [text_table(metric_headers(runs), metric_rows(runs))]
    if any(comparison.intervals for comparison in comparisons):
        first = comparisons[0].intervals.get("J&F-Mean")
        seeds = " and seeds" if first is not None and first.seeds_resampled else ""
        parts.append(f"\npaired bootstrap over {len(comparisons[0].videos)} videos{seeds} "
                     f"({first.resamples if first else RESAMPLES} resamples, seeded):")
        parts.append(text_table(INTERVAL_HEADERS, interval_rows(comparisons)))
        for letter, comparison in zip("BCDEFGHIJKLMNOPQRSTUVWXYZ", comparisons):
            parts.append(f"\nper-video J&F, {letter} - A (largest change first):")
            parts.append(text_table(("video", "A", letter, f"{letter} - A"), video_rows(comparison)))
    else:
        parts.append("\nno per-video scores (VIS runs): no paired interval")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- html
def thumbnail(run: RunFolder, scores: FrameScores, video: str, frame_name: str, caption: str):
    """The frame with ``run``'s prediction blended in, captioned."""
    source = scores.videos[video]
    index = source.frame_names.index(frame_name)
    labels = read_label_png(run.first.predictions / video / f"{frame_name}.png")
    return figures.captioned(overlay(source.frame(index), labels), caption)


def changed_frame(base: FrameScores, other: FrameScores, video: str, frames: list[str]) -> str:
    """The scored frame where the runs' J (summed over objects) differs most; the middle frame without GT."""
    left, right = base.video_scores(video), other.video_scores(video)
    if left is None or right is None:
        return frames[len(frames) // 2]
    return left.frame_names[int(np.argmax(np.abs(right.j.sum(axis=0) - left.j.sum(axis=0))))]


def changed_section(comparison: Comparison, letter: str, out: Path) -> str:
    base_scores = frame_scores(comparison.base.first)
    other_scores = frame_scores(comparison.other.first)
    if not base_scores.videos or not other_scores.videos:
        return page.paragraph(f"no thumbnails: {base_scores.videos_reason or other_scores.videos_reason}", "note")
    parts = []
    differences = comparison.video_differences()
    for i in np.argsort(-np.abs(differences), kind="stable")[:CHANGED_VIDEOS]:
        video = comparison.videos[i]
        frame = changed_frame(base_scores, other_scores, video, comparison.base.first.frames_written(video))
        panels = [thumbnail(comparison.base, base_scores, video, frame, "A"),
                  thumbnail(comparison.other, other_scores, video, frame, letter)]
        source = base_scores.videos[video]
        index = source.frame_names.index(frame)
        if source.has_annotation(index):
            panels.insert(0, figures.captioned(overlay(source.frame(index), source.annotation(index)),
                                               "ground truth"))
        name = f"changed_{letter}_{video}.png".replace("/", "_")
        figures.write_png(out / name, figures.side_by_side(panels))
        parts.append(page.figure(name, f"{video}: J&F {letter} - A = {_signed(differences[i])}, frame {frame}"))
    return "\n".join(parts)


def write_compare_page(runs: Sequence[RunFolder], comparisons: Sequence[Comparison], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("changed_*.png"):
        old.unlink()
    sections = [page.paragraph(f"dataset {runs[0].dataset}, split {runs[0].split}; A is the first run"),
                "<h2>Metrics</h2>", page.table(metric_headers(runs), metric_rows(runs), "metrics")]
    letters = "BCDEFGHIJKLMNOPQRSTUVWXYZ"
    if any(comparison.intervals for comparison in comparisons):
        first = comparisons[0].intervals["J&F-Mean"]
        seeds = " and over seeds (both runs have several)" if first.seeds_resampled else ""
        sections += ["<h2>Is the difference real?</h2>",
                     page.paragraph(f"Paired bootstrap over {first.num_videos} videos{seeds}: {first.resamples} "
                                    "resamples of the mean per-video difference (seeded), 95% percentile "
                                    "interval. A per-video score is the mean over the video's objects."),
                     page.table(INTERVAL_HEADERS, interval_rows(comparisons), "intervals", text_columns=2)]
        for letter, comparison in zip(letters, comparisons):
            verdict = comparison.intervals["J&F-Mean"]
            css = "good" if verdict.excludes_zero else "note"
            sections += [f"<h2>{letter} - A per video (J&F, largest change first)</h2>",
                         page.paragraph(f"J&F: {verdict.verdict()}", css),
                         page.table(("video", "A", letter, f"{letter} - A"), video_rows(comparison),
                                    f"videos-{letter}"),
                         f"<h3>Videos that changed most ({letter} vs A)</h3>", changed_section(comparison, letter,
                                                                                                out)]
    else:
        sections.append(page.paragraph("No per-video scores (VIS runs): no paired interval.", "note"))
    return page.write_page(out / "compare.html", "SAM-PT run comparison", sections)


def default_output_dir() -> Path:
    return Path("outputs") / f"compare-{datetime.now():%Y%m%d-%H%M%S}"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI (``sampt-compare``): 0 compared, 2 missing / not comparable runs."""
    parser = argparse.ArgumentParser(prog="sampt-compare", description="Compare runs: metric differences and "
                                     "paired bootstrap intervals over videos; writes compare.html.")
    parser.add_argument("runs", nargs="+", help="run folders; the first is the reference A")
    parser.add_argument("--out", help="folder for compare.html and thumbnails (default outputs/compare-<time>)")
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help=f"bootstrap resamples ({RESAMPLES})")
    parser.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")
    args = parser.parse_args(argv)

    def work() -> str:
        if len(args.runs) < 2:
            raise RunFolderError('give at least two run folders: make compare RUNS="A B"')
        runs = [load_run(path) for path in args.runs]
        comparisons = [compare_runs(runs[0], run, args.resamples, args.seed) for run in runs[1:]]
        print(terminal_report(runs, comparisons))
        path = write_compare_page(runs, comparisons, Path(args.out) if args.out else default_output_dir())
        return f"\ncomparison page: {path}"

    return run_cli(work)


if __name__ == "__main__":
    sys.exit(main())
