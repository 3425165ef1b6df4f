"""Errors raised for bad dataset input.

Every error names the offending file or folder and says how to fix it, so a user never has to read a
traceback from deep inside numpy or PIL to find out that a folder is misnamed.
"""
from __future__ import annotations

from pathlib import Path


class DatasetError(Exception):
    """Bad dataset input: a missing or malformed file, folder or value."""


class DatasetLayoutError(DatasetError):
    """A file or folder the layout needs is missing; the message shows the expected tree."""

    def __init__(self, missing: str | Path, expected_tree: str, hint: str = ""):
        self.missing = Path(missing)
        message = f"missing: {missing}\nexpected layout:\n{expected_tree.rstrip()}"
        if hint:
            message += f"\n{hint}"
        super().__init__(message)
