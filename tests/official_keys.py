"""The recorded official state-dict layouts in `reference/keys/*_keys.txt`, read the same way by every test."""
from __future__ import annotations

from pathlib import Path

KEYS_DIR = Path(__file__).resolve().parents[1] / "reference" / "keys"


def official_keys(name: str) -> dict[str, tuple[int, ...]]:
    """name -> shape from ``reference/keys/<name>_keys.txt`` (lines ``key 64x3x7x7``; ``-`` is a scalar)."""
    keys = {}
    for line in (KEYS_DIR / f"{name}_keys.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape = line.split()
        keys[key] = () if shape == "-" else tuple(int(size) for size in shape.split("x"))
    return keys
