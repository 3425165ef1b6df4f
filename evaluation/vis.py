"""Class-agnostic video instance segmentation scoring (UVO / YouTube-VIS style AP and AR).

Command line::

    python -m evaluation.vis --gt GT.json --results RESULTS.json [--output DIR]

Python: :func:`evaluate_vis` (gt json path or dict, results json path or list) -> the 12 numbers;
:func:`score_vis` returns a `VisResult` (numbers, counts, writers). The results files of SAM-PT runs are
written by `experiments.tools.submission.write_uvo_results`; :func:`encode_mask` encodes one mask.

Behaviour (``docs/protocol.md`` section 5), equal to the official YouTube-VIS cocoapi evaluator run as the
UVO script runs it (every detection's category set to 1, ``useCats`` off) and, with UVO's one GT category,
as SAM-PT runs it (``useCats`` on) (``tests/evaluation/test_official_vis.py`` compares all 12 numbers with its recorded
output to 1e-12, ``tests/fixtures/official_vis``); metric details in `evaluation.vis_metrics`.

* Ground truth: a YouTube-VIS json (``videos`` with ``id, height, width, length`` (or ``file_names``),
  ``annotations`` with ``id, video_id, category_id, iscrowd`` and per-frame ``segmentations`` (compressed
  or uncompressed RLE, polygons, or null) and ``areas``, and ``categories``). GT tracks are pooled over
  the GT category list in increasing category id, then json order (as the official code does); a track
  whose category is not in that list is left out with a warning. Category 1 must be in the list (the
  official code would silently drop every collapsed detection otherwise).
* Results: a list of tracks ``{video_id, score, category_id (ignored), segmentations}`` with exactly one
  entry per frame of the video: a compressed RLE ``{"size": [h, w], "counts": "<str>"}`` or null
  (absent). Errors name the track index and the fix. An empty list scores 0 where GT exists (the
  official ``loadRes`` crashes on it).
* Outputs in ``--output`` (default ``<results json folder>/<results json stem>_eval``): ``results.json``
  (`evaluation.record.ResultsRecord`, task ``vis``: ``metrics.global`` = {AP, AP50, ..., ARl} at full
  precision, -1 where nothing counts), ``results.csv`` (one row, same columns, full precision) and
  ``precision_recall.csv`` (the precision-recall curves, area all, 100 detections, per IoU threshold);
  the table is printed as fractions.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from pycocotools import mask as mask_utils

from datasets.errors import DatasetError
from infra.files import atomic_write_text
from datasets.rle import encode_rle, segmentation_rle
from evaluation.record import ResultsRecord
from evaluation.vis_metrics import (IOU_THRESHOLDS, RECALL_THRESHOLDS, STAT_NAMES, VideoTracks, precision_recall,
                                    summarize, track_area)

log = logging.getLogger(__name__)

RESULT_FORMAT = ('a json list of tracks {"video_id": int, "score": float, "category_id": 1, '
                 '"segmentations": [one entry per video frame: {"size": [h, w], "counts": "<compressed RLE>"} '
                 'or null]}')


class VisInputError(DatasetError):
    """A ground-truth or results json that cannot be scored; the message names the entry and the fix."""


# ----------------------------------------------------------------------------------------------- masks
#: (H, W) bool/uint8 mask -> compressed RLE ``{"size": [H, W], "counts": str}`` (json-ready)
encode_mask = encode_rle


# ----------------------------------------------------------------------------------------- ground truth
@dataclass
class GtVideo:
    """One GT video: size, length and its pooled GT tracks (RLE dicts with bytes counts, or None)."""

    video_id: int
    height: int
    width: int
    length: int
    segmentations: list[list] = field(default_factory=list, repr=False)
    areas: list[float] = field(default_factory=list)
    crowd: list[bool] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def _read_json(source, what: str):
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise VisInputError(f"{what} json not found: {path}")
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise VisInputError(f"{path} is not valid JSON ({error})") from None
    return source


def _gt_rle(segmentation, height: int, width: int, where: str):
    """A GT frame's segmentation -> RLE dict (bytes counts), or None when absent (null / empty)."""
    return segmentation_rle(segmentation, height, width, where, error=VisInputError) if segmentation else None


def _video_length(entry: dict, where: str) -> int:
    if "length" in entry:
        return int(entry["length"])
    if "file_names" in entry:
        return len(entry["file_names"])
    raise VisInputError(f"{where}: video {entry.get('id')} has neither 'length' nor 'file_names'")


