"""Benchmark: every neural stage of the paper presets against the machine's compute peak (issue "near the
compute floor").

For each stage, on random weights in the official architecture at the working size the presets use:
FLOPs per frame, **counted** by `torch.utils.flop_counter.FlopCounterMode` over one real call (matrix
products, convolutions and attention: the counter's ops; element-wise work is not counted), seconds per frame
(best of ``--repeats`` calls after one warm-up call; a stage's "before" and "after" calls alternate) and the achieved fraction of a float32 GEMM peak measured
in the same run on the same threads (the best of several products of two square matrices, ``torch.mm`` and on a
CPU oneDNN's, before and after the stages).

Each stage with a speed option runs twice, "before" and "after": before = the code path the authors' code runs
(contiguous tensors, eager, batch norms as modules, PyTorch's BLAS, TinyViT's attention as one batched product;
SAM's own ``MaskDecoder.forward``), after = the project's defaults (`SamSegmenter` ``channels_last=True``,
``fold_batchnorm=True``, ``onednn_linear=True`` and ``blocked_attention=True``, plus
``compile=True`` with ``--compile``: torch.compile, its compile time printed, not counted in s/frame;
`LeanMaskDecoder` for the plain SAM decoders, which computes the same function with fewer FLOPs: each run's
fraction of the peak is of its own count; the convolutional trackers' ``channels_last=True``,
`trackers.point.layout`, and for the RAFT-style point encoder its small stages mixed at their own size,
`trackers.point.encoder`: before resizes them first, which the bench switches, as it is not an option).
``trk:tapnet``, ``trk:superglue`` and the HQ-SAM and SAM 2 decoders have no such option and run once. The process
keeps freed memory for reuse as ``make eval`` does (`infra.cpu_runtime`).

Stages (``--stages``, default all that can run here):

- ``enc:<arch>``: the image encoder as `trackers.segmenters.base.Segmenter.embed` calls it on one frame of
  the working size (576x1024: DAVIS at the authors' longest side 1024; SAM resizes to 1024x1024 padded) —
  SAM ViT-B/L/H, HQ-SAM ViT-B/L/H, Light HQ-SAM, MobileSAM, SAM 2.1 Hiera T/S/B+/L (when ``sam2`` is installed);
- ``dec:<arch>``: the mask decoder as the SAM step calls it: one batched call for M = 5 objects of 8 positive +
  1 negative points, then the refinement call with box and mask input;
- ``trk:<name>``: a point tracker (its ``configs/tracker/<name>.yaml`` options) on a clip of ``--frames``
  frames of the working size with 8 points per object for 5 objects, per frame of the clip;
  ``trk:superglue`` (a tracker with `PointTracker.uses_reference_masks`) draws each object's 8 positive points
  from the matches inside its frame-0 mask (the box of its points, `ReferenceMasks`), with SuperGlue's shaped
  random weights (`tests.inputs.superglue_states`) and SuperPoint's keypoints capped at `SUPERGLUE_KEYPOINTS`
  (random weights find far more keypoints than trained ones).

    python -m scripts.bench.stages [--stages enc:mobilesam trk:pips] [--threads 2] [--repeats 2] [--json F]
    python -m scripts.bench.stages --smoke   # tiny models and frames: checks that every stage runs
    python -m scripts.bench.stages --cpu-time --compile --stages enc:mobilesam   # one thread, CPU time
    python -m scripts.bench.stages --device cuda   # on a GPU: its float32 GEMM peak (`make bench-gpu` runs it)

Numbers: docs/benchmarks.md ("Neural stages against the GEMM peak").
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np
import torch

WORKING_SIZE = (576, 1024)  # (H, W): a 480x854 DAVIS frame at the authors' longest side 1024
SMOKE_SIZE = (48, 64)
NUM_OBJECTS, NUM_POSITIVE = 5, 8
ENCODERS = ("sam_vit_b", "sam_vit_l", "sam_vit_h", "hqsam_vit_b", "hqsam_vit_l", "hqsam_vit_h", "hqsam_vit_tiny",
            "mobilesam", "sam2_hiera_t", "sam2_hiera_s", "sam2_hiera_b_plus", "sam2_hiera_l")
DECODERS = ("sam_vit_h", "hqsam_vit_h", "sam2_hiera_l")
TRACKERS = ("pips", "pips2", "cotracker_v1", "cotracker3_offline", "cotracker3_online", "tapir", "bootstapir", "raft",
            "tapnet", "superglue")
#: trackers without a speed option (they run once, "after" only)
NO_SPEED_OPTION = ("tapnet", "superglue")
#: a "before" switch of the bench, not a tracker option: the shared point encoder (`trackers.point.encoder`)
#: resizes every stage before its 3x3 mixing, as the official encoders do
RESIZE_EVERY_STAGE_FIRST = "resize_every_stage_first"
#: the "before" options of the trackers that have a speed option (the official layout and order)
TRACKER_BEFORE = {name: {"channels_last": False, RESIZE_EVERY_STAGE_FIRST: True}
                  for name in TRACKERS if name not in NO_SPEED_OPTION}
SUPERGLUE_KEYPOINTS = 1024


@dataclass
class StageResult:
    """One stage: ``flops`` and ``seconds`` per frame; ``fraction`` of the GEMM peak it reached."""

    stage: str
    input: str
    flops: float
    seconds: float
    fraction: float
    seconds_before: float | None = None  # the authors' layout (stages with a speed option only)
    fraction_before: float | None = None
    flops_before: float | None = None  # where "before" computes the same function with other work (decoders)

    @property
    def gflops_per_s(self) -> float:
        return self.flops / self.seconds / 1e9


def gemm_peak(size: int = 2048, repeats: int = 5, clock: Callable[[], float] = time.perf_counter,
              device: str = "cpu") -> float:
    """Float32 FLOP/s of the best of ``repeats`` products of two (size, size) matrices (2 size^3 FLOPs) on
    ``device`` (``clock`` must synchronise a GPU: `clock`): ``torch.mm``, and on a CPU also oneDNN's
    (`trackers.onednn.linear`, faster than PyTorch's BLAS on AMD CPUs), the faster of the two."""
    from trackers.onednn import linear

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    products = [lambda: torch.mm(a, b)]
    if a.device.type == "cpu":
        products.append(lambda: linear(a, b))
    best = float("inf")
    for product in products:
        product()  # warm-up
        best = min(best, best_seconds(product, repeats, clock))
    return 2.0 * size**3 / best


def best_seconds(function: Callable[[], object], repeats: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """The shortest of ``repeats`` calls of ``function`` by ``clock`` (wall time, or ``time.thread_time``: the
    CPU time of the calling thread, which with one torch thread is the whole work and little affected by
    other jobs on a shared machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        function()
        best = min(best, clock() - start)
    return best


def _onednn_linear_flops(x_shape, *args, out_shape=None, **kwargs) -> int:
    """``mkldnn::_linear_pointwise`` (`trackers.onednn.linear`): x (..., K) -> (..., N), 2 K FLOPs an output."""
    return 2 * math.prod(out_shape) * x_shape[-1]


def _onednn_conv_flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    """``mkldnn::_convolution_pointwise`` (its default overload, the one `trackers.onednn.conv2d_gelu` calls):
    weight (O, I / groups, kh, kw), 2 (I / groups) kh kw FLOPs an output."""
    return 2 * math.prod(out_shape) * math.prod(w_shape[1:])


def onednn_flop_formulas() -> dict:
    """`FlopCounterMode` formulas for the oneDNN products the segmenters run on a CPU (`trackers.onednn`): the
    counter knows only ATen's own products, and would count these as zero."""
    mkldnn = torch.ops.mkldnn
    ops = {"_linear_pointwise": _onednn_linear_flops, "_convolution_pointwise": _onednn_conv_flops}
    return {getattr(mkldnn, name): formula for name, formula in ops.items() if hasattr(mkldnn, name)}


def counted_flops(function: Callable[[], object]) -> int:
    """FLOPs of one call of ``function`` as `FlopCounterMode` counts them, oneDNN's products included
    (`onednn_flop_formulas`); the call also serves as the warm-up."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=onednn_flop_formulas()) as counter:
        function()
    return counter.get_total_flops()


# ------------------------------------------------------------------------------------------------ stages
def sam_module(arch: str, smoke: bool) -> torch.nn.Module:
    """The official architecture ``arch`` with seeded random weights (``smoke``: a tiny version)."""
    torch.manual_seed(0)
    if arch.startswith("sam2"):
        from trackers.segmenters.sam2 import build_sam2_module, build_tiny_sam2

        return build_tiny_sam2(seed=0) if smoke else build_sam2_module(arch)
    from trackers.segmenters.sam_models import build_sam_module, build_tiny_sam, build_tiny_tinyvit_sam

    if smoke:
        return build_tiny_tinyvit_sam(seed=0) if arch in ("mobilesam", "hqsam_vit_tiny") else build_tiny_sam(seed=0)
    return build_sam_module(arch)


def segmenter_for(arch: str, smoke: bool, options: dict):
    """The project's segmenter (`SamSegmenter` or `Sam2Segmenter`) around `sam_module`, with ``options``
    (``channels_last``, ``fold_batchnorm``, ``onednn_linear`` and ``blocked_attention`` apply to `SamSegmenter`
    only)."""
    if arch.startswith("sam2"):
        from trackers.segmenters.sam2 import Sam2Segmenter as Wrapper

        options = {k: v for k, v in options.items()
                   if k not in ("channels_last", "fold_batchnorm", "onednn_linear", "blocked_attention")}
    else:
        from trackers.segmenters.sam import SamSegmenter as Wrapper
    return Wrapper.from_model(sam_module(arch, smoke), **{"device": "cpu", **options})


def test_frame(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 smooth random frame."""
    rng = np.random.default_rng(seed)
    return (rng.random(size + (3,)) * 255).astype(np.uint8)


def prompts(size: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(M, 9, 2) points (8 positive, 1 negative per object), (M, 9) labels, (M, 4) boxes in frame pixels."""
    rng = np.random.default_rng(seed)
    height, width = size
    points = rng.uniform([0, 0], [width - 1, height - 1], (NUM_OBJECTS, NUM_POSITIVE + 1, 2))
    labels = np.tile([1] * NUM_POSITIVE + [0], (NUM_OBJECTS, 1))
    low, high = points[:, :NUM_POSITIVE].min(1), points[:, :NUM_POSITIVE].max(1)
    boxes = np.concatenate([low, high], 1)
    return (torch.tensor(points, dtype=torch.float32), torch.tensor(labels), torch.tensor(boxes, dtype=torch.float32))


def encoder_stage(arch: str, size: tuple[int, int], smoke: bool, options: dict) -> tuple[str, Callable, int]:
    segmenter = segmenter_for(arch, smoke, options)
    frame = test_frame(size)
    return f"1 frame {size[0]}x{size[1]}", lambda: segmenter.embed(frame), 1


def decoder_stage(arch: str, size: tuple[int, int], smoke: bool, options: dict) -> tuple[str, Callable, int]:
    segmenter = segmenter_for(arch, smoke, options)
    embedding = segmenter.embed(test_frame(size))
    points, labels, boxes = prompts(size)

    def step():
        first = segmenter.predict(embedding, points, labels)
        return segmenter.predict(embedding, points, labels, boxes, first.low_res_logits)

    return f"M={NUM_OBJECTS} x 9 points, + box+mask", step, 1


def tracker_checkpoint(name: str, checkpoint_dir: Path) -> Path:
    """A random official-format checkpoint of tracker ``name`` written under ``checkpoint_dir``."""
    if name == "superglue":
        from tests.inputs import superglue_states

        superpoint, superglue = superglue_states()
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        torch.save(superpoint, checkpoint_dir / "superpoint_v1.pth")
        torch.save(superglue, checkpoint_dir / "superglue_outdoor.pth")
        return checkpoint_dir / "superglue_outdoor.pth"
    from tests.inputs import make_tracker_inputs

    return make_tracker_inputs(name, checkpoint_dir)["checkpoint"]


def tracker_stage(name: str, size: tuple[int, int], frames: int, checkpoint_dir: Path, overrides: dict
                  ) -> tuple[str, Callable, int]:
    """A tracker with its preset options updated by ``overrides`` and a random official-format checkpoint."""
    from omegaconf import OmegaConf

    from trackers.point.base import ReferenceMasks, build_point_tracker

    checkpoint = tracker_checkpoint(name, checkpoint_dir / name)
    config = Path(__file__).resolve().parents[2] / "configs" / "tracker" / f"{name}.yaml"
    options = OmegaConf.to_container(OmegaConf.load(config).options) or {}
    if name == "superglue":
        options["max_keypoints"] = SUPERGLUE_KEYPOINTS
    tracker = build_point_tracker(name, checkpoint=str(checkpoint), **{**options, **overrides})
    video = np.stack([np.roll(test_frame(size), 2 * t, axis=1) for t in range(frames)])
    queries_xy, _, _ = prompts(size)
    xy = queries_xy[:, :NUM_POSITIVE].reshape(-1, 2).numpy()
    queries = np.concatenate([np.zeros((len(xy), 1)), xy], 1).astype(np.float32)
    extra = {}
    if tracker.uses_reference_masks:  # each object's mask: the box of its points
        masks = np.zeros((NUM_OBJECTS,) + size, bool)
        for mask, points in zip(masks, xy.reshape(NUM_OBJECTS, NUM_POSITIVE, 2).astype(int)):
            (x0, y0), (x1, y1) = points.min(0), points.max(0)
            mask[y0:y1 + 1, x0:x1 + 1] = True
        extra["reference"] = ReferenceMasks(masks, NUM_POSITIVE, 0)
    return (f"{frames} frames {size[0]}x{size[1]}, {len(xy)} points", lambda: tracker.track(video, queries, **extra),
            frames)


def default_stages(smoke: bool) -> list[str]:
    """Every stage this machine can run (SAM 2 stages need the ``sam2`` package)."""
    from trackers.segmenters.sam2 import sam2_available

    names = [f"enc:{a}" for a in ENCODERS] + [f"dec:{a}" for a in DECODERS] + [f"trk:{t}" for t in TRACKERS]
    if not sam2_available():
        names = [n for n in names if "sam2" not in n]
    return [n for n in names if not smoke or n.startswith(("enc:sam_vit_b", "enc:mobilesam", "dec:sam_vit_h",
                                                            "trk:raft", "trk:superglue"))]


def build_stage(stage: str, smoke: bool, frames: int, scratch: Path, options: dict | None = None
                ) -> tuple[str, Callable, int]:
    """``stage``'s (input description, function, frames per call); ``options`` go to the segmenter or tracker."""
    kind, _, name = stage.partition(":")
    size = SMOKE_SIZE if smoke else WORKING_SIZE
    if kind == "enc" and name in ENCODERS:
        return encoder_stage(name, size, smoke, options or {})
    if kind == "dec" and name in ENCODERS:
        return decoder_stage(name, size, smoke, options or {})
    if kind == "trk" and name in TRACKERS:
        return tracker_stage(name, (96, 128) if smoke else size, frames, scratch, options or {})
    valid = [f"enc:{a}" for a in ENCODERS] + [f"dec:{a}" for a in ENCODERS] + [f"trk:{t}" for t in TRACKERS]
    raise SystemExit(f"unknown stage {stage!r}; valid: {' '.join(valid)}")


def stage_result(stage: str, description: str, flops: dict, seconds: dict, peak: float) -> StageResult:
    """A `StageResult` from `run_stage`'s counts; each run's fraction of the peak from its own FLOPs."""
    result = StageResult(stage, description, flops["after"], seconds["after"], flops["after"] / seconds["after"] / peak)
    if "before" in seconds:
        result.seconds_before = seconds["before"]
        result.fraction_before = flops["before"] / seconds["before"] / peak
        if flops["before"] != flops["after"]:
            result.flops_before = flops["before"]
    return result


def print_table(results: list[StageResult], peak: float, where: str, gemm_size: int) -> None:
    print(f"float32 GEMM peak: {peak / 1e9:.1f} GFLOP/s ({where}, the faster of torch.mm and oneDNN on CPU, "
          f"{gemm_size}x{gemm_size})")
    print(f"{'stage':28s} {'input':38s} {'GFLOP/frame':>12s} {'s/frame':>17s} {'of peak':>15s}")
    print(f"{'':28s} {'':38s} {'':12s} {'before':>8s} {'after':>8s} {'before':>7s} {'after':>7s}")
    for r in results:
        before = ("" if r.seconds_before is None else f"{r.seconds_before:8.3f}").rjust(8)
        before_fraction = ("" if r.fraction_before is None else f"{100 * r.fraction_before:6.1f}%").rjust(7)
        print(f"{r.stage:28s} {r.input:38s} {r.flops / 1e9:12.2f} {before} {r.seconds:8.3f} "
              f"{before_fraction} {100 * r.fraction:6.1f}%")
    for r in results:
        if r.flops_before is not None:
            print(f"{r.stage}: before computes the same function in {r.flops_before / 1e9:.2f} GFLOP/frame "
                  f"(its fraction is of its own count)")


def stage_settings(stage: str, args: argparse.Namespace) -> dict[str, dict]:
    """The options of ``stage``'s runs: {"before": the authors' code path, "after": our defaults}, or "after" alone
    for a stage without a speed option (HQ-SAM's and SAM 2's decoders, `NO_SPEED_OPTION`)."""
    kind, _, name = stage.partition(":")
    if kind == "enc":
        after = {"channels_last": True, **({"compile": True} if args.compile else {})}
        before = {"channels_last": False, "fold_batchnorm": False, "onednn_linear": False, "blocked_attention": False}
        return {"before": before, "after": after}
    if kind == "dec":  # before: SAM's own MaskDecoder.forward; after: `LeanMaskDecoder` where it applies
        return {"after": {}} if name.startswith(("hqsam", "sam2")) else {"before": {"lean_decoder": False}, "after": {}}
    before = TRACKER_BEFORE.get(name)  # trackers: "after" = the preset's options (our defaults)
    return {"after": {}} if before is None else {"before": before, "after": {}}


def every_stage_resized_first(function: Callable) -> Callable:
    """``function`` run with the point encoder resizing every stage before mixing it (no stage mixed at its own
    size: `trackers.point.encoder.conv3x3_of_upsampled` unused), the official encoders' order of work."""
    from trackers.point import encoder

    def run():
        with mock.patch.object(encoder, "_mixed_at_own_size", lambda *args: False):
            return function()

    return run


def run_stage(stage: str, args: argparse.Namespace, scratch: Path) -> tuple:
    """(stage, input, {run: FLOPs}, {run: seconds}) per frame, runs "after" and maybe "before"; compile time is
    printed. Both runs are built first, then timed in alternation (before, after, before, ...), each its best
    call: a machine whose speed drifts favours neither."""
    functions, flops = {}, {}
    for name, options in stage_settings(stage, args).items():
        options = dict(options)
        resized_first = options.pop(RESIZE_EVERY_STAGE_FIRST, False)
        description, function, frames = build_stage(stage, args.smoke, args.frames, scratch,
                                                     {**options, "device": args.device})
        if resized_first:
            function = every_stage_resized_first(function)
        if options.get("compile"):
            start = time.perf_counter()
            function()
            print(f"  {stage}: compiled in {time.perf_counter() - start:.0f} s", flush=True)
        flops[name] = counted_flops(function) / frames  # also the warm-up call
        functions[name] = function
    seconds = {name: float("inf") for name in functions}
    for _ in range(args.repeats):
        for name, function in functions.items():
            seconds[name] = min(seconds[name], best_seconds(function, 1, clock(args)) / frames)
    for name in functions:
        print(f"  {stage} ({name}): {seconds[name]:.3f} s/frame", flush=True)
    del functions
    gc.collect()
    return stage, description, flops, seconds


def clock(args: argparse.Namespace) -> Callable[[], float]:
    """The clock of the run: the calling thread's CPU time with ``--cpu-time``, else wall time (on a GPU read
    after the device finished its queued work)."""
    if args.device.startswith("cuda"):
        def synchronised() -> float:
            torch.cuda.synchronize(args.device)
            return time.perf_counter()

        return synchronised
    return time.thread_time if args.cpu_time else time.perf_counter


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", nargs="*", help="stages to run (default: all that can run here)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as set)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per stage after the counted one")
    parser.add_argument("--frames", type=int, default=8, help="clip length of the tracker stages")
    parser.add_argument("--smoke", action="store_true", help="tiny models and frames (checks that stages run)")
    parser.add_argument("--compile", action="store_true", help="'after' also compiles the image encoder (minutes)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one torch thread, times by the thread's CPU time (time.thread_time), peak included: "
                             "fractions that hold on a machine busy with other jobs")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N]: the stages and the GEMM peak on that GPU")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and args.cpu_time:
        parser.error("--cpu-time times CPU threads; on a GPU the clock is the synchronised wall time")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is visible to torch here")
    return args


def main(argv: list[str] | None = ()) -> list[StageResult]:
    from infra.cpu_runtime import keep_freed_memory

    args = parse_args(argv)
    keep_freed_memory()
    if args.threads or args.cpu_time:
        torch.set_num_threads(1 if args.cpu_time else args.threads)
    threads = torch.get_num_threads()
    gemm_size = 512 if args.smoke else 2048
    peak = gemm_peak(gemm_size, clock=clock(args), device=args.device)
    with tempfile.TemporaryDirectory(prefix="bench_stages_") as scratch, torch.no_grad():
        timed = [run_stage(stage, args, Path(scratch)) for stage in args.stages or default_stages(args.smoke)]
    # the peak is measured before and after the stages and the higher taken: a busy moment lowers one of them
    peak = max(peak, gemm_peak(gemm_size, clock=clock(args), device=args.device))
    results = [stage_result(stage, description, flops, seconds, peak) for stage, description, flops, seconds in timed]
    if args.cpu_time:
        print("times: CPU time of the one torch thread (time.thread_time), the peak's too")
    print_table(results, peak, args.device if args.device.startswith("cuda") else f"{threads} threads", gemm_size)
    if args.json:
        args.json.write_text(json.dumps({"peak_flops": peak, "threads": threads, "device": args.device,
                                         "stages": [asdict(r) for r in results]}, indent=1))
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
