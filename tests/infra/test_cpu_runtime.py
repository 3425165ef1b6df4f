"""`infra.cpu_runtime`: a run's thread count and glibc's keep-freed-memory setting."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from infra import cpu_runtime

PROBE = """
import resource, sys
sys.path.insert(0, {root!r})
from infra import cpu_runtime
if {keep}:
    assert cpu_runtime.keep_freed_memory()
import torch
x = torch.ones(16 * 2 ** 20)  # 64 MiB, above glibc's largest mmap threshold
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):  # two 64 MiB temporaries made and freed per step, as a network's layers do
    y = (x + 1).relu_() * 2
    del y
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(keep: bool) -> int:
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=root, keep=keep)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(cpu_runtime._glibc_mallopt() is None, reason="glibc only")
def test_freed_tensors_are_reused_instead_of_faulted_in_again():
    """By default every 64 MiB temporary is a fresh mapping (16384 page faults each, 80 in all); once freed
    memory is kept, the heap grows for the first few and is reused after."""
    default, kept = page_faults(False), page_faults(True)
    assert default > 60 * 16384
    assert kept < default / 4


def test_configure_sets_threads_and_reports(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(cpu_runtime, "keep_freed_memory", lambda: True)
    try:
        assert cpu_runtime.configure(1, True) == {"threads": 1, "keep_freed_memory": True}
        assert cpu_runtime.configure(None, False) == {"threads": 1, "keep_freed_memory": False}
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(ValueError, match="threads must be a positive number"):
        cpu_runtime.configure(0, False)


def test_other_c_libraries_keep_their_defaults(monkeypatch, caplog):
    monkeypatch.setattr(cpu_runtime, "_glibc_mallopt", lambda: None)
    with caplog.at_level("INFO", logger="sampt"):
        assert cpu_runtime.keep_freed_memory() is False
    assert "not glibc" in caplog.text
