"""SAM-PT's knobs and their defaults, written once.

`SamPtKnobs` is the one place the default values live: `trackers.sampt.model.SamPt` takes its keyword
defaults from `DEFAULTS`, the Hydra schema (`experiments.run.schema.ModelSchema`) is this dataclass, and
``configs/model/sampt.yaml`` repeats the values for people reading configs (a test checks all three agree).

Names are those of the authors' configuration (SysCV/sam-pt ``configs/model/sam_pt.yaml``); the values are
the paper's SAM-PT (Rajič et al., arXiv:2307.01197, Sec. 4.2 and Tab. 2: 8 k-medoids positive points,
1 mixed negative point, 12 refinement iterations, patch similarity off); reinit is off, and when turned on
uses the paper's SAM-PT-reinit setting (Appendix A: variant A, horizon h = 8; the authors' first code
release, SysCV/sam-pt @33f66f5, has the same). This module imports nothing heavy (no torch).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional


@dataclass
class SamPtKnobs:
    """`trackers.sampt.model.SamPt` keyword arguments (the run seed is passed separately)."""

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


DEFAULTS = SamPtKnobs()


def knob_defaults() -> dict:
    """knob name -> default value."""
    return {field.name: getattr(DEFAULTS, field.name) for field in fields(SamPtKnobs)}
