"""Benchmark: MOSEv2 scoring, `evaluation.mosev2` vs the official MOSEv2 evaluator (``--official PATH``, a
henghuiding/MOSE-api checkout, its ``MOSEv2/sam2_rcms/tools/score.py`` with its default process pool, one
process per CPU) or, without it, the straightforward `reference.mosev2`.

Inputs: `tests.inputs.make_mosev2_inputs` with `BENCH_GT` (synthetic MOSEv2 valid root at 480x854, every frame
annotated, seeded jittered predictions). Printed: seconds per 1000 scored (object, frame) pairs for each (ours
including reading the videos; workers=2 including starting the processes; the official time including its
process start and folder scan), the speed-ups, and the largest difference of the global and per-object scores
(it must stay below 1e-9).

    python -m scripts.bench.mosev2 [--official /path/to/MOSE-api]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from scripts.bench.sav import report

BENCH_GT = dict(layout="mosev2", num_videos=6, num_frames=60, height=480, width=854, num_objects=5, seed=13)


def baseline(official: Path | None, inputs: dict, processes: int):
    """(global, per_object) fractions of the official tool (``processes`` processes) or the reference."""
    if official is None:
        from reference.mosev2 import reference_mosev2

        return reference_mosev2(inputs["split"], inputs["pred"])
    from scripts.record.mosev2 import run_official

    scores = run_official(official, inputs["split"], inputs["pred"], processes=processes)
    per_object = {key: {name: value for name, value in row.items() if value is not None}  # None: no segment
                  for key, row in scores["per_object"].items()}
    return scores["global"], per_object


def main(argv: list[str] | None = ()) -> None:
    parser = argparse.ArgumentParser(description="MOSEv2 scoring: evaluation.mosev2 vs the official tool or "
                                                 "reference.mosev2")
    parser.add_argument("--official", type=Path, help="a henghuiding/MOSE-api checkout")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from datasets.registry import read_videos
    from evaluation.mosev2 import evaluate_mosev2, scored_frames
    from tests.inputs import make_mosev2_inputs

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_mosev2_") as tmp:
        inputs = make_mosev2_inputs(Path(tmp), gt=BENCH_GT)
        videos = read_videos("mosev2", inputs["gt"], "valid")
        pairs = sum(len(scored_frames(v)) * len(v.meta_ids) for v in videos)
        print(f"synthetic MOSEv2: {len(videos)} videos at {BENCH_GT['height']}x{BENCH_GT['width']}, "
              f"{pairs} scored (object, frame) pairs")
        per_k = 1000.0 / pairs

        def ours(workers: int):
            return evaluate_mosev2(read_videos("mosev2", inputs["gt"], "valid"), inputs["pred"], workers=workers)

        name = "official score.py" if args.official else "reference.mosev2"
        report("evaluation.mosev2", name, ours, per_k,
               (os.cpu_count() or 1,) if args.official else (1,),
               lambda processes: baseline(args.official, inputs, processes))


if __name__ == "__main__":
    main(sys.argv[1:])
