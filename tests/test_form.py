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
    assert [(p.code, p.row, p.column, p.value) for p in check.errors] == [
        ("odk_validate", 2, "calculation", "a"), ("odk_validate", 3, "calculation", "b")]
    assert check.errors[0].message == (
        "ODK Validate: cycle in the relevant and calculation logic: "
        "a (row 2), b (row 3) depend on each other."
    )


CYCLE_AFTER_OTHER_FIELDS = [
    ["type", "name", "label", "relevant", "calculation"],
    ["integer", "education_level", "Education", None, None],  # row 2: named by ODK, not in the cycle
    ["integer", "age", "Age", "${education_level} > 1", None],  # row 3: named by ODK, not in the cycle
    ["calculate", "a", None, None, "${b} + ${education_level}"],  # row 4: in the cycle
    ["calculate", "b", None, None, "${a} + 1"],  # row 5: in the cycle
]


@pytest.mark.slow
def test_a_cycle_is_placed_on_its_own_fields_not_on_others_odk_names(tmp_path, capsys):
    """ODK Validate lists every 'likely involved' node (here a, age, b): the error goes to a and b."""
    write_form(tmp_path / "instrument.xlsx", CYCLE_AFTER_OTHER_FIELDS, [["list_name", "name", "label"]])
    with pytest.raises(SystemExit):
        main(["form", str(tmp_path), "--format", "csv"])
    message = ("ODK Validate: cycle in the relevant and calculation logic: "
               "a (row 4), b (row 5) depend on each other.")
    hint = "Break the loop: a field cannot depend, directly or through others, on itself."
    assert capsys.readouterr().out.splitlines() == [
        "severity,sheet,row,column,message,hint",
        f'blocking,survey,4,calculation,"{message}","{hint}"',
        f'blocking,survey,5,calculation,"{message}","{hint}"',
    ]


def _odk_says(monkeypatch, message: str) -> None:
    from pyxform.validators import odk_validate

    def refuse(_path: str) -> None:
        raise odk_validate.ODKValidateError(message)

    monkeypatch.setattr("retour.form.odk_validate.check_xform", refuse)


def test_an_odk_error_goes_to_the_field_it_is_about_not_to_one_its_expression_names(tmp_path, monkeypatch):
    path = write_form(tmp_path / "form.xlsx", CYCLE_AFTER_OTHER_FIELDS, [["list_name", "name", "label"]])
    _odk_says(monkeypatch, "ODK Validate Errors:\n>> XForm is invalid.\n: Invalid calculate for the bind "
                           'attached to "${a}" : in expression  ${education_level} + + 1\n\nResult: Invalid')
    check, _ = check_form(path)
    assert [(p.row, p.column, p.value) for p in check.errors] == [(4, "calculation", "a")]


def test_an_odk_error_about_no_known_field_is_on_no_row(tmp_path, monkeypatch):
    path = write_form(tmp_path / "form.xlsx", CYCLE_AFTER_OTHER_FIELDS, [["list_name", "name", "label"]])
    _odk_says(monkeypatch, "ODK Validate Errors:\n>> XForm is invalid.\n: type mismatch comparing "
                           "${education_level} with a date\n\nResult: Invalid")
    check, _ = check_form(path)
    assert [(p.row, p.value) for p in check.errors] == [(None, None)]
    assert check.errors[0].message.startswith("ODK Validate: type mismatch comparing ${education_level}")


def test_a_cycle_retour_cannot_find_is_on_no_row(tmp_path, monkeypatch):
    path = write_form(tmp_path / "form.xlsx", CYCLE_AFTER_OTHER_FIELDS[:3], [["list_name", "name", "label"]])
    _odk_says(monkeypatch, "ODK Validate Errors:\n>> XForm is invalid.\n: Cycle detected in form's relevant "
                           "and calculation logic!\nThe following nodes are likely involved in the loop:\n"
                           "${age}\n${education_level}\n\nResult: Invalid")
    check, _ = check_form(path)
    assert [(p.row, p.value) for p in check.errors] == [(None, None)]


def _valid_form(folder: Path) -> Path:
    survey = [["type", "name", "label"], ["integer", "age", "Age"]]
    return write_form(folder / "instrument.xlsx", survey, [["list_name", "name", "label"]])


def test_form_json_prints_an_empty_list_for_a_valid_form(tmp_path, capsys):
    _valid_form(tmp_path)
    main(["form", str(tmp_path), "--format", "json", "--no-validate"])
    assert capsys.readouterr().out == "[]\n"


def test_form_csv_prints_the_header_for_a_valid_form(tmp_path, capsys):
    _valid_form(tmp_path)
    main(["form", str(tmp_path), "--format", "csv", "--no-validate"])
    captured = capsys.readouterr()
    assert captured.out == "severity,sheet,row,column,message,hint\n"
    xform = tmp_path / "out" / "instrument.xml"
    assert f"The questionnaire is valid. XForm written to {xform}" in captured.err


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


def test_init_force_adds_missing_files_and_keeps_edited_ones(study_dir, capsys):
    from retour.study import example_study_path

    settings = study_dir / "retour.toml"
    edited = settings.read_text(encoding="utf-8") + "# my edit\n"
    settings.write_text(edited, encoding="utf-8")
    (study_dir / "index.toml").unlink()
    (study_dir / "retour.duckdb").write_bytes(b"store")
    main(["init", str(study_dir), "--force"])
    assert settings.read_text(encoding="utf-8") == edited
    assert (study_dir / "index.toml").read_bytes() == (example_study_path() / "index.toml").read_bytes()
    example = example_study_path()
    kept = sorted(p.relative_to(example).as_posix() for p in example.rglob("*")
                  if p.is_file() and p.name != "index.toml" and "__pycache__" not in p.parts)
    assert capsys.readouterr().err.splitlines() == [
        f"Added 1 file(s) of the example to {study_dir}: index.toml.",
        f"Left alone {len(kept)} existing file(s): {', '.join(kept)}. "
        "Pass --overwrite to replace them with the example's.",
        f"Next: retour form {study_dir}",
    ]
    assert (study_dir / "retour.duckdb").read_bytes() == b"store"


def test_init_overwrite_replaces_edited_files_but_not_the_store_or_the_secret(study_dir, capsys):
    from retour.study import example_study_path

    settings = study_dir / "retour.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    (study_dir / "retour.duckdb").write_bytes(b"store")
    (study_dir / ".retour-secret").write_text("secret", encoding="utf-8")
    (study_dir / "data").mkdir()
    (study_dir / "data" / "export.csv").write_text("a\n1\n", encoding="utf-8")
    main(["init", str(study_dir), "--overwrite"])
    assert settings.read_bytes() == (example_study_path() / "retour.toml").read_bytes()
    assert (study_dir / "retour.duckdb").read_bytes() == b"store"
    assert (study_dir / ".retour-secret").read_text(encoding="utf-8") == "secret"
    assert (study_dir / "data" / "export.csv").read_text(encoding="utf-8") == "a\n1\n"
    assert capsys.readouterr().err.splitlines()[0] == f"Created study 'mali-2018' in {study_dir}."


def test_init_help_says_overwrite_replaces_edited_files():
    from typer.testing import CliRunner

    from retour.cli import app

    help_text = " ".join(CliRunner().invoke(app, ["init", "--help"]).output.split())
    assert "add the example's files that are missing and leave every existing file as it is" in help_text
    assert "files you edited (retour.toml, indicators.toml, ...) are replaced and your edits lost" in (
        help_text)
