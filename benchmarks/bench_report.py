"""Time the full report of the test bundle: 7 fact sheets x 2 languages (HTML + PDF), the synthesis and the
tables, in one process and with worker processes; prints wall and CPU seconds.

Usage: python benchmarks/bench_report.py [WORKERS ...]   (default: 1, then one worker per CPU)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from report_bundle import bundle  # noqa: E402
from retour.report import charts, write_outputs  # noqa: E402
from retour.report.documents import default_workers  # noqa: E402


def run(workers: int) -> None:
    data = bundle()
    out = Path(tempfile.mkdtemp(prefix="retour-report-"))
    start, before = time.perf_counter(), os.times()
    written = write_outputs(data, out, ("fr", "en"), ("html", "pdf"), workers=workers)
    wall, after = time.perf_counter() - start, os.times()
    own = after.user + after.system - before.user - before.system
    children = after.children_user + after.children_system - before.children_user - before.children_system
    pdfs = [f for f in written if f.format == "pdf"]
    pages = sum(f.pages or 0 for f in pdfs)
    print(
        f"workers={workers}: {len(written)} files ({len(pdfs)} PDF, {pages} pages) in {wall:.1f} s wall; "
        f"cpu {own:.1f} s in this process + {children:.1f} s in workers; charts {charts.cache_info()}"
    )


def main() -> None:
    for workers in [int(a) for a in sys.argv[1:]] or [1, default_workers(16)]:
        run(workers)


if __name__ == "__main__":
    main()
