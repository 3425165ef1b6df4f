"""The HTML report of one run: ``<run>/report/index.html`` with its images beside it.

    python -m experiments.reports.report RUN        # or: make report RUN=outputs/<date>/<time>

One self-contained page (inline CSS, no scripts, PNG files in ``<run>/report/``): provenance, the global
metrics (mean ± sample std over seeds where there are several), the per-object table worst first, plots
of J&F per object, of J over normalised time (the decay curve) and of the per-frame IoU distribution, the
five worst objects at the frame where each fails most (ground truth and prediction side by side, with
the tracked points the run saved), and for VIS runs the AP/AR table and the precision-recall curve. A
sweep folder gets a page with the sweep table, the knob plot and links to each run's report.

Every number and score plot comes from what the run stored (``results.json`` and
``per-frame_results-<split>.csv``): nothing is scored again and no model is run, so the plots are the same
when the ground truth is gone; only the worst-frame images need the dataset (the page says when it is
unavailable). A split without ground truth gets a page that says so.
"""
from __future__ import annotations

import argparse
import logging
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from datasets.errors import DatasetError
from datasets.png import read_label_png
from experiments.reports import html_page as page
from experiments.reports import figures
from experiments.reports.run_folder import (FrameScores, RunFolder, SeedRun, frame_scores, is_sweep_folder, load_run,
                                    run_cli, split_object_key, sweep_runs)

log = logging.getLogger("sampt")

REPORT_DIR = "report"
WORST_OBJECTS = 5
PER_OBJECT_COLUMNS = ("video", "object", "J", "F", "J&F", "J-Decay", "F-Decay", "frames", "fps")
CONSISTENCY_TOLERANCE = 1e-9


@dataclass
class ObjectFrames:
    """One object's per-frame J over the scored frames of one seed."""

    seed: SeedRun
    video: str
    object_id: int
    frame_names: list[str]
    j: np.ndarray


def collect_object_frames(run: RunFolder, scores: dict[int, FrameScores]) -> dict[str, list[ObjectFrames]]:
    """``"<video>_<id>"`` -> its per-frame J in every seed that has per-frame scores."""
    table: dict[str, list[ObjectFrames]] = {}
    for seed in run.seeds:
        for video in scores[seed.seed].scores or []:
            for row, object_id in enumerate(video.object_ids):
                table.setdefault(f"{video.name}_{object_id}", []).append(
                    ObjectFrames(seed, video.name, object_id, list(video.frame_names), video.j[row]))
    return table


def consistency_warnings(run: RunFolder, objects: dict[str, list[ObjectFrames]]) -> list[str]:
    """Objects whose stored per-frame J does not average to results.json's J-Mean (files of two scorings)."""
    warnings = []
    for key, entries in objects.items():
        for entry in entries:
            recorded = entry.seed.per_object.get(key, {}).get("J-Mean")
            mean = float(np.mean(entry.j))
            if recorded is None or abs(recorded - mean) > CONSISTENCY_TOLERANCE:
                warnings.append(f"seed {entry.seed.seed}, {key}: J-Mean {mean:.6f} from the per-frame scores but "
                                f"{recorded} in results.json; the files come from different scorings (score again)")
    return warnings


# ---------------------------------------------------------------------------------------------- sections
def provenance_section(run: RunFolder) -> str:
    first = run.first.record
    seconds = [seed.record.run_seconds for seed in run.seeds]
    if all(value is not None for value in seconds):
        run_time = f"{sum(seconds):.1f} s"
    else:
        video_seconds = [info.get("seconds") or 0.0 for seed in run.seeds
                         for info in seed.record.videos.values()]
        run_time = f"{sum(video_seconds):.1f} s of prediction (videos run in this invocation)"
    packages = ", ".join(f"{name} {version}" for name, version in (first.packages or {}).items())
    evaluated = sum(seed.record.num_videos_evaluated for seed in run.seeds)
    items = [
        ("run folder", str(run.path.resolve())),
        ("dataset", run.dataset), ("split", run.split), ("task", run.task),
        ("seed(s)", ", ".join(str(s) for s in run.seed_numbers)),
        ("commit", str(first.git_commit or "unknown")),
        ("date", str(first.date or "not recorded")),
        ("run time", run_time),
        ("videos", f"{first.num_videos} per seed, {evaluated} evaluated in all, "
                   f"{sum(seed.record.num_videos_failed for seed in run.seeds)} failed"),
        ("packages", packages),
    ]
    import yaml

    config = yaml.safe_dump(run.config, sort_keys=False, default_flow_style=False)
    return "<h2>Provenance</h2>\n" + page.definition_list(items) + "\n" + page.details("config", config)


