"""Helpers shared by the scripts that record official outputs as test fixtures (``scripts/record_*.py``,
``scripts/record/authors_eval.py``): the official commit, damped random PIPS weights, stand-ins for
modules the official code imports but never calls."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

#: (parameter name prefix, factor) of PIPS: the last layer of the update MLP, the feature and visibility
#: heads. Random PIPS weights are chaotic (a 1e-7 change of one weight moves tracks by ~0.5 px); damped,
#: the official tracker is stable to 1e-4 px under such a change.
#: a `shared/data` folder beside the repository with real DAVIS masks (the OSVOS and RVOS results shipped with
#: the official DAVIS 2017 evaluation package); override with --shared-data
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PIPS_DAMPING = (("delta_block.to_delta.15.", 0.05), ("ffeat_updater.0.", 0.05), ("vis_predictor.0.", 0.05))


def official_commit(official: Path, commit: str | None = None) -> str:
    """``commit`` when given, else the checkout's HEAD."""
    if commit:
        return commit
    found = subprocess.run(["git", "-C", str(official), "rev-parse", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or "unknown (not a git checkout: pass --commit)"


def damp(state: dict, damping) -> dict:
    """Scale the tensors whose names start with a prefix of ``damping`` ((prefix, factor), ...) in place;
    every prefix must match exactly one weight and one bias."""
    damped = 0
    for name in state:
        for prefix, factor in damping:
            if name.startswith(prefix):
                state[name] = state[name] * factor
                damped += 1
    if damped != 2 * len(damping):
        raise RuntimeError(f"damping matched {damped} tensors, expected {2 * len(damping)}")
    return state


def damped_pips_state(seed: int, damping=PIPS_DAMPING) -> dict:
    """A random `PipsNet` (window 8, stride 4) state dict drawn after ``torch.manual_seed(seed)``, scaled
    by ``damping`` (`damp`); the global torch generator is left as it was."""
    import torch

    from trackers.point.pips.net import PipsNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = PipsNet(window=8, stride=4).state_dict()
    return damp(state, damping)


def install_stand_ins() -> None:
    """Modules SAM-PT's code imports but the recorded paths never call: wandb (logging), three point-tracker
    subpackages whose dependencies (TensorFlow, JAX, cotracker) are not needed for PIPS or RAFT, and, when
    the DAVIS evaluation package is not installed, its names (used by their final scoring step only)."""

    class _Run:
        summary: dict = {}

        def log_code(self, *args, **kwargs):
            pass

    wandb = types.ModuleType("wandb")
    wandb.run = _Run()
    wandb.init = lambda *args, **kwargs: wandb.run
    wandb.log = lambda *args, **kwargs: None
    wandb.Table = wandb.Image = wandb.Video = lambda *args, **kwargs: None
    sys.modules["wandb"] = wandb
    try:
        import davis2017.evaluation  # noqa: F401
        import davis2017.metrics  # noqa: F401
    except ImportError:
        names = {"davis2017.evaluation": ("DAVISEvaluation",), "davis2017.metrics": ("db_eval_boundary", "db_eval_iou"),
                 "davis2017.utils": ("db_statistics",)}
        sys.modules["davis2017"] = types.ModuleType("davis2017")
        sys.modules["davis2017"].__path__ = []
        for name, attributes in names.items():
            sys.modules[name] = types.ModuleType(name)
            for attribute in attributes:
                setattr(sys.modules[name], attribute, None)
    for sub, cls in (("tapir", "TapirPointTracker"), ("tapnet", "TapnetPointTracker"),
                     ("cotracker", "CoTrackerPointTracker")):
        module = types.ModuleType(f"sam_pt.point_tracker.{sub}")
        setattr(module, cls, type(cls, (), {}))
        sys.modules[module.__name__] = module


def recording_parser(doc: str, inputs_help: str, record_help: str, out: str, official: str | None = None,
                     shared_data: bool = False) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser,
                                                          argparse.ArgumentParser]:
    """The command line every recording script shares: ``inputs --out`` (and ``--shared-data``) and ``record
    --inputs --out`` (and ``--official``/``--commit`` when ``official`` describes the official checkout);
    returns the parser and both subparsers, for script-specific options."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("inputs", help=inputs_help)
    make.add_argument("--out", type=Path, required=True)
    if shared_data:
        make.add_argument("--shared-data", type=Path, default=SHARED_DATA)
    rec = sub.add_parser("record", help=record_help)
    if official:
        rec.add_argument("--official", type=Path, required=True, help=official)
        rec.add_argument("--commit", help="the official commit, when --official is an export without .git")
    rec.add_argument("--inputs", type=Path, required=True, help="what `inputs` wrote")
    rec.add_argument("--out", type=Path, default=Path(out))
    return parser, make, rec


def run_recording_cli(parser: argparse.ArgumentParser, argv, make_inputs, record, shown=lambda recorded: recorded) -> int:
    """Run a recording script's ``inputs`` (``make_inputs(out) -> {name: path}``) or ``record``
    (``record(official, inputs, out, commit) -> dict``) command and print its result (``shown`` of it) as json."""
    args = parser.parse_args(argv)
    if args.command == "inputs":
        print(json.dumps({key: str(value) for key, value in make_inputs(args.out).items()}, indent=1))
    else:
        print(json.dumps(shown(record(args.official, args.inputs, args.out, args.commit)), indent=1))
    return 0
