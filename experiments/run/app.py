"""The Hydra entry point: run SAM-PT over a dataset, write predictions, score them, write results.

    python -m experiments.run                               # embedded default (synthetic, lk + grabcut)
    python -m experiments.run dataset=davis17 experiment=paper/sampt seeds=[0,1,2]
    python -m experiments.run -m model.negative_points_per_mask=1,8   # a sweep, one table at the end
    python -m experiments.run shard=0 num_shards=4 output_dir=RUN      # one shard of four
    python -m experiments.run mode=merge output_dir=RUN                # score the union of the shards
    torchrun --standalone --nproc_per_node=4 -m experiments.run output_dir=RUN   # one process per GPU
    make eval DATASET=davis17 SEEDS=0,1,2 [GPUS=4]

A run predicts (task-specific), scores once (`experiments.run.scoring`), then writes its results record
(`evaluation.record.ResultsRecord`) once. Run folder (``output_dir``, default a fresh folder under
``outputs/``): ``predictions/<video>/...``, the official CSVs and ``per-frame_results-<split>.csv`` (VOS),
``uvo_results.json`` (VIS), ``results.json`` and ``run.log``; with several seeds one ``seed_<s>/`` folder per seed plus
``summary.csv`` / ``summary.json`` (mean and std over seeds).

Over several processes (`experiments.run.ranks`: torchrun, or a submitit/SLURM job's tasks) every rank
predicts its share of the videos into the same folder; rank 0 alone scores and writes the results record
(with ``world_size`` and each video's ``rank``), the CSVs, the summary, the report and wandb.
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
from evaluation.record import ResultsRecord
from experiments.run.outputs import is_complete
from experiments.run.schema import CONFIGS
from experiments.run.provenance import config_hash, git_commit, package_versions
from experiments.run import ranks as rank_env
from experiments.run.ranks import SINGLE, RankLost, Ranks
from experiments.run.scoring import score_predictions
from experiments.run.videos import load_videos
from experiments.run.vos import predict_all
from experiments.run.summary import summarize_seeds, summary_table, write_summary

log = logging.getLogger("sampt")

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


def build_record(cfg: DictConfig, chash: str, videos: list, predicted: dict, metrics: dict | None) -> ResultsRecord:
    """The run's results record: provenance, the prediction step's record and the metrics (None: not scored)."""
    record = ResultsRecord(
        task=cfg.dataset.get("task", "vos"), dataset=cfg.dataset.name, split=cfg.dataset.split, metrics=metrics,
        config=OmegaConf.to_container(cfg, resolve=True), config_hash=chash, git_commit=git_commit(),
        packages=package_versions(), seed=int(cfg.seed), shard=int(cfg.shard), num_shards=int(cfg.num_shards),
        world_size=int(predicted.get("world_size", 1)),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"), videos=predicted["done"],
        num_videos=len(videos), num_videos_evaluated=len(videos) - len(predicted["failed"]) if metrics else 0,
        videos_skipped_complete=predicted["skipped"], videos_failed=predicted["failed"])
    if record.task == "vis":
        record.extra = {"results_json": predicted.get("results_json"),
                        "videos_without_proposals": list(predicted.get("no_proposals", []))}
    return record


def results_name(cfg: DictConfig) -> str:
    """``results.json``, or ``results-shard<i>of<n>.json`` for one shard of a sharded run."""
    return "results.json" if int(cfg.num_shards) == 1 else f"results-shard{int(cfg.shard)}of{int(cfg.num_shards)}.json"


def predict(cfg: DictConfig, run_dir: Path, chash: str, logger=None, ranks: Ranks = SINGLE) -> tuple[list, dict]:
    """The task's prediction step over this shard's videos (this rank's share of them; resumable) ->
    (videos, its record: ``done``, ``skipped``, ``failed``, and for VIS ``results_json`` and ``no_proposals``)."""
    if cfg.dataset.get("task", "vos") == "vis":
        if ranks.distributed:
            raise ValueError("VIS runs (UVO) are one process: split them with shard=i num_shards=n and score "
                             "with mode=merge (README, Running experiments)")
        from experiments.run.vis import run_vis_dataset

        return run_vis_dataset(cfg, run_dir, chash)
    videos = load_videos(cfg)
    log.info("seed %d: %d videos, config hash %s, folder %s", cfg.seed, len(videos), chash, run_dir)
    mine = rank_env.share_of(ranks, videos)
    make_visualizer = None
    if logger is not None:  # the first num_videos videos of the run are drawn, whichever rank predicts them
        position = {video.name: index for index, video in enumerate(videos)}
        factory = logger.visualizer_factory(run_dir)
        make_visualizer = lambda video, _index: factory(video, position[video.name])  # noqa: E731
    return videos, predict_all(cfg, mine, run_dir, chash, int(cfg.seed), make_visualizer)


def collect(ranks: Ranks, predicted: dict, videos: list) -> dict | None:
    """The ranks' prediction records as one (at rank 0; None on the others), in the order of ``videos``:
    ``done`` (each video's info with the ``rank`` that predicted it), ``skipped`` and ``failed`` of all
    ranks, and ``world_size``."""
    records = rank_env.gather_to_zero(ranks, predicted)
    if records is None:
        return None
    done, skipped, failed = {}, set(), {}
    for rank, record in enumerate(records):
        done.update({name: {**info, "rank": rank} for name, info in record["done"].items()})
        skipped.update(record["skipped"])
        failed.update(record["failed"])
    names = [video.name for video in videos]
    return {**predicted, "done": {name: done[name] for name in names if name in done},
            "skipped": [name for name in names if name in skipped],
            "failed": {name: failed[name] for name in names if name in failed}, "world_size": ranks.world_size}


def run_seed(cfg: DictConfig, run_dir: Path, logger=None, merged: bool = False,
             ranks: Ranks = SINGLE) -> ResultsRecord | None:
    """Predict (this shard of) the dataset for one seed, score it once when unsharded and no video failed,
    and write its results record (once). Over several ranks each predicts its share and rank 0 alone scores
    and writes (the others return None)."""
    chash = config_hash(OmegaConf.to_container(cfg, resolve=True))
    start = time.perf_counter()
    videos, predicted = predict(cfg, run_dir, chash, logger, ranks)
    predicted = collect(ranks, predicted, videos)
    if predicted is None:
        return None
    scorable = bool(cfg.evaluate) and int(cfg.num_shards) == 1 and not predicted["failed"]
    metrics = score_predictions(cfg, videos, run_dir, predicted) if scorable else None
    record = build_record(cfg, chash, videos, predicted, metrics)
    record.run_seconds = time.perf_counter() - start
    if merged:
        record.extra["merged_from_shards"] = True
    path = record.write(run_dir, results_name(cfg))
    if metrics is not None and logger is not None:
        logger.log_results(record)
    log.info("seed %s: %s", cfg.seed, path)
    return record


def require_complete(names: list[str], run_dir: Path, chash: str) -> None:
    """Raise unless every video's predictions in ``run_dir`` are complete for config ``chash``."""
    incomplete = [name for name in names if not is_complete(run_dir / "predictions" / name, chash)]
    if incomplete:
        raise DatasetError(
            f"cannot merge {run_dir}: {len(incomplete)} of {len(names)} videos are not complete for config "
            f"{chash} (first: {incomplete[:5]}); run the missing shards with the same config first"
        )


def merge_seed(cfg: DictConfig, run_dir: Path, logger=None) -> ResultsRecord:
    """Score the union of all shards' predictions (every video must be complete for this config)."""
    chash = config_hash(OmegaConf.to_container(cfg, resolve=True))
    unsharded = OmegaConf.merge(cfg, {"shard": 0, "num_shards": 1})
    require_complete([video.name for video in load_videos(unsharded)], run_dir, chash)
    return run_seed(unsharded, run_dir, logger, merged=True)  # every video is complete: only scores the union


def write_report_safely(run_dir: Path) -> None:
    """``<run>/report/index.html``; a failure is logged as an error and never loses the run's results."""
    try:
        from experiments.reports.report import write_report

        log.info("report: %s", write_report(run_dir))
    except Exception as error:  # noqa: BLE001 - the results are written; the report is an extra
        log.error("the report of %s could not be written (%s: %s); the results are complete, retry with "
                  "`make report RUN=%s`", run_dir, type(error).__name__, error, run_dir)
        log.debug("report failure", exc_info=True)


def run(cfg: DictConfig, run_dir: Path, ranks: Ranks = SINGLE) -> int:
    """Run every seed (each in ``seed_<s>/`` when there are several), then the summary over seeds. Over
    several ranks only rank 0 writes the records, the summary and the report (and raises `RunFailed`)."""
    if cfg.mode not in MODES:
        raise ValueError(f"unknown mode={cfg.mode!r}; valid: {', '.join(MODES)}")
    if cfg.mode == "merge" and ranks.distributed:
        raise ValueError("mode=merge only scores: run it as one process (python -m experiments.run mode=merge ...)")
    seeds = seeds_of(cfg)
    results_by_seed = {}
    failed = 0
    for seed in seeds:
        seed_cfg = seed_config(cfg, seed)
        seed_dir = run_dir if len(seeds) == 1 else run_dir / f"seed_{seed}"
        from experiments.run.wandb_logger import RunLogger

        with RunLogger(seed_cfg, seed_dir, use_wandb=ranks.rank == 0) as logger:
            results = (merge_seed(seed_cfg, seed_dir, logger) if cfg.mode == "merge"
                       else run_seed(seed_cfg, seed_dir, logger, ranks=ranks))
        if results is None:  # another rank than 0: its videos are written, rank 0 writes the rest
            continue
        results_by_seed[seed] = results
        failed += results.num_videos_failed
    if ranks.rank != 0:
        return 0
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
    from infra import cpu_runtime
    from trackers.checkpoints import CheckpointError

    try:
        log.info("cpu settings: %s", cpu_runtime.configure(cfg.threads, bool(cfg.keep_freed_memory),
                                                                 cfg.frame_workers))
        ranks = rank_env.discover()
        rank_env.require_shared_folder(ranks, cfg.output_dir)
        rank_env.start(ranks, float(cfg.rank_timeout_s))
        run(cfg, run_dir, ranks)
    except RunFailed as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    except RankLost as error:  # the ranks' completed videos are kept; a re-run finishes the rest
        log.error("%s", error)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except (DatasetError, CheckpointError, NotImplementedError, ValueError) as error:
        # bad input or a missing part: a clear message, not a traceback
        log.error("%s: %s", type(error).__name__, error)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
