"""Record the authors' VOS evaluation with point re-initialisation, variants A-D (tests/fixtures/authors_reinit).

The inputs are those of `scripts.record.authors_eval` made with other constants
(`tests.inputs.make_authors_reinit_inputs`: `AUTHORS_REINIT_VIDEO`, three objects over eight frames, and
`AUTHORS_REINIT_SAM_IOU_BIAS`); the knobs are `AUTHORS_REINIT_KNOBS` (reinit horizon 4, point-tracker horizon 6)
at working size `AUTHORS_REINIT_LONGEST_SIZE`, with each of the four ``reinit_variant`` values in turn
(`VARIANTS`). Their evaluation entry point runs unmodified (`scripts.record.authors_eval.run_official_eval`);
two of their methods are wrapped to count, not to change, what happens (`count_branches`): the SAM IoU scores
of every window (kept, rejected, no visible point) and the masks that new query points are sampled from at
each reinit step (empty, 1-25 px, larger). scikit-learn-extra's ``KMedoids`` is always a stand-in that raises
when fitted (the real 0.3.0 wheels need numpy 1, and the result would not be comparable anyway: their
k-medoids fallback subsamples with ``torch.randperm``, which our code cannot reproduce); a variant whose run
reaches it is stored as ``not_recorded``. Commands::

    .venv/bin/python -m scripts.record.authors_reinit inputs --out /tmp/authors_reinit_inputs
    /path/to/venv/bin/python -m scripts.record.authors_reinit record --official /path/to/sam-pt \\
        --inputs /tmp/authors_reinit_inputs --out tests/fixtures/authors_reinit

`tests/experiments/run/test_authors_reinit_path.py` regenerates the inputs, runs ours and compares.
"""
from __future__ import annotations

import json
import sys
import types
from collections import Counter
from pathlib import Path

import numpy as np

from scripts.record.authors_eval import import_official_eval, input_paths, run_official_eval
from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import (
    AUTHORS_PIPS_SEED, AUTHORS_REINIT_KNOBS, AUTHORS_REINIT_LONGEST_SIZE, AUTHORS_REINIT_SAM_IOU_BIAS,
    AUTHORS_REINIT_VIDEO, AUTHORS_SAM_SEED,
    PIPS_DAMPING, make_authors_reinit_inputs,
)

#: fixture key -> the authors' ``reinit_variant`` (paper Fig. 6 A-D)
VARIANTS = {"A": "reinit-on-horizon-and-sync-masks", "B": "reinit-at-median-of-area-diff",
            "C": "reinit-on-similar-mask-area", "D": "reinit-on-similar-mask-area-and-sync-masks"}


#: sizes of the point sets the k-medoids stand-in was asked to fit (a variant that reaches it is not recorded)
KMEDOIDS_REACHED: list[int] = []


def install_kmedoids_stand_in() -> None:
    """Register ``sklearn_extra.cluster.KMedoids`` as a class that notes its input size and raises when fitted."""
    class KMedoids:
        def __init__(self, n_clusters: int, **kwargs):
            self.n_clusters = n_clusters

        def fit(self, points):
            KMEDOIDS_REACHED.append(len(points))
            raise RuntimeError(f"the recording reached k-medoids ({self.n_clusters} of {len(points)} pixels), "
                               f"which our code cannot reproduce: this variant is not recorded")

    for name in ("sklearn_extra", "sklearn_extra.cluster"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["sklearn_extra.cluster"].KMedoids = KMedoids


def count_branches(sam_pt_class) -> Counter:
    """Wrap ``_apply_sam_to_trajectories`` and ``extract_query_points`` of the authors' ``SamPt`` so that each
    call is counted (outputs unchanged; masks kept or rejected by the model's own ``sam_iou_threshold``);
    returns the counter the wrappers fill."""
    counts: Counter = Counter()
    apply_sam, extract = sam_pt_class._apply_sam_to_trajectories, sam_pt_class.extract_query_points

    def counted_apply_sam(self, images, trajectories, visibilities):
        result = apply_sam(self, images, trajectories, visibilities)
        scores, threshold = result[2].numpy(), self.sam_iou_threshold
        counts["sam_masks_no_visible_point"] += int(np.isneginf(scores).sum())
        counts["sam_masks_rejected"] += int(((scores < threshold) & ~np.isneginf(scores)).sum())
        counts["sam_masks_kept"] += int((scores >= threshold).sum())
        return result

    def counted_extract(self, images, query_masks, query_points_timestep):
        if counts["query_point_extractions"]:  # the first call of a video samples from the given masks
            areas = query_masks.sum(dim=(1, 2)).numpy()
            counts["reinit_masks_empty"] += int((areas == 0).sum())
            counts["reinit_masks_1_to_25_px"] += int(((areas > 0) & (areas <= 25)).sum())
            counts["reinit_masks_larger"] += int((areas > 25).sum())
        counts["query_point_extractions"] += 1
        return extract(self, images, query_masks, query_points_timestep)

    sam_pt_class._apply_sam_to_trajectories = counted_apply_sam
    sam_pt_class.extract_query_points = counted_extract
    return counts


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Run the authors' evaluation once per variant; write ``out/labels.npz`` (``labels_<key>``: (T, H, W)
    uint8 for each key of `VARIANTS`, ``frames``) and ``out/recording.json`` (settings and branch counts)."""
    paths = input_paths(inputs, make_authors_reinit_inputs)
    install_kmedoids_stand_in()
    official_eval = import_official_eval(official, inputs)
    from sam_pt.modeling.sam_pt import SamPt

    counts = count_branches(SamPt)
    arrays, branches = {}, {}
    for key, variant in VARIANTS.items():
        counts.clear()
        KMEDOIDS_REACHED.clear()
        run_dir = Path(inputs).resolve() / f"official_run_{key}"
        try:
            knobs = {**AUTHORS_REINIT_KNOBS, "reinit_variant": variant}
            labels, frames = run_official_eval(official_eval, paths, knobs, run_dir,
                                               longest_size=AUTHORS_REINIT_LONGEST_SIZE)
        except (Exception, SystemExit):
            if not KMEDOIDS_REACHED:
                raise
            branches[key] = {"variant": variant, "not_recorded": f"reached k-medoids ({KMEDOIDS_REACHED[0]} pixels)"}
            continue
        arrays[f"labels_{key}"], arrays["frames"] = labels, np.array(frames)
        branches[key] = {"variant": variant, **dict(counts),
                         "object_pixels": {int(k): int((labels == k).sum()) for k in np.unique(labels)}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "labels.npz", **arrays)
    info = {"official_commit": official_commit(official, commit), "video": AUTHORS_REINIT_VIDEO,
            "knobs": AUTHORS_REINIT_KNOBS, "pips_seed": AUTHORS_PIPS_SEED, "pips_damping": PIPS_DAMPING,
            "sam_seed": AUTHORS_SAM_SEED, "sam_iou_bias": AUTHORS_REINIT_SAM_IOU_BIAS,
            "longest_size": AUTHORS_REINIT_LONGEST_SIZE,
            "labels_shape": list(arrays["labels_A"].shape) if "labels_A" in arrays else None, "variants": branches}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the inputs (dataset, PIPS and tiny SAM checkpoints)",
                                    "run the authors' evaluation with each reinit variant and store its label maps",
                                    "tests/fixtures/authors_reinit", official="a checkout of SysCV/sam-pt")
    return run_recording_cli(parser, argv, make_authors_reinit_inputs, record)


if __name__ == "__main__":
    sys.exit(main())
