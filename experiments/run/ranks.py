"""The ranks of one run spread over processes: one process per GPU (torchrun) or per SLURM task (submitit).

Every rank runs the same Hydra app into the same run folder. The videos are split between the ranks by
frame count (`split_by_frames`); each rank predicts its share with the resumable per-video loop; rank 0
collects every rank's per-video records (`gather_to_zero`), scores once and writes the results record.

Where the ranks come from (`discover`): torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (and
``MASTER_ADDR``/``MASTER_PORT``); else, inside a submitit job (SLURM or local), the job's tasks
(``submitit.JobEnvironment``: ``SLURM_PROCID``/``SLURM_NTASKS``/``SLURM_LOCALID`` on SLURM), with the
rendezvous address exported by submitit; else one process (rank 0 of 1, nothing initialised).
The ranks exchange only their records, never tensors, so the process group is always gloo; on CUDA each
rank pins its GPU (``cuda:LOCAL_RANK``), so ``device=auto`` (and ``cuda``) mean that GPU.
"""
from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch

log = logging.getLogger("sampt")


class RankLost(Exception):
    """A rank died or timed out before reporting; the message names it. Completed videos are kept."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``rank`` of ``world_size``, ``local_rank`` on its machine, and
    ``launcher`` (``single``, ``torchrun`` or ``submitit``)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launcher: str = "single"

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


SINGLE = Ranks()


def discover() -> Ranks:
    """The ranks from the environment (torchrun first, then submitit, else `SINGLE`)."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return Ranks(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)), "torchrun")
    if env.get("SUBMITIT_EXECUTOR"):
        from submitit.helpers import TorchDistributedEnvironment

        job = TorchDistributedEnvironment().export(set_cuda_visible_devices=False)  # MASTER_ADDR/PORT, RANK...
        return Ranks(job.rank, job.world_size, job.local_rank, "submitit")
    return SINGLE


def start(ranks: Ranks, timeout_s: float) -> None:
    """Join the process group (gloo, ``timeout_s`` for every exchange) and pin this rank's GPU; no-op for
    one process or when joined already. The group lasts as long as the process (the jobs of a sweep share
    it: a group rebuilt between jobs could meet a rank still in the old one), and is left at exit."""
    if not ranks.distributed or torch.distributed.is_initialized():
        return
    atexit.register(stop)
    if torch.cuda.is_available():
        torch.cuda.set_device(ranks.local_rank % torch.cuda.device_count())
    torch.distributed.init_process_group("gloo", rank=ranks.rank, world_size=ranks.world_size,
                                         timeout=timedelta(seconds=timeout_s))
    log.info("rank %d of %d (local rank %d, %s)", ranks.rank, ranks.world_size, ranks.local_rank, ranks.launcher)


def stop() -> None:
    """Leave the process group (if joined)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def require_shared_folder(ranks: Ranks, output_dir) -> None:
    """torchrun starts every rank's Hydra app on its own clock: they agree on a run folder only when it is
    given. ValueError naming the fix when ``output_dir`` is missing."""
    if ranks.launcher == "torchrun" and ranks.distributed and output_dir is None:
        raise ValueError(f"torchrun started {ranks.world_size} ranks but no run folder: every rank must write "
                         f"into the same one, give it with output_dir=RUN (make eval GPUS=N sets it)")


def split_by_frames(videos: list, world_size: int) -> list[list]:
    """The videos (anything with ``name`` and ``num_frames``) split into ``world_size`` shares balanced by
    frame count: longest first onto the least-loaded rank (ties: the lower rank; equal lengths by name), so
    the split depends only on the video list. Each share keeps the order of ``videos``."""
    loads = [0] * world_size
    shares: list[list] = [[] for _ in range(world_size)]
    for video in sorted(videos, key=lambda v: (-int(v.num_frames), v.name)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shares[rank].append(video)
        loads[rank] += int(video.num_frames)
    order = {video.name: index for index, video in enumerate(videos)}
    return [sorted(share, key=lambda v: order[v.name]) for share in shares]


def share_of(ranks: Ranks, videos: list) -> list:
    """This rank's videos (all of them for one process)."""
    if not ranks.distributed:
        return list(videos)
    mine = split_by_frames(videos, ranks.world_size)[ranks.rank]
    log.info("rank %d of %d: %d of %d videos (%d frames)", ranks.rank, ranks.world_size, len(mine), len(videos),
             sum(int(video.num_frames) for video in mine))
    return mine


def gather_to_zero(ranks: Ranks, value) -> list | None:
    """Every rank's ``value`` (picklable) at rank 0, in rank order; None on the other ranks; ``[value]`` for
    one process. All ranks wait for each other at the end. `RankLost` names the ranks that died or did not
    report within the process group's timeout."""
    if not ranks.distributed:
        return [value]
    dist = torch.distributed
    if ranks.rank != 0:
        try:
            dist.send_object_list([value], dst=0)
            dist.barrier()
        except RuntimeError as error:  # DistBackendError and gloo's errors are RuntimeErrors
            raise RankLost(lost_message(ranks, [0], error)) from None
        return None
    values, lost = [value], []
    for source in range(1, ranks.world_size):
        box = [None]
        try:
            dist.recv_object_list(box, src=source)
        except RuntimeError as error:
            lost.append((source, error))
        values.append(box[0])
    if lost:
        raise RankLost(lost_message(ranks, [source for source, _ in lost], lost[0][1]))
    dist.barrier()
    return values


def lost_message(ranks: Ranks, missing: list[int], error: Exception) -> str:
    """The error of a run that lost ``missing`` ranks, and what to do."""
    names = ", ".join(str(rank) for rank in missing)
    return (f"rank {ranks.rank}: rank {names} of {ranks.world_size} died or did not report in time "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); see its log. "
            f"The completed videos are kept: re-run the same command to predict only the missing ones")
