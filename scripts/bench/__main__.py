"""`make bench`: every CPU benchmark of this package (each module has a `main()`), in one process.

`python -m scripts.bench [NAME ...]` runs the named ones (e.g. ``e2e memory``). The GPU session
(`scripts.bench.gpu`) needs a GPU and has its own target (`make bench-gpu`), so it is not run here.
"""
from __future__ import annotations

import importlib
import sys

#: the CPU benchmarks, in the order `make bench` runs them
BENCHMARKS = ("e2e", "eval", "lvos", "memory", "mosev2", "sam_step", "sav", "segmenters", "stages", "trackers",
              "vis", "vost", "bdd100k")


def main() -> int:
    selected = sys.argv[1:] or BENCHMARKS
    unknown = sorted(set(selected) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in selected:
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"scripts.bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
