"""Name -> implementation registries of point trackers and segmenters: lazy import and option checking.

Shared by `trackers.point.base.build_point_tracker` and `trackers.segmenters.base.build_segmenter`, so both
report a missing part, a missing dependency and a misspelt option in the same words.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

#: import name -> the name pip installs it under, where they differ
PIP_NAMES = {"cv2": "opencv-python", "PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image",
             "yaml": "pyyaml"}


def load_entry(kind: str, name: str, target: str) -> Any:
    """Import ``"module:attribute"`` of the registered ``kind`` ``name`` (e.g. point tracker 'pips').

    A module of this package that does not exist, or lacks the attribute, is "not available in this build";
    a third-party package it imports that is not installed is reported by its package name.
    """
    module_name, attribute = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and not _is_ours(missing, module_name):
            package = missing.split(".")[0]
            raise NotImplementedError(
                f"{kind} {name!r} needs the Python package {package!r}, which is not installed "
                f"(pip install {PIP_NAMES.get(package, package)})") from None
        raise NotImplementedError(f"{kind} {name!r} is not available in this build ({error})") from None
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        raise NotImplementedError(f"{kind} {name!r} is not available in this build ({error})") from None


def _is_ours(missing: str, module_name: str) -> bool:
    """Whether the missing module is the registered module itself or one of its parent packages."""
    return module_name == missing or module_name.startswith(missing + ".") or missing.startswith(
        module_name.split(".")[0] + ".")


def accepted_options(build: Callable) -> set[str] | None:
    """The keyword options ``build`` (a class or factory) accepts: its parameters with a default, followed
    through ``**options`` into the class named by ``build.forwards_options_to``; None when unknown."""
    function = build.__init__ if inspect.isclass(build) else build
    names: set[str] = set()
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            target = getattr(build, "forwards_options_to", None)
            if target is None:
                return None
            forwarded = accepted_options(target)
            if forwarded is None:
                return None
            names |= forwarded
        elif parameter.default is not inspect.Parameter.empty and parameter.kind in (
                inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(parameter.name)
    names.discard("checkpoint")  # given separately (``<kind>.checkpoint``)
    return names


def check_options(kind: str, name: str, build: Callable, options: dict) -> None:
    """Raise ValueError naming each option of ``options`` that ``build`` does not take, with the valid ones."""
    valid = accepted_options(build)
    if valid is None:
        return
    unknown = sorted(set(options) - valid)
    if unknown:
        config_key = "tracker" if kind == "point tracker" else kind
        raise ValueError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for {kind} {name!r} "
            f"({config_key}.options); valid options: {', '.join(sorted(valid)) or 'none'}")


def forwards_options_to(target: type) -> Callable[[Callable], Callable]:
    """Mark a factory whose ``**options`` go to ``target``'s constructor (for `check_options`)."""

    def mark(factory: Callable) -> Callable:
        factory.forwards_options_to = target
        return factory

    return mark
