"""Synthetic data from a questionnaire alone (issue 16): every shipped questionnaire and random small
XLSForms give exports that ingest with no blocking problem; answers keep to choices, constraints,
relevance and the design; a study generator is loaded by path; the `retour synth` command."""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from retour.cli import app
from retour.errors import ConfigError
from retour.ingest import ingest
from retour.schema import load_instrument
from retour.synth import FormPlan, draw_submissions, load_generator, write_export
from retour.synth.constraints import Bounds, numeric_bounds
from retour.synth.plugin import module_name

EXAMPLES = Path(__file__).parent.parent / "src" / "retour" / "examples"
MALI = EXAMPLES / "mali-2018"
DESIGN = ("community", "cluster", "weight")


def _blocking(batch) -> list[str]:
    return [f"{p.code} {p.column} {p.value}" for p in batch.problems if p.severity.value == "blocking"]


# --- constraints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("constraint", "whole", "expected"), [
    (". >= 15 and . <= 34", True, Bounds(15, 34, True)),
    (". > 0", True, Bounds(1, None, True)),
    (". < 10.5", True, Bounds(None, 10, True)),
    ("${age} >= 18 and 65 >= .", True, Bounds(18, 65, True)),
    (". > 0", False, Bounds(0, None, False)),
    (". = 3", True, Bounds(3, 3, True)),
    (". >= -5", False, Bounds(-5, None, True)),
    (". <= ${other}", True, Bounds()),
    (". > 1 or . < -1", True, Bounds()),
    ("regex(., '^[0-9]+$')", True, Bounds()),
    (None, True, Bounds(exact=True)),
])
def test_simple_constraints_give_the_interval_answers_are_drawn_from(constraint, whole, expected):
    assert numeric_bounds(constraint, "age", whole) == expected


# --- the example's questionnaire, without its generator -----------------------------------------------


@pytest.fixture(scope="module")
def mali_instrument():
    return load_instrument(MALI / "instrument.xlsx")


@pytest.fixture(scope="module")
def mali_plan():
    return FormPlan(rows=240, date=dt.date(2021, 5, 3), community="community", stratum="stratum",
                    psu="cluster", weight="weight", case_id="case_id",
                    communities=("kita", "kayes", "not_in_the_form"))


@pytest.fixture(scope="module")
def mali_frame(mali_instrument, mali_plan):
    return draw_submissions(mali_instrument, mali_plan, seed=11)


@pytest.mark.parametrize("layout", ["kobo", "odk"])
def test_the_example_questionnaire_alone_gives_an_export_that_ingests_cleanly(
        mali_frame, mali_instrument, tmp_path, layout):
    paths = write_export(mali_frame, mali_instrument, tmp_path, "alone", "synthetic data", layout)
    exports = [path for path in paths if path.suffix in (".csv", ".xlsx")]
    assert [path.suffix for path in exports] == ([".xlsx", ".csv"] if layout == "kobo" else [".csv"])
    for path in exports:
        batch = ingest(path, mali_instrument, round_name="baseline", secret=b"test", design=DESIGN)
        assert _blocking(batch) == []
        assert batch.rows_read == batch.accepted.height == 240


def test_answers_keep_to_constraints_relevance_and_choices(mali_frame, mali_instrument):
    ages = mali_frame.get_column("age")
    assert ages.null_count() == 0 and ages.min() >= 15 and ages.max() <= 34
    assert ages.n_unique() > 10
    assert (mali_frame.get_column("consent") == "yes").all()  # constraint `. = 'yes'`
    asked = (mali_frame.get_column("paid_job") == "yes") | (mali_frame.get_column("income_activity") == "yes")
    income = mali_frame.get_column("monthly_income")
    assert income.filter(~asked).null_count() == (~asked).sum()
    assert income.filter(asked).null_count() == 0 and income.filter(asked).min() >= 0
    skills = mali_frame.get_column("skills_held").str.split(" ")
    assert not (skills.list.contains("none") & (skills.list.len() > 1)).any()
    assert skills.list.len().max() > 1  # several choices are ticked, not only one
    choices = set(mali_instrument.question("marital_status").choice_names)
    assert set(mali_frame.get_column("marital_status").drop_nulls()) <= choices
    assert len(set(mali_frame.get_column("marital_status").drop_nulls())) > 1


