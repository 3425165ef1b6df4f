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


def _module_imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (at the top or inside a function), for every module of the
    layered packages; ``from package import name`` counts as importing ``package.name`` when that is a module."""
    paths = {}
    for path in modules():
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        paths[name.removesuffix(".__init__")] = path
    graph = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for target in targets:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def test_no_import_cycle():
    """No chain of imports leads from a module back to itself (a package's own __init__ excluded)."""
    graph = _module_imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