def global_section(run: RunFolder) -> str:
    metrics = run.global_metrics()
    title = "AP / AR (class-agnostic VIS)" if run.task == "vis" else "Global metrics"
    if not metrics:
        return f"<h2>{title}</h2>\n" + page.paragraph("The run was not scored (no ground truth for this split, "
                                                      "evaluate=false, a failed video or an unmerged shard).",
                                                      "warn")
    if len(run.seeds) == 1:
        rows = [(name, page.fmt(stats["mean"])) for name, stats in metrics.items()]
        return f"<h2>{title}</h2>\n" + page.table(("metric", "value"), rows, "global-metrics")
    headers = ("metric", "mean ± std", *[f"seed {seed}" for seed in run.seed_numbers])
    rows = [(name, f"{page.fmt(stats['mean'])} ± {page.fmt(stats['std'])}",
             *[page.fmt(value) for value in stats["values"]]) for name, stats in metrics.items()]
    return (f"<h2>{title}</h2>\n" + page.table(headers, rows, "global-metrics") + "\n"
            + page.paragraph(f"mean and sample standard deviation over {len(run.seeds)} seeds", "note"))


def failures_section(run: RunFolder) -> str:
    rows = []
    for seed in run.seeds:
        for video, trace in seed.record.videos_failed.items():
            rows.append((seed.seed, video, (trace.strip().splitlines() or [""])[-1]))
    if not rows:
        return ""
    return ("<h2>Failed videos</h2>\n" + page.table(("seed", "video", "error"), rows, "failed", text_columns=3)
            + page.paragraph("full tracebacks are in results.json (videos_failed)", "note"))


def object_stat(stats: dict, *names: str) -> float:
    """The first of ``names`` in one object's statistics (the benchmarks name them differently: DAVIS
    ``J-Mean``, SA-V and LVOS ``J``), NaN when it has none (VOST has no F, SA-V no decay)."""
    value = next((stats[name] for name in names if name in stats), None)
    return math.nan if value is None else float(value)


def per_object_rows(run: RunFolder) -> list[tuple]:
    """The per-object table (mean over seeds), worst J&F first (worst J where the benchmark has no F)."""
    rows = []
    for key, stats in run.per_object_mean().items():
        video, object_id = split_object_key(key)
        infos = [seed.video_info(video) for seed in run.seeds]
        fps = [info["fps"] for info in infos if info.get("fps")]
        frames = next((info["num_frames"] for info in infos if info.get("num_frames")), None)
        j, f = object_stat(stats, "J-Mean", "J"), object_stat(stats, "F-Mean", "F")
        jf = object_stat(stats, "J&F") if "J&F" in stats else (j + f) / 2.0 if "F-Mean" in stats else j
        rows.append((video, object_id, j, f, jf, object_stat(stats, "J-Decay"), object_stat(stats, "F-Decay"),
                     frames, float(np.mean(fps)) if fps else None))
    rows.sort(key=lambda row: (np.nan_to_num(row[4], nan=-1.0), row[0], row[1]))
    return rows


def per_object_section(rows: list[tuple], several_seeds: bool) -> str:
    formatted = [(row[0], row[1], *[page.fmt(value) for value in row[2:7]],
                  "n/a" if row[7] is None else row[7], page.fmt(row[8], 2)) for row in rows]
    note = "mean over seeds; " if several_seeds else ""
    return ("<h2>Per object (worst first)</h2>\n" + page.table(PER_OBJECT_COLUMNS, formatted, "per-object", 2)
            + page.paragraph(f"{note}J, F: mean over the scored frames; decay: the official J/F Decay; fps: "
                             "frames per second of the whole video's prediction", "note"))


def videos_section(run: RunFolder) -> str:
    """Timing per video, for runs without per-object scores."""
    rows = []
    for video in run.videos():
        info = run.first.video_info(video)
        rows.append((video, info.get("num_frames", "n/a"), page.fmt(info.get("seconds"), 1),
                     page.fmt(info.get("fps"), 2)))
    return "<h2>Videos</h2>\n" + page.table(("video", "frames", "seconds", "fps"), rows, "videos")