def test_design_fields_are_filled_sensibly(mali_frame):
    communities = mali_frame.get_column("community")
    assert set(communities) == {"kita", "kayes"}  # communities.yaml ids the form allows
    assert (mali_frame.get_column("stratum") == communities).all()  # the form's calculation ${community}
    psus = mali_frame.group_by("community").agg(pl.col("cluster").n_unique().alias("psus"))
    assert psus.get_column("psus").min() >= 2
    per_psu = mali_frame.group_by("cluster").agg(pl.col("weight").n_unique(), pl.col("community").n_unique())
    assert (per_psu.get_column("weight") == 1).all() and (per_psu.get_column("community") == 1).all()
    assert mali_frame.get_column("weight").min() > 0
    assert mali_frame.get_column("case_id").n_unique() == mali_frame.height


def test_identifying_fields_get_made_up_values_and_dates_fall_in_the_round(mali_frame):
    names = mali_frame.get_column("respondent_name").drop_nulls()
    assert names.len() > 0 and names.str.starts_with("synthetic-respondent_name-").all()
    dates = mali_frame.get_column("interview_date")
    assert dates.min() >= dt.date(2021, 5, 3) and dates.max() < dt.date(2021, 5, 17)
    times = mali_frame.get_column("_submission_time")
    assert times.min() >= dt.datetime(2021, 5, 3) and times.max() < dt.datetime(2021, 5, 17)
    assert mali_frame.get_column("_uuid").n_unique() == mali_frame.height


