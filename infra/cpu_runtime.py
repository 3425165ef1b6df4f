"""Process-wide CPU settings of a run: torch's thread count, frames run at once, how the C allocator keeps
freed memory.

SAM-PT's neural stages allocate and free the same large activations on every frame and every decoder call
(a MobileSAM frame at 1024: 64 MiB tensors; the mask decoder: tens of MiB per call). glibc's ``malloc`` serves
every block above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and unmaps it on ``free``, and
returns freed heap tops to the system, so each call pays the kernel's page faults and zero-filling again.
`keep_freed_memory` turns both off (``mallopt(M_MMAP_MAX, 0)``, ``mallopt(M_TRIM_THRESHOLD, 2 GiB - 1)``):
freed blocks stay in the process and are reused. Results are unchanged (the same kernels on the same
numbers); the resident memory stays at the run's peak instead of shrinking between frames. Threads other than
the main one would still map and unmap their large blocks (glibc's per-thread arenas grow in mappings of at
most 64 MiB), so all threads share the main arena (``mallopt(M_ARENA_MAX, 1)``).

Frame workers (`configure`'s ``frame_workers``, `frame_workers`, `run_in_order`): on a CPU, SAM-PT's frame
loop runs that many frames at once, each on one thread with one torch thread. SAM's decoder runs hundreds of
small operations per frame, which gain little from torch's threads within an operation; frames are
independent once their prompts are drawn, so whole frames run side by side instead. Each frame's numbers are
those of a one-thread run.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Callable, Iterable, Iterator, TypeVar

from infra.background import in_order

log = logging.getLogger("sampt")

#: glibc's ``mallopt`` parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
T = TypeVar("T")
#: frames the frame loop runs at once on a CPU (`configure`); 1 until a run configures it
_frame_workers = 1
#: the largest trim threshold ``mallopt`` takes (an int)
NEVER_TRIM = 2 ** 31 - 1


def _glibc_mallopt():
    """glibc's ``mallopt`` function, or None where the C library is not glibc (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    library = ctypes.CDLL(name)
    if not hasattr(library, "gnu_get_libc_version"):
        return None
    return library.mallopt


def keep_freed_memory() -> bool:
    """Keep freed memory in the process for reuse (see the module docstring). Returns whether it applied:
    False (with a log line) where the C library is not glibc, which then keeps its own defaults."""
    mallopt = _glibc_mallopt()
    if mallopt is None:
        log.info("keep_freed_memory: the C library is not glibc; its allocator keeps its defaults")
        return False
    if not (mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) and mallopt(M_ARENA_MAX, 1)):
        raise RuntimeError("keep_freed_memory: glibc's mallopt refused M_MMAP_MAX=0, M_TRIM_THRESHOLD or "
                           "M_ARENA_MAX=1")
    return True


def _positive_or_none(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive number or null, got {value!r}")
    return int(value)


def configure(threads: int | None, keep_freed: bool, frame_workers: int | None = 1) -> dict:
    """Apply a run's CPU settings: ``threads`` torch intra-op threads (None: torch's default, one per core),
    `keep_freed_memory` when ``keep_freed``, and ``frame_workers`` frames at once in the frame loop on a
    CPU (None: one per thread). Returns what is in effect, for the run's records."""
    import torch

    global _frame_workers
    threads = _positive_or_none("threads", threads)
    workers = _positive_or_none("frame_workers", frame_workers)
    if threads is not None:
        torch.set_num_threads(threads)
    kept = keep_freed_memory() if keep_freed else False
    _frame_workers = torch.get_num_threads() if workers is None else workers
    return {"threads": torch.get_num_threads(), "keep_freed_memory": kept, "frame_workers": _frame_workers}


def frame_workers(device) -> int:
    """Frames the frame loop runs at once for a model on ``device`` (a `torch.device` or its name): the
    configured number on a CPU, 1 elsewhere (a GPU runs one frame's kernels at a time anyway)."""
    import torch

    return _frame_workers if torch.device(device).type == "cpu" else 1


def run_in_order(jobs: Iterable[Callable[[], T]], workers: int) -> Iterator[T]:
    """`infra.background.in_order` with one torch thread per worker; torch's thread count is as before after.

    (``torch.set_num_threads`` on a worker also sets the count that threads started later begin with, which
    is put back when the jobs are done.)
    """
    import torch

    if workers == 1:
        yield from in_order(jobs, 1)
        return
    threads = torch.get_num_threads()
    try:
        yield from in_order(jobs, workers, initializer=functools.partial(torch.set_num_threads, 1))
    finally:
        torch.set_num_threads(threads)
