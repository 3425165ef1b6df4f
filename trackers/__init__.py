"""Point trackers (`trackers.point`), segmenters (`trackers.segmenters`) and the SAM-PT method (`trackers.sampt`).

The names a user needs are exported here and imported on first use, so ``import trackers`` (and every light
submodule such as `trackers.checkpoints`) stays free of torch:

    from trackers import SamPt, build_point_tracker, build_segmenter
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "SamPt": "trackers.sampt.model",
    "build_point_tracker": "trackers.point.base",
    "build_segmenter": "trackers.segmenters.base",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'trackers' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
