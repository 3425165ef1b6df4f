"""Peak memory of the neural point trackers against video length, on random weights (no checkpoint needed).

Each (tracker, length) runs in a fresh subprocess that builds the tracker from seeded random weights, tracks
``--points`` points (half queried on frame 0, half on the middle frame, so both directions run) through a
synthetic video read frame by frame from a `FrameSource` (the input itself is never held whole), and reports
the process's peak resident memory (``VmHWM`` of /proc/self/status) and its resident memory just before
`track` (``VmRSS``). The difference is what tracking added; its growth between two lengths, divided by the
extra frames, is the memory per frame that a tracker holding the whole video needs.

    python -m scripts.bench.tracker_memory                       # every tracker at 24 and 96 frames, 256x256
    python -m scripts.bench.tracker_memory --trackers pips raft --lengths 24 96 192 --size 256 256
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TRACKERS = ("pips", "pips2", "cotracker3_online", "cotracker3_offline", "tapir", "bootstapir", "raft", "cotracker_v1")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line (this script needs Linux)")


def synthetic_source(num_frames: int, height: int, width: int):
    """A `FrameSource` of a smooth random texture translating by (1, 0.5) px per frame, drawn on demand."""
    from infra.frames import FrameSource

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height + num_frames, width + 2 * num_frames, 3)).astype(np.float32)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1)) / 3

    def frame(t: int) -> np.ndarray:
        return np.ascontiguousarray(texture[t // 2:t // 2 + height, t:t + width]).round().astype(np.uint8)

    return FrameSource(frame, num_frames, (height, width))


def build_random(name: str, folder: Path):
    """The tracker ``name`` on seeded random weights (official checkpoint layout where it reads a file)."""
    import torch

    torch.manual_seed(0)
    if name == "pips":
        from trackers.point.pips.net import PipsNet
        from trackers.point.pips.tracker import PipsTracker
        return PipsTracker(net=PipsNet(window=8, stride=4).eval(), device="cpu")
    if name == "pips2":
        from trackers.point.pips2.net import Pips2Net
        from trackers.point.pips2.tracker import Pips2Tracker
        return Pips2Tracker(net=Pips2Net(stride=8).eval(), device="cpu")
    if name.startswith("cotracker3"):
        from trackers.point.cotracker3.net import OFFLINE_WINDOW, ONLINE_WINDOW, CoTracker3Net
        from trackers.point.cotracker3.tracker import CoTracker3OfflineTracker, CoTracker3OnlineTracker
        offline = name == "cotracker3_offline"
        path = folder / ("scaled_offline.pth" if offline else "scaled_online.pth")
        torch.save(CoTracker3Net(OFFLINE_WINDOW if offline else ONLINE_WINDOW).state_dict(), path)
        cls = CoTracker3OfflineTracker if offline else CoTracker3OnlineTracker
        return cls(checkpoint=path, device="cpu")
    if name == "cotracker_v1":
        from trackers.point.cotracker1.net import CoTrackerV1Net
        from trackers.point.cotracker1.tracker import CHECKPOINT, CoTrackerV1Tracker
        torch.save(CoTrackerV1Net().state_dict(), folder / CHECKPOINT.filename)
        return CoTrackerV1Tracker(checkpoint=folder / CHECKPOINT.filename, device="cpu")
    if name in ("tapir", "bootstapir"):
        from trackers.point.tapir.net import TapirNet
        from trackers.point.tapir.tracker import BootsTapirTracker, TapirTracker
        cls = TapirTracker if name == "tapir" else BootsTapirTracker
        path = folder / cls.info.filename
        torch.save(TapirNet(pyramid_level=cls.pyramid_level, extra_convs=cls.extra_convs).state_dict(), path)
        return cls(checkpoint=path, device="cpu")
    if name == "raft":
        from trackers.point.raft.tracker import RaftTracker, build_raft
        path = folder / "raft_small_C_T_V2-01064c6d.pth"
        torch.save(build_raft("raft_small").state_dict(), path)
        return RaftTracker(checkpoint=path, device="cpu", variant="raft_small", iterations=4)
    raise ValueError(f"unknown tracker {name!r}; valid: {', '.join(TRACKERS)}")


def measure(name: str, num_frames: int, height: int, width: int, points: int) -> dict:
    """Run one tracker once in this process; peak and pre-`track` resident memory in MiB."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        tracker = build_random(name, Path(folder))
    rng = np.random.default_rng(1)
    xy = rng.uniform([0, 0], [width - 1, height - 1], (points, 2))
    query_t = np.where(np.arange(points) < points // 2, 0, num_frames // 2)
    queries = np.concatenate([query_t[:, None], xy], axis=1).astype(np.float32)
    source = synthetic_source(num_frames, height, width)
    before = _status_kib("VmRSS")
    tracks, _ = tracker.track(source, queries)
    assert tracks.shape == (num_frames, points, 2)
    return {"tracker": name, "frames": num_frames, "size": [height, width], "points": points,
            "rss_before_track_mib": before / 1024, "peak_mib": _status_kib("VmHWM") / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trackers", nargs="+", default=list(TRACKERS), choices=TRACKERS)
    parser.add_argument("--lengths", nargs="+", type=int, default=[24, 96])
    parser.add_argument("--size", nargs=2, type=int, default=[256, 256], metavar=("H", "W"))
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--one", action="store_true", help="measure the first tracker and length in this process")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.trackers[0], args.lengths[0], *args.size, args.points)))
        return 0
    for name in args.trackers:
        for length in args.lengths:
            command = [sys.executable, "-m", "scripts.bench.tracker_memory", "--one", "--trackers", name,
                       "--lengths", str(length), "--size", *map(str, args.size), "--points", str(args.points)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                print(f"{name} {length}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{name:20s} T={length:4d}  peak {row['peak_mib']:8.1f} MiB  before track "
                  f"{row['rss_before_track_mib']:8.1f} MiB  added {row['peak_mib'] - row['rss_before_track_mib']:8.1f} MiB",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
