"""Report outputs on disk: tables (XLSX, CSV), the folder layout, `retour report` over a study's store."""

from __future__ import annotations

import csv
import io

import openpyxl
import polars as pl
import pytest

from report_bundle import bundle
from retour import store
from retour.cli import main
from retour.config import load_project
from retour.report import write_outputs, write_tables


@pytest.fixture(scope="module")
def data():
    return bundle()


def test_workbook_has_a_sheet_per_theme_frozen_headers_and_percentages(data, tmp_path):
    written = write_tables(data, tmp_path, ("fr", "en"))
    assert {p.name for p in written} == {
        "tables-fr.xlsx",
        "tables-en.xlsx",
        "estimates.csv",
        "gaps.csv",
        "index_scores.csv",
        "needs.csv",
    }
    book = openpyxl.load_workbook(tmp_path / "tables-en.xlsx")
    assert {
        "Basic services",
        "Fields of activity",
        "Wish to leave",
        "Gaps",
        "Index",
        "Needs",
        "Notes",
    } <= set(book.sheetnames)
    sheet = book["Basic services"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]][:6] == [
        "Community",
        "Breakdown",
        "Group",
        "Indicator",
        "Indicator id",
        "Estimate",
    ]
    first = next(
        row
        for row in sheet.iter_rows(min_row=2)
        if row[4].value == "satisfied_drinking_water" and row[0].value == "Kayes"
    )
    assert first[5].value == pytest.approx(0.76) and first[5].number_format == "0.0%"
    notes = [row[0].value for row in book["Notes"].iter_rows()]
    assert "Synthetic data calibrated to published aggregates" in notes
    assert any(str(n).startswith("retour 0.1.0 · config abcdef123456") for n in notes)
    french = openpyxl.load_workbook(tmp_path / "tables-fr.xlsx")
    assert "Services de base" in french.sheetnames and french["Écarts"].freeze_panes == "A2"


def test_suppressed_cells_are_hidden_in_every_table(data, tmp_path):
    write_tables(data, tmp_path, ("en",))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "estimates.csv").read_text(encoding="utf-8"))))
    small = next(
        r
        for r in rows
        if r["community_id"] == "kirane"
        and r["indicator_id"] == "access_psychosocial_services"
        and r["group"] == "all"
    )
    assert small["suppressed"] == "true" and small["n"] == "7"
    assert small["estimate"] == small["se"] == small["ci_low"] == small["ci_high"] == small["deff"] == ""
    assert all(r["stamp"].startswith("retour 0.1.0") for r in rows)
    assert rows[0]["data_note"] == "Synthetic data calibrated to published aggregates"
    book = openpyxl.load_workbook(tmp_path / "tables-en.xlsx")
    found = [
        row
        for name in book.sheetnames
        for row in book[name].iter_rows(values_only=True)
        if len(row) > 5 and row[4] == "access_psychosocial_services" and row[0] == "Kirané"
    ]
    assert found and found[0][5] == "—" and found[0][9] == 7


def test_sheet_names_fit_excel_in_whole_words_with_the_full_title_above(data, tmp_path):
    from retour.report.tables import sheet_name

    write_tables(data, tmp_path, ("fr", "en"))
    french = openpyxl.load_workbook(tmp_path / "tables-fr.xlsx")
    assert all(len(name) <= 31 for name in french.sheetnames)
    c4d = french["Communication pour le…"]  # the catalogue's theme name, cut after a whole word
    assert c4d["A1"].value == "Communication pour le développement" and c4d["A2"].value == "Communauté"
    assert c4d.freeze_panes == "A3" and c4d.auto_filter.ref.startswith("A2:")
    views = french["Regard sur les migrants de…"]
    assert views["A1"].value == "Regard sur les migrants de retour" and views["A2"].value == "Communauté"
    assert french["Services de base"]["A1"].value == "Communauté"  # a name that fits: no title row
    english = openpyxl.load_workbook(tmp_path / "tables-en.xlsx")
    assert english["Communication for development"]["A1"].value == "Community"
    assert sheet_name("reasons_for_not_going_back_to_school_abroad") == "reasons_for_not_going_back_to…"
    assert sheet_name("Raisons de rester", " 2") == "Raisons de rester 2"
    assert sheet_name("Communication pour le développement", " 2") == "Communication pour le… 2"


