"""`infra.cpu_runtime`: a run's thread count and glibc's keep-freed-memory setting."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from infra import cpu_runtime

PROBE = """
import resource, sys, threading
sys.path.insert(0, {root!r})
from infra import cpu_runtime
if {keep}:
    assert cpu_runtime.keep_freed_memory()
import torch
x = torch.ones(16 * 2 ** 20)  # 64 MiB, above glibc's largest mmap threshold and its per-thread heaps
def steps():
    for _ in range(40):  # two 64 MiB temporaries made and freed per step, as a network's layers do
        y = (x + 1).relu_() * 2
        del y
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
if {on_thread}:  # a frame worker's thread
    thread = threading.Thread(target=steps)
    thread.start()
    thread.join()
else:
    steps()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(keep: bool, on_thread: bool = False) -> int:
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=root, keep=keep, on_thread=on_thread)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(cpu_runtime._glibc_mallopt() is None, reason="glibc only")
def test_freed_tensors_are_reused_instead_of_faulted_in_again():
    """By default every 64 MiB temporary is a fresh mapping (16384 page faults each, 80 in all); once freed
    memory is kept, the heap grows for the first few and is reused after."""
    default, kept = page_faults(False), page_faults(True)
    assert default > 60 * 16384
    assert kept < default / 4


@pytest.mark.skipif(cpu_runtime._glibc_mallopt() is None, reason="glibc only")
def test_freed_tensors_are_reused_on_other_threads_too():
    """A thread's own arena would map every 64 MiB block afresh whatever M_MMAP_MAX says; with one arena it
    reuses the freed memory as the main thread does."""
    default, kept = page_faults(False, on_thread=True), page_faults(True, on_thread=True)
    assert default > 60 * 16384
    assert kept < default / 4


def test_configure_sets_threads_and_frame_workers_and_reports(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(cpu_runtime, "keep_freed_memory", lambda: True)
    monkeypatch.setattr(cpu_runtime, "_frame_workers", 1)
    try:
        assert cpu_runtime.configure(1, True) == {"threads": 1, "keep_freed_memory": True, "frame_workers": 1}
        assert cpu_runtime.configure(2, False, None) == {"threads": 2, "keep_freed_memory": False, "frame_workers": 2}
        assert cpu_runtime.configure(None, False, 3)["frame_workers"] == 3
    finally:
        torch.set_num_threads(threads)
    assert cpu_runtime.frame_workers("cpu") == 3 and cpu_runtime.frame_workers(torch.device("cuda", 0)) == 1
    for bad in ({"threads": 0}, {"threads": 1.5}, {"frame_workers": 0}, {"frame_workers": True}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be a positive number or null"):
            cpu_runtime.configure(**{"threads": None, "keep_freed": False, **bad})


def test_run_in_order_gives_each_worker_one_thread_and_puts_the_count_back():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        seen = list(cpu_runtime.run_in_order([torch.get_num_threads] * 4, 2))
        assert seen == [1] * 4
        assert torch.get_num_threads() == 2
        later = []  # a thread started afterwards begins with the process's count again, not the workers'
        thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert later == [2]
        assert list(cpu_runtime.run_in_order([torch.get_num_threads] * 2, 1)) == [2, 2]  # on the caller's thread
    finally:
        torch.set_num_threads(threads)


def test_other_c_libraries_keep_their_defaults(monkeypatch, caplog):
    monkeypatch.setattr(cpu_runtime, "_glibc_mallopt", lambda: None)
    with caplog.at_level("INFO", logger="sampt"):
        assert cpu_runtime.keep_freed_memory() is False
    assert "not glibc" in caplog.text
