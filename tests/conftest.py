"""Shared fixtures: deterministic environment, in-memory stores, paths to shared datasets."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)


@pytest.fixture
def store():
    """A fresh in-memory store."""
    from recsys_engine.store import Store

    s = Store(":memory:")
    yield s
    s.close()


def shared_dataset(name: str) -> Path:
    """Path of a dataset folder in ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared dataset {name} not available at {path}")
    return path


@pytest.fixture(scope="session")
def chromium_browser():
    """One Playwright + Debian chromium for the whole run.

    Playwright's sync API allows one running instance per thread, so every browser test
    file shares this one instead of starting its own.
    """
    from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
