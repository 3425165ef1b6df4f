"""Dataset readers by name: `build_reader(name, root, split, **options)`; their videos: `read_videos`.

Every reader takes ``(root, split, ...)`` keyword options of its own, iterates over `Video` objects,
has ``len()`` and ``video(name)``, and exposes ``sequences`` (the video names of the split, in order).
"""
from __future__ import annotations

import importlib

# name -> "module:Class"; imported only when built.
READERS: dict[str, str] = {
    "davis16": "datasets.davis:Davis16Reader",
    "davis17": "datasets.davis:Davis17Reader",
    "ytvos18": "datasets.ytvos:YouTubeVOS2018Reader",
    "ytvos19": "datasets.ytvos:YouTubeVOS2019Reader",
    "mose": "datasets.mose:MoseReader",
    "uvo": "datasets.uvo:UvoReader",
    "sav": "datasets.sav:SavReader",
    "vost": "datasets.vost:VostReader",
    "lvos": "datasets.lvos:LvosReader",
    "mosev2": "datasets.mosev2:Mosev2Reader",
    "folder": "datasets.folder:FolderReader",
    "lv1": "datasets.long_video:LongVideoReader",
    "lv3": "datasets.long_video:LongVideo3Reader",
    "bdd100k": "datasets.bdd100k:Bdd100kReader",
}


def build_reader(name: str, root, split: str, **options):
    """Build the reader of benchmark ``name`` for ``split`` under ``root``."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(READERS))}")
    module_name, class_name = READERS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(root, split=split, **options)


def read_videos(name: str, root, split: str, select=None, **options) -> list:
    """The `Video` objects of ``split`` of benchmark ``name`` under ``root`` (the one way to read videos).

    Args:
        select: None (every video of the split, in split order) or a function from the split's video
            names (list, split order) to the names wanted, in the order wanted (e.g. a subset or a shard).
        options: the reader's own keyword options (e.g. ``resolution`` for DAVIS).
    """
    reader = build_reader(name, root, split, **options)
    names = list(reader.sequences)
    if select is not None:
        names = list(select(names))
    return [reader.video(video) for video in names]