def test_the_same_seed_gives_the_same_bytes(mali_instrument, mali_plan, tmp_path):
    digests = []
    for folder, seed in (("a", 4), ("b", 4), ("c", 5)):
        frame = draw_submissions(mali_instrument, mali_plan, seed)
        paths = write_export(frame, mali_instrument, tmp_path / folder, "round", "note")
        digests.append(hashlib.sha256(paths[1].read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]


# --- random small questionnaires ----------------------------------------------------------------------


@st.composite
def xlsforms(draw):
    """(survey rows, choice rows) of a small XLSForm: design fields, then a few questions of random
    types, some in a group with a relevance, some required, some with constraints or relevance on
    earlier answers."""
    survey = [["type", "name", "label", "required", "relevant", "constraint", "calculation"],
              ["select_one place", "community", "Community", "yes", "", "", ""],
              ["text", "cluster", "Cluster", "yes", "", "", ""],
              ["decimal", "weight", "Weight", "yes", "", ". > 0", ""]]
    choices = [["list_name", "name", "label"],
               *[["place", f"p{n}", f"Place {n}"] for n in range(draw(st.integers(1, 4)))]]
    singles: list[tuple[str, str]] = []  # (question, one of its choices)
    numbers: list[str] = []
    multiples: list[tuple[str, str]] = []
    open_group = False
    for index in range(draw(st.integers(1, 7))):
        name = f"q{index}"
        kind = draw(st.sampled_from(["select_one", "select_multiple", "integer", "decimal", "text",
                                     "calculate", "group"]))
        relevant = ""
        if draw(st.booleans()) and (singles or numbers or multiples):
            options = ([f"${{{q}}} = '{c}'" for q, c in singles] + [f"${{{q}}} > 3" for q in numbers]
                       + [f"selected(${{{q}}}, '{c}')" for q, c in multiples])
            relevant = draw(st.sampled_from(options))
        required = "yes" if draw(st.booleans()) else ""
        if kind == "group":
            if open_group:
                survey.append(["end group", "", "", "", "", "", ""])
            survey.append(["begin group", f"g{index}", f"Group {index}", "", relevant, "", ""])
            open_group = True
            continue
        if kind in ("select_one", "select_multiple"):
            count = draw(st.integers(2, 4))
            names = [f"c{n}" for n in range(count)]
            choices += [[f"list{index}", c, f"Choice {c}"] for c in names]
            constraint = ""
            if kind == "select_multiple" and draw(st.booleans()):
                constraint = f"not(selected(., '{names[0]}') and count-selected(.) > 1)"
            survey.append([f"{kind} list{index}", name, f"Q{index}", required, relevant, constraint, ""])
            target = multiples if kind == "select_multiple" else singles
            target.append((name, draw(st.sampled_from(names))))
        elif kind in ("integer", "decimal"):
            low = draw(st.integers(-20, 20))
            constraint = draw(st.sampled_from(["", f". >= {low}", f". >= {low} and . <= {low + 9}",
                                               f". > {low}",
                                               *([f". <= ${{{numbers[-1]}}}"] if numbers else [])]))
            survey.append([kind, name, f"Q{index}", required, relevant, constraint, ""])
            if kind == "integer":
                numbers.append(name)
        elif kind == "calculate":
            formula = f"${{{numbers[-1]}}} * 2" if numbers else "1 + 1"
            survey.append(["calculate", name, "", "", "", "", formula])
        else:
            constraint = draw(st.sampled_from(["", "string-length(.) <= 20"]))
            survey.append(["text", name, f"Q{index}", required, relevant, constraint, ""])
    if open_group:
        survey.append(["end group", "", "", "", "", "", ""])
    return survey, choices


def _save_form(path: Path, survey: list[list[str]], choices: list[list[str]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    choice_sheet = workbook.create_sheet("choices")
    for row in choices:
        choice_sheet.append(row)
    workbook.create_sheet("settings").append(["form_id", "version"])
    workbook["settings"].append(["random_form", "1"])
    workbook.save(path)
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=xlsforms(), rows=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       layout=st.sampled_from(["kobo", "odk"]))
# A required answer whose constraint names an optional question left empty can never be valid: the
# respondent must be interviewed again (found by hypothesis).
@example(form=([["type", "name", "label", "required", "relevant", "constraint", "calculation"],
                ["select_one place", "community", "Community", "yes", "", "", ""],
                ["text", "cluster", "Cluster", "yes", "", "", ""],
                ["decimal", "weight", "Weight", "yes", "", ". > 0", ""],
                ["integer", "q0", "Q0", "", "", "", ""],
                ["integer", "q1", "Q1", "", "", "", ""],
                ["decimal", "q2", "Q2", "yes", "", ". <= ${q1}", ""]],
               [["list_name", "name", "label"], ["place", "p0", "Place 0"]]),
         rows=40, seed=0, layout="kobo")
def test_any_small_questionnaire_gives_an_export_that_ingests_cleanly(tmp_path_factory, form, rows, seed,
                                                                      layout):
    folder = tmp_path_factory.mktemp("form")
    instrument = load_instrument(_save_form(folder / "form.xlsx", *form))
    plan = FormPlan(rows=rows, date=dt.date(2023, 2, 1), psu="cluster", weight="weight")
    frame = draw_submissions(instrument, plan, seed)
    export = write_export(frame, instrument, folder, "random", "synthetic", layout)[-2]
    batch = ingest(export, instrument, round_name="baseline", secret=b"test", design=DESIGN)
    assert _blocking(batch) == []
    assert batch.rows_read == batch.accepted.height == rows


# --- a study's own generator --------------------------------------------------------------------------


def test_a_generator_package_is_loaded_by_path_with_relative_imports(tmp_path):
    folder = tmp_path / "my-study" / "gen"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("from .helper import ANSWER\n\ndef synthesise(request):\n"
                                        "    return ANSWER\n", encoding="utf-8")
    (folder / "helper.py").write_text("ANSWER = 42\n", encoding="utf-8")
    module = load_generator(folder)
    assert module.synthesise(None) == 42
    assert module.__name__ == module_name(folder) and sys.modules[f"{module.__name__}.helper"].ANSWER == 42
    assert load_generator(folder) is module


def test_a_generator_without_synthesise_or_package_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no __init__.py"):
        load_generator(tmp_path)
    (tmp_path / "__init__.py").write_text("def generate():\n    pass\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no function `synthesise\(request\)`"):
        load_generator(tmp_path)


def test_init_copies_the_example_generator_without_caches(tmp_path):
    from retour.study import create_study

    load_generator(MALI / "generator")  # leaves __pycache__ in the example's folder
    made = create_study(tmp_path / "study")
    copied = {path.relative_to(made.project.root).as_posix() for path in made.written}
    assert {"generator/__init__.py", "generator/calibrate.py", "synth_targets.toml"} <= copied
    assert not [name for name in copied if "__pycache__" in name]
    assert made.project.settings.synth.generator == "generator"


# --- the command --------------------------------------------------------------------------------------


@pytest.fixture
def plain_study(study_dir):
    """The example study without its generator: data from the questionnaire alone."""
    settings_file = study_dir / "retour.toml"
    text = settings_file.read_text(encoding="utf-8")
    settings_file.write_text(text.replace('generator = "generator"', 'generator = ""'), encoding="utf-8")
    return study_dir


def test_synth_without_a_generator_writes_rows_in_the_asked_layout(plain_study, monkeypatch):
    monkeypatch.setenv("RETOUR_SECRET", "test-secret")
    result = CliRunner().invoke(app, ["synth", str(plain_study), "--round", "midterm", "--rows", "60",
                                      "--seed", "2", "--layout", "odk"])
    assert result.exit_code == 0, result.output
    export = plain_study / "data" / "mali-2018-midterm-synthetic.csv"
    assert result.stderr.splitlines() == [
        f"Wrote / écrit : {export}",
        f"Wrote / écrit : {plain_study / 'data' / 'README-synthetic.md'}",
        "60 respondents / répondants, round midterm, seed 2. données synthétiques calibrées sur les agrégats "
        "publiés / synthetic data calibrated to published aggregates.",
    ]
    assert pl.read_csv(export, n_rows=1).columns[0] == "SubmissionDate"
    assert pl.read_csv(export).get_column("design-interview_date").min() >= "2020-03-02"
    result = CliRunner().invoke(app, ["ingest", str(plain_study), str(export), "--round", "midterm",
                                      "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "accepted,,,60" in result.stdout and "quarantined,,,0" in result.stdout


def test_synth_check_without_a_generator_compares_the_exports_and_writes_nothing(plain_study):
    assert CliRunner().invoke(app, ["synth", str(plain_study), "--rows", "30"]).exit_code == 0
    written = {path: path.read_bytes() for path in (plain_study / "data").iterdir()}
    result = CliRunner().invoke(app, ["synth", str(plain_study), "--rows", "30", "--check"])
    assert result.exit_code == 0, result.output
    csv = plain_study / "data" / "mali-2018-baseline-synthetic.csv"
    assert f"{csv}: what seed 20180305 gives / ce que donne la graine 20180305." in result.stderr
    assert result.stdout == ""  # no calibration targets without a study generator
    result = CliRunner().invoke(app, ["synth", str(plain_study), "--rows", "31", "--check"])
    assert f"Warning: {csv} is not what seed 20180305 gives" in result.stderr
    assert {path: path.read_bytes() for path in (plain_study / "data").iterdir()} == written


def test_synth_refuses_an_unknown_layout(plain_study):
    result = CliRunner().invoke(app, ["synth", str(plain_study), "--layout", "csv"])
    assert result.exit_code == 2 and "use kobo or odk" in result.output


def test_synth_without_a_generator_refuses_shifts(plain_study):
    from retour.config import load_project
    from retour.study import synthesise

    with pytest.raises(ConfigError, match="--shift and --panel need a study generator"):
        synthesise(load_project(plain_study), "midterm", shift=plain_study / "shifts_midterm.toml")


def test_the_example_generator_refuses_rows(study_dir, capsys):
    from retour.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["synth", str(study_dir), "--rows", "10"])
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "Error: The number of respondents is set by synth_targets.toml, not by --rows. Leave out --rows for "
        "this study.\n")
