"""Shared pytest fixtures: one torch CPU thread, fresh Hydra state, paths to the real data in ../shared/data."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Every test and fixture runs with one torch CPU thread: results that tests compare bitwise (a
    module-scoped fixture against a later call) must not depend on how work was split over threads, nor
    on which test module happened to run first in a worker."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real DAVIS masks and clips of ../shared/data; skips the test where they are absent."""
    if not (SHARED_DATA / "davis17_val_results").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (see shared/data/README.md); test skipped")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_global_hydra():
    """Importing `sam2` initialises Hydra's global state (its package __init__ does); tests that compose
    our configs need it clear, whatever ran before them in the same worker."""
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    yield
