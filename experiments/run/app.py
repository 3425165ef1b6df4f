"""The Hydra entry point: run SAM-PT over a dataset, write predictions, score them, write results.

    python -m experiments.run                               # embedded default (synthetic, lk + grabcut)
    python -m experiments.run dataset=davis17 experiment=paper/sampt seeds=[0,1,2]
    python -m experiments.run -m model.negative_points_per_mask=1,8   # a sweep, one table at the end
    python -m experiments.run shard=0 num_shards=4 output_dir=RUN      # one shard of four
    python -m experiments.run mode=merge output_dir=RUN                # score the union of the shards
    make eval DATASET=davis17 SEEDS=0,1,2

Run folder (``output_dir``, default a fresh folder under ``outputs/``): ``predictions/<video>/...``, the
official CSVs, ``results.json`` and ``run.log``; with several seeds one ``seed_<s>/`` folder per seed plus
``summary.csv`` / ``summary.json`` (mean and std over seeds).
"""
from __future__ import annotations

import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from datasets.errors import DatasetError
from experiments.run.outputs import is_complete, write_json_atomic
from experiments.run.vos import has_full_ground_truth, load_videos, predict_all
from experiments.run.schema import CONFIGS
from experiments.run.provenance import config_hash, git_commit, package_versions
from experiments.run.summary import summarize_seeds, summary_table, write_summary

log = logging.getLogger("sampt")

RESULTS_SCHEMA_VERSION = 1
MODES = ("run", "merge")


class RunFailed(Exception):
    """Some videos failed; their tracebacks are in results.json."""


def seeds_of(cfg: DictConfig) -> list[int]:
    seeds = list(cfg.seeds) if cfg.seeds is not None else [cfg.seed]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds}")
    return [int(seed) for seed in seeds]


def seed_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of one seed's run (``seed`` set, ``seeds`` cleared)."""
    return OmegaConf.merge(cfg, {"seed": seed, "seeds": None})


def score(cfg: DictConfig, videos, run_dir: Path):
    """Score the run's predictions when the split has ground truth for every frame; None otherwise."""
    from evaluation.vos import evaluate_vos

    if not has_full_ground_truth(videos):
        log.info("split %s has no full ground truth: predictions written, not scored", cfg.dataset.split)
        return None
    metrics = evaluate_vos(videos, run_dir / "predictions", workers=int(cfg.eval_workers),
                           dataset=cfg.dataset.name, split=cfg.dataset.split)
    metrics.write(run_dir)  # the official CSVs; results.json is then rewritten with the run's provenance
    return metrics


def results_document(cfg: DictConfig, chash: str, videos, records: dict | None, metrics) -> dict:
    """The run's results.json; ``metrics`` is a `VosResult`, a ``{"global": ...}`` dict or None."""
    records = records or {"done": {}, "skipped": [], "failed": {}}
    if metrics is not None and not isinstance(metrics, dict):
        metrics = metrics.to_dict()
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "config_hash": chash,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "seed": int(cfg.seed),
        "dataset": cfg.dataset.name,
        "split": cfg.dataset.split,
        "shard": int(cfg.shard),
        "num_shards": int(cfg.num_shards),
        "task": cfg.dataset.get("task", "vos"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": metrics,
        "videos": records["done"],
        "num_videos": len(videos),
        "num_videos_evaluated": len(videos) - len(records["failed"]) if metrics is not None else 0,
        "videos_skipped_complete": records["skipped"],
        "num_videos_failed": len(records["failed"]),
        "videos_failed": records["failed"],
    }


def run_vis_seed(cfg: DictConfig, run_dir: Path, chash: str) -> dict:
    """Open-world VIS (UVO): proposals, SAM-PT propagation, ``uvo_results.json``, AP/AR when scored."""
    from experiments.run.vis import run_vis_dataset

    record = run_vis_dataset(cfg, run_dir, chash)
    metrics = {"global": record["metrics"]} if record.get("metrics") is not None else None
    videos = [*record["done"], *record["skipped"], *record["failed"]]
    results = results_document(cfg, chash, videos, record, metrics)
    results["results_json"] = str(record.get("results_json")) if record.get("results_json") else None
    results["videos_without_proposals"] = list(record.get("no_proposals", []))
    if metrics is not None:
        log.info("%s", "  ".join(f"{key} {value:.3f}" for key, value in record["metrics"].items()))
    return results