def plots_section(out: Path, rows: list[tuple], objects: dict[str, list[ObjectFrames]]) -> str:
    parts = ["<h2>Plots</h2>"]
    if rows:
        names = [f"{row[0]}_{row[1]}" for row in rows]
        figures.plot_object_scores(names, [row[4] for row in rows], out / "jf_per_object.png")
        parts.append(page.figure("jf_per_object.png", "J&F per object (mean over seeds)"))
    if objects:
        curves = [np.mean([entry.j for entry in entries], axis=0) for entries in objects.values()]
        figures.plot_decay(curves, out / "decay_curve.png")
        parts.append(page.figure("decay_curve.png", "J over normalised time per object (mean over seeds)"))
        values = np.concatenate([entry.j for entries in objects.values() for entry in entries])
        figures.plot_iou_histogram(values, out / "iou_distribution.png")
        parts.append(page.figure("iou_distribution.png", "distribution of per-frame IoU (all objects, frames, "
                                                         "seeds)"))
    return "\n".join(parts) if len(parts) > 1 else ""


def failure_frame(entries: Sequence[ObjectFrames]) -> tuple[ObjectFrames, int]:
    """The seed and scored-frame column where the object's J is lowest."""
    best = min(entries, key=lambda entry: float(np.nanmin(entry.j)) if np.isfinite(entry.j).any() else 2.0)
    return best, int(np.nanargmin(best.j)) if np.isfinite(best.j).any() else 0


def worst_image(entry: ObjectFrames, column: int, video, out: Path, rank: int) -> tuple[str, str]:
    """ground truth | prediction of ``entry``'s object on its failure frame -> (file name, caption)."""
    frame_name = entry.frame_names[column]
    index = video.frame_names.index(frame_name)
    frame = video.frame(index)
    ground_truth = figures.object_overlay(frame, video.annotation(index), entry.object_id)
    predicted = figures.object_overlay(frame, read_label_png(entry.seed.predictions / entry.video
                                                             / f"{frame_name}.png"), entry.object_id)
    tracks = entry.seed.tracks(entry.video)
    points_note = "tracked points not saved by this run"
    if tracks is not None and entry.object_id in list(tracks["object_ids"]):
        row = list(tracks["object_ids"]).index(entry.object_id)
        scale = np.array(frame.shape[1::-1], np.float64) / np.asarray(tracks["frame_size"][::-1], np.float64)
        points = tracks["tracks"][index, row] * scale
        from datasets.png import DAVIS_PALETTE

        predicted = figures.with_points(predicted, points, tracks["visible"][index, row],
                                        DAVIS_PALETTE[entry.object_id % 256])
        points_note = "dots: tracked points (grey: marked occluded)"
    image = figures.side_by_side([figures.captioned(ground_truth, "ground truth"),
                                  figures.captioned(predicted, f"prediction (J={entry.j[column]:.3f})")])
    name = f"worst_{rank}_{entry.video}_{entry.object_id}.png".replace("/", "_")
    figures.write_png(out / name, image)
    caption = (f"{rank}. {entry.video} object {entry.object_id}: frame {frame_name}, J={entry.j[column]:.3f}"
               + (f", seed {entry.seed.seed}" if entry.seed.record.seed is not None else "")
               + f"; {points_note}")
    return name, caption


def worst_section(out: Path, rows: list[tuple], objects: dict[str, list[ObjectFrames]],
                  scores: dict[int, FrameScores]) -> str:
    parts = [f"<h2>The {WORST_OBJECTS} worst objects</h2>"]
    for rank, row in enumerate(rows[:WORST_OBJECTS], start=1):
        entries = objects.get(f"{row[0]}_{row[1]}")
        if not entries:
            continue
        entry, column = failure_frame(entries)
        video = scores[entry.seed.seed].videos.get(entry.video)
        if video is None:
            reason = scores[entry.seed.seed].videos_reason or f"video {entry.video} is not in the dataset"
            parts.append(page.paragraph(f"{rank}. {entry.video} object {entry.object_id}: J={entry.j[column]:.3f} "
                                        f"at frame {entry.frame_names[column]}; the ground truth is unavailable, "
                                        f"no image ({reason})", "note"))
            continue
        name, caption = worst_image(entry, column, video, out, rank)
        parts.append(page.figure(name, caption))
    return "\n".join(parts) if len(parts) > 1 else ""


