"""Shared fixtures. Paths come from this file's location; no state is shared between tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
REPO = TESTS.parent
EXAMPLE = REPO / "src" / "retour" / "examples" / "mali-2018"


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
