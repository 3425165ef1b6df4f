"""Record the official YouTube-VIS evaluator as SAM-PT runs it for UVO (tests/fixtures/official_vis).

The inputs are deterministic (`make_inputs`): for each pair in `PAIRS`, a ground-truth json in the
YouTube-VIS / UVO layout and a results json, drawn from a seed (`make_pair`):

- videos of 360x640 with 5-7 frames and ids out of order; GT tracks are moving ellipses of small,
  medium and large average area (the YouTube-VIS area ranges 128^2 / 256^2), absent (null) on some
  frames, empty (area 0) on some; one crowd track; in pair 2 also a polygon and an uncompressed-RLE
  track, a GT track with annotation id 0, one GT video without any track, and static rectangles on the
  evaluator's decision points (`_exact_tracks`: average areas on the range bounds, an IoU of exactly 0.5,
  a detection with equal IoU with two GT tracks);
- detections: jittered copies of GT tracks (0-3 per track, some frames missing or empty, some cut
  short), false positives, scores rounded to 0.05 so that ties occur; in pair 2 one video has 110
  detections (more than maxDets = 100).

`record` runs SAM-PT's copy of the YouTube-VIS API (``sam_pt/vis_eval/mask2former_video/data_video/
datasets/ytvis_api/{ytvos,ytvoseval}.py``) unmodified as SAM-PT's ``ytvis_eval.py``
``_evaluate_predictions_on_coco`` does for UVO: ``YTVOS(gt_json)``, ``loadRes(results)`` (every result
with ``category_id`` 1, the one class of SAM-PT's class-agnostic UVO metadata, ``datasets/uvo.py``),
``YTVOSeval(gt, dt)`` with ``params.maxDets = [1, 10, 100]``, ``evaluate()``, ``accumulate()``,
``summarize()``; it stores the 12 ``stats`` in ``vis.json``. With ``useCats`` at its default (on) and one
GT category, this equals the UVO script's class-agnostic setting (``useCats`` off), which is recorded too
(``uvo_script``), and for pair 2 also on a copy of its GT where every other track has category 2 (the
UVO script pools GT over categories; SAM-PT's setting would not). Commands::

    # 1. inputs (this repository's venv)
    .venv/bin/python -m scripts.record.vis inputs --out /tmp/vis_inputs
    # 2. the official evaluator (SysCV/sam-pt; it needs numpy and pycocotools, and imports matplotlib,
    #    which the scoring never calls), from this repository's root
    /path/to/venv/bin/python -m scripts.record.vis record --official /path/to/sam-pt \\
        --inputs /tmp/vis_inputs --out tests/fixtures/official_vis

`tests/evaluation/test_official_vis.py` regenerates the inputs and compares `evaluation.vis.evaluate_vis`.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import official_commit, recording_parser, run_recording_cli

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
HEIGHT, WIDTH = 360, 640
#: pair name -> seed and options of `make_pair`
PAIRS = {
    "pair1": dict(seed=102, video_ids=(7, 3, 12), extras=False),
    "pair2": dict(seed=202, video_ids=(5, 9, 2, 14), extras=True),
}
#: (mean semi-axis range) of a track's ellipse per area class: small < 128^2, medium, large > 256^2 px
AXES = {"small": (12, 60), "medium": (80, 135), "large": (160, 200)}


def ellipse_mask(cx: float, cy: float, a: float, b: float) -> np.ndarray:
    """(HEIGHT, WIDTH) bool ellipse with centre (cx, cy) and semi-axes (a, b) along x and y."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    y0, y1 = max(int(np.floor(cy - b)), 0), min(int(np.ceil(cy + b)) + 1, HEIGHT)
    x0, x1 = max(int(np.floor(cx - a)), 0), min(int(np.ceil(cx + a)) + 1, WIDTH)
    if y0 < y1 and x0 < x1:
        ys, xs = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] = ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0
    return mask


