"""`retour ingest` and `retour problems`: the exact text users see."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from retour.cli import main

DATA = Path(__file__).parent / "data"

MESSY_SUMMARY = """\
mini_messy.csv -> baseline
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━┓
┃ item                                       ┃ count ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━┩
│ rows read                                  │ 8     │
│ accepted                                   │ 3     │
│   new                                      │ 3     │
│   already stored                           │ 0     │
│ quarantined                                │ 5     │
│ released from quarantine                   │ 0     │
│ blank rows skipped                         │ 3     │
│ problem: duplicate_uuid (blocking)         │ 2     │
│ problem: answer_not_relevant (blocking)    │ 1     │
│ problem: constraint_failed (blocking)      │ 1     │
│ problem: not_integer (blocking)            │ 1     │
│ problem: unknown_choice (blocking)         │ 1     │
│ problem: missing_optional_column (warning) │ 1     │
│ problem: unknown_column (warning)          │ 1     │
└────────────────────────────────────────────┴───────┘
"""


@pytest.fixture
def study(study_dir, monkeypatch):
    monkeypatch.delenv("RETOUR_SECRET", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    shutil.copy(DATA / "mini_form.xlsx", study_dir / "instrument.xlsx")
    return study_dir


def test_ingest_prints_the_summary(study, capsys):
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])
    out, err = capsys.readouterr()
    assert out == MESSY_SUMMARY
    assert err == f"5 row(s) in quarantine: see `retour problems {study}`.\n"


def test_ingesting_the_same_file_again_says_nothing_changed(study, capsys):
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])
    capsys.readouterr()
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline", "--format", "json"])
    out, err = capsys.readouterr()
    assert err == "mini_messy.csv was already ingested into round 'baseline' (batch 1): nothing changed.\n"
    records = {record["item"]: record["count"] for record in json.loads(out) if record["item"] != "problem"}
    assert records["rows_read"] == 8 and records["accepted"] == 3 and records["quarantined"] == 5
    assert records["new"] == 0 and records["already_stored"] == 3
    problems = [record for record in json.loads(out) if record["item"] == "problem"]
    assert {"item": "problem", "code": "duplicate_uuid", "severity": "blocking", "count": 2} in problems


def test_after_a_settings_fix_the_same_file_is_checked_again(study, capsys):
    settings = study / "retour.toml"
    good = settings.read_text(encoding="utf-8")
    settings.write_text(good.replace('psu = "cluster"', 'psu = "months_abroad"'), encoding="utf-8")
    main(["ingest", str(study), str(DATA / "mini_kobo.csv"), "--round", "baseline", "--format", "json"])
    first = {r["item"]: r["count"] for r in json.loads(capsys.readouterr().out) if r["item"] != "problem"}
    assert first["accepted"] == 4 and first["quarantined"] == 4  # the design names a field half the rows skip
    settings.write_text(good, encoding="utf-8")
    main(["ingest", str(study), str(DATA / "mini_kobo.csv"), "--round", "baseline", "--format", "json"])
    out, err = capsys.readouterr()
    again = {r["item"]: r["count"] for r in json.loads(out) if r["item"] != "problem"}
    assert "already ingested" not in err
    assert again["accepted"] == 8 and again["new"] == 4 and again["released"] == 4
    main(["ingest", str(study), str(DATA / "mini_kobo.csv"), "--round", "baseline"])
    assert "was already ingested into round 'baseline' (batch 2): nothing changed." in capsys.readouterr().err


@pytest.mark.parametrize(("psu", "error"), [
    ("grappe", "Error: mini_kobo.csv: every row lacks the design column 'grappe' ([design] psu). If the "
               "export names it 'cluster', write psu = \"cluster\" under [design] in retour.toml.\n"),
    ("clustr", "Error: mini_kobo.csv: every row lacks the design column 'clustr' ([design] psu). If the "
               "export names it 'cluster', write psu = \"cluster\" under [design] in retour.toml.\n"),
    ("zz", "Error: mini_kobo.csv: every row lacks the design column 'zz' ([design] psu). Write psu = "
           "\"...\" under [design] in retour.toml with the export's name for it, or add 'zz' to the "
           "questionnaire and export again.\n"),
])
def test_an_export_without_a_design_column_stops_with_the_settings_line_to_write(study, capsys, psu, error):
    settings = study / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('psu = "cluster"', f'psu = "{psu}"'),
                        encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        main(["ingest", str(study), str(DATA / "mini_kobo.csv"), "--round", "baseline"])
    assert stopped.value.code == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", error)
    main(["problems", str(study), "--format", "csv"])
    assert capsys.readouterr().out == "round,file,row,uuid,column,value,code,severity,message,hint\n"


def test_a_missing_design_column_names_the_closest_column_of_the_export(study):
    from retour.ingest import ingest
    from retour.schema import load_instrument

    batch = ingest(DATA / "mini_kobo.csv", load_instrument(study / "instrument.xlsx"),
                   design=("community", "clustr", "weight"), secret=b"x" * 32)
    [problem] = [p for p in batch.problems if p.code == "missing_design_column"]
    assert (problem.column, problem.value) == ("clustr", "cluster")
    assert problem.translations["en"][1] == (
        "If the export names it 'cluster', write 'cluster' in place of 'clustr' under [design] in "
        "retour.toml.")
    assert problem.translations["fr"][1] == (
        "Si l'export le nomme « cluster », écrivez « cluster » à la place de « clustr » sous [design] dans "
        "retour.toml.")


def test_a_clean_export_in_csv_format(study, capsys):
    main(["ingest", str(study), str(DATA / "mini_odk.csv"), "-r", "midterm", "--format", "csv"])
    out, err = capsys.readouterr()
    assert out == (
        "item,code,severity,count\nrows_read,,,8\naccepted,,,8\nnew,,,8\nalready_stored,,,0\n"
        "quarantined,,,0\nreleased,,,0\nblank_rows,,,0\n"
    )
    assert err == ""


def test_problems_lists_open_problems_as_csv(study, capsys):
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])
    capsys.readouterr()
    main(["problems", str(study), "--format", "csv"])
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [(r["row"], r["uuid"], r["column"], r["value"], r["code"]) for r in rows] == [
        ("", "", "Remarque du superviseur", "", "unknown_column"),
        ("", "", "stratum", "", "missing_optional_column"),
        ("3", "m-0003", "age", "12", "constraint_failed"),
        ("4", "m-0004", "sex", "X", "unknown_choice"),
        ("6", "m-0005", "_uuid", "m-0005", "duplicate_uuid"),
        ("7", "m-0005", "_uuid", "m-0005", "duplicate_uuid"),
        ("8", "m-0007", "age", "vingt", "not_integer"),
        ("8", "m-0007", "months_abroad", "12", "answer_not_relevant"),
    ]
    assert rows[2]["message"] == (
        "« 12 » ne respecte pas la règle de « age » (. >= 15 and . <= 34): "
        "L'âge doit être compris entre 15 et 34 ans."
    )
    main(["problems", str(study), "--round", "midterm", "--format", "json"])
    assert json.loads(capsys.readouterr().out) == []


def test_problems_writes_a_cleaning_log(study, capsys, tmp_path):
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])
    capsys.readouterr()
    main(["problems", str(study), "--csv"])  # as the issue writes it: into the study's output folder
    assert capsys.readouterr().err == f"Wrote 8 problem(s) to {study / 'out' / 'cleaning-log.csv'}.\n"
    main(["problems", str(study), "--csv", "--output", str(tmp_path / "log.csv")])
    assert capsys.readouterr().err == f"Wrote 8 problem(s) to {tmp_path / 'log.csv'}.\n"
    assert (tmp_path / "log.csv").read_bytes() == (study / "out" / "cleaning-log.csv").read_bytes()
    content = (tmp_path / "log.csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM with its accents
    rows = list(csv.DictReader(content.decode("utf-8-sig").splitlines()))
    assert list(rows[0]) == [
        "round",
        "file",
        "row",
        "uuid",
        "column",
        "value",
        "code",
        "severity",
        "message",
        "fix_hint",
        "correction",
    ]
    assert {row["correction"] for row in rows} == {""}
    assert rows[3]["value"] == "X" and rows[3]["fix_hint"] == "Choix possibles : female, male."


def test_fixing_a_row_and_ingesting_again_releases_it(study, capsys, tmp_path):
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])
    text = (DATA / "mini_messy.csv").read_bytes().decode("cp1252").replace(";X;28;", ";Homme;28;")
    (tmp_path / "mini_messy.csv").write_bytes(text.encode("cp1252"))
    capsys.readouterr()
    main(["ingest", str(study), str(tmp_path / "mini_messy.csv"), "--round", "baseline", "--format", "json"])
    records = {record["item"]: record["count"] for record in json.loads(capsys.readouterr().out)}
    assert records["released"] == 1 and records["accepted"] == 4 and records["new"] == 1
    main(["problems", str(study), "--format", "json"])
    assert "m-0004" not in {problem["uuid"] for problem in json.loads(capsys.readouterr().out)}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["mini_wrong_form.csv", "--round", "baseline"],
            "Error: mini_wrong_form.csv: only 2 of the questionnaire's 14 fields have a column",
        ),
        (
            ["mini_kobo.csv", "--round", "nope"],
            "Error: Unknown round 'nope'. Rounds in retour.toml: baseline, midterm, final.\n",
        ),
        (["missing.csv", "--round", "baseline"], "Error: Export "),
    ],
)
def test_bad_input_is_a_one_line_error_and_nothing_is_written(arguments, message, study, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["ingest", str(study), str(DATA / arguments[0]), *arguments[1:]])
    assert exit_code.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    main(["problems", str(study), "--format", "json"])
    assert json.loads(capsys.readouterr().out) == []


def test_problems_are_written_in_both_languages(study, capsys, tmp_path):
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])
    capsys.readouterr()
    main(["problems", str(study), "--format", "json"])  # the study's first language: French
    french = {p["code"]: p for p in json.loads(capsys.readouterr().out)}
    main(["problems", str(study), "--format", "json", "--language", "en"])
    english = {p["code"]: p for p in json.loads(capsys.readouterr().out)}
    assert french.keys() == english.keys()
    assert french["constraint_failed"]["message"] == (
        "« 12 » ne respecte pas la règle de « age » (. >= 15 and . <= 34): "
        "L'âge doit être compris entre 15 et 34 ans.")
    assert english["constraint_failed"]["message"].startswith("'12' breaks the rule of 'age' (. >= 15 and")
    assert english["constraint_failed"]["message"].endswith("Age must be between 15 and 34.")
    assert "Exportez" not in english["unknown_column"]["hint"]
    main(["problems", str(study), "--csv", "--output", str(tmp_path / "log.csv"), "--language", "en"])
    assert "breaks the rule" in (tmp_path / "log.csv").read_text(encoding="utf-8-sig")
    main(["ingest", str(study), str(DATA / "mini_messy.csv"), "--round", "baseline"])  # already ingested
    assert "problem: constraint_failed" in capsys.readouterr().out
