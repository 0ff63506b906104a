"""Reliability under faults and attack: kills survived, hostile files refused, the most memory seen.

1. Kills: `retour ingest` of the senegal-2025 mid-term export is killed (SIGKILL) at several moments of
   its run; after each kill the store must open and hold the round either empty or complete (400 rows).
2. Hostile files (issue 22): a 100,000-column CSV, a 1,000,000-column CSV, a zip-bomb XLSX (400 MB of
   sheet XML) and a CSV with a 50 MB cell; each must be refused with one `Error:` line and exit 1.
3. Memory: the peak resident memory (VmHWM) of every ingest process, read in the process itself.

    .venv/bin/python benchmarks/bench_reliability.py
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from retour import store  # noqa: E402
from retour.study import init_study  # noqa: E402
from test_ingest_limits import DRIVER, workbook  # noqa: E402

KILL_AFTER = (0.3, 0.6, 0.9, 1.2, 1.5, 2.0)  # seconds after the ingest starts
MIDTERM_ROWS = 400


def ingest(study: Path, export: Path, round_name: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", DRIVER, "ingest", str(study), str(export), "--round",
                             round_name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def peak_mb(stderr: str) -> float:
    line = next((line for line in stderr.splitlines() if line.startswith("maxrss_kb=")), "maxrss_kb=0")
    return int(line.split("=")[1]) / 1024


def kills(folder: Path) -> tuple[int, int, float]:
    """(survived, tried, peak MB of a complete ingest)."""
    example = ROOT / "src" / "retour" / "examples" / "senegal-2025"
    survived = 0
    export = example / "data" / "midterm-synthetic.csv"
    whole = ingest(init_study(folder / "whole", "senegal-2025").root, export, "midterm")
    _, stderr = whole.communicate()
    for number, delay in enumerate(KILL_AFTER):
        study = init_study(folder / f"kill{number}", "senegal-2025").root
        process = ingest(study, export, "midterm")
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        try:
            con = store.connect(study / "retour.duckdb")
            stored = store.table_exists(con, "submissions")
            rows = store.read_submissions(con, "midterm").height if stored else 0
            con.close()
        except Exception as error:  # a store that no longer opens did not survive
            print(f"  kill after {delay:.1f} s: store unreadable ({error})")
            continue
        ok = rows in (0, MIDTERM_ROWS)
        survived += ok
        print(f"  kill after {delay:.1f} s: midterm holds {rows} rows ({'ok' if ok else 'HALF-WRITTEN'})")
    return survived, len(KILL_AFTER), peak_mb(stderr)


def hostile(folder: Path) -> tuple[int, int, float]:
    """(refused in one line, tried, peak MB)."""
    files = {name: folder / name for name in ("wide.csv", "widest.csv", "bomb.xlsx", "long_cell.csv")}
    files["wide.csv"].write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + "," * 99_999 + "\n")
    widest = ",".join(f"q{i}" for i in range(1_000_000))
    files["widest.csv"].write_text(widest + "\n" + "1," * 999_999 + "1\n")
    workbook(files["bomb.xlsx"], [b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20_000], repeat=400)
    files["long_cell.csv"].write_text("case_id,name,comments\nML-1,Awa," + "x" * 50_000_000 + "\n")
    study = init_study(folder / "hostile-study").root
    refused, peak = 0, 0.0
    for name, path in files.items():
        started = time.perf_counter()
        done = ingest(study, path, "baseline")
        _, stderr = done.communicate()
        lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("maxrss_kb=")]
        one_line = done.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error:")
        refused += one_line
        peak = max(peak, peak_mb(stderr))
        print(f"  {name}: exit {done.returncode}, {len(lines)} line(s), {peak_mb(stderr):.0f} MB, "
              f"{time.perf_counter() - started:.1f} s")
    return refused, len(files), peak


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        print("kills:")
        survived, tried, whole_mb = kills(Path(folder))
        print("hostile files:")
        refused, files, hostile_mb = hostile(Path(folder))
    print(f"kills survived: {survived}/{tried}")
    print(f"hostile files refused in one line: {refused}/{files}")
    print(f"max memory seen: {max(whole_mb, hostile_mb):.0f} MB (a whole 400-row ingest: {whole_mb:.0f} MB)")


if __name__ == "__main__":
    main()
