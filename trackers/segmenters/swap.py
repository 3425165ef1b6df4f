"""Modules of one kind given another ``forward`` in place (the eval-mode speed options of `SamSegmenter`).

Each module's class is swapped for a subclass that only overrides ``forward`` (made once per class and
forward), so parameters, buffers, state-dict keys and ``isinstance`` stay as they were.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

#: (original class, prefix) -> its subclass with the other forward
_SUBCLASSES: dict[tuple[type, str], type] = {}


def swap_forward(module: nn.Module, matches: Callable[[nn.Module], bool], forward: Callable, prefix: str) -> int:
    """Make every submodule of ``module`` for which ``matches`` holds an instance of ``<prefix><its class name>``,
    a subclass whose ``forward`` is ``forward`` (a module already swapped stays as it is); returns how many
    matched."""
    count = 0
    for child in module.modules():
        if matches(child):
            cls = type(child)
            if cls not in _SUBCLASSES.values():
                if (cls, prefix) not in _SUBCLASSES:
                    _SUBCLASSES[cls, prefix] = type(f"{prefix}{cls.__name__}", (cls,), {"forward": forward})
                child.__class__ = _SUBCLASSES[cls, prefix]
            count += 1
    return count
