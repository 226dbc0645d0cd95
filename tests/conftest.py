"""Shared fixtures: where the real PTB sample lives, and an isolated cache per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "ptb-sample"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def ptb_sample() -> Path:
    """The shared real-PTB sample folder; tests using it skip (saying why) where it is absent."""
    if not (SAMPLE / "ptbdb").is_dir():
        pytest.skip(f"real PTB sample not found at {SAMPLE} (it lives in ../shared beside the repo)")
    return SAMPLE


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Every cache the package writes goes to a temporary folder during tests."""
    old = os.environ.get("HFECG_CACHE_DIR")
    os.environ["HFECG_CACHE_DIR"] = str(tmp_path_factory.mktemp("hfecg_cache"))
    yield
    if old is None:
        os.environ.pop("HFECG_CACHE_DIR", None)
    else:
        os.environ["HFECG_CACHE_DIR"] = old
