"""Shared fixtures. Paths come from this file's location; no state is shared between tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
REPO = TESTS.parent
EXAMPLE = REPO / "src" / "retour" / "examples" / "mali-2018"


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, one per test process: Playwright's sync API allows one at a time in a
    thread, so every browser test (tests/browser/ and the example studies') shares this one."""
    from browser.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def example_dir() -> Path:
    """The shipped example study folder (read-only: copy it before writing)."""
    return EXAMPLE


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """A fresh copy of the example study made by `retour init`."""
    from retour.study import init_study

    target = tmp_path / "study"
    init_study(target)
    return target
