"""Run logging: overlay videos on disk and, when enabled, wandb (offline unless configured).

Everything wandb shows also exists on disk: the config and metrics in results.json, the per-sequence
table in the official CSV, the overlay videos under ``<run>/visualizations/``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from experiments.visualize import OverlayVideoWriter

log = logging.getLogger("sampt")
WANDB_MODES = ("offline", "online", "disabled")


class RunLogger:
    """Context manager for one seed's run: starts wandb if enabled (and ``use_wandb``: rank 0 of a run over
    several processes), finishes it on exit."""

    def __init__(self, cfg: DictConfig, run_dir: Path, use_wandb: bool = True):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.settings = cfg.logging
        self.use_wandb = use_wandb
        self.wandb_run = None
        self.overlays: list[Path] = []

    def __enter__(self) -> "RunLogger":
        wandb_cfg = self.settings.wandb
        if wandb_cfg.enabled and self.use_wandb:
            if wandb_cfg.mode not in WANDB_MODES:
                raise ValueError(f"logging.wandb.mode={wandb_cfg.mode!r}; valid: {', '.join(WANDB_MODES)}")
            import wandb

            self.run_dir.mkdir(parents=True, exist_ok=True)
            os.environ.setdefault("WANDB_SILENT", "true")
            self.wandb_run = wandb.init(
                project=wandb_cfg.project, entity=wandb_cfg.entity, group=wandb_cfg.group, mode=wandb_cfg.mode,
                dir=str(self.run_dir), config=OmegaConf.to_container(self.cfg, resolve=True),
                name=f"{self.cfg.dataset.name}-seed{self.cfg.seed}", reinit="finish_previous",
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=1 if exc[0] else 0)
            self.wandb_run = None

    def visualizer_factory(self, run_dir: Path):
        """(video, index) -> an overlay writer for the first ``logging.visualize.num_videos`` videos, else None."""
        settings = self.settings.visualize
        count = int(settings.num_videos or 0)

        def make(video, index: int):
            if index >= count:
                return None
            path = Path(run_dir) / "visualizations" / f"{video.name}.{settings.format}"
            self.overlays.append(path)
            return OverlayVideoWriter(path, fps=int(settings.fps))

        return make

    def log_results(self, record) -> None:
        """A scored `evaluation.record.ResultsRecord`'s global metrics, per-object table and the overlay
        videos to wandb."""
        if self.wandb_run is None:
            return
        import wandb

        self.wandb_run.summary.update({f"global/{k}": v for k, v in record.global_metrics.items()})
        per_object = record.per_object
        columns = ["object", *next(iter(per_object.values())).keys()] if per_object else ["object"]
        table = wandb.Table(columns=columns, data=[[name, *values.values()] for name, values in per_object.items()])
        payload = {"per_object": table}
        for path in self.overlays:
            if path.is_file() and path.suffix in (".mp4", ".gif"):
                payload[f"overlay/{path.stem}"] = wandb.Video(str(path), format=path.suffix.lstrip("."))
        self.wandb_run.log(payload)
