"""What the whole-pipeline benchmarks share (`scripts/bench/e2e.py`, `scripts/bench/gpu.py`).

- `synthetic_davis_video`: a synthetic DAVIS 2017 video (`datasets.synthetic.generate`, Full-Resolution
  frames) read through the configuration ``make eval DATASET=davis17`` composes (``experiment=paper/sampt``: the
  authors' 1024 working size, Full-Resolution frames, label maps at the 480p annotation size);
- `build_model`: SAM-PT with that configuration's knobs over given (random-weight) tracker and segmenter;
  `random_pips` is PIPS with damped random weights (as the authors-eval fixture), `shift_iou` raises a
  random SAM's predicted IoU so that its masks pass the 0.7 threshold as real SAM's do;
- `StageTimer` and `timed_stages`: exclusive wall time per stage of `experiments.run.vos.predict_video`
  (decode, query points, point tracking, the point tracker's frame encoder, SAM encoder, SAM decoder,
  upscaling, prompting, merge, PNG writing), measured by wrapping those functions for the duration of a
  run; time inside a nested timed call counts for the inner stage only (per thread: see `StageTimer`).
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from pathlib import Path
from unittest import mock

import numpy as np

PIPS_SEED = 1234
SAM_IOU_BIAS = 0.8

#: stage names in display order; "other" is the rest of the wall time
STAGES = ("decode", "query points", "point tracking", "tracker encoder", "SAM encoder", "SAM decoder", "upscale",
          "prompting", "merge", "PNG writing")


def synthetic_davis_video(root: Path, num_frames: int, height: int = 480, width: int = 854, num_objects: int = 5,
                          seed: int = 0, *overrides: str):
    """Write a one-video synthetic DAVIS 2017 val set under ``root`` and read it as ``make eval`` does.

    Returns (cfg, video): the composed ``experiment=paper/sampt`` config (``dataset.root`` set, ``overrides`` last)
    and the `datasets.video.Video` (``height`` x ``width`` annotations, 2x Full-Resolution frames).
    """
    from datasets.synthetic import generate
    from experiments.run.schema import compose_config
    from experiments.run.videos import load_videos

    davis = Path(root) / "DAVIS"
    if not (davis / "ImageSets" / "2017" / "val.txt").is_file():
        generate(davis, "davis17", num_videos=1, num_frames=num_frames, height=height, width=width,
                 num_objects=num_objects, seed=seed, full_resolution=True)
    cfg = compose_config("experiment=paper/sampt", f"dataset.root={davis}", *overrides)
    (video,) = load_videos(cfg)
    return cfg, video


def random_pips(cfg, device, seed: int = PIPS_SEED):
    """`PipsTracker` with damped random weights and the config's tracker options, on ``device``."""
    from tests.inputs import damped_pips_state
    from trackers.point.pips.net import PipsNet
    from trackers.point.pips.tracker import PipsTracker

    options = dict(cfg.tracker.options)
    net = PipsNet(window=options["window"], stride=options["stride"])
    net.load_state_dict(damped_pips_state(seed))
    return PipsTracker(net=net, device=device, **options)


def shift_iou(model, bias: float = SAM_IOU_BIAS):
    """A SAM / SAM 2 ``model`` with its predicted IoU raised by ``bias`` (in place; returns it)."""
    import torch

    decoder = model.sam_mask_decoder if hasattr(model, "sam_mask_decoder") else model.mask_decoder
    with torch.no_grad():
        decoder.iou_prediction_head.layers[-1].bias += bias
    return model


def build_model(cfg, segmenter, tracker, seed: int = 0):
    """`trackers.sampt.model.SamPt` with the config's model knobs (what `experiments.run.vos.build_sampt`
    builds, over the given tracker and segmenter)."""
    from omegaconf import OmegaConf

    from trackers.sampt.model import SamPt

    return SamPt(tracker, segmenter, seed=seed, **OmegaConf.to_container(cfg.model, resolve=True))


