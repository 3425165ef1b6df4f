"""The results record (evaluation.record): written once, read back equal, NaN as null, older files read."""
from __future__ import annotations

import json

import pytest

from evaluation.record import SCHEMA_VERSION, RecordError, ResultsRecord


def test_round_trip_keeps_fields_extra_keys_and_writes_nan_as_null(tmp_path):
    metrics = {"global": {"AP": 0.25, "AR1": float("nan")}}
    record = ResultsRecord(task="vis", dataset="uvo", split="val", metrics=metrics, seed=3, videos={"a": {"fps": 2.0}}, num_videos=2, num_videos_evaluated=2,
                           videos_failed={"b": "Traceback ..."}, extra={"results_json": "uvo_results.json"})
    path = record.write(tmp_path)
    data = json.loads(path.read_text())
    assert list(data)[0] == "schema_version" and data["schema_version"] == SCHEMA_VERSION == 2
    assert data["num_videos_failed"] == 1 and data["results_json"] == "uvo_results.json"
    assert data["metrics"]["global"] == {"AP": 0.25, "AR1": None}
    back = ResultsRecord.read(path)
    assert back.extra == {"results_json": "uvo_results.json"} and back.videos_failed == {"b": "Traceback ..."}
    assert back.global_metrics == {"AP": 0.25} and back.seed == 3 and back.per_object == {}


def test_schema_1_files_are_read(tmp_path):
    run = {"schema_version": 1, "config": {"seed": 0}, "seed": 0, "dataset": "davis17", "split": "val", "task": "vos",
           "metrics": {"global": {"J&F-Mean": 0.5}, "per_object": {"v_1": {"J-Mean": 0.4}}}, "num_videos_failed": 0,
           "run_seconds": 1.5, "merged_from_shards": True}
    (tmp_path / "run.json").write_text(json.dumps(run))
    record = ResultsRecord.read(tmp_path / "run.json")
    assert record.schema_version == 1 and record.per_object == {"v_1": {"J-Mean": 0.4}} and record.run_seconds == 1.5
    assert record.extra == {"merged_from_shards": True}
    evaluator = {"global": {"J&F-Mean": 0.7}, "per_object": {}, "dataset": "davis17", "split": "val",
                 "num_sequences": 1}
    (tmp_path / "eval.json").write_text(json.dumps(evaluator))
    record = ResultsRecord.read(tmp_path / "eval.json")
    assert record.task == "vos" and record.dataset == "davis17" and record.global_metrics == {"J&F-Mean": 0.7}
    assert record.metrics["num_sequences"] == 1


def test_unreadable_files_name_the_path(tmp_path):
    with pytest.raises(RecordError, match="absent.json"):
        ResultsRecord.read(tmp_path / "absent.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(RecordError, match="list.json"):
        ResultsRecord.read(tmp_path / "list.json")
