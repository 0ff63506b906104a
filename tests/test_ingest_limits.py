"""Hostile exports (issue 22): a few MB that would take GBs to parse are refused in one line, before
parsing, by `retour ingest` (exit 1) within a memory cap; the `[ingest]` limits are settings."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from retour.config import IngestSettings
from retour.errors import IngestError
from retour.ingest import readers
from retour.study import init_study

DATA = Path(__file__).parent / "data"
MEMORY_CAP_MB = 400
# Runs `retour ingest` in a fresh interpreter and reports that process's own peak memory (VmHWM, KiB):
# measured in the child itself, so no other process of the test run counts. Not ru_maxrss: on Linux it
# keeps the high-water mark of the forked parent (the pytest worker) across exec.
DRIVER = """
import runpy, sys
sys.argv = ["retour", *sys.argv[1:]]
try:
    runpy.run_module("retour.cli", run_name="__main__")
    code = 0
except SystemExit as stop:
    code = stop.code if isinstance(stop.code, int) else 1
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
sys.stderr.write(f"maxrss_kb={peak.split()[1]}\\n")
sys.exit(code)
"""

_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook'
    '.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
    'name="data" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}
_SHEET_START = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                b'main"><sheetData>')
_SHEET_END = b"</sheetData></worksheet>"


def workbook(target: Path | io.BytesIO, rows: list[bytes], repeat: int = 1) -> None:
    """A minimal XLSX whose first sheet holds `rows` (XML) written `repeat` times, streamed and deflated."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_START)
            block = b"".join(rows)
            for _ in range(repeat):
                sheet.write(block)
            sheet.write(_SHEET_END)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The issue's hostile files, each a few MB at most on disk."""
    folder = tmp_path_factory.mktemp("hostile")
    files = {name: folder / name for name in ("wide.csv", "widest.csv", "bomb.xlsx", "long_cell.csv")}
    header = ",".join(f"c{index}" for index in range(100_000))
    files["wide.csv"].write_text(header + "\n" + "," * 99_999 + "\n")  # 0.8 MB
    header = ",".join(f"q{index}" for index in range(1_000_000))
    files["widest.csv"].write_text(header + "\n" + "1," * 999_999 + "1\n")  # 9.9 MB
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    workbook(files["bomb.xlsx"], [row * 20_000], repeat=400)  # 400 MB of sheet XML, about 1 MB zipped
    files["long_cell.csv"].write_text("design/case_id,design/respondent_name,profile/comments\n"
                                      "ML-1,Awa," + "x" * 50_000_000 + "\n")
    return files


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("limits") / "study"
    init_study(root)
    return root


