"""Benchmark: LVOS scoring, `evaluation.lvos` vs the official LVOS evaluator (``--official PATH``, a
LingyiHongfd/lvos-evaluation checkout) or, without it, the straightforward `reference.lvos`.

Inputs: `tests.inputs.make_lvos_inputs` with `BENCH_GT` (synthetic LVOS valid root at 480x854, label maps
every 5th frame, seeded jittered predictions). Printed: seconds per 1000 scored (object, frame) pairs for
each (ours including reading the videos; workers=2 including starting the processes), the speed-ups, and the
largest difference of the global and per-object scores (it must stay below 1e-9).

    python -m scripts.bench.lvos [--official /path/to/lvos-evaluation]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from scripts.bench.sav import report

BENCH_GT = dict(layout="lvos", num_videos=6, num_frames=120, height=480, width=854, num_objects=5, seed=11)


def baseline(official: Path | None, inputs: dict, processes: int):
    """(global, per_object) fractions of the official tool (``processes`` processes) or the reference."""
    if official is None:
        from reference.lvos import reference_lvos

        return reference_lvos(inputs["split"], inputs["pred"])
    from scripts.record.lvos import run_official

    scores = run_official(official, inputs["split"], inputs["pred"], processes=processes)
    return scores["global"], scores["per_object"]


def main(argv: list[str] | None = ()) -> None:
    parser = argparse.ArgumentParser(description="LVOS scoring: evaluation.lvos vs the official tool or reference.lvos")
    parser.add_argument("--official", type=Path, help="a LingyiHongfd/lvos-evaluation checkout")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from datasets.registry import read_videos
    from evaluation.lvos import evaluate_lvos, scored_slots
    from tests.inputs import make_lvos_inputs

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_lvos_") as tmp:
        inputs = make_lvos_inputs(Path(tmp), gt=BENCH_GT)
        videos = read_videos("lvos", inputs["gt"], "valid")
        pairs = sum(len(scored_slots(v, i)) for v in videos for i in v.meta_order)
        print(f"synthetic LVOS: {len(videos)} videos at {BENCH_GT['height']}x{BENCH_GT['width']}, "
              f"{pairs} scored (object, frame) pairs")
        per_k = 1000.0 / pairs

        def ours(workers: int):
            return evaluate_lvos(read_videos("lvos", inputs["gt"], "valid"), inputs["pred"], workers=workers)

        name = "official evaluation_method" if args.official else "reference.lvos"
        report("evaluation.lvos", name, ours, per_k, (1, 2) if args.official else (1,),
               lambda processes: baseline(args.official, inputs, processes))


if __name__ == "__main__":
    main(sys.argv[1:])
