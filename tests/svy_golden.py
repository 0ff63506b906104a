"""The svy golden cases (tests/golden/make_svy_golden.py), loaded once for the estimate and gap tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}


def _golden_module():
    spec = importlib.util.spec_from_file_location("make_svy_golden", GOLDEN / "make_svy_golden.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_svy_golden", module)
    spec.loader.exec_module(module)
    return module


golden = _golden_module()
CASES = {case.name: case for case in golden.CASES}