def results_name(cfg: DictConfig) -> str:
    """``results.json``, or ``results-shard<i>of<n>.json`` for one shard of a sharded run."""
    return "results.json" if int(cfg.num_shards) == 1 else f"results-shard{int(cfg.shard)}of{int(cfg.num_shards)}.json"


def run_vos_seed(cfg: DictConfig, run_dir: Path, chash: str, logger=None) -> dict:
    """Semi-supervised VOS: predict this shard's videos, score them with J&F when unsharded."""
    videos = load_videos(cfg)
    log.info("seed %d: %d videos, config hash %s, folder %s", cfg.seed, len(videos), chash, run_dir)
    make_visualizer = logger.visualizer_factory(run_dir) if logger is not None else None
    records = predict_all(cfg, videos, run_dir, chash, int(cfg.seed), make_visualizer)
    unsharded = int(cfg.num_shards) == 1
    metrics = score(cfg, videos, run_dir) if cfg.evaluate and unsharded and not records["failed"] else None
    results = results_document(cfg, chash, videos, records, metrics)
    if metrics is not None:
        log.info("%s", metrics.global_table())
        if logger is not None:
            logger.log_results(results, metrics)
    return results


def run_seed(cfg: DictConfig, run_dir: Path, logger=None) -> dict:
    """Run (this shard of) the dataset for one seed and write its results json."""
    chash = config_hash(OmegaConf.to_container(cfg, resolve=True))
    start = time.perf_counter()
    if cfg.dataset.get("task", "vos") == "vis":
        results = run_vis_seed(cfg, run_dir, chash)
    else:
        results = run_vos_seed(cfg, run_dir, chash, logger)
    results["run_seconds"] = time.perf_counter() - start
    path = run_dir / results_name(cfg)
    write_json_atomic(path, results)
    log.info("seed %s: %s", cfg.seed, path)
    return results


def require_complete(names: list[str], run_dir: Path, chash: str) -> None:
    """Raise unless every video's predictions in ``run_dir`` are complete for config ``chash``."""
    incomplete = [name for name in names if not is_complete(run_dir / "predictions" / name, chash)]
    if incomplete:
        raise DatasetError(
            f"cannot merge {run_dir}: {len(incomplete)} of {len(names)} videos are not complete for config "
            f"{chash} (first: {incomplete[:5]}); run the missing shards with the same config first"
        )


def merge_seed(cfg: DictConfig, run_dir: Path, logger=None) -> dict:
    """Score the union of all shards' predictions (every video must be complete for this config)."""
    chash = config_hash(OmegaConf.to_container(cfg, resolve=True))
    unsharded = OmegaConf.merge(cfg, {"shard": 0, "num_shards": 1})
    if cfg.dataset.get("task", "vos") == "vis":
        from experiments.run.vis import _load_uvo_videos

        require_complete([video.name for video in _load_uvo_videos(unsharded)], run_dir, chash)
        results = run_vis_seed(unsharded, run_dir, chash)  # every video is complete: only scores the union
    else:
        require_complete([video.name for video in load_videos(unsharded)], run_dir, chash)
        results = run_vos_seed(unsharded, run_dir, chash, logger)
    results["merged_from_shards"] = True
    write_json_atomic(run_dir / "results.json", results)
    return results


def write_report_safely(run_dir: Path) -> None:
    """``<run>/report/index.html``; a failure is logged as an error and never loses the run's results."""
    try:
        from experiments.reports.report import write_report

        log.info("report: %s", write_report(run_dir))
    except Exception as error:  # noqa: BLE001 - the results are written; the report is an extra
        log.error("the report of %s could not be written (%s: %s); the results are complete, retry with "
                  "`make report RUN=%s`", run_dir, type(error).__name__, error, run_dir)
        log.debug("report failure", exc_info=True)


