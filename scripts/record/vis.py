"""Record the official YouTube-VIS evaluator as SAM-PT runs it for UVO (tests/fixtures/official_vis).

The inputs are deterministic (`tests.inputs.make_vis_inputs`, shared with the test): for each pair in
`VIS_PAIRS`, a ground-truth json in the YouTube-VIS / UVO layout and a results json, drawn from a seed
(`make_vis_pair`):

- videos of 360x640 with 5-7 frames and ids out of order; GT tracks are moving ellipses of small,
  medium and large average area (the YouTube-VIS area ranges 128^2 / 256^2), absent (null) on some
  frames, empty (area 0) on some; one crowd track; in pair 2 also a polygon and an uncompressed-RLE
  track, a GT track with annotation id 0, one GT video without any track, and static rectangles on the
  evaluator's decision points (`_exact_tracks`: average areas on the range bounds, an IoU of exactly 0.5,
  a detection with equal IoU with two GT tracks);
- detections: jittered copies of GT tracks (0-3 per track, some frames missing or empty, some cut
  short), false positives, scores rounded to 0.05 so that ties occur; in pair 2 one video has 110
  detections (more than maxDets = 100).

This script keeps what runs the official code: `record` runs SAM-PT's copy of the YouTube-VIS API (``sam_pt/vis_eval/mask2former_video/data_video/
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

`tests/evaluation/test_official_vis.py` regenerates the inputs (`tests.inputs`) and compares `evaluation.vis.evaluate_vis`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import VIS_PAIRS, make_vis_inputs

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


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
    recorded = {"official_commit": official_commit(official, commit), "pairs": VIS_PAIRS, "stat_names": STAT_NAMES,
                "scores": {}}
    for name, options in VIS_PAIRS.items():
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
    return run_recording_cli(parser, argv, make_vis_inputs, record, lambda recorded: recorded["scores"])


if __name__ == "__main__":
    sys.exit(main())