def load_ground_truth(gt_json) -> dict[int, GtVideo]:
    """Read a YouTube-VIS style GT json (path or loaded dict) -> {video_id: GtVideo}, tracks pooled."""
    where = str(gt_json) if isinstance(gt_json, (str, Path)) else "ground truth"
    data = _read_json(gt_json, "ground-truth")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("videos", "annotations", "categories")):
        raise VisInputError(f"{where} must be a YouTube-VIS style json with 'videos', 'annotations' and "
                            "'categories' lists")
    videos: dict[int, GtVideo] = {}
    for entry in data["videos"]:
        for key in ("id", "height", "width"):
            if key not in entry:
                raise VisInputError(f"{where}: video {entry.get('id')} has no '{key}'")
        if entry["id"] in videos:
            raise VisInputError(f"{where}: video id {entry['id']} appears twice")
        videos[entry["id"]] = GtVideo(entry["id"], int(entry["height"]), int(entry["width"]),
                                      _video_length(entry, where))
    category_ids = sorted({c["id"] for c in data["categories"]})
    if 1 not in category_ids:
        raise VisInputError(f"{where}: category 1 is not among the GT categories {category_ids[:10]}; the "
                            "class-agnostic evaluation sets every detection to category 1 and would drop them all")
    seen_ids: set = set()
    by_video_category: dict[tuple[int, int], list[dict]] = {}
    dropped = 0
    for index, ann in enumerate(data["annotations"]):
        ann_where = f"{where}: annotation {index} (id {ann.get('id')})"
        for key in ("id", "video_id", "category_id", "iscrowd", "segmentations", "areas"):
            if key not in ann:
                raise VisInputError(f"{ann_where} has no '{key}'")
        if ann["video_id"] not in videos:
            raise VisInputError(f"{ann_where} refers to video {ann['video_id']}, which is not in 'videos'")
        if ann["id"] in seen_ids:
            raise VisInputError(f"{ann_where}: annotation id {ann['id']} appears twice")
        seen_ids.add(ann["id"])
        if ann["category_id"] not in category_ids:
            dropped += 1
            continue
        by_video_category.setdefault((ann["video_id"], ann["category_id"]), []).append(ann)
    if dropped:
        log.warning("%s: %d GT tracks have a category not in 'categories' and are not scored (as officially)",
                    where, dropped)
    for video in videos.values():
        for category in category_ids:
            for ann in by_video_category.get((video.video_id, category), []):
                _add_gt_track(video, ann, f"{where}: annotation id {ann['id']} (video {video.video_id})")
    return videos


def _add_gt_track(video: GtVideo, ann: dict, where: str) -> None:
    per_frame, areas = ann["segmentations"], ann["areas"]
    if not isinstance(per_frame, list) or len(per_frame) != video.length:
        raise VisInputError(f"{where} has {len(per_frame) if isinstance(per_frame, list) else 'no list of'} "
                            f"segmentations for a video of {video.length} frames")
    if not isinstance(areas, list):
        raise VisInputError(f"{where}: 'areas' must be a list (one area or null per frame)")
    if ann["id"] == 0:
        log.warning("%s has id 0: as in the official code, detections matched to it count as unmatched", where)
    video.segmentations.append([_gt_rle(s, video.height, video.width, f"{where}, frame {t}")
                                for t, s in enumerate(per_frame)])
    video.areas.append(track_area(areas))
    video.crowd.append(bool(ann["iscrowd"]))
    video.ids.append(ann["id"])