def run(cfg: DictConfig, run_dir: Path) -> int:
    """Run every seed (each in ``seed_<s>/`` when there are several), then the summary over seeds."""
    if cfg.mode not in MODES:
        raise ValueError(f"unknown mode={cfg.mode!r}; valid: {', '.join(MODES)}")
    seeds = seeds_of(cfg)
    results_by_seed = {}
    failed = 0
    for seed in seeds:
        seed_cfg = seed_config(cfg, seed)
        seed_dir = run_dir if len(seeds) == 1 else run_dir / f"seed_{seed}"
        from experiments.run.wandb_logger import RunLogger

        with RunLogger(seed_cfg, seed_dir) as logger:
            step = merge_seed if cfg.mode == "merge" else run_seed
            results = step(seed_cfg, seed_dir, logger)
        results_by_seed[seed] = results
        failed += results.get("num_videos_failed", 0)
    if len(seeds) > 1 and (cfg.mode == "merge" or int(cfg.num_shards) == 1):
        summary = summarize_seeds(results_by_seed)
        write_summary(run_dir, summary)
        log.info("%s", summary_table(summary))
        log.info("summary: %s", run_dir / "summary.csv")
    if cfg.logging.report and (cfg.mode == "merge" or int(cfg.num_shards) == 1):
        write_report_safely(run_dir)
    if failed:
        raise RunFailed(f"{failed} video(s) failed; tracebacks in results.json under {run_dir}")
    return 0


def presets() -> list[str]:
    """The experiment presets, by folder (``paper/sampt``, ...); ``configs/experiment/_base/`` holds their bases."""
    folder = CONFIGS / "experiment"
    names = (path.relative_to(folder).with_suffix("").as_posix() for path in folder.rglob("*.yaml"))
    return sorted(name for name in names if not name.startswith("_base/"))


def unknown_preset(argv: list[str]) -> str | None:
    """The message for an ``experiment=`` argument that names no preset, else None.

    Hydra lists no options of a group's subfolders, so the presets (``paper/``, ``ablations/``, ...) are
    listed here; a name without its folder (``experiment=sampt``) gets the preset it names.
    """
    known = presets()
    for argument in argv:
        key, _, value = argument.lstrip("+~").partition("=")
        if key != "experiment" or "(" in value:  # sweep functions (choice(...), glob(...)) are Hydra's
            continue
        for name in value.split(","):
            if name in ("", "null") or name in known:
                continue
            same = [preset for preset in known if preset.rsplit("/", 1)[-1] == name]
            hint = f"did you mean experiment={same[0]}? " if same else ""
            return (f"no experiment preset {name!r} (configs/experiment/{name}.yaml); {hint}"
                    f"the presets (configs/experiment/README.md): {', '.join(known)}")
    return None


def chosen_options(choices) -> str:
    """The config options a run composed, one line: ``dataset=davis17 experiment=paper/sampt model=sampt ...``.

    ``choices``: Hydra's ``runtime.choices`` (group -> chosen option; None for ``experiment`` without a preset).
    """
    groups = ("dataset", "experiment", "model", "tracker", "segmenter")
    return " ".join(f"{group}={'null' if choices.get(group) is None else choices.get(group)}" for group in groups)


@hydra.main(config_path=str(CONFIGS), config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    logging.getLogger("sampt").setLevel(cfg.logging.level)  # Hydra's job logging writes <run>/run.log
    log.info("configs: %s (configs/<group>/<option>.yaml)", chosen_options(HydraConfig.get().runtime.choices))
    from trackers.checkpoints import CheckpointError

    try:
        run(cfg, run_dir)
    except RunFailed as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    except (DatasetError, CheckpointError, NotImplementedError, ValueError) as error:
        # bad input or a missing part: a clear message, not a traceback
        log.error("%s: %s", type(error).__name__, error)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