def test_rank_probabilities_have_a_sheet_per_language_and_a_csv(data, tmp_path):
    probabilities = (data.index_scores.select("community_id", "pillar", "rank")
                     .join(pl.DataFrame({"rank": list(range(1, 8))}), how="cross", suffix="_possible")
                     .select("community_id", "pillar", pl.col("rank_possible").alias("rank"),
                             (pl.col("rank") == pl.col("rank_possible")).cast(pl.Float64)
                             .alias("probability")))
    kayes = (pl.col("community_id") == "kayes") & (pl.col("pillar") == "composite")
    probabilities = probabilities.with_columns(
        pl.when(kayes & (pl.col("rank") == 5)).then(0.7).when(kayes & (pl.col("rank") == 4)).then(0.3)
        .otherwise(pl.col("probability")).alias("probability"))
    written = write_tables(data, tmp_path, ("fr", "en"), rank_probabilities=probabilities)
    assert "rank_probabilities.csv" in {p.name for p in written}
    sheet = openpyxl.load_workbook(tmp_path / "tables-fr.xlsx")["Probabilités de rang"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Pilier", "Rang", "Communauté", *[f"Rang {r}" for r in range(1, 8)])
    composite = [row for row in rows if row[0] == "Composite"]
    assert [row[2] for row in composite][:2] == ["Bamako Commune IV", "Sikasso"]
    assert next(row for row in composite if row[2] == "Kayes")[1:] == (5, "Kayes", 0, 0, 0, 0.3, 0.7, 0, 0)
    assert sheet["D2"].number_format == "0.0%"
    english = openpyxl.load_workbook(tmp_path / "tables-en.xlsx")
    headers = [c.value for c in english["Rank probabilities"][1]]
    assert headers[:4] == ["Pillar", "Rank", "Community", "Rank 1"]
    notes = [str(row[0].value) for row in english["Notes"].iter_rows()]
    assert any(n.startswith("Rank probabilities: the share of the survey-bootstrap draws") for n in notes)
    lines = (tmp_path / "rank_probabilities.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "community_id,pillar,rank,probability,stamp,data_note"
    assert len(lines) == 1 + 7 * 4 * 7 and lines[1].startswith("bafoulabe,composite,1,")


def test_write_outputs_lays_out_the_round_folder(data, tmp_path):
    messages: list[str] = []
    written = write_outputs(data, tmp_path, ("en",), ("html",), messages.append)
    names = sorted(str(f.path.relative_to(tmp_path)) for f in written)
    assert "baseline/en/factsheet-kayes.html" in names and "baseline/en/synthesis.html" in names
    assert "baseline/tables/tables-en.xlsx" in names and "baseline/tables/estimates.csv" in names
    assert sum(1 for f in written if f.kind == "factsheet") == 7
    assert messages[0] == "factsheet bafoulabe (en)" and messages[-1] == "tables"


def _run(arguments: list[str]) -> int:
    """Exit code of `retour ARGUMENTS` run in this process."""
    try:
        main(arguments)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def _store_bundle(study_dir, data) -> None:
    con = store.connect(load_project(study_dir).store_path)
    try:
        for table, frame in (
            ("estimates", data.estimates),
            ("gaps", data.gaps),
            ("index_scores", data.index_scores),
            ("needs", data.needs),
        ):
            store.write_results(con, table, frame, "baseline")
    finally:
        con.close()


@pytest.mark.slow
def test_retour_report_writes_pdf_and_html_from_the_store(study_dir, data, capsys):
    _store_bundle(study_dir, data)
    assert _run(["report", str(study_dir), "--lang", "fr"]) == 0
    output = capsys.readouterr()
    out = study_dir / "out" / "baseline"
    assert (out / "fr" / "factsheet-kirane.pdf").exists() and (out / "fr" / "synthesis.html").exists()
    assert not (out / "en").exists()
    assert "factsheet" in output.out and "21 file(s) written" in output.err  # 8 HTML, 8 PDF, 5 tables
    html = (out / "fr" / "factsheet-kayes.html").read_text(encoding="utf-8")
    assert "Ont un emploi rémunéré ou une activité génératrice de revenus" in html  # the study's catalogue
    assert "Données synthétiques calibrées sur les agrégats publiés" in html
    con = store.connect(load_project(study_dir).store_path)
    try:
        run = store.latest_run(con, "report", "baseline")
    finally:
        con.close()
    assert run is not None and run["config_hash"] == load_project(study_dir).config_hash()


def test_retour_report_without_estimates_says_what_to_run(study_dir, capsys):
    assert _run(["report", str(study_dir), "--format", "html"]) == 1
    error = capsys.readouterr().err
    assert "No estimates for round 'baseline'" in error and "retour estimate" in error


def test_retour_report_rejects_an_unknown_round(study_dir, capsys):
    assert _run(["report", str(study_dir), "--round", "endline"]) == 1
    assert "Unknown round 'endline'" in capsys.readouterr().err


def test_stored_bundle_keeps_the_contract_columns(data):
    # The report reads these columns by name (contracts 4 and 5); a renamed column must fail here.
    assert {
        "community_id",
        "group_dimension",
        "group",
        "indicator_id",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n",
        "suppressed",
    } <= set(data.estimates.columns)
    assert {"pillar", "score", "rank", "score_low", "score_high", "rank_low", "rank_high"} <= set(
        data.index_scores.columns
    )
    assert data.estimates.filter(pl.col("community_id") == "all").height > 0


@pytest.mark.slow
def test_worker_processes_render_the_same_documents(data):
    from retour.report import Document, render_documents

    documents = [Document("factsheet", "kita", "en"), Document("synthesis", "", "fr")]
    finished: list[str] = []
    parallel = render_documents(
        documents, data, pdf=True, workers=2, done=lambda d, _r: finished.append(d.name)
    )
    serial = render_documents(documents, data, pdf=False, workers=1)
    assert [r.html for r in parallel] == [r.html for r in serial]
    assert parallel[0].pages == 2 and parallel[1].pages >= 3
    assert sorted(finished) == ["factsheet kita (en)", "synthesis (fr)"]