def ingest_in_child(study: Path, export: Path) -> tuple[int, list[str], float]:
    """Exit code, stderr lines (without the memory report) and peak memory in MB of `retour ingest`."""
    done = subprocess.run([sys.executable, "-c", DRIVER, "ingest", str(study), str(export), "--round",
                           "baseline"], capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    peak_kb = int(next(line for line in lines if line.startswith("maxrss_kb=")).split("=")[1])
    return done.returncode, [line for line in lines if not line.startswith("maxrss_kb=")], peak_kb / 1024


@pytest.mark.parametrize(("name", "setting", "found"), [
    ("wide.csv", "max_columns", "100,000 columns in the header"),
    ("widest.csv", "max_columns", "1,000,000 columns in the header"),
    ("bomb.xlsx", "max_xlsx_compression_ratio", "xl/worksheets/sheet1.xml unzips"),
    ("long_cell.csv", "max_cell_bytes", "a cell of at least"),
])
def test_hostile_exports_are_refused_in_one_line_within_a_memory_cap(study, hostile, name, setting, found):
    code, lines, peak_mb = ingest_in_child(study, hostile[name])
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: {name}: {found}")
    assert f"setting {setting} under [ingest] in retour.toml" in lines[0]
    assert "raise that setting" in lines[0]
    assert peak_mb < MEMORY_CAP_MB, f"{name}: {peak_mb:.0f} MB"


def test_the_limits_are_the_studys_settings(tmp_path):
    project = init_study(tmp_path / "study")
    settings = project.path("retour.toml")
    settings.write_text(settings.read_text() + "\n[ingest]\nmax_columns = 10\n")
    code, lines, _ = ingest_in_child(project.root, DATA / "mali_kobo.csv")
    assert code == 1
    assert lines[0].startswith("Error: mali_kobo.csv: ")
    assert "over the limit of 10 (setting max_columns" in lines[0]


def test_a_real_export_passes_the_default_limits():
    for name in ("mali_kobo.csv", "mini_kobo.csv", "mini_odk.csv"):
        table = readers.read_kobo_csv((DATA / name).read_bytes(), DATA / name)
        assert table.frame.height > 0
    table = readers.read_kobo_xlsx((DATA / "mini_kobo.xlsx").read_bytes(), DATA / "mini_kobo.xlsx")
    assert table.frame.height > 0


def test_columns_are_counted_outside_quotes_and_cells_from_lines():
    data = b'a,"b, c",d\n1,2,3\n4,5,6\n'
    readers.check_csv_limits(data, ",", Path("x.csv"), IngestSettings(max_columns=3, max_cells=6))
    with pytest.raises(IngestError, match="3 columns in the header, over the limit of 2"):
        readers.check_csv_limits(data, ",", Path("x.csv"), IngestSettings(max_columns=2))
    with pytest.raises(IngestError, match=r"up to 6 cells \(2 lines x 3 columns\), over the limit of 5"):
        readers.check_csv_limits(data, ",", Path("x.csv"), IngestSettings(max_cells=5))


def test_a_long_cell_made_of_separators_is_refused_once_parsed():
    data = b'a,b\n1,"' + b"," * 2000 + b'"\n'
    with pytest.raises(IngestError, match="a cell of 2,000 bytes in row 1, over the limit of 1,000"):
        readers.read_kobo_csv(data, Path("x.csv"), IngestSettings(max_cell_bytes=1000))
    assert readers.read_kobo_csv(data, Path("x.csv")).frame.height == 1


def test_a_workbook_is_held_to_its_cell_span_text_length_and_unzipped_size():
    far_apart = [b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>',
                 b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>y</t></is></c></row>']
    buffer = io.BytesIO()
    workbook(buffer, far_apart)
    with pytest.raises(IngestError, match="sheet1.xml spans 17,179,869,184 cells"):
        readers.read_kobo_xlsx(buffer.getvalue(), Path("far.xlsx"))
    buffer = io.BytesIO()
    workbook(buffer, [b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"z" * 5000 + b"</t></is></c></row>"])
    with pytest.raises(IngestError, match="a text of at least 5,000 bytes in xl/worksheets/sheet1.xml"):
        readers.read_kobo_xlsx(buffer.getvalue(), Path("long.xlsx"), IngestSettings(max_cell_bytes=4000))
    buffer = io.BytesIO()
    workbook(buffer, [b'<row r="1"><c r="A1"><v>1</v></c></row>' * 60_000])
    with pytest.raises(IngestError, match="2 MB once unzipped, over the limit of 1 "):
        readers.read_kobo_xlsx(buffer.getvalue(), Path("big.xlsx"),
                               IngestSettings(max_xlsx_uncompressed_mb=1))


def _senegal_export() -> tuple[Path, bytes]:
    example = Path(__file__).resolve().parent.parent / "src" / "retour" / "examples" / "senegal-2025"
    return example, (example / "data" / "baseline-synthetic.csv").read_bytes()


def test_an_export_cut_in_its_last_row_is_reported_as_truncated(tmp_path):
    from retour.ingest import read_export
    from retour.schema import load_instrument

    example, data = _senegal_export()
    rows = data.count(b"\n") - 1  # data rows of the whole file (it ends with a line end)
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[:-40])  # a download stopped 40 bytes before the end
    with pytest.raises(IngestError) as refused:
        read_export(cut, load_instrument(example / "instrument.xlsx"))
    assert str(refused.value).startswith(
        f"{cut} ends in the middle of data row {rows} (line {rows + 1} of the file, spreadsheet row "
        f"{rows + 1}): it has ")
    assert "Was the file cut while copying or downloading?" in str(refused.value)
    whole = tmp_path / "whole.csv"
    whole.write_bytes(data.rstrip(b"\r\n"))  # no line end after a complete last row is fine
    assert read_export(whole, load_instrument(example / "instrument.xlsx")).frame.height == rows


def test_a_header_only_export_says_it_has_no_data_rows(tmp_path):
    example, data = _senegal_export()
    study = tmp_path / "study"
    init_study(study, "senegal-2025")
    header = tmp_path / "header.csv"
    header.write_bytes(data.split(b"\n", 1)[0] + b"\n")
    done = subprocess.run([sys.executable, "-m", "retour.cli", "ingest", str(study), str(header), "--round",
                           "baseline"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: {header} has a header but no data rows. Export again with the submissions (check the "
        "export's filters and dates).")
