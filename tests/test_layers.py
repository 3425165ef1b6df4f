"""The package layers: infra < datasets < trackers < evaluation < experiments < scripts / reference. A module never
imports (at the top or inside a function) from a higher layer, and the light packages stay light."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"infra": 0, "datasets": 1, "trackers": 2, "evaluation": 3, "experiments": 4, "scripts": 5, "reference": 5}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules():
    return sorted(path for package in LAYERS for path in (REPO / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(REPO)))
def test_no_module_imports_a_higher_layer(path):
    own = LAYERS[path.relative_to(REPO).parts[0]]
    higher = sorted(name for name in imported_packages(path) if LAYERS.get(name, -1) > own)
    assert not higher, f"{path.relative_to(REPO)} imports the higher layer(s) {higher}"


@pytest.mark.parametrize("package, heavy", [("infra", ("torch", "hydra", "omegaconf")),
                                            ("datasets", ("torch", "hydra", "omegaconf")),
                                            ("trackers", ("torch", "hydra")),
                                            ("trackers.sampt.knobs", ("torch", "hydra"))])
def test_light_imports_stay_light(package, heavy):
    code = f"import sys, {package}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(heavy)!r}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import {package} loads {out.strip()}"
