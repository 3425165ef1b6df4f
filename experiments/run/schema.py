"""Structured config schema of the runner (dataclasses in Hydra's ConfigStore).

`configs/eval.yaml` starts its defaults list with ``eval_schema``, so every composed config is checked
against these types: a misspelt key (``model.negativ_points=1``) or a wrong type
(``model.positive_points_per_mask=many``) stops Hydra with an error naming the key; ``???`` marks
values a config group must provide. Value choices (a method name, a variant) are checked by the
constructors, which list the valid ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from trackers.sampt.knobs import SamPtKnobs


@dataclass
class DatasetSchema:
    name: str = MISSING
    reader: str = MISSING
    root: str = MISSING
    split: str = MISSING
    options: dict[str, Any] = field(default_factory=dict)
    # vos: semi-supervised VOS scored with J&F; vis: open-world VIS (UVO) scored with AP/AR
    task: str = "vos"
    # build the benchmark under root on first use (synthetic datasets)
    synthetic: bool = False
    vis: Optional[dict[str, Any]] = None
    # write each object's own mask, <video>/<obj:03d>/<frame>.png, instead of label maps (the authors'
    # save_overlapping_masks; experiments/run/vos.py): the layout of scorers of overlapping objects (SA-V)
    save_overlapping_masks: bool = False
    # the authors' evaluation options (SysCV/sam-pt configs/vos_eval_root.yaml, off there too; docs/protocol.md):
    # run on the mirrored video and mirror the outputs back (flip); sample query points from SAM's mask of one
    # k-medoids point of each first mask (input_only_one_gt_mask_point); also write each frame's
    # probabilities, <video>/scores/<frame>.npz (save_scores; experiments/run/vos.py)
    flip: bool = False
    input_only_one_gt_mask_point: bool = False
    save_scores: bool = False


@dataclass
class ModelSchema(SamPtKnobs):
    """`trackers.sampt.model.SamPt` keyword arguments: names, types and defaults are those of
    `trackers.sampt.knobs.SamPtKnobs`, the one place they are written."""


@dataclass
class ComponentSchema:
    """A point tracker or segmenter: registry name, checkpoint file (None: weight-free), constructor options."""

    name: str = MISSING
    checkpoint: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class PathsSchema:
    data_root: str = "data"
    checkpoint_dir: str = "checkpoints"
    cache_dir: str = ".cache/sampt"


@dataclass
class VisualizeSchema:
    num_videos: int = 2
    format: str = "mp4"
    fps: int = 10


@dataclass
class WandbSchema:
    enabled: bool = True
    mode: str = "offline"
    project: str = "sampt"
    entity: Optional[str] = None
    group: Optional[str] = None


@dataclass
class LoggingSchema:
    progress: bool = True
    level: str = "INFO"
    report: bool = True
    visualize: VisualizeSchema = field(default_factory=VisualizeSchema)
    wandb: WandbSchema = field(default_factory=WandbSchema)


@dataclass
class EvalSchema:
    dataset: DatasetSchema = field(default_factory=DatasetSchema)
    model: ModelSchema = field(default_factory=ModelSchema)
    tracker: ComponentSchema = field(default_factory=ComponentSchema)
    segmenter: ComponentSchema = field(default_factory=ComponentSchema)
    paths: PathsSchema = field(default_factory=PathsSchema)
    logging: LoggingSchema = field(default_factory=LoggingSchema)
    seed: int = 0
    seeds: Optional[list[int]] = None
    mode: str = "run"
    shard: int = 0
    num_shards: int = 1
    device: str = "auto"
    output_dir: Optional[str] = None
    videos: Optional[list[str]] = None
    limit_videos: Optional[int] = None
    fail_fast: bool = False
    evaluate: bool = True
    eval_workers: int = 2
    longest_side: Optional[int] = None
    rank_timeout_s: float = 1800.0
    threads: Optional[int] = None
    keep_freed_memory: bool = True
    frame_workers: Optional[int] = None


def register() -> None:
    ConfigStore.instance().store(name="eval_schema", node=EvalSchema)


#: the Hydra configs (the repository's configs/ folder)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def compose_config(*overrides: str):
    """`configs/eval.yaml` composed with ``overrides`` (Hydra override strings, as on the command line of
    ``python -m experiments.run``): how every entry point that is not the Hydra app itself (the demo, the
    interactive protocol, benchmarks) builds its run from the same configs."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("eval", overrides=list(overrides))


def quoted(value) -> str:
    """``value`` as a Hydra override value that may hold any path character (single-quoted)."""
    text = str(value)
    if "'" in text:
        raise ValueError(f"values with a single quote cannot be passed to the configs: {text}")
    return f"'{text}'"