def encode(mask: np.ndarray) -> dict:
    """(H, W) bool -> compressed RLE with str counts (json-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed(mask: np.ndarray) -> dict:
    """(H, W) bool -> uncompressed RLE (column-major run lengths starting with zeros)."""
    flat = mask.astype(np.uint8).ravel(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": [HEIGHT, WIDTH], "counts": counts}


def polygon(cx: float, cy: float, a: float, b: float, sides: int = 12) -> list:
    """The ellipse as one polygon ``[[x0, y0, x1, y1, ...]]``."""
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    return [np.stack([cx + a * np.cos(angles), cy + b * np.sin(angles)], axis=1).round(2).ravel().tolist()]


def _track(rng: np.random.Generator, length: int, size: str) -> list[tuple[float, float, float, float] | None]:
    """Per frame (cx, cy, a, b) of a moving ellipse of the given area class, None where absent."""
    low, high = AXES[size]
    a, b = rng.uniform(low, high, 2)
    cx, cy = rng.uniform(0.2 * WIDTH, 0.8 * WIDTH), rng.uniform(0.2 * HEIGHT, 0.8 * HEIGHT)
    vx, vy = rng.uniform(-15, 15, 2)
    start = int(rng.integers(0, 2))
    end = length - int(rng.integers(0, 2))
    return [(cx + vx * t, cy + vy * t, a, b) if start <= t < end else None for t in range(length)]


def _gt_annotation(ann_id: int, video_id: int, shapes, rng, style: str = "rle", crowd: bool = False) -> dict:
    segmentations, areas, boxes = [], [], []
    for shape in shapes:
        if shape is None:
            segmentations.append(None)
            areas.append(None)
            boxes.append(None)
            continue
        mask = ellipse_mask(*shape) if rng.random() > 0.08 else np.zeros((HEIGHT, WIDTH), bool)
        if style == "polygon" and mask.any():
            segmentations.append(polygon(*shape))
        elif style == "uncompressed":
            segmentations.append(uncompressed(mask))
        else:
            segmentations.append(encode(mask))
        areas.append(float(mask.sum()))
        ys, xs = np.nonzero(mask)
        boxes.append([float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                      float(ys.max() - ys.min() + 1)] if len(xs) else [0.0, 0.0, 0.0, 0.0])
    return {"id": ann_id, "video_id": video_id, "category_id": 1, "iscrowd": int(crowd),
            "segmentations": segmentations, "areas": areas, "bboxes": boxes,
            "height": HEIGHT, "width": WIDTH, "length": len(shapes)}


def _detection(video_id: int, shapes, rng, jitter: float) -> dict:
    segmentations = []
    cut = len(shapes) - int(rng.integers(0, 3)) if rng.random() < 0.3 else len(shapes)
    for t, shape in enumerate(shapes):
        if shape is None or t >= cut or rng.random() < 0.08:
            segmentations.append(None)
        elif rng.random() < 0.08:
            segmentations.append(encode(np.zeros((HEIGHT, WIDTH), bool)))  # present, empty
        else:
            cx, cy, a, b = shape
            segmentations.append(encode(ellipse_mask(cx + rng.normal(0, jitter * a), cy + rng.normal(0, jitter * b),
                                                     a * rng.uniform(1 - jitter, 1 + jitter),
                                                     b * rng.uniform(1 - jitter, 1 + jitter))))
    return {"video_id": video_id, "score": round(float(rng.integers(1, 21)) * 0.05, 2), "category_id": 1,
            "segmentations": segmentations}


def _rect(x: int, y: int, width: int, height: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[y:y + height, x:x + width] = True
    return mask


def _static_gt(ann_id: int, video_id: int, length: int, rect: tuple[int, int, int, int]) -> dict:
    x, y, width, height = rect
    return {"id": ann_id, "video_id": video_id, "category_id": 1, "iscrowd": 0,
            "segmentations": [encode(_rect(*rect))] * length, "areas": [float(width * height)] * length,
            "bboxes": [[float(x), float(y), float(width), float(height)]] * length,
            "height": HEIGHT, "width": WIDTH, "length": length}


def _static_detection(video_id: int, length: int, rect: tuple[int, int, int, int], score: float) -> dict:
    return {"video_id": video_id, "score": score, "category_id": 1, "segmentations": [encode(_rect(*rect))] * length}


def _exact_tracks(first_id: int, video_id: int, length: int) -> tuple[list, list]:
    """Static rectangles whose numbers sit exactly on the evaluator's decision points:

    - a 128x128 GT square (average area 128^2: small and medium, bounds inclusive) with a detection shifted
      by 10 px, and a 256x256 false positive (256^2: medium and large);
    - a 126x100 GT rectangle with a detection shifted by 42 px: IoU exactly 84 / 168 = 0.5 (matched at the
      0.5 threshold, which is inclusive);
    - GT A then GT B (100x100, B = A moved by (10, 10)) and a detection D = A moved by (10, 0) with equal
      IoU 9000 / 11000 with both (the later GT, B, wins the tie), then a lower-scored detection E = A
      (IoU 1 with A, 0.68 with B): with the tie broken the other way E would only get B, at IoU 0.68.
    """
    gts = [_static_gt(first_id, video_id, length, (20, 20, 128, 128)),
           _static_gt(first_id + 1, video_id, length, (20, 200, 126, 100)),
           _static_gt(first_id + 2, video_id, length, (160, 20, 100, 100)),
           _static_gt(first_id + 3, video_id, length, (170, 30, 100, 100))]
    detections = [_static_detection(video_id, length, (30, 20, 128, 128), 0.55),
                  _static_detection(video_id, length, (370, 100, 256, 256), 0.95),
                  _static_detection(video_id, length, (62, 200, 126, 100), 0.6),
                  _static_detection(video_id, length, (170, 20, 100, 100), 0.9),
                  _static_detection(video_id, length, (160, 20, 100, 100), 0.85)]
    return gts, detections


def make_pair(seed: int, video_ids, extras: bool) -> tuple[dict, list]:
    """(ground-truth json dict, results list) of one pair; see the module docstring."""
    rng = np.random.default_rng(seed)
    videos, annotations, results = [], [], []
    next_id = 0 if extras else 1  # pair 2: a GT annotation with id 0 (the official id-0 quirk)
    for index, video_id in enumerate(video_ids):
        length = int(rng.integers(5, 8))
        videos.append({"id": video_id, "width": WIDTH, "height": HEIGHT, "length": length,
                       "file_names": [f"v{video_id}/{t:05d}.jpg" for t in range(length)]})
        if extras and index == len(video_ids) - 1:  # a video without GT: its detections are all false
            for _ in range(3):
                results.append(_detection(video_id, _track(rng, length, "small"), rng, 0.0))
            continue
        sizes = ["small", "medium", "large", "small", "medium"][:int(rng.integers(3, 6))]
        for k, size in enumerate(sizes):
            shapes = _track(rng, length, size)
            style = "rle"
            if extras and index == 0:
                style = {1: "polygon", 2: "uncompressed"}.get(k, "rle")
            annotations.append(_gt_annotation(next_id, video_id, shapes, rng, style, crowd=(index == 1 and k == 0)))
            next_id += 1
            for _ in range(int(rng.integers(0, 4))):
                results.append(_detection(video_id, shapes, rng, float(rng.uniform(0.0, 0.12))))
        for _ in range(int(rng.integers(1, 4))):  # false positives
            results.append(_detection(video_id, _track(rng, length, str(rng.choice(list(AXES)))), rng, 0.0))
        if extras and index == 2:  # areas on the range bounds, IoU on a threshold, equal IoUs
            exact_gts, detections = _exact_tracks(next_id, video_id, length)
            annotations.extend(exact_gts)
            next_id += len(exact_gts)
            results.extend(detections)
        if extras and index == 1:  # more than maxDets = 100 detections in one video
            for _ in range(110):
                shapes = _track(rng, length, "small")
                results.append(_detection(video_id, [None if s is None else (s[0], s[1], 6.0, 5.0) for s in shapes],
                                          rng, 0.0))
    order = rng.permutation(len(results))
    gt = {"info": {"description": f"synthetic UVO-style pair, seed {seed}"}, "videos": videos,
          "annotations": annotations, "categories": [{"id": 1, "name": "object", "supercategory": "object"}]}
    return gt, [results[i] for i in order]


def two_categories(gt: dict) -> dict:
    """A copy of ``gt`` where every other annotation has category 2 (categories 1 and 2)."""
    gt = copy.deepcopy(gt)
    for index, annotation in enumerate(gt["annotations"]):
        annotation["category_id"] = 2 if index % 2 else 1
    gt["categories"] = [{"id": 2, "name": "thing", "supercategory": "object"}, *gt["categories"]]
    return gt


def make_inputs(out: Path) -> dict[str, Path]:
    """Write ``<pair>_gt.json`` and ``<pair>_results.json`` for every pair (and ``pair2_gt_two_categories.json``)
    under ``out``; returns name -> path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, options in PAIRS.items():
        gt, results = make_pair(**options)
        paths[f"{name}_gt"] = out / f"{name}_gt.json"
        paths[f"{name}_results"] = out / f"{name}_results.json"
        paths[f"{name}_gt"].write_text(json.dumps(gt))
        paths[f"{name}_results"].write_text(json.dumps(results))
        if options["extras"]:
            paths[f"{name}_gt_two_categories"] = out / f"{name}_gt_two_categories.json"
            paths[f"{name}_gt_two_categories"].write_text(json.dumps(two_categories(gt)))
    return paths


