"""Runs over several processes (`experiments.run.ranks`): torchrun with 2 CPU ranks equals the
single-process run, a lost rank stops the run with its name and a re-run finishes only what is missing,
submitit's local executor gives the ranks through Hydra's submitit launcher, and the frame-count split."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from experiments.run.outputs import is_complete
from experiments.run.ranks import Ranks, discover, require_shared_folder, split_by_frames
from tests.helpers import FAST, REPO, run_app, tiny_davis

#: FAST on the embedded default (3 videos x 20 frames)
EMBEDDED = [option for option in FAST if not option.startswith("dataset=")]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}


def pngs(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted((run_dir / "predictions").rglob("*.png"))}


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def single_run(tmp_path_factory) -> Path:
    """The embedded default predicted by one process: the reference of the runs over several."""
    run_dir = tmp_path_factory.mktemp("single")
    run_app(*EMBEDDED, f"output_dir={run_dir}")
    return run_dir


def assert_equal_runs(run_dir: Path, reference: Path) -> None:
    assert pngs(run_dir) and pngs(run_dir) == pngs(reference)
    assert results(run_dir)["metrics"]["global"] == results(reference)["metrics"]["global"]


def test_torchrun_two_ranks_equals_one_process(single_run, tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "experiments.run", *EMBEDDED, f"output_dir={run_dir}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_equal_runs(run_dir, single_run)
    record = results(run_dir)
    assert record["world_size"] == 2 and results(single_run)["world_size"] == 1
    assert sorted({info["rank"] for info in record["videos"].values()}) == [0, 1]
    assert list(record["videos"]) == list(results(single_run)["videos"])  # one record, in video order


def test_torchrun_sweep_shares_one_process_group(tmp_path):
    """The jobs of a multirun run one after another in each rank's process, over the same ranks."""
    data = tiny_davis(tmp_path / "DAVIS")
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "experiments.run", "-m", *FAST, f"dataset.root={data}", "seed=0,1", f"output_dir={sweep}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    for job in ("0", "1"):
        record = results(sweep / job)
        assert record["world_size"] == 2 and record["metrics"]["global"]
        assert sorted(info["rank"] for info in record["videos"].values()) == [0, 1]
    assert (sweep / "sweep_results.csv").is_file() and done.stdout.count("sweep table:") == 1


def test_submitit_local_tasks_are_the_ranks(single_run, tmp_path):
    """Hydra's submitit launcher with 2 tasks of one job: the ranks come from the submitit environment."""
    sweep = tmp_path / "sweep"
    run_app("-m", "hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2", *EMBEDDED,
            f"output_dir={sweep}")
    run_dir = sweep / "0"
    assert_equal_runs(run_dir, single_run)
    assert results(run_dir)["world_size"] == 2
    log = (run_dir / "run.log").read_text()
    assert "rank 0 of 2 (local rank 0, submitit)" in log and "rank 1 of 2 (local rank 1, submitit)" in log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_rank(rank: int, port: int, overrides: list[str]) -> subprocess.Popen:
    """One rank as torchrun starts it (its environment variables), without torchrun's agent."""
    env = {**ENV, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    return subprocess.Popen([sys.executable, "-m", "experiments.run", *overrides], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("lost", ["killed", "hung"])
def test_lost_rank_stops_the_run_naming_it_and_a_rerun_finishes_the_rest(lost, tmp_path):
    """Rank 1 is stopped before it predicts; killed: it dies once rank 0's video is done (rank 0's receive
    fails), hung: it stays stopped (rank 0's receive times out after rank_timeout_s)."""
    data = tiny_davis(tmp_path / "DAVIS")  # 2 videos of 6 frames: one per rank
    reference = tmp_path / "reference"
    run_app(*FAST, f"dataset.root={data}", f"output_dir={reference}")
    run_dir = tmp_path / "run"
    timeout = 60 if lost == "killed" else 3
    overrides = [*FAST, f"dataset.root={data}", f"output_dir={run_dir}", f"rank_timeout_s={timeout}"]
    port = free_port()
    zero, one = start_rank(0, port, overrides), start_rank(1, port, overrides)
    first, second = sorted(path.name for path in (data / "JPEGImages" / "480p").iterdir())
    try:
        for line in one.stdout:  # the process group is up: stop rank 1 before it predicts anything
            if "rank 1 of 2 (local rank 1" in line:
                one.send_signal(signal.SIGSTOP)
                break
        wait_for(lambda: (run_dir / "predictions" / first / ".complete").is_file())
        if lost == "killed":
            one.kill()
        output = zero.communicate(timeout=120)[0]
    finally:
        for rank in (zero, one):
            rank.kill()
            rank.wait(timeout=30)
    assert zero.returncode == 1, output
    assert "rank 1 of 2 died or did not report" in output and not (run_dir / "results.json").exists()
    assert not (run_dir / "predictions" / second / ".complete").exists()

    marker = run_dir / "predictions" / first / ".complete"
    stamp = marker.stat().st_mtime_ns
    run_app(*FAST, f"dataset.root={data}", f"output_dir={run_dir}")  # one process finishes the rest
    record = results(run_dir)
    assert record["videos_skipped_complete"] == [first] and list(record["videos"]) == [second]
    assert marker.stat().st_mtime_ns == stamp
    assert_equal_runs(run_dir, reference)


def video(name: str, frames: int):
    return SimpleNamespace(name=name, num_frames=frames)


def test_split_by_frames_is_balanced_and_deterministic():
    videos = [video("a", 10), video("b", 50), video("c", 30), video("d", 30), video("e", 20), video("f", 10)]
    shares = split_by_frames(videos, 2)
    assert [[v.name for v in share] for share in shares] == [["b", "e", "f"], ["a", "c", "d"]]
    assert [sum(v.num_frames for v in share) for share in shares] == [80, 70]
    assert [[v.name for v in share] for share in split_by_frames(list(reversed(videos)), 2)] == \
        [["f", "e", "b"], ["d", "c", "a"]]  # the same split, each share in the given order
    assert split_by_frames(videos, 1) == [videos]
    assert split_by_frames(videos[:1], 3) == [videos[:1], [], []]


def test_ranks_from_torchrun_environment(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SUBMITIT_EXECUTOR"):
        monkeypatch.delenv(key, raising=False)
    assert discover() == Ranks()
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert discover() == Ranks(3, 4, 1, "torchrun")


def test_torchrun_needs_one_run_folder():
    with pytest.raises(ValueError, match="output_dir=RUN"):
        require_shared_folder(Ranks(1, 2, 1, "torchrun"), None)
    require_shared_folder(Ranks(1, 2, 1, "torchrun"), "RUN")
    require_shared_folder(Ranks(), None)
