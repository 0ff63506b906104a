"""The short monitoring form: what it asks, that data collection tools accept it, and that its exports
go through the normal ingest into a study that scores them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest

from retour.cli import main
from retour.config import DesignSettings, load_settings
from retour.errors import ConfigError, SchemaError
from retour.form import describe
from retour.indicators import load_catalogue
from retour.monitoring import derive_form, write_form
from retour.schema import load_instrument
from retour.score import ScoreRules
from retour.score_spec import load_score_spec
from score_exports import RETURNEE_SCORES, visit, write_export

EXAMPLE = Path(__file__).parent.parent / "src" / "retour" / "examples" / "mali-2018"
IDENTITY = ("community", "visit", "case_id", "interview_date", "consent")
# the example study names its date and consent fields: scoring.interview_date_field, scoring.consent_field
RULES = ScoreRules.from_settings(load_settings(EXAMPLE / "retour.toml"))


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(EXAMPLE / "indicators.toml", load_instrument(EXAMPLE / "instrument.xlsx"))


@pytest.fixture(scope="module")
def form(catalogue):
    spec = load_score_spec(EXAMPLE / "score_weights.toml", catalogue)
    return spec, derive_form(EXAMPLE / "instrument.xlsx", spec, rules=RULES)


def _row(form, name: str) -> dict:
    return next(row for row in form.survey.rows if row.get("name") == name)


def test_the_form_asks_what_the_score_reads_and_who_when_where(form):
    spec, short = form
    assert set(short.fields) == set(spec.questions) | set(IDENTITY)
    assert len(short.fields) == len(set(short.fields)) == 29 + len(IDENTITY)
    # the questions keep the full questionnaire's order, inside their groups
    full = [name for name in load_instrument(EXAMPLE / "instrument.xlsx").names if name in short.fields]
    assert [name for name in short.fields if name != "visit"] == full
    assert "lived_abroad_3m" not in short.fields and "sex" not in short.fields


def test_identity_fields_are_required_and_the_case_id_is_hashed(form):
    _, short = form
    case = _row(short, "case_id")
    assert case["retour_identifying"] == "hash" and case["required"] == "yes"
    visit_row = _row(short, "visit")
    assert visit_row["type"] == "select_one visit" and visit_row["required"] == "yes"
    assert visit_row["label::Français (fr)"] == "Visite de suivi"
    assert visit_row["label::English (en)"] == "Follow-up visit"
    assert _row(short, "interview_date")["type"] == "today"
    visits = [
        (row["name"], row["label::Français (fr)"], row["label::English (en)"])
        for row in short.choices.rows
        if row["list_name"] == "visit"
    ]
    assert visits == [
        ("3m", "3 mois après le retour", "3 months after return"),
        ("6m", "6 mois après le retour", "6 months after return"),
        ("12m", "12 mois après le retour", "12 months after return"),
    ]


def test_every_question_keeps_its_labels_relevance_and_constraint(form):
    _, short = form
    original = load_instrument(EXAMPLE / "instrument.xlsx")
    for name in ("debt_level", "reduced_food_frequency", "skills_held"):
        question = original.question(name)
        row = _row(short, name)
        assert row.get("relevant") == question.relevant and row.get("constraint") == question.constraint
        assert row["label::Français (fr)"] == question.labels["fr"]
        assert row["label::English (en)"] == question.labels["en"]
    for row in short.survey.rows:
        if row["type"] not in ("end group",):
            assert row.get("label::Français (fr)") and row.get("label::English (en)"), row


def test_only_the_choice_lists_used_are_kept(form):
    _, short = form
    lists = {row["list_name"] for row in short.choices.rows}
    assert lists == {
        "community",
        "visit",
        "yes_no",
        "skills",
        "debt_level",
        "food_frequency",
        "satisfaction",
        "frequency",
        "safety",
        "trust",
    }


def test_settings_name_a_form_of_its_own(form):
    _, short = form
    settings = short.settings.rows[0]
    assert settings["form_id"] == "retour_mali_2018_youth_monitoring"
    assert settings["form_title"].endswith("suivi individuel / individual follow-up")


def test_another_weight_set_gives_another_form(catalogue, tmp_path):
    weights = tmp_path / "three-questions.toml"
    weights.write_text(
        'name = "tiny"\n'
        '[[sub_indicators]]\nid = "works"\ndimension = "economic"\nindicator = "paid_job_or_iga"\n'
        '[[sub_indicators]]\nid = "debt"\ndimension = "social"\nfields = ["has_debt", "debt_level"]\n'
        'recode = { "no" = 1, "yes below" = 0.5, "yes equal" = 0.25, "yes above" = 0 }\n'
        '[[sub_indicators]]\nid = "safe"\ndimension = "psychosocial"\nindicator = "feels_safe"\n',
        encoding="utf-8",
    )
    spec = load_score_spec(EXAMPLE / "score_weights.toml", catalogue, weights)
    short = derive_form(EXAMPLE / "instrument.xlsx", spec, rules=RULES)
    assert set(short.fields) == {
        "paid_job",
        "income_activity",
        "has_debt",
        "debt_level",
        "feels_safe",
        *IDENTITY,
    }
    assert [row["name"] for row in short.survey.rows if row["type"] == "begin group"] == [
        "design",
        "work",
        "finance",
        "wellbeing",
    ]


def test_a_follow_up_brings_the_question_it_depends_on(catalogue, tmp_path):
    weights = tmp_path / "frequency-only.toml"
    weights.write_text(
        '[[sub_indicators]]\nid = "a"\ndimension = "economic"\nfield = "reduced_food_frequency"\n'
        "recode = { rarely = 1, sometimes = 0.5, often = 0 }\n"
        '[[sub_indicators]]\nid = "b"\ndimension = "social"\nindicator = "has_id_document"\n'
        '[[sub_indicators]]\nid = "c"\ndimension = "psychosocial"\nindicator = "has_friends_group"\n',
        encoding="utf-8",
    )
    spec = load_score_spec(EXAMPLE / "score_weights.toml", catalogue, weights)
    assert "reduced_food" in derive_form(EXAMPLE / "instrument.xlsx", spec).fields  # its relevance names it


def test_without_date_and_consent_fields_the_form_asks_neither(form):
    spec, with_both = form
    assert {"interview_date", "consent"} <= set(with_both.fields)
    short = derive_form(EXAMPLE / "instrument.xlsx", spec)  # no scoring.*_field: none named
    assert "consent" not in short.fields and "interview_date" not in short.fields
    assert set(short.fields) == set(with_both.fields) - {"consent", "interview_date"}
    only_date = derive_form(EXAMPLE / "instrument.xlsx", spec,
                            rules=ScoreRules(interview_date_field="interview_date"))
    assert "interview_date" in only_date.fields and "consent" not in only_date.fields


def test_a_date_or_consent_field_the_questionnaire_lacks_is_named(form):
    spec, _ = form
    with pytest.raises(ConfigError) as raised:
        derive_form(EXAMPLE / "instrument.xlsx", spec,
                    rules=ScoreRules(interview_date_field="visit_day", consent_field="agrees"))
    message = str(raised.value)
    assert message.startswith(
        "retour.toml: scoring.interview_date_field names 'visit_day', a field instrument.xlsx lacks; "
        "scoring.consent_field names 'agrees', a field instrument.xlsx lacks."
    )
    assert "\n" not in message


def test_a_questionnaire_without_community_cannot_give_a_monitoring_form(form, tmp_path):
    spec, _ = form
    workbook = openpyxl.load_workbook(EXAMPLE / "instrument.xlsx")
    survey = workbook["survey"]
    for row in survey.iter_rows(min_row=2):
        if row[1].value == "community":
            row[1].value = "village"
    workbook.save(tmp_path / "instrument.xlsx")
    with pytest.raises(SchemaError, match="no 'community' question"):
        derive_form(tmp_path / "instrument.xlsx", spec, DesignSettings())


def test_the_written_workbook_reads_back_as_a_questionnaire(form, tmp_path):
    _, short = form
    instrument = load_instrument(write_form(short, tmp_path / "monitoring.xlsx"))
    assert instrument.names == short.fields
    assert instrument.question("case_id").identifying == "hash"
    assert instrument.languages == ("en", "fr")
    assert instrument.question("visit").choice_names == ("3m", "6m", "12m")


def test_retour_form_monitoring_writes_the_form_and_its_xform(study_dir, capsys):
    main(["form", str(study_dir), "--monitoring", "--no-validate"])
    err = capsys.readouterr().err
    assert f"Monitoring form written to {study_dir / 'out' / 'monitoring.xlsx'}; it is valid." in err
    xform = (study_dir / "out" / "monitoring.xml").read_text(encoding="utf-8")
    assert "retour_mali_2018_youth_monitoring" in xform and "Follow-up visit" in xform


@pytest.mark.slow
def test_the_form_is_valid_for_pyxform_and_odk_validate(study_dir):
    from retour.config import load_project
    from retour.study import write_monitoring_form

    check = write_monitoring_form(load_project(study_dir))
    assert check.ok, [describe(problem) for problem in check.problems]
    assert check.problems == ()
    assert check.xform_path == study_dir / "out" / "monitoring.xml"


MONITORING_TOML = """
[study]
id = "follow-up"
name = "Follow-up of returnees"

