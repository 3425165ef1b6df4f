"""Helpers shared by the scripts that record official outputs as test fixtures (``scripts/record/*.py``):
the official commit, stand-ins for modules the official code imports but never calls, the command line.
The inputs the recorders write (and the tests regenerate) are made in `tests.inputs`."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

#: a `shared/data` folder beside the repository with real DAVIS masks (the OSVOS and RVOS results shipped with
#: the official DAVIS 2017 evaluation package); override with --shared-data
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def official_commit(official: Path, commit: str | None = None) -> str:
    """``commit`` when given, else the checkout's HEAD."""
    if commit:
        return commit
    found = subprocess.run(["git", "-C", str(official), "rev-parse", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or "unknown (not a git checkout: pass --commit)"


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
