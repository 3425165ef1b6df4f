"""Benchmark of SAM-PT's SAM step: `trackers.sampt.model` vs the straightforward loop of `reference.sampt`.

A 50-frame 480x854 synthetic video with 5 objects (`datasets.synthetic.render_video`), trajectories from
the known motion (8 positive + 1 negative point per object), a tiny random-initialised SAM
(`build_tiny_sam`: SAM's real geometry, 64x64 embedding and 256x256 low-res masks, with 32 channels).

Three methods: ``ours`` (`SamPt`, mask decoder through `LeanMaskDecoder`), ``ours-stock-decoder`` (`SamPt`
with ``MaskDecoder.forward``: what batching and the low-res refinement alone give) and ``reference``
(`reference_segment_tracks`, ``MaskDecoder.forward`` one object and one pass at a time, as the original).

- speed: seconds per frame of the SAM step with the paper's 12 refinement iterations, timed on the
  first ``--timed-frames`` frames (the per-frame cost is the same on every frame of this video), the
  methods alternated ``--repeats`` times in one process and the best round of each kept (robust to
  other load on the machine), with the time spent inside the segmenter's embed/predict/upscale; once
  with one torch CPU thread and once with all cores (``--threads``);
- memory (each method in a fresh process): the peak resident memory added while the SAM step runs
  over all 50 frames (Linux ``VmHWM`` after resetting it through ``/proc/self/clear_refs``: numpy and
  torch CPU allocations alike), plus tracemalloc's peak (numpy/Python allocations), with the refinement iterations off
  for that run to keep the benchmark short (refinement only adds per-pass temporaries of a few MB).

Ours streams label maps frame by frame (`SamPt.run_video`); the reference keeps the
authors' float64 (M, T, H, W) logits for the whole clip and merges them at the end.

    python -m scripts.bench.sam_step [--timed-frames 2] [--repeats 2] [--threads 1 2]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import tracemalloc
from queue import Empty

import numpy as np

NUM_FRAMES, HEIGHT, WIDTH, NUM_OBJECTS = 50, 480, 854, 5
NUM_POSITIVE, NUM_NEGATIVE = 8, 1


def _video(num_frames: int = NUM_FRAMES):
    """(frames (T, H, W, 3) uint8, tracks (T, M, P, 2), visible (T, M, P), first masks, ids); T = num_frames."""
    from datasets.synthetic import render_video

    rendered = render_video(np.random.SeedSequence(7), "bench", num_frames, HEIGHT, WIDTH,
                            list(range(1, NUM_OBJECTS + 1)), late_start=0)
    truth, frames = rendered.truth, rendered.frames
    rng = np.random.default_rng(0)
    points = NUM_POSITIVE + NUM_NEGATIVE
    tracks = np.zeros((num_frames, NUM_OBJECTS, points, 2), np.float32)
    visible = np.zeros((num_frames, NUM_OBJECTS, points), bool)
    first_masks = []
    for k, obj in enumerate(truth.objects):
        mask = truth.labels[0] == obj.id
        first_masks.append(mask)
        ys, xs = np.nonzero(mask)
        pick = rng.choice(len(xs), NUM_POSITIVE, replace=False)
        by, bx = np.nonzero(~mask)
        neg = rng.choice(len(bx), NUM_NEGATIVE, replace=False)
        xy0 = np.concatenate([np.stack([xs[pick], ys[pick]], 1), np.stack([bx[neg], by[neg]], 1)]).astype(np.float64)
        for t in range(num_frames):
            xy = truth.point_motion(obj.id, 0, xy0[:NUM_POSITIVE], t)
            tracks[t, k, :NUM_POSITIVE] = xy
            tracks[t, k, NUM_POSITIVE:] = xy0[NUM_POSITIVE:]  # negatives stay on the background
            visible[t, k, :NUM_POSITIVE] = truth.point_visible(obj.id, t, xy)
            visible[t, k, NUM_POSITIVE:] = True
    return frames, tracks, visible, first_masks, [o.id for o in truth.objects]


class _Timed:
    """Wraps a segmenter, adding up the seconds spent in its `embed`, `predict` and `upscale`."""

    def __init__(self, inner):
        self.inner, self.low_res_size = inner, inner.low_res_size
        self.embed_batch_size = inner.embed_batch_size
        self.seconds = {"embed": 0.0, "predict": 0.0, "upscale": 0.0}

    def _timed(self, name, *args):
        start = time.perf_counter()
        try:
            return getattr(self.inner, name)(*args)
        finally:
            self.seconds[name] += time.perf_counter() - start

    def embed(self, frame):
        return self._timed("embed", frame)

    def embed_many(self, frames):
        start = time.perf_counter()
        try:
            return self.inner.embed_many(frames)
        finally:
            self.seconds["embed"] += time.perf_counter() - start

    def predict(self, *args):
        return self._timed("predict", *args)

    def upscale(self, *args):
        return self._timed("upscale", *args)


def _segmenter(method: str):
    """The tiny SAM; ``ours`` runs its decoder through `LeanMaskDecoder`, the other two through
    ``MaskDecoder.forward`` as the original code does."""
    from trackers.segmenters.sam import SamSegmenter, build_tiny_sam
    import torch

    sam = build_tiny_sam(seed=0)
    with torch.no_grad():  # predicted IoUs near 0.8, so masks pass the 0.7 threshold as with real SAM
        sam.mask_decoder.iou_prediction_head.layers[-1].bias += 0.8
    return SamSegmenter.from_model(sam, lean_decoder=(method == "ours"))


def _ours(segmenter, frames, tracks, visible, first_masks, ids, refinement: int) -> np.ndarray:
    from trackers.sampt.engine import VideoObjects
    from trackers.sampt.model import SamPt

    sampt = SamPt(None, segmenter, iterative_refinement_iterations=refinement)
    objects = VideoObjects(list(ids), np.zeros(len(ids), np.int64), first_masks, tracks=tracks, visible=visible)
    run = sampt.run_video(frames, objects, "bench")
    labels = np.zeros(frames.shape[:3], np.uint8)
    for t, label_map in run.label_maps():
        labels[t] = label_map
    return labels


def _reference(segmenter, frames, tracks, visible, first_masks, ids, refinement: int) -> np.ndarray:
    import torch
    from reference.sampt import reference_segment_tracks

    logits64, _ = reference_segment_tracks(segmenter, frames, tracks, visible, NUM_POSITIVE, refinement,
                                           return_logits=True)
    logits = torch.from_numpy(logits64).float()  # (M, T, H, W), merged over the whole clip as the authors
    del logits64
    logits[:, 0] = torch.from_numpy(np.where(np.stack(first_masks), 1e8, -1e8))
    stacked = torch.cat([torch.zeros_like(logits[:1]), logits]).permute(1, 0, 2, 3)
    winner = torch.softmax(stacked, dim=1).argmax(dim=1)
    return torch.tensor([0] + ids, dtype=torch.uint8)[winner].numpy()


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


METHODS = {"ours": _ours, "ours-stock-decoder": _ours, "reference": _reference}


def _time_all(timed_frames: int, repeats: int, threads: int, num_frames: int, queue) -> None:
    """Seconds per frame of every method, alternated ``repeats`` times in one process (best of each)."""
    import torch

    torch.set_num_threads(threads)
    frames, tracks, visible, first_masks, ids = _video(num_frames)
    segmenters = {method: _segmenter(method) for method in METHODS}
    sub = slice(0, timed_frames)
    result = {}
    for _ in range(repeats):
        for method, run in METHODS.items():
            timed = _Timed(segmenters[method])
            start = time.perf_counter()
            run(timed, frames[sub], tracks[sub], visible[sub], first_masks, ids, 12)
            seconds = (time.perf_counter() - start) / timed_frames
            if method not in result or seconds < result[method]["seconds_per_frame"]:
                split = {name: value / timed_frames for name, value in timed.seconds.items()}
                result[method] = {"seconds_per_frame": seconds, "seconds_per_frame_in": split}
    queue.put(result)


def _memory(method: str, num_frames: int, queue) -> None:
    """Peak memory added by one method's SAM step over the whole clip, in a fresh process."""
    import torch

    torch.set_num_threads(1)
    run = METHODS[method]
    frames, tracks, visible, first_masks, ids = _video(num_frames)
    segmenter = _segmenter(method)
    run(segmenter, frames[:1], tracks[:1], visible[:1], first_masks, ids, 0)  # warm-up
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak-RSS counter (VmHWM)
    baseline = _rss_kib("VmRSS")
    tracemalloc.start()
    labels = run(segmenter, frames, tracks, visible, first_masks, ids, 0)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = _rss_kib("VmHWM")
    queue.put({"peak_rss_added_mib": (peak - baseline) / 1024, "tracemalloc_peak_mib": traced_peak / 2 ** 20,
               "labels": labels})


