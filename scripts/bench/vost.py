"""Benchmark: VOST scoring, `evaluation.vost` vs the official VOST evaluator (``--official PATH``, a
TRI-ML/VOST checkout; it has one process) or, without it, the straightforward `reference.vost`.

Inputs: `tests.inputs.make_vost_inputs` with `BENCH_GT` (synthetic VOST val root at 480x854, indexed
masks every 5th frame, seeded jittered predictions). Printed: seconds per 1000 scored (object, frame)
pairs for each (ours including reading the videos; workers=2 including starting the processes), the
speed-ups, and the largest difference of the global and per-object scores (it must stay below 1e-9).

    python -m scripts.bench.vost [--official /path/to/VOST]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from scripts.bench.sav import report

BENCH_GT = dict(layout="vost", num_videos=6, num_frames=120, height=480, width=854, num_objects=5, seed=11)


def baseline(official: Path | None, inputs: dict):
    """(global, per_object) fractions of the official tool or the reference."""
    if official is None:
        from reference.vost import reference_vost

        return reference_vost(inputs["gt"], inputs["pred"])
    from scripts.record.vost import run_official

    scores = run_official(official, inputs["gt"], inputs["pred"])
    return scores["global"], scores["per_object"]


def main(argv: list[str] | None = ()) -> None:
    parser = argparse.ArgumentParser(description="VOST scoring: evaluation.vost vs the official tool or reference.vost")
    parser.add_argument("--official", type=Path, help="a TRI-ML/VOST checkout (its evaluation/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from datasets.registry import read_videos
    from evaluation.vost import evaluate_vost
    from tests.inputs import make_vost_inputs

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_vost_") as tmp:
        inputs = make_vost_inputs(Path(tmp), gt=BENCH_GT)
        videos = read_videos("vost", inputs["gt"], "val")
        pairs = sum((len(v.frames_to_write) - 2) * len(v.objects) for v in videos)
        print(f"synthetic VOST: {len(videos)} videos at {BENCH_GT['height']}x{BENCH_GT['width']}, "
              f"{pairs} scored (object, frame) pairs")
        per_k = 1000.0 / pairs
        name = "official evaluation_method" if args.official else "reference.vost"
        report("evaluation.vost", name,
               lambda workers: evaluate_vost(read_videos("vost", inputs["gt"], "val"), inputs["pred"], workers=workers),
               per_k, (1,),
               lambda _processes: baseline(args.official, inputs))


if __name__ == "__main__":
    main(sys.argv[1:])
