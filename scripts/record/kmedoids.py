"""Record scikit-learn-extra's KMedoids on real DAVIS masks (tests/fixtures/official_kmedoids).

SAM-PT picks k-medoids query points with ``KMedoids(n_clusters=K).fit(pixels)`` (scikit-learn-extra:
``metric="euclidean"``, ``method="alternate"``, ``init="heuristic"``, ``max_iter=300``) on a random
subsample of at most 1800 mask pixels. The heuristic init comes out of ``np.argpartition`` in an order
that depends on the numpy version, so the recording fixes the starting medoids (an array ``init``) and
runs every case twice: from our `heuristic_medoids` (the order `kmedoids_points` uses) and from seeded
random starting medoids (more update steps).

Inputs (`tests.inputs.make_kmedoids_inputs`, shared with the test; deterministic): the OSVOS masks of
`KMEDOIDS_CASES` (official DAVIS 2017 evaluation package; ``shared/data`` beside the repository or
``--shared-data``), each subsampled with `kmedoids_sample` and ``np.random.default_rng(KMEDOIDS_SEED + case)``
exactly as `kmedoids_points` does, and both starting medoid sets. This script keeps the fit (`record`). Commands::

    # 1. inputs (this repository's venv)
    .venv/bin/python -m scripts.record.kmedoids inputs --out /tmp/kmedoids_inputs.npz
    # 2. scikit-learn-extra (the version SAM-PT pins, 0.3.0), from this repository's root
    /path/to/venv/bin/python -m scripts.record.kmedoids record --inputs /tmp/kmedoids_inputs.npz \\
        --out tests/fixtures/official_kmedoids

`tests/trackers/sampt/test_official_kmedoids.py` regenerates the inputs (`tests.inputs`) and compares.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.record.common import recording_parser
from tests.inputs import KMEDOIDS_CASES, KMEDOIDS_SEED, make_kmedoids_inputs


def record(inputs: Path, out: Path) -> dict:
    """Fit scikit-learn-extra's KMedoids from both starting sets of every case; write ``out/kmedoids.npz``."""
    import sklearn_extra
    from sklearn_extra.cluster import KMedoids

    data = np.load(inputs)
    result, summary = {}, {}
    for i, case in enumerate(KMEDOIDS_CASES):
        sample = data[f"sample_{i}"]
        for start in ("heuristic", "random"):
            init = data[f"{start}_{i}"]
            model = KMedoids(n_clusters=case[3], init=sample[init]).fit(sample)
            assert np.array_equal(np.sort(model.medoid_indices_), np.sort(np.unique(model.medoid_indices_)))
            result[f"{start}_init_{i}"] = init
            result[f"{start}_medoids_{i}"] = model.medoid_indices_.astype(np.int64)
            result[f"{start}_centers_{i}"] = model.cluster_centers_
            summary[f"{i} {start}"] = {"iterations": int(model.n_iter_) + 1, "inertia": float(model.inertia_)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "kmedoids.npz", **result)
    info = {"scikit-learn-extra": sklearn_extra.__version__, "numpy": np.__version__, "cases": KMEDOIDS_CASES,
            "seed": KMEDOIDS_SEED, "fits": summary}
    (out / "recording.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the subsamples and starting medoids (.npz)",
                                    "fit scikit-learn-extra's KMedoids on the inputs",
                                    "tests/fixtures/official_kmedoids", shared_data=True)
    args = parser.parse_args(argv)
    if args.command == "inputs":
        np.savez(args.out, **make_kmedoids_inputs(args.shared_data))
    else:
        print(json.dumps(record(args.inputs, args.out), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