class StageTimer:
    """Exclusive wall seconds and call counts per stage name (nested stages are subtracted from outer ones).

    Nesting is tracked per thread: a stage run on a background thread (PNG writing behind) counts in full for
    its own name and is not subtracted from the caller's stage; stages on two threads at once may then add
    up to more than the wall time (``other`` in `table` goes negative by the overlap).

    Args:
        sync: called before each clock reading (``torch.cuda.synchronize`` on a GPU, whose work is
            asynchronous: without it a stage's kernels would be charged to whichever stage waits for them).
    """

    def __init__(self, sync=None):
        self.sync = sync or (lambda: None)
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()  # each thread's stack of nested stages
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str):
        inner_stack = self._local.__dict__.setdefault("inner", [])
        self.sync()
        start = time.perf_counter()
        inner_stack.append(0.0)
        try:
            yield
        finally:
            self.sync()
            elapsed = time.perf_counter() - start
            inner = inner_stack.pop()
            with self._lock:
                self.seconds[name] += elapsed - inner
                self.calls[name] += 1
            if inner_stack:
                inner_stack[-1] += elapsed

    def wrap(self, function, name: str):
        """``function`` timed as stage ``name`` (a plain function: binds as a method when set on a class)."""

        def timed(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)

        return timed

    def table(self, total: float) -> dict[str, float]:
        """stage -> seconds for every stage of `STAGES` (0 when not seen), then ``other`` = the rest of ``total``."""
        known = {name: self.seconds.get(name, 0.0) for name in STAGES}
        extra = {name: value for name, value in self.seconds.items() if name not in known}
        return {**known, **extra, "other": total - sum(self.seconds.values())}


def _targets(sampt) -> list[tuple[object, str, str]]:
    """(owner, attribute, stage) of everything timed in a run of `experiments.run.vos.predict_video`."""
    import experiments.run.vos
    import reference.pipeline
    from infra.resolution import WorkingVideo
    from trackers.point.pips.net import PipsNet

    segmenter = sampt.segmenter
    return [
        (WorkingVideo, "frame", "decode"),
        (sampt, "select_query_points", "query points"),
        (sampt.point_tracker, "track", "point tracking"),
        (PipsNet, "encode", "tracker encoder"),  # PIPS's frame encoder, in both paths
        (segmenter, "embed", "SAM encoder"),
        (segmenter, "embed_many", "SAM encoder"),
        (segmenter, "predict", "SAM decoder"),
        (segmenter, "upscale", "upscale"),
        (sampt, "segment_prompts", "prompting"),
        (sampt, "merge_frame", "merge"),
        (experiments.run.vos, "write_label_png", "PNG writing"),
        # the straightforward path's own stages (reference.pipeline)
        (reference.pipeline, "decode_frames", "decode"),
        (reference.pipeline, "track_points", "point tracking"),
        (reference.pipeline, "sam_logits", "prompting"),
        (reference.pipeline, "merge_labels", "merge"),
        (reference.pipeline, "write_pngs", "PNG writing"),
    ]


@contextlib.contextmanager
def timed_stages(timer: StageTimer, sampt):
    """Time the stages of `experiments.run.vos.predict_video` (and `reference.pipeline.reference_predict_video`)
    with ``timer`` while the block runs; what a version of the code lacks is simply not timed."""
    with contextlib.ExitStack() as stack:
        for owner, attribute, name in _targets(sampt):
            if hasattr(owner, attribute):
                stack.enter_context(mock.patch.object(owner, attribute, timer.wrap(getattr(owner, attribute), name)))
        yield timer


def read_labels(out_dir: Path, video) -> np.ndarray:
    """(T', H, W) uint8 label maps read back from ``out_dir/<frame>.png`` for the frames the video writes."""
    from datasets.png import read_label_png

    return np.stack([read_label_png(Path(out_dir) / f"{video.frame_names[t]}.png") for t in video.frames_to_write])


def mean_object_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Mean IoU over (frame, object id) pairs of two (T, H, W) label-map stacks (pairs absent from both skipped)."""
    ious = []
    for t in range(len(a)):
        for obj in (set(np.unique(a[t])) | set(np.unique(b[t]))) - {0}:
            union = np.count_nonzero((a[t] == obj) | (b[t] == obj))
            ious.append(np.count_nonzero((a[t] == obj) & (b[t] == obj)) / union)
    return float(np.mean(ious)) if ious else 1.0
