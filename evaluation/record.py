"""The results record: one typed object for a ``results.json``, written once per run folder (per seed).

Written by the run (`experiments.run.app`, with its provenance) and by the evaluator CLIs
(``python -m evaluation.vos``, ``python -m evaluation.vis``, with the provenance they know); read back by
the summary over seeds, the sweep table, the report and compare (`ResultsRecord.read`).

On disk (``schema_version`` 2): the record's fields as top-level keys, ``num_videos_failed`` derived from
``videos_failed``, then the task-specific ``extra`` keys (e.g. ``results_json`` and
``videos_without_proposals`` of a VIS run, ``merged_from_shards`` of a merge). ``metrics`` is None when
the run was not scored, else ``{"global": {official metric name: unrounded fraction}, ...}`` with
``per_object`` (``"<video>_<id>"`` -> J/F Mean, Recall, Decay) for VOS. NaN is written as null.

Older files are read too: schema 1 run records have the same keys; an evaluator-only ``results.json`` of
schema 1 (``global`` at the top level) is read as a VOS record whose ``metrics`` are those keys.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from datasets.errors import DatasetError
from infra.files import write_json_atomic

SCHEMA_VERSION = 2
RESULTS_FILE = "results.json"


class RecordError(DatasetError):
    """A results.json that cannot be read; the message names the file and the fix."""


@dataclass
class ResultsRecord:
    """One run's (or one evaluator call's) results.

    Attributes:
        task: ``vos`` or ``vis``; dataset, split: the names scored.
        metrics: None when not scored; else ``{"global": {...}, ...}`` (see the module docstring).
        config, config_hash, git_commit, packages, seed, shard, num_shards, date, run_seconds: provenance
            (None or empty where the writer does not know it, e.g. the evaluator CLIs).
        world_size: the processes that predicted the run (`experiments.run.ranks`), 1 for one process.
        videos: video -> its prediction info (timing, and the ``rank`` that predicted it) for the videos
            predicted in this invocation.
        num_videos, num_videos_evaluated: videos of the run and videos scored.
        videos_skipped_complete: videos already complete from an earlier invocation.
        videos_failed: video -> traceback.
        extra: task-specific top-level keys written after the fields.
    """

    task: str
    dataset: str
    split: str
    metrics: dict | None = None
    config: dict | None = None
    config_hash: str | None = None
    git_commit: str | None = None
    packages: dict = field(default_factory=dict)
    seed: int | None = None
    shard: int = 0
    num_shards: int = 1
    world_size: int = 1
    date: str | None = None
    run_seconds: float | None = None
    videos: dict = field(default_factory=dict)
    num_videos: int = 0
    num_videos_evaluated: int = 0
    videos_skipped_complete: list = field(default_factory=list)
    videos_failed: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def num_videos_failed(self) -> int:
        return len(self.videos_failed)

    @property
    def global_metrics(self) -> dict[str, float]:
        """Metric name -> value (None values left out); empty when not scored."""
        return {key: value for key, value in ((self.metrics or {}).get("global") or {}).items() if value is not None}

    @property
    def per_object(self) -> dict[str, dict[str, float]]:
        """``"<video>_<id>"`` -> J/F Mean, Recall, Decay (empty for unscored or VIS records)."""
        return dict((self.metrics or {}).get("per_object") or {})

    def to_dict(self) -> dict:
        """The json content: ``schema_version`` first, the fields, ``num_videos_failed``, the extra keys."""
        data = {key: value for key, value in asdict(self).items() if key not in ("extra", "schema_version")}
        data = {"schema_version": self.schema_version, **data, "num_videos_failed": self.num_videos_failed}
        return nan_to_none({**data, **self.extra})

    def write(self, folder: str | Path, name: str = RESULTS_FILE) -> Path:
        """Write ``folder/name`` atomically (replacing an older file); returns its path."""
        return write_json_atomic(Path(folder) / name, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> "ResultsRecord":
        """A record from its json content (schema 1 or 2); unknown keys go to ``extra``."""
        data = dict(data)
        if "metrics" not in data and "global" in data:  # schema 1 evaluator output: the metrics at the top
            metrics = {key: data.pop(key) for key in list(data) if key not in ("dataset", "split")}
            data = {**data, "metrics": metrics, "task": "vos"}
        data.pop("num_videos_failed", None)
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {key: data.pop(key) for key in list(data) if key in known}
        values.setdefault("task", "vos")
        values.setdefault("dataset", "")
        values.setdefault("split", "")
        return cls(**values, extra=data)

    @classmethod
    def read(cls, path: str | Path) -> "ResultsRecord":
        """Read a results.json; `RecordError` naming the file when it is missing or not a record."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RecordError(f"cannot read {path}: {error}; re-run the evaluation into that folder") from None
        if not isinstance(data, dict):
            raise RecordError(f"{path} is not a results record (a json object); re-run the evaluation")
        return cls.from_dict(data)


def nan_to_none(value):
    """``value`` with every float NaN (also inside dicts and lists) replaced by None (json null)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(v) for v in value]
    return value

