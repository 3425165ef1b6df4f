"""SAM-PT's knobs and their defaults, written once.

`SamPtKnobs` is the method's settings as one validated object and the one place their defaults and checks
live: `trackers.sampt.model.SamPt` holds one (built from its keyword arguments), and the Hydra schema
(`experiments.run.schema.ModelSchema`) is this dataclass, so every knob is a Hydra option ``model.<name>`` with
the paper's value as default. An invalid value raises `ValueError` naming the knob and the valid values.

Names are those of the authors' configuration (SysCV/sam-pt ``configs/model/sam_pt.yaml``); the values are
the paper's SAM-PT (Rajič et al., arXiv:2307.01197, Sec. 4.2 and Tab. 2: 8 k-medoids positive points,
1 mixed negative point, 12 refinement iterations, patch similarity off); reinit is off, and when turned on
uses the paper's SAM-PT-reinit setting (Appendix A: variant A, horizon h = 8; the authors' first code
release, SysCV/sam-pt @33f66f5, has the same). This module imports nothing heavy (no torch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Optional

POINT_SELECTION_METHODS = ("random", "kmedoids", "shi-tomasi", "mixed")
REINIT_VARIANTS = (
    "reinit-on-horizon-and-sync-masks",
    "reinit-at-median-of-area-diff",
    "reinit-on-similar-mask-area",
    "reinit-on-similar-mask-area-and-sync-masks",
)
#: what a reinit mask of <= 25 px does: "authors" (their code: re-sampled; empty -> positives at (0, 0)),
#: "stop" (the paper: the object stops); see `trackers.sampt.reinit`
REINIT_TINY_MASK_RULES = ("authors", "stop")
#: decoder calls over objects, see `trackers.sampt.prompting`
BATCHING_MODES = ("by-prompt-length", "padded")


@dataclass
class SamPtKnobs:
    """SAM-PT's knobs (the run seed is separate). Validated on construction.

    Attributes:
        positive_points_per_mask, negative_points_per_mask: query points per object (paper: 8 and 1).
        positive_point_selection_method, negative_point_selection_method: one of `POINT_SELECTION_METHODS`.
        iterative_refinement_iterations: box-refinement passes (paper: 12; 0 disables).
        sam_iou_threshold: masks with a lower predicted IoU are emptied (authors: 0.7); any finite number, as in
            the authors' code (a negative one keeps every mask, e.g. for uncalibrated random weights).
        add_other_objects_positive_points_as_negative_points: other objects' visible positives as negatives.
        max_other_objects_positive_points: cap on those (random subset), None for no cap.
        use_patch_matching_filtering, patch_size (odd), patch_similarity_threshold: `trackers.sampt.patch_similarity`.
        use_point_reinit, reinit_point_tracker_horizon (>= reinit_horizon), reinit_horizon, reinit_variant
            (one of `REINIT_VARIANTS`): `trackers.sampt.reinit` (paper Appendix A).
        reinit_tiny_masks: one of `REINIT_TINY_MASK_RULES`.
        empty_mask_without_positive_point: no mask when only negative points are visible (the authors still
            prompt SAM then, with no point in pass 1; False reproduces that).
        border_margin: points within this fraction of the width/height of the border are not visible.
        decoder_batching: one of `BATCHING_MODES`.
        untransformed_refinement_box: reproduce the authors' refinement box coordinates at any frame size
            (see `trackers.sampt.prompting.PromptSettings`).
        use_first_mask_on_query_frame: write each object's given mask on its first frame, as the authors'
            evaluation does.
    """

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

    def __post_init__(self):
        self.positive_points_per_mask = int_at_least("positive_points_per_mask", self.positive_points_per_mask, 1)
        self.negative_points_per_mask = int_at_least("negative_points_per_mask", self.negative_points_per_mask, 0)
        for name in ("positive_point_selection_method", "negative_point_selection_method"):
            _choice(name, getattr(self, name), POINT_SELECTION_METHODS)
        self.iterative_refinement_iterations = int_at_least(
            "iterative_refinement_iterations", self.iterative_refinement_iterations, 0)
        self.sam_iou_threshold = _finite("sam_iou_threshold", self.sam_iou_threshold)
        if self.max_other_objects_positive_points is not None:
            self.max_other_objects_positive_points = int_at_least(
                "max_other_objects_positive_points", self.max_other_objects_positive_points, 0)
        self.patch_size = int_at_least("patch_size", self.patch_size, 1)
        if self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd (a patch centred on the point), got {self.patch_size}")
        self.patch_similarity_threshold = _fraction("patch_similarity_threshold", self.patch_similarity_threshold)
        self._check_reinit()
        self.border_margin = _fraction("border_margin", self.border_margin, 0.0, 0.5)
        _choice("decoder_batching", self.decoder_batching, BATCHING_MODES)
        for name in ("add_other_objects_positive_points_as_negative_points", "use_patch_matching_filtering",
                     "use_point_reinit", "empty_mask_without_positive_point", "untransformed_refinement_box",
                     "use_first_mask_on_query_frame"):
            setattr(self, name, bool(getattr(self, name)))

    def _check_reinit(self) -> None:
        self.reinit_point_tracker_horizon = int_at_least("reinit_point_tracker_horizon",
                                                         self.reinit_point_tracker_horizon, 2)
        self.reinit_horizon = int_at_least("reinit_horizon", self.reinit_horizon, 2)
        if self.reinit_point_tracker_horizon < self.reinit_horizon:
            raise ValueError(f"reinit_point_tracker_horizon ({self.reinit_point_tracker_horizon}) must be >= "
                             f"reinit_horizon ({self.reinit_horizon})")
        _choice("reinit_variant", self.reinit_variant, REINIT_VARIANTS)
        _choice("reinit_tiny_masks", self.reinit_tiny_masks, REINIT_TINY_MASK_RULES)


def knobs_from(values: dict) -> SamPtKnobs:
    """`SamPtKnobs` from a mapping of knob names (e.g. a Hydra ``model`` config); an unknown name is a
    `ValueError` listing the valid ones."""
    valid = {field.name for field in fields(SamPtKnobs)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ValueError(f"unknown SAM-PT knob(s) {unknown}; valid knobs: {', '.join(sorted(valid))}")
    return SamPtKnobs(**values)


def int_at_least(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _choice(name: str, value, choices) -> Any:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; valid choices: {', '.join(map(str, choices))}")
    return value


def _finite(name: str, value) -> float:
    """Any finite number (the authors' knobs take any float: e.g. a negative IoU threshold keeps every mask)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _fraction(name: str, value, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


DEFAULTS = SamPtKnobs()


def knob_defaults() -> dict:
    """knob name -> default value."""
    return {field.name: getattr(DEFAULTS, field.name) for field in fields(SamPtKnobs)}
