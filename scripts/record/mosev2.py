"""Record the official MOSEv2 evaluator (tests/fixtures/official_mosev2).

The inputs are deterministic (`tests.inputs.make_mosev2_inputs`, shared with the test): a synthetic MOSEv2 valid
root (`tests.inputs.MOSEV2_GT`: 3 videos of 40 frames at 120x160, every frame annotated; object 2 starts on
frame 8, leaves the frame and comes back) with GT edits (an object erased on two frame ranges, one erased from
frame 34 to the end, a tiny object of 1..4 pixels a side, meta ``objects`` out of id order and as a mapping)
and seeded predictions: jittered copies of the GT masks, one object never predicted, one predicted before it
starts, an all-background frame, a predicted id and a predicted video that the GT lacks
(`tests.inputs.MOSEV2_CASES`).

`record` runs the official ``MOSEv2/sam2_rcms/tools/score.py`` of a henghuiding/MOSE-api checkout (it needs
numpy, opencv, pillow, scikit-image and tqdm) twice in a subprocess, with ``--meta valid/meta.json --ann
valid/Annotations --pred PRED --output OUT``: once unmodified (its rounded ``scores.txt`` and ``metrics.json``
are stored as they are, but ``total_time``, a timing) and once with the module's ``round`` replaced by the
identity (`UNROUNDED`), so that the same files carry its unrounded percentages; those, divided by 100, are
stored as fractions in ``mosev2.json``. Commands, from this repository's root::

    .venv/bin/python -m scripts.record.mosev2 inputs --out /tmp/mosev2_inputs
    .venv/bin/python -m scripts.record.mosev2 record --official /path/to/MOSE-api --inputs /tmp/mosev2_inputs \\
        --out tests/fixtures/official_mosev2

`tests/evaluation/test_official_mosev2.py` regenerates the inputs (`tests.inputs`) and compares
`evaluation.mosev2.evaluate_mosev2`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.record.common import official_commit, recording_parser, run_recording_cli
from tests.inputs import make_mosev2_inputs

TOOLS = Path("MOSEv2") / "sam2_rcms" / "tools"
#: run in a subprocess: import the official score.py, optionally without rounding or with a process count,
#: and run its main() on the given argv
DRIVER = """\
import sys
tools, unrounded, processes, argv = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4:]
sys.path.insert(0, tools)
import score
if unrounded:
    score.round = lambda value, digits=None: value
if processes > 0:
    score.MAX_WORKERS = processes
sys.argv = ["score.py"] + argv
score.main()
"""
UNROUNDED = True


def run_score(official: Path, split_dir: Path, predictions: Path, out: Path, unrounded: bool,
              processes: int = 0) -> tuple[dict, str]:
    """Run the official ``score.py`` (``processes`` 0: its default, one per CPU) writing into ``out``; returns
    (its ``metrics.json`` without ``total_time``, its ``scores.txt`` text)."""
    argv = ["--meta", str(split_dir / "meta.json"), "--ann", str(split_dir / "Annotations"),
            "--pred", str(predictions), "--output", str(out)]
    command = [sys.executable, "-c", DRIVER, str(Path(official) / TOOLS), "1" if unrounded else "0", str(processes)]
    done = subprocess.run(command + argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the official score.py failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    metrics.pop("total_time")
    return metrics, (out / "scores.txt").read_text()


def run_official(official: Path, split_dir: Path, predictions: Path, processes: int = 0) -> dict:
    """The official scores, unrounded: ``global`` {its scores.txt keys} and ``per_object`` {"<video>_<id>":
    {its metrics.json keys}} as fractions (None where it writes null, NaN where it prints nan)."""
    with tempfile.TemporaryDirectory() as scratch:
        metrics, scores = run_score(official, split_dir, predictions, Path(scratch), UNROUNDED, processes)
    table = dict(line.split(": ", 1) for line in scores.splitlines() if not line.startswith("Copy-Paste"))
    per_object = {key: {name: None if value is None else value / 100 for name, value in row.items()}
                  for key, row in metrics.items()}
    return {"global": {name: float(value) / 100 for name, value in table.items()}, "per_object": per_object}


def record(official: Path, inputs: Path, out: Path, commit: str | None = None) -> dict:
    """Score the inputs with the official evaluator and write ``out/mosev2.json``."""
    official = Path(official).resolve()
    inputs = Path(inputs).resolve()
    split_dir, predictions = inputs / "gt" / "valid", inputs / "pred"
    with tempfile.TemporaryDirectory() as scratch:
        metrics, scores = run_score(official, split_dir, predictions, Path(scratch), not UNROUNDED)
    recorded = {"official_commit": official_commit(official, commit), "units": "fraction (the tool's percent / 100)",
                "scores": run_official(official, split_dir, predictions),
                "rounded": {"scores.txt": scores, "metrics.json": metrics}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mosev2.json").write_text(json.dumps(recorded, indent=1) + "\n")
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser, _, _ = recording_parser(__doc__, "write the synthetic MOSEv2 ground truth and predictions",
                                    "run the official MOSEv2 evaluator on them", "tests/fixtures/official_mosev2",
                                    official="a checkout of henghuiding/MOSE-api")
    return run_recording_cli(parser, argv, make_mosev2_inputs, record, lambda recorded: recorded["scores"]["global"])


if __name__ == "__main__":
    sys.exit(main())
