"""`make bench`: runs every CPU benchmark module `scripts/bench_*.py` (each has a `main()`) in one process.

`scripts/bench_gpu.py` needs a GPU and has its own target (`make bench-gpu`), so it is not run here.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

GPU_ONLY = {"bench_gpu"}


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_") and m.name not in GPU_ONLY)
    selected = sys.argv[1:] or names
    for name in selected:
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"scripts.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
