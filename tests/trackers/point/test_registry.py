"""The tracker and segmenter registries (trackers/registry.py): a misspelt option names itself and the valid
ones; a missing module of ours is "not available in this build"; a missing third-party package is named."""
from __future__ import annotations

import sys

import pytest

from trackers import build_point_tracker, build_segmenter
from trackers.registry import load_entry


@pytest.mark.parametrize("build, name, valid", [
    (build_point_tracker, "lk", "fb_threshold"),
    (build_point_tracker, "pips", "visibility_threshold"),
    (build_segmenter, "grabcut", "iterations"),
    (build_segmenter, "sam_vit_h", "hq_token_only"),
])
def test_misspelt_option_names_the_key_and_lists_the_valid_options(build, name, valid):
    with pytest.raises(ValueError) as error:
        build(name, fb_treshold=1.0)
    message = str(error.value)
    assert "'fb_treshold'" in message and f"{name!r}" in message and "valid options:" in message
    assert valid in message.split("valid options:")[1]


def test_a_missing_module_of_ours_is_not_available_in_this_build():
    with pytest.raises(NotImplementedError, match="not available in this build"):
        load_entry("point tracker", "nosuch", "trackers.point.nosuch:Tracker")
    with pytest.raises(NotImplementedError, match="not available in this build"):
        load_entry("point tracker", "lk", "trackers.point.opencv:NoSuchClass")


def test_a_missing_dependency_is_reported_with_its_package_name(tmp_path, monkeypatch):
    (tmp_path / "sampt_fake_backend.py").write_text("import cv2_not_installed_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sampt_fake_backend", raising=False)
    with pytest.raises(NotImplementedError) as error:
        load_entry("segmenter", "fake", "sampt_fake_backend:build")
    assert "needs the Python package 'cv2_not_installed_pkg'" in str(error.value)
    assert "not available in this build" not in str(error.value)
