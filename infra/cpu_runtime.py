"""Process-wide CPU settings of a run: torch's thread count and how the C allocator keeps freed memory.

SAM-PT's neural stages allocate and free the same large activations on every frame and every decoder call
(a MobileSAM frame at 1024: 64 MiB tensors; the mask decoder: tens of MiB per call). glibc's ``malloc`` serves
every block above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and unmaps it on ``free``, and
returns freed heap tops to the system, so each call pays the kernel's page faults and zero-filling again.
`keep_freed_memory` turns both off (``mallopt(M_MMAP_MAX, 0)``, ``mallopt(M_TRIM_THRESHOLD, 2 GiB - 1)``):
freed blocks stay in the process and are reused. Results are unchanged (the same kernels on the same
numbers); the resident memory stays at the run's peak instead of shrinking between frames.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("sampt")

#: glibc's ``mallopt`` parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
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
    if not (mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)):
        raise RuntimeError("keep_freed_memory: glibc's mallopt refused M_MMAP_MAX=0 or M_TRIM_THRESHOLD")
    return True


def configure(threads: int | None, keep_freed: bool) -> dict:
    """Apply a run's CPU settings: ``threads`` torch intra-op threads (None: torch's default, one per core)
    and `keep_freed_memory` when ``keep_freed``. Returns what is in effect, for the run's records."""
    import torch

    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"threads must be a positive number of threads or null, got {threads!r}")
        torch.set_num_threads(int(threads))
    kept = keep_freed_memory() if keep_freed else False
    return {"threads": torch.get_num_threads(), "keep_freed_memory": kept}
