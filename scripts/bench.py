"""`make bench`: runs every benchmark module `scripts/bench_*.py` (each has a `main()`) in one process."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    selected = sys.argv[1:] or names
    for name in selected:
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"scripts.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
