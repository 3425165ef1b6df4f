"""Summaries over seeds (mean and std of every metric) and over the runs of a Hydra multirun sweep."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from evaluation.record import ResultsRecord
from infra.files import atomic_write_text
from infra.files import write_json_atomic

log = logging.getLogger("sampt")


def summarize_seeds(results_by_seed: dict[int, ResultsRecord]) -> dict:
    """Mean and sample std (ddof=1; 0 for one seed) of every global metric over seeds.

    Returns ``{"seeds": [...], "metrics": {name: {"mean", "std", "values"}}}``.
    """
    seeds = sorted(results_by_seed)
    # rows: seeds; columns: metrics in order of first appearance; NaN where a seed lacks a metric
    table = pd.DataFrame([results_by_seed[seed].global_metrics for seed in seeds], index=seeds, dtype="float64")
    summary = {"seeds": seeds, "metrics": {}}
    for name in table.columns:
        column = table[name]
        count = int(column.notna().sum())
        summary["metrics"][name] = {
            "mean": float(column.mean()) if count else None,
            "std": float(column.std(ddof=1)) if count > 1 else 0.0,
            "values": [float(value) for value in column],
        }
    return summary


def write_summary(run_dir: Path, summary: dict) -> None:
    """``summary.json`` and ``summary.csv`` (metric, mean, std, then one column per seed)."""
    write_json_atomic(run_dir / "summary.json", summary)
    table = pd.DataFrame(
        [[name, stats["mean"], stats["std"], *stats["values"]] for name, stats in summary["metrics"].items()],
        columns=["metric", "mean", "std", *[f"seed_{seed}" for seed in summary["seeds"]]])
    atomic_write_text(run_dir / "summary.csv", table.to_csv(index=False, lineterminator="\n", na_rep="nan"))


def summary_table(summary: dict) -> str:
    rows = [f"{'metric':<10} {'mean':>8} {'std':>8}   (over seeds {summary['seeds']})"]
    for name, stats in summary["metrics"].items():
        mean = "nan" if stats["mean"] is None else f"{stats['mean']:.4f}"
        rows.append(f"{name:<10} {mean:>8} {stats['std']:>8.4f}")
    return "\n".join(rows)


def collect_sweep(sweep_dir: Path) -> list[dict]:
    """One row per run of a sweep: its overrides and its global metrics (mean over seeds when several)."""
    rows = []
    for path in sorted(sweep_dir.glob("*/results.json")) + sorted(sweep_dir.glob("*/summary.json")):
        run_dir = path.parent
        overrides_file = run_dir / ".hydra" / "overrides.yaml"
        overrides = _read_overrides(overrides_file)
        if path.name == "summary.json":
            metrics = {name: stats["mean"] for name, stats in json.loads(path.read_text())["metrics"].items()}
        elif (run_dir / "summary.json").exists():
            continue  # a multi-seed run is represented by its summary
        else:
            metrics = ResultsRecord.read(path).global_metrics
        rows.append({"run": run_dir.name, **overrides, **metrics})
    return rows


def _read_overrides(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    import yaml

    overrides = {}
    for item in yaml.safe_load(path.read_text()) or []:
        key, _, value = str(item).partition("=")
        if key not in ("output_dir",):
            overrides[key.lstrip("+~")] = value
    return overrides


def write_sweep_table(sweep_dir: Path, metric: str = "J&F-Mean") -> Path | None:
    """``sweep_results.csv`` over all runs of a sweep, and ``sweep_<knob>.png`` when one knob varies."""
    rows = collect_sweep(sweep_dir)
    if not rows:
        log.warning("no results found under %s: no sweep table written", sweep_dir)
        return None
    frame = pd.DataFrame(rows)  # columns in order of first appearance; a knob a run does not set is empty
    table = sweep_dir / "sweep_results.csv"
    atomic_write_text(table, frame.to_csv(index=False, lineterminator="\n"))
    varying = [key for key in frame.columns if key != "run" and "Mean" not in key and "Recall" not in key
               and "Decay" not in key and frame[key].astype(str).nunique() > 1]
    if len(varying) == 1 and all(metric in row for row in rows):
        _plot_one_knob(sweep_dir, rows, varying[0], metric)
    return table


def _plot_one_knob(sweep_dir: Path, rows: list[dict], knob: str, metric: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def key(value):
        try:
            return (0, float(value))
        except (TypeError, ValueError):
            return (1, str(value))

    ordered = sorted(rows, key=lambda row: key(row[knob]))
    figure, axis = plt.subplots(figsize=(5, 3.5))
    labels = [str(row[knob]) for row in ordered]
    axis.plot(range(len(ordered)), [row[metric] for row in ordered], marker="o")
    axis.set_xticks(range(len(ordered)), labels)
    axis.set_xlabel(knob)
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path = sweep_dir / f"sweep_{knob.replace('/', '_')}.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