[[rounds]]
name = "followup-2019"
kind = "monitoring"

[[rounds]]
name = "followup-2020"
kind = "monitoring"

[index]
reference_round = "followup-2019"

[design]
stratum = ""
psu = ""
weight = ""

[scoring]
interview_date_field = "interview_date"
consent_field = "consent"
"""


@pytest.mark.slow
def test_an_export_of_the_form_is_ingested_and_scored(study_dir, tmp_path, capsys):
    main(["form", str(study_dir), "--monitoring", "--no-validate"])
    follow_up = tmp_path / "follow-up"
    follow_up.mkdir()
    shutil.copy(study_dir / "out" / "monitoring.xlsx", follow_up / "instrument.xlsx")
    for name in ("indicators.toml", "score_weights.toml"):
        shutil.copy(study_dir / name, follow_up / name)
    (follow_up / "retour.toml").write_text(MONITORING_TOML, encoding="utf-8")
    instrument = load_instrument(follow_up / "instrument.xlsx")
    write_export(
        tmp_path / "2019.csv",
        instrument,
        [
            visit("m1", visit="3m", interview_date="2019-01-10"),
            visit("m2", visit="6m", interview_date="2019-04-10", emo_anger="always", emo_fear="always"),
            visit(
                "m3",
                case_id="ML-0002",
                visit="3m",
                community="kati",
                sat_education="very_dissatisfied",
                sat_housing="very_dissatisfied",
                sat_healthcare="very_dissatisfied",
                sat_id_papers="very_dissatisfied",
                has_id_document="no",
                could_turn_to_justice="no",
            ),
            visit("m5", case_id="ML-0005", visit="3m", consent="no"),  # without consent: not scored
        ],
    )
    write_export(tmp_path / "2020.csv", instrument, [visit("m4", visit="12m", interview_date="2020-01-10")])
    main(["ingest", str(follow_up), str(tmp_path / "2019.csv"), "--round", "followup-2019"])
    main(["ingest", str(follow_up), str(tmp_path / "2020.csv"), "--round", "followup-2020"])
    capsys.readouterr()

    main(["score", str(follow_up), "--round", "followup-2019", "--format", "json"])
    rows = {row["_uuid"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"m1", "m2", "m3"}  # a monitoring round scores every visit with consent
    assert rows["m2"]["interview_date"] == "2019-04-10"  # scoring.interview_date_field
    assert rows["m1"]["overall"] == pytest.approx(RETURNEE_SCORES["overall"])
    assert rows["m2"]["previous_visit"] == "3m" and rows["m2"]["dropped"] == "psychosocial overall"
    assert rows["m2"]["psychosocial"] == pytest.approx((8.834 - 1.0) / 12)
    # m3: social = (2 services 'neutral' 0.5 each, 4 at 0, no id, no justice) / 8
    assert rows["m3"]["social"] == pytest.approx(1.0 / 8) and rows["m3"]["below_threshold"] == "social"

    main(["score", str(follow_up), "--case", "ML-0001", "--format", "json"])
    history = json.loads(capsys.readouterr().out)
    assert [(row["round"], row["visit"]) for row in history] == [
        ("followup-2019", "3m"),
        ("followup-2019", "6m"),
        ("followup-2020", "12m"),
    ]
    assert history[2]["previous_visit"] == "6m" and history[2]["dropped"] == ""

    main(["score", str(follow_up), "--round", "followup-2019", "--summary", "--format", "json"])
    summary = json.loads(capsys.readouterr().out)
    kayes = {row["dimension"]: row for row in summary if row["community_id"] == "kayes"}
    assert kayes["economic"]["n"] == 1  # ML-0001 seen twice in the round counts once (its 6m visit)

    survey = MONITORING_TOML.replace('name = "followup-2020"\nkind = "monitoring"', 'name = "followup-2020"')
    (follow_up / "retour.toml").write_text(survey, encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["score", str(follow_up), "--round", "followup-2020"])
    error = capsys.readouterr().err
    assert error.startswith("Error: Round 'followup-2020' is a survey round, whose return migrants are "
                            "scored, and population.returnee_rule is empty in ")
    assert "returnee_rule = \"${lived_abroad} = 'yes'\"" in error and 'set kind = "monitoring"' in error
    assert error.count("\n") == 1
