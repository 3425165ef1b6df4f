"""Benchmark: peak resident memory and speed of one SAM-PT video against its length.

The embedded default's components (`make eval`: tracker ``lk``, segmenter ``grabcut``, see
``configs/eval.yaml``), by default made cheaper per frame (`CHEAP`: no refinement passes, GrabCut at a
128-pixel long side; a frame's work is done and dropped before the next either way, so this changes the
speed, not how memory grows; ``--full`` keeps the paper's knobs), on a synthetic 854x480 video with 3
objects, written to disk in the DAVIS 2017 layout (`datasets.synthetic.write_long_davis`, JPEG frames, so
decoding is real) and cached under ``.cache/sampt/bench_memory``. Each length runs `experiments.run.vos.predict_video` in a fresh
subprocess; printed per length: peak RSS during the video (Linux ``VmHWM``), frames per second, and the
peak relative to the shortest length. Memory that does not grow with the video keeps the ratio near 1.

    python -m scripts.bench.memory [--lengths 60,300,600,2000] [--full] [--override KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "sampt" / "bench_memory"
LENGTHS = (60, 300, 600, 2000)
#: overrides that make a frame cheaper without changing what is held
CHEAP = ("model.iterative_refinement_iterations=0", "segmenter.options.work_long_side=128")
HEIGHT, WIDTH, OBJECTS = 480, 854, 3


def video_root(num_frames: int, height: int = HEIGHT, width: int = WIDTH, num_objects: int = OBJECTS) -> Path:
    """The cached DAVIS root of the synthetic video of ``num_frames`` frames (written on first use)."""
    from datasets.synthetic import write_long_davis

    root = CACHE / f"davis17-{width}x{height}-{num_objects}obj-{num_frames}"
    marker = root / ".complete"
    if not marker.is_file():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        write_long_davis(root, num_frames, height, width, num_objects)
        marker.write_text("")
    return root


def measure(root: Path, out_dir: Path, overrides: list[str]) -> dict:
    """Run the embedded default's SAM-PT on the one video of the DAVIS root; `predict_video`'s record."""
    from datasets.registry import build_reader
    from experiments.run.schema import compose_config
    from experiments.run.vos import build_sampt, predict_video, resolve_device

    cfg = compose_config("device=cpu", *overrides)
    video = next(iter(build_reader("davis17", root, split="val")))
    sampt = build_sampt(cfg, int(cfg.seed), resolve_device(cfg.device))
    out_dir.mkdir(parents=True, exist_ok=True)
    return predict_video(sampt, video, out_dir, longest_side=cfg.longest_side)


def measure_in_subprocess(root: Path, out_dir: Path, overrides: list[str]) -> dict:
    """`measure` in a fresh subprocess (its own peak counter); returns num_frames, seconds, fps, peak_rss_bytes."""
    command = [sys.executable, "-m", "scripts.bench.memory", "--measure", str(root), "--out", str(out_dir),
               *[f"--override={o}" for o in overrides]]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if done.returncode != 0:
        raise RuntimeError(f"measuring {root} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_length(num_frames: int, overrides: list[str]) -> dict:
    """`measure_in_subprocess` on the cached synthetic video of ``num_frames`` frames."""
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        return measure_in_subprocess(video_root(num_frames), Path(tmp), overrides)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="comma-separated frame counts")
    parser.add_argument("--override", action="append", default=[], help="Hydra override (repeatable)")
    parser.add_argument("--full", action="store_true", help="the paper's knobs, without the CHEAP overrides")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv or [])  # `make bench` calls main() with no argument: the defaults
    if args.measure is not None:
        info = measure(args.measure, args.out, args.override)
        print(json.dumps({k: info[k] for k in ("num_frames", "seconds", "fps", "peak_rss_bytes")}))
        return
    lengths = [int(n) for n in args.lengths.split(",")]
    args.override = ([] if args.full else list(CHEAP)) + args.override
    print(f"SAM-PT (lk + grabcut{', ' + ', '.join(args.override) if args.override else ''}) on a synthetic "
          f"{WIDTH}x{HEIGHT} video with {OBJECTS} objects; each length in a fresh process")
    print(f"{'frames':>7} {'peak RSS MiB':>13} {'vs first':>9} {'fps':>7}")
    first = None
    for num_frames in lengths:
        info = run_length(num_frames, args.override)
        peak = info["peak_rss_bytes"] / 2**20 if info["peak_rss_bytes"] else float("nan")
        first = first or peak
        print(f"{num_frames:>7} {peak:>13.0f} {peak / first:>9.2f} {info['fps']:>7.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