# ---------------------------------------------------------------------------------------------- results
def _det_rle(segmentation, video: GtVideo, where: str):
    if segmentation is None:
        return None
    if isinstance(segmentation, list):
        raise VisInputError(f"{where}: polygons are not accepted; write the mask as a compressed RLE "
                            "(evaluation.vis.encode_mask) or null when absent")
    if not isinstance(segmentation, dict) or "counts" not in segmentation or "size" not in segmentation:
        raise VisInputError(f"{where}: expected a compressed RLE {{'size': [h, w], 'counts': str}} or null, "
                            f"got {str(segmentation)[:60]}")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        raise VisInputError(f"{where}: uncompressed RLE (counts is a list); compress it, e.g. "
                            "pycocotools.mask.frPyObjects(rle, h, w) then counts.decode('ascii'), or use "
                            "evaluation.vis.encode_mask on the binary mask")
    if not isinstance(counts, (str, bytes)):
        raise VisInputError(f"{where}: RLE 'counts' must be a string, got {type(counts).__name__}")
    if list(segmentation["size"]) != [video.height, video.width]:
        raise VisInputError(f"{where}: RLE size {segmentation['size']} differs from video {video.video_id}'s "
                            f"[height, width] = [{video.height}, {video.width}]; encode masks at the video's size")
    return {"size": [video.height, video.width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def load_results(results, videos: dict[int, GtVideo]) -> dict[int, tuple[list[list], list[float]]]:
    """Validate a results json (path or loaded list) against the GT videos.

    Returns {video_id: (tracks, scores)}: per video, in file order, each track's per-frame RLE dicts
    (bytes counts) or None, and its score.
    """
    where = str(results) if isinstance(results, (str, Path)) else "results"
    data = _read_json(results, "results")
    if not isinstance(data, list):
        raise VisInputError(f"{where} must be {RESULT_FORMAT}; got a {type(data).__name__}")
    known = sorted(videos)
    per_video: dict[int, tuple[list[list], list[float]]] = {}
    for index, track in enumerate(data):
        track_where = f"{where}: track {index}"
        if not isinstance(track, dict):
            raise VisInputError(f"{track_where} must be a dict, see the format: {RESULT_FORMAT}")
        for key in ("video_id", "score", "segmentations"):
            if key not in track:
                raise VisInputError(f"{track_where} has no '{key}'; format: {RESULT_FORMAT}")
        video = videos.get(track["video_id"])
        if video is None:
            raise VisInputError(f"{track_where}: unknown video_id {track['video_id']!r}; the GT json has ids "
                                f"{known[:10]}{' ...' if len(known) > 10 else ''} (use the json 'id' of the video)")
        score = track["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise VisInputError(f"{track_where}: score must be a finite number, got {score!r}")
        per_frame = track["segmentations"]
        if not isinstance(per_frame, list) or len(per_frame) != video.length:
            got = len(per_frame) if isinstance(per_frame, list) else type(per_frame).__name__
            raise VisInputError(f"{track_where} (video {video.video_id}) has {got} segmentations but the video has "
                                f"{video.length} frames; give one entry per frame, null where the object is absent")
        rles = [_det_rle(s, video, f"{track_where} (video {video.video_id}), frame {t}") for t, s in enumerate(per_frame)]
        tracks, scores = per_video.setdefault(video.video_id, ([], []))
        tracks.append(rles)
        scores.append(float(score))
    return per_video


# ---------------------------------------------------------------------------------------------- scoring
@dataclass
class VisResult:
    """Scores of one results file. ``metrics``: the 12 numbers keyed by `STAT_NAMES` (-1: nothing counts);
    ``precision``: (T, R, A, M) the precision the numbers summarise (axes of `evaluation.vis_metrics.accumulate`)."""

    metrics: dict[str, float]
    num_videos: int
    num_gt_tracks: int
    num_detections: int
    precision: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``results.json`` content."""
        return {"global": dict(self.metrics), "num_videos": self.num_videos, "num_gt_tracks": self.num_gt_tracks,
                "num_detections": self.num_detections, **self.extra}

    def csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(STAT_NAMES)
        writer.writerow([repr(float(self.metrics[name])) for name in STAT_NAMES])
        return buffer.getvalue()

    def table(self) -> str:
        """Aligned text table of the 12 numbers as fractions (%.3f, like the official summary)."""
        widths = [max(len(name), 6) for name in STAT_NAMES]
        header = "  ".join(name.rjust(w) for name, w in zip(STAT_NAMES, widths))
        values = "  ".join(f"{self.metrics[name]:.3f}".rjust(w) for name, w in zip(STAT_NAMES, widths))
        return f"{header}\n{values}"

    def precision_recall_csv(self) -> str:
        """``precision_recall.csv`` text: the precision-recall curves (area all, 100 detections per video) of
        every IoU threshold: ``recall`` then one ``iou_<t>`` column per threshold, full precision (``repr``)."""
        curves = self.precision[:, :, 0, -1]  # (T, R)
        rows = [["recall", *[f"iou_{threshold:.2f}" for threshold in IOU_THRESHOLDS]]]
        rows += [[repr(float(recall)), *[repr(float(value)) for value in curves[:, r]]]
                 for r, recall in enumerate(RECALL_THRESHOLDS)]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue()

    def write(self, output_dir: str | Path) -> dict[str, Path]:
        """Write ``results.csv`` and ``precision_recall.csv`` into ``output_dir`` atomically (the results
        record, ``results.json``, is written by the caller: `evaluation.record`)."""
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        paths = {"csv": output_dir / "results.csv", "curves": output_dir / PRECISION_RECALL_FILE}
        atomic_write_text(paths["csv"], self.csv_text())
        atomic_write_text(paths["curves"], self.precision_recall_csv())
        return paths


PRECISION_RECALL_FILE = "precision_recall.csv"


def read_precision_recall_csv(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The curves `VisResult.precision_recall_csv` stored: ((R,) recall grid, {"iou_<t>": (R,) precision}).

    Raises `DatasetError` naming the file when it is missing or not in that layout."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise DatasetError(f"cannot read the precision-recall curves {path}: {error}; score the run again") from None
    if not rows or rows[0][:1] != ["recall"] or len(rows) < 2:
        raise DatasetError(f"{path} is not a precision-recall file (header recall,iou_0.50,...)")
    values = np.array([[float(value) for value in row] for row in rows[1:]], np.float64)
    return values[:, 0], {name: values[:, k] for k, name in enumerate(rows[0][1:], start=1)}


def score_vis(gt_json, results) -> VisResult:
    """Score ``results`` (path or list of tracks) against ``gt_json`` (path or dict) -> `VisResult`."""
    videos = load_ground_truth(gt_json)
    detections = load_results(results, videos)
    inputs = _video_tracks(videos, detections)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        precision, recall = precision_recall(inputs)
        metrics = summarize(precision, recall)
    return VisResult(
        metrics=metrics,
        num_videos=len(videos),
        num_gt_tracks=sum(len(v.segmentations) for v in videos.values()),
        num_detections=sum(len(t) for t, _ in detections.values()),
        precision=precision,
    )


def _video_tracks(videos: dict[int, GtVideo], detections: dict) -> list[VideoTracks]:
    inputs = []
    for video in videos.values():
        tracks, scores = detections.get(video.video_id, ([], []))
        inputs.append(VideoTracks(
            video_id=video.video_id,
            num_frames=video.length,
            gt_segmentations=video.segmentations,
            gt_areas=np.array(video.areas, dtype=np.float64),
            gt_crowd=np.array(video.crowd, dtype=bool),
            gt_ids=np.array(video.ids, dtype=np.int64),
            det_segmentations=tracks,
            det_scores=np.array(scores, dtype=np.float64),
        ))
    return inputs


def evaluate_vis(gt_json, results) -> dict[str, float]:
    """The 12 class-agnostic VIS numbers ``{AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl}``.

    Args:
        gt_json: GT json path or its loaded dict.
        results: results json path or its loaded list of tracks.
    """
    return score_vis(gt_json, results).metrics


# ------------------------------------------------------------------------------------------------- CLI
def default_output_dir(results_path: str | Path) -> Path:
    """``<results json folder>/<results json stem>_eval`` (never the results file's own folder, whose
    ``results.json`` may be the submission itself)."""
    path = Path(results_path)
    return path.parent / f"{path.stem}_eval"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sampt-eval-vis",
        description="Class-agnostic YouTube-VIS style AP/AR of video instance tracks (UVO evaluation).",
    )
    parser.add_argument("--gt", required=True, help="ground-truth json (YouTube-VIS / UVO layout)")
    parser.add_argument("--results", required=True, help="results json: " + RESULT_FORMAT)
    parser.add_argument("--output", help="folder for results.json and results.csv "
                                         "(default: <results folder>/<results stem>_eval)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (``sampt-eval-vis``); returns the exit status (0 ok, 2 bad input)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    output = Path(args.output) if args.output else default_output_dir(args.results)
    if (output / "results.json").resolve() == Path(args.results).resolve():
        print(f"error: --output {output} would overwrite the results file {args.results}; choose another folder",
              file=sys.stderr)
        return 2
    try:
        result = score_vis(args.gt, args.results)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result.extra.update({"gt": str(args.gt), "results": str(args.results)})
    paths = result.write(output)
    record = ResultsRecord(task="vis", dataset="", split="", metrics=result.to_dict(), num_videos=result.num_videos,
                           num_videos_evaluated=result.num_videos)
    paths["json"] = record.write(output)
    print(result.table())
    print(f"\n{result.num_detections} detections, {result.num_gt_tracks} GT tracks in {result.num_videos} videos; "
          "written: " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