# ------------------------------------------------------------------------------------------ recording
def _official_api(official: Path):
    """SAM-PT's ``YTVOS`` and ``YTVOSeval``, imported from their files (the package above them imports
    detectron2, which scoring does not need); matplotlib, imported for drawing only, is a stand-in when
    absent."""
    import importlib.util
    import types

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"):
            sys.modules[name] = types.ModuleType(name)
        sys.modules["matplotlib.collections"].PatchCollection = None
        sys.modules["matplotlib.patches"].Polygon = None
    folder = official / "sam_pt/vis_eval/mask2former_video/data_video/datasets/ytvis_api"
    modules = {}
    for name in ("ytvos", "ytvoseval"):
        spec = importlib.util.spec_from_file_location(f"official_ytvis_api.{name}", folder / f"{name}.py")
        modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[name])
    return modules["ytvos"].YTVOS, modules["ytvoseval"].YTVOSeval


def run_official(official: Path, gt_path: Path, results_path: Path, use_cats: bool) -> list[float]:
    """The 12 ``stats`` of the official evaluator (SAM-PT's UVO call; ``use_cats`` False: the UVO script's)."""
    YTVOS, YTVOSeval = _official_api(official)
    gt = YTVOS(str(gt_path))
    results = json.loads(Path(results_path).read_text())
    for result in results:
        result["category_id"] = 1
    evaluator = YTVOSeval(gt, gt.loadRes(results))
    evaluator.params.maxDets = [1, 10, 100]
    if not use_cats:
        evaluator.params.useCats = 0
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return [float(v) for v in evaluator.stats]


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Score every pair with the official evaluator and write ``out/vis.json``."""
    official = Path(official).resolve()
    inputs = Path(inputs)
    recorded = {"official_commit": official_commit(official, commit), "pairs": PAIRS, "stat_names": STAT_NAMES,
                "scores": {}}
    for name, options in PAIRS.items():
        gt, results = inputs / f"{name}_gt.json", inputs / f"{name}_results.json"
        runs = {"sam_pt": (gt, True), "uvo_script": (gt, False)}
        if options["extras"]:
            runs["uvo_script_two_categories"] = (inputs / f"{name}_gt_two_categories.json", False)
        for setting, (gt_path, use_cats) in runs.items():
            stats = run_official(official, gt_path, results, use_cats)
            recorded["scores"][f"{name}/{setting}"] = dict(zip(STAT_NAMES, stats))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vis.json").write_text(json.dumps(recorded, indent=1) + "\n")
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the ground-truth and results json of every pair",
                                    "run the official YouTube-VIS evaluator on the pairs", "tests/fixtures/official_vis",
                                    official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_inputs, record, lambda recorded: recorded["scores"])


if __name__ == "__main__":
    sys.exit(main())
