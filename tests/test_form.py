"""`retour form`: every problem of a questionnaire on its sheet, row and column; the XForm when valid."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from retour.cli import main
from retour.errors import Severity
from retour.form import build_form, check_form, describe

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "broken_form.xlsx"

# The broken form's survey sheet (header = row 1): each planted error sits on a known row.
BROKEN_SURVEY = [
    [
        "type",
        "name",
        "label::Français (fr)",
        "label::English (en)",
        "relevant",
        "constraint",
        "retour_identifying",
    ],
    ["integer", "age", "Âge", "Age", None, ". >= 15 and . <= 34", None],  # row 2: fine
    [
        "select_one yes_no",
        "worked",
        "A travaillé",
        "Worked",
        "${agee} > 17",
        None,
        None,
    ],  # row 3: unknown ${agee}
    ["select_one colours", "colour", "Couleur", "Colour", None, None, None],  # row 4: no list 'colours'
    ["text", "age", "Âge encore", "Age again", None, None, None],  # row 5: duplicate name
    ["integer", "children", "Enfants", None, None, "(. >= 0", None],  # row 6: unbalanced, no en
    ["text", "phone", "Téléphone", "Phone", None, None, "erase"],  # row 7: bad action
]
BROKEN_CHOICES = [
    ["list_name", "name", "label::Français (fr)", "label::English (en)"],
    ["yes_no", "yes", "Oui", "Yes"],
    ["yes_no", "no", "Non", "No"],
    ["yes_no", "yes", "Oui encore", "Yes again"],  # row 4: duplicate choice
]


def write_form(path: Path, survey: list[list], choices: list[list]) -> Path:
    """Write a minimal XLSForm workbook (survey and choices sheets)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    choice_sheet = workbook.create_sheet("choices")
    for row in choices:
        choice_sheet.append(row)
    workbook.save(path)
    return path


def test_committed_broken_form_is_the_one_described_here(tmp_path):
    fresh = write_form(tmp_path / "broken.xlsx", BROKEN_SURVEY, BROKEN_CHOICES)
    for sheet in ("survey", "choices"):
        committed = list(openpyxl.load_workbook(BROKEN)[sheet].iter_rows(values_only=True))
        assert committed == list(openpyxl.load_workbook(fresh)[sheet].iter_rows(values_only=True))


@pytest.mark.slow
def test_the_shipped_questionnaire_converts_and_validates(example_dir, tmp_path):
    shutil.copy(example_dir / "instrument.xlsx", tmp_path / "instrument.xlsx")
    check = build_form(tmp_path)
    assert check.ok, [describe(problem) for problem in check.problems]
    assert check.problems == ()
    xform = (tmp_path / "out" / "instrument.xml").read_text(encoding="utf-8")
    assert check.xform_path == tmp_path / "out" / "instrument.xml"
    assert 'lang="Français (fr)"' in xform and 'lang="English (en)"' in xform
    assert "/profile/age" in xform and 'constraint=". &gt;= 15 and . &lt;= 34"' in xform


def test_every_error_of_the_broken_form_is_placed(tmp_path):
    shutil.copy(BROKEN, tmp_path / "instrument.xlsx")
    check = build_form(tmp_path)
    assert not check.ok
    assert check.xform_path is None and not (tmp_path / "out").exists()
    placed = {(p.code, p.source, p.row, p.column) for p in check.errors}
    assert placed == {
        ("unknown_reference", "survey", 3, "relevant"),
        ("unknown_list", "survey", 4, "type"),
        ("duplicate_name", "survey", 5, "name"),
        ("unbalanced_expression", "survey", 6, "constraint"),
        ("bad_identifying", "survey", 7, "retour_identifying"),
        ("duplicate_choice", "choices", 4, "name"),
    }
    warnings = [p for p in check.problems if p.severity is Severity.WARNING]
    assert [(p.code, p.row, p.column) for p in warnings] == [
        ("missing_translation", 6, "label::English (en)")
    ]
    duplicate = next(p for p in check.errors if p.code == "duplicate_name")
    assert describe(duplicate) == "survey sheet, row 5, column name: 'age' is already used on row 2."


@pytest.mark.slow
def test_odk_validate_errors_are_placed_on_the_field_row(tmp_path):
    path = write_form(
        tmp_path / "form.xlsx",
        [
            ["type", "name", "label", "constraint"],
            ["integer", "age", "Age", None],
            ["integer", "children", "Children", ". > > 1"],
        ],
        [["list_name", "name", "label"]],
    )
    check, xform = check_form(path)
    assert xform is None
    assert [(p.code, p.source, p.row, p.column) for p in check.errors] == [
        ("odk_validate", "survey", 3, "constraint")
    ]
    assert "invalid constraint expression" in check.errors[0].message


@pytest.mark.slow
def test_odk_validate_reports_a_calculation_cycle(tmp_path):
    path = write_form(
        tmp_path / "form.xlsx",
        [
            ["type", "name", "label", "calculation"],
            ["calculate", "a", None, "${b} + 1"],
            ["calculate", "b", None, "${a} + 1"],
        ],
        [["list_name", "name", "label"]],
    )
    check, _ = check_form(path)
    assert [(p.code, p.column) for p in check.errors] == [("odk_validate", "calculation")]
    assert "Cycle" in check.errors[0].message and check.errors[0].row in (2, 3)


def test_cli_lists_the_errors_and_exits_1(tmp_path, capsys):
    shutil.copy(BROKEN, tmp_path / "instrument.xlsx")
    with pytest.raises(SystemExit) as exited:
        main(["form", str(tmp_path), "--format", "csv"])
    assert exited.value.code == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "severity,sheet,row,column,message,hint"
    assert "blocking,survey,3,relevant,${agee} names no question of the survey sheet." in captured.out
    assert "blocking,choices,4,name,choice 'yes' appears twice in list 'yes_no'." in captured.out
    assert len(lines) == 1 + 7
    assert f"Error: 6 error(s) in {tmp_path / 'instrument.xlsx'}; no XForm written." in captured.err


@pytest.mark.slow
def test_init_makes_a_study_that_form_accepts(tmp_path, capsys):
    study = tmp_path / "my-study"
    main(["init", str(study)])  # returns normally: exit code 0
    assert {"retour.toml", "instrument.xlsx", "indicators.toml", "index.toml"} <= {
        p.name for p in study.iterdir()
    }
    main(["form", str(study)])
    assert f"XForm written to {study / 'out' / 'instrument.xml'}" in capsys.readouterr().err
    assert (study / "out" / "instrument.xml").stat().st_size > 10_000


def test_init_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["init", str(tmp_path)])
    assert exited.value.code == 1
    assert "exists and is not empty" in capsys.readouterr().err
