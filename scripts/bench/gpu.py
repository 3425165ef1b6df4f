"""`make bench-gpu`: the whole pipeline's speed on one GPU with full-size random models, in one call.

For each segmenter (SAM ViT-H, the paper's; MobileSAM; SAM 2.1 Hiera-T), each precision (fp32, bf16
autocast) and with and without ``torch.compile`` of the image encoder, SAM-PT runs the whole `make eval`
path (`experiments.run.vos.predict_video`: JPEG decoding, query points, PIPS, the SAM step, the merge,
PNG writing) on one synthetic DAVIS video (``--frames`` 50 frames, 5 objects, 480x854 annotations,
960x1708 Full-Resolution frames, the authors' 1024 working size; `scripts.bench.pipeline`), with the
official architectures built with random weights (`trackers.segmenters.sam_models.build_sam_module`,
`trackers.segmenters.sam2.build_sam2_module`) and PIPS with damped random weights. Knobs: the paper's
(``experiment=paper/sampt``: 8 + 1 points, 12 refinement iterations) for every segmenter.

Printed per configuration: frames per second (after a warm-up run of the same video that compiles and
autotunes), peak GPU memory (`predict_video`'s, weights included), decoder calls per frame, seconds per
frame of each stage (synchronised), and the mean object IoU of its label maps against the same model in
fp32 without compile (bf16 vs fp32 agreement). Each configuration runs in its own try block: a failure
prints the error and the script goes on. Eager configurations run first, compiled ones after, each only
while the ``--budget`` (seconds) allows its allowance. The final table sets the ViT-H rows next to the
authors' 1.4 FPS (SysCV/sam-pt docs/04-running-experiments.md, SAM ViT-H + PIPS on one RTX A6000).

    python -m scripts.bench.gpu [--frames 50] [--budget 290] [--models sam_vit_h mobilesam sam2_hiera_t]
    python -m scripts.bench.gpu --smoke    # CPU, tiny random models, 3 small frames: checks this script
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from scripts.bench.pipeline import (
    StageTimer, build_model, mean_object_iou, random_pips, read_labels, shift_iou, synthetic_davis_video, timed_stages,
)

MODELS = ("sam_vit_h", "mobilesam", "sam2_hiera_t")
#: the authors' speed of SAM-PT with SAM ViT-H + PIPS (SysCV/sam-pt docs/04-running-experiments.md)
AUTHORS_VIT_H_FPS, AUTHORS_GPU = 1.4, "RTX A6000"
#: our aim for SAM ViT-H on one H200
AIM_FPS = 30.0
#: seconds a configuration is allowed to take when deciding whether it still fits in ``--budget``
ALLOWANCE = {False: 25.0, True: 100.0}


@dataclass(frozen=True)
class Config:
    model: str
    bf16: bool
    compile: bool

    @property
    def name(self) -> str:
        return f"{self.model} {'bf16' if self.bf16 else 'fp32'}{' compiled' if self.compile else ''}"


def configurations(models) -> list[Config]:
    """Eager configurations of every model first (fp32 before bf16), then the compiled ones (bf16 first)."""
    eager = [Config(model, bf16, False) for model in models for bf16 in (False, True)]
    compiled = [Config(model, bf16, True) for model in models for bf16 in (True, False)]
    return eager + compiled


def build_module(model: str, smoke: bool):
    """The official architecture ``model`` with random weights (seeded), or its tiny version with ``smoke``;
    its predicted IoU raised so that masks pass the 0.7 threshold."""
    import torch

    torch.manual_seed(0)
    if model.startswith("sam2"):
        from trackers.segmenters.sam2 import build_sam2_module, build_tiny_sam2

        return shift_iou(build_tiny_sam2(seed=0) if smoke else build_sam2_module(model))
    from trackers.segmenters.sam_models import build_sam_module, build_tiny_sam, build_tiny_tinyvit_sam

    if smoke:
        return shift_iou(build_tiny_sam(seed=0) if model.startswith("sam_vit") else build_tiny_tinyvit_sam(seed=0))
    return shift_iou(build_sam_module(model))


def build_segmenter(config: Config, module, device: str, embed_batch_size: int):
    if config.model.startswith("sam2"):
        from trackers.segmenters.sam2 import Sam2Segmenter as Wrapper
    else:
        from trackers.segmenters.sam import SamSegmenter as Wrapper
    return Wrapper.from_model(module, device=device, autocast_bf16=config.bf16, compile=config.compile,
                              embed_batch_size=embed_batch_size)


def measure(config: Config, module, cfg, video, tracker, device: str, out: Path, warm_up: bool,
            embed_batch_size: int) -> dict:
    """One configuration: fps, peak GPU memory, stage seconds per frame; its label maps under ``out``."""
    import torch

    from experiments.run.vos import predict_video

    cuda = device.startswith("cuda")
    segmenter = build_segmenter(config, module, device, embed_batch_size)
    sampt = build_model(cfg, segmenter, tracker)
    if warm_up:  # compiles every encoder batch shape of this video, autotunes kernels
        predict_video(sampt, video, out / "warm-up", longest_side=cfg.longest_side)
    timer = StageTimer(torch.cuda.synchronize if cuda else None)
    with timed_stages(timer, sampt):
        start = time.perf_counter()
        info = predict_video(sampt, video, out / "timed", longest_side=cfg.longest_side)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    frames = video.num_frames
    peak = info["peak_gpu_memory_bytes"]
    return {
        "fps": frames / seconds,
        "peak_gpu_mib": None if peak is None else peak / 2**20,
        "decoder_calls_per_frame": timer.calls.get("SAM decoder", 0) / frames,
        "seconds_per_frame_in": {name: value / frames for name, value in timer.table(seconds).items()},
        "labels": read_labels(out / "timed", video),
    }


def _release(module, device: str) -> None:
    import torch

    module.to("cpu")
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _print_table(results: dict[str, dict], device_name: str) -> None:
    print(f"\n{'configuration':28s} {'fps':>8s} {'peak GPU MiB':>13s} {'IoU vs fp32':>12s} {'dec. calls/fr':>13s}")
    for name, result in results.items():
        if "fps" not in result:
            print(f"{name:28s} {result['status']}")
            continue
        memory = "-" if result["peak_gpu_mib"] is None else f"{result['peak_gpu_mib']:.0f}"
        iou = "-" if result.get("iou_vs_fp32") is None else f"{result['iou_vs_fp32']:.4f}"
        print(f"{name:28s} {result['fps']:8.2f} {memory:>13s} {iou:>12s} {result['decoder_calls_per_frame']:13.1f}")
    vit_h = {name: r["fps"] for name, r in results.items() if name.startswith("sam_vit_h") and "fps" in r}
    print(f"\nSAM ViT-H + PIPS, whole pipeline, on {device_name}:")
    for name, fps in vit_h.items():
        print(f"  {name:28s} {fps:8.2f} fps = {fps / AUTHORS_VIT_H_FPS:6.1f}x the authors' {AUTHORS_VIT_H_FPS} fps "
              f"({AUTHORS_GPU}); aim >= {AIM_FPS:.0f} fps on one H200: {'met' if fps >= AIM_FPS else 'not met'}")
    if not vit_h:
        print("  no ViT-H configuration finished")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="CPU (one thread), tiny random models, 3 frames of 64x112 with 2 objects, 1 refinement "
                             "iteration, bf16 for the first model only, no time budget: checks the script")
    parser.add_argument("--frames", type=int, default=None, help="frames of the synthetic video (default 50)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--budget", type=float, default=290.0,
                        help="seconds: a configuration starts only while its allowance fits")
    parser.add_argument("--embed-batch-size", type=int, default=10,
                        help="frames per image-encoder call (10 divides 50 frames: one compiled batch shape)")
    return parser.parse_args([] if argv is None else argv)


def skip_reason(config: Config, args: argparse.Namespace, device: str, elapsed: float, budget: float) -> str | None:
    """Why ``config`` is not run (None: it runs)."""
    if config.compile and device != "cuda":
        return "skipped: compiled configurations run on CUDA only (compiling on CPU takes minutes)"
    if args.smoke and config.bf16 and config.model != args.models[0]:
        return f"skipped: bf16 on CPU is slow; the smoke run checks it on {args.models[0]} only"
    if elapsed + ALLOWANCE[config.compile] > budget:
        return f"skipped: time budget ({elapsed:.0f} s of {budget:.0f} s used)"
    return None


def run_configuration(config: Config, modules: dict, results: dict, args, cfg, video, tracker, device: str,
                      out: Path) -> dict:
    """Measure one configuration (its model built once per model); a failure is recorded, not raised."""
    try:
        if config.model not in modules:
            modules[config.model] = build_module(config.model, args.smoke)
        result = measure(config, modules[config.model], cfg, video, tracker, device, out, warm_up=not args.smoke,
                         embed_batch_size=args.embed_batch_size)
        reference = results.get(Config(config.model, False, False).name, {}).get("labels")
        result["iou_vs_fp32"] = None if reference is None else mean_object_iou(result["labels"], reference)
        result["status"] = "ok"
        return result
    except Exception as error:  # noqa: BLE001 - one failing configuration must not stop the others
        traceback.print_exc()
        return {"status": f"FAILED: {type(error).__name__}: {error}"}
    finally:
        if config.model in modules:
            _release(modules[config.model], device)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    device = "cpu" if args.smoke else "cuda"
    if args.smoke:
        torch.set_num_threads(1)
    if device == "cuda" and not torch.cuda.is_available():
        print("ERROR: no CUDA device here; run `make bench-gpu` on a GPU machine, or `make bench-gpu-smoke` "
              "(--smoke) to check the script on CPU", file=sys.stderr)
        raise SystemExit(2)
    device_name = torch.cuda.get_device_name() if device == "cuda" else "CPU (smoke run: tiny models)"
    frames = args.frames or (3 if args.smoke else 50)
    size = (64, 112) if args.smoke else (480, 854)
    overrides = ["longest_side=null", "dataset.options.frames_resolution=null",
                 "model.iterative_refinement_iterations=1"] if args.smoke else []
    budget = float("inf") if args.smoke else args.budget
    start = time.perf_counter()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        tmp = Path(tmp)
        cfg, video = synthetic_davis_video(tmp / "data", frames, *size, 2 if args.smoke else 5, 0, *overrides)
        tracker = random_pips(cfg, device)
        print(f"{device_name}: {frames} frames, {len(video.objects)} objects, {size[0]}x{size[1]} annotations, "
              f"working size {cfg.longest_side or 'native'}, embed batch {args.embed_batch_size}, "
              f"torch {torch.__version__}", flush=True)
        modules: dict[str, object] = {}
        for config in configurations(args.models):
            skipped = skip_reason(config, args, device, time.perf_counter() - start, budget)
            results[config.name] = {"status": skipped} if skipped else run_configuration(
                config, modules, results, args, cfg, video, tracker, device, tmp / config.name.replace(" ", "_"))
            result = results[config.name]
            line = result["status"] if "fps" not in result else (
                f"{result['fps']:.2f} fps, peak GPU {result['peak_gpu_mib'] or 0:.0f} MiB, stages (s/frame) "
                + ", ".join(f"{k} {v:.4f}" for k, v in result["seconds_per_frame_in"].items()))
            print(f"[{time.perf_counter() - start:5.0f} s] {config.name}: {line}", flush=True)
    _print_table(results, device_name)
    summary = {name: {k: v for k, v in result.items() if k != "labels"} for name, result in results.items()}
    print(json.dumps({"device": device_name, "frames": frames, "seconds": time.perf_counter() - start,
                      "results": summary}))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