def vis_curve_section(run: RunFolder, out: Path) -> str:
    """The precision-recall curve of a VIS run (area all, 100 detections), as its scoring stored it."""
    from evaluation.vis import PRECISION_RECALL_FILE, read_precision_recall_csv

    seed = run.first
    if not seed.record.metrics:
        return page.paragraph("no precision-recall curve: the run was not scored", "note")
    try:
        recall, stored = read_precision_recall_csv(seed.path / PRECISION_RECALL_FILE)
    except DatasetError as error:
        return page.paragraph(f"no precision-recall curve: {error}", "note")
    curves = {f"IoU {name.removeprefix('iou_')}": stored[name] for name in ("iou_0.50", "iou_0.75") if name in stored}
    curves["mean over IoU 0.50:0.95"] = np.stack(list(stored.values())).mean(axis=0)
    figures.plot_precision_recall(recall, curves, out / "precision_recall.png")
    return "<h2>Precision-recall</h2>\n" + page.figure("precision_recall.png", f"seed {seed.seed}, area all, "
                                                                                 "100 detections per video")


# ---------------------------------------------------------------------------------------------- pages
def prepare_report_dir(run_path: Path) -> Path:
    """``<run>/report/`` emptied of the PNGs of an earlier report."""
    out = run_path / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    return out


def write_run_report(run: RunFolder) -> Path:
    out = prepare_report_dir(run.path)
    sections = [provenance_section(run), global_section(run), failures_section(run)]
    if run.task == "vis":
        sections += [vis_curve_section(run, out), videos_section(run)]
        return page.write_page(out / "index.html", f"SAM-PT report: {run.dataset} {run.split}", sections)
    scores = {seed.seed: frame_scores(seed) for seed in run.seeds}
    reasons = sorted({score.reason for score in scores.values() if score.reason})
    for reason in reasons:
        sections.append(page.paragraph(f"Per-frame scores: {reason}.", "warn"))
    rows = per_object_rows(run)
    objects = collect_object_frames(run, scores)
    for warning in consistency_warnings(run, objects):
        sections.append(page.paragraph(warning, "warn"))
    sections.append(per_object_section(rows, len(run.seeds) > 1) if rows else videos_section(run))
    sections += [plots_section(out, rows, objects), worst_section(out, rows, objects, scores)]
    return page.write_page(out / "index.html", f"SAM-PT report: {run.dataset} {run.split}", sections)


def write_sweep_report(sweep: Path) -> Path:
    """A sweep's page: its table, the knob plot, and each run's own report (written when missing)."""
    out = prepare_report_dir(sweep)
    table = pd.read_csv(sweep / "sweep_results.csv", dtype=str, keep_default_na=False)
    sections = ["<h2>Sweep</h2>", page.table(list(table.columns), [[page.fmt(_number_or_text(v)) for v in row]
                                                                  for row in table.itertuples(index=False)],
                                              "sweep", text_columns=1)]
    for plot in sorted(sweep.glob("sweep_*.png")):
        shutil.copyfile(plot, out / plot.name)
        sections.append(page.figure(plot.name, plot.stem.removeprefix("sweep_")))
    links = []
    for run_path in sweep_runs(sweep):
        report = run_path / REPORT_DIR / "index.html"
        if not report.is_file():
            write_run_report(load_run(run_path))
        links.append(f'<li><a href="../{page.esc(run_path.name)}/{REPORT_DIR}/index.html">'
                     f"{page.esc(run_path.name)}</a></li>")
    sections.append("<h2>Runs</h2>\n<ul>" + "".join(links) + "</ul>")
    return page.write_page(out / "index.html", f"SAM-PT sweep report: {sweep.name}", sections)


def _number_or_text(value: str):
    try:
        return float(value) if "." in value else value
    except ValueError:
        return value


def write_report(run_path: str | Path) -> Path:
    """Write ``<run>/report/index.html`` (a run, a multi-seed run or a sweep folder); returns its path."""
    run_path = Path(run_path)
    if run_path.is_dir() and is_sweep_folder(run_path):
        return write_sweep_report(run_path)
    return write_run_report(load_run(run_path))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI (``sampt-report``): 0 written, 2 not a run folder."""
    parser = argparse.ArgumentParser(prog="sampt-report", description="Write <run>/report/index.html for a run.")
    parser.add_argument("run", help="a run folder (the output_dir of make eval), a multi-seed run or a sweep")
    args = parser.parse_args(argv)
    return run_cli(lambda: f"report: {write_report(args.run)}")


if __name__ == "__main__":
    sys.exit(main())
