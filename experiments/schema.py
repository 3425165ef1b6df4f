"""Structured config schema of the runner (dataclasses in Hydra's ConfigStore).

`configs/eval.yaml` starts its defaults list with ``eval_schema``, so every composed config is checked
against these types: a misspelt key (``model.negativ_points=1``) or a wrong type
(``model.positive_points_per_mask=many``) stops Hydra with an error naming the key; ``???`` marks
values a config group must provide. Value choices (a method name, a variant) are checked by the
constructors, which list the valid ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


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


@dataclass
class ModelSchema:
    """`trackers.sampt.model.SamPt` keyword arguments (paper defaults in configs/model/sampt.yaml)."""

    positive_points_per_mask: int = 8
    negative_points_per_mask: int = 1
    positive_point_selection_method: str = "kmedoids"
    negative_point_selection_method: str = "mixed"
    iterative_refinement_iterations: int = 12
    sam_iou_threshold: float = 0.7
    add_other_objects_positive_points_as_negative_points: bool = True
    max_other_objects_positive_points: Optional[int] = None
    use_patch_matching_filtering: bool = False
    patch_size: int = 3
    patch_similarity_threshold: float = 0.01
    use_point_reinit: bool = False
    reinit_point_tracker_horizon: int = 8
    reinit_horizon: int = 8
    reinit_variant: str = "reinit-on-horizon-and-sync-masks"
    reinit_tiny_masks: str = "authors"
    empty_mask_without_positive_point: bool = False
    border_margin: float = 0.01
    decoder_batching: str = "by-prompt-length"
    untransformed_refinement_box: bool = False
    use_first_mask_on_query_frame: bool = True


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


def register() -> None:
    ConfigStore.instance().store(name="eval_schema", node=EvalSchema)
