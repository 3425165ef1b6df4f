"""Benchmark: BDD100K scoring, `evaluation.bdd100k` vs the authors' BDD100K evaluator (``--official PATH --davis
PATH``: a SysCV/sam-pt checkout, its ``BDD100KEvaluator`` with its default process pool, one process per CPU,
and the davis2017-evaluation checkout it imports) or, without them, the straightforward `reference.bdd100k`.

Inputs: `tests.inputs.make_bdd100k_inputs` with `BENCH_GT` (a synthetic BDD100K VOS root at BDD100K's 720x1280,
every frame annotated, seeded jittered label-map predictions). Printed: seconds per 1000 scored (object, frame)
pairs for each (ours including reading the videos; workers=2 including starting the processes; the official
time including its process start), the speed-ups, and the largest difference of the global and per-object
scores (it must stay below 1e-9).

    python -m scripts.bench.bdd100k [--official /path/to/sam-pt --davis /path/to/davis2017-evaluation]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

from scripts.bench.sav import report

BENCH_GT = dict(layout="bdd100k", num_videos=3, num_frames=30, height=720, width=1280, num_objects=5, seed=17)


def baseline(official: Path | None, davis: Path | None, inputs: dict):
    """(global, per_object) numbers of the official tool or the reference (global NaN where the tool gives NaN;
    per-object NaN entries, ours None, and the ``short-medium-long`` text are left out)."""
    if official is None:
        from reference.bdd100k import reference_bdd100k

        scores = reference_bdd100k(inputs["split"], inputs["pred"])
    else:
        from scripts.record.bdd100k import run_official

        recorded = run_official(official, davis, "default", inputs["split"], inputs["pred"])
        scores = ({name: math.nan if value is None else value for name, value in recorded["global"].items()},
                  recorded["per_object"])
    per_object = {key: {name: value for name, value in row.items() if isinstance(value, (int, float))
                        and not math.isnan(value)} for key, row in scores[1].items()}
    return scores[0], per_object


def main(argv: list[str] | None = ()) -> None:
    parser = argparse.ArgumentParser(description="BDD100K scoring: evaluation.bdd100k vs the authors' evaluator "
                                                 "or reference.bdd100k")
    parser.add_argument("--official", type=Path, help="a SysCV/sam-pt checkout")
    parser.add_argument("--davis", type=Path, help="a davisvideochallenge/davis2017-evaluation checkout")
    args = parser.parse_args(argv)
    if (args.official is None) != (args.davis is None):
        parser.error("--official and --davis go together (the authors' evaluator imports davis2017)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from datasets.registry import read_videos
    from evaluation.bdd100k import evaluate_bdd100k
    from tests.inputs import make_bdd100k_inputs

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_bdd100k_") as tmp:
        inputs = make_bdd100k_inputs(Path(tmp), gt=BENCH_GT)
        videos = read_videos("bdd100k", inputs["gt"], "val")
        pairs = sum(video.num_frames - 1 - obj.first_frame for video in videos for obj in video.objects)
        print(f"synthetic BDD100K: {len(videos)} videos at {BENCH_GT['height']}x{BENCH_GT['width']}, "
              f"{pairs} scored (object, frame) pairs")

        def ours(workers: int):
            return evaluate_bdd100k(read_videos("bdd100k", inputs["gt"], "val"), inputs["pred"], workers=workers)

        name = "official BDD100KEvaluator" if args.official else "reference.bdd100k"
        report("evaluation.bdd100k", name, ours, 1000.0 / pairs, (os.cpu_count() or 1,) if args.official else (1,),
               lambda processes: baseline(args.official, args.davis, inputs))


if __name__ == "__main__":
    main(sys.argv[1:])
