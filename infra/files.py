"""Atomic file writes (a file is either absent, its old version, or completely written: temp + rename), json
written that way, and the md5 of a file."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)`` in ``path``'s folder, then rename the result onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda temporary: Path(temporary).write_text(text))


def write_json_atomic(path: str | Path, data) -> Path:
    """Write ``data`` as indented json to ``path`` atomically (numpy scalars and arrays, paths as json values)."""
    return atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to json")


def md5sum(path: str | Path) -> str:
    """The md5 (hex) of the file at ``path``, read in chunks (checkpoints and downloads use this one)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()
