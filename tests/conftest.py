"""Shared pytest fixtures: paths to the real data in ../shared/data (skipped where absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