def _in_process(target, *args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=args + (queue,))
    process.start()
    while True:  # a child that dies before putting its result must not leave us waiting forever
        try:
            result = queue.get(timeout=1.0)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"benchmark process {target.__name__}{args} died with exit code "
                                   f"{process.exitcode} before reporting (its traceback is above)") from None
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"benchmark process {target.__name__}{args} failed with exit code {process.exitcode}")
    return result


def _line(name: str, result: dict) -> str:
    split = result["seconds_per_frame_in"]
    return (f"  {name:18s}: {result['seconds_per_frame']:.3f} s/frame (embed {split['embed']:.3f}, decoder calls "
            f"{split['predict']:.3f}, upscale {split['upscale']:.3f}, "
            f"rest {result['seconds_per_frame'] - sum(split.values()):.3f})")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=NUM_FRAMES, help="frames of the clip (memory is measured on all)")
    parser.add_argument("--timed-frames", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="alternating timing rounds (best of each)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="torch CPU thread counts to time (default: 1 and all cores)")
    args = parser.parse_args([] if argv is None else argv)
    threads = args.threads or sorted({1, os.cpu_count() or 1})
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    speed = {n: _in_process(_time_all, args.timed_frames, args.repeats, n, args.frames) for n in threads}
    memory = {method: _in_process(_memory, method, args.frames) for method in ("ours", "reference")}
    agreement = float((memory["ours"].pop("labels") == memory["reference"].pop("labels")).mean())
    summary = {
        "video": f"{args.frames} frames {HEIGHT}x{WIDTH}, {NUM_OBJECTS} objects, tiny SAM",
        "speed": {str(n): {**timings, "speedup": timings["reference"]["seconds_per_frame"] / timings["ours"]["seconds_per_frame"]}
                  for n, timings in speed.items()},
        "memory": memory,
        "peak_rss_ratio": memory["reference"]["peak_rss_added_mib"] / max(memory["ours"]["peak_rss_added_mib"], 1e-9),
        "tracemalloc_ratio": memory["reference"]["tracemalloc_peak_mib"] / max(memory["ours"]["tracemalloc_peak_mib"], 1e-9),
        "label_agreement": agreement,
    }
    print(f"SAM step on {summary['video']}")
    for n, timings in summary["speed"].items():
        print(f" {n} CPU thread(s): speed-up of ours {timings['speedup']:.2f}x "
              f"(ours-stock-decoder {timings['reference']['seconds_per_frame'] / timings['ours-stock-decoder']['seconds_per_frame']:.2f}x)")
        for method in METHODS:
            print(_line(method, timings[method]))
    for method in ("ours", "reference"):
        print(f"  peak memory {method:9s}: RSS added {memory[method]['peak_rss_added_mib']:.1f} MiB, "
              f"tracemalloc peak {memory[method]['tracemalloc_peak_mib']:.1f} MiB")
    print(f"  peak memory ratio {summary['peak_rss_ratio']:.1f}x (RSS), {summary['tracemalloc_ratio']:.1f}x "
          f"(tracemalloc); label maps agree on {100 * agreement:.4f}% of pixels")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
