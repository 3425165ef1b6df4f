"""Benchmark: SA-V scoring, `evaluation.sav` vs the official SA-V evaluator (``--official PATH``, a
facebookresearch/sam2 checkout) or, without it, the straightforward `reference.sav`.

Inputs: `tests.inputs.make_sav_inputs` with `BENCH_GT` (synthetic SA-V val root at 480x854, masks every
4th frame, seeded jittered predictions). Printed: seconds per 1000 scored (object, frame) pairs for each
(ours including reading the videos; workers=2 including starting the processes), the speed-ups, and the largest difference of the global and per-object scores (it must stay below 1e-9).

    python -m scripts.bench.sav [--official /path/to/sam2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BENCH_GT = dict(layout="sav", num_videos=6, num_frames=96, height=480, width=854, num_objects=5, seed=11)


def timed(function):
    """(value, wall seconds) of ``function()``."""
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def baseline(official: Path | None, inputs: dict, names: list[str], processes: int):
    """(global, per_object) fractions of the official tool (``processes`` processes) or the reference."""
    if official is None:
        from reference.sav import reference_sav

        return reference_sav(inputs["annotations"], inputs["pred"], names)
    from scripts.record.sav import run_official

    scores = run_official(official, inputs["annotations"], inputs["pred"], True, processes)
    per_object = {k: {m: v / 100 for m, v in row.items()} for k, row in scores["per_object"].items()}
    return {k: v / 100 for k, v in scores["global"].items()}, per_object


def largest_difference(ours, theirs) -> float:
    """Max |ours - theirs| over the global scores and every per-object score ``theirs`` holds (NaN equals NaN)."""
    their_global, their_objects = theirs
    pairs = [(ours.metrics[k], v) for k, v in their_global.items()]
    pairs += [(ours.per_object[key][m], v) for key, row in their_objects.items() for m, v in row.items()]
    return max([0.0] + [0.0 if a != a and b != b else abs(a - b) for a, b in pairs])


def main(argv: list[str] | None = ()) -> None:
    parser = argparse.ArgumentParser(description="SA-V scoring: evaluation.sav vs the official tool or reference.sav")
    parser.add_argument("--official", type=Path, help="a facebookresearch/sam2 checkout (its sav_dataset/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from datasets.registry import read_videos
    from evaluation.sav import evaluate_sav
    from tests.inputs import make_sav_inputs

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_sav_") as tmp:
        inputs = make_sav_inputs(Path(tmp), gt=BENCH_GT)
        videos = read_videos("sav", inputs["gt"], "val")
        pairs = sum(len(v.frames_to_write) - 2 for v in videos for _ in v.objects)
        print(f"synthetic SA-V: {len(videos)} videos at {BENCH_GT['height']}x{BENCH_GT['width']}, "
              f"{pairs} scored (object, frame) pairs")
        per_k = 1000.0 / pairs
        # ours includes reading the videos (the reader reads masks to find each object's first frame), as
        # the official time includes its folder scan
        name = "official sav_benchmark" if args.official else "reference.sav"
        report("evaluation.sav", name,
               lambda workers: evaluate_sav(read_videos("sav", inputs["gt"], "val"), inputs["pred"], workers=workers),
               per_k, (1, 2) if args.official else (1,),
               lambda processes: baseline(args.official, inputs, [v.name for v in videos], processes))


def report(scorer: str, name: str, run_ours, per_k: float, processes: tuple[int, ...], run_baseline) -> None:
    """Time ``run_ours(workers)`` (our result; workers 1 and 2, which must agree) and ``run_baseline(count)`` ->
    (global, per_object) for each count of ``processes``, print the seconds per 1000 pairs and the speed-ups of
    ``scorer``, and exit 1 when our scores differ from the baseline's by more than 1e-9."""
    ours, ours1_s = timed(lambda: run_ours(1))
    ours2, ours2_s = timed(lambda: run_ours(2))
    assert ours.per_object == ours2.per_object, "workers=1 and workers=2 disagree"
    rows = []
    for count in processes:
        theirs, their_s = timed(lambda: run_baseline(count))
        rows.append((count, their_s, largest_difference(ours, theirs)))
    for count, their_s, diff in rows:
        print(f"{name} ({count} process{'es' if count > 1 else ''}): {their_s * per_k:8.2f} s / 1000 pairs"
              f"   {scorer} workers=1 {their_s / ours1_s:5.1f}x faster, workers=2 {their_s / ours2_s:5.1f}x")
    print(f"{scorer} workers=1: {ours1_s * per_k:8.2f} s / 1000 pairs; workers=2: {ours2_s * per_k:8.2f} s "
          f"(includes starting 2 processes)")
    diff = max(row[2] for row in rows)
    print(f"max |ours - {name}| over global and per-object scores: {diff:.2e}")
    if diff > 1e-9:
        print(f"ERROR: {scorer} and {name} differ", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
