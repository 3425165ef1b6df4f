"""The run report and the run comparison on a tiny two-seed synthetic run: the numbers on the pages are
those of results.json, every referenced image exists, nothing is fetched from the network, the paired
interval is the bootstrap of the per-video scores, and bad or incomparable folders get clear errors."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from experiments.reports.bootstrap import paired_bootstrap
from tests.helpers import FAST, REPO, run_app, tiny_davis


class PageParser(HTMLParser):
    """Tables (by id: rows of cell texts), image sources, links, scripts and `class="warn"` paragraphs."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.warnings: list[str] = []
        self._table = None
        self._cell: list[str] | None = None
        self._warn: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", f"table{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag in ("a", "link"):
            self.links.append(attrs.get("href", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "p" and attrs.get("class") == "warn":
            self._warn = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "p" and self._warn is not None:
            self.warnings.append("".join(self._warn))
            self._warn = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._warn is not None:
            self._warn.append(data)


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text())
    return parser


def cli(module: str, *args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=environment)


@pytest.fixture(scope="module")
def two_seed_run(tmp_path_factory) -> Path:
    """A two-seed run of the tiny dataset; its report is written by the run itself."""
    data_root = tiny_davis(tmp_path_factory.mktemp("data") / "DAVIS")
    run_dir = tmp_path_factory.mktemp("runs") / "two_seeds"
    run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}", "seeds=[0,1]")
    return run_dir


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def check_self_contained(report: Path) -> PageParser:
    page = parse(report)
    assert page.scripts == 0 and "http://" not in report.read_text() and "https://" not in report.read_text()
    assert page.images, "the page shows no image"
    for source in page.images:
        assert (report.parent / source).is_file(), f"{report} references a missing image {source}"
    return page


def test_report_of_one_seed_shows_the_numbers_of_results_json(two_seed_run):
    seed_dir = two_seed_run / "seed_0"
    result = cli("experiments.reports.report", str(seed_dir))
    assert result.returncode == 0, result.stderr
    report = seed_dir / "report" / "index.html"
    page = check_self_contained(report)
    results = json.loads((seed_dir / "results.json").read_text())
    shown = {row[0]: row[1] for row in page.tables["global-metrics"][1:]}
    assert shown == {name: fmt(value) for name, value in results["metrics"]["global"].items()}
    per_object = page.tables["per-object"]
    assert per_object[0][:5] == ["video", "object", "J", "F", "J&F"]
    expected = {}
    for key, stats in results["metrics"]["per_object"].items():
        video, _, object_id = key.rpartition("_")
        expected[(video, object_id)] = [fmt(stats["J-Mean"]), fmt(stats["F-Mean"]),
                                        fmt((stats["J-Mean"] + stats["F-Mean"]) / 2), fmt(stats["J-Decay"]),
                                        fmt(stats["F-Decay"])]
    rows = per_object[1:]
    assert {(row[0], row[1]): row[2:7] for row in rows} == expected
    jf = [float(row[4]) for row in rows]
    assert jf == sorted(jf), "the per-object table is not sorted worst first"
    assert all(row[7] == "6" and float(row[8]) > 0 for row in rows)  # frames, fps from scores.json
    assert not page.warnings, page.warnings  # the stored per-frame J agrees with results.json
    for name in ("jf_per_object.png", "decay_curve.png", "iou_distribution.png"):
        assert name in page.images
    worst = [source for source in page.images if source.startswith("worst_")]
    assert len(worst) == min(5, len(rows))
    assert "dots: tracked points" in report.read_text()  # the run saved tracks.npz


def test_the_run_writes_the_multi_seed_report_with_mean_and_std(two_seed_run):
    report = two_seed_run / "report" / "index.html"
    assert report.is_file(), "the run did not write its report"
    page = check_self_contained(report)
    summary = json.loads((two_seed_run / "summary.json").read_text())
    rows = {row[0]: row[1:] for row in page.tables["global-metrics"][1:]}
    for name, stats in summary["metrics"].items():
        assert rows[name][0] == f"{fmt(stats['mean'])} ± {fmt(stats['std'])}"
        assert rows[name][1:] == [fmt(value) for value in stats["values"]]
    text = report.read_text()
    assert "seed(s)" in text and "0, 1" in text and "commit" in text and "torch" in text


SCORE_PLOTS = ("jf_per_object.png", "decay_curve.png", "iou_distribution.png")


def point_at_dataset(run_dir: Path, root: Path) -> None:
    """Make every seed's recorded config read the dataset at ``root``."""
    for path in run_dir.glob("seed_*/results.json"):
        results = json.loads(path.read_text())
        results["config"]["dataset"]["root"] = str(root)
        path.write_text(json.dumps(results))


def test_report_reads_stored_scores_and_needs_no_ground_truth(two_seed_run, tmp_path):
    """The issue's acceptance check: with the ground truth blanked, then gone, the re-made report's score plots
    are byte-identical to those of the report the run made; the worst-frame images say the GT is unavailable."""
    from datasets.png import read_label_png, write_label_png

    made_by_run = {name: (two_seed_run / "report" / name).read_bytes() for name in SCORE_PLOTS}
    data = Path(json.loads((two_seed_run / "seed_0" / "results.json").read_text())["config"]["dataset"]["root"])
    blank, run = tmp_path / "blank", tmp_path / "run"
    shutil.copytree(data, blank)
    annotations = sorted((blank / "Annotations").rglob("*.png"))
    assert annotations
    for png in annotations:
        write_label_png(png, np.zeros_like(read_label_png(png)))
    shutil.copytree(two_seed_run, run, ignore=shutil.ignore_patterns("report"))
    for root in (blank, tmp_path / "deleted"):
        point_at_dataset(run, root)
        result = cli("experiments.reports.report", str(run))
        assert result.returncode == 0, result.stderr
        page = check_self_contained(run / "report" / "index.html")
        assert {name: (run / "report" / name).read_bytes() for name in SCORE_PLOTS} == made_by_run
        assert not page.warnings, page.warnings
    text = (run / "report" / "index.html").read_text()
    assert "the ground truth is unavailable" in text and "not found" in text
    assert not list((run / "report").glob("worst_*.png"))


def test_report_warns_when_stored_scores_disagree_with_results_json(two_seed_run, tmp_path):
    copy = tmp_path / "changed"
    shutil.copytree(two_seed_run / "seed_1", copy)
    path = copy / "per-frame_results-val.csv"
    lines = path.read_text().splitlines()
    video, object_id, frame, _, f = lines[1].split(",")
    lines[1] = ",".join([video, object_id, frame, "0.0", f])
    path.write_text("\n".join(lines) + "\n")
    assert cli("experiments.reports.report", str(copy)).returncode == 0
    warnings = parse(copy / "report" / "index.html").warnings
    assert any(f"{video}_{object_id}" in warning and "different scorings" in warning for warning in warnings), warnings


def test_report_errors_name_the_path_and_never_show_a_traceback(tmp_path):
    missing = cli("experiments.reports.report", str(tmp_path / "absent"))
    assert missing.returncode == 2 and str(tmp_path / "absent") in missing.stderr and "Traceback" not in missing.stderr
    not_a_run = cli("experiments.reports.report", str(tmp_path))
    assert not_a_run.returncode == 2 and "not a run folder" in not_a_run.stderr and "Traceback" not in not_a_run.stderr


def test_a_failing_report_is_logged_and_the_run_keeps_its_results(tmp_path, caplog):
    from experiments.run.app import write_report_safely

    with caplog.at_level(logging.ERROR, logger="sampt"):
        write_report_safely(tmp_path)  # not a run folder: the report fails
    assert "could not be written" in caplog.text and "make report" in caplog.text


def per_video_jf(results: dict) -> dict[str, float]:
    """Per-video J&F straight from results.json: mean over the video's objects of (J + F) / 2."""
    by_video: dict[str, list[float]] = {}
    for key, stats in results["metrics"]["per_object"].items():
        by_video.setdefault(key.rpartition("_")[0], []).append((stats["J-Mean"] + stats["F-Mean"]) / 2)
    return {video: float(np.mean(values)) for video, values in by_video.items()}


def test_compare_two_seeds_reports_the_paired_interval(two_seed_run, tmp_path):
    a, b = two_seed_run / "seed_0", two_seed_run / "seed_1"
    result = cli("experiments.reports.compare", str(a), str(b), "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    page = check_self_contained(tmp_path / "cmp" / "compare.html")
    ra, rb = (json.loads((run / "results.json").read_text()) for run in (a, b))
    metrics = {row[0]: row[1:] for row in page.tables["metrics"][1:]}
    for name, value in ra["metrics"]["global"].items():
        other = rb["metrics"]["global"][name]
        assert metrics[name][:2] == [fmt(value), fmt(other)]
        assert float(metrics[name][2]) == pytest.approx(other - value, abs=5e-4)
    va, vb = per_video_jf(ra), per_video_jf(rb)
    videos = sorted(va)
    expected = paired_bootstrap([va[v] for v in videos], [vb[v] for v in videos])
    row = next(row for row in page.tables["intervals"][1:] if row[1] == "J&F-Mean")
    low, high = (float(value) for value in row[3].strip("[]").split(","))
    assert float(row[2]) == pytest.approx(expected.difference, abs=5e-4)
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=5e-4)
    assert row[4] == expected.verdict()
    assert "J&F-Mean" in result.stdout and expected.verdict() in result.stdout
    assert any(source.startswith("changed_B_") for source in page.images)


def test_compare_multi_seed_runs_resamples_seeds(two_seed_run, tmp_path):
    result = cli("experiments.reports.compare", str(two_seed_run), str(two_seed_run), "--out", str(tmp_path / "c"),
                 "--resamples", "500")
    assert result.returncode == 0, result.stderr
    assert "videos and seeds" in result.stdout and "not significant" in result.stdout


def edit_results(run_dir: Path, change) -> None:
    path = run_dir / "results.json"
    results = json.loads(path.read_text())
    change(results)
    path.write_text(json.dumps(results))


def test_compare_refuses_incomparable_runs(two_seed_run, tmp_path):
    a = two_seed_run / "seed_0"
    other_split = tmp_path / "split"
    shutil.copytree(two_seed_run / "seed_1", other_split)
    edit_results(other_split, lambda results: results.update(split="train"))
    result = cli("experiments.reports.compare", str(a), str(other_split), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "different split (val vs train)" in result.stderr
    assert "Traceback" not in result.stderr

    fewer = tmp_path / "fewer"
    shutil.copytree(two_seed_run / "seed_1", fewer)
    edit_results(fewer, lambda results: results["metrics"].update(per_object={
        key: value for key, value in results["metrics"]["per_object"].items() if not key.startswith("synth-001")}))
    result = cli("experiments.reports.compare", str(a), str(fewer), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "different video sets" in result.stderr
    assert f"only in {a}: synth-001" in result.stderr

    frames = tmp_path / "frames"
    shutil.copytree(two_seed_run / "seed_1", frames)
    (frames / "predictions" / "synth-000" / "00000.png").unlink()
    result = cli("experiments.reports.compare", str(a), str(frames), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "different frames written for synth-000" in result.stderr

    missing = cli("experiments.reports.compare", str(a), str(tmp_path / "absent"))
    assert missing.returncode == 2 and str(tmp_path / "absent") in missing.stderr
